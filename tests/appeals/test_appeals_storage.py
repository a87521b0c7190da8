"""An appeal through its life in storage: drafted, sent, registered with its number and the law's answer
date, taken, a clarification asked and given, extended once, answered, closed — every move recorded and
audited; forwarding needs another agency and a reason; a rejection carries its code and reason and
"send again" makes a linked copy; one citizen never reaches another's appeal."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from tocsin.appeals import service
from tocsin.appeals.models import Agency, Appeal, Service
from tocsin.appeals.service import Draft
from tocsin.appeals.states import Actor
from tocsin.core import audit
from tocsin.core.errors import DomainError, NotFound

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 12:00 in Moscow, a Monday


@pytest.fixture
def agencies(database):
    with database.session() as db:
        mvd, roads = Agency(code="MVD", name="МВД", kind="federal"), Agency(code="ROADS", name="Дороги")
        db.add_all([mvd, roads])
        db.flush()
        db.add(Service(agency_id=roads.id, code="potholes", name="Ямы на дорогах", attributes=[]))


def draft(**changes) -> Draft:
    fields = {"kind": "complaint", "agency": "ROADS", "subject": "Яма", "body": "Большая яма у дома 5."}
    return Draft(**(fields | changes))


def test_the_whole_life_of_an_appeal(database, agencies):
    with database.session() as db:
        appeal = service.create_draft(db, draft(service="potholes"), citizen="c1", now=NOW)
        for action, actor, extra in [
            ("send", Actor.CITIZEN, {}),
            ("register", Actor.SYSTEM, {}),
            ("take", Actor.STAFF, {}),
            ("ask", Actor.STAFF, {}),
            ("reply", Actor.CITIZEN, {}),
            ("extend", Actor.STAFF, {"days": 10}),
            ("answer", Actor.STAFF, {}),
            ("close", Actor.CITIZEN, {}),
        ]:
            service.act(db, appeal, action, actor=actor, who=actor.value, now=NOW, **extra)
        appeal_id, events = (
            appeal.id,
            [(e.action, e.from_status, e.to_status) for e in service.history(db, appeal)],
        )
    with database.session() as db:
        stored = db.get(Appeal, appeal_id)
        trail = [e.action for e in audit.events_for(db, object_type="appeal", object_id=appeal_id)]
    assert stored.status == "closed" and stored.number == "ROADS-2026-000001"
    assert stored.registered_on == date(2026, 3, 2)
    # 30 days after 2 March is 1 April (a Wednesday); extended by 10 days: 11 April is a Saturday → 13 April.
    assert stored.due_on == date(2026, 4, 13) and stored.extensions == 1
    assert events[0] == ("create", "draft", "draft") and events[-1] == ("close", "answered", "closed")
    assert trail == [f"appeals.{e[0]}" for e in events]


def test_numbers_run_per_agency_and_a_second_extension_is_refused(database, agencies):
    with database.session() as db:
        numbers = []
        for agency in ("ROADS", "ROADS", "MVD"):
            appeal = service.create_draft(db, draft(agency=agency), citizen="c1", now=NOW)
            service.act(db, appeal, "send", actor=Actor.CITIZEN, who="c1", now=NOW)
            service.act(db, appeal, "register", actor=Actor.SYSTEM, who="system", now=NOW)
            numbers.append(appeal.number)
        service.act(db, appeal, "extend", actor=Actor.STAFF, who="s", now=NOW, days=30)
        with pytest.raises(DomainError) as refused:
            service.act(db, appeal, "extend", actor=Actor.STAFF, who="s", now=NOW, days=5)
    assert numbers == ["ROADS-2026-000001", "ROADS-2026-000002", "MVD-2026-000001"]
    assert refused.value.field == "extension"


def forward(db, appeal, to_agency: str, reason: str) -> None:
    service.act(
        db, appeal, "forward", actor=Actor.STAFF, who="s", now=NOW, to_agency=to_agency, reason=reason
    )


def test_forwarding_needs_another_agency_and_a_reason(database, agencies):
    with database.session() as db:
        appeal = service.create_draft(db, draft(), citizen="c1", now=NOW)
        service.act(db, appeal, "send", actor=Actor.CITIZEN, who="c1", now=NOW)
        service.act(db, appeal, "register", actor=Actor.SYSTEM, who="system", now=NOW)
        for to_agency, reason, field in [
            ("ROADS", "x", "to_agency"),
            ("NOPE", "x", "agency"),
            ("MVD", "", "reason"),
        ]:
            with pytest.raises(DomainError) as refused:
                forward(db, appeal, to_agency, reason)
            assert refused.value.field == field
        forward(db, appeal, "MVD", "Не наш вопрос")
        mvd = db.scalar(select(Agency).where(Agency.code == "MVD"))
        assert appeal.agency_id == mvd.id and appeal.status == "registered"


def test_a_rejection_carries_its_code_and_send_again_links_a_corrected_copy(database, agencies):
    with database.session() as db:
        appeal = service.create_draft(db, draft(), citizen="c1", now=NOW)
        service.act(db, appeal, "send", actor=Actor.CITIZEN, who="c1", now=NOW)
        with pytest.raises(DomainError):
            service.act(db, appeal, "reject", actor=Actor.SYSTEM, who="system", now=NOW, reason="bad")
        service.act(
            db,
            appeal,
            "reject",
            actor=Actor.SYSTEM,
            who="system",
            now=NOW,
            rejection="format",
            reason="Файл не читается",
        )
        copy = service.link(db, appeal, "send_again", citizen="c1", now=NOW)
        with pytest.raises(DomainError):
            service.link(db, appeal, "dispute", citizen="c1", now=NOW)
        assert (appeal.rejection, appeal.rejection_reason) == ("format", "Файл не читается")
        assert (copy.status, copy.linked_to, copy.link_kind, copy.body) == (
            "draft",
            appeal.id,
            "send_again",
            appeal.body,
        )


def test_one_citizen_never_reaches_anothers_appeal(database, agencies):
    with database.session() as db:
        appeal_id = service.create_draft(db, draft(), citizen="c1", now=NOW).id
    with database.session() as db:
        assert service.mine(db, appeal_id, "c1").id == appeal_id
        for who, wanted in [("c2", appeal_id), ("c1", appeal_id + 1000)]:
            with pytest.raises(NotFound) as refused:
                service.mine(db, wanted, who)
            assert str(refused.value) == "id: No such appeal."


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"kind": "petition"}, "kind"),
        ({"agency": "NOPE"}, "agency"),
        ({"service": "potholes", "agency": "MVD"}, "service"),
        ({"subject": "   "}, "subject"),
        ({"body": "x" * 10_001}, "body"),
        ({"answer_channel": "pigeon"}, "answer_channel"),
        ({"happened_on": date(2026, 3, 3)}, "happened_on"),
    ],
)
def test_a_bad_draft_is_refused_naming_the_field_and_nothing_is_kept(database, agencies, changes, field):
    with pytest.raises(DomainError) as refused, database.session() as db:
        service.create_draft(db, draft(**changes), citizen="c1", now=NOW)
    assert refused.value.field == field
    with database.session() as db:
        assert db.scalar(select(Appeal)) is None
