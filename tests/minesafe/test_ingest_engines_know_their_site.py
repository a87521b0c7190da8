"""The live ingestion's engines know their site: a person walking into the blast area raises a zone
alarm, the site's speed limit catches a speeding truck, a radio id the site does not register is
refused, and a registered phone is taken."""

from __future__ import annotations

from shapely.geometry import Polygon

from tocsin.minesafe.ingest import simulated
from tocsin.minesafe.ingest.pipeline import Ingestion, Phone
from tocsin.minesafe.ingest.runner import build
from tocsin.minesafe.model import Kind, Report
from tocsin.minesafe.site import load_example_site

SITE = load_example_site()
START = 1_796_000_000.0


def service_and_events():
    phones = {"w7": Phone("w7", SITE.name, Kind.PERSON)}
    events: list = []
    service = build(
        Ingestion({SITE.name: SITE}, simulated.gateways(SITE), phones=phones), on_events=events.extend
    )
    return service, events


def walk(service, tracker: str, kind: Kind, points: list[tuple[float, float]], speed: float = 1.2) -> None:
    for step, (x, y) in enumerate(points):
        report = Report(t=START + step, tracker=tracker, kind=kind, x=x, y=y, speed=speed, site=SITE.name)
        service.accept_reports([report])
        service.batcher.flush()


def test_a_person_walking_into_the_blast_area_raises_a_zone_alarm():
    blast = next(zone for zone in SITE.zones if zone.kind == "blast")
    inside = Polygon(blast.polygon).representative_point()
    service, events = service_and_events()
    path = [(inside.x - 60 + 6 * i, inside.y) for i in range(10)] + [(inside.x, inside.y)] * 3
    walk(service, "phone:w7", Kind.PERSON, path)
    assert {"zone_entry"} <= {e.type for e in events if e.zone == blast.name}


def test_a_radio_id_the_site_does_not_register_is_refused_and_a_phone_is_taken():
    service, events = service_and_events()
    walk(service, f"{SITE.name}:31", Kind.PERSON, [(500.0, 500.0)])
    walk(service, "phone:w7", Kind.PERSON, [(600.0, 600.0)])
    engine = service.batcher.engine(SITE.name)
    assert engine.stats["dropped:unknown_id"] == 1 and engine.position("phone:w7") is not None


def test_the_site_speed_limit_catches_a_speeding_truck():
    service, events = service_and_events()
    fast = 60 / 3.6  # 60 km/h where haul trucks may do 40
    walk(
        service, f"{SITE.name}:0", Kind.HAUL_TRUCK, [(300.0 + 16.7 * i, 300.0) for i in range(8)], speed=fast
    )
    assert any(e.type == "overspeed" and e.ids == (f"{SITE.name}:0",) for e in events)


def test_one_mast_falling_silent_loses_no_tracker_and_shows_in_its_health():
    """The masts hear the same trackers: when one stops (its power lost), the others' copies carry on."""
    from tocsin.minesafe.simulator import SimConfig, simulate

    service, events = service_and_events()
    silent = simulated.gateway_eui(SITE, SITE.masts[0].id)
    for tick in simulate(SITE, SimConfig(seed=3, loss=0.0), 60):
        for topic, payload in simulated.messages(tick, SITE, start=START, region="ru864", json=False):
            if tick.t >= 30 and f"/{silent}/" in topic:
                continue
            service.accept_mqtt(topic, payload)
        service.batcher.flush()
        service.batcher.tick()  # a tracker only the silent mast heard would fall silent here
    engine = service.batcher.engine(SITE.name)
    assert service.masts[silent].last_heard is not None and service.masts[silent].last_heard < START + 30
    others = [health.last_heard for gateway, health in service.masts.items() if gateway != silent]
    assert others and min(others) >= START + 55
    trackers = {f"{SITE.name}:{number}" for number in SITE.trackers}
    assert all(engine.position(tracker) is not None for tracker in trackers)
    assert not [e for e in events if e.type == "silent"]
