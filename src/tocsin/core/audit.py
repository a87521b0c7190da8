"""Audit log: one row per state change or staff action, written in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import BigInteger, Integer, String, Table, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from tocsin.core.db import Base, Direct, JSONDoc, UTCDateTime


class AuditEvent(Base):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(100), index=True)
    object_type: Mapped[str] = mapped_column(String(60))
    object_id: Mapped[str] = mapped_column(String(100), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)


AUDIT_TABLE = cast(Table, AuditEvent.__table__)
_INSERT = Direct(insert(AUDIT_TABLE), ["at", "actor", "action", "object_type", "object_id", "detail"])


def record(
    db: Session, *, at: datetime, actor: str, action: str, object_type: str, object_id: Any, **detail: Any
) -> None:
    """Write an audit event in the current transaction (it commits or rolls back with the change).

    A plain INSERT run on the driver, not an object for the session's next flush: every request of
    every desk writes one, and the ORM's unit of work costs several times the statement."""
    row = {"at": at, "actor": actor, "action": action, "object_type": object_type}
    _INSERT.run(db, row | {"object_id": str(object_id), "detail": detail})


def events_for(db: Session, *, object_type: str, object_id: Any) -> list[AuditEvent]:
    """The audit trail of one object, oldest first."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.object_type == object_type, AuditEvent.object_id == str(object_id))
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    return list(db.scalars(query))
