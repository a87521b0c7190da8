"""Fixtures for the interventions desk: the OI's configuration, partner personas and their tokens, and the
DO's configuration with a staff client. Helpers are in ``support.py``; nothing is imported from here."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.interventions.support import OI_CONFIG, CheckedClient, do_config, token_for
from tocsin.interventions.config import apply_config, parse_config


@pytest.fixture
def oi_config(database, clock):
    with database.session() as db:
        apply_config(db, parse_config(OI_CONFIG), now=clock())
    return OI_CONFIG


@pytest.fixture
def client(app, oi_config) -> CheckedClient:
    with CheckedClient(app) as test_client:
        yield test_client


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


@pytest.fixture
def do_setup(database, clock) -> dict[str, Any]:
    """Our side is DOXX (see ``do_config``)."""
    config = do_config()
    with database.session() as db:
        apply_config(db, parse_config(config), now=clock())
    return config


@pytest.fixture
def web(app, do_setup) -> TestClient:
    """A test client of the DO's app (sign a staff user in with ``tests.support.sign_in``)."""
    with TestClient(app) as client:
        yield client
