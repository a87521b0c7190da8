"""The OsmAnd decoder reads every form Traccar Client and Traccar's own decoder tests send, converts units,
and refuses bad or hostile fields by name."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest

from tocsin.minesafe.ingest.osmand import KNOTS_PER_MPS, PhoneFix, parse_json, parse_params
from tocsin.minesafe.ingest.uplinks import IngestError


def _request(path: str) -> PhoneFix:
    """Decode a request line the way Traccar's decoder tests write them."""
    return parse_params(dict(parse_qsl(urlsplit(path).query, keep_blank_values=True)))


def _refused(params: dict[str, str]) -> IngestError:
    with pytest.raises(IngestError) as caught:
        parse_params(params)
    return caught.value


def _refused_json(body: bytes) -> IngestError:
    with pytest.raises(IngestError) as caught:
        parse_json(body)
    return caught.value


GOOD = {"id": "123456", "timestamp": "1377177267", "lat": "60.0", "lon": "30.0"}


# ---------------------------------------------------------------- the sample requests


def test_iso_timestamp_with_hdop_altitude_and_speed() -> None:
    fix = _request(
        "/?id=902064&lat=42.06288&lon=-88.23412&timestamp=2016-01-27T18%3A55%3A47Z"
        "&hdop=6.0&altitude=224.0&speed=0.0"
    )
    assert fix.device == "902064"
    assert fix.t == datetime(2016, 1, 27, 18, 55, 47, tzinfo=UTC).timestamp()
    assert (fix.latitude, fix.longitude) == (42.06288, -88.23412)
    assert fix.altitude == 224.0 and fix.speed_mps == 0.0
    assert fix.accuracy is None and fix.extras == {"hdop": "6.0"}


def test_seconds_timestamp_with_bearing() -> None:
    fix = _request(
        "/?id=123456&timestamp=1377177267&lat=60.0&lon=30.0&speed=0.0&bearing=0.0&altitude=0&hdop=0.0"
    )
    assert fix.t == 1377177267.0
    assert (fix.latitude, fix.longitude, fix.heading, fix.altitude) == (60.0, 30.0, 0.0, 0.0)
    assert fix.extras == {"hdop": "0.0"} and fix.sos is False


def test_deviceid_and_location_pair() -> None:
    fix = _request("/?deviceid=123456&timestamp=1377177267&location=60.0,30.0")
    assert (fix.device, fix.latitude, fix.longitude) == ("123456", 60.0, 30.0)
    assert fix.speed_mps is None and fix.heading is None and fix.extras == {}


def test_millisecond_timestamp() -> None:
    assert parse_params({**GOOD, "timestamp": "1377177267123"}).t == pytest.approx(1377177267.123)


def test_space_separated_timestamp_is_utc() -> None:
    fix = _request("/?id=1&timestamp=2016-01-27%2018:55:47&lat=1&lon=2")
    assert fix.t == datetime(2016, 1, 27, 18, 55, 47, tzinfo=UTC).timestamp()


def test_iso_timestamp_with_offset_and_naive() -> None:
    at_utc = datetime(2016, 1, 27, 18, 55, 47, tzinfo=UTC).timestamp()
    assert parse_params({**GOOD, "timestamp": "2016-01-27T21:55:47+03:00"}).t == at_utc
    assert parse_params({**GOOD, "timestamp": "2016-01-27T18:55:47"}).t == at_utc


def test_speed_in_knots_becomes_metres_per_second() -> None:
    fix = parse_params({**GOOD, "speed": "19.43844"})
    assert fix.speed_mps == pytest.approx(10.0)
    assert parse_params({**GOOD, "speed": str(KNOTS_PER_MPS)}).speed_mps == pytest.approx(1.0)


def test_heading_key_and_accuracy() -> None:
    fix = parse_params({**GOOD, "heading": "359.5", "accuracy": "4.2"})
    assert fix.heading == 359.5 and fix.accuracy == 4.2


def test_battery_charge_and_sos() -> None:
    fix = parse_params({**GOOD, "batt": "87", "charge": "true", "alarm": "sos"})
    assert fix.battery_percent == 87.0 and fix.charging is True and fix.sos is True
    assert "alarm" not in fix.extras
    assert parse_params({**GOOD, "charge": "false"}).charging is False


