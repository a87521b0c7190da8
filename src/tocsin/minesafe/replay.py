"""Replay of position reports written as JSON lines through the detection engine (the scenario format).

A line: ``{"t": s, "id": n, "kind": "person|haul_truck|…", "x": m, "y": m, "speed": m/s, "heading": deg?,
"sos": bool?, "button": bool?, "battery": "ok|first_empty|both_empty"?}``. Bad lines are counted with a
reason and skipped. Alarm events come out as plain dicts, ready for ``json.dumps``.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tocsin.minesafe.engine import Engine, EngineConfig
from tocsin.minesafe.model import AlarmEvent, Kind, Report, Zone
from tocsin.minesafe.site import Site

KINDS = {k.value for k in Kind}
DEFAULT_SITE = "default"


class BadLine(ValueError):
    """A replay line that cannot be a report; the message is the reason counted in the summary."""


@dataclass(frozen=True, slots=True)
class SiteSetup:
    """What a site file gives the replay: its name (tracker key prefix), zones and known tracker ids."""

    name: str = DEFAULT_SITE
    zones: tuple[Zone, ...] = ()
    registry: frozenset[str] | None = None


@dataclass(slots=True)
class Replay:
    """Feeds lines to an engine and remembers what was skipped and why."""

    engine: Engine
    site: str = DEFAULT_SITE
    lines: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    first_bad: int | None = None
    _ids: dict[str, Any] = field(default_factory=dict)

    def run(self, lines: Iterable[str]) -> Iterator[dict[str, Any]]:
        """Alarm events (as dicts) of every line, in order; never raises on a bad line."""
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            self.lines += 1
            try:
                report = self.parse(line)
            except BadLine as error:
                self.skipped[str(error)] += 1
                self.first_bad = self.first_bad or number
                continue
            yield from self._feed(report)

    def parse(self, line: str) -> Report:
        """One JSON line as a Report keyed ``site:id``."""
        try:
            data = json.loads(line)
        except (ValueError, RecursionError) as error:
            raise BadLine("not JSON") from error
        if not isinstance(data, dict):
            raise BadLine("not a JSON object")
        raw_id = data.get("id")
        if isinstance(raw_id, bool) or not isinstance(raw_id, int | str) or raw_id == "":
            raise BadLine("bad id")
        kind = data.get("kind")
        if kind not in KINDS:
            raise BadLine("unknown kind")
        key = f"{self.site}:{raw_id}"
        self._ids.setdefault(key, raw_id)
        return Report(
            t=_number(data, "t"),
            tracker=key,
            kind=Kind(kind),
            x=_number(data, "x"),
            y=_number(data, "y"),
            speed=_number(data, "speed"),
            heading=_optional_number(data, "heading"),
            sos=_flag(data, "sos"),
            button=_flag(data, "button"),
            battery=_battery(data),
            site=self.site,
        )

    def summary(self) -> dict[str, Any]:
        """Lines read, skipped (by reason), engine counters and events by type."""
        return {
            "lines": self.lines,
            "skipped": dict(self.skipped),
            "first_bad_line": self.first_bad,
            "engine": dict(sorted(self.engine.stats.items())),
            "events": dict(sorted(self.events.items())),
        }

    def _feed(self, report: Report) -> Iterator[dict[str, Any]]:
        events = self.engine.ingest(report)
        if self.engine.clock is not None:
            events += self.engine.tick(self.engine.clock)
        for event in events:
            self.events[f"{event.type}:{event.state}"] += 1
            yield self.as_dict(event)

    def as_dict(self, event: AlarmEvent) -> dict[str, Any]:
        """An alarm event as a JSON-ready dict, ids as they were written in the replay file."""
        out: dict[str, Any] = {
            "t": event.t,
            "type": event.type,
            "level": event.level.value,
            "ids": [self._ids.get(i, i) for i in event.ids],
            "state": event.state,
        }
        for name in ("distance", "cpa", "tcpa", "zone"):
            value = getattr(event, name)
            if value is not None:
                out[name] = value
        if event.detail:
            out["detail"] = dict(event.detail)
        if "notify" in out.get("detail", {}):
            names = str(out["detail"]["notify"]).split(",")
            out["detail"]["notify"] = [self._ids.get(n, n) for n in names if n]
        return out


def replay_events(
    lines: Iterable[str],
    *,
    setup: SiteSetup | None = None,
    mode: str = "base",
    own: str | int | None = None,
    config: EngineConfig | None = None,
) -> tuple[list[dict[str, Any]], Replay]:
    """Run a whole replay: the events and the Replay (for its summary)."""
    setup = setup or SiteSetup()
    own_key = None if own is None else f"{setup.name}:{own}"
    engine = Engine(config, setup.zones, mode=mode, own_id=own_key, registry=setup.registry)
    replay = Replay(engine, site=setup.name)
    return list(replay.run(lines)), replay


def load_setup(path: str | Path) -> SiteSetup:
    """Zones from a site YAML (``tocsin.minesafe.site``), or from a plain list of Zone fields.

    The plain form (JSON or YAML) is a list, or ``{"zones": [...]}``, of mappings with the fields of
    ``model.Zone``; tracker ids are then not checked against a registry.
    """
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if isinstance(data, dict) and "grid" in data:
        return _from_site(data)
    raw = data.get("zones", []) if isinstance(data, dict) else data
    if not isinstance(raw, list):
        raise ValueError(f"{path}: expected a site file or a list of zones")
    return SiteSetup(zones=tuple(_zone(item, i) for i, item in enumerate(raw)))


def _from_site(data: dict[str, Any]) -> SiteSetup:
    from tocsin.minesafe.site import parse_site

    return site_setup(parse_site(data))


def site_setup(site: Site) -> SiteSetup:
    """A site's zones (its site-wide speed limits as one more zone) and its trackers' ids."""
    zones = list(site.zones)
    if site.speed_limits:
        w, h = site.grid.width_m, site.grid.height_m
        whole = ((0.0, 0.0), (w, 0.0), (w, h), (0.0, h))
        zones.append(Zone("site speed limit", "speed", whole, speed_limits=dict(site.speed_limits)))
    registry = frozenset(site.tracker_key(i) for i in site.trackers)
    return SiteSetup(site.name, tuple(zones), registry)


def _zone(item: Any, index: int) -> Zone:
    if not isinstance(item, dict):
        raise ValueError(f"zones[{index}]: must be a mapping")
    try:
        polygon = tuple((float(x), float(y)) for x, y in item["polygon"])
        follows = item.get("follows")
        follows = None if follows is None else f"{DEFAULT_SITE}:{follows}"
        return Zone(**{**item, "polygon": polygon, "follows": follows})
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"zones[{index}]: {error}") from error


def _number(data: dict[str, Any], key: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadLine(f"bad {key}")
    try:
        value = float(value)
    except OverflowError as error:
        raise BadLine(f"bad {key}") from error
    if not math.isfinite(value):
        raise BadLine(f"bad {key}")
    return value


def _optional_number(data: dict[str, Any], key: str) -> float | None:
    return None if data.get(key) is None else _number(data, key)


def _flag(data: dict[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise BadLine(f"bad {key}")
    return value


def _battery(data: dict[str, Any]) -> str | None:
    value = data.get("battery")
    if value is None or value in ("ok", "first_empty", "both_empty"):
        return value
    raise BadLine("bad battery")
