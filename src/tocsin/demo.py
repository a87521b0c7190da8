"""``tocsin demo``: demo users and every desk's demo data, then the server with a worker beside it."""

from __future__ import annotations

import os
import subprocess
import sys

from rich.console import Console

from tocsin.app import desk_part
from tocsin.core.auth import upsert_staff
from tocsin.core.clock import utc_now
from tocsin.core.config import Settings
from tocsin.core.db import Database

console = Console(stderr=True)
DEMO_PASSWORD = "demo-password"
DEMO_USERS = {
    "admin": ["admin"],
    "operateur": ["operator"],
    "technicien": ["technician"],
    "lecteur": ["viewer"],
}


def load_demo(database: Database, settings: Settings) -> None:
    """Create the demo staff users and let each enabled desk load its demo data."""
    with database.session() as db:
        for username, roles in DEMO_USERS.items():
            upsert_staff(db, username=username, password=DEMO_PASSWORD, roles=roles)
    for name in settings.desks:
        module = desk_part(name, "demo")
        if module is None:
            continue
        with database.session() as db:
            console.print(f"[green]{name}[/]: {module.load_demo(db, now=utc_now())}")
    users = ", ".join(DEMO_USERS)
    console.print(f"demo users: {users} — password [bold]{DEMO_PASSWORD}[/]")


def serve_demo(*, port: int) -> None:
    """Run a worker in the background and serve on ``port`` until interrupted."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "tocsin.cli", "worker", "--name", "demo-worker"], env=os.environ.copy()
    )
    console.print(f"serving on [bold]http://127.0.0.1:{port}[/] (Ctrl-C to stop)")
    try:
        from tocsin.cli import serve

        serve(host="127.0.0.1", port=port, workers=1)
    finally:
        worker.terminate()
        worker.wait(timeout=10)
