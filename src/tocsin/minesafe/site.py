"""A mine site: its local grid (WGS84 <-> site metres, packet quantisation) and its YAML definition.

Site metres: x along the grid's x axis ("east"), y along its y axis ("north"), origin at the grid's
south-west corner. The grid may be turned against true north by ``rotation_deg`` (bearing of the y axis,
clockwise). Geodesy is exact: WGS84 geodetic <-> ECEF by pyproj, then a local east-north-up rotation.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pyproj import Transformer

from tocsin.minesafe.model import Kind, Zone

X_BITS = 12
Y_BITS = 11
MAX_TRACKERS = 32  # the packet's id field is 5 bits

SPEED_LIMIT_KEYS = {k.value for k in Kind} | {"*"}
ZONE_KINDS = {"blast", "pit_edge", "unstable_slope", "swing", "speed"}


class SiteError(ValueError):
    """A site definition is wrong; the message starts with the field path ("zones[2].polygon: …")."""


@dataclass(frozen=True)
class Grid:
    """The site frame: WGS84 origin (SW corner), rotation and size, plus the packets' quantisation."""

    lat: float
    lon: float
    width_m: float
    height_m: float
    rotation_deg: float = 0.0
    origin_height_m: float = 0.0

    @property
    def step_x(self) -> float:
        """Metres per x code (cell width)."""
        return self.width_m / (1 << X_BITS)

    @property
    def step_y(self) -> float:
        """Metres per y code (cell height)."""
        return self.height_m / (1 << Y_BITS)

    def contains(self, x: float, y: float) -> bool:
        return 0.0 <= x <= self.width_m and 0.0 <= y <= self.height_m

    def quantise(self, x: float, y: float) -> tuple[int, int]:
        """Cell codes of a point inside the grid; the cell centre is within half a step of it."""
        if not self.contains(x, y):
            raise ValueError(
                f"point ({x:.2f}, {y:.2f}) m is outside the {self.width_m}×{self.height_m} m grid"
            )
        cx = min(int(x / self.step_x), (1 << X_BITS) - 1)
        cy = min(int(y / self.step_y), (1 << Y_BITS) - 1)
        return cx, cy

    def cell_centre(self, cx: int, cy: int) -> tuple[float, float]:
        """Site metres of a cell's centre."""
        if not (0 <= cx < 1 << X_BITS and 0 <= cy < 1 << Y_BITS):
            raise ValueError(f"cell ({cx}, {cy}) is outside the {1 << X_BITS}×{1 << Y_BITS} grid")
        return (cx + 0.5) * self.step_x, (cy + 0.5) * self.step_y

    @cached_property
    def _enu_basis(self) -> tuple[np.ndarray, np.ndarray]:
        """ECEF of the origin and the rows (east, north, up) of the ECEF -> ENU rotation."""
        lat, lon = math.radians(self.lat), math.radians(self.lon)
        east = np.array([-math.sin(lon), math.cos(lon), 0.0])
        north = np.array([-math.sin(lat) * math.cos(lon), -math.sin(lat) * math.sin(lon), math.cos(lat)])
        up = np.array([math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)])
        origin = np.array(_geodetic_to_ecef().transform(self.lon, self.lat, self.origin_height_m))
        return origin, np.vstack([east, north, up])

    def to_local(self, lat: float, lon: float) -> tuple[float, float]:
        """Site metres of a WGS84 point taken at the origin's ellipsoidal height."""
        origin, basis = self._enu_basis
        ecef = np.array(_geodetic_to_ecef().transform(lon, lat, self.origin_height_m))
        e, n, _ = basis @ (ecef - origin)
        return self._rotate_to_grid(float(e), float(n))

    def to_wgs84(self, x: float, y: float) -> tuple[float, float]:
        """WGS84 (lat, lon) in degrees of a point in site metres, on the origin's height surface."""
        origin, basis = self._enu_basis
        e, n = self._rotate_to_enu(x, y)
        up = -(e * e + n * n) / (2 * 6_371_000.0)  # drop of the ellipsoid below the tangent plane
        ecef = origin + basis.T @ np.array([e, n, up])
        lon, lat, _ = _geodetic_to_ecef().transform(ecef[0], ecef[1], ecef[2], direction="INVERSE")
        return float(lat), float(lon)

    def grid_heading(self, true_heading_deg: float) -> float:
        """A bearing from true north turned into the grid's frame (degrees clockwise from grid y)."""
        return (true_heading_deg - self.rotation_deg) % 360.0

    def _rotate_to_grid(self, e: float, n: float) -> tuple[float, float]:
        t = math.radians(self.rotation_deg)
        return e * math.cos(t) - n * math.sin(t), e * math.sin(t) + n * math.cos(t)

    def _rotate_to_enu(self, x: float, y: float) -> tuple[float, float]:
        t = math.radians(self.rotation_deg)
        return x * math.cos(t) + y * math.sin(t), -x * math.sin(t) + y * math.cos(t)


