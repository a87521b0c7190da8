"""Helpers for the DO-side tests: a DO configuration (DOXX dispatching to OIAA), signed-in staff,
a check of outgoing M1/M3 bodies against the official OpenAPI request schema, recorded answers.

The fixtures live in ``do_fixtures`` (loaded with ``pytest_plugins``)."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.interventions.helpers import set_pending_schedule
from tests.openapi_check import spec
from tocsin.core.auth import upsert_staff
from tocsin.core.outbox import Answer, OutboxMessage, Worker
from tocsin.interventions.do import service as declarations
from tocsin.interventions.models import Declaration

SECRET = "s3cret-s3cret-s3cret"
PASSWORD = "correct horse 42"
START = "2026-11-20T10:00:00+01:00"
END = "2026-11-20T11:30:00+01:00"


def do_config(oi_url: str = "http://127.0.0.1:9") -> dict[str, Any]:
    """DOXX dispatching technicians to PMs of OIAA (the last PM has no OI in our referential)."""
    return {
        "self": {"code": "DOXX", "roles": ["DO"]},
        "timezone": "Europe/Paris",
        "partners": [
            {
                "code": "OIAA",
                "roles": ["OI"],
                "url": f"{oi_url}/v1",
                "outbound": {
                    "token_url": f"{oi_url}/oauth/token",
                    "client_id": "doxx",
                    "client_secret": SECRET,
                },
            }
        ],
        "pms": [
            {"ref": "FI-12345-0001", "oi": "OIAA", "label": "Rue des Lilas"},
            {"ref": "FI-12345-0002", "oi": "OIAA"},
            {"ref": "FI-99999-0001"},
        ],
    }


def sign_in(
    client: TestClient, database, *, username: str = "tina", roles: tuple[str, ...] = ("technician",)
) -> str:
    """Sign a staff user in through the login form; returns the session's CSRF token."""
    with database.session() as db:
        upsert_staff(db, username=username, password=PASSWORD, roles=list(roles))
    token = csrf_of(client.get("/login").text)
    reply = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf": token}, follow_redirects=False
    )
    assert reply.status_code == 303, reply.text
    return csrf_of(client.get("/login").text)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html) or re.search(r'data-csrf="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def check_request_body(body: dict[str, Any]) -> None:
    """Raise if ``body`` breaks the official intervention_DO schema (formats included)."""
    document = spec()
    schema = {**document["components"]["schemas"]["intervention_DO"], "components": document["components"]}
    jsonschema.validate(body, schema, format_checker=jsonschema.FormatChecker())


def messages(database) -> list[OutboxMessage]:
    with database.session() as db:
        return list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def declaration(database, ref_do: str) -> Declaration:
    with database.session() as db:
        found = db.scalar(select(Declaration).where(Declaration.ref_do == ref_do))
    assert found is not None, f"no declaration {ref_do}"
    return found


def lines(*natures: int, pbo: str | None = "PT0012345", pto: str | None = None) -> list[dict[str, Any]]:
    result = []
    for nature in natures:
        line: dict[str, Any] = {"nature": nature}
        if pbo:
            line["PBO"] = pbo
        if pto:
            line["PTO"] = pto
        result.append(line)
    return result


def declare(database, clock, *, with_end: bool = False) -> str:
    with database.session() as db:
        made = declarations.start(
            db=db, pm="FI-12345-0001", natures=lines(1), started_at=START, technician="tina", now=clock()
        )
        if with_end:
            declarations.end(db=db, ref_do=made.ref_do, ended_at=END, natures=lines(1), now=clock())
    return made.ref_do


def answer(
    database, clock, status: int | None, body: dict | None, *, schedule: tuple[int, ...] = (60,)
) -> None:
    """Claim the next due message and record this answer, as the worker does after its HTTP call
    (``schedule``: the retries the message has left)."""
    set_pending_schedule(database, list(schedule))
    worker = Worker(database, schedule=list(schedule), name="test", clock=clock)
    try:
        [message] = worker.claim()
        text = json.dumps(body) if body is not None else None
        worker.record(message, Answer(status, text, None if status else "ConnectError: refused", 3))
    finally:
        worker.close()


def reject(database, clock, code: int = 4, description: str = "PM inconnu : FI-12345-0001") -> None:
    labels = {1: "CHAMPS_NON_RENSEIGNE", 2: "MAUVAIS_FORMAT", 3: "CODE_OI_INCONNU", 4: "PM_INCONNU"}
    status = 400 if code < 3 else 404
    answer(
        database,
        clock,
        status,
        {"Code_Reponse": code, "Libelle_Reponse": labels[code], "Description_Reponse": description},
    )
