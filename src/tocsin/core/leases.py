"""Named leases shared by processes through the database: one holder at a time, renewed while it lives,
free to others once it lapses, and handed back on request (a process asks for what its configuration
gives it; the process that stood in for it lets go at its next renewal).

Every change is one conditional UPDATE, atomic on SQLite and PostgreSQL alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from tocsin.core.db import Base, UTCDateTime, affected


class Lease(Base):
    __tablename__ = "lease"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(120), nullable=True)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    wanted_by: Mapped[str | None] = mapped_column(String(120), nullable=True)


@dataclass(frozen=True)
class Holding:
    """Who holds a lease now (None: nobody, or lapsed), who asked for it, and whether anyone ever held
    it (a lapsed or released lease, against one nobody has taken yet)."""

    owner: str | None
    wanted_by: str | None
    ever_held: bool = False


def hold(db: Session, name: str, owner: str, *, now: datetime, ttl: timedelta) -> bool:
    """Take ``name`` for ``owner`` if it is free, lapsed or already ``owner``'s, until ``now + ttl``;
    True when ``owner`` holds it. Taking it clears a request from ``owner``."""
    _exists(db, name)
    free = or_(Lease.owner.is_(None), Lease.owner == owner, Lease.until.is_(None), Lease.until < now)
    taken = db.execute(
        update(Lease)
        .where(Lease.name == name, free)
        .values(owner=owner, until=now + ttl)
        .execution_options(synchronize_session=False)
    )
    if affected(taken):
        db.execute(
            update(Lease)
            .where(Lease.name == name, Lease.wanted_by == owner)
            .values(wanted_by=None)
            .execution_options(synchronize_session=False)
        )
        return True
    return False


def ask(db: Session, name: str, owner: str) -> None:
    """Ask the current holder of ``name`` to hand it over to ``owner``."""
    _exists(db, name)
    db.execute(
        update(Lease)
        .where(Lease.name == name, or_(Lease.owner.is_(None), Lease.owner != owner))
        .values(wanted_by=owner)
        .execution_options(synchronize_session=False)
    )


def release(db: Session, name: str, owner: str) -> bool:
    """Let go of ``name`` if ``owner`` holds it; True if it did."""
    freed = db.execute(
        update(Lease)
        .where(and_(Lease.name == name, Lease.owner == owner))
        .values(owner=None)
        .execution_options(synchronize_session=False)
    )
    return bool(affected(freed))


def holding(db: Session, name: str, *, now: datetime) -> Holding:
    row = db.execute(select(Lease.owner, Lease.until, Lease.wanted_by).where(Lease.name == name)).first()
    if row is None:
        return Holding(None, None)
    owner, until, wanted_by = row
    live = owner is not None and until is not None and until >= now
    return Holding(owner if live else None, wanted_by, until is not None)


def _exists(db: Session, name: str) -> None:
    """The lease's row, made on first use (two processes making it at once: one wins, both go on)."""
    if db.get(Lease, name) is not None:
        return
    try:
        with db.begin_nested():
            db.add(Lease(name=name))
    except IntegrityError:
        pass
