"""A client for clamd, the ClamAV daemon, over its socket with INSTREAM: clamd runs as its own user
and cannot open our files, so we send it the bytes. Any doubt (no answer, an answer we do not know,
clamd's own size limit) is an error, never a pass: the caller refuses the file."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

CHUNK = 64 * 1024


class ScannerUnavailable(Exception):
    """clamd could not give a verdict; ``detail`` says why, for the log."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Verdict:
    """clamd's answer for one file: the signature it matched, or None when clean."""

    signature: str | None
    scanner: str  # e.g. "ClamAV 1.4.6/27838", recorded with the file

    @property
    def clean(self) -> bool:
        return self.signature is None


@dataclass(frozen=True)
class Clamd:
    """clamd at ``address`` (``unix:///run/clamav/clamd.ctl`` or ``tcp://127.0.0.1:3310``)."""

    address: str
    timeout: float = 60.0

    def ping(self) -> bool:
        """True when clamd answers PONG."""
        try:
            return self._ask(b"zPING\0") == "PONG"
        except ScannerUnavailable:
            return False

    def version(self) -> str:
        """clamd's version and signature database, e.g. ``ClamAV 1.4.6/27838/Mon Nov 30 2026``."""
        return self._ask(b"zVERSION\0")

    def scan(self, path: Path) -> Verdict:
        """Send the file's bytes with INSTREAM and read the verdict."""
        scanner = "/".join(self.version().split("/")[:2])
        with self._connect() as conn, path.open("rb") as source:
            try:
                conn.sendall(b"zINSTREAM\0")
                while chunk := source.read(CHUNK):
                    conn.sendall(struct.pack("!L", len(chunk)) + chunk)
                conn.sendall(struct.pack("!L", 0))
                answer = _read_answer(conn)
            except OSError as error:
                # clamd closes the socket when the stream passes its StreamMaxLength
                raise ScannerUnavailable(f"clamd dropped the stream: {error}") from None
        return _verdict(answer, scanner)

    def _ask(self, command: bytes) -> str:
        with self._connect() as conn:
            try:
                conn.sendall(command)
                return _read_answer(conn)
            except OSError as error:
                raise ScannerUnavailable(f"clamd at {self.address}: {error}") from None

    def _connect(self) -> socket.socket:
        parts = urlsplit(self.address)
        try:
            if parts.scheme == "unix":
                conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                conn.settimeout(self.timeout)
                conn.connect(parts.path)
            else:
                conn = socket.create_connection((parts.hostname, parts.port or 3310), timeout=self.timeout)
                conn.settimeout(self.timeout)
        except OSError as error:
            raise ScannerUnavailable(f"cannot reach clamd at {self.address}: {error}") from None
        return conn


def _read_answer(conn: socket.socket) -> str:
    """One NUL-terminated answer (the ``z`` commands end theirs with NUL)."""
    answer = b""
    while not answer.endswith(b"\0"):
        chunk = conn.recv(4096)
        if not chunk:
            break
        answer += chunk
        if len(answer) > 4096:
            raise ScannerUnavailable("clamd's answer is too long")
    return answer.rstrip(b"\0").decode("utf-8", "replace").strip()


def _verdict(answer: str, scanner: str) -> Verdict:
    """``stream: OK`` or ``stream: <signature> FOUND``; anything else (``… ERROR``) is no verdict."""
    if answer == "stream: OK":
        return Verdict(None, scanner)
    if answer.startswith("stream: ") and answer.endswith(" FOUND"):
        return Verdict(answer.removeprefix("stream: ").removesuffix(" FOUND"), scanner)
    raise ScannerUnavailable(f"clamd gave no verdict: {answer[:200]!r}")
