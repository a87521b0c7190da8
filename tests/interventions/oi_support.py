"""Helpers for the OI pages tests: signed-in staff over the test client, and real traffic built by
posting M1/M3/M5 through /v1 then running a real outbox worker against a closed port."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.interventions.browser_support import make_staff
from tests.interventions.conftest import m1, m3
from tests.interventions.helpers import set_pending_schedule
from tocsin.core.outbox import Worker

CLOSED_PORT_URL = "http://127.0.0.1:9/v1"


def sign_in_client(
    client: TestClient, database, *, username: str = "olive", roles: tuple[str, ...] = ("operator",)
):
    """Create a staff user and sign the test client in through the login form."""
    password = make_staff(database, username=username, roles=list(roles))
    client.cookies.clear()
    form = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    reply = client.post(
        "/login",
        data={"csrf": csrf, "username": username, "password": password, "next": "/"},
        follow_redirects=False,
    )
    assert reply.status_code == 303, reply.text
    return client


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def declare(client: TestClient, headers: dict[str, str], ref: str, **changes: Any) -> str:
    """POST an M1 and return the OI reference."""
    reply = client.post("/v1/intervention_DO", json=m1(ref, **changes), headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()["Ref_Interv_OI"]


def end(client: TestClient, headers: dict[str, str], ref: str, **changes: Any) -> str:
    """POST an M3 and return the OI reference."""
    reply = client.post("/v1/intervention_DO", json=m3(ref, **changes), headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()["Ref_Interv_OI"]


def report(client: TestClient, headers: dict[str, str], ref_oi: str, oc: str, lines: list[dict]) -> None:
    """POST an M5 from ``oc`` listing ``lines`` as impacted customers."""
    body: dict[str, Any] = {"Code_OC_impacte": oc, "Ref_Interv_OI": ref_oi}
    if lines:
        body["Liste_Clients_HS"] = lines
    reply = client.post("/v1/client_HS_OC_Par_Inter", json=body, headers=headers)
    assert reply.status_code == 200, reply.text


def line(pto: str, cut_at: str) -> dict[str, str]:
    """One impacted customer line of an M5."""
    return {
        "PTO": pto,
        "PBO": "PBO-9",
        "Tube": "inconnu",
        "Fibre": "inconnu",
        "Position_PM_Module_OI": "inconnu",
        "HMS_Coupure": cut_at,
    }


def fail_deliveries(database, clock) -> None:
    """Run a real worker against a closed port with the retry schedule used up: every due message is
    attempted once and fails at once (as it would after its last retry)."""
    set_pending_schedule(database, [])
    worker = Worker(database, schedule=[], name="test-worker", clock=clock, timeout=2)
    try:
        worker.run(stop_when_idle=True)
    finally:
        worker.close()
