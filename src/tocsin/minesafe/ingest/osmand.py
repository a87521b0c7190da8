"""Phones as trackers: the OsmAnd protocol as Traccar Client speaks it (query string, form body or JSON).

A phone on a haul road is as hostile an input as any other, so every field is checked for being present,
finite and in range, and bad input raises ``IngestError`` naming the field; the HTTP app turns that into
a 400 and never passes a doubtful fix on to the engine.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tocsin.minesafe.ingest.uplinks import IngestError

KNOTS_PER_MPS = 1.943844
MAX_BODY = 64 * 1024
MAX_DEPTH = 20
MAX_EXTRAS = 32
MAX_EXTRA_KEY = 64
MAX_EXTRA_VALUE = 256
MAX_DEVICE = 64
MAX_SPEED_MPS = 200.0
ALTITUDE_RANGE = (-2_000.0, 20_000.0)  # metres; anything outside is a broken fix, not a mine
MS_THRESHOLD = 1e11  # an epoch above this is in milliseconds (1e11 s is the year 5138)

# Strict decimal syntax: float() alone would take "nan", "inf", "1_000" and surrounding blanks.
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_INDEX = re.compile(r"\[\d+\]")

_KNOWN_PARAMS = frozenset(
    {
        "id",
        "deviceid",
        "timestamp",
        "lat",
        "lon",
        "location",
        "speed",
        "bearing",
        "heading",
        "altitude",
        "accuracy",
        "batt",
        "charge",
        "alarm",
    }
)


@dataclass(frozen=True, slots=True)
class PhoneFix:
    """One position from a phone, in the phone's own terms (WGS 84 degrees, m/s, Unix seconds).

    ``heading`` is degrees clockwise from north; ``None`` wherever the phone did not say. ``extras`` keeps
    what the protocol carries that the desk does not use yet (``hdop``, ``mock``, other alarms...)."""

    device: str
    t: float
    latitude: float
    longitude: float
    speed_mps: float | None = None
    heading: float | None = None
    altitude: float | None = None
    accuracy: float | None = None
    battery_percent: float | None = None
    charging: bool | None = None
    sos: bool = False
    extras: dict[str, str] = field(default_factory=dict, hash=False)


# ---------------------------------------------------------------- field checks shared by both forms


def _number(value: object, name: str) -> float:
    """A finite number from a JSON number or a decimal string; bools are not numbers here."""
    if value is None:
        raise IngestError(name, "missing")
    if isinstance(value, str):
        if not _NUMBER.fullmatch(value):
            raise IngestError(name, "not a number")
        number = float(value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:
            raise IngestError(name, "not finite") from None
    else:
        raise IngestError(name, "not a number")
    if math.isnan(number):
        raise IngestError(name, "not a number")
    if math.isinf(number):
        raise IngestError(name, "not finite")
    return number


def _ranged(value: object, name: str, low: float, high: float, *, open_high: bool = False) -> float:
    number = _number(value, name)
    if number < low or number > high or (open_high and number == high):
        raise IngestError(name, f"out of range {low:g}..{high:g}")
    return number


def _at_least(value: object, name: str, low: float) -> float:
    number = _number(value, name)
    if number < low:
        raise IngestError(name, f"below {low:g}")
    return number


def _device(value: object, name: str) -> str:
    """The phone's identifier: Traccar takes any printable text; numbers in JSON are taken as text."""
    if value is None:
        raise IngestError(name, "missing")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise IngestError(name, "not a string")
    if not value:
        raise IngestError(name, "empty")
    if len(value) > MAX_DEVICE:
        raise IngestError(name, f"longer than {MAX_DEVICE} chars")
    if not value.isprintable():
        raise IngestError(name, "not printable")
    return value


def _timestamp(value: object, name: str) -> float:
    """Unix seconds from seconds, milliseconds, ISO 8601 or ``yyyy-MM-dd HH:mm:ss`` (naive means UTC)."""
    if value is None:
        raise IngestError(name, "missing")
    if isinstance(value, str) and not _NUMBER.fullmatch(value.strip()):
        return _iso_time(value.strip(), name)
    if isinstance(value, str):
        value = value.strip()
    number = _number(value, name)
    seconds = number / 1000.0 if number > MS_THRESHOLD else number
    if not 0 < seconds < 1e10:
        raise IngestError(name, "out of range")
    return seconds


