"""``tocsin interventions …``: load the configuration, retry failed deliveries, purge, show the queue."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from tocsin.core import audit, dates, outbox
from tocsin.core.clock import utc_now
from tocsin.core.config import get_settings
from tocsin.core.db import Database
from tocsin.core.errors import DomainError
from tocsin.interventions import jobs
from tocsin.interventions.config import ConfigError, apply_config, read_config

app = typer.Typer(help="E-Intervention desk (OI, OC and DO roles).", no_args_is_help=True)
console = Console()


def _database() -> Database:
    return Database(get_settings().database_url)


@app.command("load-config")
def load_config(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="YAML configuration file."),
) -> None:
    """Validate a configuration file, then replace the stored configuration with it."""
    try:
        desk_file = read_config(path)
    except ConfigError as error:
        console.print(f"[red]{path} is not valid:[/]")
        for problem in error.problems:
            console.print(f"  - {problem}")
        raise typer.Exit(2) from None
    with _database().session() as db:
        apply_config(db, desk_file, now=utc_now(), actor="cli")
    console.print(
        f"[green]configuration loaded[/]: {desk_file.self_.code} as {', '.join(desk_file.self_.roles)}, "
        f"{len(desk_file.partners)} partner(s), {len(desk_file.pms)} PM(s)"
    )


def _moment(text: str | None, name: str) -> datetime | None:
    """An option read with the core's one rule for instants (RFC 3339 with an offset, in range)."""
    if text is None:
        return None
    try:
        return dates.instant(text, field=name)
    except DomainError as error:
        raise typer.BadParameter(error.reason, param_hint=name) from None


@app.command()
def retry(
    partner: str | None = typer.Option(None, help="Only messages to this operator code."),
    since: str | None = typer.Option(None, help="Created at or after (RFC 3339 with offset)."),
    until: str | None = typer.Option(None, help="Created before (RFC 3339 with offset)."),
    include_rejected: bool = typer.Option(False, help="Also re-send functional KOs (after correction)."),
) -> None:
    """Queue failed messages again (a fresh round of automatic retries), e.g. to one OC over an afternoon."""
    statuses = (outbox.FAILED, outbox.REJECTED) if include_rejected else (outbox.FAILED,)
    now = utc_now()
    with _database().session() as db:
        messages = outbox.retry_by_hand(
            db,
            now=now,
            partner=partner,
            since=_moment(since, "--since"),
            until=_moment(until, "--until"),
            statuses=statuses,
        )
        for message in messages:
            audit.record(
                db,
                at=now,
                actor="cli",
                action="outbox.retry_by_hand",
                object_type="outbox_message",
                object_id=message.id,
                partner=message.partner,
                kind=message.kind,
            )
    console.print(f"[green]{len(messages)} message(s) queued again[/]")


@app.command()
def purge() -> None:
    """Apply the retention period now (the worker also does it every hour)."""
    with _database().session() as db:
        console.print(jobs.purge_expired(db=db, now=utc_now()))


@app.command()
def queue() -> None:
    """Show the outbox of this desk by partner and status."""
    with _database().session() as db:
        rows = db.execute(
            select(outbox.OutboxMessage.partner, outbox.OutboxMessage.status, func.count())
            .where(outbox.OutboxMessage.desk == "interventions")
            .group_by(outbox.OutboxMessage.partner, outbox.OutboxMessage.status)
            .order_by(outbox.OutboxMessage.partner)
        ).all()
    table = Table("partner", "status", "messages")
    for partner, status, count in rows:
        table.add_row(partner, status, str(count))
    console.print(table)
