"""What every desk's benchmark (and ``tests/receiver.py``) needs around its scenario: subprocesses stopped
at the end, a throw-away database, load from wrk or a Python generator, CPU metering from ``/proc``,
partner receivers on loopback, the machine's details, and one JSON object as the last line.

A bench runs as a script (``python bench/<desk>.py``) and imports this module as ``harness``; the tests
import it as ``bench.harness``. ``python bench/harness.py receivers N`` serves N partner receivers from
one process (``start_receivers``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
TOCSIN = str(Path(PYTHON).with_name("tocsin"))
PG_ADMIN = os.environ.get("TOCSIN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
OK_BODY = {"Code_Reponse": 0, "Libelle_Reponse": "OK"}
console = Console(stderr=True)


# ---------------------------------------------------------------- processes


def free_port() -> int:
    """A loopback port nobody listens on right now (bind to port 0, read it, let it go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(
    stack: ExitStack, command: list[str], env: dict[str, str], log: Path, *, pipe: bool = False
) -> subprocess.Popen:
    """Start a subprocess in its own process group, stopped (with its children) when ``stack`` closes;
    ``pipe`` keeps its standard output readable, otherwise it goes to ``log`` with its errors."""
    out = log.open("wb")
    process = subprocess.Popen(
        command,
        env={**os.environ, **env},
        stdout=subprocess.PIPE if pipe else out,
        stderr=out,
        cwd=ROOT,
        start_new_session=True,
    )
    stack.callback(out.close)
    stack.callback(stop, process)
    return process


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the process group we started, then SIGKILL it if it is still there after 10 s."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
    except ProcessLookupError:
        pass


def log_tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    """Poll ``url`` until it answers 200; fail with the server's log if the process dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early:\n{log_tail(log)}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up in {timeout} s")


def wait_for_line(log: Path, text: str, process: subprocess.Popen, timeout: float = 30) -> None:
    """Wait until ``text`` shows in a subprocess's log (a worker says when it is ready)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            raise RuntimeError(f"{text!r} never came:\n{log_tail(log)}")
        time.sleep(0.05)
    raise RuntimeError(f"{text!r} did not show in {log} within {timeout} s")


def run_until_signalled(main: Callable[[], None]) -> None:
    """Run a bench's ``main`` so SIGTERM and Ctrl-C unwind its ExitStacks (processes stopped, scratch
    databases dropped) before it exits."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        main()
    except KeyboardInterrupt:
        console.log("[red]interrupted[/]: subprocesses stopped, scratch databases dropped")
        sys.exit(130)


# ---------------------------------------------------------------- a throw-away database


def database_url(admin: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``admin`` (a URL of any database there)."""
    return admin.rsplit("/", 1)[0] + f"/{name}"


def create_database(admin: str = PG_ADMIN, prefix: str = "tocsin_bench") -> str:
    """Create an empty PostgreSQL database ``<prefix>_<random>``; returns its URL."""
    name = f"{prefix}_{secrets.token_hex(5)}"
    _as_admin(admin, f'CREATE DATABASE "{name}"')
    return database_url(admin, name)


def drop_database(url: str, admin: str = PG_ADMIN) -> None:
    """Drop the PostgreSQL database at ``url``, even with sessions still connected to it."""
    _as_admin(admin, f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def _as_admin(admin: str, statement: str) -> None:
    """One statement outside a transaction (CREATE and DROP DATABASE need that) on the admin database."""
    from sqlalchemy import create_engine, text

    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


@contextmanager
def scratch_database(kind: str, *, admin: str = PG_ADMIN, prefix: str = "tocsin_bench") -> Iterator[str]:
    """An empty database of ``kind`` ("sqlite" or "postgresql") for the block: a file in a temporary
    folder, or a fresh PostgreSQL database; removed when the block ends, also on error."""
    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix=f"{prefix}_"))
        try:
            yield f"sqlite:///{folder / 'bench.db'}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    if kind != "postgresql":
        raise ValueError(f"unknown database kind {kind!r} (sqlite or postgresql)")
    url = create_database(admin, prefix)
    try:
        yield url
    finally:
        drop_database(url, admin)


# ---------------------------------------------------------------- CPU metering


