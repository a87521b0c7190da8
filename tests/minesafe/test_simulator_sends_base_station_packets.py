"""Each station cycle every powered mast sends its 82-byte packet: DGNSS correction, trackers it heard."""

import base64
import json

from typer.testing import CliRunner

from tocsin.minesafe.cli import app
from tocsin.minesafe.codec import STATION_BYTES, decode_station, decode_tracker
from tocsin.minesafe.simulator import SimConfig, simulate
from tocsin.minesafe.site import load_example_site

SITE = load_example_site()
QUIET = SimConfig(seed=4, loss=0.0, mast_outage=None)


def test_the_masts_take_turns_one_station_packet_per_second():
    ticks = list(simulate(SITE, QUIET, 9))
    assert [[p.mast for p in tick.stations] for tick in ticks] == [[0], [1], [2]] * 3
    assert all(len(p.payload) == STATION_BYTES for tick in ticks for p in tick.stations)
    assert [decode_station(tick.stations[0].payload).station for tick in ticks] == [0, 1, 2] * 3


def test_a_station_packet_relays_the_newest_fix_of_every_tracker_it_heard():
    ticks = list(simulate(SITE, QUIET, 6))
    sent = decode_station(ticks[4].stations[0].payload)  # mast 1, its cycle covering ticks 2 to 4
    newest = {}
    for tick in ticks[2:5]:
        for heard in tick.packets:
            if heard.mast == 1:
                packet = decode_tracker(heard.payload)
                newest[packet.id] = (packet.x, packet.y, packet.speed)
    assert [None if s is None else (s.x, s.y, s.speed) for s in sent.slots] == [newest[i] for i in range(20)]


def test_the_correction_is_a_few_metres_and_follows_the_common_error():
    ticks = list(simulate(SITE, QUIET, 30))
    corrections = [decode_station(tick.stations[0].payload).correction_m for tick in ticks]
    assert all(abs(east) < 15 and abs(north) < 15 for east, north in corrections)
    assert len(set(corrections)) > 20


def test_a_lost_tracker_packet_leaves_its_slot_empty():
    ticks = list(simulate(SITE, SimConfig(seed=4, loss=0.6, mast_outage=None), 3))
    sent = decode_station(ticks[0].stations[0].payload)  # mast 0 heard only tick 0's packets
    heard = {decode_tracker(p.payload).id for p in ticks[0].packets if p.mast == 0}
    assert {i for i, slot in enumerate(sent.slots) if slot is not None} == heard != set(range(20))


def test_a_mast_without_power_sends_no_station_packet():
    config = SimConfig(seed=4, mast_outage=(1, 3.0, 9.0))
    senders = [[p.mast for p in tick.stations] for tick in simulate(SITE, config, 12)]
    assert senders == [[0], [1], [2], [0], [], [2], [0], [], [2], [0], [1], [2]]


def test_station_packets_are_deterministic_with_the_seed():
    first = [tick.stations for tick in simulate(SITE, SimConfig(seed=8), 12)]
    assert first == [tick.stations for tick in simulate(SITE, SimConfig(seed=8), 12)]
    assert first != [tick.stations for tick in simulate(SITE, SimConfig(seed=9), 12)]


def test_the_packet_log_holds_station_packets_among_tracker_packets(tmp_path):
    result = CliRunner().invoke(app, ["simulate", "--minutes", "0.1", "--seed", "4", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in (tmp_path / "packets.jsonl").read_text().splitlines()]
    sizes = [len(base64.b64decode(line["payload"])) for line in lines]
    assert sizes.count(STATION_BYTES) == 6 and set(sizes) == {5, STATION_BYTES}
    assert [line["t"] for line in lines] == sorted(line["t"] for line in lines)