def _iso_time(text: str, name: str) -> float:
    if len(text) < 16 or len(text) > 40:  # a date alone is not a fix time
        raise IngestError(name, "not a time")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise IngestError(name, "not a time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _put_extra(extras: dict[str, str], key: str, value: str) -> None:
    """Extras are bounded so a flood of made-up keys cannot grow memory or the database."""
    if key not in extras and len(extras) >= MAX_EXTRAS:
        raise IngestError("extras", f"more than {MAX_EXTRAS} keys")
    if len(key) > MAX_EXTRA_KEY:
        raise IngestError("extras", f"key longer than {MAX_EXTRA_KEY} chars")
    if len(value) > MAX_EXTRA_VALUE:
        raise IngestError("extras", f"value longer than {MAX_EXTRA_VALUE} chars")
    extras[key] = value


# ---------------------------------------------------------------- query string / form


def _param(params: Mapping[str, str], key: str) -> str | None:
    """An empty value counts as absent, as in Traccar's decoder."""
    value = params.get(key)
    return value if value else None


def _params_device(params: Mapping[str, str]) -> str:
    for key in ("id", "deviceid"):
        if key in params:
            return _device(params[key], key)
    raise IngestError("id", "missing")


def _params_position(params: Mapping[str, str]) -> tuple[float, float]:
    lat, lon = _param(params, "lat"), _param(params, "lon")
    location = _param(params, "location")
    if lat is None and lon is None and location is not None:
        parts = location.split(",")
        if len(parts) != 2:
            raise IngestError("location", "not lat,lon")
        return _ranged(parts[0], "location", -90, 90), _ranged(parts[1], "location", -180, 180)
    return _ranged(lat, "lat", -90, 90), _ranged(lon, "lon", -180, 180)


def _params_speed(params: Mapping[str, str]) -> float | None:
    """Traccar Client sends knots; the desk works in m/s."""
    knots = _param(params, "speed")
    if knots is None:
        return None
    mps = _number(knots, "speed") / KNOTS_PER_MPS
    if mps < 0 or mps >= MAX_SPEED_MPS:
        raise IngestError("speed", f"out of range 0..{MAX_SPEED_MPS:g} m/s")
    return mps


def _params_heading(params: Mapping[str, str]) -> float | None:
    for key in ("bearing", "heading"):
        value = _param(params, key)
        if value is not None:
            return _ranged(value, key, 0, 360)
    return None


def _params_charge(params: Mapping[str, str]) -> bool | None:
    value = _param(params, "charge")
    if value is None:
        return None
    lowered = value.lower()
    if lowered not in ("true", "false", "1", "0"):
        raise IngestError("charge", "not true or false")
    return lowered in ("true", "1")


def _optional(params: Mapping[str, str], key: str, check: Callable[[str, str], float]) -> float | None:
    value = _param(params, key)
    return None if value is None else check(value, key)


def _params_extras(params: Mapping[str, str]) -> dict[str, str]:
    extras: dict[str, str] = {}
    for key, value in params.items():
        if key not in _KNOWN_PARAMS:
            _put_extra(extras, key, value)
    alarm = _param(params, "alarm")
    if alarm is not None and alarm != "sos":
        _put_extra(extras, "alarm", alarm)
    return extras


def parse_params(params: Mapping[str, str]) -> PhoneFix:
    """One fix from the query-string (or form body) variant that every Traccar Client version speaks."""
    device = _params_device(params)
    t = _timestamp(_param(params, "timestamp"), "timestamp")
    latitude, longitude = _params_position(params)
    return PhoneFix(
        device=device,
        t=t,
        latitude=latitude,
        longitude=longitude,
        speed_mps=_params_speed(params),
        heading=_params_heading(params),
        altitude=_optional(params, "altitude", lambda v, k: _ranged(v, k, *ALTITUDE_RANGE)),
        accuracy=_optional(params, "accuracy", lambda v, k: _at_least(v, k, 0)),
        battery_percent=_optional(params, "batt", lambda v, k: _ranged(v, k, 0, 100)),
        charging=_params_charge(params),
        sos=_param(params, "alarm") == "sos",
        extras=_params_extras(params),
    )


# ---------------------------------------------------------------- JSON


def _check_depth(body: bytes) -> None:
    """Count brackets outside strings before ``json.loads`` so deep nesting cannot exhaust the stack."""
    depth, in_string, escaped = 0, False, False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > MAX_DEPTH:
                raise IngestError("body", f"nested deeper than {MAX_DEPTH}")
        elif byte in (0x5D, 0x7D):
            depth -= 1


def _load(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY:
        raise IngestError("body", f"larger than {MAX_BODY} bytes")
    _check_depth(body)
    try:
        root = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise IngestError("body", "not JSON") from None
    if not isinstance(root, dict):
        raise IngestError("body", "not a JSON object")
    return root


def _object(value: object, name: str, *, required: bool = True) -> dict[str, Any]:
    if value is None and not required:
        return {}
    if value is None:
        raise IngestError(name, "missing")
    if not isinstance(value, dict):
        raise IngestError(name, "not an object")
    return value


def _unknown_is_minus_one(value: object) -> bool:
    """The JSON client writes -1 for a speed or heading it does not know."""
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool) and value == -1)


def _json_speed(coords: dict[str, Any], path: str) -> float | None:
    value = coords.get("speed")
    if _unknown_is_minus_one(value):
        return None
    return _ranged(value, f"{path}.speed", 0, MAX_SPEED_MPS, open_high=True)


def _json_heading(coords: dict[str, Any], path: str) -> float | None:
    value = coords.get("heading")
    return None if _unknown_is_minus_one(value) else _ranged(value, f"{path}.heading", 0, 360)


def _json_optional(coords: dict[str, Any], key: str, path: str, low: float, high: float) -> float | None:
    value = coords.get(key)
    return None if value is None else _ranged(value, f"{path}.{key}", low, high)


