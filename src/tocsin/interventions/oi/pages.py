"""Staff pages of the OI role: interventions and their timeline, rejected messages, deliveries (not
delivered yet, failed) with manual retry, the referential (PMs, partners) and statistics with a chart
and CSV exports. The interventions list and the deliveries page update themselves (``core.live``).

Times are stored in UTC and shown in the desk's time zone (``DeskConfig.timezone``) through the page's
core formatter (``fmt`` in templates); date filters are local days. Lists sort by a ``sort`` input.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Select, String, cast, exists, func, select
from sqlalchemy.orm import Session, aliased

from tocsin.core import audit, auth, live, outbox, search
from tocsin.core.exports import FORMATS, Table, export
from tocsin.core.live.stream import live_stream
from tocsin.core.outbox import OutboxMessage
from tocsin.core.web import DB, check_csrf, formatter_of, path_to, require_staff, shell_of
from tocsin.core.web.deliveries import cause, failure_in_words
from tocsin.core.web.inputs import BIGINT_KEY, Inputs, Pager, Sort, Sorting, names_a_row, notice_count
from tocsin.interventions.flows import DESK, INTERVENTIONS_TOPIC, PATHS
from tocsin.interventions.models import (
    PM,
    DeskConfig,
    Impact,
    ImpactReport,
    InboundMessage,
    Intervention,
    Partner,
    Rejection,
)
from tocsin.interventions.oi import stats as desk_stats
from tocsin.interventions.oi.search import INTERVENTIONS, values_of

router = APIRouter(prefix="/interventions/oi", include_in_schema=False)


READER_ROLES, OPERATOR_ROLES = ("operator", "viewer"), ("operator",)
READERS = require_staff(*READER_ROLES)
OPERATORS = require_staff(*OPERATOR_ROLES)
# What the live pages listen to: interventions changed, this desk's messages queued or attempted.
LIST_TOPICS = (INTERVENTIONS_TOPIC, f"outbox.{DESK}")
DELIVERIES_TOPICS = (outbox.QUEUED_TOPIC, f"outbox.{DESK}")
WAITING_SHOWN = 50  # messages not delivered yet shown at once, newest first
MAX_STATS_DAYS = 366
MAX_QUEUED = 10_000_000  # more than the outbox would ever hold of one desk's failed messages

FLAGS = {
    "hd_in_future": ("HD in the future", "The start (HD) was later than the receipt of M1 or M3."),
    "hf_in_future": ("HF in the future", "The end (HF) was later than the receipt of M3."),
    "long_intervention": ("Long intervention", "Between HD and HF the intervention lasted implausibly long."),
    "late_m1": ("Late M1", "M1 arrived long after the start (HD)."),
    "m3_before_m1": ("M3 before M1", "The end (M3) came first; M2 and M4 were both sent."),
    "modified": ("Modified", "The DO re-sent the declaration with other values."),
    "m1_after_m3": ("M1 after M3", "An M1 arrived after the M3 and was ignored."),
    "oc_not_present_at_pm": ("OC not at this PM", "The OC that sent the M5 is not present at the PM."),
    "after_midnight": ("After midnight", "The M5 arrived after midnight of the intervention day."),
    "before_end": ("Before the end", "The M5 arrived before the intervention ended."),
    "pto_unknown": ("PTO unknown", "The line's PTO is unknown, so it does not count."),
    "out_of_window": ("Out of window", "The cut time lies outside [HD, HF], so it does not count."),
    "worked_on_by_do": ("Line worked on", "The DO worked on this very line, so it does not count."),
}
INTERVENTION_FLAGS = (
    "hd_in_future",
    "hf_in_future",
    "long_intervention",
    "late_m1",
    "m3_before_m1",
    "modified",
    "m1_after_m3",
)
OUTCOMES = {
    "created": "created",
    "duplicate": "duplicate",
    "modified": "modified",
    "ignored": "ignored",
    "completed": "completed",
    "stored": "stored",
}
STATUSES = {
    outbox.PENDING: "pending",
    outbox.DELIVERED: "delivered",
    outbox.REJECTED: "rejected",
    outbox.FAILED: "failed",
    outbox.CLOSED: "closed",
}
STATS_TABLES = ("summary", "per_day", "per_pm", "per_do", "delay_per_do")
MAX_SEARCH_CHARS = 200
MAX_EXPORT_ROWS = 5000  # a list export past this is cut (the page says so): filter or search first
LIST_SORTING = Sorting(
    {
        "reference": Intervention.ref_oi,
        "do_reference": Intervention.ref_do,
        "do": Intervention.code_do,
        "pm": Intervention.pm,
        "start": Intervention.debut,
        "end": Intervention.fin,
    },
    default="-start",
    key=Intervention.id,
)
REJECTIONS_SORTING = Sorting(
    {
        "received": Rejection.received_at,
        "endpoint": Rejection.path,
        "sender": Rejection.sender,
        "status": Rejection.http_status,
        "code": Rejection.code,
    },
    default="-received",
    key=Rejection.id,
)
FAILED_SORTING = Sorting(
    {
        "created": OutboxMessage.created_at,
        "kind": OutboxMessage.kind,
        "partner": OutboxMessage.partner,
        "intervention": OutboxMessage.subject,
        "status": OutboxMessage.status,
        "attempts": OutboxMessage.attempts,
    },
    default="-created",
    key=OutboxMessage.id,
)


def local_day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=zone)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return shell_of(request).render(request, template, status_code=status_code, **context)


# Interventions list


@dataclass
class Selection:
    """The interventions a list's filters and search pick, in the list's order."""

    inputs: Inputs
    query: Any
    order: list[Any]
    filters: dict[str, str]
    words: search.Query
    zone: ZoneInfo
    sort: Sort | None  # None: best matches first (a search with no sort chosen)


def _selection(request: Request, db: Session, params: dict[str, str]) -> Selection:
    """Read the list's filters, search box and sort; build the query (searched rows ranked first unless
    the reader chose a sort)."""
    inputs = Inputs(request)
    zone = inputs.zone
    sort = inputs.sort(params["sort"], LIST_SORTING)
    first, last = inputs.day("since", params["since"]), inputs.day("until", params["until"])
    inputs.order("until", first, last)
    status = inputs.choice("status", params["status"], ("started", "ended"), "Choose started or ended.")
    flag = inputs.choice("flag", params["flag"], INTERVENTION_FLAGS, "Choose a flag from the list.")
    typed = params["q"]
    words = search.parse(typed, INTERVENTIONS.language)
    if len(typed) > MAX_SEARCH_CHARS:
        inputs.fail("q", "Type at most {n} characters.", n=MAX_SEARCH_CHARS)
    elif typed.strip() and not words:
        inputs.fail("q", "Type at least one letter or digit to search.")
    query = select(Intervention)
    order = LIST_SORTING.order_by(sort)
    shown: Sort | None = sort
    if words and not inputs.errors:
        hits = search.matches(db, INTERVENTIONS, words)
        query = query.join(hits, hits.c.key == Intervention.id)
        if not sort.chosen:
            order, shown = [hits.c.rank.desc(), *order], None
    if params["pm"]:
        query = query.where(Intervention.pm == params["pm"].strip())
    if params["do"]:
        query = query.where(Intervention.code_do == params["do"].strip().upper())
    if first:
        query = query.where(Intervention.debut >= local_day_start(first, zone))
    if last:
        query = query.where(Intervention.debut < local_day_start(last + timedelta(days=1), zone))
    if status:
        query = query.where(
            Intervention.fin.is_(None) if status == "started" else Intervention.fin.is_not(None)
        )
    if flag:
        query = query.where(cast(Intervention.flags, String).like(f'%"{flag}"%'))
    filters = {**params, "status": status, "flag": flag, "sort": sort.value if sort.chosen else ""}
    return Selection(inputs, query, order, filters, words, zone, shown)


@router.get("/interventions", response_class=HTMLResponse)
def interventions_list(
    request: Request,
    q: str = "",
    pm: str = "",
    since: str = "",
    until: str = "",
    do: str = "",
    status: str = "",
    flag: str = "",
    sort: str = "",
    page: str = "1",
    user: auth.StaffUser = Depends(READERS),
    db: Session = DB,
) -> Response:
    """Interventions, newest start first (best match first when searching) or sorted by a column,
    filtered by PM, local days, DO, status and flag, with references, PM, PBO and PTO searched and their
    matches marked; the page updates itself when one is created or changes."""
    live_after = live.last_number(db)  # before the rows: a change after this reaches the page live
    params = {"q": q, "pm": pm, "since": since, "until": until, "do": do, "status": status, "flag": flag}
    params["sort"] = sort
    chosen = _selection(request, db, params)
    inputs = chosen.inputs
    number = inputs.page(page)
    total = 0 if inputs.errors else db.scalar(select(func.count()).select_from(chosen.query.subquery())) or 0
    pager = Pager(number, total, chosen.filters)
    rows = [] if inputs.errors else _list_rows(db, chosen, offset=pager.offset, limit=pager.size)
    exports = urlencode({k: v for k, v in chosen.filters.items() if v})
    return render(
        request,
        "oi/interventions.html",
        status_code=400 if inputs.errors else 200,
        errors=inputs.errors,
        rows=rows,
        pager=pager,
        filters=chosen.filters,
        searching=bool(chosen.words) and not inputs.errors,
        exports=exports,
        export_limit=MAX_EXPORT_ROWS,
        pms=list(db.scalars(select(PM.ref).order_by(PM.ref))),
        dos=_do_codes(db),
        flag_choices=INTERVENTION_FLAGS,
        FLAGS=FLAGS,
        sort=chosen.sort,
        live_after=live_after,
        current="interventions",
    )


@router.get("/live/interventions")
def interventions_live(request: Request, user: auth.StaffUser = Depends(READERS)) -> Response:
    """Server-sent events for the interventions list: created or changed, messages to the OCs attempted."""
    return live_stream(request, topics=LIST_TOPICS, roles=READER_ROLES)


@router.get("/interventions.{kind}")
def interventions_export(
    request: Request,
    kind: str,
    q: str = "",
    pm: str = "",
    since: str = "",
    until: str = "",
    do: str = "",
    status: str = "",
    flag: str = "",
    sort: str = "",
    user: auth.StaffUser = Depends(READERS),
    db: Session = DB,
) -> Response:
    """What the list's filters and search select, in the list's order, as CSV, XLSX or PDF (at most
    ``MAX_EXPORT_ROWS``)."""
    if kind not in FORMATS:
        raise HTTPException(404, shell_of(request).gettext(request, "No such export format."))
    params = {"q": q, "pm": pm, "since": since, "until": until, "do": do, "status": status, "flag": flag}
    params["sort"] = sort
    chosen = _selection(request, db, params)
    if chosen.inputs.errors:
        raise HTTPException(400, "; ".join(f"{name}: {message}" for name, message in chosen.inputs.errors))
    total = db.scalar(select(func.count()).select_from(chosen.query.subquery())) or 0
    rows = _list_rows(db, chosen, offset=0, limit=MAX_EXPORT_ROWS)
    _ = partial(shell_of(request).gettext, request)
    header = [
        "Ref_Interv_OI",
        "Ref_Interv_DO",
        _("DO"),
        _("PM"),
        _("Start"),
        _("End"),
        _("Flags"),
        "PBO",
        "PTO",
    ]
    header += [_("OCs notified"), _("OCs acknowledged"), _("Impacted customers")]
    body = []
    for row in rows:
        i = row["item"]
        flags = ", ".join(_(FLAGS[f][0]) if f in FLAGS else f for f in i.flags)
        codes = values_of(i)
        body.append(
            [i.ref_oi, i.ref_do, i.code_do, i.pm, i.debut, i.fin, flags, ", ".join(codes["pbo"])]
            + [", ".join(codes["pto"]), row["notified"], row["acknowledged"], row["impacted"]]
        )
    notes = [f"{_(label)}: {value}" for label, value in _described(chosen.filters)]
    notes.append(_("Times are in {zone}.").format(zone=formatter_of(request).zone_name()))
    if total > len(rows):
        notes.append(
            _("The first {n} of {total} interventions, in the list's order.").format(n=len(rows), total=total)
        )
    table = Table(
        _("Interventions"), header, body, notes=notes, zone=chosen.zone, made_at=shell_of(request).clock()
    )
    stamp = shell_of(request).clock().astimezone(chosen.zone).strftime("%Y%m%d-%H%M")
    return export(table, kind=kind, name=f"interventions-{stamp}", lang=request.state.lang).response()


def _described(filters: dict[str, str]) -> list[tuple[str, str]]:
    """The filters in use, as (label, value) for an export's notes."""
    labels = {"q": "Search", "pm": "PM", "since": "Start from (day)", "until": "Start until (day)"}
    labels |= {"do": "DO", "status": "Status", "flag": "Flag", "sort": "Sorted by"}
    return [(labels[k], v) for k, v in filters.items() if v and k in labels]