@dataclass(frozen=True, slots=True)
class Mast:
    """A base station: GNSS reference at a surveyed point, LoRa radio on ``channel``, 3G to dispatch."""

    id: int
    name: str
    x: float
    y: float
    channel: int
    operator: str = ""


@dataclass(frozen=True, slots=True)
class TrackerInfo:
    """The registry entry of a tracker id: what it is fitted to; ``role`` guides the simulator."""

    id: int
    kind: Kind
    label: str = ""
    role: str = ""


@dataclass(frozen=True, slots=True)
class Road:
    """A polyline in site metres: a haul road, an access road or a bench floor (``kind``)."""

    name: str
    kind: str
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Site:
    """Everything the codec, simulator and engine need to know about one mine site."""

    name: str
    grid: Grid
    masts: tuple[Mast, ...]
    trackers: dict[int, TrackerInfo]
    roads: tuple[Road, ...] = ()
    zones: tuple[Zone, ...] = ()
    speed_limits: dict[str, float] = field(default_factory=dict)
    radio: dict[str, Any] = field(default_factory=dict)

    def tracker_key(self, tracker_id: int) -> str:
        """The engine's tracker name for a packet id, unique across sites ("quarry:7")."""
        return f"{self.name}:{tracker_id}"

    def labels(self) -> dict[str, str]:
        """Each tracker's name for people ("quarry:7" → "БелАЗ-7547 №2")."""
        return {self.tracker_key(number): info.label for number, info in self.trackers.items()}

    def road(self, name: str) -> Road:
        for road in self.roads:
            if road.name == name:
                return road
        raise KeyError(f"site {self.name!r} has no road {name!r}")


@lru_cache(maxsize=1)
def _geodetic_to_ecef() -> Transformer:
    """WGS84 3D geodetic (lon, lat, h) -> ECEF metres, exact (PROJ's cart)."""
    return Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)


def load_site(path: str | Path) -> Site:
    """Read and validate a site YAML file."""
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return parse_site(data)


def example_site_path() -> Path:
    """The shipped example: the source's quarry (2.5 × 1.5 km, 3 masts, 20 trackers)."""
    return Path(str(resources.files("tocsin.minesafe") / "sites" / "quarry.yaml"))


def load_example_site() -> Site:
    return load_site(example_site_path())


SITE_SETTING = "TOCSIN_MINESAFE_SITE"


def configured_site_path() -> Path:
    """The deployment's site file (``TOCSIN_MINESAFE_SITE``), the example quarry when unset."""
    given = os.environ.get(SITE_SETTING, "").strip()
    return Path(given) if given else example_site_path()


def load_configured_site() -> Site:
    """The site the pages draw, the alerts name trackers from, and ``ingest`` runs by default."""
    path = configured_site_path()
    try:
        return load_site(path)
    except OSError as error:
        raise SiteError(f"{SITE_SETTING}: cannot read {path}: {error.strerror}") from None


