"""Minesafe storage: positions history, each tracker's latest state, alarms with their lifecycle."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from tocsin.core.db import Base, JSONDoc, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")


class Position(Base):
    """One position taken (a report the engine checked), in site metres and WGS 84."""

    __tablename__ = "ms_position"
    __table_args__ = (Index("ix_ms_position_tracker_at", "tracker", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site: Mapped[str] = mapped_column(String(60))
    tracker: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    speed: Mapped[float] = mapped_column(Float)
    heading: Mapped[float | None] = mapped_column(Float, nullable=True)
    sos: Mapped[bool] = mapped_column(Boolean, default=False)


class Tracker(Base):
    """A tracker's registry entry and latest fix (what the tracker list shows)."""

    __tablename__ = "ms_tracker"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    site: Mapped[str] = mapped_column(String(60), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(120), default="")
    last_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    x: Mapped[float | None] = mapped_column(Float, nullable=True)
    y: Mapped[float | None] = mapped_column(Float, nullable=True)
    speed: Mapped[float | None] = mapped_column(Float, nullable=True)
    heading: Mapped[float | None] = mapped_column(Float, nullable=True)
    battery_percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    sos: Mapped[bool] = mapped_column(Boolean, default=False)
    silent: Mapped[bool] = mapped_column(Boolean, default=False)
    # The device registry (``registry.py``): who wears it (a person's name and personnel number) or what
    # carries it (a vehicle's name and fleet number); empty while nobody is assigned.
    assigned_to: Mapped[str] = mapped_column(String(120), default="", server_default="")
    personnel_no: Mapped[str] = mapped_column(String(20), default="", server_default="")
    # A radio tracker's two cells as its last report said ("ok", "first_empty", "both_empty"); a phone
    # says a percentage instead (``battery_percent``); ``battery_at``: when either was last reported.
    battery_state: Mapped[str | None] = mapped_column(String(12), nullable=True)
    battery_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # How well the masts hear a radio tracker: its latest frame's loudest hearing and how many masts
    # heard it (None for a phone, which is not on the air).
    link_rssi: Mapped[float | None] = mapped_column(Float, nullable=True)
    link_snr: Mapped[float | None] = mapped_column(Float, nullable=True)
    link_masts: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Alarm(Base):
    """An alarm from raised to cleared; an operator acknowledges it in between (who and when).

    ``key`` is the alarm's identity across the engine's events (type, trackers, zone): one open alarm per
    key; a level rising after an acknowledgement needs a new one."""

    __tablename__ = "ms_alarm"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site: Mapped[str] = mapped_column(String(60), index=True)
    key: Mapped[str] = mapped_column(String(300), index=True)
    type: Mapped[str] = mapped_column(String(30))
    level: Mapped[str] = mapped_column(String(10))
    trackers: Mapped[list[str]] = mapped_column(JSONDoc)
    state: Mapped[str] = mapped_column(String(15), index=True)  # raised, acknowledged, cleared
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    zone: Mapped[str | None] = mapped_column(String(80), nullable=True)
    distance: Mapped[float | None] = mapped_column(Float, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    # Who was called about it (SOS and DANGER): the step reached on the shift's duty list, and when.
    notified_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Duty(Base):
    """Who is called, in order, about a site's urgent alarms during a shift ("day" or "night"): the
    shift supervisor first, then whoever the alarm escalates to when nobody acknowledges it."""

    __tablename__ = "ms_duty"
    __table_args__ = (
        UniqueConstraint("site", "shift", "position"),
        CheckConstraint("shift IN ('day', 'night')", name="shift_known"),
        CheckConstraint("position >= 0", name="position_counted"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(60))
    shift: Mapped[str] = mapped_column(String(5))
    position: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), index=True)


class Mast(Base):
    """A mast's (gateway's) health as ingestion last saw it: connection state, the last frame heard and its
    link quality, the frame counters of its last status; written by ``ingest.masts.keep_masts``."""

    __tablename__ = "ms_mast"

    gateway: Mapped[str] = mapped_column(String(16), primary_key=True)  # EUI, 16 lowercase hex digits
    site: Mapped[str] = mapped_column(String(60), index=True)  # "" when no site of ours owns it
    online: Mapped[bool | None] = mapped_column(Boolean, nullable=True)  # None: the bridge never said
    last_heard: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_rssi: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_snr: Mapped[float | None] = mapped_column(Float, nullable=True)
    rx_received: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rx_ok: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Checkout(Base):
    """A tracker handed out at the gatehouse's charging station for a shift, and taken back (who, when,
    the battery then). A tracker is out at most once at a time (the partial unique index)."""

    __tablename__ = "ms_checkout"
    __table_args__ = (
        Index(
            "uq_ms_checkout_tracker_out",
            "tracker",
            unique=True,
            sqlite_where=text("in_at IS NULL"),
            postgresql_where=text("in_at IS NULL"),
        ),
        Index("ix_ms_checkout_shift", "shift_day", "shift"),
        CheckConstraint("shift IN ('day', 'night')", name="shift_known"),
        CheckConstraint("(in_at IS NULL) = (in_by IS NULL)", name="returned_by_someone"),
        CheckConstraint("in_at IS NULL OR in_at >= out_at", name="returned_after_out"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tracker: Mapped[str] = mapped_column(ForeignKey("ms_tracker.id", ondelete="CASCADE"), index=True)
    person: Mapped[str] = mapped_column(String(120))
    shift_day: Mapped[date] = mapped_column(Date)  # the local day the shift began
    shift: Mapped[str] = mapped_column(String(5))
    out_at: Mapped[datetime] = mapped_column(UTCDateTime)
    out_by: Mapped[str] = mapped_column(String(100))
    in_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    in_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    in_battery_state: Mapped[str | None] = mapped_column(String(12), nullable=True)
    in_battery_percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    note: Mapped[str] = mapped_column(String(500), default="", server_default="")


class ZoneRow(Base):
    """A hazard zone an operator drew (``minesafe.zones``): a polygon in site metres, its kind and speed
    limits, and for a blast its window (``active_from`` .. ``active_until``; any zone may have one).
    Removing one keeps the row (``removed_at``, audited); a live zone's name is unique on its site."""

    __tablename__ = "ms_zone"
    __table_args__ = (
        Index(
            "uq_ms_zone_live_name",
            "site",
            "name",
            unique=True,
            sqlite_where=text("removed_at IS NULL"),
            postgresql_where=text("removed_at IS NULL"),
        ),
        CheckConstraint("kind IN ('blast', 'pit_edge', 'unstable_slope', 'speed')", name="kind_known"),
        CheckConstraint("length(name) BETWEEN 1 AND 80", name="name_length"),
        CheckConstraint(
            "active_from IS NULL OR active_until IS NULL OR active_until > active_from", name="window_ordered"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(60), index=True)
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(20))
    polygon: Mapped[list[list[float]]] = mapped_column(JSONDoc)
    speed_limits: Mapped[dict[str, float]] = mapped_column(JSONDoc, default=dict)
    min_overspeed_s: Mapped[float] = mapped_column(Float, default=3.0)
    approach_m: Mapped[float] = mapped_column(Float, default=10.0)
    active_from: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    active_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
