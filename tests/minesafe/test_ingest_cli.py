"""``tocsin minesafe ingest`` as an operator runs it: listens, acknowledges a mast, prints its counts when
stopped; a bad address is refused naming the option."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.minesafe.uplink_fixtures import START, push_data, truck_frame
from tests.support import free_port

TOCSIN = [str(Path(sys.executable).parent / "tocsin")]


def acknowledged(process: subprocess.Popen, port: int, datagram: Callable[[int], bytes]) -> None:
    """Send the n-th datagram until the command answers PUSH_ACK (it starts, imports included, in a
    few seconds); fail saying why if it exits or never answers."""
    radio = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    radio.settimeout(0.5)
    try:
        for n in range(60):
            radio.sendto(datagram(n), ("127.0.0.1", port))
            try:
                if radio.recv(64)[3] == 0x01:
                    return
            except TimeoutError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
        pytest.fail("no PUSH_ACK within 30 s")
    finally:
        radio.close()


def test_it_takes_a_frame_and_reports_its_counts_when_stopped():
    port = free_port()
    command = [
        *TOCSIN,
        "minesafe",
        "ingest",
        "--mqtt",
        "off",
        "--osmand",
        "off",
        "--opcua",
        "off",
        "--udp",
        f"127.0.0.1:{port}",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        acknowledged(process, port, lambda n: push_data(truck_frame(100.0, 100.0, 1), START))
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    counts = json.loads(err[err.index("{") :])
    assert counts["reports"] == 1


@pytest.mark.parametrize(
    ("option", "value"), [("--udp", "nowhere"), ("--osmand", "host:99999"), ("--mqtt", ":1883")]
)
def test_a_bad_address_is_refused_naming_the_option(option, value):
    done = subprocess.run(
        [*TOCSIN, "minesafe", "ingest", option, value], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert option in done.stderr and "HOST:PORT" in done.stderr


def test_one_process_takes_several_sites_and_refuses_a_phone_of_none(tmp_path):
    """``--site`` repeated: the masts of both quarries are taken; a phone list naming a third is refused."""
    import yaml

    from tocsin.minesafe.ingest import simulated
    from tocsin.minesafe.site import example_site_path, load_site

    data = yaml.safe_load(example_site_path().read_text(encoding="utf-8"))
    data["name"] = "north"
    north_file = tmp_path / "north.yaml"
    north_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    north_mast = simulated.gateway_eui(load_site(north_file), 1)
    port = free_port()
    sites = ["--site", str(example_site_path()), "--site", str(north_file)]
    off = ["--mqtt", "off", "--osmand", "off", "--opcua", "off", "--no-store"]
    command = [*TOCSIN, "minesafe", "ingest", *sites, *off, "--udp", f"127.0.0.1:{port}"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def heard_by_north(seq: int) -> bytes:
        datagram = push_data(truck_frame(100.0, 100.0, seq % 8), START + seq)
        return datagram[:4] + bytes.fromhex(north_mast) + datagram[12:]

    try:
        acknowledged(process, port, heard_by_north)
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    counts = json.loads(err[err.index("{") :])
    assert counts["reports"] >= 1 and "refused:gateway" not in counts

    phones = tmp_path / "phones.yaml"
    phones.write_text("- {device: w1, site: south}\n", encoding="utf-8")
    done = subprocess.run(
        [*TOCSIN, "minesafe", "ingest", *sites, "--phones", str(phones), *off, "--udp", "off"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "no site named 'south'" in done.stderr


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_it_stops_cleanly_on_sigint_or_sigterm_even_started_with_sigint_ignored(stop):
    """A service manager stops it with SIGTERM; a script may start it with SIGINT ignored (a background
    job): either way it writes what waits and prints its counts."""
    port = free_port()
    command = [*TOCSIN, "minesafe", "ingest", "--mqtt", "off", "--osmand", "off", "--opcua", "off"]
    command += ["--no-store", "--udp", f"127.0.0.1:{port}"]

    def ignore_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=ignore_sigint
    )
    try:
        acknowledged(process, port, lambda n: push_data(truck_frame(100.0, 100.0, 1), START))
    finally:
        process.send_signal(stop)
        _, err = process.communicate(timeout=20)
    assert process.returncode == 0
    assert json.loads(err[err.index("{") :])["reports"] == 1
