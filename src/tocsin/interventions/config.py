"""The desk's YAML configuration: who we are, our partners, the PMs, retries and retention.

``tocsin interventions load-config FILE`` validates the whole file first (every problem named by its
path in the file), then replaces the stored configuration in one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tocsin.core import audit, auth, outbox
from tocsin.core.config import DEFAULT_RETRY_SCHEDULE
from tocsin.core.db import Direct
from tocsin.interventions.models import PM, DeskConfig, Partner, PMOperator

Code = Annotated[str, StringConstraints(pattern=r"^[0-9A-Z]{4}$")]
Ref = Annotated[str, StringConstraints(pattern=r"^[0-9A-Z_-]{1,50}$")]
Role = Literal["OI", "OC", "DO"]
DEFAULT_TIMEZONE = "Europe/Paris"  # the French operators' zone, until a configuration says otherwise
MANAGED_BY = "interventions"  # the clients this file owns (other desks may declare their own)
CREDENTIAL_PREFIX = "iv:"
SCOPES_FOR_ROLE = {"DO": "write:interventions", "OC": "write:clients", "OI": "write:interventions"}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SelfSection(Strict):
    code: Code
    roles: list[Role] = Field(min_length=1)
    name: str = ""


class Outbound(Strict):
    token_url: str = Field(pattern=r"^https?://")
    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)
    scope: str = ""


class PartnerSection(Strict):
    code: Code
    name: str = ""
    roles: list[Role] = Field(min_length=1)
    url: str | None = Field(default=None, pattern=r"^https?://")
    client_id: str | None = Field(default=None, min_length=3, max_length=80)
    client_secret: str | None = Field(default=None, min_length=12)
    outbound: Outbound | None = None
    uses_flow3: bool = True

    @model_validator(mode="after")
    def secret_with_id(self) -> PartnerSection:
        if (self.client_id is None) != (self.client_secret is None):
            raise ValueError("client_id and client_secret go together")
        return self


class PMSection(Strict):
    ref: Ref
    label: str = ""
    oi: Code | None = None
    ocs: list[Code] = Field(default_factory=list)


class M5Section(Strict):
    enabled: bool = True
    delay_minutes: int = Field(default=30, ge=0, le=600)
    cutoff: str = Field(default="23:30", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class FlagSection(Strict):
    late_m1_minutes: int = Field(default=15, ge=1)
    long_intervention_hours: int = Field(default=8, ge=1)
    future_tolerance_minutes: int = Field(default=5, ge=0)


class DeskFile(Strict):
    self_: SelfSection = Field(alias="self")
    timezone: str = DEFAULT_TIMEZONE
    partners: list[PartnerSection] = Field(default_factory=list)
    pms: list[PMSection] = Field(default_factory=list)
    retry_schedule: list[int] = Field(
        default_factory=lambda: list(DEFAULT_RETRY_SCHEDULE), min_length=0, max_length=5
    )
    retention_days: int = Field(default=365, ge=1)
    ko_resend_hours: int = Field(default=48, ge=1)
    secret_overlap_minutes: int = Field(default=0, ge=0, le=7 * 24 * 60)
    m5: M5Section = Field(default_factory=M5Section)
    flags: FlagSection = Field(default_factory=FlagSection)

    @field_validator("timezone")
    @classmethod
    def known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("retry_schedule")
    @classmethod
    def within_a_day(cls, value: list[int]) -> list[int]:
        if any(step <= 0 for step in value) or sum(value) > 24 * 3600:
            raise ValueError("delays must be positive seconds adding up to 24 h at most")
        return value

    @model_validator(mode="after")
    def references_hold(self) -> DeskFile:
        codes = [p.code for p in self.partners]
        problems = [
            f"partners: code {c} listed twice" for c in sorted({c for c in codes if codes.count(c) > 1})
        ]
        ids = [p.client_id for p in self.partners if p.client_id]
        problems += [
            f"partners: client_id {i} listed twice" for i in sorted({i for i in ids if ids.count(i) > 1})
        ]
        ocs = {p.code for p in self.partners if "OC" in p.roles}
        if "OC" in self.self_.roles:
            ocs.add(self.self_.code)
        for index, pm in enumerate(self.pms):
            problems += [
                f"pms[{index}].ocs: {c} is not a partner with role OC" for c in pm.ocs if c not in ocs
            ]
        refs = [p.ref for p in self.pms]
        problems += [f"pms: {r} listed twice" for r in sorted({r for r in refs if refs.count(r) > 1})]
        if problems:
            raise ValueError("; ".join(problems))
        return self


class ConfigError(ValueError):
    """The file is not valid; ``problems`` lists each as 'path: reason'."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def read_config(path: Path) -> DeskFile:
    """Read and validate a configuration file, raising ConfigError with every problem found."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError([f"{path}: {error}"]) from None
    return parse_config(data)


def parse_config(data: object) -> DeskFile:
    if not isinstance(data, dict):
        raise ConfigError(["(top): a mapping with self, partners, pms… is expected"])
    try:
        return DeskFile.model_validate(data)
    except ValidationError as error:
        raise ConfigError([_problem(e) for e in error.errors()]) from None


def _problem(error: Any) -> str:
    path = ".".join(str(p) for p in error["loc"]) or "(top)"
    return f"{path}: {error['msg']}"


def apply_config(
    db: Session, desk_file: DeskFile, *, now: datetime | None = None, actor: str = "cli"
) -> None:
    """Replace the stored configuration with this file's, in the caller's transaction."""
    now = now or datetime.now(UTC)
    me = desk_file.self_
    row = db.get(DeskConfig, 1) or DeskConfig(id=1)
    row.self_code, row.roles, row.timezone = me.code, list(me.roles), desk_file.timezone
    row.retention_days, row.retry_schedule = desk_file.retention_days, list(desk_file.retry_schedule)
    row.uses_flow3, row.m5_delay_minutes, row.m5_cutoff = (
        desk_file.m5.enabled,
        desk_file.m5.delay_minutes,
        desk_file.m5.cutoff,
    )
    row.late_m1_minutes = desk_file.flags.late_m1_minutes
    row.long_intervention_hours = desk_file.flags.long_intervention_hours
    row.future_tolerance_minutes = desk_file.flags.future_tolerance_minutes
    row.ko_resend_hours, row.loaded_at = desk_file.ko_resend_hours, now
    row.revision = uuid.uuid4().hex
    db.info.pop(REFERENTIAL_KEY, None)
    db.add(row)
    revoked = _apply_partners(db, desk_file, me, now)
    _apply_pms(db, desk_file)
    audit.record(
        db,
        at=now,
        actor=actor,
        action="interventions.config_loaded",
        object_type="iv_config",
        object_id=1,
        code=me.code,
        partners=len(desk_file.partners),
        pms=len(desk_file.pms),
        revoked_clients=revoked,
    )


def _apply_partners(db: Session, desk_file: DeskFile, me: SelfSection, now: datetime) -> list[str]:
    """Replace the partners; a partner left out loses its client and tokens, a new secret ends the old
    tokens (after ``secret_overlap_minutes``). Returns the client ids revoked."""
    db.execute(delete(PMOperator))
    db.execute(delete(Partner))
    if "OC" in me.roles:
        db.add(Partner(code=me.code, name=me.name or me.code, roles=["OC"], uses_flow3=desk_file.m5.enabled))
    overlap = timedelta(minutes=desk_file.secret_overlap_minutes)
    credentials, clients = set(), set()
    for p in desk_file.partners:
        if p.code == me.code:
            continue
        credential = f"{CREDENTIAL_PREFIX}{p.code}" if p.outbound else None
        db.add(
            Partner(
                code=p.code,
                name=p.name or p.code,
                roles=list(p.roles),
                url=p.url,
                client_id=p.client_id,
                credential=credential,
                uses_flow3=p.uses_flow3,
            )
        )
        if p.outbound is not None and credential is not None:
            credentials.add(credential)
            outbox.set_credential(
                db,
                name=credential,
                token_url=p.outbound.token_url,
                client_id=p.outbound.client_id,
                client_secret=p.outbound.client_secret,
                scope=p.outbound.scope,
            )
        if p.client_id and p.client_secret:
            clients.add(p.client_id)
            scopes = sorted({SCOPES_FOR_ROLE[r] for r in p.roles if _scope_applies(r, me.roles)})
            auth.upsert_client(
                db,
                client_id=p.client_id,
                secret=p.client_secret,
                owner=p.code,
                scopes=scopes,
                managed_by=MANAGED_BY,
                now=now,
                overlap=overlap,
            )
    outbox.drop_credentials(db, prefix=CREDENTIAL_PREFIX, keep=credentials)
    db.flush()
    return auth.deactivate_missing(db, managed_by=MANAGED_BY, keep=clients)


def _scope_applies(partner_role: str, my_roles: Sequence[str]) -> bool:
    """A DO or OC calls us as OI; an OI calls us as OC (M2/M4 need write:interventions)."""
    if partner_role in ("DO", "OC"):
        return "OI" in my_roles
    return "OC" in my_roles


def _apply_pms(db: Session, desk_file: DeskFile) -> None:
    wanted = {p.ref: p for p in desk_file.pms}
    for pm in db.scalars(select(PM)):
        if pm.ref not in wanted:
            db.delete(pm)
    db.flush()
    for ref, section in wanted.items():
        pm = db.get(PM, ref) or PM(ref=ref)
        pm.label = section.label
        pm.oi_code = section.oi or (desk_file.self_.code if "OI" in desk_file.self_.roles else None)
        pm.ocs = [PMOperator(pm_ref=ref, oc_code=c) for c in sorted(set(section.ocs))]
        db.add(pm)


def configured_zone(db: Session) -> str | None:
    """The time zone of the loaded configuration file, if one is loaded."""
    config = db.get(DeskConfig, 1)
    return config.timezone if config else None


def current(db: Session) -> DeskConfig:
    """The stored configuration; raises LookupError when none was loaded yet."""
    row = db.get(DeskConfig, 1)
    if row is None:
        raise LookupError(
            "no interventions configuration loaded: run `tocsin interventions load-config FILE`"
        )
    return row


@dataclass(frozen=True)
class Referential:
    """What the rules read for every message — our configuration, the OCs at each PM, the partners —
    kept per process and reloaded when the stored configuration's revision changes."""

    config: DeskConfig
    pm_ocs: dict[str, tuple[str, ...]]
    partners: dict[str, Partner]


