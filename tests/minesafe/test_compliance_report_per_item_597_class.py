"""The compliance report gives each class its R95 against item 597 and a verdict, and writes CSV."""

import csv

import numpy as np
import pytest

from tocsin.minesafe.accuracy import compliance_report, write_csv
from tocsin.minesafe.model import Kind


def _fixes(rng, kind, sigma, n=4000):
    truth = rng.uniform(0, 1000, size=(n, 2))
    return [kind] * n, truth + rng.normal(0, sigma, size=(n, 2)), truth


def test_a_dgnss_truck_passes_and_a_dgnss_drill_fails():
    rng = np.random.default_rng(7)
    parts = [_fixes(rng, Kind.HAUL_TRUCK, 0.7), _fixes(rng, Kind.DRILL, 0.7), _fixes(rng, Kind.LOCO, 0.3)]
    kinds = sum((p[0] for p in parts), [])
    rows = compliance_report(
        kinds=kinds, fixes=np.vstack([p[1] for p in parts]), truth=np.vstack([p[2] for p in parts])
    )
    by_kind = {row["kind"]: row for row in rows}
    assert set(by_kind) == {"haul_truck", "drill", "loco"}
    assert by_kind["haul_truck"]["compliant"]
    assert by_kind["haul_truck"]["r95_m"] == pytest.approx(2.448 * 0.7, rel=0.05)
    assert not by_kind["drill"]["compliant"]
    assert by_kind["drill"]["required_r95_m"] == 0.1
    assert by_kind["loco"]["required_r95_m"] == 1.0
    assert by_kind["loco"]["compliant"]
    assert by_kind["haul_truck"]["sigma_m"] == pytest.approx(0.7, rel=0.05)


def test_rows_are_written_as_csv(tmp_path):
    rows = compliance_report(kinds=["person"] * 3, fixes=[[0, 0], [1, 0], [0, 2]], truth=[[0, 0]] * 3)
    path = write_csv(rows, tmp_path / "compliance.csv")
    with path.open(encoding="utf-8") as handle:
        read = list(csv.DictReader(handle))
    assert read[0]["kind"] == "person"
    assert read[0]["required_r95_m"] == "3.0"
    assert read[0]["item_597_class"] == "staff"
