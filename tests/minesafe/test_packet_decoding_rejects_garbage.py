"""Garbage from the air never crashes the decoders: a DecodeError with a reason, or a valid packet."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.minesafe.codec import (
    STATION_BYTES,
    DecodeError,
    StationPacket,
    TrackerPacket,
    decode_station,
    decode_tracker,
    decode_tracker_report,
    encode_station,
    encode_tracker,
)
from tocsin.minesafe.site import load_example_site

SITE = load_example_site()


@pytest.mark.parametrize("size", [0, 4, 6, 82])
def test_tracker_packet_of_wrong_length_is_rejected(size):
    with pytest.raises(DecodeError, match="must be 5 bytes"):
        decode_tracker(bytes(size))


@pytest.mark.parametrize("size", [0, 5, 81, 83])
def test_station_packet_of_wrong_length_is_rejected(size):
    with pytest.raises(DecodeError, match="must be 82 bytes"):
        decode_station(bytes(size))


def test_station_packet_with_padding_set_is_rejected():
    data = bytearray(STATION_BYTES)
    data[-1] = 0x01
    with pytest.raises(DecodeError, match="padding"):
        decode_station(bytes(data))


def test_packet_from_an_unregistered_tracker_is_rejected():
    data = encode_tracker(TrackerPacket(10, 10, 0, False, 25))
    with pytest.raises(DecodeError, match="tracker id 25 is not registered"):
        decode_tracker_report(data, site=SITE, t=0.0)


@given(st.binary(max_size=100))
def test_random_bytes_decode_to_a_valid_tracker_packet_or_a_decode_error(data):
    try:
        packet = decode_tracker(data)
    except DecodeError as error:
        assert error.reason
        return
    assert encode_tracker(packet) == data


@given(st.binary(min_size=80, max_size=84))
def test_random_bytes_decode_to_a_valid_station_packet_or_a_decode_error(data):
    try:
        packet = decode_station(data)
    except DecodeError as error:
        assert error.reason
        return
    assert isinstance(packet, StationPacket)
    assert encode_station(packet) == data


@given(st.binary(min_size=5, max_size=5))
def test_random_tracker_bytes_become_a_report_inside_the_grid_or_a_decode_error(data):
    try:
        report = decode_tracker_report(data, site=SITE, t=1.0)
    except DecodeError:
        return
    assert SITE.grid.contains(report.x, report.y)
    assert 0 <= report.speed <= 127.5 / 3.6 + 1e-9
