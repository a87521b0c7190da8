"""The OsmAnd endpoint over real HTTP (uvicorn on loopback, httpx): every form Traccar Client sends is
taken, and bad, hostile or unknown input is answered 400/413 naming the field with nothing passed on."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn

from tocsin.minesafe.ingest.osmand import KNOTS_PER_MPS, PhoneFix, osmand_app

KNOWN = {"123456", "902064", "phone-7"}


@dataclass
class Desk:
    """What the endpoint handed on, and a client to talk to it."""

    client: httpx.Client
    counts: Counter[str]
    fixes: list[PhoneFix] = field(default_factory=list)


def _wait_started(server: uvicorn.Server, thread: threading.Thread, seconds: float) -> None:
    """Poll ``server.started`` against a deadline; a thread that died fails at once."""
    deadline = time.monotonic() + seconds
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, list[PhoneFix], Counter[str]]]:
    received: list[PhoneFix] = []
    app = osmand_app(received.extend, KNOWN.__contains__)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # a free port, held from the start so nothing can take it
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait_started(uv, thread, 10.0)
        yield f"http://127.0.0.1:{port}", received, app.state.counts
    finally:
        uv.should_exit = True
        thread.join(timeout=10.0)
        sock.close()
    assert not thread.is_alive()


@pytest.fixture
def desk(server: tuple[str, list[PhoneFix], Counter[str]]) -> Iterator[Desk]:
    url, received, counts = server
    received.clear()
    counts.clear()
    with httpx.Client(base_url=url, timeout=10.0) as client:
        yield Desk(client, counts, received)


SAMPLE = "/?id=123456&timestamp=1377177267&lat=60.0&lon=30.0&speed=19.43844&bearing=90.0&altitude=12&batt=87"


def _check_sample(fixes: list[PhoneFix]) -> None:
    [fix] = fixes
    assert (fix.device, fix.t, fix.latitude, fix.longitude) == ("123456", 1377177267.0, 60.0, 30.0)
    assert fix.speed_mps == pytest.approx(19.43844 / KNOTS_PER_MPS)
    assert (fix.heading, fix.altitude, fix.battery_percent) == (90.0, 12.0, 87.0)


def test_get_with_query(desk: Desk) -> None:
    reply = desk.client.get(SAMPLE)
    assert (reply.status_code, reply.content) == (200, b"")
    _check_sample(desk.fixes)
    assert desk.counts == Counter({"accepted": 1})


def test_post_with_query_and_empty_body(desk: Desk) -> None:
    reply = desk.client.post(SAMPLE, content=b"")
    assert (reply.status_code, reply.content) == (200, b"")
    _check_sample(desk.fixes)


def test_post_form_body(desk: Desk) -> None:
    form = dict(pair.split("=") for pair in SAMPLE[2:].split("&"))
    reply = desk.client.post("/", data=form)
    assert reply.status_code == 200
    _check_sample(desk.fixes)


def test_form_body_wins_over_query(desk: Desk) -> None:
    reply = desk.client.post(
        "/?id=123456&timestamp=1377177267&lat=1&lon=2", data={"lat": "60.0", "lon": "30.0"}
    )
    assert reply.status_code == 200
    assert (desk.fixes[0].latitude, desk.fixes[0].longitude) == (60.0, 30.0)


def test_iso_sample_with_sos(desk: Desk) -> None:
    reply = desk.client.get(
        "/?id=902064&lat=42.06288&lon=-88.23412&timestamp=2016-01-27T18%3A55%3A47Z&hdop=6.0&alarm=sos"
    )
    assert reply.status_code == 200
    [fix] = desk.fixes
    assert fix.sos is True and fix.extras == {"hdop": "6.0"} and fix.t == 1453920947.0


def test_post_json_body_with_a_backlog(desk: Desk) -> None:
    coords = {"latitude": -23.36, "longitude": 119.73, "speed": 8.5, "heading": -1}
    body = {
        "device_id": "phone-7",
        "location": [
            {"timestamp": "2024-05-01T10:00:00Z", "coords": coords, "battery": {"level": 0.5}},
            {"timestamp": 1714557601000, "coords": coords, "battery": {"level": 0.5, "is_charging": True}},
        ],
    }
    reply = desk.client.post("/", json=body)
    assert (reply.status_code, reply.content) == (200, b"")
    assert [f.t for f in desk.fixes] == [1714557600.0, 1714557601.0]
    assert [f.charging for f in desk.fixes] == [None, True]
    assert all(f.speed_mps == 8.5 and f.heading is None and f.battery_percent == 50.0 for f in desk.fixes)


def _refused(desk: Desk, reply: httpx.Response, status: int, text: str) -> None:
    assert (reply.status_code, reply.text) == (status, text)
    assert reply.headers["content-type"].startswith("text/plain")
    assert desk.fixes == []
    assert desk.counts["accepted"] == 0 and sum(desk.counts.values()) == 1


Q = "timestamp=1377177267&lat=60.0&lon=30.0"


@pytest.mark.parametrize(
    ("query", "text"),
    [
        (Q, "id: missing"),
        (f"id=&{Q}", "id: empty"),
        (f"id=555&{Q}", "id: unknown device"),
        ("id=123456&timestamp=1377177267&lat=NaN&lon=30", "lat: not a number"),
        ("id=123456&timestamp=1377177267&lat=inf&lon=30", "lat: not a number"),
        ("id=123456&timestamp=1377177267&lat=91&lon=30", "lat: out of range -90..90"),
        ("id=123456&timestamp=1377177267&lat=60&lon=abc", "lon: not a number"),
        (f"id=123456&{Q}&speed=-1", "speed: out of range 0..200 m/s"),
        ("id=123456&timestamp=%00garbage%ff&lat=60&lon=30", "timestamp: not a time"),
        ("id=123456&lat=60&lon=30", "timestamp: missing"),
    ],
)
def test_bad_query_is_400_naming_the_field(desk: Desk, query: str, text: str) -> None:
    _refused(desk, desk.client.get(f"/?{query}"), 400, text)
    assert desk.counts[f"refused:{text.split(':')[0]}"] == 1


def test_ten_kilobyte_id(desk: Desk) -> None:
    _refused(
        desk,
        desk.client.post("/", data={"id": "7" * 10_000, "timestamp": "1377177267"}),
        400,
        "id: longer than 64 chars",
    )


def test_extras_flood(desk: Desk) -> None:
    flood = {f"k{i}": "v" for i in range(1_000)}
    reply = desk.client.post(f"/?id=123456&{Q}", data=flood)
    _refused(desk, reply, 400, "extras: more than 32 keys")


def test_json_list_of_numbers(desk: Desk) -> None:
    _refused(desk, desk.client.post("/", json=[1, 2, 3]), 400, "body: not a JSON object")


def test_deeply_nested_json(desk: Desk) -> None:
    body = b"[" * 30_000 + b"]" * 30_000
    reply = desk.client.post("/", content=body, headers={"content-type": "application/json"})
    _refused(desk, reply, 400, "body: nested deeper than 20")


def test_json_unknown_device(desk: Desk) -> None:
    body = {
        "device_id": "stranger",
        "location": {"timestamp": 1714557600, "coords": {"latitude": 1, "longitude": 2}},
    }
    _refused(desk, desk.client.post("/", json=body), 400, "id: unknown device")


def test_json_bad_field_path(desk: Desk) -> None:
    body = {
        "device_id": "phone-7",
        "location": [{"timestamp": 1714557600, "coords": {"latitude": 95, "longitude": 2}}],
    }
    _refused(desk, desk.client.post("/", json=body), 400, "location[0].coords.latitude: out of range -90..90")
    assert desk.counts["refused:location.coords.latitude"] == 1


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_seventy_kilobyte_body_is_413(desk: Desk, content_type: str) -> None:
    body = json.dumps({"device_id": "phone-7", "pad": "x" * 70_000}).encode()
    reply = desk.client.post(f"/?id=123456&{Q}", content=body, headers={"content-type": content_type})
    _refused(desk, reply, 413, "body: larger than 65536 bytes")


def test_chunked_body_over_the_limit_is_413(desk: Desk) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(70):
            yield b"x" * 1024

    reply = desk.client.post(f"/?id=123456&{Q}", content=chunks())
    _refused(desk, reply, 413, "body: larger than 65536 bytes")


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(desk: Desk, method: str) -> None:
    reply = desk.client.request(method, f"/?id=123456&{Q}")
    assert reply.status_code == 405
    assert desk.fixes == [] and desk.counts == Counter()


def test_bad_utf8_form_body_is_400_not_500(desk: Desk) -> None:
    reply = desk.client.post(
        f"/?id=123456&{Q}",
        content=b"\xff\xfe\xfd",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    _refused(desk, reply, 400, "body: not UTF-8")
