"""A citizen's data is checked field by field: valid forms pass (in their canonical form), every kind of
wrong input is refused naming the field and the reason."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.appeals.checks import (
    BODY_MAX,
    SUBJECT_MAX,
    check_email,
    check_inn,
    check_name,
    check_phone,
    check_snils,
    inn_check_digits,
    normalise_text,
    snils_check_number,
)
from tocsin.core.errors import DomainError


def refused(check, value, *, names, says, **options) -> None:
    """``check(value, **options)`` is refused naming the field ``names`` and saying ``says``."""
    with pytest.raises(DomainError) as caught:
        check(value, **options)
    assert caught.value.field == names
    assert says in caught.value.reason, caught.value.reason


def _mod(digits: str, weights: tuple[int, ...]) -> int:
    """The tax service's rule written out again, independently of the module: weighted sum mod 11."""
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11


# INN


@pytest.mark.parametrize(
    "inn",
    [
        "7707083893",  # Sberbank
        "7736050003",  # Gazprom
        "500100732259",  # an individual's, the example often quoted
        "170669074307",  # 12 digits, the first check digit 0
        "957903289270",  # 12 digits, the second check digit 0
    ],
)
def test_valid_inns_are_accepted(inn):
    assert check_inn(inn) == inn


def test_check_digit_zero_comes_from_a_remainder_of_ten_or_zero():
    assert _mod("1706690743", (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)) in (0, 10)
    assert _mod("95790328927", (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)) in (0, 10)


def test_surrounding_spaces_are_stripped_from_an_inn():
    assert check_inn("  7707083893\n") == "7707083893"


def test_a_citizen_profile_takes_only_a_twelve_digit_inn():
    assert check_inn("500100732259", kinds=(12,)) == "500100732259"
    refused(check_inn, "7707083893", names="inn", says="12 digits, not 10", kinds=(12,))


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("7707083894", "check digits"),
        ("500100732258", "check digits"),
        ("500100732249", "check digits"),
        ("770708389", "10 or 12 digits, not 9"),
        ("77070838930", "10 or 12 digits, not 11"),
        ("5001007322590", "10 or 12 digits, not 13"),
        ("77O7083893", "only digits"),
        ("7707 083893", "only digits"),
        ("7707-083893", "only digits"),
        ("١٢٣٤٥٦٧٨٩٠", "only digits"),
        ("７７０７０８３８９３", "only digits"),
        ("7707083\x00893", "Control characters"),
        ("", "Enter the INN"),
        ("   ", "Enter the INN"),
        ("7" * 100_000, "far longer"),
    ],
)
def test_wrong_inns_are_refused_with_the_reason(value, says):
    refused(check_inn, value, names="inn", says=says)


def test_the_field_name_is_the_callers():
    refused(check_inn, "123", names="agency_inn", says="digits", field="agency_inn")


inn_bodies = st.one_of(
    st.text("0123456789", min_size=9, max_size=9), st.text("0123456789", min_size=10, max_size=10)
)


@given(body=inn_bodies, data=st.data())
def test_a_valid_inn_with_a_check_digit_changed_is_refused(body, data):
    inn = body + inn_check_digits(body)
    position = data.draw(st.integers(len(body), len(inn) - 1))
    digit = data.draw(st.sampled_from([d for d in "0123456789" if d != inn[position]]))
    with pytest.raises(DomainError):
        check_inn(inn[:position] + digit + inn[position + 1 :])


@given(body=inn_bodies, data=st.data())
def test_a_valid_inn_with_one_digit_changed_is_refused_unless_the_remainder_folds(body, data):
    """Mod 11 then mod 10 folds a remainder of 10 onto 0: the one case where a changed digit slips by."""
    inn = body + inn_check_digits(body)
    position = data.draw(st.integers(0, len(body) - 1))
    digit = data.draw(st.sampled_from([d for d in "0123456789" if d != inn[position]]))
    changed = inn[:position] + digit + inn[position + 1 :]
    try:
        check_inn(changed)
    except DomainError:
        return
    weights = (
        [(2, 4, 10, 3, 5, 9, 4, 6, 8)]
        if len(inn) == 10
        else [(7, 2, 4, 10, 3, 5, 9, 4, 6, 8), (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)]
    )
    folded = [{_mod(inn, w), _mod(changed, w)} for w in weights]
    assert any(pair == {0, 10} for pair in folded)