def _list_rows(db: Session, chosen: Selection, *, offset: int, limit: int) -> list[dict[str, Any]]:
    """A slice of the interventions with their OC and impact counts and search marks (four queries)."""
    page = list(db.scalars(chosen.query.order_by(*chosen.order).offset(offset).limit(limit)))
    marks = search.highlights(db, INTERVENTIONS, chosen.words, [i.id for i in page]) if chosen.words else {}
    refs = [i.ref_oi for i in page]
    notified: dict[str, set[str]] = {r: set() for r in refs}
    acknowledged: dict[str, set[str]] = {r: set() for r in refs}
    sent = select(OutboxMessage.subject, OutboxMessage.partner, OutboxMessage.status).where(
        OutboxMessage.desk == DESK, OutboxMessage.subject.in_(refs)
    )
    for subject, partner, state in db.execute(sent):
        notified[subject].add(partner)
        if state == outbox.DELIVERED:
            acknowledged[subject].add(partner)
    counted = dict(
        db.execute(
            select(ImpactReport.intervention_id, func.count(Impact.id))
            .join(Impact, Impact.report_id == ImpactReport.id)
            .where(ImpactReport.intervention_id.in_([i.id for i in page]), Impact.counted.is_(True))
            .group_by(ImpactReport.intervention_id)
        ).all()
    )
    return [
        {
            "item": i,
            "notified": len(notified[i.ref_oi]),
            "acknowledged": len(acknowledged[i.ref_oi]),
            "impacted": counted.get(i.id, 0),
            "marks": marks.get(i.id, {}),
        }
        for i in page
    ]


