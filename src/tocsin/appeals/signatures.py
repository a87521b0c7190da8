"""Electronic signatures of appeals: the canonical form that is signed, and detached CMS signatures over it.

What is signed is never the form as posted but `canonical(fields, attachments)`: one line of JSON, UTF-8,
described at `canonical`. The citizen signs those bytes with a qualified certificate and sends a **detached**
CMS SignedData; the agency signs its answer's canonical bytes the same way (`CmsProvider.sign`).

Verification (`CmsProvider.verify`) is done here, check by check, with asn1crypto for the CMS structure,
`cryptography` for the digest and the signature, and pyhanko-certvalidator (RFC 5280 path validation, pure
Python) for the chain up to the configured trust anchors at the signing time. Why not `openssl cms -verify`
in a subprocess: it answers one "verification failure" with OpenSSL's error queue as text, so telling the
citizen *which* check failed would mean parsing messages that change between OpenSSL versions; it cannot
take the signing time from the signature for the chain's validity without a second parser anyway; and a
subprocess per appeal is a fork on the request path. The tests still check every signature we make with
Debian's `openssl cms -verify`, an independent implementation.

Each refusal is a `SignatureRefused` with a stable `reason` code (see `REASONS`) and a message naming
the check.

Trust anchors are PEM files in one folder (`TrustAnchors.from_folder`), read once at start; the appeals
desk's settings name the folder. Revocation (CRL, OCSP) is not checked yet: no fetching is allowed.

GOST (ГОСТ Р 34.10-2012 with Streebog) has its own slot in `providers`; until one is configured it refuses
with "not available: configure a GOST provider". See docs/appeals.md for how a real one plugs in.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from asn1crypto import cms, pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    DisallowedAlgorithmError,
    ExpiredError,
    InvalidCertificateError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
)

CANONICAL_FORMAT = "tocsin-appeal/1"
MAX_DATA_BYTES = 4 * 1024 * 1024  # the canonical form: texts and attachment hashes, never the files
MAX_SIGNATURE_BYTES = 1024 * 1024  # a CMS with a chain of a few certificates is a few KiB
FUTURE_TOLERANCE = timedelta(minutes=5)  # clocks differ; a signing time further ahead is refused

SNILS_OID = "1.2.643.100.3"
INN_OID = "1.2.643.3.131.1.1"
# Digest and signature algorithms of ГОСТ Р 34.11-2012 / 34.10-2012 (and the 2001 ones), by OID prefix.
GOST_OID_PREFIXES = ("1.2.643.7.1.", "1.2.643.2.2.")

_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")

REASONS = {
    "empty": "the signature file is empty",
    "too_large": "the input is larger than allowed",
    "not_cms": "the bytes are not a CMS (PKCS #7) structure",
    "not_signed_data": "the CMS is not SignedData",
    "attached": "the signature carries its own content; a detached signature is expected",
    "signers": "exactly one signer is expected",
    "signer_certificate_missing": "the signer's certificate is not in the signature",
    "bad_certificate": "the signer's certificate does not parse",
    "no_signed_attributes": "the signature has no signed attributes (content type, message digest)",
    "content_type": "the signed content type is not id-data",
    "digest_mismatch": "the message digest does not match the data: the data changed",
    "bad_signature": "the signature value does not verify with the signer's key",
    "algorithm": "an algorithm that is not supported or too weak",
    "gost": "a GOST signature: it needs the GOST provider",
    "signing_time_future": "the signing time is in the future",
    "untrusted": "no chain to a configured trust anchor",
    "expired": "a certificate of the chain had expired at the signing time",
    "not_yet_valid": "a certificate of the chain was not yet valid at the signing time",
    "revoked": "a certificate of the chain is revoked",
    "path_invalid": "the certificate chain is not valid",
    "key_usage": "the signer's certificate is not for signing (digitalSignature or nonRepudiation)",
    "not_available": "not available: configure a GOST provider",
}


class SignatureRefused(Exception):
    """A signature that does not verify: `reason` is one of `REASONS`, the message says which check failed."""

    def __init__(self, reason: str, detail: str = "") -> None:
        assert reason in REASONS, reason
        self.reason = reason
        self.detail = detail
        super().__init__(f"{REASONS[reason]}: {detail}" if detail else REASONS[reason])


# ---------------------------------------------------------------- the canonical form


@dataclass(frozen=True)
class Attachment:
    """One attached file as it is signed: its display name, its size in bytes and its SHA-256 (hex)."""

    name: str
    size: int
    sha256: str

    @classmethod
    def of(cls, name: str, content: bytes) -> Attachment:
        """The attachment's signed description from its bytes."""
        return cls(name=name, size=len(content), sha256=hashlib.sha256(content).hexdigest())


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where}: a text is expected, not {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"{where}: not valid Unicode text (lone surrogate)") from e
    return unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))


