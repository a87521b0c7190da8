"""With DGNSS the simulated trucks and staff meet 3 m R95; the 0.7 m packet grid cannot meet 0.1 m."""

from tocsin.minesafe.accuracy import compliance_report
from tocsin.minesafe.codec import Deduplicator
from tocsin.minesafe.simulator import SimConfig, reports_of_tick, simulate
from tocsin.minesafe.site import load_example_site


def test_compliance_of_a_simulated_run():
    site = load_example_site()
    kinds, fixes, truth = [], [], []
    seen = Deduplicator()
    for tick in simulate(site, SimConfig(seed=2, mast_outage=None), 180):
        where = {r.id: r for r in tick.truth}
        for report in reports_of_tick(tick, site, seen):
            true = where[int(report.tracker.rpartition(":")[2])]
            kinds.append(true.kind)
            fixes.append((report.x, report.y))
            truth.append((true.x, true.y))
    rows = {row["kind"]: row for row in compliance_report(kinds=kinds, fixes=fixes, truth=truth)}
    assert rows["haul_truck"]["compliant"] and rows["person"]["compliant"]
    assert not rows["drill"]["compliant"] and not rows["excavator"]["compliant"]
    assert 1.2 < rows["person"]["r95_m"] < 2.5
