"""The ChirpStack Gateway Bridge v4's messages, built with the official ``chirpstack-api`` package in both
of the bridge's encodings, reach the engine as one report per frame; anything else is refused with the
field and the reason, counted, and never raises anything but IngestError."""

from __future__ import annotations

import random

import pytest
from chirpstack_api import gw
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp

from tocsin.minesafe.codec import encode_tracker, packet_from_report
from tocsin.minesafe.engine import Engine
from tocsin.minesafe.ingest import chirpstack
from tocsin.minesafe.ingest.pipeline import Batcher, Ingestion
from tocsin.minesafe.ingest.uplinks import IngestError, MastState, MastStats, Uplink
from tocsin.minesafe.model import Kind, Report
from tocsin.minesafe.site import load_example_site

SITE = load_example_site()
MAST_A, MAST_B, STRANGER = "0016c001ff10a235", "0016c001ff10a236", "00000000000000ff"
NOW = 1_796_000_000.0


def frame_of(tracker: int, x: float, y: float, speed: float = 5.0, seq: int = 1) -> bytes:
    report = Report(t=0.0, tracker=SITE.tracker_key(tracker), kind=Kind.HAUL_TRUCK, x=x, y=y, speed=speed)
    return encode_tracker(packet_from_report(report, site=SITE, seq=seq))


def uplink_frame(payload: bytes, gateway: str, *, rssi: int = -87, snr: float = 7.25, at: float | None = NOW):
    rx = gw.UplinkRxInfo(
        gateway_id=gateway, uplink_id=1234, rssi=rssi, snr=snr, crc_status=gw.CRCStatus.CRC_OK
    )
    if at is not None:
        rx.gw_time.CopyFrom(Timestamp(seconds=int(at), nanos=int((at % 1) * 1e9)))
    lora = gw.LoraModulationInfo(bandwidth=125000, spreading_factor=7, code_rate=gw.CodeRate.CR_4_5)
    tx = gw.UplinkTxInfo(frequency=868_900_000, modulation=gw.Modulation(lora=lora))
    return gw.UplinkFrame(phy_payload=payload, tx_info=tx, rx_info=rx)


@pytest.mark.parametrize("as_json", [True, False], ids=["protojson", "protobuf"])
def test_an_uplink_in_either_encoding_is_the_same_uplink(as_json):
    payload = frame_of(3, 1200.0, 700.0)
    message = chirpstack.encode(uplink_frame(payload, MAST_A), json=as_json)
    got = chirpstack.decode(f"ru864/gateway/{MAST_A}/event/up", message, now=NOW + 5)
    assert got == Uplink(
        gateway=MAST_A,
        payload=payload,
        received=NOW,  # the gateway's GPS time, not ours
        rssi=-87.0,
        snr=7.25,
        frequency_hz=868_900_000,
        spreading_factor=7,
        crc_ok=True,
    )


def test_without_a_gateway_time_the_uplink_is_dated_on_arrival_and_the_prefix_is_optional():
    message = chirpstack.encode(uplink_frame(frame_of(1, 10.0, 10.0), MAST_A, at=None), json=True)
    assert chirpstack.decode(f"gateway/{MAST_A}/event/up", message, now=NOW).received == NOW


def test_stats_and_connection_state_feed_the_mast_health():
    stats = gw.GatewayStats(gateway_id=MAST_B, rx_packets_received=120, rx_packets_received_ok=118)
    stats.time.CopyFrom(Timestamp(seconds=int(NOW)))
    stats.location.latitude, stats.location.longitude, stats.location.altitude = 53.44, 34.38, 190.0
    got = chirpstack.decode(f"ru864/gateway/{MAST_B}/event/stats", chirpstack.encode(stats, json=True), now=0)
    assert got == MastStats(
        gateway=MAST_B,
        at=NOW,
        received=120,
        received_ok=118,
        downlinks=0,
        transmitted=0,
        latitude=53.44,
        longitude=34.38,
        altitude=190.0,
    )
    offline = gw.ConnState(gateway_id=MAST_B, state=gw.ConnState.State.OFFLINE)
    topic = f"ru864/gateway/{MAST_B}/state/conn"
    assert chirpstack.decode(topic, chirpstack.encode(offline, json=False), now=0) == MastState(MAST_B, False)
    online = gw.ConnState(gateway_id=MAST_B, state=gw.ConnState.State.ONLINE)
    assert chirpstack.decode(topic, chirpstack.encode(online, json=True), now=0) == MastState(MAST_B, True)


