"""Detached CMS signatures of appeals: the canonical form, our verification and signing, openssl as witness.

The PKI (a root, an intermediate, end-entity certificates with RSA and ECDSA P-256) is made here with
`cryptography`; signatures are made both by Debian's `openssl cms -sign` and by `CmsProvider.sign`, and what
we sign is also checked by `openssl cms -verify`.
"""

from __future__ import annotations

import asyncio
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.name import _ASN1Type  # NumericString, as Russian SNILS and INN are encoded
from cryptography.x509.oid import NameOID

from tocsin.appeals.signatures import (
    INN_OID,
    MAX_DATA_BYTES,
    MAX_SIGNATURE_BYTES,
    SNILS_OID,
    Attachment,
    CmsProvider,
    SignatureProvider,
    SignatureRefused,
    TrustAnchors,
    canonical,
    provider_for,
    providers,
)

NOW = datetime.now(UTC)
FIELDS = {"agency": "Минприроды России", "subject": "Свалка у реки", "text": "Прошу проверить.\nСпасибо."}
ATTACHMENTS = [Attachment.of("фото.jpg", b"\xff\xd8jpeg bytes"), Attachment.of("plan.pdf", b"%PDF-1.7 ...")]


# ---------------------------------------------------------------- a small PKI


@dataclass
class Identity:
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    cert_pem: Path
    key_pem: Path


def _name(cn: str, extra: list[x509.NameAttribute] | None = None) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.COUNTRY_NAME, "RU"), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        + (extra or [])
    )


