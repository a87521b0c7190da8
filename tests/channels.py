"""Real servers on loopback for the notification channels, shared by every desk's tests:

- ``smtp_server``: aiosmtpd with STARTTLS (a test certificate authority made with ``cryptography``) and
  AUTH, refusing chosen recipients for good (550) or for now (451);
- ``SmppServer``: a small SMPP 3.4 server (bind_transceiver, submit_sm → submit_sm_resp with a message id,
  chosen error statuses, unbind, enquire_link);
- ``push_service``: a Web Push service that checks the VAPID JWT (RFC 8292) and decrypts the payload with
  the subscription's keys (RFC 8291, aes128gcm);
- ``sms_gateway``: the HTTP SMS gateway whose shape ``tocsin.core.outbox.transports.sms`` documents.
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import ipaddress
import json
import os
import socketserver
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import http_ece
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID
from smpplib.gsm import GSM_CHARACTER_TABLE
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.receiver import running
from tests.support import free_port

SMTP_USER, SMTP_PASSWORD = "tocsin", "mail-s3cret"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def wait_until(condition: Any, *, what: str, timeout: float = 15.0) -> None:
    """Poll ``condition()`` until it is true, with a deadline (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still not true after {timeout} s")
        time.sleep(0.02)


# ---- TLS: a test certificate authority and a server certificate for 127.0.0.1 ----


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1/localhost; returns (ca, cert, key) file paths."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tocsin test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


# ---- SMTP ----


@dataclass
class Mailbox:
    """What the SMTP server received, and how it answers recipients."""

    url: str = ""
    ca_file: str = ""
    messages: list[Message] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # address → reply, e.g. "550 5.1.1 no such user"
    busy: dict[str, int] = field(default_factory=dict)  # address → how many more times to answer 451

    def smtp_url(self, *, password: str = SMTP_PASSWORD) -> str:
        return f"smtp://{SMTP_USER}:{password}@{self.url}?starttls=true&cafile={self.ca_file}"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refused:
            return self.refused[address]
        if self.busy.get(address, 0) > 0:
            self.busy[address] -= 1
            return "451 4.3.2 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        message = email.message_from_bytes(
            envelope.original_content or envelope.content, policy=email.policy.default
        )
        self.sessions.append(
            {
                "tls": session.ssl is not None,
                "authenticated": session.authenticated,
                "login": session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None,
                "rcpt": list(envelope.rcpt_tos),
            }
        )
        self.messages.append(message)
        return "250 2.0.0 accepted"


def _authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
    good = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=good, handled=False, auth_data=auth_data if good else None)


@contextmanager
def smtp_server(folder: Path) -> Iterator[Mailbox]:
    """aiosmtpd on loopback that requires STARTTLS before AUTH and AUTH before mail."""
    ca, cert, key = make_certificates(folder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox = Mailbox(ca_file=str(ca))
    port = free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=_authenticator,
        auth_required=True,
        auth_require_tls=True,
    )
    controller.start()
    mailbox.url = f"127.0.0.1:{port}"
    try:
        yield mailbox
    finally:
        controller.stop()


def parts_of(message: Message) -> dict[str, str]:
    """The text and HTML bodies of a received mail, by content type."""
    found = {}
    for part in message.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            text = payload.decode(part.get_content_charset() or "utf-8")
            found[part.get_content_type()] = text.replace("\r\n", "\n")
    return found


# ---- SMPP 3.4 ----

BIND_TRANSCEIVER, SUBMIT_SM, UNBIND, ENQUIRE_LINK = 0x00000009, 0x00000004, 0x00000006, 0x00000015
RESPONSE, GENERIC_NACK = 0x80000000, 0x80000000
ESME_RINVPASWD, ESME_RINVDSTADR, ESME_RTHROTTLED = 0x0000000E, 0x0000000B, 0x00000058


@dataclass
class SmppServer:
    """An SMSC on loopback. ``statuses``: destination → command_status for its submit_sm, taken once
    each from a list; the rest are accepted with a message id."""

    system_id: str = "tocsin"
    password: str = "smpp-pw"
    port: int = 0
    submitted: list[dict[str, Any]] = field(default_factory=list)
    statuses: dict[str, list[int]] = field(default_factory=dict)
    binds: list[tuple[str, str]] = field(default_factory=list)

    def url(self, *, password: str | None = None) -> str:
        return f"smpp://{self.system_id}:{password or self.password}@127.0.0.1:{self.port}?source=TOCSIN"

    def texts_to(self, number: str) -> list[str]:
        """The texts delivered to ``number`` (E.164 without +), long ones joined from their parts."""
        joined: dict[tuple[int, int], list[str]] = {}
        texts = []
        for sm in self.submitted:
            if sm["destination"] != number or sm["status"]:
                continue
            if sm["udh"]:
                reference, total, index = sm["udh"]
                joined.setdefault((reference, total), [""] * total)[index - 1] = sm["text"]
                if all(joined[(reference, total)]):
                    texts.append("".join(joined.pop((reference, total))))
            else:
                texts.append(sm["text"])
        return texts