def _json_battery(location: dict[str, Any], path: str) -> tuple[float | None, bool | None]:
    battery = _object(location.get("battery"), f"{path}.battery", required=False)
    level = battery.get("level")
    percent = None if level is None else _ranged(level, f"{path}.battery.level", 0, 1) * 100
    charging = battery.get("is_charging")
    if charging is not None and not isinstance(charging, bool):
        raise IngestError(f"{path}.battery.is_charging", "not true or false")
    return percent, charging


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"))


def _json_extras(location: dict[str, Any], path: str) -> dict[str, str]:
    extras: dict[str, str] = {}
    for key in ("is_moving", "odometer", "event"):
        if location.get(key) is not None:
            _put_extra(extras, key, _as_text(location[key]))
    activity = _object(location.get("activity"), f"{path}.activity", required=False)
    if activity.get("type") is not None:
        _put_extra(extras, "activity", _as_text(activity["type"]))
    for key, value in _object(location.get("extras"), f"{path}.extras", required=False).items():
        _put_extra(extras, key, _as_text(value))
    return extras


def _json_fix(device: str, value: object, path: str) -> PhoneFix:
    location = _object(value, path)
    coords = _object(location.get("coords"), f"{path}.coords")
    cpath = f"{path}.coords"
    percent, charging = _json_battery(location, path)
    extras = _json_extras(location, path)
    return PhoneFix(
        device=device,
        t=_timestamp(location.get("timestamp"), f"{path}.timestamp"),
        latitude=_ranged(coords.get("latitude"), f"{cpath}.latitude", -90, 90),
        longitude=_ranged(coords.get("longitude"), f"{cpath}.longitude", -180, 180),
        speed_mps=_json_speed(coords, cpath),
        heading=_json_heading(coords, cpath),
        altitude=_json_optional(coords, "altitude", cpath, *ALTITUDE_RANGE),
        accuracy=_json_optional(coords, "accuracy", cpath, 0, math.inf),
        battery_percent=percent,
        charging=charging,
        sos=extras.get("event") == "sos" or extras.get("alarm") == "sos",
        extras=extras,
    )


def parse_json(body: bytes) -> list[PhoneFix]:
    """Fixes from the JSON body of newer clients; ``location`` may be one object or a list (a backlog)."""
    root = _load(body)
    device = _device(root.get("device_id"), "device_id")
    location = root.get("location")
    if isinstance(location, list):
        if not location:
            raise IngestError("location", "empty")
        return [_json_fix(device, item, f"location[{i}]") for i, item in enumerate(location)]
    return [_json_fix(device, location, "location")]


# ---------------------------------------------------------------- HTTP


class _TooLarge(IngestError):
    def __init__(self) -> None:
        super().__init__("body", f"larger than {MAX_BODY} bytes")


async def _read_body(request: Request) -> bytes:
    """Stop reading as soon as the body passes the limit, whatever Content-Length claims."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise _TooLarge()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise _TooLarge()
    return bytes(body)


def _form(raw: bytes, name: str, encoding: str) -> dict[str, str]:
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        raise IngestError(name, "not UTF-8") from None
    return dict(parse_qsl(text, keep_blank_values=True))


def _decode(query: bytes, body: bytes, content_type: str) -> list[PhoneFix]:
    """JSON by content type; any other body is a form merged over the query (the body wins), as Traccar."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json":
        return parse_json(body)
    params = _form(query, "query", "latin-1")
    if body:
        params.update(_form(body, "body", "utf-8"))
    return [parse_params(params)]


def _refused(counts: Counter[str], status: int, name: str, reason: str) -> Response:
    counts[f"refused:{_INDEX.sub('', name)}"] += 1  # no list indices: the counter's keys stay few
    return PlainTextResponse(f"{name}: {reason}", status_code=status)


def osmand_app(on_fixes: Callable[[list[PhoneFix]], None], known: Callable[[str], bool]) -> Starlette:
    """The OsmAnd endpoint (Traccar's port 5055). ``on_fixes`` runs on the event loop, so it must be quick.

    200 with an empty body when taken; 400 ``field: reason`` for anything doubtful (an unknown device
    too); 413 for a body over 64 KiB. ``app.state.counts`` counts "accepted" and "refused:<field>"."""
    counts: Counter[str] = Counter()

    async def receive(request: Request) -> Response:
        try:
            body = await _read_body(request)
            fixes = _decode(request.scope["query_string"], body, request.headers.get("content-type", ""))
            for fix in fixes:
                if not known(fix.device):
                    raise IngestError("id", "unknown device")
        except _TooLarge as error:
            return _refused(counts, 413, error.field, error.reason)
        except IngestError as error:
            return _refused(counts, 400, error.field, error.reason)
        except Exception as error:  # never a 500 for what a phone sent
            return _refused(counts, 400, "request", type(error).__name__)
        on_fixes(fixes)
        counts["accepted"] += 1
        return Response(status_code=200)

    app = Starlette(routes=[Route("/", receive, methods=["GET", "POST"])])
    app.state.counts = counts
    return app