def _do_codes(db: Session) -> list[str]:
    used = set(db.scalars(select(Intervention.code_do).distinct()))
    declared = {p.code for p in db.scalars(select(Partner)) if "DO" in p.roles}
    return sorted(used | declared)


# Timeline of one intervention


@router.get("/interventions/{ref_oi}", response_class=HTMLResponse)
def intervention_timeline(
    request: Request,
    ref_oi: str,
    user: auth.StaffUser = Depends(READERS),
    db: Session = DB,
) -> Response:
    """Every message about one intervention, in order, with delivery attempts, reports and audit."""
    intervention = db.scalar(select(Intervention).where(Intervention.ref_oi == ref_oi))
    if intervention is None:
        raise HTTPException(404, shell_of(request).gettext(request, "No intervention has this reference."))
    return render(
        request,
        "oi/timeline.html",
        item=intervention,
        entries=timeline(db, intervention, words=TimelineWords(request)),
        outcomes=OUTCOMES,
        statuses=STATUSES,
        FLAGS=FLAGS,
        current="interventions",
    )


# What the audit log's keys mean on a timeline; the key itself stays in the entry's technical detail.
AUDIT_EVENTS = {
    "interventions.created_from_M1": "Intervention created from the M1 of {actor}.",
    "interventions.created_from_M3": "Intervention created from an M3 of {actor}, with no M1 before it.",
    "interventions.modified_M1": "{actor} changed the declaration with a new M1.",
    "interventions.ended": "Intervention ended by the M3 of {actor}.",
    "interventions.modified_M3": "{actor} changed the end with a new M3.",
    "interventions.impacts_received": "{actor} reported impacted lines (M5): {entries}.",
}
UNKNOWN_EVENT = "Event recorded by {actor}."
HELD = "{kind} waiting: {partner} has not accepted the {earlier} yet, and must receive it first."
HELD_STATE = "Failed attempts of the {earlier} so far: {n}; next attempt on {at}. Last failure: {why}."


