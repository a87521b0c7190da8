"""The ``tocsin`` command: serve, worker, migrate, demo, and each desk's sub-commands."""

from __future__ import annotations

import logging
import os
import socket

import typer
from rich.console import Console

from tocsin.core.config import get_settings
from tocsin.core.db import Database

app = typer.Typer(
    help="Tocsin: tell the right party, in time, and be able to prove it.", no_args_is_help=True
)
console = Console(stderr=True)


def database() -> Database:
    return Database(get_settings().database_url)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (Alembic, one history for every desk)."""
    from tocsin.core.migrate import upgrade

    db = database()
    upgrade(db)
    console.print(f"[green]schema up to date[/] on {db.dialect}")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(int(os.environ.get("PORT", "8000")), help="Port (PORT= also sets it)."),
    workers: int = typer.Option(1, help="Web processes (use 1 on SQLite)."),
) -> None:
    """Serve every enabled desk over HTTP."""
    from tocsin.core.config import MissingSecretKey
    from tocsin.serving import serve as run

    try:
        run(get_settings(), host=host, port=port, workers=workers)
    except MissingSecretKey as error:
        console.print(f"[red]error:[/] {error}")
        raise typer.Exit(2) from None


@app.command()
def worker(
    once: bool = typer.Option(False, help="Deliver what is due, then stop."),
    name: str = typer.Option("", help="Worker name shown in delivery attempts."),
) -> None:
    """Deliver outbox messages and run every desk's scheduled jobs until stopped."""
    from tocsin.jobs import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    run_worker(
        settings, name=name or settings.worker_id or f"{socket.gethostname()}-{os.getpid()}", once=once
    )


@app.command()
def demo(
    port: int = typer.Option(int(os.environ.get("PORT", "8000")), help="Port (PORT= also sets it)."),
    serve_after: bool = typer.Option(True, "--serve/--no-serve", help="Serve once the data is loaded."),
) -> None:
    """Migrate, load demo data for every desk, then serve with a worker in the background."""
    from tocsin.demo import demo_settings, load_demo, serve_demo

    demo_settings()
    migrate()
    load_demo(database(), get_settings())
    if serve_after:
        serve_demo(port=port)


search_app = typer.Typer(help="Full-text search indexes of the desks.", no_args_is_help=True)
app.add_typer(search_app, name="search")


@search_app.command("rebuild")
def search_rebuild(
    index: list[str] = typer.Option([], "--index", help="Only this index (repeatable); default: all."),
) -> None:
    """Index every existing row again (after an upgrade that adds an index, or to repair one)."""
    from tocsin import desks
    from tocsin.core import search

    known = {i.name: i for desk in desks.load(None) for i in desk.search}
    unknown = sorted(set(index) - set(known))
    if unknown:
        console.print(f"[red]error:[/] --index: unknown index(es) {unknown}; known: {sorted(known)}")
        raise typer.Exit(2)
    for name in index or sorted(known):
        with database().session() as db:
            count = search.rebuild(db, known[name])
        console.print(f"[green]{name}[/]: {count} row(s) indexed")


def add_desk_commands(cli: typer.Typer) -> typer.Typer:
    """Mount each known desk's commands as ``tocsin <desk> …``."""
    from tocsin import desks

    for desk in desks.load(None):
        if desk.cli is not None:
            cli.add_typer(desk.cli, name=desk.name)
    return cli


@app.command(name="user")
def add_user(
    username: str,
    password: str = typer.Option(..., prompt=True, hide_input=True, envvar="TOCSIN_NEW_PASSWORD"),
    roles: str = typer.Option("operator", help="Comma-separated: admin, operator, technician, viewer."),
    org: str | None = typer.Option(None, help="Hold the roles within this organisation (its code) only."),
) -> None:
    """Create or update a staff user, with roles held everywhere or within one organisation."""
    from tocsin.core import orgs
    from tocsin.core.auth import upsert_staff
    from tocsin.core.errors import DomainError

    wanted = [r.strip() for r in roles.split(",") if r.strip()]
    try:
        with database().session() as db:
            user = upsert_staff(db, username=username, password=password, roles=[] if org else wanted)
            db.flush()
            if org is not None:
                for role in wanted:
                    orgs.grant(db, user=user, org=org, role=role)
    except (ValueError, DomainError) as error:
        raise typer.BadParameter(str(error), param_hint="--org" if org else "--roles") from None
    where = f" within {org}" if org else ""
    console.print(f"[green]user {username} saved[/] ({', '.join(wanted)}{where})")


@app.command(name="org")
def add_org(
    code: str,
    name: str = typer.Option(..., help="Name shown on pages."),
    parent: str | None = typer.Option(None, help="Code of the organisation it belongs to."),
    kind: str = typer.Option("unit", help="agency, unit, operator, office, department…"),
) -> None:
    """Create or update an organisation (an agency, a team, an office)."""
    from tocsin.core import orgs
    from tocsin.core.errors import DomainError

    try:
        with database().session() as db:
            orgs.upsert_org(db, code=code, name=name, kind=kind, parent=parent)
    except DomainError as error:
        raise typer.BadParameter(error.reason, param_hint=f"--{error.field}") from None
    console.print(f"[green]organisation {code} saved[/]")


notify_commands = typer.Typer(help="Notifications to staff: e-mail, SMS, Web Push.", no_args_is_help=True)
app.add_typer(notify_commands, name="notify")


@notify_commands.command("vapid-keys")
def vapid_keys(
    out: str = typer.Option(..., help="File to write the private key to (PEM, readable by its owner only)."),
) -> None:
    """Make the key pair that identifies this deployment to Web Push services (RFC 8292)."""
    from pathlib import Path

    from tocsin.core.outbox.transports.push import new_vapid_key

    target = Path(out)
    if target.exists():
        console.print(f"[red]error:[/] {target} exists; keep it, or remove it to make a new pair")
        raise typer.Exit(2)
    private, public = new_vapid_key()
    target.touch(mode=0o600)
    target.write_text(private)
    console.print(f"private key written to {target}")
    console.print(f"set TOCSIN_VAPID_PRIVATE_KEY_FILE={target.resolve()} and TOCSIN_VAPID_SUBJECT=mailto:…")
    print(public)


add_desk_commands(app)


if __name__ == "__main__":
    app()
