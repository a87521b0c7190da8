"""Tables of the interventions desk, for the three roles a deployment may play (OI, OC, DO)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tocsin.core.db import Base, JSONDoc, UTCDateTime

CODE = String(4)
REF = String(50)


class DeclarationState(StrEnum):
    """Where a DO declaration's M1 or M3 stands."""

    NONE = "none"  # not sent (no end yet, for M3)
    QUEUED = "queued"
    OK = "ok"  # the OI accepted it
    KO = "ko"  # the OI refused it: correctable for a while
    FAILED = "failed"  # not delivered after every retry
    CLOSED = "closed"  # refused and not corrected in time
    REPLACED = "replaced"  # a refused M1 made good by the M3 that followed


class M5State(StrEnum):
    """Where the OC's M5 for an intervention stands."""

    NONE = "none"
    SENT = "sent"
    OK = "ok"
    KO = "ko"
    FAILED = "failed"


def _one_of(column: str, states: type[StrEnum]) -> CheckConstraint:
    return CheckConstraint(f"{column} IN {tuple(s.value for s in states)!r}", name=f"{column}_known")


class DeskConfig(Base):
    """The loaded YAML configuration: our code, roles and the rules' tunable values (one row)."""

    __tablename__ = "iv_config"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    self_code: Mapped[str] = mapped_column(CODE)
    roles: Mapped[list[str]] = mapped_column(JSONDoc)
    timezone: Mapped[str] = mapped_column(String(60))
    retention_days: Mapped[int] = mapped_column(Integer, default=365)
    retry_schedule: Mapped[list[int]] = mapped_column(JSONDoc)
    uses_flow3: Mapped[bool] = mapped_column(Boolean, default=True)
    m5_delay_minutes: Mapped[int] = mapped_column(Integer, default=30)
    m5_cutoff: Mapped[str] = mapped_column(String(5), default="23:30")
    late_m1_minutes: Mapped[int] = mapped_column(Integer, default=15)
    long_intervention_hours: Mapped[int] = mapped_column(Integer, default=8)
    future_tolerance_minutes: Mapped[int] = mapped_column(Integer, default=5)
    ko_resend_hours: Mapped[int] = mapped_column(Integer, default=48)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revision: Mapped[str] = mapped_column(String(32), default="", server_default="")  # new at every load