def _issue(
    folder: Path,
    label: str,
    *,
    subject: x509.Name,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    issuer: Identity | None,
    ca: bool,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    usage: str = "sign",
) -> Identity:
    signer_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - timedelta(days=30))
        .not_valid_after(not_after or NOW + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
    flags = dict.fromkeys(
        [
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ],
        False,
    )
    if ca:
        flags.update(key_cert_sign=True, crl_sign=True)
    elif usage == "sign":
        flags.update(digital_signature=True, content_commitment=True)
    else:
        flags.update(key_encipherment=True)
    builder = builder.add_extension(x509.KeyUsage(**flags), critical=True)
    cert = builder.sign(signer_key, hashes.SHA256())
    cert_pem = folder / f"{label}.pem"
    key_pem = folder / f"{label}.key"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return Identity(key, cert, cert_pem, key_pem)


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Pki:
    folder: Path
    anchors_dir: Path
    root: Identity
    intermediate: Identity
    rsa: Identity
    ecdsa: Identity
    citizen: Identity  # with SNILS and INN
    expired: Identity
    not_yet_valid: Identity
    encipher_only: Identity
    stranger: Identity  # chained to another root
    stranger_root: Identity
    lookalike: Identity  # chained to a root with our root's name and another key
    lookalike_root: Identity

    @property
    def anchors(self) -> TrustAnchors:
        return TrustAnchors.from_folder(self.anchors_dir)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    anchors_dir = folder / "anchors"
    anchors_dir.mkdir()
    root = _issue(anchors_dir, "root", subject=_name("Test Root CA"), key=_rsa(), issuer=None, ca=True)
    (anchors_dir / "root.key").rename(folder / "root.key")  # only certificates in the anchors folder
    inter = _issue(
        folder,
        "inter",
        subject=_name("Test Issuing CA"),
        key=ec.generate_private_key(ec.SECP256R1()),
        issuer=root,
        ca=True,
    )
    ids = [
        x509.NameAttribute(x509.ObjectIdentifier(SNILS_OID), "12345678901", _type=_ASN1Type.NumericString),
        x509.NameAttribute(x509.ObjectIdentifier(INN_OID), "770123456789", _type=_ASN1Type.NumericString),
    ]

    def leaf(label: str, **kw: object) -> Identity:
        key = kw.pop("key", None) or _rsa()
        return _issue(
            folder,
            label,
            subject=kw.pop("subject", None) or _name(label),
            key=key,
            issuer=inter,
            ca=False,
            **kw,
        )  # type: ignore[arg-type]

    stranger_root = _issue(
        folder, "stranger-root", subject=_name("Other Root CA"), key=_rsa(), issuer=None, ca=True
    )
    lookalike_root = _issue(
        folder, "lookalike-root", subject=_name("Test Root CA"), key=_rsa(), issuer=None, ca=True
    )
    return Pki(
        folder=folder,
        anchors_dir=anchors_dir,
        root=root,
        intermediate=inter,
        rsa=leaf("Иван Петров"),
        ecdsa=leaf("ecdsa-signer", key=ec.generate_private_key(ec.SECP256R1())),
        citizen=leaf("citizen", subject=_name("Мария Иванова", ids)),
        expired=leaf("expired", not_before=NOW - timedelta(days=60), not_after=NOW - timedelta(days=1)),
        not_yet_valid=leaf("future", not_before=NOW + timedelta(days=1)),
        encipher_only=leaf("encipher", usage="encipher"),
        stranger=_issue(
            folder, "stranger", subject=_name("stranger"), key=_rsa(), issuer=stranger_root, ca=False
        ),
        stranger_root=stranger_root,
        lookalike=_issue(
            folder, "lookalike", subject=_name("lookalike"), key=_rsa(), issuer=lookalike_root, ca=False
        ),
        lookalike_root=lookalike_root,
    )


def openssl_sign(
    pki: Pki,
    who: Identity,
    data: bytes,
    *,
    attached: bool = False,
    chain: Path | None = None,
    extra: tuple[str, ...] = (),
) -> bytes:
    """`openssl cms -sign` (Debian), detached unless asked, DER."""
    src = pki.folder / "data.bin"
    src.write_bytes(data)
    out = pki.folder / "sig.der"
    chain = chain or pki.intermediate.cert_pem
    cmd = [
        "openssl",
        "cms",
        "-sign",
        "-binary",
        "-in",
        str(src),
        "-signer",
        str(who.cert_pem),
        "-inkey",
        str(who.key_pem),
    ]
    cmd += ["-certfile", str(chain), "-outform", "DER", "-out", str(out), "-md", "sha256"]
    if attached:
        cmd.append("-nodetach")
    cmd += list(extra)
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    return out.read_bytes()


def openssl_verify(pki: Pki, data: bytes, signature: bytes) -> subprocess.CompletedProcess[bytes]:
    """`openssl cms -verify` of a detached signature against the root only (the intermediate rides inside)."""
    (pki.folder / "v-data.bin").write_bytes(data)
    (pki.folder / "v-sig.der").write_bytes(signature)
    cmd = ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(pki.folder / "v-sig.der")]
    cmd += [
        "-content",
        str(pki.folder / "v-data.bin"),
        "-CAfile",
        str(pki.root.cert_pem),
        "-out",
        "/dev/null",
    ]
    return subprocess.run(cmd, capture_output=True, timeout=60)


def resign(signature: bytes, who: Identity, signing_time: datetime | None) -> bytes:
    """The same RSA signature with its signingTime replaced (or dropped) and signed again by `who`."""
    info = cms.ContentInfo.load(signature)
    signer = info["content"]["signer_infos"][0]
    attrs = [a for a in signer["signed_attrs"] if a["type"].native != "signing_time"]
    if signing_time is not None:
        attrs.append(
            cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": signing_time})]})
        )
    signer["signed_attrs"] = cms.CMSAttributes(attrs)
    to_sign = b"\x31" + signer["signed_attrs"].dump(force=True)[1:]
    assert isinstance(who.key, rsa.RSAPrivateKey)
    signer["signature"] = who.key.sign(to_sign, padding.PKCS1v15(), hashes.SHA256())
    return info.dump(force=True)


def refused(data: bytes, signature: bytes, anchors: TrustAnchors) -> SignatureRefused:
    with pytest.raises(SignatureRefused) as caught:
        CmsProvider().verify(data, signature, anchors)
    return caught.value


# ---------------------------------------------------------------- the canonical form


def test_canonical_form_is_one_documented_spelling() -> None:
    body = canonical({"text": "a\r\nb", "agency": "МЧС"}, [Attachment.of("x.txt", b"hi")])
    sha = "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4"
    assert (
        body
        == (
            '{"attachments":[{"name":"x.txt","sha256":"' + sha + '","size":2}],'
            '"fields":{"agency":"МЧС","text":"a\\nb"},"format":"tocsin-appeal/1"}'
        ).encode()
    )


