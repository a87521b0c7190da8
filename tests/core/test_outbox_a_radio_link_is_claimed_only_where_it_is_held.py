"""A desk's own radio link is a channel only the worker of the process holding it claims: the shared
workers leave its messages alone (they would fail them for want of a transport), the holder's worker
claims only them, and only for the partners (sites) it owns. The database refuses an unknown channel."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from tocsin.core import outbox
from tocsin.core.outbox import OutboxMessage, Worker
from tocsin.core.outbox.transports import Answer


class Radio:
    """A radio link that takes every frame (what it was given is kept to check)."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    def send(self, message: OutboxMessage) -> Answer:
        self.sent.append(message.payload)
        return Answer(status_code=None, body=None, error=None, duration_ms=0, verdict=outbox.DELIVERED)


def queue(database, clock, *, partner: str, n: int) -> None:
    with database.session() as db:
        outbox.enqueue(
            db,
            desk="minesafe",
            kind="buzzer",
            channel=outbox.RADIO,
            partner=partner,
            url="lora://0000000000000001",
            payload={"n": n},
            stream=f"buzzer:{n}",
            now=clock(),
        )


def test_shared_workers_leave_radio_messages_and_the_holder_takes_only_its_sites(database, clock):
    queue(database, clock, partner="radio:north", n=1)
    queue(database, clock, partner="radio:south", n=2)
    shared = Worker(database, schedule=[60], name="shared", clock=clock)
    try:
        assert shared.claim() == []
    finally:
        shared.close()

    radio = Radio()
    holder = Worker(
        database,
        schedule=[1],
        name="radio",
        clock=clock,
        transports={outbox.RADIO: radio},
        channels=(outbox.RADIO,),
        partners=lambda: {"radio:north"},
    )
    try:
        holder.run(stop_when_idle=True)
    finally:
        holder.close()
    assert radio.sent == [{"n": 1}]
    with database.session() as db:
        states = {m.payload["n"]: m.status for m in db.scalars(select(OutboxMessage))}
    assert states == {1: "delivered", 2: "pending"}


def test_the_database_refuses_a_channel_nobody_knows(database, clock):
    queue(database, clock, partner="radio:north", n=1)
    with pytest.raises(IntegrityError), database.session() as db:
        db.execute(text("UPDATE outbox_message SET channel = 'pigeon'"))
