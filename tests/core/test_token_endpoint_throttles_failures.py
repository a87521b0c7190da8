"""Wrong client secrets are counted per client id and per address; past the free ones the key is locked
with a doubling delay and answered 429 with Retry-After before any secret is checked."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tocsin.core.auth import partners, passwords
from tocsin.core.web.oauth import POLICY

SECRET = "partner-secret-0123"
GRANT = {"grant_type": "client_credentials"}


@pytest.fixture
def client(app, database, clock):
    with database.session() as db:
        for client_id in ("ocbb", "occc"):
            partners.upsert_client(
                db,
                client_id=client_id,
                secret=SECRET,
                owner=client_id.upper(),
                scopes=["write:clients"],
                managed_by="test",
                now=clock(),
            )
    with TestClient(app) as test_client:
        yield test_client


def fail(client: TestClient, times: int, client_id: str = "ocbb") -> list[int]:
    return [
        client.post("/oauth/token", data=GRANT, auth=(client_id, "wrong")).status_code for _ in range(times)
    ]


def test_free_failures_then_the_client_is_locked_even_with_the_right_secret(client):
    assert fail(client, POLICY.free) == [401] * POLICY.free
    assert fail(client, 1) == [401]  # the failure past the free ones sets the lock
    locked = client.post("/oauth/token", data=GRANT, auth=("ocbb", SECRET))
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) >= 1
    assert locked.json()["error"] == "invalid_client"


def test_a_locked_key_is_refused_without_checking_any_secret(client, monkeypatch):
    fail(client, POLICY.free + 1)
    calls: list[str] = []
    monkeypatch.setattr(passwords, "verify_secret", lambda h, s: calls.append(s) or False)
    assert client.post("/oauth/token", data=GRANT, auth=("ocbb", SECRET)).status_code == 429
    assert calls == []


def test_the_lock_doubles_and_ends(client, clock):
    fail(client, POLICY.free + 1)
    first = int(client.post("/oauth/token", data=GRANT, auth=("ocbb", SECRET)).headers["Retry-After"])
    clock.advance(seconds=first)
    assert fail(client, 1) == [401]
    second = int(client.post("/oauth/token", data=GRANT, auth=("ocbb", SECRET)).headers["Retry-After"])
    assert second == 2 * first
    clock.advance(seconds=second)
    assert client.post("/oauth/token", data=GRANT, auth=("ocbb", SECRET)).status_code == 200


def test_the_address_is_locked_for_every_client_it_tries(client):
    fail(client, POLICY.free // 2, "ocbb")
    fail(client, POLICY.free - POLICY.free // 2 + 1, "occc")
    assert client.post("/oauth/token", data=GRANT, auth=("ocbb", SECRET)).status_code == 429


def test_a_success_clears_the_clients_count(client):
    fail(client, POLICY.free - 1)
    assert client.post("/oauth/token", data=GRANT, auth=("ocbb", SECRET)).status_code == 200
    assert fail(client, 1) == [401]
    assert client.post("/oauth/token", data=GRANT, auth=("ocbb", SECRET)).status_code == 200


def test_failures_are_forgotten_after_a_quiet_while(client, clock):
    fail(client, POLICY.free)
    clock.advance(seconds=POLICY.forget_after + 1)
    assert fail(client, 1) == [401]
    assert client.post("/oauth/token", data=GRANT, auth=("ocbb", SECRET)).status_code == 200


def test_a_locked_client_is_remembered_but_not_its_neighbours(client, database, clock):
    from tocsin.core.auth import throttle

    with database.session() as db:
        for _ in range(POLICY.free + 1):
            throttle.failed(db, ["oauth-client:ocbb"], now=clock(), policy=POLICY)
    assert client.post("/oauth/token", data=GRANT, auth=("ocbb", SECRET)).status_code == 429
    assert client.post("/oauth/token", data=GRANT, auth=("ocbb", SECRET)).status_code == 429
    assert client.post("/oauth/token", data=GRANT, auth=("occc", SECRET)).status_code == 200


def test_a_remembered_lock_costs_no_query(client, app, clock):
    from sqlalchemy import event

    fail(client, POLICY.free + 1)
    assert client.post("/oauth/token", data=GRANT, auth=("ocbb", SECRET)).status_code == 429
    engine = app.state.shell.database.engine
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert client.post("/oauth/token", data=GRANT, auth=("ocbb", SECRET)).status_code == 429
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert statements == []
