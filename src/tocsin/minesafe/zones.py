"""Hazard zones operators draw (``ms_zone``): their validation, the service that creates, edits and removes
them (audited), and the engine's view of the zones active now (a blast zone only inside its window).

The site file's zones stay as they are (read-only here); a drawn zone may not take one of their names,
because the engine keys a tracker's zone alarms by the zone's name."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import shapely
from shapely.geometry import Polygon
from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.core import audit
from tocsin.core.auth import StaffUser
from tocsin.core.dates import instant
from tocsin.core.errors import DomainError, NotFound
from tocsin.core.files import FileKind, FileRefused, FileStore, StoredFile, Upload
from tocsin.minesafe.model import Kind, Zone
from tocsin.minesafe.models import ZoneRow
from tocsin.minesafe.site import Grid, Site

KINDS = ("blast", "pit_edge", "unstable_slope", "speed")
SPEED_KEYS = ("*", *(kind.value for kind in Kind))
MAX_POINTS = 200
MAX_NAME = 80
MAX_SPEED_KMH = 200.0
MAX_BODY_BYTES = 2 * 1024 * 1024  # far above 200 points: a longer list is refused as too many points
OBJECT_TYPE = "minesafe.zone"

# Reasons (English templates translated by the pages; ``values`` fill them).
NAME_WANTED = "Enter a name of 1 to {n} characters."
NAME_TAKEN = "Another zone of this site is called {name}."
NAME_OF_SITE_FILE = "The site file already has a zone called {name}."
KIND_WANTED = "Choose one of: {kinds}."
POINTS_TOO_FEW = "A zone needs at least 3 points."
POINTS_TOO_MANY = "A zone has at most {n} points."
POINT_WANTED = "Point {i}: enter two numbers, x and y in site metres."
POINT_OUTSIDE = "Point {i} ({x}, {y}) is outside the site grid (0–{w} × 0–{h} m)."
POLYGON_NOT_SIMPLE = "The outline crosses itself or has no area: {why}."
SPEED_WANTED = "Enter a speed above 0 and below {n} km/h."
SPEED_CLASS_UNKNOWN = "{key} is not a tracker class (nor * for every class)."
NUMBER_WANTED = "Enter a number from {low} to {high}."
WINDOW_REVERSED = "The end of the window must come after its start."
MOMENT_WANTED = "Enter a date and time (RFC 3339, with its offset)."
BODY_WANTED = "Send a JSON object."
BODY_TOO_LARGE = "Send at most {n} KB."


@dataclass(frozen=True)
class Problem:
    """One bad field: its name and why (an English template and its values)."""

    field: str
    reason: str
    values: dict[str, Any] = dataclasses.field(default_factory=dict)

    def text(self) -> str:
        return self.reason.format(**self.values)


class ZoneRefused(DomainError):
    """A zone was refused: every bad field with its reason (``problems``), the first one named."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        first = self.problems[0]
        super().__init__(first.text(), field=first.field)


@dataclass(frozen=True)
class ZoneInput:
    """A zone as typed, checked: what ``create_zone`` and ``update_zone`` store."""

    name: str
    kind: str
    polygon: tuple[tuple[float, float], ...]
    speed_limits: dict[str, float]
    min_overspeed_s: float = 3.0
    approach_m: float = 10.0
    active_from: datetime | None = None
    active_until: datetime | None = None


