"""OC side of flow 3: the outage feed (line cuts), the impacted customers of an intervention, and M5.

The spec's HS criteria (§2.1.5) are applied here except one: "not the customer the DO worked on".
M2/M4 are anonymised (no PTO), so the OC cannot know that line; the OI applies that criterion when
it receives the M5 (``service._impact`` flags such entries ``worked_on_by_do`` and does not count them).
Removing terminated customers, which the spec allows, is left to the feed: send only live lines.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tocsin.core import audit, dates, outbox
from tocsin.core.db import affected
from tocsin.core.errors import Conflict, DomainError
from tocsin.interventions import flows
from tocsin.interventions.config import current
from tocsin.interventions.models import DeskConfig, LineCut, M5State, Partner, ReceivedIntervention
from tocsin.interventions.schemas import format_instant

UNKNOWN = "inconnu"
COLUMNS = ("cut_at", "pm", "pto", "pbo", "tube", "fibre", "position", "dying_gasp")
REQUIRED_COLUMNS = ("cut_at", "pm", "pto", "dying_gasp")
MAX_LENGTH = {"pto": 50, "pbo": 100, "tube": 50, "fibre": 50, "position": 100}
MAX_ROWS = 50_000
MAX_FEED_BYTES = 5_000_000
UNKNOWN_WORDS = {"", UNKNOWN, "unknown", "?", "-", "n/a", "na", "null", "none"}
TRUE_WORDS, FALSE_WORDS = {"true", "1", "oui"}, {"false", "0", "non"}
PM_PATTERN = re.compile(r"^[0-9A-Z_-]{1,50}$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
M5_RESULT = "interventions.m5"

# Reasons are fixed English texts so pages can translate them (oc.po; cut_at's come from core.dates).
REQUIRED = "is required"
BAD_PM = "must be a PM reference: capital letters, digits, - and _, 50 at most"
TOO_LONG = "is too long"
CONTROL_CHARS = "contains control characters"
BAD_FLAG = "must be true, false, 1, 0, oui or non"
BAD_ROW = "wrong number of columns"
MISSING_COLUMN = "column missing from the header line"
NOT_AN_OBJECT = "each item must be a JSON object"
NOT_JSON = "must be a JSON list of cuts"
EMPTY_FILE = "the file is empty"
BINARY_FILE = "the file is not text (binary data)"
NOT_UTF8 = "the file is not UTF-8 text: save it as CSV UTF-8"
UNREADABLE = "unreadable CSV: a field is too large or a quote is not closed"
TOO_MANY_ROWS = "too many rows (50 000 at most per import)"
TOO_LARGE = "the file is too large (5 MB at most)"

OUTSIDE_WINDOW = "outside the intervention window"
POWER_CUT = "power cut (dying gasp)"
NO_PTO = "no PTO known"
LATER_CUT = "later cut of a line already counted"


@dataclass(frozen=True)
class RowProblem:
    """One bad value: the line (CSV line number or JSON item number), the field and why."""

    line: int
    field: str
    reason: str


class FeedError(DomainError):
    """The feed was refused as a whole; ``problems`` lists every bad line and field."""

    def __init__(self, problems: list[RowProblem], *, field: str | None = None) -> None:
        first = problems[0]
        super().__init__(first.reason, field=field or f"line {first.line}: {first.field}")
        self.problems = problems


@dataclass(frozen=True)
class ImportResult:
    """What an import did: cuts stored and duplicates (same PTO and time) skipped."""

    imported: int
    duplicates: int


@dataclass(frozen=True)
class Verdict:
    """A cut near an intervention and, when it does not count, why."""

    cut: LineCut
    reason: str | None = None


@dataclass
class Review:
    """The M5 computation for one intervention: the customers counted and the cuts left out."""

    counted: list[LineCut] = field(default_factory=list)
    excluded: list[Verdict] = field(default_factory=list)


def decode_upload(data: bytes) -> str:
    """Text of an uploaded CSV (UTF-8, with or without BOM), refusing binary data and other encodings."""
    if len(data) > MAX_FEED_BYTES:
        raise FeedError([RowProblem(1, "file", TOO_LARGE)])
    if b"\x00" in data:
        raise FeedError([RowProblem(1, "file", BINARY_FILE)])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise FeedError([RowProblem(line, "file", NOT_UTF8)]) from None


def import_cuts_csv(*, db: Session, text: str, now: datetime, actor: str = "system") -> ImportResult:
    """Import a CSV outage feed, all or nothing; every bad line and field is named."""
    rows, problems = _read_csv(text)
    return _store(db, rows, problems, now=now, source="csv", actor=actor)


def add_cuts(
    *, db: Session, cuts: Any, now: datetime, source: str = "api", actor: str = "system"
) -> ImportResult:
    """Import a JSON outage feed (a list of objects with the CSV's fields), all or nothing."""
    if not isinstance(cuts, list):
        raise FeedError([RowProblem(0, "body", NOT_JSON)])
    if len(cuts) > MAX_ROWS:
        raise FeedError([RowProblem(0, "body", TOO_MANY_ROWS)])
    rows: list[tuple[int, dict[str, Any]]] = []
    problems: list[RowProblem] = []
    for number, item in enumerate(cuts, start=1):
        if isinstance(item, dict):
            rows.append((number, item))
        else:
            problems.append(RowProblem(number, "item", NOT_AN_OBJECT))
    return _store(db, rows, problems, now=now, source=source, actor=actor)


def _read_csv(text: str) -> tuple[list[tuple[int, dict[str, Any]]], list[RowProblem]]:
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise FeedError([RowProblem(1, "file", EMPTY_FILE)])
    delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, dict[str, Any]]] = []
    problems: list[RowProblem] = []
    try:
        header = [name.strip().lower() for name in next(reader)]
        problems += [RowProblem(1, c, MISSING_COLUMN) for c in REQUIRED_COLUMNS if c not in header]
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            if len(rows) >= MAX_ROWS:
                raise FeedError([RowProblem(reader.line_num, "file", TOO_MANY_ROWS)])
            if len(values) != len(header):
                problems.append(RowProblem(reader.line_num, "row", BAD_ROW))
                continue
            rows.append((reader.line_num, dict(zip(header, values, strict=True))))
    except csv.Error:
        problems.append(RowProblem(reader.line_num, "file", UNREADABLE))
    return rows, problems


