"""Helpers for the OC tests: an OC configuration, received interventions, line cuts, staff sign-in."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from tocsin.core import auth
from tocsin.core.db import Database
from tocsin.interventions.config import apply_config, parse_config
from tocsin.interventions.models import LineCut, ReceivedIntervention

PM = "FI-12345-0001"
OTHER_PM = "FI-12345-0002"
REF = "OIAA-20261120-0001"
DEBUT = datetime.fromisoformat("2026-11-20T10:00:00+01:00")
FIN = datetime.fromisoformat("2026-11-20T11:30:00+01:00")
PASSWORD = "correct horse battery"


def oc_config(**changes: Any) -> dict[str, Any]:
    """Our side is OCBB (an OC); OIAA is the OI that announces interventions to us."""
    config: dict[str, Any] = {
        "self": {"code": "OCBB", "roles": ["OC"]},
        "timezone": "Europe/Paris",
        "partners": [
            {
                "code": "OIAA",
                "roles": ["OI"],
                "url": "http://127.0.0.1:9/v1",
                "client_id": "oiaa",
                "client_secret": "s3cret-s3cret-s3cret",
            }
        ],
        "pms": [{"ref": PM, "ocs": ["OCBB"]}, {"ref": OTHER_PM, "ocs": ["OCBB"]}],
    }
    config.update(changes)
    return config


def apply_oc_config(database: Database, now: datetime, **changes: Any) -> None:
    with database.session() as db:
        apply_config(db, parse_config(oc_config(**changes)), now=now)


def add_received(
    database: Database,
    *,
    ref: str = REF,
    pm: str = PM,
    debut: datetime = DEBUT,
    fin: datetime | None = FIN,
    m5_state: str = "none",
    m5_sent_at: datetime | None = None,
) -> int:
    """An intervention announced by OIAA (M2, and M4 when it has an end); returns its id."""
    with database.session() as db:
        row = ReceivedIntervention(
            code_oi="OIAA",
            ref_oi=ref,
            pm=pm,
            pbos=[],
            debut=debut,
            fin=fin,
            m2_at=debut,
            m4_at=fin,
            digest=ref,
            receipts=1,
            m5_state=m5_state,
            m5_sent_at=m5_sent_at,
        )
        db.add(row)
        db.flush()
        return row.id


def add_cut(
    database: Database,
    at: str,
    pto: str,
    *,
    pm: str = PM,
    dying_gasp: bool = False,
    pbo: str = "PT0012345",
) -> None:
    with database.session() as db:
        db.add(
            LineCut(
                cut_at=datetime.fromisoformat(at),
                pm=pm,
                pto=pto,
                pbo=pbo,
                tube="T1",
                fibre="F3",
                position="M2-P14",
                dying_gasp=dying_gasp,
                source="test",
                imported_at=datetime.fromisoformat(at),
            )
        )


def csrf_of(client: TestClient, path: str = "/login") -> str:
    """The CSRF token of the current session, read from a page's form."""
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def sign_in(client: TestClient, database: Database, username: str, roles: list[str]) -> str:
    """Create a staff user with ``roles``, sign in, and return the session's CSRF token."""
    with database.session() as db:
        auth.upsert_staff(db, username=username, password=PASSWORD, roles=roles)
    reply = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "next": "/", "csrf": csrf_of(client)},
        follow_redirects=False,
    )
    assert reply.status_code == 303, reply.text
    return csrf_of(client, "/interventions/oc/outages")
