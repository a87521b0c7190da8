"""The core's own scheduled work: forget expired tokens and sessions, old throttle counts, the
heartbeats of workers long gone, old live events, notifications past their retention, and files past
their retention or whose owner is gone. The worker runs it beside the desks' jobs (importing ``notify``
here also registers its status handler in the worker)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from tocsin.core import live, notify
from tocsin.core.auth import partners, staff, throttle
from tocsin.core.config import Settings
from tocsin.core.files import FileKind, FileStore
from tocsin.core.outbox import purge_heartbeats
from tocsin.core.scheduler import Job

HEARTBEATS_KEPT = timedelta(days=1)
# Long enough for a browser to come back from a network cut or a sleeping laptop lid; one that comes
# back later is told to reload what it shows (core.live.stream).
LIVE_EVENTS_KEPT = timedelta(minutes=15)


def jobs(settings: Settings, *, file_kinds: Mapping[str, FileKind] | None = None) -> list[Job]:
    """The core's jobs for these settings (the session rules and the files folder come from them) and
    the enabled desks' kinds of files (whose retention and owners decide which files go)."""
    files = FileStore.from_settings(settings)
    rules = staff.SessionRules(
        idle=timedelta(minutes=settings.session_idle_minutes),
        lifetime=timedelta(hours=settings.session_max_hours),
    )

    notifications_kept = timedelta(days=settings.notification_retention_days)

    def tidy(*, db: Session, now: datetime) -> str:
        """Delete what no request can use any more."""
        counts = {
            "tokens": partners.purge_expired_tokens(db, now=now),
            "sessions": staff.purge_sessions(db, now=now, rules=rules),
            "throttle": throttle.purge(db, now=now, policy=throttle.Policy()),
            "heartbeats": purge_heartbeats(db, before=now - HEARTBEATS_KEPT),
            "live events": live.purge(db, before=now - LIVE_EVENTS_KEPT),
            "notifications": notify.purge(db, before=now - notifications_kept),
        }
        counts |= {f"files {k}": n for k, n in files.purge(db, now=now, kinds=file_kinds or {}).items()}
        return ", ".join(f"{name} {count}" for name, count in counts.items())

    return [Job("core.housekeeping", 600, tidy)]
