"""Bad lines in a replay are counted with a reason and change nothing."""

from tests.minesafe.scenarios import run, run_with_summary


def test_garbage_lines_do_not_change_the_alarms() -> None:
    assert run("head_on_garbage") == run("head_on")


def test_garbage_lines_are_counted_by_reason() -> None:
    _, replay = run_with_summary("head_on_garbage")
    summary = replay.summary()
    assert summary["skipped"] == {
        "not JSON": 1,
        "bad t": 1,
        "unknown kind": 1,
        "bad id": 1,
        "not a JSON object": 1,
        "bad x": 1,
    }
    assert summary["engine"]["dropped:bad_position"] == 1
    assert summary["engine"]["dropped:out_of_order"] == 1
    assert summary["engine"]["dropped:bad_speed"] == 1
    assert summary["engine"]["dropped:future"] == 1
