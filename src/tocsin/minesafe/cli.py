"""``tocsin minesafe …``: radio planning, simulation and replay of tracker reports."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

app = typer.Typer(help="Mine collision-warning desk: radio planner, simulator, replay.", no_args_is_help=True)


@app.command()
def replay(
    file: str = typer.Argument(..., help="Reports as JSON lines; '-' reads standard input."),
    site: str | None = typer.Option(None, "--site", help="Site YAML or a zones list."),
    mode: str = typer.Option("base", help="base: the whole picture; tracker: only what --own hears."),
    own: str | None = typer.Option(None, help="Tracker id the engine runs on (tracker mode)."),
) -> None:
    """Feed reports through the detection engine; alarm events on stdout, a summary on stderr."""
    import json
    import sys

    from rich.console import Console

    from tocsin.minesafe.engine import Engine
    from tocsin.minesafe.replay import Replay, SiteSetup, load_setup

    if mode not in ("base", "tracker") or (mode == "tracker" and own is None):
        raise typer.BadParameter("--mode is base or tracker; tracker needs --own ID", param_hint="--mode")
    setup = load_setup(site) if site else SiteSetup()
    own_key = None if own is None else f"{setup.name}:{own}"
    engine = Engine(None, setup.zones, mode=mode, own_id=own_key, registry=setup.registry)
    runner = Replay(engine, site=setup.name)
    with sys.stdin if file == "-" else open(file, encoding="utf-8", errors="replace") as lines:
        for event in runner.run(lines):
            sys.stdout.write(json.dumps(event, ensure_ascii=False) + "\n")
    Console(stderr=True).print_json(json.dumps(runner.summary(), ensure_ascii=False))


if TYPE_CHECKING:
    from contextlib import ExitStack
    from pathlib import Path
    from typing import Any, TextIO

    from tocsin.minesafe.codec import Deduplicator
    from tocsin.minesafe.model import Report
    from tocsin.minesafe.simulator import Tick
    from tocsin.minesafe.site import Site


@app.command()
def duty(
    shift: str = typer.Argument(..., help="day (08:00–20:00) or night (20:00–08:00), the site's local time."),
    usernames: list[str] = typer.Argument(None, help="Staff to call in order, the shift supervisor first."),
    site: str = typer.Option("quarry", help="The site's name."),
) -> None:
    """Set who is called (by SMS), in order, about a shift's SOS and danger alarms; with no names,
    print the list."""
    from rich.console import Console

    from tocsin.cli import database
    from tocsin.core.clock import utc_now
    from tocsin.minesafe import alerts
    from tocsin.minesafe.shifts import SHIFTS

    if shift not in SHIFTS:
        raise typer.BadParameter(f"one of {', '.join(SHIFTS)}", param_hint="SHIFT")
    with database().session() as db:
        if usernames:
            try:
                alerts.set_duty(db, site=site, shift=shift, usernames=usernames, actor="cli", now=utc_now())
            except ValueError as error:
                raise typer.BadParameter(str(error), param_hint="USERNAMES") from None
        people = [user.username for user in alerts.duty_list(db, site, shift)]
    Console().print(f"{site} {shift}: {' → '.join(people) or 'nobody'}")


@app.command()
def ingest(
    site_files: list[str] = typer.Option(
        None,
        "--site",
        help="Site YAML, repeat for several sites (default: TOCSIN_MINESAFE_SITE, else the example quarry).",
    ),
    gateways_file: str | None = typer.Option(
        None, "--gateways", help="YAML mapping gateway EUI → site name (default: the simulated masts)."
    ),
    phones_file: str | None = typer.Option(
        None, "--phones", help="YAML list of phones: {device, site, kind} (default: none)."
    ),
    mqtt: str = typer.Option("127.0.0.1:1883", help="MQTT broker of the gateway bridges, HOST:PORT or off."),
    region: str = typer.Option("ru864", help="The bridges' topic prefix ('' for none)."),
    udp: str = typer.Option("0.0.0.0:1700", help="Semtech UDP packet forwarder, HOST:PORT or off."),
    osmand: str = typer.Option("0.0.0.0:5055", help="OsmAnd (Traccar Client) HTTP, HOST:PORT or off."),
    opcua: str = typer.Option("0.0.0.0:4840", help="OPC UA server for the SCADA, HOST:PORT or off."),
    window_ms: float = typer.Option(40.0, min=1.0, max=1000.0, help="Engine batching window, ms."),
    keep: bool = typer.Option(True, "--store/--no-store", help="Keep positions and alarms in the database."),
    simulate_masts: bool = typer.Option(
        False, "--simulate", help="Feed it the quarry simulator live (through the broker when one answers)."
    ),
    quiet: bool = typer.Option(False, "--quiet", help="Do not print the alarm events."),
    own: list[str] = typer.Option(
        None, "--own", help="Sites this process owns (comma-separated); with --standby, sites are leased."
    ),
    standby: list[str] = typer.Option(None, "--standby", help="Sites it takes over when their owner stops."),
    shard_name: str | None = typer.Option(None, "--shard-name", help="This process's name in the leases."),
) -> None:
    """Take reports from gateways and phones into the engine; alarm events on stdout as JSON lines,
    counts on stderr when stopped (Ctrl-C). Positions and alarms go to TOCSIN_DATABASE_URL."""
    import asyncio
    import dataclasses
    import json
    import sys
    import threading

    from rich.console import Console

    from tocsin.minesafe.ingest import downlinks
    from tocsin.minesafe.ingest.runner import Listen, Running, broker_answers, build, feed_simulation, run
    from tocsin.minesafe.ingest.service import Broker

    sites, gateways, phones = _ingest_setup(site_files or [], gateways_file, phones_file)
    site = next(iter(sites.values()))  # the one the simulator plays, with --simulate
    from tocsin.minesafe.ingest.pipeline import Ingestion

    listen = Listen(
        broker=None if mqtt == "off" else Broker(*_address(mqtt, "--mqtt"), region=region),
        udp=None if udp == "off" else _address(udp, "--udp"),
        osmand=None if osmand == "off" else _address(osmand, "--osmand"),
        opcua=None if opcua == "off" else _address(opcua, "--opcua"),
    )

    def print_events(events: list[Any]) -> None:
        for event in events:
            sys.stdout.write(json.dumps(dataclasses.asdict(event), ensure_ascii=False, default=str) + "\n")
        sys.stdout.flush()

    ingestion = Ingestion(sites, gateways, phones=phones)
    queued = threading.Event()
    recorder = (
        _recorder(sites, lambda events: downlinks.plan(events, ingestion), queued, ingestion)
        if keep
        else None
    )

    def take_events(events: list[Any]) -> None:
        if not quiet:
            print_events(events)
        if recorder is not None:
            recorder.add_events(events)

    on_reports = recorder.add_reports if recorder is not None else (lambda reports: None)
    service = build(ingestion, on_events=take_events, on_reports=on_reports, window_s=window_ms / 1000)
    running = Running(service)
    also = []
    taking: Any = lambda: list(sites)  # noqa: E731
    if own or standby:
        shards = _shards(recorder, service, list(sites), own or [], standby or [], shard_name)
        also.append(shards.run)
        taking = lambda: sorted(shards.held)  # noqa: E731
    if recorder is not None:  # buzzer commands go through the outbox, so only with storage
        also.append(
            lambda: downlinks.serve(
                recorder.database,
                udp=lambda: running.udp,
                mqtt=lambda: service.mqtt_client,
                region=region,
                json_of=service.json_of,
                sites=taking,
                woken=queued,
            )
        )
    if recorder is not None:  # alarms left open by a previous run and not raised again are cleared
        also.append(lambda: recorder.close_unconfirmed(sites=taking))
    if recorder is not None:  # the masts' health too, for the dispatch room's "Masts"
        from tocsin.minesafe.ingest.masts import keep_masts

        also.append(lambda: keep_masts(service, recorder.database))
    if recorder is not None:  # the zones operators draw (``/minesafe/zones``) reach the engines
        from tocsin.minesafe.ingest.zones_sync import keep_zones

        also.append(lambda: keep_zones(service, recorder.database))
    if simulate_masts:
        if listen.broker is not None and not broker_answers(listen.broker):
            Console(stderr=True).print(f"no MQTT broker at {mqtt}: the simulated masts feed in process")
            listen.broker = None
        also.append(lambda: feed_simulation(service, site, broker=listen.broker))
    try:
        stored = _database() if listen.opcua is not None and recorder is None else None
        asyncio.run(
            _until_stopped(run(service, listen, running, recorder=recorder, also=also, database=stored))
        )
    except KeyboardInterrupt:
        pass
    finally:
        counts = dict(ingestion.counts) | {f"service:{k}": v for k, v in service.counts.items()}
        Console(stderr=True).print_json(json.dumps(counts))


async def _until_stopped(work: Any) -> None:
    """Run ``work`` until it ends or the process is told to stop: SIGINT (Ctrl-C) or SIGTERM (systemd,
    docker stop) cancel it, so what waits is written, the leases handed back and the counts printed —
    even when the process was started with SIGINT ignored (in the background of a script)."""
    import asyncio
    import signal

    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        pass
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _shards(
    recorder: Any, service: Any, known: list[str], own: list[str], standby: list[str], name: str | None
) -> Any:
    from tocsin.minesafe.ingest.shards import Shards, attach, default_name, sites_of

    if recorder is None:
        raise typer.BadParameter("sites are leased through the database: drop --no-store", param_hint="--own")
    owned, standing = sites_of(own), sites_of(standby)
    unknown = sorted(set(owned + standing) - set(known))
    if unknown:
        raise typer.BadParameter(
            f"no site named {', '.join(unknown)} (known: {', '.join(known)})", param_hint="--own"
        )
    shards = Shards(recorder.database, owned, standing, name=name or default_name())
    attach(shards, service)
    return shards


def _recorder(sites: dict[str, Site], plan: Any, queued: Any, ingestion: Any) -> Any:
    from tocsin.minesafe.ingest.recorder import Recorder

    return Recorder(_database(), sites, plan=plan, queued=queued, link_of=ingestion.link_quality)


def _database() -> Any:
    from tocsin.cli import database

    return database()


def _address(value: str, option: str) -> tuple[str, int]:
    """HOST:PORT of an option, or a clear error naming it."""
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise typer.BadParameter(f"expected HOST:PORT or off, got {value!r}", param_hint=option)
    return host, int(port)


def _ingest_setup(
    site_files: list[str], gateways_file: str | None, phones_file: str | None
) -> tuple[dict[str, Site], dict[str, str], dict[str, Any]]:
    """The sites, their masts' gateway EUIs and their phones, from files or the simulated defaults."""
    from pathlib import Path

    import yaml

    from tocsin.minesafe.ingest import simulated
    from tocsin.minesafe.ingest.pipeline import Phone
    from tocsin.minesafe.model import Kind
    from tocsin.minesafe.site import load_configured_site, load_site

    sites: dict[str, Site] = {}
    for loaded in [load_site(f) for f in site_files] if site_files else [load_configured_site()]:
        if loaded.name in sites:
            raise typer.BadParameter(f"two sites named {loaded.name!r}", param_hint="--site")
        sites[loaded.name] = loaded
    site = next(iter(sites.values()))
    gateways = {eui: name for each in sites.values() for eui, name in simulated.gateways(each).items()}
    if gateways_file:
        raw = yaml.safe_load(Path(gateways_file).read_text(encoding="utf-8")) or {}
        if not isinstance(raw, dict) or not all(isinstance(k, str) and v in sites for k, v in raw.items()):
            names = ", ".join(repr(name) for name in sites)
            raise typer.BadParameter(f"a mapping of gateway EUI to one of {names}", param_hint="--gateways")
        gateways = {eui.lower(): name for eui, name in raw.items()}
    phones: dict[str, Any] = {}
    if phones_file:
        for n, entry in enumerate(yaml.safe_load(Path(phones_file).read_text(encoding="utf-8")) or []):
            try:
                phone = Phone(
                    str(entry["device"]), str(entry.get("site", site.name)), Kind(entry.get("kind", "person"))
                )
            except (KeyError, TypeError, ValueError) as error:
                raise typer.BadParameter(f"entry {n}: {error}", param_hint="--phones") from None
            if phone.site not in sites:
                raise typer.BadParameter(f"entry {n}: no site named {phone.site!r}", param_hint="--phones")
            phones[phone.device] = phone
    return sites, gateways, phones


