"""Small readers used by several interventions tests."""

from __future__ import annotations

from sqlalchemy import func, select

from tocsin.core.outbox import OutboxMessage
from tocsin.interventions.models import InboundMessage, Intervention, Rejection


def interventions(database) -> list[Intervention]:
    with database.session() as db:
        return list(db.scalars(select(Intervention).order_by(Intervention.id)))


def outbound(database) -> list[tuple[str, str]]:
    """(partner, kind) of every queued message, in the order written."""
    with database.session() as db:
        return [(m.partner, m.kind) for m in db.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]


def outbound_payloads(database, partner: str) -> list[dict]:
    with database.session() as db:
        query = select(OutboxMessage).where(OutboxMessage.partner == partner).order_by(OutboxMessage.id)
        return [m.payload for m in db.scalars(query)]


def outcomes(database) -> list[str]:
    with database.session() as db:
        return [m.outcome for m in db.scalars(select(InboundMessage).order_by(InboundMessage.id))]


def set_pending_schedule(database, schedule: list[int]) -> None:
    """Give every pending outbox message this retry schedule ([] = its next failure is final)."""
    from sqlalchemy import update

    from tocsin.core.outbox import PENDING

    with database.session() as db:
        db.execute(update(OutboxMessage).where(OutboxMessage.status == PENDING).values(schedule=schedule))


def count(database, model) -> int:
    with database.session() as db:
        return db.scalar(select(func.count()).select_from(model))


def rejections(database) -> list[Rejection]:
    with database.session() as db:
        return list(db.scalars(select(Rejection).order_by(Rejection.id)))