def _cstring(body: bytes, at: int) -> tuple[str, int]:
    end = body.index(b"\0", at)
    return body[at:end].decode("latin-1"), end + 1


def _submit_fields(body: bytes) -> dict[str, Any]:
    """The fields of a submit_sm body (SMPP 3.4 §4.4.1) a test looks at."""
    at = 0
    _, at = _cstring(body, at)  # service_type
    source_ton, _source_npi = body[at], body[at + 1]
    source, at = _cstring(body, at + 2)
    _dest_ton, _dest_npi = body[at], body[at + 1]
    destination, at = _cstring(body, at + 2)
    esm_class = body[at]
    at += 3  # esm_class, protocol_id, priority_flag
    _, at = _cstring(body, at)  # schedule_delivery_time
    _, at = _cstring(body, at)  # validity_period
    data_coding = body[at + 2]
    length = body[at + 4]
    short = body[at + 5 : at + 5 + length]
    udh = None
    if esm_class & 0x40:
        header = short[: short[0] + 1]
        udh = (header[3], header[4], header[5])
        short = short[short[0] + 1 :]
    text = short.decode("utf-16-be") if data_coding == 8 else "".join(GSM_CHARACTER_TABLE[b] for b in short)
    return {"source": source, "source_ton": source_ton, "destination": destination, "text": text, "udh": udh}


@contextmanager
def smpp_server() -> Iterator[SmppServer]:
    """Serve SMPP 3.4 on a free loopback port, one thread per connection."""
    smsc = SmppServer()
    lock = threading.Lock()

    class Session(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            connection = self.request
            bound = False
            while True:
                header = _read_exact(connection, 16)
                if header is None:
                    return
                length, command, _status, sequence = struct.unpack(">IIII", header)
                body = _read_exact(connection, length - 16) or b""
                status, reply = 0, b""
                if command == BIND_TRANSCEIVER:
                    system_id, at = _cstring(body, 0)
                    password, _ = _cstring(body, at)
                    smsc.binds.append((system_id, password))
                    bound = (system_id, password) == (smsc.system_id, smsc.password)
                    status = 0 if bound else ESME_RINVPASWD
                    reply = b"TESTSMSC\0"
                elif command == SUBMIT_SM and bound:
                    fields = _submit_fields(body)
                    with lock:
                        queue = smsc.statuses.get(fields["destination"], [])
                        status = queue.pop(0) if queue else 0
                        smsc.submitted.append(fields | {"status": status})
                        reply = f"msg-{len(smsc.submitted)}\0".encode() if status == 0 else b""
                elif command in (UNBIND, ENQUIRE_LINK):
                    pass
                else:
                    command, status = GENERIC_NACK & ~RESPONSE, 0x00000003  # invalid command id
                response = struct.pack(">IIII", 16 + len(reply), command | RESPONSE, status, sequence) + reply
                connection.sendall(response)
                if command == UNBIND:
                    return

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Session)
    server.daemon_threads = True
    smsc.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield smsc
    finally:
        server.shutdown()
        server.server_close()


def _read_exact(connection: Any, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


# ---- Web Push ----


@dataclass
class Device:
    """A browser's side of a push subscription: the keys it decrypts with."""

    key: ec.EllipticCurvePrivateKey
    auth: bytes
    endpoint: str

    def subscription(self) -> dict[str, Any]:
        public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"endpoint": self.endpoint, "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)}}


@dataclass
class PushService:
    """Records each push it could decrypt and verify; answers ``answers`` in order, then 201."""

    url: str = ""
    server_key: str = ""  # the VAPID public key (base64url) it expects
    devices: dict[str, Device] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)

    def device(self) -> Device:
        token = b64url(os.urandom(12))
        device = Device(ec.generate_private_key(ec.SECP256R1()), os.urandom(16), f"{self.url}/push/{token}")
        self.devices[token] = device
        return device