def test_canonical_form_is_stable_and_every_change_shows() -> None:
    base = canonical(FIELDS, ATTACHMENTS)
    assert (
        canonical(dict(reversed(list(FIELDS.items()))), list(ATTACHMENTS)) == base
    )  # field order is not content
    # Unicode equivalents and line ends sign the same: "й" composed or decomposed, CRLF or LF.
    decomposed = {
        **FIELDS,
        "subject": FIELDS["subject"].replace("й", "и\u0306"),
        "text": FIELDS["text"].replace("\n", "\r\n"),
    }
    assert "и\u0306" in decomposed["subject"] or "й" not in FIELDS["subject"]
    assert canonical(decomposed, ATTACHMENTS) == base
    changes = [
        canonical({**FIELDS, "text": FIELDS["text"] + "."}, ATTACHMENTS),  # one character
        canonical({**FIELDS, "text": FIELDS["text"] + " "}, ATTACHMENTS),  # nothing is trimmed
        canonical({**FIELDS, "extra": ""}, ATTACHMENTS),  # an empty field is still a field
        canonical(
            FIELDS, [Attachment.of("фото.jpg", b"\xff\xd8jpeg byteS"), ATTACHMENTS[1]]
        ),  # one byte of a file
        canonical(FIELDS, list(reversed(ATTACHMENTS))),  # the attachments' order is part of the appeal
        canonical(FIELDS, ATTACHMENTS[:1]),
        canonical(
            FIELDS, [Attachment("фото2.jpg", ATTACHMENTS[0].size, ATTACHMENTS[0].sha256), ATTACHMENTS[1]]
        ),
    ]
    assert len({base, *changes}) == len(changes) + 1


