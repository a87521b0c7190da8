"""The 655-bit base-station packet: station id, DGNSS correction and 20 tracker slots, bit-exact."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.minesafe.codec import (
    EMPTY_SLOT,
    STATION_BITS,
    STATION_BYTES,
    Slot,
    StationPacket,
    decode_station,
    encode_station,
    reports_from_station,
)
from tocsin.minesafe.site import load_example_site

slots = st.builds(Slot, x=st.integers(0, 4095), y=st.integers(0, 2047), speed=st.integers(0, 255)).filter(
    lambda s: (s.x, s.y, s.speed) != (4095, 2047, 255)
)
packets = st.builds(
    StationPacket,
    station=st.integers(0, 31),
    east_cm=st.integers(-16384, 16383),
    north_cm=st.integers(-16384, 16383),
    slots=st.lists(st.none() | slots, min_size=20, max_size=20).map(tuple),
)


def test_the_layout_is_655_bits_in_82_bytes():
    assert STATION_BITS == 655
    assert STATION_BYTES == 82


@given(packets)
def test_any_station_packet_round_trips(packet):
    data = encode_station(packet)
    assert len(data) == 82
    assert decode_station(data) == packet


def test_header_and_first_slot_sit_msb_first():
    first = Slot(x=0x123, y=0x456, speed=0x78)
    packet = StationPacket(station=0b10101, east_cm=-1, north_cm=5, slots=(first,) + (None,) * 19)
    value = int.from_bytes(encode_station(packet), "big") >> 1
    assert value >> 650 == 0b10101
    assert (value >> 635) & 0x7FFF == 0x7FFF
    assert (value >> 620) & 0x7FFF == 5
    assert (value >> 589) & EMPTY_SLOT == (0x123 << 19) | (0x456 << 8) | 0x78
    assert (value >> 558) & EMPTY_SLOT == EMPTY_SLOT


def test_empty_slots_are_all_ones_and_padding_is_zero():
    data = encode_station(StationPacket(0, 0, 0, (None,) * 20))
    assert int.from_bytes(data, "big") == ((1 << 620) - 1) << 1


def test_correction_limits_are_15_bit_twos_complement():
    packet = StationPacket(31, -16384, 16383, (None,) * 20)
    assert decode_station(encode_station(packet)).correction_m == (-163.84, 163.83)


@pytest.mark.parametrize(("field", "value"), [("east_cm", 16384), ("north_cm", -16385), ("station", 32)])
def test_encode_rejects_out_of_range_header_fields(field, value):
    fields = {"station": 0, "east_cm": 0, "north_cm": 0, "slots": (None,) * 20, field: value}
    with pytest.raises(ValueError, match=f"^{field}: "):
        encode_station(StationPacket(**fields))


def test_encode_rejects_a_slot_that_would_read_as_empty():
    with pytest.raises(ValueError, match="reserved for an empty slot"):
        encode_station(StationPacket(0, 0, 0, (Slot(4095, 2047, 255),) + (None,) * 19))


def test_encode_rejects_a_wrong_number_of_slots():
    with pytest.raises(ValueError, match="slots: need exactly 20"):
        encode_station(StationPacket(0, 0, 0, (None,) * 19))


def test_relayed_slots_become_reports_for_known_trackers():
    site = load_example_site()
    packet = StationPacket(1, 0, 0, (Slot(100, 200, 20),) + (None,) * 18 + (Slot(1, 1, 0),))
    reports = reports_from_station(packet, site=site, t=3.0)
    assert [r.tracker for r in reports] == ["quarry:0", "quarry:19"]
    assert reports[0].speed == pytest.approx(10 / 3.6)