def canonical(appeal_fields: Mapping[str, str], attachments: Sequence[Attachment]) -> bytes:
    """The bytes that are signed: one line of JSON, UTF-8, keys sorted, no insignificant whitespace.

    `{"attachments":[{"name":…,"sha256":…,"size":…},…],"fields":{"<name>":"<text>",…},"format":"tocsin-appeal/1"}`

    - Field names are explicit (lower-case ASCII, `[a-z][a-z0-9_]*`), values are texts only (no numbers:
      a float's spelling is not worth defining); every text is NFC-normalised and its line ends are LF
      (HTML forms send CRLF, a database may give back LF: the same words sign the same). Nothing is trimmed.
    - Attachments keep the citizen's order (the order they are listed in the appeal is part of what is
      said): moving one changes the bytes. Each is its name (NFC), size and SHA-256 in lower-case hex.
    - JSON rather than a line format: escaping (quotes, back-slashes, control characters, new lines inside
      a text) is already defined by RFC 8259, any language can rebuild the bytes, and a reader sees what was
      signed. Sorted keys, `ensure_ascii=False` and `(",", ":")` separators make it one spelling; Python's
      encoder has spelled these the same way since 3.x began (only str, int, list and dict occur here).
    - `format` names this version of the rules, so a later form can be told apart.
    """
    fields: dict[str, str] = {}
    for name, value in appeal_fields.items():
        if not isinstance(name, str) or not _FIELD_NAME.match(name):
            raise ValueError(f"field name {name!r}: lower-case ASCII letters, digits and _ expected")
        fields[name] = _text(value, f"field {name}")
    listed = []
    for i, a in enumerate(attachments):
        where = f"attachment {i + 1}"
        if isinstance(a.size, bool) or not isinstance(a.size, int) or a.size < 0:
            raise ValueError(f"{where}: size must be a whole number of bytes")
        if not isinstance(a.sha256, str) or not _SHA256_HEX.match(a.sha256):
            raise ValueError(f"{where}: sha256 must be 64 lower-case hex digits")
        listed.append({"name": _text(a.name, f"{where} name"), "sha256": a.sha256, "size": a.size})
    document = {"attachments": listed, "fields": fields, "format": CANONICAL_FORMAT}
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# ---------------------------------------------------------------- trust anchors and the answer


@dataclass(frozen=True)
class TrustAnchors:
    """The certificates a signer's chain must end at (DER); read from a folder of PEM files."""

    certificates: tuple[bytes, ...]

    @classmethod
    def from_folder(cls, folder: Path | str) -> TrustAnchors:
        """Every `*.pem`, `*.crt`, `*.cer` (PEM, one or more certificates each); a bad file fails, named."""
        folder = Path(folder)
        found: list[bytes] = []
        for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in {".pem", ".crt", ".cer"}):
            blob = path.read_bytes()
            if not pem.detect(blob):
                raise ValueError(f"{path}: not a PEM file")
            for kind, _headers, der in pem.unarmor(blob, multiple=True):
                if kind != "CERTIFICATE":
                    continue
                try:
                    x509.load_der_x509_certificate(der)
                except ValueError as e:
                    raise ValueError(f"{path}: a certificate that does not parse ({e})") from e
                found.append(der)
        if not found:
            raise ValueError(f"{folder}: no trust anchor certificate (*.pem, *.crt, *.cer)")
        return cls(tuple(found))

    @classmethod
    def of(cls, certificates: Iterable[x509.Certificate]) -> TrustAnchors:
        """Anchors from certificates already loaded."""
        return cls(tuple(c.public_bytes(Encoding.DER) for c in certificates))


@dataclass(frozen=True)
class Verified:
    """Who signed, when, and with which certificate: what is kept beside the signature."""

    provider: str
    subject: str  # RFC 4514
    common_name: str | None
    snils: str | None
    inn: str | None
    serial: str  # hex
    issuer: str  # RFC 4514
    signing_time: datetime | None  # the signingTime attribute, if the signer put one
    checked_at: datetime  # the moment the chain was validated for: signing_time, else now
    fingerprint_sha256: str  # of the signer's certificate (DER), hex
    certificate_der: bytes = field(repr=False)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times ISO 8601, the certificate as hex)."""
        d = asdict(self)
        d["signing_time"] = self.signing_time.isoformat() if self.signing_time else None
        d["checked_at"] = self.checked_at.isoformat()
        d["certificate_der"] = self.certificate_der.hex()
        return d


@runtime_checkable
class SignatureProvider(Protocol):
    """Verifies detached signatures of one family of algorithms, and makes them for the agency."""

    name: str

    def verify(
        self, data: bytes, signature_der: bytes, anchors: TrustAnchors, *, now: datetime | None = None
    ) -> Verified:
        """The signer's details if `signature_der` is a valid detached signature of `data`; else refused."""
        ...

    def sign(self, data: bytes, key: Any, certificate: Any, *, chain: Sequence[Any] = ()) -> bytes:
        """A detached signature (DER) of `data` by `key`, carrying `certificate` and `chain`."""
        ...


