"""Appeals storage: agencies and their services (the catalogue), appeals with their status and dates,
and every move of an appeal (its history, which the citizen and the staff both read)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tocsin.appeals.deadlines import KINDS
from tocsin.appeals.states import Rejection, Status
from tocsin.core.db import Base, JSONDoc, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")
STATUSES = tuple(status.value for status in Status)
REJECTIONS = tuple(code.value for code in Rejection)


class Agency(Base):
    """A government body citizens write to."""

    __tablename__ = "ap_agency"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(40), default="")  # federal, regional, municipal…
    region: Mapped[str] = mapped_column(String(100), default="")


class Service(Base):
    """What one writes to an agency about (an Open311 service): its extra fields as attributes."""

    __tablename__ = "ap_service"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("ap_agency.id"), index=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    group: Mapped[str] = mapped_column(String(100), default="")
    keywords: Mapped[str] = mapped_column(String(500), default="")
    attributes: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc, default=list)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    needs_signature: Mapped[bool] = mapped_column(Boolean, default=False)


class Appeal(Base):
    """One message from a citizen to an agency, from draft to its end.

    ``number`` is given at registration (unique); ``due_on`` is the answer date the law sets from the
    registration (moved once by an extension). The citizen is a reference until accounts exist."""

    __tablename__ = "ap_appeal"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES!r}", name="status_known"),
        CheckConstraint(f"kind IN {KINDS!r}", name="kind_known"),
        CheckConstraint(f"rejection IS NULL OR rejection IN {REJECTIONS!r}", name="rejection_known"),
        CheckConstraint("extensions >= 0 AND extensions <= 1", name="one_extension"),
        Index("ix_ap_appeal_citizen_status", "citizen", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str | None] = mapped_column(String(40), unique=True, nullable=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), index=True)
    citizen: Mapped[str] = mapped_column(String(80))
    agency_id: Mapped[int] = mapped_column(ForeignKey("ap_agency.id"), index=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("ap_service.id"), nullable=True)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    place: Mapped[str] = mapped_column(String(300), default="")
    happened_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    wanted_result: Mapped[str] = mapped_column(Text, default="")
    answer_channel: Mapped[str] = mapped_column(String(20), default="account")
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    registered_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    due_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    extensions: Mapped[int] = mapped_column(Integer, default=0)
    rejection: Mapped[str | None] = mapped_column(String(20), nullable=True)
    rejection_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    linked_to: Mapped[int | None] = mapped_column(ForeignKey("ap_appeal.id"), nullable=True)
    link_kind: Mapped[str | None] = mapped_column(String(20), nullable=True)  # send_again, dispute


class AppealEvent(Base):
    """One move of an appeal: who, when, from which status to which, and what it carried."""

    __tablename__ = "ap_appeal_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    appeal_id: Mapped[int] = mapped_column(ForeignKey("ap_appeal.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)


class NumberSequence(Base):
    """The next registration number per agency and year (``MVD-2026-000042``)."""

    __tablename__ = "ap_number_sequence"

    agency_id: Mapped[int] = mapped_column(ForeignKey("ap_agency.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)