def test_events_tocsin_does_not_use_are_ignored():
    assert chirpstack.decode(f"ru864/gateway/{MAST_A}/event/ack", b"{}", now=NOW) is None


def test_subscriptions_and_the_downlink_topic():
    assert chirpstack.subscriptions("ru864") == [
        "ru864/gateway/+/event/up",
        "ru864/gateway/+/event/stats",
        "ru864/gateway/+/state/conn",
    ]
    assert chirpstack.subscriptions("")[0] == "gateway/+/event/up"
    assert chirpstack.down_topic("ru864", MAST_A) == f"ru864/gateway/{MAST_A}/command/down"


def test_a_downlink_reads_back_as_the_bridge_would_read_it():
    down = chirpstack.downlink(
        b"\x01\x02", gateway=MAST_A, downlink_id=7, frequency_hz=869_100_000, spreading_factor=7, power_dbm=14
    )
    back = json_format.Parse(chirpstack.encode(down, json=True).decode(), gw.DownlinkFrame())
    item = back.items[0]
    assert (back.gateway_id, back.downlink_id, item.phy_payload) == (MAST_A, 7, b"\x01\x02")
    assert item.tx_info.timing.HasField("immediately")
    assert item.tx_info.modulation.lora.polarization_inversion is True


@pytest.mark.parametrize(
    ("topic", "payload", "field"),
    [
        ("ru864/gateway/xyz/event/up", b"{}", "topic"),
        ("ru864/gateway/0016c001ff10a235/event/up/extra", b"{}", "topic"),
        ("gateway/0016c001ff10a235", b"{}", "topic"),
        ("ru864/gateway/0016c001ff10a235/event/up", b'{"gatewayId": 12, "phyPayload": [1]', "payload"),
        (
            "ru864/gateway/0016c001ff10a235/event/up",
            b'{"rxInfo": {"gatewayId": "x"}, "phyPayload": "%%%"}',
            "phyPayload",
        ),
        ("ru864/gateway/0016c001ff10a235/event/up", b"\x0a\xff\xff\xff\xff\x0f", "payload"),
        ("ru864/gateway/0016c001ff10a235/event/up", b"\x98\x01\x02", "phyPayload"),
        ("ru864/gateway/0016c001ff10a235/event/up", b"", "phyPayload"),
        ("ru864/gateway/0016c001ff10a235/event/up", b"x" * (65 * 1024), "payload"),
        ("ru864/gateway/0016c001ff10a235/event/stats", b'{"gatewayId": "0016c001ff10a236"}', "gatewayId"),
    ],
)
def test_bad_messages_are_refused_naming_the_field(topic, payload, field):
    with pytest.raises(IngestError) as refused:
        chirpstack.decode(topic, payload, now=NOW)
    assert refused.value.field == field


def test_an_uplink_naming_another_gateway_than_its_topic_is_refused():
    message = chirpstack.encode(uplink_frame(frame_of(1, 10.0, 10.0), MAST_B), json=True)
    with pytest.raises(IngestError, match="rxInfo.gatewayId"):
        chirpstack.decode(f"ru864/gateway/{MAST_A}/event/up", message, now=NOW)