@pytest.mark.parametrize(
    ("fields", "attachments", "message"),
    [
        ({"Text": "x"}, [], "field name"),
        ({"text": 3}, [], "a text is expected"),
        ({"text": 0.1}, [], "a text is expected"),
        ({"text": "\ud800"}, [], "lone surrogate"),
        ({}, [Attachment("a", -1, "0" * 64)], "size"),
        ({}, [Attachment("a", 1, "A" * 64)], "sha256"),
    ],
)
def test_canonical_form_refuses_what_it_cannot_spell_once(
    fields: dict, attachments: list, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        canonical(fields, attachments)


# ---------------------------------------------------------------- valid signatures


@pytest.mark.parametrize("who", ["rsa", "ecdsa"])
@pytest.mark.parametrize("signer", ["openssl", "ours"])
def test_a_valid_detached_signature_is_accepted_with_the_signers_details(
    pki: Pki, who: str, signer: str
) -> None:
    identity: Identity = getattr(pki, who)
    data = canonical(FIELDS, ATTACHMENTS)
    if signer == "openssl":
        signature = openssl_sign(pki, identity, data)
    else:
        signature = CmsProvider().sign(data, identity.key, identity.cert, chain=[pki.intermediate.cert])
    got = CmsProvider().verify(data, signature, pki.anchors)
    assert got.common_name == identity.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert got.serial == format(identity.cert.serial_number, "x")
    assert got.issuer == pki.intermediate.cert.subject.rfc4514_string()
    assert got.fingerprint_sha256 == identity.cert.fingerprint(hashes.SHA256()).hex()
    assert got.signing_time is not None and abs(got.signing_time - datetime.now(UTC)) < timedelta(minutes=5)
    assert got.checked_at == got.signing_time
    assert got.snils is None and got.inn is None
    assert got.as_dict()["signing_time"] == got.signing_time.isoformat()


@pytest.mark.parametrize("who", ["rsa", "ecdsa"])
def test_what_we_sign_openssl_accepts_too(pki: Pki, who: str) -> None:
    identity: Identity = getattr(pki, who)
    data = canonical({"answer": "Ваше обращение рассмотрено."}, [Attachment.of("ответ.pdf", b"%PDF")])
    signature = CmsProvider().sign(data, identity.key, identity.cert, chain=[pki.intermediate.cert])
    info = cms.ContentInfo.load(signature)
    assert info["content"]["encap_content_info"]["content"].native is None  # detached
    done = openssl_verify(pki, data, signature)
    assert done.returncode == 0, done.stderr.decode()
    assert b"Verification successful" in done.stderr
    assert openssl_verify(pki, data + b" ", signature).returncode != 0  # the witness does refuse, too


def test_snils_and_inn_are_read_from_the_certificate(pki: Pki) -> None:
    data = canonical(FIELDS, [])
    got = CmsProvider().verify(data, openssl_sign(pki, pki.citizen, data), pki.anchors)
    assert (got.common_name, got.snils, got.inn) == ("Мария Иванова", "12345678901", "770123456789")
    assert "Мария Иванова" in got.subject


# ---------------------------------------------------------------- refusals, each with its own reason


def test_changed_data_is_refused(pki: Pki) -> None:
    data = canonical(FIELDS, ATTACHMENTS)
    signature = openssl_sign(pki, pki.rsa, data)
    changed = canonical({**FIELDS, "text": FIELDS["text"].replace("проверить", "проверит")}, ATTACHMENTS)
    assert refused(changed, signature, pki.anchors).reason == "digest_mismatch"
    other_file = canonical(FIELDS, [ATTACHMENTS[0], Attachment.of("plan.pdf", b"%PDF-1.7 ..!")])
    assert refused(other_file, signature, pki.anchors).reason == "digest_mismatch"


@pytest.mark.parametrize("who", ["rsa", "ecdsa"])
def test_corrupted_signature_bytes_are_refused(pki: Pki, who: str) -> None:
    data = canonical(FIELDS, ATTACHMENTS)
    signature = bytearray(openssl_sign(pki, getattr(pki, who), data))
    signature[-3] ^= 0x01  # inside the signature value, the last field of the structure
    assert refused(data, bytes(signature), pki.anchors).reason == "bad_signature"


def test_a_signer_of_another_root_is_untrusted(pki: Pki) -> None:
    data = canonical(FIELDS, [])
    signature = openssl_sign(pki, pki.stranger, data, chain=pki.stranger_root.cert_pem)
    e = refused(data, signature, pki.anchors)
    assert e.reason == "untrusted", e
    # the same signature with the stranger's root configured is accepted: the anchors decide
    assert (
        CmsProvider().verify(data, signature, TrustAnchors.of([pki.stranger_root.cert])).common_name
        == "stranger"
    )


def test_a_root_that_only_borrows_our_roots_name_is_refused(pki: Pki) -> None:
    data = canonical(FIELDS, [])
    signature = openssl_sign(pki, pki.lookalike, data, chain=pki.lookalike_root.cert_pem)
    e = refused(data, signature, pki.anchors)
    assert e.reason == "path_invalid" and "signature" in str(e), e


@pytest.mark.parametrize(("label", "reason"), [("expired", "expired"), ("not_yet_valid", "not_yet_valid")])
def test_a_certificate_not_valid_at_signing_time_is_refused(pki: Pki, label: str, reason: str) -> None:
    data = canonical(FIELDS, [])
    e = refused(data, openssl_sign(pki, getattr(pki, label), data), pki.anchors)
    assert e.reason == reason, e


def test_a_certificate_without_a_signing_key_usage_is_refused(pki: Pki) -> None:
    data = canonical(FIELDS, [])
    signature = CmsProvider().sign(
        data, pki.encipher_only.key, pki.encipher_only.cert, chain=[pki.intermediate.cert]
    )
    e = refused(data, signature, pki.anchors)
    assert e.reason == "key_usage" and "key_encipherment" in str(e)


def test_an_attached_signature_is_refused_where_a_detached_one_is_expected(pki: Pki) -> None:
    # Refused rather than compared: what was signed is our canonical form, kept by us; a second copy
    # inside the signature could differ from it or be read instead of it.
    data = canonical(FIELDS, [])
    assert refused(data, openssl_sign(pki, pki.rsa, data, attached=True), pki.anchors).reason == "attached"


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        (b"", "empty"),
        (b"garbage, not DER at all \x00\x01\x02", "not_cms"),
        (b"\x30\x03\x02\x01\x01", "not_cms"),
        (b"-----BEGIN PKCS7-----\nAAAA\n-----END PKCS7-----\n", "not_cms"),
        (b"\x30" + b"\x84\x7f\xff\xff\xff" + b"\x00" * 100, "not_cms"),  # a length far past the end
        (b"\x30" * (MAX_SIGNATURE_BYTES + 1), "too_large"),
    ],
)
def test_bytes_that_are_no_signature_are_refused(pki: Pki, signature: bytes, reason: str) -> None:
    assert refused(b"data", signature, pki.anchors).reason == reason