class Checker:
    """Checks each field of a zone, collecting every problem (a page shows them all at once)."""

    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        self.problems: list[Problem] = []

    def fail(self, name: str, reason: str, **values: Any) -> None:
        self.problems.append(Problem(name, reason, values))

    def name(self, value: Any) -> str:
        if not isinstance(value, str) or not 1 <= len(value.strip()) <= MAX_NAME:
            self.fail("name", NAME_WANTED, n=MAX_NAME)
            return ""
        return value.strip()

    def kind(self, value: Any) -> str:
        if not isinstance(value, str) or value not in KINDS:
            self.fail("kind", KIND_WANTED, kinds=", ".join(KINDS))
            return ""
        return value

    def polygon(self, value: Any) -> tuple[tuple[float, float], ...]:
        """At least 3 points, at most ``MAX_POINTS``, each inside the grid, forming a simple polygon."""
        if not isinstance(value, list | tuple):
            self.fail("polygon", POINTS_TOO_FEW)
            return ()
        if len(value) > MAX_POINTS:  # before looking at any point: a huge list costs nothing more
            self.fail("polygon", POINTS_TOO_MANY, n=MAX_POINTS)
            return ()
        if len(value) < 3:
            self.fail("polygon", POINTS_TOO_FEW)
            return ()
        points = []
        for i, item in enumerate(value, start=1):
            pair = _pair(item)
            if pair is None:
                self.fail("polygon", POINT_WANTED, i=i)
                return ()
            x, y = pair
            if not self.grid.contains(x, y):
                w, h = _short(self.grid.width_m), _short(self.grid.height_m)
                self.fail("polygon", POINT_OUTSIDE, i=i, x=_short(x), y=_short(y), w=w, h=h)
                return ()
            points.append((x, y))
        shape = Polygon(points)
        if not shape.is_valid or shape.area <= 0.0:
            self.fail("polygon", POLYGON_NOT_SIMPLE, why=shapely.is_valid_reason(shape))
            return ()
        return tuple(points)

    def speed_limits(self, value: Any) -> dict[str, float]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail("speed_limits", SPEED_CLASS_UNKNOWN, key=str(value)[:40])
            return {}
        limits = {}
        for key, speed in value.items():
            if key not in SPEED_KEYS:
                self.fail("speed_limits", SPEED_CLASS_UNKNOWN, key=str(key)[:40])
                continue
            number = _number(speed)
            if number is None or not 0.0 < number < MAX_SPEED_KMH:
                self.fail(f"speed_limits.{key}", SPEED_WANTED, n=int(MAX_SPEED_KMH))
                continue
            limits[key] = number
        return limits

    def number(self, name: str, value: Any, *, low: float, high: float, default: float) -> float:
        if value is None:
            return default
        number = _number(value)
        if number is None or not low <= number <= high:
            self.fail(name, NUMBER_WANTED, low=_short(low), high=_short(high))
            return default
        return number

    def window(self, start: datetime | None, end: datetime | None) -> None:
        if start is not None and end is not None and end <= start:
            self.fail("active_until", WINDOW_REVERSED)


def _pair(item: Any) -> tuple[float, float] | None:
    if not isinstance(item, list | tuple) or len(item) != 2:
        return None
    x, y = _number(item[0]), _number(item[1])
    return None if x is None or y is None else (x, y)


