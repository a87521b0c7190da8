"""``tocsin demo``: demo users and every desk's demo data, then the server with a worker beside it."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from tocsin import desks
from tocsin.core.auth import upsert_staff
from tocsin.core.clock import utc_now
from tocsin.core.config import Settings, get_settings
from tocsin.core.db import Database
from tocsin.core.files import Clamd
from tocsin.serving import serve

console = Console(stderr=True)
DEMO_PASSWORD = "demo-password"
DEMO_USERS = {
    "admin": ["admin"],
    "operateur": ["operator"],
    "technicien": ["technician"],
    "lecteur": ["viewer"],
}


DEMO_KEY = Path("var/secret-key")


def demo_settings() -> None:
    """The demo's own settings: a secret key made once and kept in var/ (readable by its owner only),
    the API description open without sign-in, and uploads unscanned when no clamd answers. Real
    deployments set their own key and run clamd."""
    if not os.environ.get("TOCSIN_SECRET_KEY") and not os.environ.get("TOCSIN_SECRET_KEY_FILE"):
        if not DEMO_KEY.exists():
            DEMO_KEY.parent.mkdir(parents=True, exist_ok=True)
            DEMO_KEY.touch(mode=0o600)
            DEMO_KEY.write_text(secrets.token_urlsafe(32))
        os.environ["TOCSIN_SECRET_KEY_FILE"] = str(DEMO_KEY.resolve())
    os.environ.setdefault("TOCSIN_PUBLIC_API_DOCS", "true")
    if "TOCSIN_SCAN_UPLOADS" not in os.environ:
        address = os.environ.get("TOCSIN_CLAMD", Settings.model_fields["clamd"].default)
        if not Clamd(address, timeout=2).ping():  # a laptop seldom runs clamd; a deployment must
            os.environ["TOCSIN_SCAN_UPLOADS"] = "false"
            console.print(f"[yellow]clamd is not answering at {address}: the demo keeps uploads unscanned[/]")
    get_settings.cache_clear()


def load_demo(database: Database, settings: Settings) -> None:
    """Create the demo staff users and let each enabled desk load its demo data."""
    with database.session() as db:
        for username, roles in DEMO_USERS.items():
            upsert_staff(db, username=username, password=DEMO_PASSWORD, roles=roles)
    for desk in desks.load(settings.desks):
        if desk.demo is None:
            continue
        with database.session() as db:
            console.print(f"[green]{desk.name}[/]: {desk.load_demo(db, now=utc_now())}")
    users = ", ".join(DEMO_USERS)
    console.print(f"demo users: {users} — password [bold]{DEMO_PASSWORD}[/]")


def serve_demo(*, port: int) -> None:
    """Run a worker (and, with the minesafe desk, the ingestion fed by the simulated quarry) in the
    background and serve on ``port`` until interrupted."""
    background = [_background("worker", "--name", "demo-worker")]
    if "minesafe" in {desk.name for desk in desks.load(get_settings().desks)}:
        background.append(
            _background(
                "minesafe",
                "ingest",
                "--simulate",
                "--quiet",
                "--udp",
                "off",
                "--osmand",
                "off",
                "--opcua",
                "off",
            )
        )
    console.print(f"serving on [bold]http://127.0.0.1:{port}[/] (Ctrl-C to stop)")
    try:
        serve(get_settings(), host="127.0.0.1", port=port, workers=1)
    finally:
        for process in background:
            process.terminate()
        for process in background:
            process.wait(timeout=10)


def _background(*command: str) -> subprocess.Popen[bytes]:
    """``tocsin <command>`` in the background, with the demo's environment."""
    return subprocess.Popen([sys.executable, "-m", "tocsin.cli", *command], env=os.environ.copy())