def test_huge_data_is_refused_before_any_work(pki: Pki) -> None:
    data = canonical(FIELDS, [])
    signature = openssl_sign(pki, pki.rsa, data)
    assert refused(b"x" * (MAX_DATA_BYTES + 1), signature, pki.anchors).reason == "too_large"
    with pytest.raises(ValueError, match="at most"):
        CmsProvider().sign(b"x" * (MAX_DATA_BYTES + 1), pki.rsa.key, pki.rsa.cert)


def test_a_signature_without_signed_attributes_is_refused(pki: Pki) -> None:
    data = canonical(FIELDS, [])
    src = pki.folder / "noattr.bin"
    src.write_bytes(data)
    out = pki.folder / "noattr.der"
    cmd = ["openssl", "cms", "-sign", "-binary", "-noattr", "-in", str(src), "-signer", str(pki.rsa.cert_pem)]
    subprocess.run(
        cmd + ["-inkey", str(pki.rsa.key_pem), "-outform", "DER", "-out", str(out)], check=True, timeout=60
    )
    assert refused(data, out.read_bytes(), pki.anchors).reason == "no_signed_attributes"


def test_a_signature_whose_certificate_is_left_out_is_refused(pki: Pki) -> None:
    data = canonical(FIELDS, [])
    src = pki.folder / "nocerts.bin"
    src.write_bytes(data)
    out = pki.folder / "nocerts.der"
    cmd = [
        "openssl",
        "cms",
        "-sign",
        "-binary",
        "-nocerts",
        "-in",
        str(src),
        "-signer",
        str(pki.rsa.cert_pem),
    ]
    subprocess.run(
        cmd + ["-inkey", str(pki.rsa.key_pem), "-outform", "DER", "-out", str(out)], check=True, timeout=60
    )
    assert refused(data, out.read_bytes(), pki.anchors).reason == "signer_certificate_missing"


# ---------------------------------------------------------------- trust anchors and GOST


def test_trust_anchors_are_read_from_a_folder_and_a_bad_file_is_named(pki: Pki, tmp_path: Path) -> None:
    assert TrustAnchors.from_folder(pki.anchors_dir).certificates == (
        pki.root.cert.public_bytes(serialization.Encoding.DER),
    )
    with pytest.raises(ValueError, match="no trust anchor"):
        TrustAnchors.from_folder(tmp_path)
    (tmp_path / "broken.pem").write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(ValueError, match="broken.pem"):
        TrustAnchors.from_folder(tmp_path)


def test_gost_has_a_slot_that_says_it_is_not_configured(pki: Pki) -> None:
    assert isinstance(providers["rsa-ecdsa"], SignatureProvider) and isinstance(
        providers["gost"], SignatureProvider
    )
    data = canonical(FIELDS, [])
    signature = openssl_sign(pki, pki.rsa, data)
    # A signer that names Streebog-256 (ГОСТ Р 34.11-2012) as its digest.
    info = cms.ContentInfo.load(signature)
    info["content"]["signer_infos"][0]["digest_algorithm"]["algorithm"] = "1.2.643.7.1.1.2.2"
    gost_signature = info.dump(force=True)
    assert refused(data, gost_signature, pki.anchors).reason == "gost"
    assert provider_for(gost_signature) is providers["gost"]
    assert provider_for(signature) is providers["rsa-ecdsa"]
    assert provider_for(b"garbage") is providers["rsa-ecdsa"]
    with pytest.raises(SignatureRefused, match="configure a GOST provider") as caught:
        providers["gost"].verify(data, gost_signature, pki.anchors)
    assert caught.value.reason == "not_available"
    with pytest.raises(SignatureRefused, match="configure a GOST provider"):
        providers["gost"].sign(data, None, None)


