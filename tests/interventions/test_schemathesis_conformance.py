"""A live OI answers whatever the official OpenAPI allows a client to send, as that file says it must.

Schemathesis (``schemathesis run``, as a subprocess) reads the OFFICIAL lot 1 file and fuzzes a real
uvicorn server (the test app on a loopback port, an OI configuration loaded, a bearer token holding
both ``write:interventions`` and ``write:clients``). A non-zero exit code fails the test, with the
report.

Checks that run: ``not_a_server_error`` (no 5xx), ``status_code_conformance`` (every status is
documented), ``content_type_conformance``, ``response_schema_conformance`` (bodies match the schema,
e.g. ``Description_Reponse`` ≤ 100 characters), ``response_headers_conformance``,
``negative_data_rejection`` (a body that breaks the schema gets a 4xx), ``missing_required_header`` and
``ignored_auth`` (a request without a valid token is refused), ``allow_header_conformance``, and the
stateful checks, which find nothing to chain here (no operation returns a resource to fetch).

Excluded:
- ``positive_data_acceptance``: the official file gives codes, PMs and references only a
  ``maxLength``; their formats (``[0-9A-Z]{4}``, ``[0-9A-Z_-]{1,50}``), the rule that an empty string
  is "not filled", Fin_Inter ≥ Debut_Inter and "AUCUNE ACTION only in M3" come from the prose
  specification and are answered with the file's own documented 400 (CHAMPS_NON_RENSEIGNE,
  MAUVAIS_FORMAT) and 404 (unknown code, PM or reference). Schema-valid is not protocol-valid here.
- ``unsupported_method`` runs on its own in the last test (405 with an ``Allow`` header, RFC 9110).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from tests.browser import LiveServer
from tocsin.interventions.config import apply_config, parse_config
from tocsin.interventions.models import InboundMessage

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SPEC = Path(__file__).resolve().parents[3] / "shared" / "reference" / "e-intervention"
SPEC = SPEC / "E-Intervention-v1.0.0.OAS3.yaml"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
HOOKS = Path(__file__).resolve().parent / "fixtures"
SECRET = "fuzz-secret-fuzz-secret"
EXCLUDED = "positive_data_acceptance,unsupported_method"
# The partner is DO (write:interventions), OC (write:clients) and OI towards us, and we are OI and
# OC, so all three operations reach their rules (M2/M4 are received only by an OC, from an OI).
CONFIG = {
    "self": {"code": "OIAA", "roles": ["OI", "OC"]},
    "partners": [
        {
            "code": "OCBB",
            "roles": ["DO", "OC", "OI"],
            "url": "http://127.0.0.1:9/v1",
            "client_id": "fuzzer",
            "client_secret": SECRET,
        }
    ],
    "pms": [{"ref": "FI-12345-0001", "ocs": ["OCBB"]}],
}
FIRST_M1 = {
    "Code_DO": "OCBB",
    "Code_OI": "OIAA",
    "Ref_Interv_DO": "KNOWN-1",
    "PM": "FI-12345-0001",
    "Nature_PBO_PTO": [{"nature": 1, "PBO": "PT0012345"}],
    "Debut_Inter": "2026-11-20T10:00:00+01:00",
}


@pytest.fixture
def live_oi(app, database, clock) -> Iterator[LiveServer]:
    """The test app, configured as OIAA, served on a free loopback port."""
    with database.session() as db:
        apply_config(db, parse_config(CONFIG), now=clock())
    server = LiveServer(app)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def token(live_oi: LiveServer) -> str:
    """A bearer token of the partner client, with both scopes."""
    reply = httpx.post(
        f"{live_oi.base_url}/oauth/token", data={"grant_type": "client_credentials"}, auth=("fuzzer", SECRET)
    )
    assert reply.status_code == 200, reply.text
    assert set(reply.json()["scope"].split()) == {"write:interventions", "write:clients"}
    return reply.json()["access_token"]


def schemathesis(live_oi: LiveServer, token: str, tmp_path: Path, *options: str, **env: str) -> None:
    """Run the schemathesis CLI against the live server; fail with its report unless it exits 0."""
    command = [
        str(SCHEMATHESIS),
        "run",
        str(SPEC),
        "--url",
        f"{live_oi.base_url}/v1",
        "--header",
        f"Authorization: Bearer {token}",
        "--max-examples",
        os.environ.get("TOCSIN_FUZZ_EXAMPLES", "40"),
        "--seed",
        os.environ.get("TOCSIN_FUZZ_SEED", "20261120"),
        "--generation-database",
        "none",
        "--no-color",
        *options,
    ]
    done = subprocess.run(
        command,
        cwd=tmp_path,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, (
        f"schemathesis exited {done.returncode}:\n{done.stdout[-12000:]}{done.stderr}"
    )


def test_every_answer_to_any_schema_shaped_request_conforms(live_oi, token, tmp_path) -> None:
    """Valid and invalid bodies straight from the official file: no 5xx, every answer as documented."""
    schemathesis(live_oi, token, tmp_path, "--checks", "all", "--exclude-checks", EXCLUDED)


def test_requests_from_a_known_partner_reach_the_rules_and_conform(
    live_oi, token, tmp_path, database
) -> None:
    """Schema-valid bodies with known identities pass the checks and are really processed."""
    first = httpx.post(
        f"{live_oi.base_url}/v1/intervention_DO", json=FIRST_M1, headers={"Authorization": f"Bearer {token}"}
    )
    assert first.status_code == 200, first.text
    schemathesis(
        live_oi,
        token,
        tmp_path,
        "--mode",
        "positive",
        "--checks",
        "all",
        "--exclude-checks",
        EXCLUDED,
        SCHEMATHESIS_HOOKS="schemathesis_hooks",
        PYTHONPATH=os.pathsep.join([str(HOOKS), str(REPO)]),
        TOCSIN_FUZZ_REF_OI=first.json()["Ref_Interv_OI"],
    )
    with database.session() as db:
        accepted = dict(
            db.execute(select(InboundMessage.kind, func.count()).group_by(InboundMessage.kind)).all()
        )
    assert accepted.get("M5", 0) > 0, accepted
    assert accepted.get("M1", 0) + accepted.get("M3", 0) > 1, accepted
    assert accepted.get("M2", 0) + accepted.get("M4", 0) > 0, accepted


def test_an_undocumented_method_gets_405_with_allow(live_oi, token, tmp_path) -> None:
    """TRACE, GET… on a /v1 path: 405 listing the allowed methods."""
    schemathesis(live_oi, token, tmp_path, "--phases", "coverage", "--checks", "unsupported_method")