# ---------------------------------------------------------------- RSA and ECDSA


_DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def _name_value(name: x509.Name, oid: str) -> str | None:
    attrs = name.get_attributes_for_oid(x509.ObjectIdentifier(oid))
    if not attrs:
        return None
    value = attrs[0].value
    return value if isinstance(value, str) else value.decode("ascii", "replace")


def _is_gost(oid: str) -> bool:
    return oid.startswith(GOST_OID_PREFIXES)


def _run(coroutine: Any) -> Any:
    """Run the validator's coroutine here, or in a helper thread when this thread runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


class CmsProvider:
    """Detached CMS SignedData with RSA (PKCS #1 v1.5 or PSS) or ECDSA, SHA-256/384/512."""

    name = "rsa-ecdsa"

    def verify(
        self, data: bytes, signature_der: bytes, anchors: TrustAnchors, *, now: datetime | None = None
    ) -> Verified:
        """Checks in order: sizes, structure, one signer, not GOST, digest, signature, time, chain, usage."""
        now = now or datetime.now(UTC)
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        if len(data) > MAX_DATA_BYTES:
            raise SignatureRefused("too_large", f"data of {len(data)} bytes, {MAX_DATA_BYTES} at most")
        if not signature_der:
            raise SignatureRefused("empty")
        if len(signature_der) > MAX_SIGNATURE_BYTES:
            raise SignatureRefused(
                "too_large", f"signature of {len(signature_der)} bytes, {MAX_SIGNATURE_BYTES} at most"
            )
        _signed_data, signer, certificates = self._parse(signature_der)
        digest_oid = signer["digest_algorithm"]["algorithm"].dotted
        signature_oid = signer["signature_algorithm"]["algorithm"].dotted
        # Before the certificate is loaded: cryptography has no GOST keys.
        if _is_gost(digest_oid) or _is_gost(signature_oid):
            raise SignatureRefused("gost", f"digest {digest_oid}, signature {signature_oid}")
        signer_cert = self._signer_certificate(signer, certificates)
        cert = self._load(signer_cert)
        digest_name = signer["digest_algorithm"]["algorithm"].native
        if digest_name not in _DIGESTS:
            raise SignatureRefused("algorithm", f"digest {digest_name}")
        signing_time = self._check_attributes(signer, data, digest_name)
        self._check_signature(signer, cert, digest_name)
        if signing_time is not None and signing_time > now + FUTURE_TOLERANCE:
            raise SignatureRefused(
                "signing_time_future", f"{signing_time.isoformat()} (now {now.isoformat()})"
            )
        moment = signing_time or now
        self._check_chain(signer_cert, certificates, anchors, moment)
        self._check_key_usage(signer_cert)
        der = signer_cert.dump()
        return Verified(
            provider=self.name,
            subject=cert.subject.rfc4514_string(),
            common_name=_name_value(cert.subject, "2.5.4.3"),
            snils=_name_value(cert.subject, SNILS_OID),
            inn=_name_value(cert.subject, INN_OID),
            serial=format(cert.serial_number, "x"),
            issuer=cert.issuer.rfc4514_string(),
            signing_time=signing_time,
            checked_at=moment,
            fingerprint_sha256=hashlib.sha256(der).hexdigest(),
            certificate_der=der,
        )

    def sign(
        self,
        data: bytes,
        key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
        certificate: x509.Certificate,
        *,
        chain: Sequence[x509.Certificate] = (),
    ) -> bytes:
        """A detached CMS (DER), SHA-256, with content type, signingTime and message digest signed."""
        if len(data) > MAX_DATA_BYTES:
            raise ValueError(f"data of {len(data)} bytes, {MAX_DATA_BYTES} at most")
        builder = pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(certificate, key, hashes.SHA256())
        for extra in chain:
            builder = builder.add_certificate(extra)
        return builder.sign(Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary])

    # -- the checks, one each

    @staticmethod
    def _parse(
        signature_der: bytes,
    ) -> tuple[cms.SignedData, cms.SignerInfo, list[asn1_x509.Certificate]]:
        try:
            info = cms.ContentInfo.load(signature_der, strict=True)
            content_type = info["content_type"].native
            if content_type != "signed_data":
                raise SignatureRefused("not_signed_data", f"content type {content_type}")
            signed_data: cms.SignedData = info["content"]
            encapsulated = signed_data["encap_content_info"]
            signers = list(signed_data["signer_infos"])
            certificates = [
                c.chosen
                for c in (signed_data["certificates"] or [])
                if isinstance(c.chosen, asn1_x509.Certificate)
            ]
            has_content = encapsulated["content"].native is not None
            encapsulated_type = encapsulated["content_type"].native
            info.native  # noqa: B018  (asn1crypto parses lazily: every part is parsed now, inside this try)
        except SignatureRefused:
            raise
        except (ValueError, TypeError, KeyError, IndexError, OverflowError) as e:
            raise SignatureRefused("not_cms", f"{type(e).__name__}: {str(e)[:200]}") from e
        if encapsulated_type != "data":  # RFC 5652 §11.1: the signed content-type attribute must match it
            raise SignatureRefused("content_type", f"encapsulated content type {encapsulated_type}")
        if has_content:
            raise SignatureRefused(
                "attached", "sign with a detached signature (openssl cms -sign without -nodetach)"
            )
        if len(signers) != 1:
            raise SignatureRefused("signers", f"{len(signers)} signers")
        return signed_data, signers[0], certificates

    @staticmethod
    def _signer_certificate(
        signer: cms.SignerInfo, certificates: list[asn1_x509.Certificate]
    ) -> asn1_x509.Certificate:
        sid = signer["sid"]
        for c in certificates:
            if sid.name == "issuer_and_serial_number":
                if c.issuer == sid.chosen["issuer"] and c.serial_number == sid.chosen["serial_number"].native:
                    return c
            elif c.key_identifier == sid.chosen.native:
                return c
        raise SignatureRefused("signer_certificate_missing")

    @staticmethod
    def _load(signer_cert: asn1_x509.Certificate) -> x509.Certificate:
        try:
            cert = x509.load_der_x509_certificate(signer_cert.dump())
            cert.public_key()
        except UnsupportedAlgorithm as e:
            raise SignatureRefused("algorithm", f"the signer's key: {e}") from e
        except Exception as e:  # ValueError, InvalidVersion: whatever cryptography finds wrong in it
            raise SignatureRefused("bad_certificate", str(e)[:200]) from e
        return cert

    @staticmethod
    def _check_attributes(signer: cms.SignerInfo, data: bytes, digest_name: str) -> datetime | None:
        attrs = signer["signed_attrs"]
        if not attrs:
            raise SignatureRefused("no_signed_attributes")
        by_type: dict[str, list[Any]] = {}
        for attr in attrs:
            by_type.setdefault(attr["type"].native, []).extend(attr["values"])
        if [v.native for v in by_type.get("content_type", [])] != ["data"]:
            raise SignatureRefused("content_type", str([v.native for v in by_type.get("content_type", [])]))
        digests = [v.native for v in by_type.get("message_digest", [])]
        if len(digests) != 1:
            raise SignatureRefused("no_signed_attributes", "exactly one message digest attribute is expected")
        if hashlib.new(digest_name, data).digest() != digests[0]:
            raise SignatureRefused(
                "digest_mismatch", f"{digest_name} of the data differs from the signed one"
            )
        times = [v.native for v in by_type.get("signing_time", [])]
        if len(times) > 1:
            raise SignatureRefused("no_signed_attributes", "several signing times")
        return times[0].astimezone(UTC) if times else None

    @staticmethod
    def _check_signature(signer: cms.SignerInfo, cert: x509.Certificate, digest_name: str) -> None:
        # RFC 5652 §5.4: the signature covers the DER of the attributes as a SET OF, not as [0] IMPLICIT.
        signed_bytes = b"\x31" + signer["signed_attrs"].dump()[1:]
        signature = signer["signature"].native
        algorithm = signer["signature_algorithm"]
        chosen_hash = _DIGESTS[digest_name]()
        try:
            scheme = algorithm.signature_algo  # "rsassa_pkcs1v15", "rsassa_pss", "ecdsa"; else ValueError
            public_key = cert.public_key()
            if scheme == "rsassa_pkcs1v15" and isinstance(public_key, rsa.RSAPublicKey):
                public_key.verify(signature, signed_bytes, padding.PKCS1v15(), chosen_hash)
            elif scheme == "rsassa_pss" and isinstance(public_key, rsa.RSAPublicKey):
                params = algorithm["parameters"]
                pss_hash = params["hash_algorithm"]["algorithm"].native
                if pss_hash not in _DIGESTS:
                    raise SignatureRefused("algorithm", f"PSS with {pss_hash}")
                salt = params["salt_length"].native
                pss = padding.PSS(mgf=padding.MGF1(_DIGESTS[pss_hash]()), salt_length=salt)
                public_key.verify(signature, signed_bytes, pss, _DIGESTS[pss_hash]())
            elif scheme == "ecdsa" and isinstance(public_key, ec.EllipticCurvePublicKey):
                public_key.verify(signature, signed_bytes, ec.ECDSA(chosen_hash))
            else:
                raise SignatureRefused("algorithm", f"{scheme} with a {type(public_key).__name__}")
        except InvalidSignature as e:
            raise SignatureRefused("bad_signature") from e
        except (ValueError, TypeError) as e:  # an unknown algorithm or a key cryptography refuses
            raise SignatureRefused("algorithm", str(e)[:200]) from e

    @staticmethod
    def _check_chain(
        signer_cert: asn1_x509.Certificate,
        certificates: list[asn1_x509.Certificate],
        anchors: TrustAnchors,
        moment: datetime,
    ) -> None:
        context = ValidationContext(
            trust_roots=[asn1_x509.Certificate.load(der) for der in anchors.certificates],
            moment=moment,
            allow_fetching=False,
            revocation_mode="soft-fail",
        )
        others = [c for c in certificates if c is not signer_cert]
        validator = CertificateValidator(signer_cert, others, validation_context=context)
        try:
            _run(validator.async_validate_path())
        except ExpiredError as e:
            raise SignatureRefused("expired", str(e)) from e
        except NotYetValidError as e:
            raise SignatureRefused("not_yet_valid", str(e)) from e
        except RevokedError as e:
            raise SignatureRefused("revoked", str(e)) from e
        except DisallowedAlgorithmError as e:
            raise SignatureRefused("algorithm", str(e)) from e
        except PathBuildingError as e:
            raise SignatureRefused("untrusted", str(e)) from e
        except (PathValidationError, InvalidCertificateError) as e:
            raise SignatureRefused("path_invalid", str(e)) from e
        except (ValueError, TypeError, KeyError, IndexError) as e:  # a chain certificate it cannot read
            raise SignatureRefused("path_invalid", f"{type(e).__name__}: {str(e)[:200]}") from e

    @staticmethod
    def _check_key_usage(cert: asn1_x509.Certificate) -> None:
        usage = cert.key_usage_value
        if usage is None:
            return  # no extension: RFC 5280 §4.2.1.3 puts no limit on the key
        if not usage.native & {"digital_signature", "non_repudiation"}:
            raise SignatureRefused("key_usage", f"the certificate allows {sorted(usage.native)}")


