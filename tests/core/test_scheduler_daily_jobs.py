"""A daily job runs at its local time, every day, summer time or not; a job never run before waits for
that time rather than running at the worker's first start."""

from __future__ import annotations

from datetime import UTC, datetime, time

from tocsin.core.scheduler import Job, run_due

DAILY = Job("test.daily", 86400, lambda *, db, now: "ran", daily_at=time(8, 0), zone="Europe/Paris")


def test_the_first_run_waits_for_the_local_time_and_the_next_is_a_day_later():
    at_nine_paris = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    assert DAILY.first_run(at_nine_paris) == datetime(2026, 11, 21, 7, 0, tzinfo=UTC)
    at_eight_paris = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)
    assert DAILY.first_run(at_eight_paris) == at_eight_paris
    assert DAILY.next_run(at_eight_paris) == datetime(2026, 11, 22, 7, 0, tzinfo=UTC)


def test_eight_oclock_stays_eight_oclock_across_the_change_of_hour():
    before = datetime(2026, 10, 24, 6, 0, tzinfo=UTC)  # 08:00 in Paris, summer time
    assert DAILY.next_run(before) == datetime(2026, 10, 25, 7, 0, tzinfo=UTC)  # 08:00, winter time
    spring = datetime(2026, 3, 28, 7, 0, tzinfo=UTC)
    assert DAILY.next_run(spring) == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)


def test_a_late_run_does_not_shift_the_hour(database):
    late = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)  # the worker was down at 08:00
    assert DAILY.first_run(datetime(2026, 11, 20, 12, 0, tzinfo=UTC)) < late
    run_due(database, [DAILY], now=datetime(2026, 11, 20, 12, 0, tzinfo=UTC), owner="w")  # first sight
    assert run_due(database, [DAILY], now=late, owner="w") == ["test.daily: ran"]
    assert run_due(database, [DAILY], now=datetime(2026, 11, 22, 6, 59, tzinfo=UTC), owner="w") == []
    assert run_due(database, [DAILY], now=datetime(2026, 11, 22, 7, 0, tzinfo=UTC), owner="w") == [
        "test.daily: ran"
    ]