def process_cpu(pid: int) -> float:
    """User plus system CPU seconds of one process (0 if it is gone), at the kernel tick's resolution."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """Children of a process, their children, and so on (uvicorn's worker processes)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            found += [child, *descendants(child)]
    return found


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and all its descendants alive now."""
    return sum(process_cpu(one) for one in [pid, *descendants(pid)])


def postgres_backends(database: str) -> list[int]:
    """PostgreSQL backend processes connected to ``database`` (found by their title)."""
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            title = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(b"postgres: ") and f" {database} ".encode() in title:
            pids.append(int(entry.name))
    return pids


@dataclass
class CpuMeter:
    """Reads the CPU seconds of named process trees, of the PostgreSQL backends serving ``database``
    ("postgres") and of this process ("client"); ``per_request`` turns two readings into milliseconds.
    Backends that close between two readings are missed, so "postgres" is a lower bound."""

    processes: dict[str, int] = field(default_factory=dict)
    database: str | None = None

    def read(self) -> dict[str, Any]:
        reading: dict[str, Any] = {name: tree_cpu(pid) for name, pid in self.processes.items()}
        backends = postgres_backends(self.database) if self.database else []
        reading["postgres"] = {pid: process_cpu(pid) for pid in backends}
        reading["client"] = time.process_time()
        return reading


def per_request(before: dict[str, Any], after: dict[str, Any], requests: int) -> dict[str, float]:
    """CPU milliseconds per request of each part metered by ``CpuMeter.read``."""
    spent = {name: after[name] - before[name] for name in after if name != "postgres"}
    spent["postgres"] = sum(cpu - before["postgres"].get(pid, 0.0) for pid, cpu in after["postgres"].items())
    return {name: round(spent[name] * 1000 / max(requests, 1), 2) for name in after}


# ---------------------------------------------------------------- load: the Python generator


def percentile(values: list[float], q: float, digits: int = 1) -> float | None:
    """Nearest-rank percentile of seconds, in milliseconds."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000, digits)


@dataclass
class Phase:
    """What one load phase measured."""

    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    answers: dict[str, float] = field(default_factory=dict)  # reference of an OK reply → when it came
    window: float = 0.0
    unanswered: int = 0  # sent, but no answer seen (transport error, or in flight when wrk stopped)
    refs: list[str] = field(default_factory=list)  # references of the OK replies, in order
    client_cpu: float = 0.0  # CPU seconds of an external load generator (wrk)
    measured: dict[str, Any] | None = None  # wrk: answers, OK answers, p50/p99 of the measured run

    def failed(self, kind: str, count: int = 1) -> None:
        """Count failed requests under what went wrong (exception class or HTTP status and body)."""
        self.errors += count
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + count

    def figures(self) -> dict[str, Any]:
        """Throughput and latency of the requests that finished in the measured window."""
        if self.measured is not None:
            requests, p50, p99 = self.measured["ok"], self.measured["p50_ms"], self.measured["p99_ms"]
        else:
            requests = len(self.latencies)
            p50, p99 = percentile(self.latencies, 0.50), percentile(self.latencies, 0.99)
        return {
            "requests": requests,
            "rps": round(requests / self.window, 1) if self.window else 0.0,
            "p50_ms": p50,
            "p99_ms": p99,
            "errors": self.errors,
            **({"error_kinds": self.error_kinds} if self.errors else {}),
        }


Sender = Callable[[httpx.AsyncClient, int], Any]


async def drive(
    base: str,
    send: Sender,
    *,
    clients: int,
    warmup: float,
    duration: float,
    rate: float | None = None,
    reference: Callable[[httpx.Response], str | None] | None = None,
) -> Phase:
    """``clients`` keep-alive connections sending as fast as answers come (or paced at ``rate``/s);
    only requests that finish after the warm-up count. ``reference`` names what an OK reply created,
    noted with the time its answer came back."""
    phase = Phase()
    counter = itertools.count()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
        began = time.perf_counter()
        measure_from, end = began + warmup, began + warmup + duration

        async def client() -> None:
            while True:
                index = next(counter)
                if rate is not None:
                    await asyncio.sleep(max(0.0, began + index / rate - time.perf_counter()))
                sent = time.perf_counter()
                if sent >= end:
                    return
                try:
                    reply = await send(http, index)
                except httpx.HTTPError as error:
                    phase.failed(type(error).__name__)
                    phase.unanswered += 1
                    continue
                done = time.perf_counter()
                if reply.status_code != 200:
                    phase.failed(f"HTTP {reply.status_code}: {reply.text[:120]}")
                    continue
                phase.ok += 1
                ref = reference(reply) if reference else None
                if ref:
                    phase.answers[ref] = time.time()
                    phase.refs.append(ref)
                if done >= measure_from:
                    phase.latencies.append(done - sent)

        await asyncio.gather(*(client() for _ in range(clients)))
        phase.window = min(time.perf_counter(), end) - measure_from
    return phase


def run_load(base: str, send: Sender, **options: Any) -> Phase:
    """Run one ``drive`` phase on uvloop (installed with uvicorn[standard]) or plain asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(drive(base, send, **options))
    return uvloop.run(drive(base, send, **options))


# ---------------------------------------------------------------- load: wrk

WRK_SUMMARY = "BENCH-JSON"  # a wrk script's done() prints one line: this word, a space, a JSON object


def find_wrk() -> str | None:
    """wrk's path: on PATH, or installed with apt (we run as root); None if neither works."""
    found = shutil.which("wrk")
    if found:
        return found
    if not shutil.which("apt-get") or os.geteuid() != 0:
        console.log("[yellow]wrk[/] is not on PATH and apt-get is not usable here")
        return None
    steps = [
        ["apt-cache", "policy", "wrk"],
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "wrk"],
    ]
    for step in steps:
        console.log(f"[yellow]wrk[/] is not on PATH: {' '.join(step)}")
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as error:
            console.log(f"[yellow]wrk[/]: {' '.join(step)} failed: {error}")
            return None
        if done.returncode != 0:
            console.log(f"[yellow]wrk[/]: {' '.join(step)} failed: {done.stderr.strip()[-500:]}")
            return None
        if step[0] == "apt-cache":
            console.log(done.stdout.strip())
    return shutil.which("wrk")