def test_other_alarms_and_unknown_keys_go_to_extras() -> None:
    fix = parse_params({**GOOD, "alarm": "fall", "mock": "true", "driverUniqueId": "d7"})
    assert fix.sos is False
    assert fix.extras == {"alarm": "fall", "mock": "true", "driverUniqueId": "d7"}


# ---------------------------------------------------------------- bad and hostile query fields


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"id": None}, "id", "missing"),
        ({"id": ""}, "id", "empty"),
        ({"id": "x" * 10_000}, "id", "longer than 64 chars"),
        ({"id": "a\nb"}, "id", "not printable"),
        ({"timestamp": None}, "timestamp", "missing"),
        ({"timestamp": "yesterday-ish at noon"}, "timestamp", "not a time"),
        ({"timestamp": "2016-13-45T99:00:00Z"}, "timestamp", "not a time"),
        ({"timestamp": "-5"}, "timestamp", "out of range"),
        ({"lat": None}, "lat", "missing"),
        ({"lat": "NaN"}, "lat", "not a number"),
        ({"lat": "inf"}, "lat", "not a number"),
        ({"lat": "1e999"}, "lat", "not finite"),
        ({"lat": "91"}, "lat", "out of range -90..90"),
        ({"lon": "abc"}, "lon", "not a number"),
        ({"lon": "-180.5"}, "lon", "out of range -180..180"),
        ({"speed": "-1"}, "speed", "out of range 0..200 m/s"),
        ({"speed": "389"}, "speed", "out of range 0..200 m/s"),  # 389 knots = 200.1 m/s
        ({"bearing": "361"}, "bearing", "out of range 0..360"),
        ({"batt": "101"}, "batt", "out of range 0..100"),
        ({"accuracy": "-3"}, "accuracy", "below 0"),
        ({"altitude": "1_000"}, "altitude", "not a number"),
        ({"charge": "maybe"}, "charge", "not true or false"),
    ],
)
def test_bad_field_is_named(change: dict[str, str | None], field: str, reason: str) -> None:
    params = {**GOOD, **change}
    error = _refused({k: v for k, v in params.items() if v is not None})
    assert (error.field, error.reason) == (field, reason)


def test_bad_location_pair() -> None:
    params = {"id": "1", "timestamp": "1377177267"}
    assert _refused({**params, "location": "60.0"}).field == "location"
    assert _refused({**params, "location": "95,30"}).reason == "out of range -90..90"


def test_extras_flood_is_refused() -> None:
    flood = {f"k{i}": "v" for i in range(1_000)}
    assert (_refused({**GOOD, **flood}).field, _refused({**GOOD, **flood}).reason) == (
        "extras",
        "more than 32 keys",
    )
    assert len(parse_params({**GOOD, **{f"k{i}": "v" for i in range(32)}}).extras) == 32


def test_extras_long_key_or_value_is_refused() -> None:
    assert _refused({**GOOD, "k" * 65: "v"}).reason == "key longer than 64 chars"
    assert _refused({**GOOD, "note": "v" * 257}).reason == "value longer than 256 chars"


# ---------------------------------------------------------------- JSON


def _location(**changes: object) -> dict[str, object]:
    location: dict[str, object] = {
        "timestamp": "2024-05-01T10:00:00.000Z",
        "coords": {
            "latitude": -23.36,
            "longitude": 119.73,
            "speed": 8.5,
            "heading": 270.0,
            "accuracy": 3.5,
            "altitude": 512.0,
        },
        "is_moving": True,
        "odometer": 1234.5,
        "event": "motionchange",
        "battery": {"level": 0.62, "is_charging": False},
        "activity": {"type": "in_vehicle"},
        "extras": {"shift": "B"},
    }
    location.update(changes)
    return location


def _body(location: object, device: object = "phone-7") -> bytes:
    return json.dumps({"device_id": device, "location": location}).encode()