def parse_site(data: Any) -> Site:
    """Build a Site from parsed YAML; errors name the field and the reason."""
    root = _mapping(data, "site")
    name = _text(root, "name", "site")
    grid = _parse_grid(_mapping(root.get("grid"), "grid"))
    masts = tuple(_parse_mast(m, f"masts[{i}]", grid) for i, m in enumerate(_sequence(root, "masts")))
    _unique([m.id for m in masts], "masts", "id")
    trackers = [_parse_tracker(t, f"trackers[{i}]") for i, t in enumerate(_sequence(root, "trackers"))]
    _unique([t.id for t in trackers], "trackers", "id")
    roads = tuple(_parse_road(r, f"roads[{i}]", grid) for i, r in enumerate(_sequence(root, "roads", [])))
    zones = tuple(
        _parse_zone(z, f"zones[{i}]", grid, name) for i, z in enumerate(_sequence(root, "zones", []))
    )
    _unique([z.name for z in zones], "zones", "name")
    limits = _speed_limits(root.get("speed_limits", {}), "speed_limits")
    radio = _mapping(root.get("radio", {}), "radio")
    return Site(name, grid, masts, {t.id: t for t in trackers}, roads, zones, limits, radio)


def _parse_grid(raw: dict[str, Any]) -> Grid:
    origin = _mapping(raw.get("origin"), "grid.origin")
    lat = _number(origin, "lat", "grid.origin", -90, 90)
    lon = _number(origin, "lon", "grid.origin", -180, 180)
    height = _number(origin, "height_m", "grid.origin", -500, 9000, default=0.0)
    width = _number(raw, "width_m", "grid", 1, 100_000)
    depth = _number(raw, "height_m", "grid", 1, 100_000)
    rotation = _number(raw, "rotation_deg", "grid", -360, 360, default=0.0)
    return Grid(lat, lon, width, depth, rotation, height)


def _parse_mast(raw: Any, path: str, grid: Grid) -> Mast:
    mast = _mapping(raw, path)
    mast_id = _integer(mast, "id", path, 0, 31)
    x, y = _position(mast.get("position"), f"{path}.position", grid)
    channel = _integer(mast, "channel", path, 0, 255)
    return Mast(
        mast_id, str(mast.get("name", f"mast {mast_id}")), x, y, channel, str(mast.get("operator", ""))
    )


def _parse_tracker(raw: Any, path: str) -> TrackerInfo:
    tracker = _mapping(raw, path)
    tracker_id = _integer(tracker, "id", path, 0, MAX_TRACKERS - 1)
    kind = tracker.get("kind")
    if kind not in {k.value for k in Kind}:
        raise SiteError(f"{path}.kind: {kind!r} is not one of {', '.join(k.value for k in Kind)}")
    return TrackerInfo(tracker_id, Kind(kind), str(tracker.get("label", "")), str(tracker.get("role", "")))


def _parse_road(raw: Any, path: str, grid: Grid) -> Road:
    road = _mapping(raw, path)
    points = _points(road, path, grid, minimum=2)
    return Road(_text(road, "name", path), str(road.get("kind", "haul")), points)


def _parse_zone(raw: Any, path: str, grid: Grid, site_name: str) -> Zone:
    zone = _mapping(raw, path)
    kind = zone.get("kind")
    if kind not in ZONE_KINDS:
        raise SiteError(f"{path}.kind: {kind!r} is not one of {', '.join(sorted(ZONE_KINDS))}")
    follows = zone.get("follows")
    if kind == "swing":
        polygon = _swing_polygon(zone, path)
        if follows is None:
            raise SiteError(f"{path}.follows: a swing zone needs the tracker id it moves with")
    else:
        polygon = _points(zone, path, grid, minimum=3)
    return Zone(
        name=_text(zone, "name", path),
        kind=kind,
        polygon=polygon,
        speed_limits=_speed_limits(zone.get("speed_limits", {}), f"{path}.speed_limits"),
        min_overspeed_s=_number(zone, "min_overspeed_s", path, 0, 600, default=3.0),
        follows=None if follows is None else f"{site_name}:{follows}",
        approach_m=_number(zone, "approach_m", path, 0, 1000, default=10.0),
    )


def _swing_polygon(zone: dict[str, Any], path: str) -> tuple[tuple[float, float], ...]:
    """A circle relative to the followed tracker (24 sides), from ``radius_m``."""
    radius = _number(zone, "radius_m", path, 0.5, 500)
    steps = 24
    return tuple(
        (radius * math.cos(2 * math.pi * i / steps), radius * math.sin(2 * math.pi * i / steps))
        for i in range(steps)
    )