# SNILS


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        ("112-233-445 95", "112-233-445 95"),  # the Pension Fund's own example
        ("11223344595", "112-233-445 95"),
        (" 112-233-445 95 ", "112-233-445 95"),
        ("026-002-389 00", "026-002-389 00"),  # weighted sum 100 → 00
        ("030-214-884 00", "030-214-884 00"),  # weighted sum 101 → 00
        ("772-625-003 00", "772-625-003 00"),  # weighted sum 202 → 202 mod 101 = 0 → 00
        ("010-625-189 01", "010-625-189 01"),  # weighted sum 102 → 1
        ("001-001-998 42", "001-001-998 42"),  # at or below 001-001-998: no check number checked
        ("00100199812", "001-001-998 12"),
    ],
)
def test_valid_snils_are_answered_in_the_canonical_form(value, canonical):
    assert check_snils(value) == canonical


def test_snils_check_number_rule():
    assert snils_check_number("112233445") == "95"
    assert snils_check_number("026002389") == "00"
    assert snils_check_number("030214884") == "00"


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("112-233-445 96", "check number"),
        ("001-001-999 00", "check number"),  # the first number that is checked
        ("112-233-445-95", "XXX-XXX-XXX YY"),
        ("112 233 445 95", "XXX-XXX-XXX YY"),
        ("112-233-445  95", "XXX-XXX-XXX YY"),
        ("1122334459", "11 digits, not 10"),
        ("112233445950", "11 digits, not 12"),
        ("112-233-445 9", "11 digits, not 10"),
        ("112-233-44A 95", "only digits"),
        ("١١٢٢٣٣٤٤٥٩٥", "only digits"),
        ("１１２２３３４４５９５", "only digits"),
        ("112-233-445\x0095", "only digits"),
        ("000-000-000 00", "not a SNILS"),
        ("", "Enter the SNILS"),
        ("1" * 1_000_000, "far longer"),
    ],
)
def test_wrong_snils_are_refused_with_the_reason(value, says):
    refused(check_snils, value, names="snils", says=says)


@given(body=st.integers(1_001_999, 999_999_999), data=st.data())
def test_a_valid_snils_with_its_check_number_changed_is_refused(body, data):
    digits = f"{body:09d}"
    check = snils_check_number(digits)
    other = data.draw(st.integers(0, 99).filter(lambda n: f"{n:02d}" != check))
    with pytest.raises(DomainError):
        check_snils(f"{digits}{other:02d}")


@given(body=st.integers(1_001_999, 999_999_999))
def test_any_snils_with_its_check_number_round_trips(body):
    digits = f"{body:09d}"
    canonical = check_snils(digits + snils_check_number(digits))
    assert check_snils(canonical) == canonical
    assert canonical.replace("-", "").replace(" ", "") == digits + snils_check_number(digits)


# Phone


@pytest.mark.parametrize(
    "value",
    [
        "8 912 345-67-89",
        "+7 (912) 345-67-89",
        "+79123456789",
        "79123456789",
        "89123456789",
        "9123456789",
        "8(912)345-67-89",
        "+7 912 345 67 89",
        "8.912.345.67.89",
    ],
)
def test_russian_mobile_numbers_in_every_form_give_e164(value):
    assert check_phone(value) == "+79123456789"
    assert check_phone(value, mobile=True) == "+79123456789"


def test_a_moscow_landline_is_a_phone_but_not_for_sms():
    assert check_phone("8 (495) 123-45-67") == "+74951234567"
    refused(check_phone, "8 (495) 123-45-67", names="phone", says="mobile", mobile=True)


def test_a_toll_free_number_is_not_for_sms():
    refused(check_phone, "8 800 555-35-35", names="phone", says="mobile", mobile=True)


@pytest.mark.parametrize(
    ("value", "e164"),
    [
        ("+33 6 12 34 56 78", "+33612345678"),
        ("8 10 33 6 12 34 56 78", "+33612345678"),  # the Russian international prefix
        ("+375 29 123-45-67", "+375291234567"),
        ("+7 700 123 45 67", "+77001234567"),  # Kazakhstan shares +7
    ],
)
def test_foreign_mobile_numbers_are_accepted(value, e164):
    assert check_phone(value, mobile=True) == e164


def test_a_foreign_landline_is_not_for_sms():
    assert check_phone("+44 20 7946 0958") == "+442079460958"
    refused(check_phone, "+44 20 7946 0958", names="phone", says="mobile", mobile=True)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("8 912 FLOWERS", "only digits"),
        ("+7912345678９", "only digits"),
        ("+7 912 345-67-89 доб. 12", "only digits"),
        ("+7912\x003456789", "only digits"),
        ("7+9123456789", "only digits"),
        ("+7 912 345-67-8", "not a valid phone"),
        ("+7 912 345-67-899", "not a valid phone"),
        ("123", "not a valid phone"),
        ("+999 123 456 789", "not a valid phone"),
        ("++79123456789", "only digits"),
        ("", "Enter a phone"),
        ("8" * 10_000, "only digits"),
    ],
)
def test_wrong_phones_are_refused_with_the_reason(value, says):
    refused(check_phone, value, names="phone", says=says)