class TimelineWords:
    """The timeline's technical facts (answer codes, transport errors, audit keys, a message held
    behind another of its stream) as sentences in the reader's language and zone."""

    def __init__(self, request: Request) -> None:
        self.request, self.fmt = request, formatter_of(request)

    def _(self, text: str, **values: Any) -> str:
        translated = shell_of(self.request).gettext(self.request, text)
        return translated.format(**values) if values else translated

    def answer(self, reply: dict[str, Any]) -> str:
        """Our answer to a message we received."""
        if reply.get("Code_Reponse") == 0:
            return self._("We accepted it.")
        return self._("We refused it: {reason}", reason=reply.get("Libelle_Reponse", ""))

    def attempt(self, attempt: outbox.DeliveryAttempt) -> str:
        """What one delivery attempt came to."""
        why = failure_in_words(self.request, status_code=attempt.status_code, error=attempt.error)
        if why:
            return why
        if attempt.outcome == outbox.DELIVERED:
            return self._("The partner accepted the message.")
        if attempt.outcome == outbox.REJECTED:
            return self._("The partner refused the message.")
        return self._("The attempt failed.")

    def event(self, event: audit.AuditEvent) -> str:
        text = AUDIT_EVENTS.get(event.action, UNKNOWN_EVENT)
        return self._(text, actor=event.actor, entries=event.detail.get("entries", 0))

    def held(self, message: OutboxMessage, earlier: OutboxMessage) -> str:
        """Why a message waits: an earlier one of its stream (the M2 before an M4) is not accepted yet,
        and the outbox delivers a stream in order."""
        held = self._(HELD, kind=message.kind, earlier=earlier.kind, partner=message.partner)
        if not earlier.attempts:
            state = self._("The {earlier} has not been sent yet.", earlier=earlier.kind)
        else:
            why = (
                cause(self.request, earlier.last_error)
                if earlier.last_status_code is None and earlier.last_error
                else failure_in_words(
                    self.request, status_code=earlier.last_status_code, error=earlier.last_error
                ).rstrip(".")
            )
            at = self.fmt.moment(earlier.next_attempt_at)
            state = self._(HELD_STATE, earlier=earlier.kind, n=earlier.attempts, at=at, why=why)
        return f"{held} {state}"