def _points(raw: dict[str, Any], path: str, grid: Grid, *, minimum: int) -> tuple[tuple[float, float], ...]:
    """``points`` / ``polygon`` in site metres, or ``latlon`` in degrees (exactly one of them)."""
    keys = [k for k in ("points", "polygon", "latlon") if k in raw]
    if len(keys) != 1:
        raise SiteError(f"{path}: give exactly one of points/polygon (metres) or latlon (degrees)")
    key = keys[0]
    items = raw[key]
    if not isinstance(items, list) or len(items) < minimum:
        raise SiteError(f"{path}.{key}: needs a list of at least {minimum} points")
    return tuple(
        _pair(item, f"{path}.{key}[{i}]", grid, latlon=key == "latlon") for i, item in enumerate(items)
    )


def _pair(item: Any, path: str, grid: Grid, *, latlon: bool) -> tuple[float, float]:
    ok = isinstance(item, list | tuple) and len(item) == 2
    if not ok or not all(isinstance(v, int | float) and math.isfinite(v) for v in item):
        raise SiteError(f"{path}: must be a pair of numbers")
    if latlon:
        return _latlon_point(float(item[0]), float(item[1]), path, grid)
    return _inside(float(item[0]), float(item[1]), path, grid)


def _position(raw: Any, path: str, grid: Grid) -> tuple[float, float]:
    position = _mapping(raw, path)
    if "lat" in position or "lon" in position:
        lat = _number(position, "lat", path, -90, 90)
        return _latlon_point(lat, _number(position, "lon", path, -180, 180), path, grid)
    return _inside(_number(position, "x", path), _number(position, "y", path), path, grid)


def _latlon_point(lat: float, lon: float, path: str, grid: Grid) -> tuple[float, float]:
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise SiteError(f"{path}: ({lat}, {lon}) is not a valid latitude/longitude")
    x, y = grid.to_local(lat, lon)
    return _inside(x, y, path, grid)


def _inside(x: float, y: float, path: str, grid: Grid) -> tuple[float, float]:
    if not grid.contains(x, y):
        raise SiteError(f"{path}: ({x:.1f}, {y:.1f}) m is outside the {grid.width_m}×{grid.height_m} m grid")
    return x, y


def _speed_limits(raw: Any, path: str) -> dict[str, float]:
    limits = _mapping(raw, path)
    for key, value in limits.items():
        if key not in SPEED_LIMIT_KEYS:
            raise SiteError(f"{path}.{key}: not a tracker kind (or '*')")
        if not isinstance(value, int | float) or not 0 < value <= 200:
            raise SiteError(f"{path}.{key}: must be a speed in km/h, 0 < v ≤ 200")
    return {key: float(value) for key, value in limits.items()}


def _mapping(raw: Any, path: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise SiteError(f"{path}: must be a mapping")
    return raw


def _sequence(raw: dict[str, Any], key: str, default: list[Any] | None = None) -> list[Any]:
    value = raw.get(key, default)
    if not isinstance(value, list):
        raise SiteError(f"{key}: must be a list")
    return value


def _text(raw: dict[str, Any], key: str, path: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SiteError(f"{path}.{key}: must be a non-empty string")
    return value


def _number(
    raw: dict[str, Any],
    key: str,
    path: str,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    default: float | None = None,
) -> float:
    value = raw.get(key, default)
    if value is None:
        raise SiteError(f"{path}.{key}: is required")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SiteError(f"{path}.{key}: must be a number")
    if not low <= value <= high:
        raise SiteError(f"{path}.{key}: {value} is outside {low}..{high}")
    return float(value)


def _integer(raw: dict[str, Any], key: str, path: str, low: int, high: int) -> int:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SiteError(f"{path}.{key}: must be an integer")
    if not low <= value <= high:
        raise SiteError(f"{path}.{key}: {value} is outside {low}..{high}")
    return value


def _unique(values: list[Any], path: str, key: str) -> None:
    seen: set[Any] = set()
    for i, value in enumerate(values):
        if value in seen:
            raise SiteError(f"{path}[{i}].{key}: {value!r} is used twice")
        seen.add(value)
