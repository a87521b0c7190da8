"""Masts speaking the Semtech UDP packet forwarder protocol: the PROTOCOL.TXT examples decode, every bad
or hostile datagram is an IngestError naming its field, and a real UDP server on loopback acknowledges,
hands frames on, sends downlinks and survives garbage."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import socket
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from tests.support import run_async
from tocsin.minesafe.ingest import semtech
from tocsin.minesafe.ingest.semtech import (
    PULL_ACK,
    PULL_DATA,
    PULL_RESP,
    PUSH_ACK,
    PUSH_DATA,
    TX_ACK,
    ForwarderProtocol,
    ack,
    parse_datagram,
    pull_resp,
    serve_udp,
    txpk_for,
)
from tocsin.minesafe.ingest.uplinks import IngestError, MastStats, Uplink

EUI = bytes.fromhex("AA555A0000000101")
GATEWAY = "aa555a0000000101"
FRAME = bytes.fromhex("0a1b2c3d4e5f60718293")
NOW = 1_800_000_000.0


def rxpk(**fields: object) -> dict[str, object]:
    """The rxpk example of PROTOCOL.TXT (section 4), carrying FRAME."""
    entry: dict[str, object] = {
        "time": "2013-03-31T16:21:17.528002Z",
        "tmst": 3512348611,
        "chan": 2,
        "rfch": 0,
        "freq": 866.349812,
        "stat": 1,
        "modu": "LORA",
        "datr": "SF7BW125",
        "codr": "4/6",
        "rssi": -35,
        "lsnr": 5.1,
        "size": len(FRAME),
        "data": base64.b64encode(FRAME).decode(),
    }
    entry.update(fields)
    return entry


STAT = {
    "time": "2014-01-12 08:59:28 GMT",
    "lati": 46.24000,
    "long": 3.25230,
    "alti": 145,
    "rxnb": 2,
    "rxok": 2,
    "rxfw": 2,
    "ackr": 100.0,
    "dwnb": 2,
    "txnb": 2,
}


def push(body: object, token: int = 0x1234, version: int = 2) -> bytes:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return bytes((version,)) + token.to_bytes(2, "big") + bytes((PUSH_DATA,)) + EUI + raw


def refused(data: bytes) -> IngestError:
    with pytest.raises(IngestError) as caught:
        parse_datagram(data, now=NOW)
    return caught.value


# --- decoding ------------------------------------------------------------------------------------------


def test_the_protocol_txt_push_data_decodes_to_an_uplink_and_stats():
    datagram = parse_datagram(push({"rxpk": [rxpk()], "stat": STAT}), now=NOW)
    assert (datagram.version, datagram.token, datagram.kind, datagram.gateway) == (2, 0x1234, 0, GATEWAY)
    expected_time = datetime(2013, 3, 31, 16, 21, 17, 528002, tzinfo=UTC).timestamp()
    (uplink,) = datagram.uplinks
    assert uplink.gateway == GATEWAY and uplink.payload == FRAME
    assert uplink.received == pytest.approx(expected_time, abs=1e-6)
    assert (uplink.rssi, uplink.snr) == (-35.0, 5.1)
    assert uplink.frequency_hz == 866_349_812 and uplink.spreading_factor == 7 and uplink.crc_ok
    assert datagram.stats == MastStats(
        gateway=GATEWAY,
        at=datetime(2014, 1, 12, 8, 59, 28, tzinfo=UTC).timestamp(),
        received=2,
        received_ok=2,
        forwarded=2,
        downlinks=2,
        transmitted=2,
        latitude=46.24,
        longitude=3.2523,
        altitude=145.0,
    )


def test_tmms_is_gps_milliseconds_less_the_leap_seconds_and_beats_time():
    gps_ms = 1_000_000_000_000  # 2011-09-14T01:46:40 GPS
    (uplink,) = parse_datagram(push({"rxpk": [rxpk(tmms=gps_ms)]}), now=NOW).uplinks
    gps_epoch = datetime(1980, 1, 6, tzinfo=UTC).timestamp()
    assert uplink.received == pytest.approx(gps_epoch + 1_000_000_000 - 18)


def test_without_a_time_the_frame_takes_now_and_rsig_gives_the_link():
    entry = rxpk(rsig=[{"ant": 0, "chan": 2, "rssic": -97, "lsnr": -3.5}])
    for key in ("time", "rssi", "lsnr", "datr"):
        del entry[key]
    (uplink,) = parse_datagram(push({"rxpk": [entry]}), now=NOW).uplinks
    assert uplink.received == NOW and (uplink.rssi, uplink.snr) == (-97.0, -3.5)
    assert uplink.spreading_factor is None


def test_fsk_frames_have_no_spreading_factor_and_bad_crc_frames_are_kept_flagged():
    entry = rxpk(modu="FSK", datr=50000, stat=-1)
    (uplink,) = parse_datagram(push({"rxpk": [entry]}), now=NOW).uplinks
    assert uplink.spreading_factor is None and uplink.crc_ok is False


def test_a_stat_only_datagram_without_time_is_stamped_now():
    datagram = parse_datagram(push({"stat": {"rxnb": 0}}), now=NOW)
    assert datagram.uplinks == () and datagram.stats == MastStats(GATEWAY, NOW, received=0)


def test_push_data_is_acknowledged_with_its_token_and_pull_data_with_pull_ack():
    assert ack(parse_datagram(push({"rxpk": []}, token=0xBEEF), now=NOW)) == bytes((2, 0xBE, 0xEF, PUSH_ACK))
    pull = bytes((2, 0x01, 0x02, PULL_DATA)) + EUI
    datagram = parse_datagram(pull, now=NOW)
    assert datagram.gateway == GATEWAY and datagram.uplinks == ()
    assert ack(datagram) == bytes((2, 0x01, 0x02, PULL_ACK))
    assert ack(parse_datagram(bytes((2, 0, 0, PULL_ACK)), now=NOW)) is None


def test_tx_ack_carries_the_forwarders_error_and_none_means_sent():
    def tx_ack(body: bytes) -> semtech.Datagram:
        return parse_datagram(bytes((2, 0, 7, TX_ACK)) + EUI + body, now=NOW)

    assert tx_ack(b'{"txpk_ack":{"error":"TOO_LATE"}}').tx_error == "TOO_LATE"
    assert tx_ack(b'{"txpk_ack":{"error":"NONE"}}').tx_error is None
    assert tx_ack(b"").tx_error is None
    assert ack(tx_ack(b"")) is None


def test_pull_resp_round_trips_the_txpk():
    txpk = txpk_for(FRAME, frequency_hz=869_525_000, spreading_factor=9)
    data = pull_resp(2, 0xABCD, txpk)
    assert data[:4] == bytes((2, 0xAB, 0xCD, PULL_RESP))
    sent = json.loads(data[4:])["txpk"]
    assert sent == {
        "imme": True,
        "freq": 869.525,
        "rfch": 0,
        "powe": 14,
        "modu": "LORA",
        "datr": "SF9BW125",
        "codr": "4/5",
        "ipol": True,
        "size": len(FRAME),
        "data": base64.b64encode(FRAME).decode(),
    }
    assert base64.b64decode(sent["data"]) == FRAME
    assert parse_datagram(data, now=NOW).kind == PULL_RESP


# --- bad and hostile input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"", "header"),
        (b"\x02\x00\x01", "header"),
        (bytes((3, 0, 0, PUSH_DATA)) + EUI + b"{}", "version"),
        (bytes((0, 0, 0, PUSH_DATA)) + EUI + b"{}", "version"),
        (bytes((2, 0, 0, 0x06)), "type"),
        (bytes((2, 0, 0, PUSH_DATA)) + EUI[:5], "gateway"),
        (bytes((2, 0, 0, PULL_DATA)), "gateway"),
        (bytes((2, 0, 0, TX_ACK)), "gateway"),
        (push(b"not json"), "body"),
        (push(b"\xff\xfe{}"), "body"),
        (push([1, 2, 3]), "body"),
        (push({}), "body"),
        (push(b'{"rxpk":[{"rssi":NaN}]}'), "body"),
        (push(b'{"stat":{"lati":Infinity}}'), "body"),
        (push(b"[" * 100_000), "body"),
        (push(b'{"rxpk":[' + b"1" * 10_000 + b"]}"), "body"),
        (push(b" " * 65_508), "body"),
        (push({"rxpk": {}}), "rxpk"),
        (push({"rxpk": [rxpk(), "frame"]}), "rxpk[1]"),
        (push({"rxpk": [rxpk(), rxpk(), rxpk(data="@@not base64@@")]}), "rxpk[2].data"),
        (push({"rxpk": [rxpk(data=7)]}), "rxpk[0].data"),
        (push({"rxpk": [rxpk(data="")]}), "rxpk[0].data"),
        (push({"rxpk": [rxpk(size=3)]}), "rxpk[0].size"),
        (push({"rxpk": [rxpk(rssi="abc")]}), "rxpk[0].rssi"),
        (push({"rxpk": [rxpk(rssi=True)]}), "rxpk[0].rssi"),
        (push({"rxpk": [rxpk(lsnr=1e308)]}), "rxpk[0].lsnr"),
        (push({"rxpk": [rxpk(freq=10**400)]}), "rxpk[0].freq"),
        (push({"rxpk": [rxpk(stat=2)]}), "rxpk[0].stat"),
        (push({"rxpk": [rxpk(tmms=-1)]}), "rxpk[0].tmms"),
        (push({"rxpk": [rxpk(tmms=10**30)]}), "rxpk[0].tmms"),
        (push({"rxpk": [rxpk(time="yesterday")]}), "rxpk[0].time"),
        (push({"rxpk": [rxpk(time="2013-02-30T16:21:17Z")]}), "rxpk[0].time"),
        (push({"rxpk": [rxpk(datr="SF99BW125")]}), "rxpk[0].datr"),
        (push({"rxpk": [rxpk(rsig="x")]}), "rxpk[0].rsig"),
        (push({"stat": []}), "stat"),
        (push({"stat": {"time": "2014-01-12T08:59:28Z"}}), "stat.time"),
        (push({"stat": {"rxnb": -1}}), "stat.rxnb"),
        (push({"stat": {"lati": 91}}), "stat.lati"),
        (bytes((2, 0, 0, TX_ACK)) + EUI + b'{"txpk_ack":{"error":5}}', "txpk_ack.error"),
        (bytes((2, 0, 0, TX_ACK)) + EUI + b"[]", "body"),
    ],
)
def test_bad_datagrams_are_refused_naming_the_field(data: bytes, field: str):
    assert refused(data).field == field


def test_ten_thousand_frames_in_one_datagram_are_refused():
    many = push({"rxpk": [{}] * 10_000})
    assert len(many) < 65_507
    error = refused(many)
    assert error.field == "rxpk" and "256" in error.reason


def test_random_garbage_only_ever_raises_ingest_error():
    rng = random.Random(1700)
    good = push({"rxpk": [rxpk(), rxpk(tmms=5)], "stat": STAT})
    for n in range(1000):
        if n % 3 == 0:
            data = rng.randbytes(rng.randrange(0, 80))
        elif n % 3 == 1:
            data = bytearray(good)
            for _ in range(rng.randrange(1, 6)):
                data[rng.randrange(4, len(data))] = rng.randrange(256)
            data = bytes(data[: rng.randrange(4, len(data) + 1)])
        else:
            data = good[:12] + rng.randbytes(rng.randrange(0, 200))
        try:
            parse_datagram(bytes(data), now=NOW)
        except IngestError as error:
            assert error.field and error.reason


def test_fields_of_every_json_type_only_ever_raise_ingest_error():
    rng = random.Random(1980)
    values: list[object] = [None, True, -1, 0, 2**70, -(10**400), 1e308, -0.5, "", "SF7BW125", "x" * 5000]
    values += [[], [{}], {}, {"rssic": "a"}, "2013-03-31T16:21:17Z", "2014-01-12 08:59:28 GMT"]
    for _ in range(1000):
        entry, stat = rxpk(), dict(STAT)
        target = entry if rng.random() < 0.7 else stat
        for key in rng.sample(sorted(target) + ["rsig", "tmms"], 2):
            target[key] = rng.choice(values)
        try:
            parse_datagram(push({"rxpk": [entry], "stat": stat}), now=NOW)
        except IngestError as error:
            assert error.field.startswith(("rxpk[0].", "stat")) and error.reason


def test_txpk_for_refuses_what_no_radio_can_send():
    with pytest.raises(ValueError):
        txpk_for(b"", frequency_hz=869_525_000, spreading_factor=7)
    with pytest.raises(ValueError):
        txpk_for(FRAME, frequency_hz=869_525_000, spreading_factor=13)


# --- a real UDP server on loopback ----------------------------------------------------------------------


class Client(asyncio.DatagramProtocol):
    """A gateway's side of the socket: every datagram the server sends lands in a queue."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.put_nowait(data)


