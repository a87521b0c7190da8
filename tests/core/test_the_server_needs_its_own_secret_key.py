"""No built-in key signs session cookies: serving refuses to start without one, a key published in the
source is refused, and the demo makes its own and keeps it under var/."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
from itsdangerous import TimestampSigner
from pydantic import ValidationError

from tocsin.core.config import MissingSecretKey, Settings


def test_the_app_is_not_built_without_a_key(database):
    from tocsin.app import create_app

    with pytest.raises(MissingSecretKey, match="TOCSIN_SECRET_KEY"):
        create_app(Settings(database_url=database.url), database=database)


def test_the_key_that_once_shipped_in_the_source_is_refused():
    with pytest.raises(ValidationError, match="secret_key"):
        Settings(secret_key="dev-only-change-me")


def test_a_short_key_is_refused():
    with pytest.raises(ValidationError, match="secret_key"):
        Settings(secret_key="short")


def test_tocsin_serve_says_what_is_missing_and_stops(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOCSIN_")}
    env["TOCSIN_DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "tocsin.cli", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "TOCSIN_SECRET_KEY" in result.stderr


def test_a_cookie_signed_with_the_old_built_in_key_opens_nothing(app, database):
    import base64
    import json

    from fastapi.testclient import TestClient

    from tests.support import make_staff

    make_staff(database, username="root", roles=["admin"])
    forged = base64.b64encode(json.dumps({"user_id": 1, "sid": "guess"}).encode())
    cookie = TimestampSigner("dev-only-change-me").sign(forged).decode()
    with TestClient(app, cookies={"tocsin_session": cookie}) as client:
        reply = client.get("/interventions/oi/deliveries", follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"].startswith("/login")


def test_the_demo_makes_its_own_key_readable_by_its_owner_only(tmp_path, monkeypatch):
    from tocsin import demo

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TOCSIN_SECRET_KEY", raising=False)
    monkeypatch.delenv("TOCSIN_SECRET_KEY_FILE", raising=False)
    monkeypatch.delenv("TOCSIN_PUBLIC_API_DOCS", raising=False)
    demo.demo_settings()
    key = tmp_path / "var" / "secret-key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_text()) >= 32
    assert os.environ["TOCSIN_SECRET_KEY_FILE"] == str(key.resolve())
    first = key.read_text()
    demo.demo_settings()
    assert key.read_text() == first  # kept across runs: demo sessions survive a restart
    assert Settings().secret_key == first
