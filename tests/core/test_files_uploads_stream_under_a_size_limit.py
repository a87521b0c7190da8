"""Uploads are written to disk as they arrive and refused with 413, naming the file and the limit, as
soon as they pass it: nothing beyond the limit is kept in memory or on disk, and an empty file is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from tests.browser import LiveServer
from tests.core.vault import LIMIT, OPEN_CASES, post_file, vault_client, vault_desk
from tests.support import csrf_of, make_staff, sign_in
from tocsin import desks
from tocsin.core.files import StoredFile
from tocsin.core.files.uploads import DRAIN_BYTES


@pytest.fixture
def vault(settings, database, clock, clamd):
    OPEN_CASES.add("case-1")
    with vault_client(settings, database, clock) as client:
        yield client


def leftovers(settings) -> list[Path]:
    return [p for p in Path(settings.files_dir).rglob("*") if p.is_file()]


def test_a_file_exactly_at_the_limit_is_kept(vault, database):
    token = sign_in(vault, database, "anna", ["operator"])
    reply = post_file(vault, token, "full.txt", b"a" * LIMIT)
    assert reply.status_code == 200 and reply.json()["size"] == LIMIT


def test_one_byte_over_the_limit_is_refused_naming_the_file_and_the_limit(vault, database, settings):
    token = sign_in(vault, database, "anna", ["operator"])
    reply = post_file(vault, token, "full.txt", b"a" * (LIMIT + 1))
    assert reply.status_code == 413
    assert reply.json() == {"field": "file", "reason": "full.txt is larger than 1 kB, the limit"}
    assert leftovers(settings) == []
    with database.session() as db:
        assert db.scalar(select(func.count()).select_from(StoredFile)) == 0


def test_an_empty_file_is_refused(vault, database, settings):
    token = sign_in(vault, database, "anna", ["operator"])
    reply = post_file(vault, token, "empty.csv", b"")
    assert reply.status_code == 400 and reply.json() == {"field": "file", "reason": "empty.csv is empty"}
    assert leftovers(settings) == []


def test_a_form_without_a_file_is_no_upload(vault, database):
    token = sign_in(vault, database, "anna", ["operator"])
    reply = vault.post("/api/vault/cases/case-1/files", data={"csrf": token}, files={"file": ("", b"")})
    assert reply.status_code == 400 and reply.json()["reason"] == "choose a file"


def test_the_deployment_ceiling_caps_every_kind(settings, database, clock, clamd):
    OPEN_CASES.add("case-1")
    settings.files_max_bytes = 100
    with vault_client(settings, database, clock) as client:
        token = sign_in(client, database, "anna", ["operator"])
        reply = post_file(client, token, "notes.txt", b"a" * 101)
    assert (
        reply.status_code == 413 and reply.json()["reason"] == "notes.txt is larger than 100 bytes, the limit"
    )


def test_a_form_without_its_csrf_token_keeps_nothing(vault, database, settings):
    sign_in(vault, database, "anna", ["operator"])
    reply = post_file(vault, "forged", "notes.txt", b"hello")
    assert reply.status_code == 400 and reply.json()["field"] == "csrf"
    assert leftovers(settings) == []


def test_a_form_that_is_not_multipart_is_refused(vault, database):
    token = sign_in(vault, database, "anna", ["operator"])
    reply = vault.post("/api/vault/cases/case-1/files", data={"csrf": token, "file": "text"})
    assert reply.status_code == 400 and reply.json()["reason"] == "send the form as multipart/form-data"


class BytesTaken:
    """Wraps the app to count the request-body bytes the app itself took (uvicorn drops the rest)."""

    def __init__(self, app) -> None:
        self.app, self.taken = app, 0

    async def __call__(self, scope, receive, send) -> None:
        async def counted():
            message = await receive()
            if message["type"] == "http.request" and scope["path"].startswith("/api/vault/"):
                self.taken += len(message.get("body", b""))
            return message

        await self.app(scope, counted, send)


def test_a_huge_body_is_not_read_to_its_end(settings, database, clock, clamd):
    """Over real HTTP: the app stops taking the body a little past the limit (to answer a browser
    that is still sending), whatever the client sends; uvicorn discards the rest."""
    from tocsin.app import create_app

    desks.register(vault_desk())
    settings.desks = ["vault"]
    OPEN_CASES.add("case-1")
    app = BytesTaken(create_app(settings, database=database, clock=clock))
    server = LiveServer(app)
    server.start()
    sent = 100 * 1024 * 1024

    def body(token: str) -> Iterator[bytes]:
        yield (
            b'--edge\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n' + token.encode() + b"\r\n"
            b'--edge\r\nContent-Disposition: form-data; name="file"; filename="huge.bin"\r\n\r\n'
        )
        for _ in range(sent // 65536):
            yield b"x" * 65536
        yield b"\r\n--edge--\r\n"

    try:
        make_staff(database, username="anna", roles=["operator"])
        with httpx.Client(base_url=server.base_url, timeout=60) as client:
            token = csrf_of(client.get("/login").text)
            client.post("/login", data={"username": "anna", "password": "correct horse 42", "csrf": token})
            token = csrf_of(client.get("/login").text)
            reply = client.post(
                "/api/vault/cases/case-1/files",
                content=body(token),
                headers={"Content-Type": "multipart/form-data; boundary=edge"},
            )
        assert reply.status_code == 413
        assert reply.json()["reason"] == "huge.bin is larger than 1 kB, the limit"
        assert app.taken <= LIMIT + DRAIN_BYTES + 1024 * 1024, f"the app took {app.taken} of {sent} bytes"
        assert leftovers(settings) == []
    finally:
        server.stop()
        desks.unregister("vault")
        OPEN_CASES.clear()
