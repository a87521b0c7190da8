"""Interventions desk benchmark: M1 acceptance, the /ping ceiling and the M2 fan-out delay to 3 OCs,
measured through real uvicorn servers on SQLite and PostgreSQL.

The fan-out runs twice per engine and rate, in the same run: with the outbox worker woken by the live
signal of ``enqueue`` (the default), then with the worker polling the table every 50 ms
(``TOCSIN_WORKER_WAKE=false``, what it did before), each with its own fresh worker process.

    .venv/bin/python bench/interventions.py --quick      # JSON figures on the last line

``--quick`` runs in under a minute: the acceptance phases (3 × 8 s) and the woken fan-out on each engine.
The polling comparison (``--polling``) and the safety phases (``--safety``: token-guessing loops against
M1 latency, the worker killed mid fan-out; ≈ 20 s, 10 s of them waiting for the killed worker's heartbeat
to go stale) are added by their options, and always run without ``--quick``.

Everything runs on this machine: the load generator, the web server(s), the outbox worker, PostgreSQL and
the three receiver servers standing in for the OCs all share its cores. The acceptance phases are driven
by ``wrk`` (one thread, a Lua script written to a temporary file) when it is on PATH or apt can install
it; otherwise by the in-process httpx generator, which costs several ms of CPU per request and so
measures itself more than the server ("load_generator" in the JSON says which). The paced fan-out phase
always uses httpx: it needs the answer time of each M1, and at 50 M1/s its cost is small.
Processes, the scratch database, wrk, CPU metering and the receivers come from ``bench/harness.py``:
every subprocess is killed and the PostgreSQL database dropped at the end, even on Ctrl-C or failure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from harness import (
    PG_ADMIN,
    PYTHON,
    TOCSIN,
    CpuMeter,
    Phase,
    console,
    emit,
    find_wrk,
    free_port,
    load_average,
    machine,
    per_request,
    percentile,
    process_cpu,
    run_load,
    run_until_signalled,
    run_wrk,
    scratch_database,
    start,
    start_receivers,
    stop,
    wait_for_line,
    wait_until_up,
    wrk_version,
)

SECRET = "bench-secret-bench-secret"
OCS = ("OCAA", "OCBB", "OCCC")


# ---------------------------------------------------------------- the desk under test


def prepare(url: str, ports: list[int], pms: int) -> None:
    """Migrate the schema and load an OI configuration: one DO, three OCs at every PM."""
    from tocsin.core.db import Database
    from tocsin.core.migrate import upgrade
    from tocsin.interventions.config import apply_config, parse_config

    database = Database(url)
    upgrade(database)
    with database.session() as db:
        apply_config(db, parse_config(oi_config(ports, pms)))
    database.engine.dispose()


def oi_config(ports: list[int], pms: int) -> dict[str, Any]:
    """Our desk as OIAA (role OI), partner DOXX (DO) and OCAA/OCBB/OCCC at each receiver port."""
    partners: list[dict[str, Any]] = [
        {"code": "DOXX", "roles": ["DO"], "client_id": "doxx", "client_secret": SECRET}
    ]
    for code, port in zip(OCS, ports, strict=True):
        base = f"http://127.0.0.1:{port}"
        outbound = {"token_url": f"{base}/oauth/token", "client_id": "oiaa", "client_secret": SECRET}
        partners.append({"code": code, "roles": ["OC"], "url": f"{base}/v1", "outbound": outbound})
    return {
        "self": {"code": "OIAA", "roles": ["OI"]},
        "partners": partners,
        "pms": [{"ref": pm_ref(i), "ocs": list(OCS)} for i in range(pms)],
    }


def pm_ref(index: int) -> str:
    """The reference of the configuration's index-th PM."""
    return f"FI-BENCH-{index:04d}"


def app_env(url: str) -> dict[str, str]:
    """Environment of the server and worker processes: this database, only the interventions desk."""
    env = {
        "TOCSIN_DATABASE_URL": url,
        "TOCSIN_SECRET_KEY": SECRET,
        "TOCSIN_DESKS": "interventions",
        "PYTHONUNBUFFERED": "1",
    }
    if "TOCSIN_THREADS" in os.environ:  # to compare thread-pool sizes; the product default otherwise
        env["TOCSIN_THREADS"] = os.environ["TOCSIN_THREADS"]
    return env


