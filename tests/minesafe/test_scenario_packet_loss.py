"""With 20 % of reports lost, every alarm is still raised, later by at most one received report."""

import pytest

from tests.minesafe.scenarios import brief, raised, reports, run


@pytest.mark.parametrize("name", ["head_on", "crossing", "overtaking"])
def test_alarms_survive_twenty_percent_loss(name: str) -> None:
    full, lossy = raised(run(name)), raised(run(f"{name}_loss20"))
    assert [(e[1], e[2], e[3]) for e in brief(lossy)] == [(e[1], e[2], e[3]) for e in brief(full)]
    received = sorted({r["t"] for r in reports(f"{name}_loss20")})
    for before, after in zip(full, lossy, strict=True):
        next_report = min(t for t in received if t >= before["t"])
        assert before["t"] - 0.5 <= after["t"] <= next_report


def test_the_lossy_files_really_lost_a_fifth() -> None:
    for name in ("head_on", "crossing", "overtaking"):
        kept = len(reports(f"{name}_loss20")) / len(reports(name))
        assert 0.74 <= kept <= 0.86