@app.command(name="radio-plan")
def radio_plan(
    site_file: str | None = typer.Option(
        None, "--site", help="Site YAML (default: TOCSIN_MINESAFE_SITE, else the example quarry)."
    ),
    sf: list[int] = typer.Option([7, 8, 9], "--sf", help="Spreading factors (repeat the option)."),
    bw: list[float] = typer.Option([125.0, 250.0, 500.0], "--bw", help="Bandwidths in kHz (repeat)."),
    profile: str | None = typer.Option(None, help="Regional profile (EU868 or one in the site file)."),
    guard_ms: float = typer.Option(5.0, help="Guard time after every packet, ms."),
    plot: str | None = typer.Option(None, "--plot", help="Write a PNG plot here."),
    csv_file: str | None = typer.Option(None, "--csv", help="Write the table as CSV here."),
) -> None:
    """Time on air, channel occupancy and duty cycle of the source's plans A, B and C."""
    from tocsin.minesafe import radio
    from tocsin.minesafe.accuracy import write_csv
    from tocsin.minesafe.site import load_configured_site, load_site

    site = load_site(site_file) if site_file else load_configured_site()
    known = radio.profiles(site.radio)
    name = profile or site.radio.get("profile", radio.EU868.name)
    if name not in known:
        known_names = ", ".join(known)
        raise typer.BadParameter(f"unknown profile {name!r}; known: {known_names}", param_hint="--profile")
    try:
        rows = radio.plan_table(
            sfs=tuple(sf),
            bws_hz=tuple(b * 1e3 for b in bw),
            profile=known[name],
            trackers=len(site.trackers),
            stations=len(site.masts),
            guard_s=guard_ms / 1e3,
        )
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error
    _print_plan(rows, title=f"{site.name}: {len(site.trackers)} trackers, {len(site.masts)} masts, {name}")
    if plot:
        radio.write_plot(rows, plot)
    if csv_file:
        write_csv(rows, csv_file)