# ---------------------------------------------------------------- GOST


class GostUnconfigured:
    """The GOST slot until a real provider is configured: refuses every call, never pretends to verify."""

    name = "gost"

    def verify(
        self, data: bytes, signature_der: bytes, anchors: TrustAnchors, *, now: datetime | None = None
    ) -> Verified:
        """Always refused: reason `not_available`."""
        raise SignatureRefused("not_available", "ГОСТ Р 34.10-2012 signatures need a GOST provider")

    def sign(self, data: bytes, key: Any, certificate: Any, *, chain: Sequence[Any] = ()) -> bytes:
        """Always refused: reason `not_available`."""
        raise SignatureRefused("not_available", "ГОСТ Р 34.10-2012 signatures need a GOST provider")


providers: dict[str, SignatureProvider] = {"rsa-ecdsa": CmsProvider(), "gost": GostUnconfigured()}


def provider_for(signature_der: bytes) -> SignatureProvider:
    """The provider for a signature's algorithms: `gost` when its signer uses a GOST OID, else `rsa-ecdsa`."""
    try:
        info = cms.ContentInfo.load(signature_der[:MAX_SIGNATURE_BYTES])
        for signer in info["content"]["signer_infos"]:
            oids = (
                signer["digest_algorithm"]["algorithm"].dotted,
                signer["signature_algorithm"]["algorithm"].dotted,
            )
            if any(_is_gost(o) for o in oids):
                return providers["gost"]
    except (ValueError, TypeError, KeyError, IndexError, OverflowError):
        pass  # the RSA/ECDSA provider refuses it with a precise reason
    return providers["rsa-ecdsa"]
