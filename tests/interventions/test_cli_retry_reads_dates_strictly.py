"""``tocsin interventions retry`` reads --since/--until with the one rule for instants, and re-queues the
failed messages of the period."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tocsin.core import outbox
from tocsin.core.config import get_settings
from tocsin.interventions.cli import app


@pytest.fixture
def run(database, monkeypatch):
    monkeypatch.setenv("TOCSIN_DATABASE_URL", database.url)
    get_settings.cache_clear()
    yield lambda *args: CliRunner().invoke(app, list(args))
    get_settings.cache_clear()


@pytest.mark.parametrize("value", ["1763629200", "2026-11-20T14:00", "0001-01-01T00:00:00Z", "tomorrow"])
def test_a_bad_date_is_refused_naming_the_option(run, value):
    result = run("retry", "--since", value)
    assert result.exit_code == 2
    assert "--since" in result.output


def test_failed_messages_of_the_period_are_queued_again(run, database, clock):
    with database.session() as db:
        message_id = outbox.enqueue(
            db,
            desk="interventions",
            kind="M2",
            partner="OCBB",
            url="http://127.0.0.1:9/v1/x",
            payload={},
            stream="s",
            now=clock(),
        )
        db.get(outbox.OutboxMessage, message_id).status = outbox.FAILED
    result = run("retry", "--since", "2026-11-20T00:00:00+01:00", "--until", "2026-11-21T00:00:00Z")
    assert result.exit_code == 0, result.output
    assert "1 message(s) queued again" in result.output
    with database.session() as db:
        assert db.scalar(select(outbox.OutboxMessage.status)) == outbox.PENDING