def timeline(db: Session, intervention: Intervention, *, words: TimelineWords) -> list[dict[str, Any]]:
    """Inbound messages with our answers, outbound messages with attempts (and, for a message held
    behind an earlier one of its stream, why), M5 reports, audit events, each with its sentence.

    Entries written in one transaction share a time; they are then shown in causal order: what we
    received, what we stored and logged, then what we sent because of it.
    """
    ref = intervention.ref_oi
    entries: list[dict[str, Any]] = []
    for inbound in db.scalars(select(InboundMessage).where(InboundMessage.subject == ref)):
        entries.append(
            {"type": "inbound", "at": inbound.received_at, "rank": 0, "id": inbound.id, "m": inbound}
            | {"words": words.answer(inbound.reply)}
        )
    for report in db.scalars(select(ImpactReport).where(ImpactReport.intervention_id == intervention.id)):
        entries.append({"type": "report", "at": report.received_at, "rank": 1, "id": report.id, "m": report})
    sent = select(OutboxMessage).where(OutboxMessage.desk == DESK, OutboxMessage.subject == ref)
    messages = list(db.scalars(sent.order_by(OutboxMessage.id)))
    for message in messages:
        attempts = [(a, words.attempt(a)) for a in outbox.attempts_of(db, message.id)]
        earlier = next(
            (
                m
                for m in messages
                if m.stream == message.stream and m.id < message.id and m.status == outbox.PENDING
            ),
            None,
        )
        held = words.held(message, earlier) if earlier and message.status == outbox.PENDING else ""
        entries.append(
            {"type": "outbound", "at": message.created_at, "rank": 3, "id": message.id, "m": message}
            | {"attempts": attempts, "held": held}
        )
    for event in audit.events_for(db, object_type="iv_intervention", object_id=ref):
        entries.append(
            {"type": "audit", "at": event.at, "rank": 2, "id": event.id, "m": event}
            | {"words": words.event(event)}
        )
    return sorted(entries, key=lambda e: (e["at"], e["rank"], e["id"]))


# Rejected messages


@router.get("/rejections", response_class=HTMLResponse)
def rejections(
    request: Request,
    sender: str = "",
    path: str = "",
    since: str = "",
    until: str = "",
    sort: str = "",
    page: str = "1",
    user: auth.StaffUser = Depends(READERS),
    db: Session = DB,
) -> Response:
    """KO answers we gave (never stored as messages), for support, newest first or sorted by a column."""
    inputs = Inputs(request)
    zone = inputs.zone
    order = inputs.sort(sort, REJECTIONS_SORTING)
    paths = sorted({f"/v1/{p}" for p in PATHS.values()})
    path = inputs.choice("path", path, paths, "Choose an endpoint from the list.")
    first, last = inputs.day("since", since), inputs.day("until", until)
    inputs.order("until", first, last)
    number = inputs.page(page)
    query = select(Rejection)
    if sender:
        query = query.where(Rejection.sender == sender.strip())
    if path:
        query = query.where(Rejection.path == path)
    if first:
        query = query.where(Rejection.received_at >= local_day_start(first, zone))
    if last:
        query = query.where(Rejection.received_at < local_day_start(last + timedelta(days=1), zone))
    filters = {"sender": sender, "path": path, "since": since, "until": until}
    filters["sort"] = order.value if order.chosen else ""
    total = 0 if inputs.errors else db.scalar(select(func.count()).select_from(query.subquery())) or 0
    pager = Pager(number, total, filters)
    rows = (
        []
        if inputs.errors
        else list(
            db.scalars(
                query.order_by(*REJECTIONS_SORTING.order_by(order)).offset(pager.offset).limit(pager.size)
            )
        )
    )
    return render(
        request,
        "oi/rejections.html",
        status_code=400 if inputs.errors else 200,
        errors=inputs.errors,
        rows=rows,
        pager=pager,
        filters=filters,
        paths=paths,
        senders=sorted(set(db.scalars(select(Rejection.sender).distinct()))),
        sort=order,
        current="rejections",
    )


# Deliveries: what is not delivered yet, what failed, manual retry


@router.get("/deliveries", response_class=HTMLResponse)
def failed_deliveries(
    request: Request,
    partner: str = "",
    status: str = "",
    since: str = "",
    until: str = "",
    sort: str = "",
    page: str = "1",
    queued: str = "",
    user: auth.StaffUser = Depends(OPERATORS),
    db: Session = DB,
) -> Response:
    """Messages of this desk not delivered yet, and those that failed (or were rejected), by partner and
    creation period, the failed ones sortable; the page updates itself as deliveries are attempted."""
    inputs = Inputs(request)
    status = inputs.choice("status", status, (outbox.FAILED, outbox.REJECTED), "Choose failed or rejected.")
    first, last = inputs.moment("since", since), inputs.moment("until", until)
    inputs.order("until", first, last)
    return _deliveries_page(
        request,
        db,
        inputs,
        filters={"partner": partner, "status": status, "since": since, "until": until, "sort": sort},
        window=(first, last),
        page=inputs.page(page),
        queued=notice_count(queued, highest=MAX_QUEUED),
    )