def start_server(stack: ExitStack, url: str, workers: int, logs: Path) -> tuple[str, subprocess.Popen, Path]:
    """``tocsin serve`` as a subprocess (same uvicorn settings: no access log), not yet waited for:
    URL, process and log."""
    port = free_port()
    command = [PYTHON, "-m", "uvicorn", "--factory", "tocsin.app:asgi", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--no-access-log", "--log-level", "warning"]
    if workers > 1:
        command += ["--workers", str(workers)]
    log = logs / f"server-{port}.log"
    return f"http://127.0.0.1:{port}", start(stack, command, app_env(url), log), log


def bearer_token(base: str) -> str:
    """An access token for DOXX from the server's client-credentials endpoint."""
    reply = httpx.post(
        f"{base}/oauth/token", data={"grant_type": "client_credentials"}, auth=("doxx", SECRET)
    )
    reply.raise_for_status()
    return reply.json()["access_token"]


# ---------------------------------------------------------------- load generation


def m1_body(ref_do: str, index: int, pms: int) -> bytes:
    """An M1 from DOXX for a distinct Ref_Interv_DO, spread over the configured PMs."""
    body = {
        "Code_DO": "DOXX",
        "Code_OI": "OIAA",
        "Ref_Interv_DO": ref_do,
        "PM": pm_ref(index % pms),
        "Nature_PBO_PTO": [{"nature": 1, "PBO": "PT0012345", "PTO": "FI-1234-5678"}],
        "Debut_Inter": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return json.dumps(body).encode()


def ping_sender() -> Callable[[httpx.AsyncClient, int], Any]:
    """The constant endpoint: what the framework alone costs."""
    return lambda http, _: http.get("/ping")


def m1_sender(token: str, tag: str, pms: int) -> Callable[[httpx.AsyncClient, int], Any]:
    """M1s whose Ref_Interv_DO is ``tag``-index, so each one creates an intervention."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def send(http: httpx.AsyncClient, index: int) -> Any:
        body = m1_body(f"{tag}-{index}", index, pms)
        return http.post("/v1/intervention_DO", content=body, headers=headers)

    return send


def ref_oi(reply: httpx.Response) -> str | None:
    """The Ref_Interv_OI an M1 answer carries (the intervention it created)."""
    if reply.headers.get("content-type", "").startswith("application/json"):
        return reply.json().get("Ref_Interv_OI")
    return None


# ---------------------------------------------------------------- load generation with wrk

# The Lua script wrk runs (one thread): GET /ping, or M1s whose Ref_Interv_DO is <tag>-<thread>-<counter>
# (unique in a run; the tag differs between runs), spread over the configured PMs like m1_body. It counts
# requests sent and answers by status, keeps the Ref_Interv_OI of the OK M1 answers, and done() prints
# one line "BENCH-JSON {...}" (harness.WRK_SUMMARY) with those and wrk's latency percentiles (microseconds).
WRK_SCRIPT = r"""
local threads = {}
local MODE, TOKEN, PMS = "@MODE@", "@TOKEN@", @PMS@

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  tag = args[1] .. "-" .. id
  sent, ok, bad, refs = 0, 0, {}, {}
  if MODE == "ping" then
    ping = wrk.format("GET", "/ping")
  else
    headers = {["Authorization"] = "Bearer " .. TOKEN, ["Content-Type"] = "application/json"}
  end
end

function request()
  sent = sent + 1
  if MODE == "ping" then return ping end
  local body = string.format(
    '{"Code_DO": "DOXX", "Code_OI": "OIAA", "Ref_Interv_DO": "%s-%d", "PM": "FI-BENCH-%04d", '
    .. '"Nature_PBO_PTO": [{"nature": 1, "PBO": "PT0012345", "PTO": "FI-1234-5678"}], '
    .. '"Debut_Inter": "%s"}',
    tag, sent, sent % PMS, os.date("!%Y-%m-%dT%H:%M:%S+00:00"))
  return wrk.format("POST", "/v1/intervention_DO", headers, body)
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
    if MODE == "m1" then
      local ref = string.match(body, '"Ref_Interv_OI"%s*:%s*"([^"]+)"')
      if ref then refs[#refs + 1] = ref end
    end
  else
    local kind = "HTTP " .. status .. ": " .. string.sub(body or "", 1, 120)
    bad[kind] = (bad[kind] or 0) + 1
  end
end

local function quote(text)
  return '"' .. string.gsub(text, '[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

function done(summary, latency, requests)
  local total_sent, total_ok, kinds, oks = 0, 0, {}, {}
  for _, thread in ipairs(threads) do
    total_sent = total_sent + thread:get("sent")
    total_ok = total_ok + thread:get("ok")
    for kind, n in pairs(thread:get("bad")) do kinds[#kinds + 1] = quote(kind) .. ": " .. n end
    for _, ref in ipairs(thread:get("refs")) do oks[#oks + 1] = quote(ref) end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH-JSON {"duration_us": %d, "answers": %d, "sent": %d, "ok": %d, "p50_us": %d, "p99_us": %d, '
    .. '"max_us": %d, "socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, '
    .. '"bad": {%s}, "refs": [%s]}\n',
    summary.duration, summary.requests, total_sent, total_ok, latency:percentile(50),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.timeout,
    table.concat(kinds, ", "), table.concat(oks, ", ")))
end
"""


@dataclass
class Wrk:
    """Runs wrk with the bench's Lua script (``harness.run_wrk``: one thread, 30 s time-out)."""

    path: str
    work: Path
    pms: int = 300

    def script(self, mode: str, token: str) -> Path:
        """The Lua script for ``mode`` ("ping" or "m1") with the bearer token in it (file mode 600)."""
        target = self.work / f"wrk-{mode}-{secrets.token_hex(3)}.lua"
        target.touch(0o600)
        text = WRK_SCRIPT.replace("@MODE@", mode).replace("@TOKEN@", token)
        target.write_text(text.replace("@PMS@", str(self.pms)))
        return target

    def phase(
        self, base: str, mode: str, tag: str, token: str, *, clients: int, warmup: float, duration: float
    ) -> Phase:
        """A warm-up run (counted for errors, CPU and rows, not for latency), then the measured run."""
        script = self.script(mode, token)
        path = "/ping" if mode == "ping" else "/v1/intervention_DO"
        phase = Phase()
        for name, seconds in (("W", warmup), ("M", duration)):
            if seconds <= 0:
                continue
            summary, cpu = run_wrk(
                self.path,
                base + path,
                script,
                clients=clients,
                seconds=max(1, round(seconds)),
                script_args=[f"{tag}{name}"],
            )
            phase.client_cpu += cpu
            phase.ok += summary["ok"]
            phase.refs += summary["refs"]
            phase.unanswered += summary["sent"] - summary["answers"]
            kinds = {**summary["bad"], **{f"socket {k}": n for k, n in summary["socket_errors"].items()}}
            for kind, count in kinds.items():
                if count:
                    phase.failed(kind, count)
            if name == "M":
                phase.window = summary["duration_us"] / 1e6
                phase.measured = {
                    "ok": summary["ok"],
                    "p50_ms": round(summary["p50_us"] / 1000, 1) if summary["answers"] else None,
                    "p99_ms": round(summary["p99_us"] / 1000, 1) if summary["answers"] else None,
                }
        script.unlink(missing_ok=True)
        return phase


# ---------------------------------------------------------------- the measurements


def db_counts(url: str) -> dict[str, int]:
    """Interventions and outbox messages stored, to check every OK answer really created one."""
    from sqlalchemy import func, select

    from tocsin.core.db import Database
    from tocsin.core.outbox import OutboxMessage
    from tocsin.interventions.models import Intervention

    database = Database(url)
    with database.session() as db:
        counts = {
            "interventions": db.scalar(select(func.count()).select_from(Intervention)) or 0,
            "outbox_messages": db.scalar(select(func.count()).select_from(OutboxMessage)) or 0,
        }
    database.engine.dispose()
    return counts


@dataclass
class Setup:
    """One server setup under test: engine, database URL, web processes, where logs go."""

    engine: str
    url: str
    processes: int
    logs: Path
    server_pid: int = 0
    server_log: Path | None = None
    server: subprocess.Popen | None = None
    base: str = ""

    def start(self, stack: ExitStack) -> None:
        """Launch this setup's server (``ready`` waits for it)."""
        self.base, self.server, self.server_log = start_server(stack, self.url, self.processes, self.logs)
        self.server_pid = self.server.pid

    def ready(self) -> None:
        """Wait until the server answers /ping."""
        assert self.server is not None and self.server_log is not None
        wait_until_up(f"{self.base}/ping", self.server, self.server_log, timeout=60)

    def cpu(self) -> dict[str, Any]:
        """CPU seconds used so far by the server processes, our PostgreSQL backends and this process."""
        database = self.url.rsplit("/", 1)[1] if self.engine == "postgresql" else None
        return CpuMeter({"server": self.server_pid}, database).read()


def measure(
    setup: Setup, args: argparse.Namespace, receivers: list[int], rates: list[float], *, safety: bool
) -> dict:
    """Run the acceptance phases, then the fan-out phases at each of ``rates`` (woken worker, then with
    ``args.polling`` a polling worker), then (``safety``) the safety phases; then stop the server."""
    assert setup.server is not None
    base = setup.base
    token = bearer_token(base)
    rows = [row for clients in args.clients for row in acceptance(setup, base, token, clients, args)]
    fan = [
        fan_out(setup, base, token, receivers, rate, args, woken=woken)
        for rate in rates
        for woken in ((True, False) if args.polling else (True,))
    ]
    extra: dict[str, Any] = {}
    if safety:
        extra["hostile_token_loops"] = [hostile(setup, base, token, loops, args) for loops in (0, 4, 8)]
        extra["worker_killed"] = worker_killed(setup, base, token, receivers, args)
    stop(setup.server)
    return {"acceptance": rows, "fan_out": fan, **extra}


def acceptance(
    setup: Setup, base: str, token: str, clients: int, args: argparse.Namespace
) -> list[dict[str, Any]]:
    """GET /ping then M1s with ``clients`` concurrent clients; one result row for each."""
    label = f"{setup.engine}, {setup.processes} process(es), {clients} clients"
    row = {"engine": setup.engine, "processes": setup.processes, "clients": clients}
    console.log(f"[cyan]GET /ping[/] {label}")
    ping = {**row, "endpoint": "ping", **metered(setup, base, "ping", token, clients, args)[1]}
    console.log(ping)
    console.log(f"[cyan]M1[/] {label}")
    before = db_counts(setup.url)
    phase, figures = metered(setup, base, "m1", token, clients, args)
    after = settled_counts(setup.url) if phase.unanswered else db_counts(setup.url)
    m1 = {**row, "endpoint": "M1", **figures, "check": check_stored(setup.url, phase, before, after)}
    console.log(m1)
    return [ping, m1]


def metered(
    setup: Setup, base: str, mode: str, token: str, clients: int, args: argparse.Namespace
) -> tuple[Phase, dict[str, Any]]:
    """One load phase ("ping" or "m1", with wrk or httpx), with the CPU it cost per request (warm-up
    included on both sides; the client's CPU is wrk's plus this process's)."""
    timing = {"clients": clients, "warmup": args.warmup, "duration": args.duration}
    tag = f"B{secrets.token_hex(3).upper()}"
    before = setup.cpu()
    if args.wrk:
        phase = args.wrk.phase(base, mode, tag, token, **timing)
    else:
        send = ping_sender() if mode == "ping" else m1_sender(token, tag, args.pms)
        phase = run_load(base, send, reference=ref_oi, **timing)
    after = setup.cpu()
    after["client"] += phase.client_cpu
    figures = phase.figures()
    figures["cpu_ms_per_request"] = per_request(before, after, phase.ok + phase.errors)
    if phase.errors and setup.server_log:
        figures["server_log_tail"] = setup.server_log.read_text(errors="replace")[-1500:]
    return phase, figures


def settled_counts(url: str, timeout: float = 10.0) -> dict[str, int]:
    """Row counts once they stop moving: wrk stops with up to one M1 in flight on each connection, and
    the server may still be storing it."""
    counts = db_counts(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.3)
        again = db_counts(url)
        if again == counts:
            break
        counts = again
    return counts


def stored_for(url: str, refs: list[str]) -> dict[str, int]:
    """Interventions and outbox messages stored for these Ref_Interv_OI (the outbox subject)."""
    from sqlalchemy import func, select

    from tocsin.core.db import Database
    from tocsin.core.outbox import OutboxMessage
    from tocsin.interventions.models import Intervention

    found = {"interventions": 0, "outbox_messages": 0}
    database = Database(url)
    with database.session() as db:
        for start in range(0, len(refs), 500):
            chunk = refs[start : start + 500]
            stored = select(func.count()).where(Intervention.ref_oi.in_(chunk))
            queued = select(func.count()).where(OutboxMessage.subject.in_(chunk))
            found["interventions"] += db.scalar(stored.select_from(Intervention)) or 0
            found["outbox_messages"] += db.scalar(queued.select_from(OutboxMessage)) or 0
    database.engine.dispose()
    return found


def check_stored(url: str, phase: Phase, before: dict[str, int], after: dict[str, int]) -> dict[str, Any]:
    """Each OK M1 must have made one intervention and three outbox messages (checked by its
    Ref_Interv_OI), and nothing else may have been stored except for requests left unanswered (wrk
    stops with requests in flight; the server may still store them)."""
    created = after["interventions"] - before["interventions"]
    queued = after["outbox_messages"] - before["outbox_messages"]
    refs = set(phase.refs)
    found = stored_for(url, sorted(refs))
    return {
        "ok_answers": phase.ok,
        "unanswered": phase.unanswered,
        "interventions_created": created,
        "outbox_messages_queued": queued,
        "ok_answers_stored": found["interventions"],
        "ok_answers_outbox_messages": found["outbox_messages"],
        "consistent": len(refs) == phase.ok
        and found["interventions"] == phase.ok
        and found["outbox_messages"] == 3 * phase.ok
        and phase.ok <= created <= phase.ok + phase.unanswered
        and queued == 3 * created,
    }


def fan_out(
    setup: Setup,
    base: str,
    token: str,
    receivers: list[int],
    rate: float,
    args: argparse.Namespace,
    *,
    woken: bool,
) -> dict[str, Any]:
    """Paced M1s with the outbox worker running, ``woken`` by live signals or polling every 50 ms;
    delay = arrival at the OC − M1 answer received. Also the worker's CPU: idle for a moment before
    the load, then over the phase."""
    control = f"http://127.0.0.1:{receivers[0]}"
    closed = close_backlog(setup.url)
    httpx.post(f"{control}/_reset").raise_for_status()
    how = "woken" if woken else "polling 50 ms"
    env = app_env(setup.url) | (
        {"TOCSIN_WORKER_WAKE": "true"}
        if woken
        else {"TOCSIN_WORKER_WAKE": "false", "TOCSIN_WORKER_POLL_SECONDS": "0.05"}
    )
    with ExitStack() as stack:
        log = setup.logs / f"worker-{setup.engine}-{rate:g}-{'woken' if woken else 'polling'}.log"
        worker = start(stack, [TOCSIN, "worker", "--name", "bench-worker"], env, log)
        wait_for_line(log, "worker bench-worker started", worker)
        idle_from, idle_cpu = time.monotonic(), process_cpu(worker.pid)
        time.sleep(args.idle_seconds)  # the worker's cost while nothing is queued
        idle = (process_cpu(worker.pid) - idle_cpu) / (time.monotonic() - idle_from)
        busy_cpu = process_cpu(worker.pid)
        console.log(
            f"[cyan]fan-out[/] {setup.engine}, {rate:g} M1/s for {args.fanout_seconds:g} s, worker {how}"
        )
        phase = run_load(
            base,
            m1_sender(token, f"F{secrets.token_hex(3).upper()}", args.pms),
            clients=args.fanout_clients,
            warmup=0.0,
            duration=args.fanout_seconds,
            rate=rate,
            reference=ref_oi,
        )
        arrivals = await_arrivals(control, 3 * len(phase.answers), args.drain_seconds, worker, log)
        worker_cpu = process_cpu(worker.pid) - busy_cpu
    figures = {"engine": setup.engine, "rate_target": rate, "worker": how, "backlog_closed": closed}
    figures.update(fan_out_figures(phase, arrivals, receivers))
    figures["worker_idle_cpu_percent"] = round(100 * idle, 2)
    figures["worker_cpu_ms_per_m2"] = round(1000 * worker_cpu / max(figures["m2_delivered"], 1), 2)
    console.log(figures)
    return figures


def close_backlog(url: str) -> int:
    """Mark the acceptance phases' undelivered messages closed, so the worker sends only this phase's."""
    from sqlalchemy import update

    from tocsin.core.db import Database
    from tocsin.core.outbox import CLOSED, PENDING, OutboxMessage

    database = Database(url)
    with database.session() as db:
        result = db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == PENDING)
            .values(status=CLOSED, finished_at=datetime.now(UTC))
        )
    database.engine.dispose()
    return int(result.rowcount or 0)


def await_arrivals(
    control: str, expected: int, patience: float, worker: subprocess.Popen, log: Path
) -> list[list[Any]]:
    """Poll the receivers until every expected M2 arrived (or ``patience`` s), then 0.5 s more
    so a late duplicate still shows."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError(f"worker exited early:\n{log.read_text(errors='replace')[-3000:]}")
        if httpx.get(f"{control}/_count").json() >= expected:
            break
        time.sleep(0.1)
    time.sleep(0.5)
    return arrivals(control)


def arrivals(control: str) -> list[list[Any]]:
    """What the OC receivers got: [port, Ref_Interv_OI, M2 or M4 (or the path, if another), time]."""
    found = []
    for record in httpx.get(f"{control}/_received").json():
        body = record["json"]
        kind = "M4" if "Fin_Inter" in body else "M2"
        if record["path"] != "/v1/intervention_OI":
            kind = record["path"]
        found.append([record["port"], body.get("Ref_Interv_OI"), kind, record["at"]])
    return found


def fan_out_figures(phase: Phase, arrivals: list[list[Any]], ports: list[int]) -> dict[str, Any]:
    """Delivered, missing and duplicated M2s, and the delay percentiles of first arrivals."""
    first: dict[tuple[int, str], float] = {}
    duplicates = unexpected = 0
    for port, ref_oi, kind, at in arrivals:
        if ref_oi not in phase.answers or kind != "M2" or port not in ports:
            unexpected += 1
        elif (port, ref_oi) in first:
            duplicates += 1
        else:
            first[(port, ref_oi)] = at
    delays = [at - phase.answers[ref_oi] for (_, ref_oi), at in first.items()]
    expected = 3 * len(phase.answers)
    return {
        "m1_sent_ok": phase.ok,
        "m1_per_second": round(phase.ok / phase.window, 1) if phase.window else 0.0,
        "m1_errors": phase.errors,
        "m2_expected": expected,
        "m2_delivered": len(first),
        "m2_missing": expected - len(first),
        "m2_duplicates": duplicates,
        "unexpected": unexpected,
        "delay_p50_ms": percentile(delays, 0.50),
        "delay_p99_ms": percentile(delays, 0.99),
        "delay_max_ms": percentile(delays, 1.0),
    }


# ---------------------------------------------------------------- safety phases


async def probe_under_attack(base: str, token: str, loops: int, seconds: float, pms: int) -> dict[str, Any]:
    """/ping and M1 at 20/s each while ``loops`` clients post wrong client secrets as fast as they are
    answered; answer times of the probes, and the attackers' answers by status."""
    stop_at = time.perf_counter() + seconds
    timings: dict[str, list[float]] = {"ping": [], "M1": []}
    attacks: dict[str, int] = {}
    m1 = m1_sender(token, f"H{secrets.token_hex(3).upper()}", pms)
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:

        async def attacker() -> None:
            while time.perf_counter() < stop_at:
                reply = await http.post(
                    "/oauth/token", data={"grant_type": "client_credentials"}, auth=("doxx", "wrong-secret")
                )
                attacks[str(reply.status_code)] = attacks.get(str(reply.status_code), 0) + 1

        async def prober(name: str, send: Callable[[int], Any]) -> None:
            index = 0
            while time.perf_counter() < stop_at:
                sent = time.perf_counter()
                reply = await send(index)
                if reply.status_code == 200:
                    timings[name].append(time.perf_counter() - sent)
                index += 1
                await asyncio.sleep(max(0.0, sent + 0.05 - time.perf_counter()))

        await asyncio.gather(
            *(attacker() for _ in range(loops)),
            prober("ping", lambda _: http.get("/ping")),
            prober("M1", lambda i: m1(http, i)),
        )
    figures: dict[str, Any] = {"loops": loops, "attacker_answers": attacks}
    for name, values in timings.items():
        figures[f"{name}_p50_ms"], figures[f"{name}_p99_ms"] = (
            percentile(values, 0.5),
            percentile(values, 0.99),
        )
    return figures


def hostile(setup: Setup, base: str, token: str, loops: int, args: argparse.Namespace) -> dict[str, Any]:
    """One attack phase (issue 6: the token endpoint used to check secrets on the event loop). The
    throttle's counts are cleared afterwards: every bench client shares the attackers' address."""
    console.log(f"[cyan]wrong client secrets[/] {setup.engine}, {loops} loop(s)")
    figures = asyncio.run(probe_under_attack(base, token, loops, args.hostile_seconds, args.pms))
    console.log(figures)
    forget_failures(setup.url)
    return figures


def forget_failures(url: str) -> None:
    from sqlalchemy import delete

    from tocsin.core.auth.throttle import AuthThrottle
    from tocsin.core.db import Database

    database = Database(url)
    with database.session() as db:
        db.execute(delete(AuthThrottle))
    database.engine.dispose()


def pending_messages(url: str) -> int:
    from sqlalchemy import func, select

    from tocsin.core.db import Database
    from tocsin.core.outbox import PENDING, OutboxMessage

    database = Database(url)
    with database.session() as db:
        count = db.scalar(select(func.count()).where(OutboxMessage.status == PENDING)) or 0
    database.engine.dispose()
    return count


def worker_killed(
    setup: Setup, base: str, token: str, receivers: list[int], args: argparse.Namespace
) -> dict[str, Any]:
    """A burst of M1s; the worker is killed with SIGKILL mid fan-out and a new one started at once. How
    long until every M2 arrived, and how many came twice (same Idempotency-Key, so receivers cope)."""
    from tocsin.core.outbox import Worker

    control = f"http://127.0.0.1:{receivers[0]}"
    close_backlog(setup.url)
    httpx.post(f"{control}/_reset").raise_for_status()
    httpx.post(f"{control}/_answer", json={"delay": 0.2}).raise_for_status()
    burst = 60 if args.quick else 200
    console.log(f"[cyan]worker killed[/] {setup.engine}: {burst} M1s, SIGKILL once M2s arrive")
    with ExitStack() as stack:
        log = setup.logs / f"worker-killed-{setup.engine}.log"
        first = start(stack, [TOCSIN, "worker", "--name", "bench-first"], app_env(setup.url), log)
        wait_for_line(log, "worker bench-first started", first)
        phase = run_load(
            base,
            m1_sender(token, f"K{secrets.token_hex(3).upper()}", args.pms),
            clients=16,
            warmup=0.0,
            duration=burst / 200,
            rate=200.0,
            reference=ref_oi,
        )
        while httpx.get(f"{control}/_count").json() < 10:
            time.sleep(0.02)
        os.killpg(first.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        log2 = setup.logs / f"worker-after-kill-{setup.engine}.log"
        start(stack, [TOCSIN, "worker", "--name", "bench-second"], app_env(setup.url), log2)
        while pending_messages(setup.url) and time.monotonic() - killed_at < 120:
            time.sleep(0.1)
        recovered = time.monotonic() - killed_at
        time.sleep(0.5)
        arrived = arrivals(control)
    httpx.post(f"{control}/_answer", json={"delay": 0}).raise_for_status()
    counts = fan_out_figures(phase, arrived, receivers)
    figures = {
        "m1_sent_ok": phase.ok,
        "m2_expected": counts["m2_expected"],
        "m2_delivered": counts["m2_delivered"],
        "m2_missing": counts["m2_missing"],
        "m2_duplicates": counts["m2_duplicates"],
        "seconds_from_kill_to_all_delivered": round(recovered, 1),
        "lease_seconds": 60,
        "heartbeat_stale_after_seconds": Worker.STALE_AFTER,
    }
    console.log(figures)
    return figures


# ---------------------------------------------------------------- the run


def options(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options, with the phase lengths that --quick shortens."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Short phases: under a minute in all.")
    parser.add_argument("--polling", action="store_true", help="Also the fan-out with a polling worker.")
    parser.add_argument("--safety", action="store_true", help="Also the attack and killed-worker phases.")
    parser.add_argument("--clients", type=int, nargs="+", help="Concurrent clients (several: a sweep).")
    parser.add_argument("--pms", type=int, default=300, help="PMs in the configuration.")
    parser.add_argument("--postgres", default=PG_ADMIN, help="Admin URL (any database on the server).")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only.")
    parser.add_argument("--rate", type=float, nargs="+", help="Fan-out phase M1/s (several: one each).")
    parser.add_argument(
        "--httpx", action="store_true", help="Drive the acceptance phases with httpx even if wrk is there."
    )
    args = parser.parse_args(argv)
    args.clients = args.clients or ([16] if args.quick else [4, 16, 64])
    args.rate = args.rate or ([50.0] if args.quick else [50.0, 200.0])
    args.warmup, args.duration = (1, 3) if args.quick else (2, 10)  # whole seconds: wrk's -d
    args.fanout_seconds = 2.5 if args.quick else 10.0
    args.fanout_clients, args.drain_seconds = 16, (8.0 if args.quick else 60.0)
    args.idle_seconds = 2.0 if args.quick else 5.0  # the worker idles this long before each fan-out
    args.hostile_seconds = 2.0 if args.quick else 10.0
    args.polling = args.polling or not args.quick
    args.safety = args.safety or not args.quick
    return args


def run(args: argparse.Namespace, stack: ExitStack) -> dict[str, Any]:
    """SQLite with one process, then PostgreSQL with one process (plus the fan-out) and two."""
    work = Path(tempfile.mkdtemp(prefix="tocsin_bench_"))
    stack.callback(shutil.rmtree, work, ignore_errors=True)
    pg = None if args.no_postgres else args.postgres
    result: dict[str, Any] = {"machine": machine(pg), "quick": args.quick, "pms": args.pms}
    result["phase_seconds"] = {
        "warmup": args.warmup,
        "measured": args.duration,
        "fan_out": args.fanout_seconds,
        "worker_idle_before_fan_out": args.idle_seconds,
    }
    result["load_average_at_start"] = load_average()
    result.update(load_generator(args, work))
    receivers = start_receivers(stack, work, len(OCS))
    setups = [(Setup("sqlite", f"sqlite:///{work / 'bench.db'}", 1, work), True)]
    if pg:
        pg_url = stack.enter_context(scratch_database("postgresql", admin=pg))
        setups += [
            (Setup("postgresql", pg_url, 1, work), True),
            (Setup("postgresql", pg_url, 2, work), False),
        ]
    for setup, _ in setups:
        if setup.processes == 1:
            console.log(f"[bold]{setup.engine}[/]: migrating and loading the configuration")
            prepare(setup.url, receivers, args.pms)
    # All servers start together (importing the app is most of the bench's set-up time) and sit idle
    # until their turn; each is stopped as soon as it has been measured.
    console.log(f"starting {len(setups)} servers")
    for setup, _ in setups:
        setup.start(stack)
    for setup, _ in setups:
        setup.ready()
    result["acceptance"], result["fan_out"] = [], []
    safety_setup = setups[1][0] if pg else setups[0][0]  # the safety phases run once, on PostgreSQL if any
    safety_setup = safety_setup if args.safety else None
    for setup, with_fan_out in setups:
        figures = measure(
            setup, args, receivers, args.rate if with_fan_out else [], safety=setup is safety_setup
        )
        result["acceptance"] += figures["acceptance"]
        result["fan_out"] += figures["fan_out"]
        for key in ("hostile_token_loops", "worker_killed"):
            if key in figures:
                result[key] = figures[key]
    result["load_average_at_end"] = load_average()
    return result


def load_generator(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Pick the acceptance phases' load generator (sets ``args.wrk``) and say which in the JSON."""
    args.wrk = None
    if args.httpx:
        path, why = None, "--httpx given"
    else:
        path, why = find_wrk(), "wrk is not on PATH and could not be installed with apt-get"
    if path:
        args.wrk = Wrk(path, work, args.pms)
        version = wrk_version(path)
        console.log(f"[bold]load generator[/]: {version}, 1 thread")
        return {"load_generator": "wrk", "wrk": version, "fan_out_load_generator": "httpx (paced)"}
    console.log(
        f"[bold red]load generator: httpx[/] ({why}). httpx costs several ms of CPU per request on this "
        "machine: the figures measure the client as much as the server"
    )
    return {
        "load_generator": "httpx",
        "load_generator_note": f"{why}; httpx in this process is the bottleneck, not the server",
        "fan_out_load_generator": "httpx (paced)",
    }


def ratios(acceptance: list[dict[str, Any]]) -> dict[str, float | None]:
    """M1s per second over /ping requests per second, for each engine, web processes and clients: the
    share of the framework's ceiling the M1 path reaches, steadier between runs than either rate."""
    rates = {
        (row["engine"], row["processes"], row["clients"], row["endpoint"]): row["rps"] for row in acceptance
    }
    found: dict[str, float | None] = {}
    for engine, processes, clients, endpoint in rates:
        if endpoint == "M1":
            ping = rates.get((engine, processes, clients, "ping"))
            m1 = rates[(engine, processes, clients, "M1")]
            key = f"m1_per_ping_{engine}_{processes}p_{clients}c"
            found[key] = round(m1 / ping, 3) if ping else None
    return found


def main() -> None:
    """Run the benchmark; its last line is one JSON object."""
    args = options()
    started = time.monotonic()
    with ExitStack() as stack:
        result = run(args, stack)
    result["ratios"] = ratios(result["acceptance"])
    result["wall_seconds"] = round(time.monotonic() - started, 1)
    emit(result)


if __name__ == "__main__":
    run_until_signalled(main)
