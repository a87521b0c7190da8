"""Tables of notifications: each one sent (with its delivery status, GOV.UK Notify style), and what staff
keep in their profile: contact details, Web Push subscriptions and the channels wanted per kind."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tocsin.core.db import Base, UTCDateTime

CREATED, SENDING, DELIVERED = "created", "sending", "delivered"
TEMPORARY_FAILURE, PERMANENT_FAILURE, TECHNICAL_FAILURE = (
    "temporary-failure",
    "permanent-failure",
    "technical-failure",
)
STATUSES = (CREATED, SENDING, DELIVERED, TEMPORARY_FAILURE, PERMANENT_FAILURE, TECHNICAL_FAILURE)
EMAIL, SMS, PUSH = "email", "sms", "push"
CHANNELS = (EMAIL, SMS, PUSH)
BigId = BigInteger().with_variant(Integer, "sqlite")


class Notification(Base):
    """One message to one recipient on one channel (one per device for push), and how it fared."""

    __tablename__ = "notification"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES!r}", name="status_known"),
        CheckConstraint(f"channel IN {CHANNELS!r}", name="channel_known"),
        CheckConstraint("attempts >= 0", name="attempts_counted"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    channel: Mapped[str] = mapped_column(String(10))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), nullable=True, index=True
    )
    address: Mapped[str] = mapped_column(String(500))  # e-mail, E.164 number or push endpoint
    language: Mapped[str] = mapped_column(String(5))
    subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default=CREATED)
    status_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_message.id", ondelete="SET NULL"), nullable=True, unique=True
    )


class StaffContact(Base):
    """Where a staff user is reached, and in which language (phone stored in E.164)."""

    __tablename__ = "staff_contact"
    __table_args__ = (
        CheckConstraint("phone IS NULL OR phone LIKE '+%'", name="phone_e164"),
        CheckConstraint("email IS NULL OR email LIKE '%_@_%'", name="email_shape"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(16), nullable=True)
    language: Mapped[str | None] = mapped_column(String(5), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PushSubscription(Base):
    """A browser's Web Push subscription (RFC 8030 endpoint, RFC 8291 keys) for one staff user."""

    __tablename__ = "push_subscription"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(String(500), unique=True)
    p256dh: Mapped[str] = mapped_column(String(120))
    auth: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NotifyPreference(Base):
    """The channels a staff user wants for one notification kind (no row: the kind's defaults)."""

    __tablename__ = "notify_preference"

    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    email: Mapped[bool] = mapped_column(Boolean, default=False)
    sms: Mapped[bool] = mapped_column(Boolean, default=False)
    push: Mapped[bool] = mapped_column(Boolean, default=False)