def _ours(
    statuses: tuple[str, ...], partner: str, window: tuple[datetime | None, datetime | None]
) -> Select[Any]:
    """This desk's messages in ``statuses``, to ``partner`` (if given), created within ``window``."""
    first, last = window
    return outbox.chosen(statuses, desk=DESK, partner=partner, since=first, until=last)


def _deliveries_page(
    request: Request,
    db: Session,
    inputs: Inputs,
    *,
    filters: dict[str, str],
    window: tuple[datetime | None, datetime | None],
    page: int = 1,
    queued: int | None = None,
    status_code: int = 200,
) -> Response:
    live_after = live.last_number(db)  # before the rows: a change after this reaches the page live
    order = inputs.sort(filters.get("sort", ""), FAILED_SORTING)
    filters = {**filters, "sort": order.value if order.chosen else ""}
    states = (filters["status"],) if filters["status"] else (outbox.FAILED, outbox.REJECTED)
    failed = _ours(states, filters["partner"], window)
    waiting = _ours((outbox.PENDING,), filters["partner"], window)
    total = 0 if inputs.errors else db.scalar(select(func.count()).select_from(failed.subquery())) or 0
    waiting_total = (
        0 if inputs.errors else db.scalar(select(func.count()).select_from(waiting.subquery())) or 0
    )
    pager = Pager(page, total, filters)
    newest_first = (OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    rows, waiting_rows = [], []
    if not inputs.errors:
        sorted_failed = failed.order_by(*FAILED_SORTING.order_by(order))
        rows = list(db.scalars(sorted_failed.offset(pager.offset).limit(pager.size)))
        waiting_rows = list(db.scalars(waiting.order_by(*newest_first).limit(WAITING_SHOWN)))
    held = _held(db, [m.id for m in waiting_rows])
    now = shell_of(request).clock()
    return render(
        request,
        "oi/deliveries.html",
        status_code=400 if inputs.errors and status_code == 200 else status_code,
        errors=inputs.errors,
        rows=rows,
        waiting=waiting_rows,
        waiting_total=waiting_total,
        pager=pager,
        filters=filters,
        partners=sorted({p.code for p in db.scalars(select(Partner)) if p.url}),
        statuses=STATUSES,
        queued=queued,
        live_after=live_after,
        why=lambda m: failure_in_words(request, status_code=m.last_status_code, error=m.last_error),
        sending=lambda m: m.lease_owner is not None and m.lease_until is not None and m.lease_until > now,
        due=lambda m: m.next_attempt_at <= now,
        held=held,
        sort=order,
        current="deliveries",
    )


def _held(db: Session, ids: list[int]) -> set[int]:
    """Which of these pending messages wait behind an earlier pending one of their stream (an M4 behind
    its M2): the outbox delivers a stream in order, so their own next attempt is not what they wait for."""
    if not ids:
        return set()
    earlier = aliased(OutboxMessage)
    behind = exists().where(
        earlier.stream == OutboxMessage.stream,
        earlier.id < OutboxMessage.id,
        earlier.status == outbox.PENDING,
    )
    return set(db.scalars(select(OutboxMessage.id).where(OutboxMessage.id.in_(ids), behind)))


@router.get("/live/deliveries")
def deliveries_live(request: Request, user: auth.StaffUser = Depends(OPERATORS)) -> Response:
    """Server-sent events for the deliveries page: messages queued, attempted, sent again."""
    return live_stream(request, topics=DELIVERIES_TOPICS, roles=OPERATOR_ROLES)


@router.post("/deliveries/{message_id}/retry", dependencies=[Depends(check_csrf)])
def retry_one(
    request: Request,
    message_id: int,
    user: auth.StaffUser = Depends(OPERATORS),
    db: Session = DB,
) -> Response:
    """Queue one failed or rejected message again, or send a waiting one now."""
    now = shell_of(request).clock()
    message = db.get(OutboxMessage, message_id) if names_a_row(message_id, highest=BIGINT_KEY) else None
    if message is None or message.desk != DESK:
        raise HTTPException(404, shell_of(request).gettext(request, "No message has this number."))
    if message.status == outbox.PENDING:
        count = outbox.send_now(db, now=now, ids=[message_id])
        ids = [message_id] if count else []
    else:
        statuses = (outbox.FAILED, outbox.REJECTED)
        ids = [m.id for m in outbox.retry_by_hand(db, now=now, ids=[message_id], statuses=statuses)]
    _audit_retry(db, user, now, object_id=message_id, ids=ids)
    return RedirectResponse(
        path_to(request, "failed_deliveries", query={"queued": len(ids)}), status_code=303
    )


@router.post("/deliveries/retry", dependencies=[Depends(check_csrf)])
def retry_many(
    request: Request,
    partner: str = Form("", alias="retry-partner"),
    since: str = Form("", alias="retry-since"),
    until: str = Form("", alias="retry-until"),
    upto: str = Form("", alias="retry-upto"),
    confirmed: str = Form("", alias="confirm"),
    user: auth.StaffUser = Depends(OPERATORS),
    db: Session = DB,
) -> Response:
    """Queue again every failed message to one partner created between two local times, in two steps:
    first a page that says how many, then (``confirm``) the messages counted there, not later ones."""
    inputs = Inputs(request)
    partners = {p.code for p in db.scalars(select(Partner)) if p.url}
    if not partner:
        inputs.fail("retry-partner", "Choose the partner to send to.")
    elif partner not in partners:
        inputs.fail("retry-partner", "Choose a partner from the list.")
    first = inputs.moment("retry-since", since, required=True)
    last = inputs.moment("retry-until", until, required=True)
    inputs.order("retry-until", first, last)
    newest = inputs.number("retry-upto", upto, lowest=0, highest=BIGINT_KEY, default=0) if confirmed else 0
    if inputs.errors:
        filters = {"partner": "", "status": "", "since": "", "until": "", "sort": ""}
        return _deliveries_page(request, db, inputs, filters=filters, window=(None, None), status_code=400)
    failed = _ours((outbox.FAILED,), partner, (first, last)).with_only_columns(OutboxMessage.id)
    if not confirmed:
        chosen = failed.subquery()
        count, newest = db.execute(select(func.count(), func.max(chosen.c.id))).one()
        return render(
            request,
            "oi/retry_confirm.html",
            count=count,
            partner=partner,
            since=since,
            until=until,
            shown_since=first,
            shown_until=last,
            upto=newest or 0,
            current="deliveries",
        )
    now = shell_of(request).clock()
    ids = db.scalars(failed.where(OutboxMessage.id <= newest))
    queued = outbox.retry_by_hand(db, now=now, partner=partner, since=first, until=last, ids=ids)
    _audit_retry(db, user, now, object_id=partner, ids=[m.id for m in queued], since=first, until=last)
    return RedirectResponse(
        path_to(request, "failed_deliveries", query={"queued": len(queued)}), status_code=303
    )


def _audit_retry(db: Session, user: auth.StaffUser, now: datetime, *, object_id: Any, **detail: Any) -> None:
    clean = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in detail.items()}
    audit.record(
        db,
        at=now,
        actor=user.username,
        action="interventions.retry_by_hand",
        object_type="outbox_message",
        object_id=object_id,
        **clean,
    )


