"""Fixtures of the DO-side tests, loaded by each test module with
``pytest_plugins = ["tests.interventions.do_fixtures"]``."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.interventions.do_support import do_config
from tocsin.interventions.config import apply_config, parse_config


@pytest.fixture
def do_setup(database, clock) -> dict[str, Any]:
    config = do_config()
    with database.session() as db:
        apply_config(db, parse_config(config), now=clock())
    return config


@pytest.fixture
def web(app, do_setup) -> TestClient:
    with TestClient(app) as client:
        yield client