def test_json_single_location() -> None:
    [fix] = parse_json(_body(_location()))
    assert fix == PhoneFix(
        device="phone-7",
        t=datetime(2024, 5, 1, 10, tzinfo=UTC).timestamp(),
        latitude=-23.36,
        longitude=119.73,
        speed_mps=8.5,  # already m/s in JSON: no knots conversion
        heading=270.0,
        altitude=512.0,
        accuracy=3.5,
        battery_percent=62.0,
        charging=False,
        sos=False,
        extras={
            "is_moving": "true",
            "odometer": "1234.5",
            "event": "motionchange",
            "activity": "in_vehicle",
            "shift": "B",
        },
    )


def test_json_unknown_speed_and_heading_and_epoch_times() -> None:
    coords = {"latitude": 1.0, "longitude": 2.0, "speed": -1, "heading": -1}
    fixes = parse_json(
        _body([{"timestamp": 1714557600, "coords": coords}, {"timestamp": 1714557601500, "coords": coords}])
    )
    assert [f.t for f in fixes] == [1714557600.0, pytest.approx(1714557601.5)]
    assert all(f.speed_mps is None and f.heading is None for f in fixes)
    assert all(f.battery_percent is None and f.charging is None and f.extras == {} for f in fixes)


def test_json_sos_event() -> None:
    assert parse_json(_body(_location(event="sos")))[0].sos is True


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        (b"[1, 2, 3]", "body", "not a JSON object"),
        (b"{not json", "body", "not JSON"),
        (b"\xff\xfe{}", "body", "not JSON"),
        (b"[" * 5_000 + b"]" * 5_000, "body", "nested deeper than 20"),
        (b'{"a":' * 21 + b"1" + b"}" * 21, "body", "nested deeper than 20"),
        (b'{"pad": "' + b"x" * 70_000 + b'"}', "body", "larger than 65536 bytes"),
        (_body(_location(), device=None), "device_id", "missing"),
        (_body(_location(), device=["x"]), "device_id", "not a string"),
        (_body(None), "location", "missing"),
        (_body([]), "location", "empty"),
        (_body([_location(), 5]), "location[1]", "not an object"),
        (_body(_location(timestamp=None)), "location.timestamp", "missing"),
        (_body(_location(timestamp="garbage")), "location.timestamp", "not a time"),
        (_body(_location(coords={"longitude": 1})), "location.coords.latitude", "missing"),
        (
            _body(_location(coords={"latitude": "x", "longitude": 1})),
            "location.coords.latitude",
            "not a number",
        ),
        (
            _body(_location(coords={"latitude": True, "longitude": 1})),
            "location.coords.latitude",
            "not a number",
        ),
        (
            _body(_location(coords={"latitude": 1, "longitude": 181})),
            "location.coords.longitude",
            "out of range -180..180",
        ),
        (
            _body(_location(coords={"latitude": 1, "longitude": 1, "speed": -2})),
            "location.coords.speed",
            "out of range 0..200",
        ),
        (
            _body(_location(coords={"latitude": 1, "longitude": 1, "speed": 200})),
            "location.coords.speed",
            "out of range 0..200",
        ),
        (_body(_location(battery={"level": 1.5})), "location.battery.level", "out of range 0..1"),
        (
            _body(_location(battery={"is_charging": "yes"})),
            "location.battery.is_charging",
            "not true or false",
        ),
        (_body(_location(extras={f"k{i}": i for i in range(1_000)})), "extras", "more than 32 keys"),
    ],
)
def test_bad_json_is_named(body: bytes, field: str, reason: str) -> None:
    error = _refused_json(body)
    assert (error.field, error.reason) == (field, reason)


def test_json_nan_is_not_a_number() -> None:
    body = b'{"device_id": "p", "location": {"timestamp": 1714557600, "coords": {"latitude": NaN}}}'
    assert (_refused_json(body).field, _refused_json(body).reason) == (
        "location.coords.latitude",
        "not a number",
    )


def test_brackets_inside_strings_do_not_count_as_depth() -> None:
    [fix] = parse_json(
        _body(_location(extras={"note": '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[ \\" {{{{{{{{{{{{{{{{{{{{{{'}))
    )
    assert fix.extras["note"].startswith("[[[[")
