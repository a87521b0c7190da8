"""A citizen's data as typed into the appeal form and the profile, checked: each refusal is a DomainError
naming the field and saying why in short plain English (the catalogs give the Russian)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection

import phonenumbers

from tocsin.core.errors import DomainError
from tocsin.core.notify import checked_email

# What a paste or a form brings around a value; anything else (inner spaces too) is the citizen's.
SURROUNDING = " \t\r\n\u00a0"
DIGITS = frozenset("0123456789")  # ASCII only: str.isdigit() would let '١٢٣' and fullwidth digits in

# ИНН (taxpayer number): 10 digits for an organisation, 12 for an individual; check digits per the
# Federal Tax Service: weighted sum mod 11, then mod 10.
INN_ORGANISATION, INN_INDIVIDUAL = 10, 12
INN_WEIGHTS_10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
INN_WEIGHTS_11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
INN_WEIGHTS_12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)

# СНИЛС (pension insurance number): 9 digits and a 2-digit check number. The Pension Fund only gives
# check numbers to numbers above 001-001-998; those below are accepted without one being checked.
SNILS_SHAPE = re.compile(r"(\d{3})-(\d{3})-(\d{3}) (\d{2})|(\d{11})", re.ASCII)
SNILS_LAST_UNCHECKED = 1_001_998

PHONE_CHARACTERS = frozenset("0123456789+-(). ")
PHONE_MAX = 30
MOBILE_TYPES = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)

NAME_MAX = 100
NAME_SEPARATORS = frozenset(" -'\u2019")  # space, hyphen, apostrophe (typed or typographic)

SUBJECT_MAX = 300
BODY_MAX = 10_000
# Newline spellings folded to "\n"; the Unicode bidirectional overrides and isolates are dropped with the
# control characters because they make a text read differently from what it holds.
NEWLINES = re.compile("\r\n|[\r\u0085\u2028\u2029]")
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _trimmed(value: str) -> str:
    return value.strip(SURROUNDING)


def _digits_only(value: str, *, field: str) -> None:
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise DomainError("Control characters are not allowed; only digits.", field=field)
    if not set(value) <= DIGITS:
        raise DomainError("Use only digits 0-9, no spaces or other characters.", field=field)


def _weighted(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False))


def inn_check_digits(body: str) -> str:
    """The check digits that complete an INN's ``body`` (9 digits → 1, 10 digits → 2)."""
    if len(body) == INN_ORGANISATION - 1:
        return str(_weighted(body, INN_WEIGHTS_10) % 11 % 10)
    first = str(_weighted(body, INN_WEIGHTS_11) % 11 % 10)
    return first + str(_weighted(body + first, INN_WEIGHTS_12) % 11 % 10)


def check_inn(
    value: str, *, field: str = "inn", kinds: Collection[int] = (INN_ORGANISATION, INN_INDIVIDUAL)
) -> str:
    """An INN as its digits. ``kinds`` are the lengths allowed: a citizen's profile passes ``(12,)``."""
    inn = _trimmed(value)
    if not inn:
        raise DomainError("Enter the INN.", field=field)
    if len(inn) > 2 * INN_INDIVIDUAL:
        raise DomainError(f"An INN has {_lengths(kinds)} digits; this is far longer.", field=field)
    _digits_only(inn, field=field)
    if len(inn) not in kinds:
        raise DomainError(f"An INN has {_lengths(kinds)} digits, not {len(inn)}.", field=field)
    checks = 1 if len(inn) == INN_ORGANISATION else 2
    if inn_check_digits(inn[:-checks]) != inn[-checks:]:
        raise DomainError("The INN's check digits are wrong: a digit is mistyped.", field=field)
    return inn


def _lengths(kinds: Collection[int]) -> str:
    return " or ".join(str(k) for k in sorted(kinds))


def snils_check_number(body: str) -> str:
    """The two check digits of a SNILS's 9-digit ``body``: the weighted sum (9 down to 1), taken mod 101,
    with 100 (and so 100 and 101 before the modulo) written 00."""
    total = _weighted(body, (9, 8, 7, 6, 5, 4, 3, 2, 1))
    return f"{total % 101 % 100:02d}"


