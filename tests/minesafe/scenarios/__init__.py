"""Scenario replay files of the detection engine (written by make_scenarios.py) and helpers to run them."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from tocsin.minesafe.replay import Replay, load_setup, replay_events

HERE = Path(__file__).parent
ZONES = HERE / "zones.json"


def lines(name: str) -> list[str]:
    return (HERE / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()


def reports(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines(name)]


def run(
    name: str, *, zones: bool = False, mode: str = "base", own: int | None = None
) -> list[dict[str, Any]]:
    """Alarm events of a scenario file (cached: tests must not change them)."""
    events, _ = run_with_summary(name, zones=zones, mode=mode, own=own)
    return events


@lru_cache(maxsize=64)
def run_with_summary(
    name: str, *, zones: bool = False, mode: str = "base", own: int | None = None
) -> tuple[list[dict[str, Any]], Replay]:
    setup = load_setup(ZONES) if zones else None
    return replay_events(lines(name), setup=setup, mode=mode, own=own)


def raised(events: list[dict[str, Any]], kind: str | None = None) -> list[dict[str, Any]]:
    return [e for e in events if e["state"] == "raised" and (kind is None or e["type"] == kind)]


def brief(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """(t, type, level, ids, state) of each event: what the scenario tests compare."""
    return [(e["t"], e["type"], e["level"], tuple(e["ids"]), e["state"]) for e in events]


def first(events: list[dict[str, Any]], kind: str, level: str) -> dict[str, Any]:
    return next(e for e in events if e["type"] == kind and e["level"] == level and e["state"] == "raised")
