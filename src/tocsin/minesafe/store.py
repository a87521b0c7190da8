"""What the ingestion keeps: every position taken, each tracker's latest state, and alarms from the
engine's events through their lifecycle — raised, acknowledged by an operator (who, when), cleared."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from tocsin.core import audit, live
from tocsin.core.errors import DomainError
from tocsin.minesafe import alerts
from tocsin.minesafe.model import AlarmEvent, Report
from tocsin.minesafe.models import Alarm, Position, Tracker
from tocsin.minesafe.site import Site

RAISED, ACKNOWLEDGED, CLEARED = "raised", "acknowledged", "cleared"
OPEN = (RAISED, ACKNOWLEDGED)
LEVELS = {"INFO": 0, "WARNING": 1, "DANGER": 2}
TOPIC = "minesafe"  # live topic of the dispatch pages
BATTERY_STATES = ("ok", "first_empty", "both_empty")  # a radio tracker's two 18650 cells
_POSITIONS = cast(Table, Position.__table__)


def instant(t: float) -> datetime:
    """Engine time (Unix seconds) as a UTC instant."""
    return datetime.fromtimestamp(t, UTC)


@dataclass(frozen=True)
class LinkQuality:
    """How the masts heard a radio tracker's latest frame: the loudest hearing and how many masts."""

    rssi: float | None
    snr: float | None
    masts: int


def save_reports(
    db: Session,
    reports: list[Report],
    sites: Mapping[str, Site],
    links: Mapping[str, LinkQuality] | None = None,
) -> None:
    """Positions in one round trip, each tracker's latest fix, and its link quality when given."""
    if not reports:
        return
    rows = [_position_row(report, sites[report.site]) for report in reports]
    db.execute(insert(_POSITIONS), rows)
    latest: dict[str, dict[str, Any]] = {}
    for report, row in zip(reports, rows, strict=True):
        latest[report.tracker] = row | {"kind": report.kind.value}
    known = {t.id: t for t in db.scalars(select(Tracker).where(Tracker.id.in_(latest)))}
    for tracker_id, row in latest.items():
        tracker = known.get(tracker_id) or _new_tracker(db, tracker_id, row)
        known[tracker_id] = tracker
        if tracker.last_at is None or row["at"] > tracker.last_at:
            _set_fix(tracker, row)
    _set_batteries(known, reports)
    for tracker_id, link in (links or {}).items():
        if tracker_id in known:
            tracker = known[tracker_id]
            tracker.link_rssi, tracker.link_snr, tracker.link_masts = link.rssi, link.snr, link.masts
    _heard_again(db, {tracker_id: row["at"] for tracker_id, row in latest.items()})


def _heard_again(db: Session, heard: Mapping[str, datetime]) -> None:
    """A tracker that reports is not silent: its open "no signal" alarm is cleared here too, so it clears
    even when the engine that raised it is gone (the ingestion restarted and the new one never knew)."""
    keys = {alarm_key_of("silent", (tracker,)): tracker for tracker in heard}
    for alarm in db.scalars(select(Alarm).where(Alarm.key.in_(keys), Alarm.state.in_(OPEN))):
        at = heard[keys[alarm.key]]
        alarm.state, alarm.cleared_at, alarm.updated_at = CLEARED, at, max(alarm.updated_at, at)


def close_unconfirmed(
    db: Session, *, sites: Iterable[str], confirmed: set[str], before: datetime, now: datetime
) -> int:
    """After the ingestion (re)starts, open alarms of ``sites`` raised ``before`` it that its engines have
    not raised again (``confirmed`` keys) describe a state nobody watches any more: they are cleared, the
    reason kept in ``detail`` and audited; a danger still there is raised again by the engine. "No
    signal" alarms stay: they clear when the tracker is heard."""
    query = select(Alarm).where(
        Alarm.site.in_(list(sites)), Alarm.state.in_(OPEN), Alarm.raised_at < before, Alarm.type != "silent"
    )
    closed = [alarm for alarm in db.scalars(query) if alarm.key not in confirmed]
    for alarm in closed:
        alarm.state, alarm.cleared_at, alarm.updated_at = CLEARED, now, max(alarm.updated_at, now)
        alarm.detail = dict(alarm.detail) | {"cleared": "not confirmed after the ingestion restarted"}
        audit.record(
            db,
            at=now,
            actor="minesafe",
            action="minesafe.alarm_unconfirmed",
            object_type="alarm",
            object_id=alarm.id,
        )
    if closed:
        db.flush()
        live.publish(db, topic=TOPIC, data={"alarms": sorted(a.id for a in closed)}, now=now)
    return len(closed)


def _set_batteries(trackers: Mapping[str, Tracker], reports: list[Report]) -> None:
    """Each tracker's newest battery report: a radio tracker's cells, a phone's percentage (a report
    that says nothing of its battery changes nothing)."""
    for report in reports:
        if report.battery is None and report.battery_percent is None:
            continue
        tracker, at = trackers[report.tracker], instant(report.t)
        if tracker.battery_at is not None and at < tracker.battery_at:
            continue
        tracker.battery_at = at
        if report.battery in BATTERY_STATES:
            tracker.battery_state = report.battery
        if report.battery_percent is not None:
            tracker.battery_percent = report.battery_percent


