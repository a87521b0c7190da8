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
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from harness import emit, load_average, machine, percentile, run_until_signalled, scratch_database, start
from tocsin.core import live
from tocsin.core.db import Database
from tocsin.core.migrate import upgrade

STOP = "bench.stop"


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

    ready_at, ready_cpu = time.monotonic(), time.process_time()
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
                busy = (time.monotonic() - first[0], time.process_time() - first[1]) if first else (0.0, 0.0)
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
                first = (time.monotonic(), time.process_time())
            seen[event.id], sent[event.id] = now, event.data["sent"]


def measure(way: str, url: str, logs: Path, *, idle: float, rate: float, seconds: float) -> dict[str, Any]:
    """One way: a listener process, ``idle`` seconds of rest, then ``rate`` events/s for ``seconds``."""
    database = Database(url)
    with ExitStack() as stack:
        command = [sys.executable, __file__, "--listen", way, url]
        listener = start(stack, command, {}, logs / f"listener-{way}.log", pipe=True)
        assert listener.stdout is not None
        assert listener.stdout.readline().strip() == b"ready"
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
    database.engine.dispose()
    delays = result["delays"]
    return {
        "way": way,
        "events": count,
        "seen": len(delays),
        "delay_p50_ms": percentile(delays, 0.5, digits=2),
        "delay_p99_ms": percentile(delays, 0.99, digits=2),
        "delay_max_ms": percentile(delays, 1.0, digits=2),
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
    result: dict[str, Any] = {
        "machine": machine(),
        "rate": args.rate,
        "idle_seconds": idle,
        "seconds": seconds,
    }
    with scratch_database("sqlite", prefix="tocsin_live") as url, tempfile.TemporaryDirectory() as logs:
        upgrade(Database(url))
        result["ways"] = [
            measure(way, url, Path(logs), idle=idle, rate=args.rate, seconds=seconds)
            for way in ("datagram", "poll-10", "poll-50")
        ]
    result["machine"]["load_average_at_end"] = load_average()
    for line in result["ways"]:
        print(line, file=sys.stderr)
    emit(result)


if __name__ == "__main__":
    run_until_signalled(main)
