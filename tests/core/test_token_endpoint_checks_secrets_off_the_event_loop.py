"""The argon2 check of a client secret never runs on the event loop, and an unknown client id costs the
same check as a wrong secret, so a few clients posting wrong secrets cannot stall the process."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.receiver import running
from tocsin.core.auth import partners, passwords

SECRET = "partner-secret-0123"


@pytest.fixture
def partner_client(database, clock):
    with database.session() as db:
        partners.upsert_client(
            db,
            client_id="ocbb",
            secret=SECRET,
            owner="OCBB",
            scopes=["write:clients"],
            managed_by="test",
            now=clock(),
        )


def on_an_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def test_the_secret_is_checked_in_a_thread_without_an_event_loop(app, partner_client, monkeypatch):
    seen: list[bool] = []
    real = passwords.verify_secret

    def spy(secret_hash: str, secret: str) -> bool:
        seen.append(on_an_event_loop())
        return real(secret_hash, secret)

    monkeypatch.setattr(passwords, "verify_secret", spy)
    with TestClient(app) as client:
        reply = client.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=("ocbb", "wrong-secret")
        )
    assert reply.status_code == 401
    assert seen == [False]


def test_ping_answers_while_a_secret_check_is_stuck(app, partner_client, monkeypatch):
    release = threading.Event()
    entered = threading.Event()
    real = passwords.verify_secret

    def stuck(secret_hash: str, secret: str) -> bool:
        entered.set()
        release.wait(30)
        return real(secret_hash, secret)

    monkeypatch.setattr(passwords, "verify_secret", stuck)
    with running(app) as url:
        answers: list[int] = []
        poster = threading.Thread(
            target=lambda: answers.append(
                httpx.post(
                    f"{url}/oauth/token",
                    data={"grant_type": "client_credentials"},
                    auth=("ocbb", "wrong-secret"),
                    timeout=60,
                ).status_code
            )
        )
        poster.start()
        try:
            assert entered.wait(15), "the token request never reached the secret check"
            ping = httpx.get(f"{url}/ping", timeout=10)  # the loop is free: answered while the check waits
            assert ping.status_code == 200 and not release.is_set()
        finally:
            release.set()
            poster.join(30)
    assert answers == [401]


def test_an_unknown_client_costs_one_secret_check_like_a_wrong_secret(app, partner_client, monkeypatch):
    calls: list[str] = []
    real = passwords.verify_secret

    def counted(secret_hash: str, secret: str) -> bool:
        calls.append(secret)
        return real(secret_hash, secret)

    monkeypatch.setattr(passwords, "verify_secret", counted)
    with TestClient(app) as client:
        unknown = client.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=("nobody", "x-secret")
        )
        wrong = client.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=("ocbb", "y-secret")
        )
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()
    assert calls == ["x-secret", "y-secret"]
