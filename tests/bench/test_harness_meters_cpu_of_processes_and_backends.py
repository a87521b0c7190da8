"""CPU metering reads what a bench's processes really spent: a busy grandchild counts in its
process tree, a busy PostgreSQL backend counts for its database."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.harness import CpuMeter, per_request, scratch_database, start

# A parent that runs a grandchild; the grandchild burns 0.3 s of CPU, says so, then waits to be stopped.
BUSY = "import time\nwhile time.process_time() < 0.3: pass\nprint('busy done', flush=True)\ntime.sleep(120)\n"
PARENT = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {BUSY!r}])"


def test_a_busy_grandchild_counts_in_its_process_tree(tmp_path: Path):
    with ExitStack() as stack:
        parent = start(stack, [sys.executable, "-c", PARENT], {}, tmp_path / "busy.log", pipe=True)
        meter = CpuMeter({"tree": parent.pid})
        before = meter.read()
        assert parent.stdout is not None
        assert parent.stdout.readline() == b"busy done\n"
        after = meter.read()
    assert per_request(before, after, 1)["tree"] > 0
    assert parent.poll() is not None  # stopped with the stack


def test_a_busy_postgresql_backend_counts_for_its_database():
    with scratch_database("postgresql", prefix="tocsin_harness") as url:
        engine = create_engine(url)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))  # the backend exists before the first reading
            meter = CpuMeter(database=url.rsplit("/", 1)[1])
            before = meter.read()
            connection.execute(text("SELECT count(*) FROM generate_series(1, 3000000)"))
            after = meter.read()
        engine.dispose()
    spent = per_request(before, after, 1)
    assert spent["postgres"] > 0
    assert set(spent) == {"postgres", "client"}