# E-mail


def test_an_email_keeps_its_local_part_and_lowers_its_domain():
    assert check_email("  Ivan.Petrov@Mail.RU ") == "Ivan.Petrov@mail.ru"


@pytest.mark.parametrize(
    "value",
    [
        "no-at-sign.example.org",
        "a@b",
        "a b@example.org",
        "иван@почта.рф",
        "a@exam\x00ple.org",
        '"quoted"@example.org',
        "a@" + "b" * 250 + ".ru",
    ],
)
def test_wrong_emails_are_refused(value):
    refused(check_email, value, names="email", says="e-mail address")


def test_an_empty_email_is_asked_for_under_the_callers_field():
    refused(check_email, "  ", names="contact_email", says="Enter an e-mail", field="contact_email")


# Names


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("Иванов", "Иванов"),
        ("Салтыков-Щедрин", "Салтыков-Щедрин"),
        ("Ёлкина", "Ёлкина"),
        ("O'Brien", "O'Brien"),
        ("д’Артаньян", "д’Артаньян"),
        ("Анна  Мария", "Анна Мария"),
        ("  Пётр ", "Пётр"),
        ("Müller", "Müller"),
        ("Й", "Й"),
        ("И\u0306ошкар", "Йошкар"),  # и + combining breve is stored composed
    ],
)
def test_names_in_cyrillic_or_latin_are_accepted(value, kept):
    assert check_name(value, field="surname") == kept


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("Иван0в", "letters"),
        ("Ivan_Petrov", "letters"),
        ("Ἀλέξανδρος", "letters"),  # Greek
        ("李", "letters"),
        ("Иван\u00a0Петров", "letters"),
        ("-Иванов", "between letters"),
        ("Иванов-", "between letters"),
        ("Салтыков--Щедрин", "between letters"),
        ("Салтыков - Щедрин", "between letters"),
        ("Иван\tПетров", "Control characters"),
        ("Иван\x00", "Control characters"),
        ("Иван\nПетров", "Control characters"),
        ("", "Enter the name"),
        ("Я" * 101, "at most 100"),
    ],
)
def test_wrong_names_are_refused_with_the_reason(value, says):
    refused(check_name, value, names="given_name", says=says, field="given_name")


def test_an_absent_patronymic_is_none_when_not_required():
    assert check_name("  ", field="patronymic", required=False) is None


# Free text


def test_text_keeps_newlines_and_tabs_and_drops_other_controls():
    text = "Здравствуйте,\r\nпрошу\tответить.\rСпасибо\u2028\x00\x07\u202eконец\u0085"
    assert normalise_text(text, field="body") == "Здравствуйте,\nпрошу\tответить.\nСпасибо\nконец"


def test_a_subject_is_one_line():
    assert normalise_text(" Яма \n\t на дороге ", field="subject", multiline=False) == "Яма на дороге"


def test_text_at_the_limit_is_accepted_and_over_it_refused_with_its_length():
    assert normalise_text("я" * BODY_MAX, field="body") == "я" * BODY_MAX
    refused(normalise_text, "я" * (BODY_MAX + 1), names="body", says="this has 10,001", field="body")
    refused(
        normalise_text,
        "я" * (SUBJECT_MAX + 1),
        names="subject",
        says="At most 300 characters; this has 301",
        field="subject",
        max_length=SUBJECT_MAX,
    )


def test_a_crlf_counts_as_one_character_against_the_limit():
    raw = "а\r\n" * 4000 + "а"
    assert len(raw) > BODY_MAX
    assert len(normalise_text(raw, field="body")) == 8001


def test_a_huge_text_is_refused_before_any_work():
    refused(normalise_text, "x" * 10_000_000, names="body", says="this has 10,000,000", field="body")


def test_empty_text_is_refused_where_required_only():
    refused(normalise_text, " \n\x00\t ", names="body", says="cannot be empty", field="body")
    assert normalise_text(" \n ", field="body", required=False) == ""


@given(st.text(max_size=500))
def test_normalised_text_has_no_controls_but_newline_and_tab_and_is_stable(value):
    text = normalise_text(value, field="body", required=False)
    assert all(c in "\n\t" or ord(c) >= 0x20 and not 0x7F <= ord(c) <= 0x9F for c in text)
    assert "\r" not in text
    assert normalise_text(text, field="body", required=False) == text
