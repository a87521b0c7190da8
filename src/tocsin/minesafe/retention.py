"""How long positions are kept: every day, positions older than ``TOCSIN_MINESAFE_KEEP_POSITIONS_DAYS``
(90 by default) are deleted, ``BATCH`` rows per statement, each batch committed on its own, so the table
is never locked for long while the ingestion keeps writing. Alarms are kept: they are the site's safety
record; trackers' latest fixes and check-outs are kept too."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tocsin.core.config import get_settings
from tocsin.core.db import affected
from tocsin.core.scheduler import Job
from tocsin.minesafe.models import Position

BATCH = 10_000
RUN_AT = time(3, 30)  # local: the quiet hour between the shifts' middles


def forget_old_positions(
    db: Session, *, now: datetime, keep_days: int | None = None, batch: int = BATCH
) -> str:
    """Delete positions taken more than ``keep_days`` (the setting by default) before ``now``."""
    days = keep_days if keep_days is not None else get_settings().minesafe_keep_positions_days
    cut = now - timedelta(days=days)
    deleted = 0
    while True:
        oldest = select(Position.id).where(Position.at < cut).limit(batch)
        done = affected(db.execute(delete(Position).where(Position.id.in_(oldest.scalar_subquery()))))
        db.commit()  # one short transaction per batch: the lock is let go between them
        deleted += done
        if done < batch:
            return f"{deleted} position(s) older than {days} days deleted"


FORGET_POSITIONS = Job(
    "minesafe.forget_old_positions", 86400, forget_old_positions, daily_at=RUN_AT, zone="Asia/Yekaterinburg"
)
