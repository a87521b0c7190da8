"""How a SQLite deployment should tell its other processes that live events were published: a Unix
datagram socket per listening process (what ``core.live.signals`` does), or each process polling a
change counter (the newest event number) every few milliseconds. Latency and CPU of each, measured
between real processes on one SQLite file.

    .venv/bin/python bench/live_sqlite.py [--quick]       # last line: one JSON object

For each way the bench starts a listener process, lets it idle (its CPU at rest), then publishes
events with ``core.live.publish`` at a steady rate from this process, each carrying the time just
before its commit. The listener notes when it saw each event (after reading it from the table, as
the web process's hub and the worker do) and its own CPU time. Delay = seen − committed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tocsin.core import live
from tocsin.core.db import Database
from tocsin.core.migrate import upgrade

STOP = "bench.stop"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def listen(way: str, url: str) -> None:
    """The listener process: wake by ``way`` ("datagram" or "poll-<ms>"), read new events, note times."""
    database = Database(url)
    woken = threading.Event()
    seen: dict[int, float] = {}
    sent: dict[int, float] = {}
    with database.session() as db:
        cursor = live.last_number(db)  # events of an earlier way are not this one's
    if way == "datagram":
        listener = live.Listener(url, lambda _: woken.set()).start()
        listener.listening.wait(10)
        wait = woken.wait
    else:
        every = int(way.split("-")[1]) / 1000
        last = [cursor]

        def wait(_: float) -> bool:
            # The change counter: the newest event number, read every ``every`` seconds.
            while True:
                time.sleep(every)
                with database.session() as db:
                    newest = live.last_number(db)
                if newest != last[0]:
                    last[0] = newest
                    return True

    ready_at, ready_cpu = time.monotonic(), cpu_seconds()
    print("ready", flush=True)
    first: tuple[float, float] | None = None
    while True:
        wait(5.0)
        woken.clear()
        with database.session() as db:
            found = live.events_after(db, after=cursor, limit=10_000)
        now = time.time()
        for event in found:
            cursor = event.id
            if event.topic == STOP:
                busy = (time.monotonic() - first[0], cpu_seconds() - first[1]) if first else (0.0, 0.0)
                print(
                    json.dumps(
                        {
                            "delays": [seen[n] - sent[n] for n in sorted(seen)],
                            "idle_seconds": (first[0] - ready_at) if first else 0.0,
                            "idle_cpu_seconds": (first[1] - ready_cpu) if first else 0.0,
                            "busy_seconds": busy[0],
                            "busy_cpu_seconds": busy[1],
                        }
                    ),
                    flush=True,
                )
                return
            if first is None:
                first = (time.monotonic(), cpu_seconds())
            seen[event.id], sent[event.id] = now, event.data["sent"]


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile, in milliseconds with two decimals."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000, 2)


def measure(way: str, url: str, *, idle: float, rate: float, seconds: float) -> dict[str, Any]:
    """One way: a listener process, ``idle`` seconds of rest, then ``rate`` events/s for ``seconds``."""
    database = Database(url)
    listener = subprocess.Popen(
        [sys.executable, __file__, "--listen", way, url], stdout=subprocess.PIPE, text=True
    )
    assert listener.stdout is not None
    try:
        assert listener.stdout.readline().strip() == "ready"
        time.sleep(idle)
        began = time.perf_counter()
        count = int(rate * seconds)
        for index in range(count):
            time.sleep(max(0.0, began + index / rate - time.perf_counter()))
            with database.session() as db:
                live.publish(db, topic="bench", data={"sent": time.time(), "index": index})
        with database.session() as db:
            live.publish(db, topic=STOP, data={"sent": time.time()})
        result = json.loads(listener.stdout.readline())
        listener.wait(10)
    finally:
        if listener.poll() is None:
            listener.kill()
        database.engine.dispose()
    delays = result["delays"]
    return {
        "way": way,
        "events": count,
        "seen": len(delays),
        "delay_p50_ms": percentile(delays, 0.5),
        "delay_p99_ms": percentile(delays, 0.99),
        "delay_max_ms": percentile(delays, 1.0),
        "idle_cpu_percent": round(100 * result["idle_cpu_seconds"] / result["idle_seconds"], 2),
        "busy_cpu_percent": round(100 * result["busy_cpu_seconds"] / max(result["busy_seconds"], 1e-9), 2),
        "cpu_ms_per_event": round(1000 * result["busy_cpu_seconds"] / max(len(delays), 1), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Short phases (about 30 s in all).")
    parser.add_argument("--rate", type=float, default=50.0, help="Events per second.")
    parser.add_argument("--listen", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.listen:
        listen(*args.listen)
        return
    idle, seconds = (3.0, 5.0) if args.quick else (10.0, 20.0)
    work = Path(tempfile.mkdtemp(prefix="tocsin_live_"))
    url = f"sqlite:///{work / 'bench.db'}"
    upgrade(Database(url))
    result: dict[str, Any] = {
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "rate": args.rate,
        "idle_seconds": idle,
        "seconds": seconds,
        "ways": [
            measure(way, url, idle=idle, rate=args.rate, seconds=seconds)
            for way in ("datagram", "poll-10", "poll-50")
        ],
    }
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    for line in result["ways"]:
        print(line, file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
