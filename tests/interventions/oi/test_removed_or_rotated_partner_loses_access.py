"""A partner left out of a reloaded configuration loses its client and tokens; a rotated secret ends the
old tokens, at once or after the configured overlap; every process notices within a second."""

from __future__ import annotations

import time
from datetime import timedelta

from tests.interventions.support import OI_CONFIG, SECRET, m1, token_for
from tocsin.core.auth import partners
from tocsin.core.clock import FixedClock
from tocsin.interventions.config import apply_config, parse_config

GRANT = {"grant_type": "client_credentials"}
NEW_SECRET = "n3w-s3cret-n3w-s3cret"


def reload(database, clock, config) -> None:
    with database.session() as db:
        apply_config(db, parse_config(config), now=clock())


def without_doxx() -> dict:
    return {**OI_CONFIG, "partners": [p for p in OI_CONFIG["partners"] if p["code"] != "DOXX"]}


def with_doxx_secret(secret: str, **top: object) -> dict:
    partners_ = [
        ({**p, "client_secret": secret} if p["code"] == "DOXX" else p) for p in OI_CONFIG["partners"]
    ]
    return {**OI_CONFIG, **top, "partners": partners_}


def post_until_refused(client, headers: dict[str, str], deadline: float = 5.0) -> int:
    """Post M1s until one is refused (each process caches a verified token for one second)."""
    stop = time.monotonic() + deadline
    n = 0
    while True:
        n += 1
        reply = client.post("/v1/intervention_DO", json=m1(f"POLL-{n}"), headers=headers)
        if reply.status_code != 200 or time.monotonic() > stop:
            return reply.status_code
        time.sleep(0.05)


def test_a_removed_partner_gets_no_new_token(client, database, clock):
    reload(database, clock, without_doxx())
    assert client.post("/oauth/token", data=GRANT, auth=("doxx", SECRET)).status_code == 401


def test_a_removed_partners_old_token_stops_posting(client, database, clock):
    headers = {"Authorization": f"Bearer {token_for(client, 'doxx')}"}
    assert client.post("/v1/intervention_DO", json=m1("BEFORE"), headers=headers).status_code == 200
    reload(database, clock, without_doxx())
    assert post_until_refused(client, headers) == 401
    with database.session() as db:
        client_row = partners.client_for(db, "doxx")
        assert client_row is not None and not client_row.active
        assert db.query(partners.AccessToken).filter_by(client_id=client_row.id).count() == 0


def test_a_partner_put_back_gets_a_new_token(client, database, clock):
    reload(database, clock, without_doxx())
    reload(database, clock, OI_CONFIG)
    assert client.post("/oauth/token", data=GRANT, auth=("doxx", SECRET)).status_code == 200


def test_a_rotated_secret_ends_the_old_tokens_and_the_old_secret_at_once(client, database, clock):
    headers = {"Authorization": f"Bearer {token_for(client, 'doxx')}"}
    assert client.post("/v1/intervention_DO", json=m1("BEFORE"), headers=headers).status_code == 200
    reload(database, clock, with_doxx_secret(NEW_SECRET))
    assert post_until_refused(client, headers) == 401
    assert client.post("/oauth/token", data=GRANT, auth=("doxx", SECRET)).status_code == 401
    assert client.post("/oauth/token", data=GRANT, auth=("doxx", NEW_SECRET)).status_code == 200


def test_with_an_overlap_the_old_secret_works_until_the_window_ends(client, database, clock: FixedClock):
    old_token = token_for(client, "doxx")
    reload(database, clock, with_doxx_secret(NEW_SECRET, secret_overlap_minutes=30))
    during = client.post("/oauth/token", data=GRANT, auth=("doxx", SECRET))
    assert during.status_code == 200 and during.json()["expires_in"] <= 30 * 60
    headers = {"Authorization": f"Bearer {old_token}"}
    assert client.post("/v1/intervention_DO", json=m1("DURING"), headers=headers).status_code == 200
    clock.advance(minutes=31)
    assert client.post("/oauth/token", data=GRANT, auth=("doxx", SECRET)).status_code == 401
    assert post_until_refused(client, headers) == 401
    assert client.post("/oauth/token", data=GRANT, auth=("doxx", NEW_SECRET)).status_code == 200


def test_narrower_scopes_end_the_tokens_that_held_the_wider_ones(client, database, clock):
    ocbb = {"Authorization": f"Bearer {token_for(client, 'ocbb')}"}
    assert client.post("/v1/intervention_DO", json=m1("X", Code_DO="OCBB"), headers=ocbb).status_code == 200
    narrower = [({**p, "roles": ["OC"]} if p["code"] == "OCBB" else p) for p in OI_CONFIG["partners"]]
    reload(database, clock, {**OI_CONFIG, "partners": narrower})
    assert post_until_refused(client, ocbb) in (401, 403)


def test_a_process_remembers_a_verified_token_for_one_second_at_most(monkeypatch, clock):
    cache = partners.TokenCache()
    now = [100.0]
    monkeypatch.setattr(partners.time, "monotonic", lambda: now[0])
    caller = partners.Caller("doxx", "DOXX", frozenset({"write:interventions"}))
    cache.put("digest", caller, clock() + timedelta(hours=1))
    now[0] += 0.99
    assert cache.get("digest", clock()) == caller
    now[0] += 0.02
    assert cache.get("digest", clock()) is None
