"""Failed sign-ins and token requests, counted per key (a user, a client, an address) in the database,
so every web process sees the same count; past a few free failures each new one locks the key for a
doubling delay (1 s, 2 s, 4 s … up to a cap). A locked key is refused before any password is checked,
so an attacker in a loop costs one indexed read per request, not an argon2 computation.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from tocsin.core.db import Base, UTCDateTime, affected


class AuthThrottle(Base):
    __tablename__ = "auth_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


@dataclass(frozen=True)
class Policy:
    """``free`` failures are allowed; the next ones lock for base·2ⁿ seconds, at most ``cap``;
    a key with no failure for ``forget_after`` seconds starts again from zero."""

    free: int = 5
    base: float = 1.0
    cap: float = 900.0
    forget_after: float = 900.0

    def lock_for(self, failures: int) -> float:
        beyond = failures - self.free
        return 0.0 if beyond <= 0 else min(self.cap, self.base * 2 ** min(beyond - 1, 30))


def locks(db: Session, keys: Iterable[str], *, now: datetime) -> dict[str, datetime]:
    """The keys among ``keys`` that are locked now, with the end of each lock."""
    rows = db.execute(
        select(AuthThrottle.key, AuthThrottle.locked_until).where(
            AuthThrottle.key.in_(list(keys)), AuthThrottle.locked_until > now
        )
    )
    return {key: until for key, until in rows if until is not None}


def seconds_left(ends: Iterable[datetime], now: datetime) -> int | None:
    """Whole seconds until the latest of these lock ends, or None when there is none."""
    latest = max(ends, default=None)
    return None if latest is None else max(1, int((latest - now).total_seconds() + 0.999))


def locked_for(db: Session, keys: Iterable[str], *, now: datetime) -> int | None:
    """Whole seconds until the latest lock among ``keys`` ends, or None when none is locked."""
    return seconds_left(locks(db, keys, now=now).values(), now)


class KnownLocks:
    """Locks this process has already read, kept until they end: a locked key asked again and again is
    refused from memory. Bounded, and only ever shorter-lived than the lock in the database."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._until: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def left(self, keys: Iterable[str], now: datetime) -> int | None:
        with self._lock:
            ends = [u for k in keys if (u := self._until.get(k)) is not None and u > now]
        return seconds_left(ends, now)

    def remember(self, found: dict[str, datetime]) -> None:
        with self._lock:
            if len(self._until) + len(found) > self.size:
                self._until.clear()
            self._until.update(found)


def failed(db: Session, keys: Iterable[str], *, now: datetime, policy: Policy) -> None:
    """Count one failure against each key and lock the keys that are past their free failures."""
    forget = now - timedelta(seconds=policy.forget_after)
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    for key in keys:
        first = insert(AuthThrottle).values(key=key, failures=1, last_failure_at=now)
        statement = first.on_conflict_do_update(
            index_elements=[AuthThrottle.key],
            set_={
                "failures": case((AuthThrottle.last_failure_at < forget, 1), else_=AuthThrottle.failures + 1),
                "last_failure_at": now,
            },
        ).returning(AuthThrottle.failures)
        failures = int(db.execute(statement).scalar_one())
        pause = policy.lock_for(failures)
        if pause > 0:
            db.execute(
                update(AuthThrottle)
                .where(AuthThrottle.key == key)
                .values(locked_until=now + timedelta(seconds=pause))
            )


def succeeded(db: Session, keys: Iterable[str]) -> None:
    """Forget the failures of these keys (a right password clears its user's count)."""
    db.execute(delete(AuthThrottle).where(AuthThrottle.key.in_(list(keys))))


def purge(db: Session, *, now: datetime, policy: Policy) -> int:
    """Drop keys that are neither locked nor recently failed; returns how many."""
    forget = now - timedelta(seconds=policy.forget_after)
    result = db.execute(
        delete(AuthThrottle).where(
            AuthThrottle.last_failure_at < forget,
            (AuthThrottle.locked_until.is_(None)) | (AuthThrottle.locked_until < now),
        )
    )
    return affected(result)