def _number(value: Any) -> float | None:
    """A finite real number (JSON numbers only: text, booleans, NaN and infinities are not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _short(value: float) -> str:
    return f"{value:g}"


def check_zone(
    checker: Checker, raw: Mapping[str, Any], window: tuple[datetime | None, datetime | None]
) -> ZoneInput:
    """Every field of ``raw`` (a JSON object's shape) checked; raises ``ZoneRefused`` naming each bad one."""
    name = checker.name(raw.get("name"))
    kind = checker.kind(raw.get("kind"))
    typed_badly = any(problem.field == "polygon" for problem in checker.problems)  # the page's lines
    polygon = () if typed_badly else checker.polygon(raw.get("polygon"))
    limits = checker.speed_limits(raw.get("speed_limits"))
    overspeed = checker.number("min_overspeed_s", raw.get("min_overspeed_s"), low=0, high=600, default=3.0)
    approach = checker.number("approach_m", raw.get("approach_m"), low=0, high=1000, default=10.0)
    checker.window(*window)
    if checker.problems:
        raise ZoneRefused(checker.problems)
    return ZoneInput(name, kind, polygon, limits, overspeed, approach, *window)


def zone_from_json(raw: Any, grid: Grid) -> ZoneInput:
    """A zone from the API's JSON object; windows are RFC 3339 instants (or null)."""
    if not isinstance(raw, dict):
        raise ZoneRefused([Problem("body", BODY_WANTED)])
    checker = Checker(grid)
    window = (_instant(checker, raw, "active_from"), _instant(checker, raw, "active_until"))
    return check_zone(checker, raw, window)


def read_json_body(body: bytes) -> Any:
    """The request's JSON (a bounded body; anything unreadable is the ``body`` field's fault)."""
    if len(body) > MAX_BODY_BYTES:
        raise ZoneRefused([Problem("body", BODY_TOO_LARGE, {"n": MAX_BODY_BYTES // 1024})])
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise ZoneRefused([Problem("body", BODY_WANTED)]) from None


def _instant(checker: Checker, raw: Mapping[str, Any], key: str) -> datetime | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    try:
        return instant(value, field=key)
    except DomainError:
        checker.fail(key, MOMENT_WANTED)
        return None


def parse_points_text(text: str, checker: Checker) -> list[Any] | None:
    """The page's textarea: one point a line, "x y" (a comma or a semicolon also separates them)."""
    lines = [line for line in text.replace(";", " ").replace(",", " ").splitlines() if line.strip()]
    if len(lines) > MAX_POINTS:
        checker.fail("polygon", POINTS_TOO_MANY, n=MAX_POINTS)
        return None
    points: list[Any] = []
    for i, line in enumerate(lines, start=1):
        parts = line.split()
        try:
            pair = [float(part) for part in parts]
        except ValueError:
            pair = []
        if len(pair) != 2 or not all(math.isfinite(v) for v in pair):
            checker.fail("polygon", POINT_WANTED, i=i)
            return None
        points.append(pair)
    return points


# --- the service -------------------------------------------------------------------------------------


def live_zones(*, db: Session, site: str) -> list[ZoneRow]:
    """A site's drawn zones not removed, by name."""
    query = select(ZoneRow).where(ZoneRow.site == site, ZoneRow.removed_at.is_(None)).order_by(ZoneRow.name)
    return list(db.scalars(query))


def is_active(row: ZoneRow, now: datetime) -> bool:
    """Inside its window (a zone without one is always active)."""
    return (row.active_from is None or row.active_from <= now) and (
        row.active_until is None or now < row.active_until
    )


def active_zones(*, db: Session, site: str, now: datetime) -> list[ZoneRow]:
    """The drawn zones the engine applies now."""
    return [row for row in live_zones(db=db, site=site) if is_active(row, now)]


def get_zone(*, db: Session, site: str, zone_id: int) -> ZoneRow:
    row = db.get(ZoneRow, zone_id) if 1 <= zone_id <= 2**31 - 1 else None
    if row is None or row.site != site or row.removed_at is not None:
        raise NotFound("no zone has this number", field="zone_id")
    return row


def _check_name(db: Session, site: Site, name: str, *, other_than: int | None = None) -> None:
    if any(zone.name == name for zone in site.zones) or (site.speed_limits and name == "site speed limit"):
        raise ZoneRefused([Problem("name", NAME_OF_SITE_FILE, {"name": name})])
    query = select(ZoneRow.id).where(
        ZoneRow.site == site.name, ZoneRow.name == name, ZoneRow.removed_at.is_(None)
    )
    if other_than is not None:
        query = query.where(ZoneRow.id != other_than)
    if db.scalar(query) is not None:
        raise ZoneRefused([Problem("name", NAME_TAKEN, {"name": name})])


def create_zone(*, db: Session, site: Site, data: ZoneInput, actor: str, now: datetime) -> ZoneRow:
    """Store a new zone on ``site`` (audited)."""
    _check_name(db, site, data.name)
    row = ZoneRow(site=site.name, created_by=actor[:100], updated_at=now)
    _fill(row, data)
    db.add(row)
    db.flush()
    audit.record(
        db,
        at=now,
        actor=actor,
        action="minesafe.zone.created",
        object_type=OBJECT_TYPE,
        object_id=row.id,
        **zone_json(row),
    )
    return row


def update_zone(
    *, db: Session, site: Site, zone_id: int, data: ZoneInput, actor: str, now: datetime
) -> ZoneRow:
    """Change a live zone (audited, with what it was)."""
    row = get_zone(db=db, site=site.name, zone_id=zone_id)
    _check_name(db, site, data.name, other_than=row.id)
    before = zone_json(row)
    _fill(row, data)
    row.updated_at = now
    db.flush()
    audit.record(
        db,
        at=now,
        actor=actor,
        action="minesafe.zone.changed",
        object_type=OBJECT_TYPE,
        object_id=row.id,
        before=before,
        after=zone_json(row),
    )
    return row


def remove_zone(*, db: Session, site: Site, zone_id: int, actor: str, now: datetime) -> ZoneRow:
    """Remove a live zone: the row stays, marked removed (audited)."""
    row = get_zone(db=db, site=site.name, zone_id=zone_id)
    row.removed_at = row.updated_at = now
    db.flush()
    audit.record(
        db,
        at=now,
        actor=actor,
        action="minesafe.zone.removed",
        object_type=OBJECT_TYPE,
        object_id=row.id,
        name=row.name,
    )
    return row


def _fill(row: ZoneRow, data: ZoneInput) -> None:
    row.name, row.kind = data.name, data.kind
    row.polygon = [[x, y] for x, y in data.polygon]
    row.speed_limits = dict(data.speed_limits)
    row.min_overspeed_s, row.approach_m = data.min_overspeed_s, data.approach_m
    row.active_from, row.active_until = data.active_from, data.active_until


def to_zone(row: ZoneRow) -> Zone:
    """The engine's zone of a stored row."""
    return Zone(
        name=row.name,
        kind=row.kind,
        polygon=tuple((float(x), float(y)) for x, y in row.polygon),
        speed_limits={key: float(value) for key, value in row.speed_limits.items()},
        min_overspeed_s=row.min_overspeed_s,
        approach_m=row.approach_m,
    )


def _moment(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def zone_json(row: ZoneRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "site": row.site,
        "name": row.name,
        "kind": row.kind,
        "polygon": row.polygon,
        "speed_limits": row.speed_limits,
        "min_overspeed_s": row.min_overspeed_s,
        "approach_m": row.approach_m,
        "active_from": _moment(row.active_from),
        "active_until": _moment(row.active_until),
        "created_by": row.created_by,
        "updated_at": _moment(row.updated_at),
    }


# --- the orthophoto drawn under a site's map ---------------------------------------------------------

ORTHOPHOTO_READERS = {"operator", "viewer", "admin"}  # who sees the dispatch room sees its background


def _may_read_orthophoto(db: Session, user: StaffUser, owner_id: str) -> bool:
    return bool(ORTHOPHOTO_READERS & set(user.roles))


def _sites_present(db: Session, owner_ids: list[str]) -> set[str]:
    """A site's picture lasts as long as it is the site's (an older one is deleted when replaced)."""
    return set(owner_ids)


ORTHOPHOTOS = FileKind(
    name="minesafe.orthophoto",
    may_read=_may_read_orthophoto,
    owners_present=_sites_present,
    retention=lambda db: None,
    max_bytes=20 * 1024 * 1024,
    accepts=("image/png", "image/jpeg"),
)


def orthophoto(*, db: Session, site: str) -> StoredFile | None:
    """The site's current orthophoto (its newest upload)."""
    query = (
        select(StoredFile)
        .where(StoredFile.owner_kind == ORTHOPHOTOS.name, StoredFile.owner_id == site)
        .order_by(StoredFile.uploaded_at.desc(), StoredFile.id.desc())
    )
    return db.scalars(query.limit(1)).first()


def keep_orthophoto(
    *, db: Session, files: FileStore, upload: Upload, site: str, actor: str, now: datetime
) -> StoredFile:
    """Scan and type-check a picture (PNG or JPEG found in its bytes), keep it as the site's orthophoto
    in place of the one before (audited); raises ``FileRefused`` (the upload is then discarded)."""
    try:
        screened = files.screen(upload, kind=ORTHOPHOTOS)
    except FileRefused:
        upload.discard()
        raise
    _drop_orthophotos(db, site)
    stored = files.keep(db, screened=screened, kind=ORTHOPHOTOS, owner_id=site, uploaded_by=actor, now=now)
    audit.record(
        db,
        at=now,
        actor=actor,
        action="minesafe.orthophoto.uploaded",
        object_type=ORTHOPHOTOS.name,
        object_id=site,
        file=stored.id,
        name=stored.name,
        content_type=stored.content_type,
    )
    return stored


def remove_orthophoto(*, db: Session, site: str, actor: str, now: datetime) -> bool:
    """Stop drawing the site's orthophoto (its file goes with the next purge); False when there was none."""
    if not _drop_orthophotos(db, site):
        return False
    audit.record(
        db,
        at=now,
        actor=actor,
        action="minesafe.orthophoto.removed",
        object_type=ORTHOPHOTOS.name,
        object_id=site,
    )
    return True


def _drop_orthophotos(db: Session, site: str) -> int:
    rows = list(
        db.scalars(
            select(StoredFile).where(StoredFile.owner_kind == ORTHOPHOTOS.name, StoredFile.owner_id == site)
        )
    )
    for row in rows:
        db.delete(row)
    db.flush()
    return len(rows)


def map_extras(*, db: Session, site: str, now: datetime) -> dict[str, Any]:
    """What the site maps draw besides the site file: the drawn zones active now and the orthophoto's
    address (None without one); keyword arguments of the ``site_layers`` macro."""
    picture = orthophoto(db=db, site=site)
    url = None if picture is None else f"/minesafe/orthophoto/{site}?v={picture.id}"
    return {"drawn_zones": active_zones(db=db, site=site, now=now), "orthophoto": url}