def _store(
    db: Session,
    rows: list[tuple[int, dict[str, Any]]],
    problems: list[RowProblem],
    *,
    now: datetime,
    source: str,
    actor: str,
) -> ImportResult:
    cuts: list[dict[str, Any]] = []
    for line, values in rows:
        cut, bad = _validate(line, values)
        problems += bad
        if cut is not None:
            cuts.append(cut)
    if problems:
        raise FeedError(
            sorted(problems, key=lambda p: (p.line, COLUMNS.index(p.field) if p.field in COLUMNS else 0))
        )
    fresh, duplicates = _without_duplicates(db, cuts)
    db.add_all(LineCut(**cut, source=source, imported_at=now) for cut in fresh)
    db.flush()
    audit.record(
        db,
        at=now,
        actor=actor,
        action="interventions.cuts_imported",
        object_type="iv_line_cut",
        object_id=source,
        imported=len(fresh),
        duplicates=duplicates,
    )
    return ImportResult(imported=len(fresh), duplicates=duplicates)


def _validate(line: int, values: dict[str, Any]) -> tuple[dict[str, Any] | None, list[RowProblem]]:
    """One row in our words (UTC instant, ``inconnu`` for unknown details) or its problems."""
    problems: list[RowProblem] = []
    texts: dict[str, str] = {}
    for name in ("cut_at", "pm", *MAX_LENGTH):
        value = values.get(name)
        text = "" if value is None else str(value).strip()
        if CONTROL.search(text):
            problems.append(RowProblem(line, name, CONTROL_CHARS))
        elif len(text) > MAX_LENGTH.get(name, 50):
            problems.append(RowProblem(line, name, TOO_LONG))
        texts[name] = text
    cut_at, bad_instant = _instant(texts["cut_at"])
    if cut_at is None and not any(p.field == "cut_at" for p in problems):
        problems.append(RowProblem(line, "cut_at", REQUIRED if not texts["cut_at"] else bad_instant))
    if not PM_PATTERN.match(texts["pm"]) and not any(p.field == "pm" for p in problems):
        problems.append(RowProblem(line, "pm", REQUIRED if not texts["pm"] else BAD_PM))
    dying_gasp = _flag(values.get("dying_gasp"))
    if dying_gasp is None:
        problems.append(
            RowProblem(line, "dying_gasp", REQUIRED if _blank(values.get("dying_gasp")) else BAD_FLAG)
        )
    if problems:
        return None, problems
    details = {n: (UNKNOWN if texts[n].lower() in UNKNOWN_WORDS else texts[n]) for n in MAX_LENGTH}
    details["pto"] = "" if details["pto"] == UNKNOWN else details["pto"]
    return {"cut_at": cut_at, "pm": texts["pm"], "dying_gasp": dying_gasp, **details}, []


