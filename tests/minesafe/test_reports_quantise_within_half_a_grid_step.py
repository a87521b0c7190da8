"""A report sent through a tracker packet comes back within half a grid step and one speed unit."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.minesafe.codec import packet_from_report, report_from_packet, speed_code
from tocsin.minesafe.model import Kind, Report
from tocsin.minesafe.site import load_example_site

SITE = load_example_site()
GRID = SITE.grid


@given(
    x=st.floats(0, GRID.width_m),
    y=st.floats(0, GRID.height_m),
    speed=st.floats(0, 35),
    tracker=st.sampled_from(sorted(SITE.trackers)),
    sos=st.booleans(),
)
def test_position_error_is_at_most_half_a_step(x, y, speed, tracker, sos):
    report = Report(
        t=5.0,
        tracker=f"quarry:{tracker}",
        kind=SITE.trackers[tracker].kind,
        x=x,
        y=y,
        speed=speed,
        sos=sos,
        site="quarry",
    )
    back = report_from_packet(packet_from_report(report, site=SITE), site=SITE, t=5.0)
    assert abs(back.x - x) <= GRID.step_x / 2 + 1e-9
    assert abs(back.y - y) <= GRID.step_y / 2 + 1e-9
    assert abs(back.speed - speed) <= 0.25 / 3.6 + 1e-9
    assert (back.tracker, back.kind, back.sos) == (report.tracker, report.kind, sos)


def test_grid_steps_are_the_specs_0_61_and_0_73_m():
    assert GRID.step_x == pytest.approx(0.610, abs=1e-3)
    assert GRID.step_y == pytest.approx(0.732, abs=1e-3)


def test_the_far_corner_is_representable():
    assert GRID.quantise(GRID.width_m, GRID.height_m) == (4095, 2047)


def test_speed_saturates_at_127_5_kmh():
    assert speed_code(200 / 3.6) == 255


def test_a_point_off_the_grid_cannot_be_sent():
    report = Report(t=0, tracker="quarry:1", kind=Kind.HAUL_TRUCK, x=-1.0, y=10.0, speed=0.0)
    with pytest.raises(ValueError, match="outside"):
        packet_from_report(report, site=SITE)


def test_a_tracker_of_another_site_cannot_be_sent():
    report = Report(t=0, tracker="other:1", kind=Kind.HAUL_TRUCK, x=1.0, y=10.0, speed=0.0)
    with pytest.raises(ValueError, match="^tracker: "):
        packet_from_report(report, site=SITE)