def check_snils(value: str, *, field: str = "snils") -> str:
    """A SNILS typed as ``XXX-XXX-XXX YY`` or as 11 digits, answered as ``XXX-XXX-XXX YY``."""
    snils = _trimmed(value)
    if not snils:
        raise DomainError("Enter the SNILS.", field=field)
    if len(snils) > 2 * len("XXX-XXX-XXX YY"):
        raise DomainError("A SNILS has 11 digits; this is far longer.", field=field)
    match = SNILS_SHAPE.fullmatch(snils)
    if match is None:
        digits = snils.replace("-", "").replace(" ", "")
        if digits and set(digits) <= DIGITS and len(digits) != 11:
            raise DomainError(f"A SNILS has 11 digits, not {len(digits)}.", field=field)
        if not set(digits) <= DIGITS:
            raise DomainError("Use only digits 0-9, as XXX-XXX-XXX YY.", field=field)
        raise DomainError("Write the SNILS as XXX-XXX-XXX YY or as 11 digits.", field=field)
    digits = match.group(5) or "".join(match.group(1, 2, 3, 4))
    body, check = digits[:9], digits[9:]
    if int(body) == 0:
        raise DomainError("000-000-000 is not a SNILS number.", field=field)
    if int(body) > SNILS_LAST_UNCHECKED and snils_check_number(body) != check:
        raise DomainError("The SNILS check number is wrong: a digit is mistyped.", field=field)
    return f"{body[:3]}-{body[3:6]}-{body[6:]} {check}"


def check_phone(value: str, *, field: str = "phone", region: str = "RU", mobile: bool = False) -> str:
    """A phone number in E.164 (``+79123456789``); one without +country is read in ``region``, so
    ``8 912 345-67-89`` is Russian. ``mobile`` asks for a number that can receive SMS."""
    phone = _trimmed(value)
    if not phone:
        raise DomainError("Enter a phone number.", field=field)
    # phonenumbers reads letters as keypad digits, fullwidth digits and "ext. 12": a citizen who typed
    # those most likely meant something else, so they are refused before it sees them.
    if len(phone) > PHONE_MAX or not set(phone) <= PHONE_CHARACTERS or "+" in phone[1:]:
        raise DomainError("Use only digits, spaces, brackets, hyphens and a leading +.", field=field)
    try:
        number = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise DomainError("This is not a valid phone number; enter it as +7 912 345-67-89.", field=field)
    if mobile and phonenumbers.number_type(number) not in MOBILE_TYPES:
        raise DomainError("Enter a mobile number: text messages are sent to it.", field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_email(value: str, *, field: str = "email") -> str:
    """An e-mail address (the core's shape and length rule), its domain in lower case."""
    try:
        email = checked_email(value)
    except DomainError as error:
        raise DomainError(error.reason, field=field) from None
    if email is None:
        raise DomainError("Enter an e-mail address.", field=field)
    local, domain = email.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def _name_letter(c: str) -> bool:
    return c.isalpha() and unicodedata.name(c, "").startswith(("CYRILLIC ", "LATIN "))


def check_name(value: str, *, field: str, required: bool = True) -> str | None:
    """A surname, given name or patronymic: Cyrillic or Latin letters, with single spaces, hyphens and
    apostrophes between them. Runs of spaces are collapsed to one (a slip, not a choice); None when empty
    and not ``required`` (not everyone has a patronymic)."""
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise DomainError("Control characters are not allowed in a name.", field=field)
    name = re.sub(" +", " ", unicodedata.normalize("NFC", value).strip(SURROUNDING))
    if not name:
        if required:
            raise DomainError("Enter the name.", field=field)
        return None
    if len(name) > NAME_MAX:
        raise DomainError(f"A name has at most {NAME_MAX} characters, not {len(name)}.", field=field)
    for c in name:
        if not (_name_letter(c) or c in NAME_SEPARATORS):
            raise DomainError(
                "Use only Cyrillic or Latin letters, spaces, hyphens and apostrophes.", field=field
            )
    if not (_name_letter(name[0]) and _name_letter(name[-1])) or re.search("[ \\-'\u2019]{2}", name):
        raise DomainError("Hyphens and apostrophes go between letters.", field=field)
    return name


def normalise_text(
    value: str, *, field: str, max_length: int = BODY_MAX, required: bool = True, multiline: bool = True
) -> str:
    """Free text as stored: NFC, newlines as ``\\n``, control characters (but newline and tab) and bidi
    overrides dropped, surrounding whitespace trimmed. ``multiline=False`` (a subject) folds line breaks
    and tabs into single spaces. Refuses empty when ``required`` and longer than ``max_length``."""
    # A text many times the limit is refused before any work on it, with the length as received.
    if len(value) > 4 * max_length + 1024:
        raise DomainError(f"At most {max_length:,} characters; this has {len(value):,}.", field=field)
    text = NEWLINES.sub("\n", unicodedata.normalize("NFC", value))
    text = "".join(
        c
        for c in text
        if c in "\n\t" or (unicodedata.category(c) not in ("Cc", "Cs") and c not in BIDI_CONTROLS)
    )
    if not multiline:
        text = re.sub("[ \t\n]*[\t\n][ \t\n]*", " ", text)
    text = text.strip()
    if not text:
        if required:
            raise DomainError("This cannot be empty.", field=field)
        return ""
    if len(text) > max_length:
        raise DomainError(f"At most {max_length:,} characters; this has {len(text):,}.", field=field)
    return text