def _position_row(report: Report, site: Site) -> dict[str, Any]:
    latitude, longitude = site.grid.to_wgs84(report.x, report.y)
    return {
        "site": report.site,
        "tracker": report.tracker,
        "at": instant(report.t),
        "x": report.x,
        "y": report.y,
        "latitude": latitude,
        "longitude": longitude,
        "speed": report.speed,
        "heading": report.heading,
        "sos": report.sos,
    }


def _new_tracker(db: Session, tracker_id: str, row: dict[str, Any]) -> Tracker:
    tracker = Tracker(id=tracker_id, site=row["site"], kind=row["kind"], label="", sos=False, silent=False)
    db.add(tracker)
    return tracker


HEADING_FROM_TRACK_M = 3.0  # a shorter step is mostly GNSS noise: keep the heading the track gave


def _set_fix(tracker: Tracker, row: dict[str, Any]) -> None:
    heading = row["heading"] if row["heading"] is not None else _track_heading(tracker, row)
    tracker.last_at, tracker.x, tracker.y = row["at"], row["x"], row["y"]
    tracker.latitude, tracker.longitude = row["latitude"], row["longitude"]
    tracker.speed, tracker.heading, tracker.sos, tracker.silent = row["speed"], heading, row["sos"], False


def _track_heading(tracker: Tracker, row: dict[str, Any]) -> float | None:
    """A radio packet carries no heading: the bearing from the previous fix (degrees clockwise from
    grid north), the previous heading for a short step, none when standing."""
    if tracker.x is None or tracker.y is None or row["speed"] < 0.5:
        return None
    dx, dy = row["x"] - tracker.x, row["y"] - tracker.y
    if math.hypot(dx, dy) < HEADING_FROM_TRACK_M:
        return tracker.heading
    return math.degrees(math.atan2(dx, dy)) % 360.0


def save_events(db: Session, events: Iterable[AlarmEvent], *, site: str, now: datetime) -> list[Alarm]:
    """The engine's events applied to the alarms (and silent flags); returns the alarms changed, whose
    numbers go to the dispatch pages live."""
    changed = [alarm for event in events if (alarm := _apply(db, event, site)) is not None]
    if changed:
        db.flush()
        alerts.first_call(db, changed, now=now)
        live.publish(db, topic=TOPIC, data={"alarms": sorted({a.id for a in changed})}, now=now)
    return changed


def alarm_key(event: AlarmEvent) -> str:
    """An alarm's identity across the engine's events: its type, its trackers, its zone."""
    return alarm_key_of(event.type, event.ids, event.zone)


def alarm_key_of(kind: str, trackers: Iterable[str], zone: str | None = None) -> str:
    return "|".join([kind, ",".join(sorted(trackers)), zone or ""])[:300]


def _apply(db: Session, event: AlarmEvent, site: str) -> Alarm | None:
    if event.type == "silent":
        _set_silent(db, event)
    key, at = alarm_key(event), instant(event.t)
    alarm = db.scalar(select(Alarm).where(Alarm.key == key, Alarm.state.in_(OPEN)).order_by(Alarm.id.desc()))
    if event.state == "cleared":
        if alarm is None:
            return None
        alarm.state, alarm.cleared_at, alarm.updated_at = CLEARED, at, at
        return alarm
    if event.state != "raised":
        return None  # muted: the buzzer's business, the alarm stays as it is
    if alarm is None:
        alarm = Alarm(site=site, key=key, type=event.type, trackers=sorted(event.ids), raised_at=at)
        alarm.state, alarm.level = RAISED, event.level.value
        db.add(alarm)
    elif LEVELS[event.level.value] > LEVELS.get(alarm.level, 0) and alarm.state == ACKNOWLEDGED:
        alarm.state, alarm.acknowledged_at, alarm.acknowledged_by = RAISED, None, None  # worse: ack again
        alarm.notified_step, alarm.notified_at = None, None  # and call people again
    alarm.level, alarm.updated_at, alarm.zone = event.level.value, at, event.zone
    alarm.distance = event.distance
    alarm.detail = dict(event.detail) | _geometry(event)
    return alarm


def _geometry(event: AlarmEvent) -> dict[str, float]:
    found = {"cpa": event.cpa, "tcpa": event.tcpa}
    return {name: value for name, value in found.items() if value is not None}


def _set_silent(db: Session, event: AlarmEvent) -> None:
    for tracker in db.scalars(select(Tracker).where(Tracker.id.in_(event.ids))):
        tracker.silent = event.state == "raised"


def acknowledge(db: Session, alarm_id: int, *, by: str, now: datetime) -> Alarm:
    """An operator takes an alarm in hand; acknowledging twice changes nothing, a cleared alarm too
    keeps who acknowledged it last. Audited."""
    alarm = db.get(Alarm, alarm_id, with_for_update=True)
    if alarm is None:
        raise DomainError(f"no alarm {alarm_id}", field="id")
    if alarm.acknowledged_at is None:
        alarm.acknowledged_at, alarm.acknowledged_by = now, by[:100]
        if alarm.state == RAISED:
            alarm.state = ACKNOWLEDGED
        alarm.updated_at = max(alarm.updated_at, now)
        audit.record(
            db,
            at=now,
            actor=by,
            action="minesafe.alarm_acknowledged",
            object_type="alarm",
            object_id=alarm.id,
        )
        live.publish(db, topic=TOPIC, data={"alarms": [alarm.id]}, now=now)
    return alarm