def _instant(text: str) -> tuple[datetime | None, str]:
    """The cut's time by the core's rule (RFC 3339 with an offset, years 2000–2099), to the second,
    or None and why not."""
    try:
        return dates.instant(text, field="cut_at").replace(microsecond=0), ""
    except DomainError as error:
        return None, error.reason


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if value is not None else ""
    return True if text in TRUE_WORDS else False if text in FALSE_WORDS else None


def _blank(value: Any) -> bool:
    return value is None or str(value).strip() == ""


def _without_duplicates(db: Session, cuts: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Drop cuts already stored or repeated in the feed (same PTO and time)."""
    seen = set(_stored_keys(db, {(c["pto"], c["cut_at"]) for c in cuts}))
    fresh = []
    for cut in cuts:
        key = (cut["pto"], cut["cut_at"])
        if key not in seen:
            seen.add(key)
            fresh.append(cut)
    return fresh, len(cuts) - len(fresh)


def _stored_keys(db: Session, keys: set[tuple[str, datetime]]) -> Iterator[tuple[str, datetime]]:
    if not keys:
        return
    ptos = sorted({pto for pto, _ in keys})
    earliest, latest = min(at for _, at in keys), max(at for _, at in keys)
    for start in range(0, len(ptos), 500):
        query = select(LineCut.pto, LineCut.cut_at).where(
            LineCut.pto.in_(ptos[start : start + 500]), LineCut.cut_at.between(earliest, latest)
        )
        yield from ((pto, cut_at) for pto, cut_at in db.execute(query))


def review(*, db: Session, received: ReceivedIntervention, config: DeskConfig) -> Review:
    """Sort the same-day cuts at the intervention's PM into counted customers and exclusions."""
    if received.fin is None:
        raise Conflict("The intervention has not ended yet (no M4): M5 waits for it.", field="m5")
    zone = ZoneInfo(config.timezone)
    day_start = datetime.combine(received.debut.astimezone(zone).date(), time(), tzinfo=zone)
    day_end = datetime.combine(received.fin.astimezone(zone).date() + timedelta(days=1), time(), tzinfo=zone)
    query = (
        select(LineCut)
        .where(LineCut.pm == received.pm, LineCut.cut_at >= day_start, LineCut.cut_at < day_end)
        .order_by(LineCut.cut_at, LineCut.id)
    )
    result, counted_ptos = Review(), set[str]()
    for cut in db.scalars(query):
        reason = _exclusion(cut, received, counted_ptos)
        if reason is None:
            counted_ptos.add(cut.pto)
            result.counted.append(cut)
        else:
            result.excluded.append(Verdict(cut, reason))
    return result


def _exclusion(cut: LineCut, received: ReceivedIntervention, counted_ptos: set[str]) -> str | None:
    assert received.fin is not None
    if not received.debut <= cut.cut_at <= received.fin:
        return OUTSIDE_WINDOW
    if cut.dying_gasp:
        return POWER_CUT
    if not cut.pto:
        return NO_PTO
    if cut.pto in counted_ptos:
        return LATER_CUT
    return None


def impacted_customers(
    *, db: Session, received: ReceivedIntervention, config: DeskConfig | None = None
) -> list[LineCut]:
    """Customers that count as HS for an ended intervention: one entry per PTO, its earliest cut."""
    return review(db=db, received=received, config=config or current(db)).counted


def m5_body(
    *, received: ReceivedIntervention, customers: Iterable[LineCut], config: DeskConfig
) -> dict[str, Any]:
    """The M5 (client_HS_OC_Par_Inter); no Liste_Clients_HS means no customer impacted."""
    zone = ZoneInfo(config.timezone)
    body: dict[str, Any] = {"Code_OC_impacte": config.self_code, "Ref_Interv_OI": received.ref_oi}
    clients = [
        {
            "PTO": cut.pto,
            "PBO": cut.pbo,
            "Tube": cut.tube,
            "Fibre": cut.fibre,
            "Position_PM_Module_OI": cut.position,
            "HMS_Coupure": format_instant(cut.cut_at, zone),
        }
        for cut in customers
    ]
    if clients:
        body["Liste_Clients_HS"] = clients
    return body


def m5_refusal(
    *, db: Session, received: ReceivedIntervention, config: DeskConfig, now: datetime
) -> str | None:
    """Why an M5 cannot be sent for this intervention now, or None when it can."""
    if not config.uses_flow3:
        return "This OC does not use flow 3: no M5 is sent."
    if "OC" not in config.roles:
        return "This deployment is not configured as an OC."
    if received.fin is None:
        return "The intervention has not ended yet (no M4): M5 waits for it."
    if received.m5_state == M5State.SENT:
        return "An M5 is already on its way to the OI."
    if received.m5_state == M5State.OK:
        return "The OI has already accepted the M5 of this intervention."
    limit = (received.m5_sent_at or now) + timedelta(hours=config.ko_resend_hours)
    if received.m5_state == M5State.KO and now > limit:
        return "The OI rejected this M5 too long ago: the time allowed for a corrected re-send has passed."
    partner = db.get(Partner, received.code_oi)
    if partner is None or not partner.url:
        return "The OI of this intervention is not a partner with a URL in the configuration."
    return None


def queue_m5(*, db: Session, received: ReceivedIntervention, now: datetime, actor: str) -> int:
    """Compute and queue the M5 of an ended intervention (first send, re-send after KO or failure)."""
    config = current(db)
    refusal = m5_refusal(db=db, received=received, config=config, now=now)
    if refusal:
        raise Conflict(refusal, field="m5")
    customers = impacted_customers(db=db, received=received, config=config)
    body = m5_body(received=received, customers=customers, config=config)
    claimed = db.execute(
        update(ReceivedIntervention)
        .where(ReceivedIntervention.id == received.id, ReceivedIntervention.m5_state == received.m5_state)
        .values(m5_state=M5State.SENT, m5_sent_at=now)
    )
    if affected(claimed) != 1:
        raise Conflict("Another M5 for this intervention was queued at the same time.", field="m5")
    partner = db.get(Partner, received.code_oi)
    assert partner is not None
    message_id = flows.send(
        db,
        partner=partner,
        kind="M5",
        payload=body,
        subject=received.ref_oi,
        stream=f"{flows.DESK}:{received.code_oi}:{received.ref_oi}",
        now=now,
        on_result=M5_RESULT,
    )
    received.m5_message_id = message_id
    audit.record(
        db,
        at=now,
        actor=actor,
        action="interventions.m5_queued",
        object_type="iv_received",
        object_id=received.ref_oi,
        customers=len(customers),
        message_id=message_id,
    )
    return message_id


@outbox.on_result(M5_RESULT)
def m5_answered(db: Session, message: outbox.OutboxMessage, outcome: str, body: Any) -> None:
    """R M5 (or giving up): ok, ko (a functional rejection, re-sendable for a while) or failed."""
    received = db.scalar(select(ReceivedIntervention).where(ReceivedIntervention.m5_message_id == message.id))
    if received is None:
        return
    accepted = not isinstance(body, dict) or body.get("Code_Reponse", 0) == 0
    states: dict[str, M5State] = {
        outbox.DELIVERED: M5State.OK if accepted else M5State.KO,
        outbox.REJECTED: M5State.KO,
        outbox.FAILED: M5State.FAILED,
    }
    received.m5_state = states[outcome]
    received.m5_sent_at = message.finished_at


def m5_due_at(received: ReceivedIntervention, config: DeskConfig) -> datetime | None:
    """When the job sends M5: after the configured delay, or at the day's cut-off if that comes first."""
    if received.fin is None:
        return None
    zone = ZoneInfo(config.timezone)
    hour, minute = (int(part) for part in config.m5_cutoff.split(":"))
    cutoff = datetime.combine(received.fin.astimezone(zone).date(), time(hour, minute), tzinfo=zone)
    after_delay = received.fin + timedelta(minutes=config.m5_delay_minutes)
    return max(received.fin, min(after_delay, cutoff))


def send_due_m5(*, db: Session, now: datetime, batch: int = 500) -> str:
    """Job: queue M5 for every ended intervention whose time has come (never with flow 3 off)."""
    try:
        config = current(db)
    except LookupError:
        return "no configuration"
    if not config.uses_flow3 or "OC" not in config.roles:
        return "flow 3 not used"
    query = (
        select(ReceivedIntervention)
        .where(ReceivedIntervention.m5_state == M5State.NONE, ReceivedIntervention.fin <= now)
        .order_by(ReceivedIntervention.fin)
        .limit(batch)
    )
    queued = skipped = 0
    for received in list(db.scalars(query)):
        due = m5_due_at(received, config)
        if due is None or now < due:
            continue
        try:
            queue_m5(db=db, received=received, now=now, actor="job")
            queued += 1
        except Conflict:
            skipped += 1
    return f"{queued} M5 queued, {skipped} skipped"
