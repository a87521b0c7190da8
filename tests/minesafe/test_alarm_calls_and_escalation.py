"""Urgent alarms call people: an SOS or DANGER alarm goes by SMS to the shift supervisor (the first on the
shift's duty list) in the transaction that raises it, through a real HTTP SMS gateway on loopback; an
alarm nobody acknowledges goes on down the list (someone without a phone is skipped), stops at its end,
and an acknowledged one is not passed on. Every call is audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.channels import deliver_all, notifications_of, sms_gateway
from tests.support import make_staff
from tocsin.cli import app as cli
from tocsin.core import audit
from tocsin.core.auth.staff import StaffUser
from tocsin.core.clock import FixedClock
from tocsin.core.config import get_settings
from tocsin.core.notify.models import StaffContact
from tocsin.core.outbox import OutboxMessage
from tocsin.minesafe import alerts, store
from tocsin.minesafe.model import AlarmEvent, Level
from tocsin.minesafe.models import Alarm

DAY = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)  # 10:00 in Yekaterinburg: the day shift
NIGHT = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # 22:00 there: the night shift
PHONES = {"alice": "+79120000001", "bob": None, "carol": "+79120000003", "dmitri": "+79120000004"}


@pytest.fixture
def people(database):
    for name, phone in PHONES.items():
        make_staff(database, username=name, roles=["operator"])
        with database.session() as db:
            user = db.scalar(select(StaffUser).where(StaffUser.username == name))
            db.add(StaffContact(user_id=user.id, phone=phone, updated_at=DAY))
    with database.session() as db:
        alerts.set_duty(
            db, site="quarry", shift="day", usernames=["alice", "bob", "carol"], actor="t", now=DAY
        )
        alerts.set_duty(db, site="quarry", shift="night", usernames=["dmitri"], actor="t", now=DAY)


def raise_alarm(database, at: datetime, *, type: str = "run_over", level: Level = Level.DANGER) -> int:
    ids = ("quarry:0", "quarry:12") if type in ("run_over", "collision") else ("quarry:12",)
    with database.session() as db:
        [alarm] = store.save_events(
            db, [AlarmEvent(t=at.timestamp(), type=type, level=level, ids=ids)], site="quarry", now=at
        )
        return alarm.id


def called(database) -> list[tuple[str, str]]:
    """(number, text) of every SMS queued so far, oldest first."""
    with database.session() as db:
        sent = [db.get(OutboxMessage, n.message_id) for n in notifications_of(database) if n.channel == "sms"]
        return [(m.payload["to"], m.payload["text"]) for m in sent]


def trail(database, alarm_id: int) -> list[tuple[str, dict]]:
    with database.session() as db:
        events = audit.events_for(db, object_type="alarm", object_id=alarm_id)
        return [(e.action, e.detail) for e in events]


def test_a_danger_alarm_texts_the_supervisor_in_russian_and_escalates_down_the_list(
    database, people, settings
):
    with sms_gateway() as gateway:
        alarm_id = raise_alarm(database, DAY)
        [(address, text)] = called(database)
        assert address == "+79120000001"
        assert text.startswith("Опасность: Опасность наезда, ") and "10:00" in text
        assert "Подтвердите в диспетчерской" in text

        with database.session() as db:
            assert alerts.escalate(db, now=DAY + timedelta(seconds=60)) == "0 alarm(s) escalated"
            assert alerts.escalate(db, now=DAY + timedelta(seconds=121)) == "1 alarm(s) escalated"
        assert [a for a, _ in called(database)] == ["+79120000001", "+79120000003"]  # bob has no phone
        assert "Не подтверждена: передана вам." in called(database)[1][1]
        with database.session() as db:
            assert alerts.escalate(db, now=DAY + timedelta(seconds=400)) == "0 alarm(s) escalated"
        assert len(called(database)) == 2

        sms_settings = settings.model_copy(update={"sms_url": gateway.url, "sms_token": gateway.token})
        deliver_all(database, FixedClock(DAY + timedelta(seconds=400)), sms_settings)
        assert sorted(r["json"]["to"] for r in gateway.received) == ["+79120000001", "+79120000003"]
    assert trail(database, alarm_id) == [
        ("minesafe.alarm_called", {"to": "alice", "step": 0}),
        ("minesafe.alarm_escalated", {"to": "carol", "step": 2}),
    ]


def test_an_acknowledged_alarm_is_not_passed_on_and_a_warning_calls_nobody(database, people):
    alarm_id = raise_alarm(database, DAY)
    raise_alarm(database, DAY, type="overspeed", level=Level.WARNING)
    with database.session() as db:
        store.acknowledge(db, alarm_id, by="alice", now=DAY + timedelta(seconds=30))
    with database.session() as db:
        assert alerts.escalate(db, now=DAY + timedelta(seconds=500)) == "0 alarm(s) escalated"
    assert [a for a, _ in called(database)] == ["+79120000001"]


def test_an_sos_at_night_calls_the_night_list(database, people):
    raise_alarm(database, NIGHT, type="sos", level=Level.WARNING)
    assert [a for a, _ in called(database)] == ["+79120000004"]


def test_with_nobody_on_duty_the_alarm_waits_on_the_screens_only(database):
    alarm_id = raise_alarm(database, DAY)
    with database.session() as db:
        assert alerts.escalate(db, now=DAY + timedelta(hours=1)) == "0 alarm(s) escalated"
        assert db.get(Alarm, alarm_id).state == "raised"
    assert called(database) == []


def test_a_duty_list_names_known_people_once(database, people):
    with database.session() as db:
        for usernames, shift, reason in [
            (["alice", "nobody"], "day", "no staff account named nobody"),
            (["alice", "alice"], "day", "appears twice"),
            (["alice"], "evening", "shift"),
        ]:
            with pytest.raises(ValueError, match=reason):
                alerts.set_duty(db, site="quarry", shift=shift, usernames=usernames, actor="t", now=DAY)


def test_the_duty_command_sets_and_prints_the_list(database, people, monkeypatch):
    monkeypatch.setenv("TOCSIN_DATABASE_URL", database.url)
    get_settings.cache_clear()
    runner = CliRunner()
    result = runner.invoke(cli, ["minesafe", "duty", "night", "carol", "alice"])
    assert result.exit_code == 0, result.output
    assert "quarry night: carol → alice" in result.output
    assert "quarry day: alice → bob → carol" in runner.invoke(cli, ["minesafe", "duty", "day"]).output
    refused = runner.invoke(cli, ["minesafe", "duty", "day", "zoe"])
    assert refused.exit_code == 2 and "no staff account named zoe" in refused.output
    assert runner.invoke(cli, ["minesafe", "duty", "noon"]).exit_code == 2
