"""A scheduled job runs once per period even with several workers."""

from tocsin.core.scheduler import Job, claim, run_due


def test_only_one_worker_claims_a_due_job(database, clock):
    job = Job("test.job", 60, lambda db, now: "ran")
    assert claim(database, job, now=clock(), owner="a")
    assert not claim(database, job, now=clock(), owner="b")


def test_a_job_runs_again_after_its_period(database, clock):
    runs = []
    job = Job("test.count", 60, lambda db, now: runs.append(now) or "ok")
    assert run_due(database, [job], now=clock(), owner="a") == ["test.count: ok"]
    assert run_due(database, [job], now=clock(), owner="b") == []
    clock.advance(seconds=60)
    assert run_due(database, [job], now=clock(), owner="b") == ["test.count: ok"]
    assert len(runs) == 2


def test_a_failing_job_is_reported_and_does_not_stop_the_others(database, clock):
    def broken(db, now):
        raise RuntimeError("boom")

    done = run_due(
        database,
        [Job("test.broken", 60, broken), Job("test.fine", 60, lambda db, now: "ok")],
        now=clock(),
        owner="a",
    )
    assert done == ["test.broken: failed: RuntimeError: boom", "test.fine: ok"]