class Partner(Base):
    """Another operator: where we call it, how it calls us, and which roles it plays towards us."""

    __tablename__ = "iv_partner"

    code: Mapped[str] = mapped_column(CODE, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    roles: Mapped[list[str]] = mapped_column(JSONDoc)
    url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    client_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    credential: Mapped[str | None] = mapped_column(String(80), nullable=True)
    uses_flow3: Mapped[bool] = mapped_column(Boolean, default=True)


class PM(Base):
    """A point de mutualisation (shared street cabinet), the OI that owns it and the OCs present at it."""

    __tablename__ = "iv_pm"

    ref: Mapped[str] = mapped_column(REF, primary_key=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    oi_code: Mapped[str | None] = mapped_column(CODE, nullable=True)
    ocs: Mapped[list[PMOperator]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def oc_codes(self) -> list[str]:
        return sorted(o.oc_code for o in self.ocs)


class PMOperator(Base):
    __tablename__ = "iv_pm_oc"

    pm_ref: Mapped[str] = mapped_column(ForeignKey("iv_pm.ref", ondelete="CASCADE"), primary_key=True)
    oc_code: Mapped[str] = mapped_column(ForeignKey("iv_partner.code"), primary_key=True)


class Intervention(Base):
    """OI side: one intervention, identified by (Code_DO, Ref_Interv_DO) and by our Ref_Interv_OI."""

    __tablename__ = "iv_intervention"
    __table_args__ = (
        UniqueConstraint("code_do", "ref_do"),
        CheckConstraint("fin IS NULL OR fin >= debut", name="end_after_start"),
        CheckConstraint("created_from IN ('M1', 'M3')", name="created_from_known"),
        Index("ix_iv_intervention_pm_debut", "pm", "debut"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref_oi: Mapped[str] = mapped_column(REF, unique=True)
    code_do: Mapped[str] = mapped_column(CODE)
    ref_do: Mapped[str] = mapped_column(REF)
    pm: Mapped[str] = mapped_column(REF)
    natures: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc)
    debut: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    fin: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_from: Mapped[str] = mapped_column(String(2))
    m1_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    m3_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    m1_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    m3_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    flags: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InboundMessage(Base):
    """Every accepted message, as received, with what we made of it (new, duplicate, modified…)."""

    __tablename__ = "iv_inbound"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    kind: Mapped[str] = mapped_column(String(4))
    sender: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(REF, index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    reply: Mapped[dict[str, Any]] = mapped_column(JSONDoc)


class Rejection(Base):
    """A KO answer we gave: logged for support, never stored as a message (so a fix is not a duplicate)."""

    __tablename__ = "iv_rejection"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    path: Mapped[str] = mapped_column(String(60))
    sender: Mapped[str] = mapped_column(String(40))
    http_status: Mapped[int] = mapped_column(Integer)
    code: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)


class ImpactReport(Base):
    """OI side: one M5 from one OC for one intervention (a re-send replaces the previous one)."""

    __tablename__ = "iv_impact_report"
    __table_args__ = (UniqueConstraint("intervention_id", "oc_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    intervention_id: Mapped[int] = mapped_column(ForeignKey("iv_intervention.id", ondelete="CASCADE"))
    oc_code: Mapped[str] = mapped_column(CODE)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    flags: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    impacts: Mapped[list[Impact]] = relationship(cascade="all, delete-orphan", lazy="selectin")


class Impact(Base):
    """One customer line reported down by an OC, with whether it counts as HS and why not."""

    __tablename__ = "iv_impact"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("iv_impact_report.id", ondelete="CASCADE"), index=True)
    pto: Mapped[str] = mapped_column(String(50))
    pbo: Mapped[str] = mapped_column(String(100))
    tube: Mapped[str] = mapped_column(String(50))
    fibre: Mapped[str] = mapped_column(String(50))
    position: Mapped[str] = mapped_column(String(100))
    cut_at: Mapped[datetime] = mapped_column(UTCDateTime)
    counted: Mapped[bool] = mapped_column(Boolean)
    flags: Mapped[list[str]] = mapped_column(JSONDoc, default=list)


class ReceivedIntervention(Base):
    """OC side: an intervention announced to us by an OI (M2, then M4)."""

    __tablename__ = "iv_received"
    __table_args__ = (UniqueConstraint("code_oi", "ref_oi"), _one_of("m5_state", M5State))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_oi: Mapped[str] = mapped_column(CODE)
    ref_oi: Mapped[str] = mapped_column(REF)
    pm: Mapped[str] = mapped_column(REF, index=True)
    pbos: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    debut: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    fin: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    m2_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    m4_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    digest: Mapped[str] = mapped_column(String(64))
    receipts: Mapped[int] = mapped_column(Integer, default=1)
    m5_state: Mapped[str] = mapped_column(String(20), default=M5State.NONE)
    m5_message_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    m5_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LineCut(Base):
    """OC side: one line cut from the outage feed (CSV upload or JSON API)."""

    __tablename__ = "iv_line_cut"
    __table_args__ = (UniqueConstraint("pto", "cut_at"), Index("ix_iv_line_cut_pm_cut", "pm", "cut_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cut_at: Mapped[datetime] = mapped_column(UTCDateTime)
    pm: Mapped[str] = mapped_column(REF)
    pto: Mapped[str] = mapped_column(String(50))
    pbo: Mapped[str] = mapped_column(String(100), default="inconnu")
    tube: Mapped[str] = mapped_column(String(50), default="inconnu")
    fibre: Mapped[str] = mapped_column(String(50), default="inconnu")
    position: Mapped[str] = mapped_column(String(100), default="inconnu")
    dying_gasp: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(20))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OutageImport(Base):
    """OC side: one outage file received (CSV on the page, JSON from the feed API), imported or refused.
    The file itself, when it passed the scan, is a core ``stored_file`` owned by this row."""

    __tablename__ = "iv_outage_import"
    __table_args__ = (
        CheckConstraint(
            "(refused IS NULL AND imported IS NOT NULL AND duplicates IS NOT NULL)"
            " OR (refused IS NOT NULL AND imported IS NULL AND duplicates IS NULL)",
            name="imported_or_refused",
        ),
        CheckConstraint("size IS NULL OR size >= 0", name="size_not_negative"),
        CheckConstraint("imported >= 0 AND duplicates >= 0", name="counts_not_negative"),
        CheckConstraint("source IN ('csv', 'api')", name="known_source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(20))
    file_name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # None: cut off at the limit
    imported: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duplicates: Mapped[int | None] = mapped_column(Integer, nullable=True)
    refused: Mapped[str | None] = mapped_column(String(200), nullable=True)  # English template (oc.po)
    refused_values: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)  # fills the template


class Declaration(Base):
    """DO side: one presence of a technician at a PM, declared to the OI as M1 then M3."""

    __tablename__ = "iv_declaration"
    __table_args__ = (
        CheckConstraint("fin IS NULL OR fin >= debut", name="end_after_start"),
        _one_of("m1_state", DeclarationState),
        _one_of("m3_state", DeclarationState),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref_do: Mapped[str] = mapped_column(REF, unique=True)
    code_oi: Mapped[str] = mapped_column(CODE)
    pm: Mapped[str] = mapped_column(REF)
    natures: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc)
    debut: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    fin: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    technician: Mapped[str] = mapped_column(String(80))
    # The technician's team when declaring: supervisors see the declarations of their teams only.
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    m1_state: Mapped[str] = mapped_column(String(10), default=DeclarationState.NONE)
    m3_state: Mapped[str] = mapped_column(String(10), default=DeclarationState.NONE)
    ref_oi: Mapped[str | None] = mapped_column(REF, nullable=True)
    last_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_description: Mapped[str | None] = mapped_column(String(200), nullable=True)
    ko_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
