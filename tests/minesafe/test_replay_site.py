"""Replay with the shipped site YAML: zones, site-wide speed limits and the tracker registry."""

import json

from tocsin.minesafe.replay import load_setup, replay_events
from tocsin.minesafe.site import example_site_path


def line(t: float, id: int, kind: str, x: float, y: float, speed: float, heading: float | None = None) -> str:
    return json.dumps({"t": t, "id": id, "kind": kind, "x": x, "y": y, "speed": speed, "heading": heading})


def test_site_file_gives_zones_and_drops_ids_not_in_the_registry() -> None:
    setup = load_setup(example_site_path())
    assert setup.name == "quarry" and "blast area bench 1" in {z.name for z in setup.zones}
    walk = [line(t, 12, "person", 1200 + 2 * t, 900, 2.0, 90) for t in range(0, 60)]
    events, replay = replay_events([*walk, line(1, 31, "person", 0, 0, 0)], setup=setup)
    assert ("zone_approach", "raised") in {(e["type"], e["state"]) for e in events}
    assert ("zone_entry", "raised") in {(e["type"], e["state"]) for e in events}
    assert replay.engine.stats["dropped:unknown_id"] == 1
    assert all(e["ids"] == [12] for e in events)


def test_swing_zone_of_the_site_follows_its_excavator() -> None:
    setup = load_setup(example_site_path())
    lines = [line(0, 6, "excavator", 900, 600, 0)]
    lines += [line(t, 15, "person", 900, 640 - 2 * t, 2.0, 180) for t in range(0, 15)]
    events, _ = replay_events(lines, setup=setup)
    zone = [e for e in events if e.get("zone") == "ore excavator swing"]
    assert [(e["type"], e["state"]) for e in zone] == [("zone_approach", "raised"), ("zone_entry", "raised")]