_referentials: dict[str, Referential] = {}
# Read on the connection, not through the ORM: one small Core statement on every message's path.
_REVISION = Direct(select(DeskConfig.__table__.c.revision).where(DeskConfig.__table__.c.id == 1))
REFERENTIAL_KEY = "interventions.referential"  # in Session.info: (transaction, its referential)


def referential(db: Session) -> Referential:
    """The referential for this database, read again only after a new configuration was loaded; its
    revision is checked once per transaction (the rules and the fan-out of one message share it)."""
    transaction = db.get_transaction()
    seen = db.info.get(REFERENTIAL_KEY)
    if seen is not None and transaction is not None and seen[0] is transaction:
        return seen[1]
    revision = _REVISION.scalar(db, {})
    if revision is None:
        current(db)
    key = str(db.get_bind().engine.url)
    cached = _referentials.get(key)
    if cached is not None and cached.config.revision == revision:
        db.info[REFERENTIAL_KEY] = (db.get_transaction(), cached)
        return cached
    fresh = _load_referential(db)
    _referentials[key] = fresh
    db.info[REFERENTIAL_KEY] = (db.get_transaction(), fresh)
    return fresh


def _load_referential(db: Session) -> Referential:
    config = current(db)
    pm_ocs: dict[str, list[str]] = {ref: [] for ref in db.scalars(select(PM.ref))}
    for pm_ref, oc_code in db.execute(
        select(PMOperator.pm_ref, PMOperator.oc_code).order_by(PMOperator.oc_code)
    ):
        pm_ocs[pm_ref].append(oc_code)
    partners = {p.code: p for p in db.scalars(select(Partner))}
    for row in (config, *partners.values()):
        db.expunge(row)  # detached copies: shared by every request of this process, never written
    return Referential(config, {ref: tuple(ocs) for ref, ocs in pm_ocs.items()}, partners)