# Referential


@router.get("/referential", response_class=HTMLResponse)
def referential(request: Request, user: auth.StaffUser = Depends(READERS), db: Session = DB) -> Response:
    """PMs with the OCs present at each; partners with roles, URL and which credentials exist."""
    inbound = set(db.scalars(select(auth.ApiClient.client_id).where(auth.ApiClient.active.is_(True))))
    partners = [
        {
            "item": p,
            "inbound": p.client_id in inbound,
            "outbound": p.credential is not None,
        }
        for p in db.scalars(select(Partner).order_by(Partner.code))
    ]
    config = db.get(DeskConfig, 1)
    return render(
        request,
        "oi/referential.html",
        config=config,
        pms=list(db.scalars(select(PM).order_by(PM.ref))),
        partners=partners,
        current="referential",
    )


# Statistics


def _stats_period(request: Request, db: Session, since: str, until: str) -> tuple[Inputs, date, date]:
    """The period asked for, defaulting to the last 30 local days."""
    inputs = Inputs(request)
    today = shell_of(request).clock().astimezone(inputs.zone).date()
    last = inputs.day("until", until) or today
    first = inputs.day("since", since) or last - timedelta(days=29)
    inputs.order("until", first, last)
    if not inputs.errors and (last - first).days >= MAX_STATS_DAYS:
        inputs.fail("since", "Choose a period of at most 366 days.")
    return inputs, first, last


@router.get("/statistics", response_class=HTMLResponse)
def statistics_page(
    request: Request,
    since: str = "",
    until: str = "",
    user: auth.StaffUser = Depends(READERS),
    db: Session = DB,
) -> Response:
    """Tables and a chart for the chosen local days, with a CSV link per table."""
    inputs, first, last = _stats_period(request, db, since, until)
    figures = None
    if not inputs.errors:
        figures = desk_stats.statistics(db=db, since=first, until=last, zone=inputs.zone)
    query = urlencode({"since": first.isoformat(), "until": last.isoformat()})
    return render(
        request,
        "oi/statistics.html",
        status_code=400 if inputs.errors else 200,
        errors=inputs.errors,
        stats=figures,
        since=since or first.isoformat(),
        until=until or last.isoformat(),
        query=query,
        tables=STATS_TABLES,
        kinds=FORMATS,
        non_working=partial(_non_working, figures, _=partial(shell_of(request).gettext, request)),
        current="statistics",
    )


