"""Every bench's JSON says which machine made its figures."""

from __future__ import annotations

from bench.harness import machine


def test_machine_details_name_the_cpu_cores_load_python_and_postgresql():
    details = machine()
    assert details["nproc"] >= 1
    assert details["cpu"]
    assert len(details["load_average"]) == 3
    assert details["python"].count(".") == 2
    assert details["postgresql"]


def test_machine_details_leave_postgresql_out_when_asked():
    assert machine(None)["postgresql"] is None
