"""Fixtures for the interventions desk: an OI configuration, partner personas and their tokens."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.openapi_check import check_response
from tocsin.interventions.config import apply_config, parse_config

SECRET = "s3cret-s3cret-s3cret"
OI_CONFIG: dict[str, Any] = {
    "self": {"code": "OIAA", "roles": ["OI"]},
    "timezone": "Europe/Paris",
    "partners": [
        {
            "code": "OCBB",
            "roles": ["OC", "DO"],
            "url": "http://127.0.0.1:9/v1",
            "client_id": "ocbb",
            "client_secret": SECRET,
        },
        {
            "code": "OCCC",
            "roles": ["OC"],
            "url": "http://127.0.0.1:9/v1",
            "client_id": "occc",
            "client_secret": SECRET,
        },
        {"code": "DOXX", "roles": ["DO"], "client_id": "doxx", "client_secret": SECRET},
    ],
    "pms": [
        {"ref": "FI-12345-0001", "ocs": ["OCBB", "OCCC"]},
        {"ref": "FI-12345-0002", "ocs": ["OCCC"]},
        {"ref": "FI-12345-0003", "ocs": []},
    ],
}


class CheckedClient(TestClient):
    """A test client that checks every /v1 answer against the official OpenAPI."""

    def request(self, method: str, url: str, *args: Any, **kwargs: Any):  # type: ignore[override]
        response = super().request(method, url, *args, **kwargs)
        path = str(url).split("?")[0]
        if path.startswith("/v1/"):
            body = (
                response.json()
                if response.headers.get("content-type", "").startswith("application/json")
                else None
            )
            check_response(method, path, response.status_code, body)
        return response


@pytest.fixture
def oi_config(database, clock):
    with database.session() as db:
        apply_config(db, parse_config(OI_CONFIG), now=clock())
    return OI_CONFIG


@pytest.fixture
def client(app, oi_config) -> CheckedClient:
    with CheckedClient(app) as test_client:
        yield test_client


def token_for(client: TestClient, client_id: str, secret: str = SECRET, scope: str | None = None) -> str:
    data = {"grant_type": "client_credentials"}
    if scope:
        data["scope"] = scope
    reply = client.post("/oauth/token", data=data, auth=(client_id, secret))
    assert reply.status_code == 200, reply.text
    return reply.json()["access_token"]


@pytest.fixture
def do_headers(client) -> dict[str, str]:
    """DOXX, a DO partner allowed write:interventions."""
    return {"Authorization": f"Bearer {token_for(client, 'doxx')}"}


@pytest.fixture
def ocbb_headers(client) -> dict[str, str]:
    """OCBB: both OC (write:clients) and DO (write:interventions)."""
    return {"Authorization": f"Bearer {token_for(client, 'ocbb')}"}


@pytest.fixture
def occc_headers(client) -> dict[str, str]:
    """OCCC: an OC only (write:clients)."""
    return {"Authorization": f"Bearer {token_for(client, 'occc')}"}


def m1(ref: str = "DO-REF-1", **changes: Any) -> dict[str, Any]:
    body = {
        "Code_DO": "DOXX",
        "Code_OI": "OIAA",
        "Ref_Interv_DO": ref,
        "PM": "FI-12345-0001",
        "Nature_PBO_PTO": [{"nature": 1, "PBO": "PT0012345", "PTO": "FI-1234-5678"}],
        "Debut_Inter": "2026-11-20T10:00:00+01:00",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def m3(ref: str = "DO-REF-1", **changes: Any) -> dict[str, Any]:
    return m1(ref, **{"Fin_Inter": "2026-11-20T11:30:00+01:00", **changes})
