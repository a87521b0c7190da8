"""`tocsin minesafe radio-plan` and `tocsin minesafe simulate`, through Typer's test runner."""

import base64
import csv
import json

from typer.testing import CliRunner

from tocsin.minesafe.cli import app
from tocsin.minesafe.codec import decode_tracker

runner = CliRunner()


def test_radio_plan_prints_the_table_and_writes_the_plot(tmp_path):
    plot = tmp_path / "plan.png"
    result = runner.invoke(
        app, ["radio-plan", "--sf", "7", "--bw", "250", "--plot", str(plot)], env={"COLUMNS": "220"}
    )
    assert result.exit_code == 0, result.output
    assert "2705 (2035)" in result.stdout
    assert "1395 (1295)" in result.stdout
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_radio_plan_takes_the_russian_profile_from_the_site_file(tmp_path):
    table = tmp_path / "plan.csv"
    result = runner.invoke(app, ["radio-plan", "--profile", "RU864", "--sf", "7", "--csv", str(table)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    assert {row["band"] for row in rows} >= {"869.4–869.65"}


def test_radio_plan_refuses_an_unknown_profile():
    result = runner.invoke(app, ["radio-plan", "--profile", "MARS"])
    assert result.exit_code != 0
    assert "unknown profile 'MARS'" in result.output


def test_simulate_writes_packets_truth_and_compliance(tmp_path):
    result = runner.invoke(app, ["simulate", "--minutes", "1", "--seed", "4", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    packets = [json.loads(line) for line in (tmp_path / "packets.jsonl").read_text().splitlines()]
    truth = [json.loads(line) for line in (tmp_path / "truth.jsonl").read_text().splitlines()]
    assert len(truth) == 60 * 20
    assert {p["mast"] for p in packets} == {0, 1, 2}  # mast 1 loses power at t = 120 s only
    assert decode_tracker(base64.b64decode(packets[0]["payload"])).id == 0
    assert {"t", "id", "kind", "x", "y", "speed", "heading", "battery"} <= set(truth[0])
    rows = list(csv.DictReader((tmp_path / "compliance.csv").open(encoding="utf-8")))
    assert {row["kind"] for row in rows} == {
        "haul_truck",
        "excavator",
        "bulldozer",
        "light_vehicle",
        "drill",
        "person",
    }


def test_simulate_streams_decoded_reports_to_stdout():
    result = runner.invoke(app, ["simulate", "--minutes", "0.5", "--seed", "1", "--reports", "-"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) > 0.9 * 30 * 20
    assert set(lines[0]) >= {"t", "id", "kind", "x", "y", "speed"}
    assert lines[0]["kind"] == "haul_truck"
    assert all(0 <= line["id"] < 32 for line in lines)


def test_simulate_is_reproducible_from_the_command_line():
    first = runner.invoke(app, ["simulate", "--minutes", "0.2", "--seed", "9", "--out", "-"])
    second = runner.invoke(app, ["simulate", "--minutes", "0.2", "--seed", "9", "--out", "-"])
    assert first.stdout == second.stdout != ""


def test_simulate_needs_somewhere_to_write():
    result = runner.invoke(app, ["simulate", "--minutes", "1"])
    assert result.exit_code != 0
    assert "--out" in result.output