def wrk_version(wrk: str) -> str:
    """The first line wrk prints about itself (it has no --version: it shows its usage)."""
    shown = subprocess.run([wrk, "--version"], capture_output=True, text=True)
    return (shown.stdout or shown.stderr).splitlines()[0].strip()


def run_wrk(
    wrk: str, url: str, script: Path, *, clients: int, seconds: int, script_args: list[str]
) -> tuple[dict[str, Any], float]:
    """One wrk run (one thread, ``clients`` connections, 30 s time-out): the summary its script printed
    after ``WRK_SUMMARY``, and the CPU seconds wrk used (from wait4's rusage)."""
    command = [wrk, "-t1", f"-c{clients}", f"-d{seconds}s", "--timeout", "30s", "-s", str(script), url]
    command += ["--", *script_args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        output = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if process.returncode is None:
            process.kill()
            process.wait()
    found = re.search(rf"^{WRK_SUMMARY} (.*)$", output, re.MULTILINE)
    if process.returncode != 0 or not found:
        shown = " ".join(command[: -1 - len(script_args)])
        raise RuntimeError(f"wrk failed ({process.returncode}): {shown}\n{output[-3000:]}")
    return json.loads(found.group(1)), usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------- partner receivers


@dataclass
class Receiver:
    """A partner: records each message it receives (path, JSON body, headers, time, port) and answers
    from ``script`` in order (status, body, delay seconds), then with ``default``."""

    url: str = ""
    script: list[tuple[int, Any, float]] = field(default_factory=list)
    default: tuple[int, Any, float] = (200, OK_BODY, 0.0)
    received: list[dict[str, Any]] = field(default_factory=list)
    tokens_issued: int = 0

    def answer(self) -> tuple[int, Any, float]:
        return self.script.pop(0) if self.script else self.default


def receiver_app(receiver: Receiver) -> Any:
    """The receiver's Starlette app: ``POST /v1/<message>`` and ``POST /oauth/token`` as a partner
    serves them, plus controls for a receiver in another process: ``GET /_received`` (the records),
    ``GET /_count``, ``POST /_reset`` (forget them), ``POST /_answer`` (JSON: a new default's status,
    body and/or delay)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def message(request: Request) -> JSONResponse:
        status, body, delay = receiver.answer()
        receiver.received.append(
            {
                "path": request.url.path,
                "json": await request.json(),
                "headers": dict(request.headers),
                "at": time.time(),
                "port": request.scope["server"][1],
            }
        )
        if delay:
            await asyncio.sleep(delay)
        return JSONResponse(body, status_code=status)

    async def token(_: Request) -> JSONResponse:
        receiver.tokens_issued += 1
        return JSONResponse(
            {"access_token": f"tok-{receiver.tokens_issued}", "token_type": "Bearer", "expires_in": 3600}
        )

    async def received(_: Request) -> JSONResponse:
        return JSONResponse(receiver.received)

    async def count(_: Request) -> JSONResponse:
        return JSONResponse(len(receiver.received))

    async def reset(_: Request) -> JSONResponse:
        receiver.received.clear()
        return JSONResponse([])

    async def answer(request: Request) -> JSONResponse:
        status, body, delay = receiver.default
        change = await request.json()
        receiver.default = (
            change.get("status", status),
            change.get("body", body),
            change.get("delay", delay),
        )
        return JSONResponse(list(receiver.default))

    return Starlette(
        routes=[
            Route("/oauth/token", token, methods=["POST"]),
            Route("/v1/{name}", message, methods=["POST"]),
            Route("/_received", received),
            Route("/_count", count),
            Route("/_reset", reset, methods=["POST"]),
            Route("/_answer", answer, methods=["POST"]),
        ]
    )


@contextmanager
def running(app: Any, port: int | None = None) -> Iterator[str]:
    """Serve an ASGI app on a free loopback port in a thread of this process; yields its base URL."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def partner() -> Iterator[Receiver]:
    """A receiver served in a thread of this process (what the tests use)."""
    receiver = Receiver()
    with running(receiver_app(receiver)) as url:
        receiver.url = url
        yield receiver


def start_receivers(stack: ExitStack, logs: Path, count: int) -> list[int]:
    """One subprocess serving ``count`` partners (one receiver, a port each), stopped with ``stack``;
    returns the ports. Its CPU stays out of the bench process's."""
    log = logs / "receivers.log"
    process = start(stack, [PYTHON, __file__, "receivers", str(count)], {}, log, pipe=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"receivers did not start:\n{log_tail(log)}")
    ports = json.loads(line)
    wait_until_up(f"http://127.0.0.1:{ports[0]}/_count", process, log)
    return ports


def serve_receivers(count: int) -> None:
    """The receivers' subprocess: bind ``count`` loopback ports, print them as JSON, serve."""
    import uvicorn

    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
    print(json.dumps([s.getsockname()[1] for s in sockets]), flush=True)
    config = uvicorn.Config(receiver_app(Receiver()), log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=sockets)


# ---------------------------------------------------------------- the figures' context and the result


def machine(postgres: str | None = PG_ADMIN) -> dict[str, Any]:
    """The figures' context: CPU model, cores, memory, load average, Python, SQLite and the PostgreSQL
    server's version (None without ``postgres``, an admin URL, or if it does not answer)."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((ln.split(":", 1)[1].strip() for ln in info.splitlines() if ln.startswith("model name")), "")
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem_kb = next((int(ln.split()[1]) for ln in meminfo.splitlines() if ln.startswith("MemTotal")), 0)
    return {
        "nproc": os.cpu_count(),
        "cpu": model or platform.processor(),
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "load_average": load_average(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres_version(postgres) if postgres else None,
    }


def postgres_version(admin: str) -> str | None:
    """The server's version, or None if it cannot be reached in 3 s."""
    import psycopg

    dsn = admin.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(dsn, connect_timeout=3) as connection:
            row = connection.execute("SHOW server_version").fetchone()
    except psycopg.OperationalError:
        return None
    return row[0] if row else None


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages: other work on the machine skews every figure."""
    return [round(x, 2) for x in os.getloadavg()]


def emit(result: dict[str, Any]) -> None:
    """Print the bench's result: one JSON object, the last line of its output."""
    print(json.dumps(result, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] != ["receivers"] or len(sys.argv) != 3:
        sys.exit("usage: python bench/harness.py receivers COUNT")
    serve_receivers(int(sys.argv[2]))