def _print_plan(rows: list[dict[str, Any]], *, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    headers = (
        "plan",
        "SF",
        "BW kHz",
        "band (duty)",
        "bits/cycle (source)",
        "tracker ms",
        "station ms",
        "air ms/s",
        "busy %",
        "tracker duty %",
        "station duty %",
        "1 Hz",
        "max @1 Hz",
        "min interval s",
    )
    for header in headers:
        table.add_column(header, justify="left" if header in ("plan", "band (duty)") else "right")
    for r in rows:
        table.add_row(
            r["plan"],
            str(r["sf"]),
            f"{r['bw_khz']:g}",
            f"{r['band']} ({r['duty_limit_pct']:g} %)",
            f"{r['bits_per_cycle']} ({r['source_bits']})",
            f"{r['tracker_toa_ms']:.1f}",
            f"{r['station_toa_ms']:.1f}",
            f"{r['airtime_ms']:.0f}",
            f"{r['occupancy_pct']:.0f}",
            f"{r['tracker_duty_pct']:.2f}",
            f"{r['station_duty_pct']:.2f}",
            "[green]yes[/]" if r["fits_1hz"] else "[red]no[/]",
            str(r["max_trackers_1hz"]),
            f"{r['min_interval_s']:.2f}",
        )
    Console().print(table)


@app.command()
def simulate(
    minutes: float = typer.Option(10.0, min=0.0, help="Simulated time."),
    seed: int = typer.Option(0, help="Same seed, same run."),
    site_file: str | None = typer.Option(
        None, "--site", help="Site YAML (default: TOCSIN_MINESAFE_SITE, else the example quarry)."
    ),
    out: str | None = typer.Option(
        None, help="Directory for packets.jsonl, truth.jsonl, compliance.csv; '-' writes packets to stdout."
    ),
    reports: str | None = typer.Option(None, help="Decoded reports in the replay format; '-' for stdout."),
    loss: float = typer.Option(0.05, min=0.0, max=1.0, help="Packet loss per tracker–mast link."),
) -> None:
    """Run the quarry simulator: radio packets per mast, truth log, decoded reports."""
    import sys
    from contextlib import ExitStack
    from pathlib import Path

    from rich.console import Console
    from rich.progress import Progress

    from tocsin.minesafe.codec import Deduplicator
    from tocsin.minesafe.simulator import SimConfig
    from tocsin.minesafe.simulator import simulate as run
    from tocsin.minesafe.site import load_configured_site, load_site

    if out is None and reports is None:
        raise typer.BadParameter("give --out DIR|- and/or --reports FILE|-", param_hint="--out")
    if out == "-" and reports == "-":
        raise typer.BadParameter("only one of --out and --reports can be '-'", param_hint="--reports")
    site = load_site(site_file) if site_file else load_configured_site()
    seconds = minutes * 60
    with (
        ExitStack() as files,
        Progress(console=Console(stderr=True), transient=True, disable=seconds < 300) as progress,
    ):
        sinks = _simulation_sinks(files, out, reports, sys.stdout, Path)
        task = progress.add_task("simulating", total=seconds)
        recorder = _AccuracyRecorder()
        seen = Deduplicator()
        for tick in run(site, SimConfig(seed=seed, loss=loss), seconds):
            _write_tick(tick, site, seen, sinks, recorder)
            progress.update(task, completed=tick.t)
    if out not in (None, "-"):
        recorder.write(Path(out) / "compliance.csv")


def _simulation_sinks(
    files: ExitStack, out: str | None, reports: str | None, stdout: TextIO, path_type: type[Path]
) -> dict[str, TextIO]:
    """Open the output streams the options ask for (packets, truth, reports)."""
    sinks = {}
    if out == "-":
        sinks["packets"] = stdout
    elif out is not None:
        folder = path_type(out)
        folder.mkdir(parents=True, exist_ok=True)
        sinks["packets"] = files.enter_context((folder / "packets.jsonl").open("w", encoding="utf-8"))
        sinks["truth"] = files.enter_context((folder / "truth.jsonl").open("w", encoding="utf-8"))
    if reports == "-":
        sinks["reports"] = stdout
    elif reports is not None:
        sinks["reports"] = files.enter_context(path_type(reports).open("w", encoding="utf-8"))
    return sinks


def _write_tick(
    tick: Tick, site: Site, seen: Deduplicator, sinks: dict[str, TextIO], recorder: _AccuracyRecorder
) -> None:
    import json

    from tocsin.minesafe.simulator import (
        packet_record,
        replay_record,
        reports_of_tick,
        tick_packets,
        truth_record,
    )

    if "packets" in sinks:
        sinks["packets"].writelines(json.dumps(packet_record(p)) + "\n" for p in tick_packets(tick))
    if "truth" in sinks:
        sinks["truth"].writelines(json.dumps(truth_record(r), ensure_ascii=False) + "\n" for r in tick.truth)
    decoded = reports_of_tick(tick, site, seen)
    recorder.add(tick, decoded)
    if "reports" in sinks:
        sinks["reports"].writelines(json.dumps(replay_record(r)) + "\n" for r in decoded)


class _AccuracyRecorder:
    """Decoded positions against truth, for the item 597 compliance table of a run."""

    def __init__(self) -> None:
        self.kinds: list[str] = []
        self.fixes: list[tuple[float, float]] = []
        self.truth: list[tuple[float, float]] = []

    def add(self, tick: Tick, decoded: list[Report]) -> None:
        where = {record.id: record for record in tick.truth}
        for report in decoded:
            true = where[int(report.tracker.rpartition(":")[2])]
            self.kinds.append(true.kind)
            self.fixes.append((report.x, report.y))
            self.truth.append((true.x, true.y))

    def write(self, path: Path) -> None:
        from tocsin.minesafe.accuracy import compliance_report, write_csv

        if self.kinds:
            write_csv(compliance_report(kinds=self.kinds, fixes=self.fixes, truth=self.truth), path)