async def until(condition: Callable[[], object], timeout: float = 5.0) -> None:
    """Wait for ``condition`` with a deadline: a lost datagram fails the test instead of hanging it."""

    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), timeout)


def ignore(value: object) -> None:
    pass


async def running_server(
    on_uplink: Callable[[Uplink], None] = ignore,
    on_stats: Callable[[MastStats], None] = ignore,
) -> tuple[ForwarderProtocol, asyncio.DatagramTransport, asyncio.DatagramTransport, Client]:
    """The server on a free loopback port and a client socket connected to it."""
    protocol = ForwarderProtocol(on_uplink, on_stats, clock=lambda: NOW)
    server = await serve_udp(protocol, "127.0.0.1", 0)
    port = server.get_extra_info("sockname")[1]
    loop = asyncio.get_running_loop()
    client_transport, client = await loop.create_datagram_endpoint(
        Client, remote_addr=("127.0.0.1", port), family=socket.AF_INET
    )
    return protocol, server, client_transport, client


def test_a_real_push_data_is_acknowledged_and_its_frame_handed_on():
    async def scenario() -> None:
        uplinks: list[Uplink] = []
        stats: list[MastStats] = []
        protocol, server, transport, client = await running_server(uplinks.append, stats.append)
        try:
            transport.sendto(push({"rxpk": [rxpk(), rxpk(stat=-1)], "stat": STAT}, token=0x5A5A))
            answer = await asyncio.wait_for(client.received.get(), 5)
            assert answer == bytes((2, 0x5A, 0x5A, PUSH_ACK))
            await until(lambda: uplinks and stats)
            assert uplinks[0].payload == FRAME and uplinks[0].gateway == GATEWAY
            assert len(uplinks) == 1 and stats[0].received == 2
            assert protocol.counts["uplinks"] == 1 and protocol.counts["bad_crc"] == 1
        finally:
            transport.close()
            server.close()

    run_async(scenario())


