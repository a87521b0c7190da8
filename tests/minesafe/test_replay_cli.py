"""``tocsin minesafe replay``: JSON lines out, summary on stderr, stdin with '-', tracker mode."""

import json

from typer.testing import CliRunner

from tests.minesafe.scenarios import HERE, ZONES, lines, run
from tocsin.minesafe.cli import app


def invoke(*args: str, stdin: str | None = None):
    return CliRunner().invoke(app, ["replay", *args], input=stdin)


def test_replay_prints_the_scenario_events_as_json_lines() -> None:
    result = invoke(str(HERE / "head_on.jsonl"))
    assert result.exit_code == 0, result.output
    printed = [json.loads(line) for line in result.stdout.splitlines() if line.startswith('{"t"')]
    assert printed == run("head_on")
    assert {"t", "type", "level", "ids", "state", "distance", "cpa", "tcpa"} <= set(printed[0])


def test_replay_reads_stdin_and_counts_bad_lines() -> None:
    result = invoke("-", stdin="\n".join(lines("head_on_garbage")) + "\n")
    assert result.exit_code == 0, result.output
    assert '"not JSON": 1' in result.stderr
    assert result.stdout.count('"run_over"') == 2


def test_replay_with_zones_file_and_tracker_mode() -> None:
    result = invoke(str(HERE / "blast_zone.jsonl"), "--site", str(ZONES), "--mode", "tracker", "--own", "1")
    assert result.exit_code == 0, result.output
    types = [json.loads(line)["type"] for line in result.stdout.splitlines() if line.startswith('{"t"')]
    assert types == ["zone_approach", "zone_entry", "zone_entry", "zone_approach", "zone_approach"]


def test_tracker_mode_without_own_id_is_refused() -> None:
    result = invoke(str(HERE / "head_on.jsonl"), "--mode", "tracker")
    assert result.exit_code != 0