@router.get("/statistics/chart.png")
def statistics_chart(
    request: Request,
    since: str = "",
    until: str = "",
    user: auth.StaffUser = Depends(READERS),
    db: Session = DB,
) -> Response:
    """Bar chart of interventions per local day, as PNG."""
    inputs, first, last = _stats_period(request, db, since, until)
    if inputs.errors:
        raise HTTPException(400, "; ".join(f"{name}: {message}" for name, message in inputs.errors))
    figures = desk_stats.statistics(db=db, since=first, until=last, zone=inputs.zone)
    title = shell_of(request).gettext(request, "Interventions per day")
    chart = per_day_png(figures, title, day=formatter_of(request).day)
    return Response(chart, media_type="image/png", headers={"Cache-Control": "no-store"})


def per_day_png(figures: desk_stats.Stats, title: str, *, day: Callable[[date], str]) -> bytes:
    """Draw the per-day counts with matplotlib's Agg canvas (no display, thread-safe Figure), the days
    written as the reader writes them (``day``)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import num2date
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    figure = Figure(figsize=(8, 3), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    days = [d for d, _ in figures.per_day]
    colours = ["#9aa5b1" if d in figures.closed else "#0b5cad" for d in days]  # non-working days grey
    axes.bar(days, [n for _, n in figures.per_day], color=colours)  # type: ignore[arg-type]
    axes.set_title(title)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: day(num2date(value).date())))
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


@router.get("/statistics/{table}.{kind}")
def statistics_export(
    request: Request,
    table: str,
    kind: str,
    since: str = "",
    until: str = "",
    user: auth.StaffUser = Depends(READERS),
    db: Session = DB,
) -> Response:
    """One statistics table as CSV, XLSX or PDF, headers in the reader's language."""
    if table not in STATS_TABLES or kind not in FORMATS:
        raise HTTPException(404, shell_of(request).gettext(request, "No such table."))
    inputs, first, last = _stats_period(request, db, since, until)
    if inputs.errors:
        raise HTTPException(400, "; ".join(f"{name}: {message}" for name, message in inputs.errors))
    figures = desk_stats.statistics(db=db, since=first, until=last, zone=inputs.zone)
    exported = stats_table(figures, table, partial(shell_of(request).gettext, request))
    exported = Table(
        exported.title,
        exported.header,
        exported.rows,
        notes=exported.notes,
        zone=inputs.zone,
        made_at=shell_of(request).clock(),
    )
    name = f"interventions-{table}-{first}-{last}"
    return export(exported, kind=kind, name=name, lang=request.state.lang).response()


def stats_table(figures: desk_stats.Stats, table: str, _: Any) -> Table:
    """One table's title, header and rows; delays in seconds so spreadsheets can compute with them."""

    def seconds(value: timedelta | None) -> int | None:
        return None if value is None else int(round(value.total_seconds()))

    period = _("Interventions whose start (HD) falls between {since} and {until}.")
    notes = [period.format(since=figures.since.isoformat(), until=figures.until.isoformat())]
    if table == "summary":
        share = None if figures.impacted_share is None else round(float(figures.impacted_share), 4)
        average = None if figures.per_working_day is None else round(float(figures.per_working_day), 2)
        header = [_("From"), _("Until"), _("Interventions"), _("With at least one counted impacted customer")]
        header += [_("Share"), _("Median delay from HD to receipt of M1 (s)"), _("Working days")]
        header += [_("Average per working day")]
        row = [figures.since, figures.until, figures.total, figures.with_impacts, share]
        row += [seconds(figures.median_delay), figures.working_days, average]
        return Table(_("Summary"), header, [row], notes=notes)
    if table == "per_day":
        header = [_("Day"), _("Interventions"), _("Non-working day")]
        rows = [[day, n, _non_working(figures, day, _)] for day, n in figures.per_day]
        return Table(_("Interventions per day"), header, rows, notes=notes)
    if table == "per_pm":
        return Table(_("Interventions per PM"), [_("PM"), _("Interventions")], figures.per_pm, notes=notes)
    if table == "per_do":
        return Table(_("Interventions per DO"), [_("DO"), _("Interventions")], figures.per_do, notes=notes)
    header = [_("DO"), _("Median delay from HD to receipt of M1 (s)"), _("Interventions with an M1")]
    rows = [[code, seconds(delay), n] for code, delay, n in figures.delay_per_do]
    return Table(_("Median delay from HD to receipt of M1, per DO"), header, rows, notes=notes)


def _non_working(figures: desk_stats.Stats | None, day: date, _: Any) -> str:
    """Why a day is not worked (a holiday's name, or "Weekend"), or empty for a working day."""
    why = figures.closed.get(day) if figures else None
    return "" if why is None else _("Weekend") if why == "weekend" else why