def test_a_downlink_goes_to_where_pull_data_came_from():
    async def scenario() -> None:
        protocol, server, transport, client = await running_server()
        try:
            txpk = txpk_for(FRAME, frequency_hz=869_525_000, spreading_factor=9)
            assert protocol.send_down(GATEWAY, txpk) is False
            transport.sendto(bytes((2, 0x11, 0x22, PULL_DATA)) + EUI)
            assert await asyncio.wait_for(client.received.get(), 5) == bytes((2, 0x11, 0x22, PULL_ACK))
            assert GATEWAY in protocol.pull_addresses
            assert protocol.send_down(GATEWAY, txpk) is True
            down = await asyncio.wait_for(client.received.get(), 5)
            assert down[0] == 2 and down[3] == PULL_RESP
            assert json.loads(down[4:]) == {"txpk": txpk}
        finally:
            transport.close()
            server.close()

    run_async(scenario())


def test_garbage_and_failing_callbacks_are_counted_and_the_server_still_answers():
    def explode(uplink: Uplink) -> None:
        raise RuntimeError("the engine fell over")

    async def scenario() -> None:
        protocol, server, transport, client = await running_server(on_uplink=explode)
        try:
            rng = random.Random(42)
            for _ in range(200):
                transport.sendto(bytes((3,)) + rng.randbytes(rng.randrange(3, 60)))
            for _ in range(50):
                transport.sendto(push(b"{" + rng.randbytes(20)))
            await until(lambda: protocol.counts["datagrams"] >= 250)
            assert protocol.counts["refused:version"] == 200
            assert protocol.counts["refused:body"] == 50
            assert client.received.empty()
            transport.sendto(push({"rxpk": [rxpk()]}, token=0x0F0F))
            assert await asyncio.wait_for(client.received.get(), 5) == bytes((2, 0x0F, 0x0F, PUSH_ACK))
            await until(lambda: protocol.counts["callback_errors"] == 1)
            assert protocol.counts["uplinks"] == 1 and protocol.counts["refused:internal"] == 0
        finally:
            transport.close()
            server.close()

    run_async(scenario())