def check_vapid(authorization: str, *, audience: str, server_key: str) -> dict[str, Any]:
    """The claims of a ``vapid t=<JWT>,k=<key>`` header whose ES256 signature, key, audience and expiry
    hold (RFC 8292 §2–3); AssertionError naming what is wrong otherwise."""
    scheme, _, rest = authorization.partition(" ")
    assert scheme == "vapid", f"authorization scheme {scheme!r}"
    params = dict(part.strip().split("=", 1) for part in rest.split(","))
    assert params["k"] == server_key, "the VAPID key is not the server's"
    head, claims, signature = params["t"].split(".")
    assert json.loads(unb64url(head)) == {"typ": "JWT", "alg": "ES256"}
    raw = unb64url(signature)
    assert len(raw) == 64, "ES256 signatures are r||s, 64 bytes"
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(params["k"]))
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        public.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise AssertionError("the VAPID JWT signature does not verify") from None
    values = json.loads(unb64url(claims))
    assert values["aud"] == audience, f"aud {values['aud']!r}"
    assert time.time() < values["exp"] <= time.time() + 24 * 3600, "exp must be within 24 h"
    assert str(values["sub"]).startswith(("mailto:", "https:")), "sub must be a contact"
    return values


@contextmanager
def push_service() -> Iterator[PushService]:
    service = PushService()

    async def push(request: Request) -> Response:
        device = service.devices.get(request.path_params["token"])
        if device is None:
            return Response(status_code=404)
        body = await request.body()
        try:
            assert request.headers.get("content-encoding") == "aes128gcm", "content-encoding"
            assert int(request.headers["ttl"]) >= 0, "TTL"
            claims = check_vapid(
                request.headers.get("authorization", ""), audience=service.url, server_key=service.server_key
            )
            data = http_ece.decrypt(
                body, private_key=device.key, auth_secret=device.auth, version="aes128gcm"
            )
        except Exception as error:  # a malformed push is answered 400 and shown to the test
            service.refused.append(f"{type(error).__name__}: {error}")
            return JSONResponse({"error": str(error)}, status_code=400)
        status = service.answers.pop(0) if service.answers else 201
        if status < 300:
            service.received.append(
                {"endpoint": device.endpoint, "data": json.loads(data), "claims": claims, "bytes": len(body)}
            )
        return Response(status_code=status)

    with running(Starlette(routes=[Route("/push/{token}", push, methods=["POST"])])) as url:
        service.url = url
        yield service


# ---- HTTP SMS gateway ----


@dataclass
class SmsGateway:
    url: str = ""
    token: str = "gateway-token"
    received: list[dict[str, Any]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)


@contextmanager
def sms_gateway() -> Iterator[SmsGateway]:
    gateway = SmsGateway()

    async def submit(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {gateway.token}":
            return JSONResponse({"error": "unknown token"}, status_code=401)
        body = await request.json()
        status = gateway.answers.pop(0) if gateway.answers else 202
        if status < 300:
            gateway.received.append({"json": body, "idempotency": request.headers.get("idempotency-key")})
            return JSONResponse({"id": f"sms-{len(gateway.received)}"}, status_code=status)
        return JSONResponse({"error": f"status {status}"}, status_code=status)

    with running(Starlette(routes=[Route("/sms", submit, methods=["POST"])])) as url:
        gateway.url = f"{url}/sms"
        yield gateway


# ---- Driving notifications in tests ----


def reachable_staff(
    database: Any,
    clock: Any,
    *,
    username: str,
    roles: list[str],
    email: str | None = None,
    phone: str | None = None,
    language: str | None = None,
    choices: dict[str, list[str]] | None = None,
) -> int:
    """A staff user with contact details and channel choices; returns the user's id."""
    from tests.support import make_staff
    from tocsin.core import notify
    from tocsin.core.auth.staff import StaffUser

    make_staff(database, username=username, roles=roles)
    with database.session() as db:
        user_id = db.query(StaffUser.id).filter(StaffUser.username == username).scalar()
        notify.save_profile(
            db,
            user_id=user_id,
            email=email,
            phone=phone,
            language=language,
            choices=choices or {},
            now=clock(),
        )
    return user_id


def deliver_all(database: Any, clock: Any, settings: Any, *, rounds: int = 1) -> None:
    """A real outbox worker with the settings' transports, run until nothing is due (``rounds`` times)."""
    from tocsin.core.outbox import Worker, transports

    worker = Worker(database, schedule=settings.retry_schedule, name="test-worker", clock=clock, timeout=5.0)
    worker.transports.update(transports.configured(settings, http=worker.http))
    try:
        for _ in range(rounds):
            worker.run(stop_when_idle=True)
    finally:
        worker.close()


def notifications_of(database: Any) -> list[Any]:
    """Every notification, oldest first, detached from its session."""
    from sqlalchemy import select

    from tocsin.core.notify import Notification

    with database.session() as db:
        return list(db.scalars(select(Notification).order_by(Notification.id)))
