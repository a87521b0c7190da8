"""The site YAML loads the shipped quarry and names the field and reason of every mistake."""

import copy

import pytest
import yaml

from tocsin.minesafe.model import Kind
from tocsin.minesafe.site import SiteError, example_site_path, load_example_site, load_site, parse_site

RAW = yaml.safe_load(example_site_path().read_text(encoding="utf-8"))


def test_the_example_quarry_has_three_masts_and_twenty_trackers():
    site = load_example_site()
    assert len(site.masts) == 3
    assert len(site.trackers) == 20
    assert {m.channel for m in site.masts} == {0, 1, 2}
    assert site.trackers[0].kind is Kind.HAUL_TRUCK
    assert site.road("to_crusher").points[0] == (900.0, 550.0)


def test_zones_become_model_zones_with_speed_limits_and_followers():
    site = load_example_site()
    zones = {z.name: z for z in site.zones}
    assert zones["crusher yard"].speed_limits == {"haul_truck": 15.0, "*": 20.0}
    swing = zones["ore excavator swing"]
    assert swing.follows == "quarry:6"
    assert max(abs(x) for x, _ in swing.polygon) == pytest.approx(15.0)


def test_a_polygon_may_be_given_in_latlon(tmp_path):
    site = load_example_site()
    corners = [(100.0, 100.0), (200.0, 100.0), (200.0, 200.0)]
    raw = copy.deepcopy(RAW)
    raw["zones"] = [{"name": "z", "kind": "blast", "latlon": [list(site.grid.to_wgs84(*c)) for c in corners]}]
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    polygon = load_site(path).zones[0].polygon
    for got, want in zip(polygon, corners, strict=True):
        assert got == pytest.approx(want, abs=1e-3)


def _broken(change):
    raw = copy.deepcopy(RAW)
    change(raw)
    return raw


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["grid"].pop("width_m"), r"^grid\.width_m: is required"),
        (lambda r: r["grid"]["origin"].update(lat=95), r"^grid\.origin\.lat: 95 is outside"),
        (lambda r: r["masts"][1]["position"].update(x=9000), r"^masts\[1\]\.position: .* outside"),
        (lambda r: r["masts"][2].update(id=0), r"^masts\[2\]\.id: 0 is used twice"),
        (lambda r: r["trackers"][3].update(kind="tractor"), r"^trackers\[3\]\.kind: 'tractor' is not one of"),
        (lambda r: r["trackers"][4].update(id=32), r"^trackers\[4\]\.id: 32 is outside 0\.\.31"),
        (
            lambda r: r["zones"][0].update(polygon=[[1, 1], [2, 2]]),
            r"^zones\[0\]\.polygon: needs a list of at least 3",
        ),
        (lambda r: r["zones"][1].update(kind="lava"), r"^zones\[1\]\.kind: 'lava' is not one of"),
        (
            lambda r: r["zones"][3]["speed_limits"].update(tractor=5),
            r"^zones\[3\]\.speed_limits\.tractor: not a",
        ),
        (lambda r: r["zones"][5].pop("follows"), r"^zones\[5\]\.follows: a swing zone needs"),
        (lambda r: r["roads"][0].update(latlon=[[0, 0]]), r"^roads\[0\]: give exactly one of"),
        (
            lambda r: r["roads"][1]["points"].__setitem__(0, ["a", 1]),
            r"^roads\[1\]\.points\[0\]: must be a pair",
        ),
        (lambda r: r.pop("name"), r"^site\.name: must be a non-empty string"),
    ],
)
def test_mistakes_name_the_field_and_reason(change, message):
    with pytest.raises(SiteError, match=message):
        parse_site(_broken(change))


def test_a_site_error_is_a_value_error():
    assert issubclass(SiteError, ValueError)