def test_random_bytes_are_refused_or_read_never_anything_else():
    """Protobuf reads many byte strings as a message of unknown fields: those have no frame and are
    refused, the rest come out as an Uplink that the frame decoder then judges."""
    rng, outcomes = random.Random(957), {"refused": 0, "read": 0}
    topic = f"ru864/gateway/{MAST_A}/event/up"
    for _ in range(2000):
        garbage = rng.randbytes(rng.randrange(0, 300))
        if rng.random() < 0.3:
            garbage = b'{"gatewayId": ' + garbage
        try:
            got = chirpstack.decode(topic, garbage, now=NOW)
        except IngestError:
            outcomes["refused"] += 1
        else:
            assert isinstance(got, Uplink)
            outcomes["read"] += 1
    assert outcomes["refused"] > 1000


def ingestion() -> Ingestion:
    return Ingestion({SITE.name: SITE}, {MAST_A: SITE.name, MAST_B: SITE.name})


def test_one_frame_heard_by_two_masts_is_one_report_with_both_links():
    pipeline = ingestion()
    payload = frame_of(3, 1200.0, 700.0, seq=5)
    first = pipeline.reports(Uplink(MAST_A, payload, NOW, rssi=-95, snr=2.0))
    second = pipeline.reports(Uplink(MAST_B, payload, NOW, rssi=-70, snr=9.0))
    assert len(first) == 1 and second == []
    report = first[0]
    assert (report.tracker, report.kind, report.site, report.t) == (
        "quarry:3",
        Kind.HAUL_TRUCK,
        "quarry",
        NOW,
    )
    assert abs(report.x - 1200.0) < 1 and abs(report.y - 700.0) < 1
    assert pipeline.merger.best_gateway(payload, SITE.name) == MAST_B
    assert pipeline.counts == {"reports": 1, "copies": 1}
    newer = pipeline.reports(Uplink(MAST_A, frame_of(3, 1210.0, 700.0, seq=6), NOW + 5, rssi=-95))
    replayed = pipeline.reports(Uplink(MAST_A, payload, NOW, rssi=-95))  # re-sent after a broker restart
    assert len(newer) == 1 and replayed == [] and pipeline.counts["replayed"] == 1


def test_garbage_frames_unknown_masts_and_bad_crc_are_counted_and_dropped():
    pipeline = ingestion()
    assert pipeline.reports(Uplink(STRANGER, frame_of(1, 5.0, 5.0), NOW)) == []
    assert pipeline.reports(Uplink(MAST_A, frame_of(1, 6.0, 6.0), NOW, crc_ok=False)) == []
    assert pipeline.reports(Uplink(MAST_A, b"\x00" * 7, NOW)) == []
    assert pipeline.counts == {"refused:gateway": 1, "bad_crc": 1, "refused:payload": 1}


def test_a_mast_of_an_unknown_site_is_a_configuration_error():
    with pytest.raises(ValueError, match="gateways"):
        Ingestion({SITE.name: SITE}, {MAST_A: "elsewhere"})


def test_the_batcher_hands_a_window_of_reports_to_the_engine_at_once():
    """Two trucks closing head-on, reported through the bridge, raise an alarm within one window."""
    pipeline, events, now = ingestion(), [], [0.0]
    batcher = Batcher(lambda site: Engine(), events.extend, window_s=0.04, clock=lambda: now[0])
    assert batcher.due_in() is None
    for step in range(12):
        t = NOW + step
        for tracker, x in ((0, 1000.0 + 10 * step), (1, 1400.0 - 10 * step)):  # facing each other
            payload = frame_of(tracker, x, 700.0, speed=10.0, seq=step)
            message = chirpstack.encode(uplink_frame(payload, MAST_A, at=t), json=step % 2 == 0)
            batcher.add(
                pipeline.reports(chirpstack.decode(f"ru864/gateway/{MAST_A}/event/up", message, now=t))
            )
        assert batcher.due_in() == pytest.approx(0.04)
        now[0] += 0.05
        assert batcher.due_in() == 0.0
        assert batcher.flush() == 2
    assert any(e.type == "collision" and set(e.ids) == {"quarry:0", "quarry:1"} for e in events)
    assert pipeline.counts["reports"] == 24
