"""Site metres <-> WGS84 is exact to well under a millimetre, and agrees with PROJ's own topocentric frame."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyproj import Transformer

from tocsin.minesafe.site import Grid, load_example_site

GRID = load_example_site().grid


@given(x=st.floats(0, 2500), y=st.floats(0, 1500))
def test_local_to_wgs84_and_back_is_within_a_millimetre(x, y):
    lat, lon = GRID.to_wgs84(x, y)
    back = GRID.to_local(lat, lon)
    assert math.dist(back, (x, y)) < 1e-3


def test_the_origin_maps_to_zero():
    assert GRID.to_local(GRID.lat, GRID.lon) == pytest.approx((0.0, 0.0), abs=1e-6)


def test_an_unrotated_grid_matches_proj_topocentric_east_north():
    grid = Grid(lat=53.44, lon=34.38, width_m=2500, height_m=1500, origin_height_m=190.0)
    enu = Transformer.from_pipeline(
        "+proj=pipeline +step +proj=axisswap +order=2,1 +step +proj=unitconvert +xy_in=deg +xy_out=rad "
        "+step +proj=cart +ellps=WGS84 +step +proj=topocentric +ellps=WGS84 "
        "+lat_0=53.44 +lon_0=34.38 +h_0=190"
    )
    lat, lon = 53.452, 34.405
    east, north, _ = enu.transform(lat, lon, 190.0)
    assert grid.to_local(lat, lon) == pytest.approx((east, north), abs=1e-3)


def test_rotation_turns_the_grid_clockwise_from_north():
    turned = Grid(lat=53.44, lon=34.38, width_m=2500, height_m=1500, rotation_deg=90.0)
    lat, lon = turned.to_wgs84(0.0, 1000.0)
    # the grid's y axis points east: the point lies on the origin's parallel, ~1 km east
    assert lat == pytest.approx(53.44, abs=1e-3)
    assert lon > 34.38


def test_grid_heading_removes_the_rotation():
    assert GRID.grid_heading(12.0) == 0.0
    assert GRID.grid_heading(0.0) == 348.0