def test_without_a_signing_time_the_chain_is_checked_for_now(pki: Pki) -> None:
    data = canonical(FIELDS, [])
    signature = resign(openssl_sign(pki, pki.rsa, data), pki.rsa, None)
    got = CmsProvider().verify(data, signature, pki.anchors, now=NOW)
    assert got.signing_time is None and got.checked_at == NOW
    # the expired certificate is refused at "now" as well
    expired = resign(openssl_sign(pki, pki.expired, data), pki.expired, None)
    assert refused(data, expired, pki.anchors).reason == "expired"


def test_the_chain_is_checked_at_the_signing_time(pki: Pki) -> None:
    data = canonical(FIELDS, [])
    # Signed (so it says) while the now expired certificate was still valid: accepted, with that time.
    before = (NOW - timedelta(days=10)).replace(microsecond=0)
    got = CmsProvider().verify(
        data, resign(openssl_sign(pki, pki.expired, data), pki.expired, before), pki.anchors
    )
    assert got.signing_time == before and got.checked_at == before
    # A signing time before the certificate existed: not yet valid then.
    early = resign(openssl_sign(pki, pki.rsa, data), pki.rsa, NOW - timedelta(days=90))
    assert refused(data, early, pki.anchors).reason == "not_yet_valid"


def test_a_signing_time_in_the_future_is_refused(pki: Pki) -> None:
    data = canonical(FIELDS, [])
    later = resign(openssl_sign(pki, pki.rsa, data), pki.rsa, NOW + timedelta(hours=1))
    assert refused(data, later, pki.anchors).reason == "signing_time_future"
    soon = resign(
        openssl_sign(pki, pki.rsa, data), pki.rsa, (NOW + timedelta(minutes=1)).replace(microsecond=0)
    )
    assert (
        CmsProvider().verify(data, soon, pki.anchors).common_name == "Иван Петров"
    )  # clocks differ a little


def test_rsa_pss_signatures_are_verified(pki: Pki) -> None:
    data = canonical(FIELDS, ATTACHMENTS)
    signature = openssl_sign(pki, pki.rsa, data, extra=("-keyopt", "rsa_padding_mode:pss"))
    info = cms.ContentInfo.load(signature)
    assert info["content"]["signer_infos"][0]["signature_algorithm"].signature_algo == "rsassa_pss"
    assert CmsProvider().verify(data, signature, pki.anchors).common_name == "Иван Петров"
    assert refused(data + b"!", signature, pki.anchors).reason == "digest_mismatch"


def test_verification_works_from_inside_an_event_loop(pki: Pki) -> None:
    data = canonical(FIELDS, [])
    signature = openssl_sign(pki, pki.ecdsa, data)

    async def from_a_coroutine() -> str | None:
        return CmsProvider().verify(data, signature, pki.anchors).common_name

    assert asyncio.run(from_a_coroutine()) == "ecdsa-signer"


@pytest.mark.parametrize("who", ["rsa", "ecdsa"])
def test_any_one_changed_byte_gives_an_answer_never_a_crash(pki: Pki, who: str) -> None:
    data = canonical(FIELDS, [])
    signature = openssl_sign(pki, getattr(pki, who), data)
    reasons = set()
    for at in range(0, len(signature), 5):
        for flip in (0x01, 0x80):
            corrupted = bytearray(signature)
            corrupted[at] ^= flip
            try:
                CmsProvider().verify(data, bytes(corrupted), pki.anchors)
            except SignatureRefused as e:
                reasons.add(e.reason)
    assert {"not_cms", "bad_signature"} <= reasons, reasons


def test_an_encapsulated_content_type_other_than_data_is_refused(pki: Pki) -> None:
    data = canonical(FIELDS, [])
    info = cms.ContentInfo.load(openssl_sign(pki, pki.rsa, data))
    info["content"]["encap_content_info"]["content_type"] = (
        "1.2.840.113549.1.9.16.1.4"  # unsigned, yet it must match the signed one
    )
    assert refused(data, info.dump(force=True), pki.anchors).reason == "content_type"
