"""When the database is unreachable or full, every kind of request is answered 503 with Retry-After, the
connection is kept, nothing is half-stored, and the log gets one line, not a traceback per request."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from tests.interventions.support import OI_CONFIG, SECRET, m1
from tocsin.core.config import Settings
from tocsin.core.db import Database
from tocsin.core.web import errors
from tocsin.interventions.config import apply_config, parse_config
from tocsin.interventions.models import InboundMessage, Intervention


@pytest.fixture
def unreachable(clock):
    from tocsin.app import create_app

    errors.database_trouble._last = -float("inf")
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"
    settings = Settings(
        database_url=url, secret_key="test-secret-key-0123456789", allowed_hosts=["testserver"]
    )
    database = Database(url)
    with TestClient(
        create_app(settings, database=database, clock=clock), raise_server_exceptions=False
    ) as client:
        yield client
    database.engine.dispose()


def sign_in_attempt(client: TestClient):
    import re

    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    return client.post("/login", data={"username": "marie", "password": "x", "csrf": token})


REQUESTS = {
    "health": lambda c: c.get("/healthz"),
    "sign-in form": sign_in_attempt,
    "token": lambda c: c.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=("a", "b")),
}


@pytest.mark.parametrize("kind", sorted(REQUESTS))
def test_each_kind_of_request_gets_503_with_retry_after(unreachable, kind):
    reply = REQUESTS[kind](unreachable)
    assert reply.status_code == 503
    assert reply.headers["retry-after"] == str(errors.RETRY_AFTER_SECONDS)


def test_a_partner_call_gets_a_json_503(unreachable):
    reply = unreachable.post("/v1/intervention_DO", json=m1(), headers={"Authorization": "Bearer t"})
    assert reply.status_code == 503 and reply.json()["reason"].startswith("the service is unavailable")


def test_the_log_gets_one_line_without_a_traceback(unreachable, caplog):
    with caplog.at_level(logging.WARNING, logger="tocsin"):
        for _ in range(20):
            assert unreachable.get("/healthz").status_code == 503
    lines = [r for r in caplog.records if r.name == "tocsin"]
    assert len(lines) == 1
    assert lines[0].exc_info is None and "database unavailable" in lines[0].getMessage()


def read_answer(sock) -> bytes:
    """One HTTP/1.1 answer: its head, then as many body bytes as Content-Length says."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += sock.recv(4096)
    return head


def test_the_connection_is_kept_for_the_next_request(clock):
    import socket

    from tests.receiver import running
    from tocsin.app import create_app

    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"
    settings = Settings(database_url=url, secret_key="test-secret-key-0123456789")
    database = Database(url)
    with running(create_app(settings, database=database, clock=clock)) as base:
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            answers = []
            for _ in range(2):  # the same socket twice: the server did not close it after the 503
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                answers.append(read_answer(sock))
    database.engine.dispose()
    assert all(a.startswith(b"HTTP/1.1 503") for a in answers)


def test_a_full_database_refuses_the_message_whole(settings, clock, tmp_path):
    """SQLite's page limit gives the same SQLITE_FULL error as a full disk."""
    from tocsin.app import create_app
    from tocsin.core.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'full.db'}"
    database = Database(url)
    upgrade(database)
    with database.session() as db:
        apply_config(db, parse_config(OI_CONFIG), now=clock())
    pages = database.engine.connect().exec_driver_sql("PRAGMA page_count").scalar()

    @event.listens_for(database.engine, "connect")
    def cap(dbapi_connection, _record):
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    database.engine.dispose()
    app = create_app(settings.model_copy(update={"database_url": url}), database=database, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        token = client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=("doxx", SECRET))
        headers = (
            {"Authorization": f"Bearer {token.json()['access_token']}"} if token.status_code == 200 else {}
        )
        statuses = set()
        for n in range(40):
            big = m1(
                f"FULL-{n}",
                Nature_PBO_PTO=[{"nature": 1, "PBO": "P" * 99, "PTO": f"PTO-{i}"} for i in range(200)],
            )
            statuses.add(client.post("/v1/intervention_DO", json=big, headers=headers).status_code)
    assert 503 in statuses and 500 not in statuses
    with database.session() as db:
        stored = db.scalar(select(func.count()).select_from(Intervention))
        received = db.scalar(select(func.count()).select_from(InboundMessage))
    assert stored == received  # every stored intervention has its message: nothing half-stored
    database.engine.dispose()
