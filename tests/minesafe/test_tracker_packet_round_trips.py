"""The 37-bit tracker packet: every field round-trips bit-exactly, limits included."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.minesafe.codec import TRACKER_BITS, TRACKER_BYTES, TrackerPacket, decode_tracker, encode_tracker

packets = st.builds(
    TrackerPacket,
    x=st.integers(0, 4095),
    y=st.integers(0, 2047),
    speed=st.integers(0, 255),
    sos=st.booleans(),
    id=st.integers(0, 31),
    seq=st.integers(0, 7),
)


def test_the_layout_is_the_sources_37_bits_in_5_bytes():
    assert TRACKER_BITS == 37
    assert TRACKER_BYTES == 5


@given(packets)
def test_any_packet_round_trips(packet):
    data = encode_tracker(packet)
    assert len(data) == 5
    assert decode_tracker(data) == packet


def test_fields_sit_msb_first_in_the_documented_order():
    packet = TrackerPacket(x=0xABC, y=0x5A5, speed=0x81, sos=True, id=0b10011, seq=0b101)
    expected = (0xABC << 28) | (0x5A5 << 17) | (0x81 << 9) | (1 << 8) | (0b10011 << 3) | 0b101
    assert encode_tracker(packet) == expected.to_bytes(5, "big")


def test_every_field_at_its_upper_limit_is_all_ones():
    assert encode_tracker(TrackerPacket(4095, 2047, 255, True, 31, 7)) == b"\xff" * 5


def test_every_field_at_zero_is_all_zeros():
    assert encode_tracker(TrackerPacket(0, 0, 0, False, 0, 0)) == b"\x00" * 5


@pytest.mark.parametrize(
    ("field", "value"),
    [("x", 4096), ("x", -1), ("y", 2048), ("speed", 256), ("id", 32), ("seq", 8), ("id", -1)],
)
def test_encode_rejects_out_of_range_fields_naming_them(field, value):
    fields = {"x": 0, "y": 0, "speed": 0, "sos": False, "id": 0, "seq": 0, field: value}
    with pytest.raises(ValueError, match=f"^{field}: "):
        encode_tracker(TrackerPacket(**fields))
