"""Live events reach every process: two real web processes both stream an event published by a third
(PostgreSQL LISTEN/NOTIFY, or SQLite datagrams); a dropped LISTEN connection is made again; a socket
left behind by a dead SQLite process is cleared by the next publisher."""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from tests.support import EventStream, free_port, make_staff, submit_login_form, wait_until
from tocsin.core import live
from tocsin.core.live import signals

SRC = Path(__file__).parents[2] / "src"
STREAM = "/interventions/oi/live/interventions"


def web_process(stack: ExitStack, database, log: Path) -> str:
    """``uvicorn tocsin.app:asgi`` on the test database, as ``tocsin serve`` runs it; its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "TOCSIN_DATABASE_URL": database.url,
        "TOCSIN_SECRET_KEY": "test-secret-key-0123456789",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "tocsin.app:asgi", "--port", str(port)]
    out = stack.enter_context(log.open("wb"))
    process = subprocess.Popen([*command, "--log-level", "warning"], env=env, stdout=out, stderr=out)

    def stop() -> None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    stack.callback(stop)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert process.poll() is None, log.read_text()[-2000:]
        try:
            return httpx.get(f"{base}/ping", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, what=f"the web process on {port}", timeout=60)
    return base


def test_two_web_processes_both_stream_an_event_published_by_a_third(database, clock, tmp_path):
    make_staff(database, username="olive", roles=["operator"])
    with ExitStack() as stack:
        bases = [web_process(stack, database, tmp_path / f"web{n}.log") for n in (1, 2)]
        streams = []
        for base in bases:
            client = stack.enter_context(httpx.Client(base_url=base))
            submit_login_form(client, "olive")
            streams.append(stack.enter_context(EventStream(client, STREAM, timeout=20)))
        with database.session() as db:  # this test process is the third one
            live.publish(
                db, topic="interventions.oi", data={"ref_oi": "OIAA-1", "change": "created"}, now=clock()
            )
        got = [s.next_event() for s in streams]
    assert [e["data"] for e in got] == [
        {"topic": "interventions.oi", "data": {"ref_oi": "OIAA-1", "change": "created"}}
    ] * 2
    assert got[0]["id"] == got[1]["id"]


@pytest.mark.only_postgresql  # LISTEN connections are PostgreSQL's
def test_a_dropped_listen_connection_is_made_again(database, clock):
    received: queue.Queue[str | None] = queue.Queue()
    listener = live.Listener(database.url, received.put).start()
    try:
        assert received.get(timeout=10) is None

        def listening_backends() -> list[int]:
            with database.session() as db:
                query = text(
                    "SELECT pid FROM pg_stat_activity"
                    " WHERE application_name = :name AND datname = current_database()"
                )
                return list(db.scalars(query, {"name": signals.LISTENER_NAME}))

        [first] = wait_until(listening_backends, what="the LISTEN connection")
        with database.session() as db:
            db.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        assert received.get(timeout=15) is None  # listening again: "look, you may have missed some"
        assert listening_backends() not in ([], [first])
        with database.session() as db:
            live.publish(db, topic="after-the-cut", data={}, now=clock())
        assert received.get(timeout=10) == "after-the-cut"
    finally:
        listener.stop()


@pytest.mark.only_sqlite  # datagram sockets are SQLite's way
def test_a_socket_left_by_a_dead_sqlite_process_is_cleared(database, clock):
    folder = signals.folder_of(database.url)
    assert folder is not None
    folder.mkdir(parents=True, exist_ok=True)
    orphan = folder / "999999-dead.sock"
    left = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    left.bind(str(orphan))
    left.close()  # the process died without removing its file
    received: queue.Queue[str | None] = queue.Queue()
    listener = live.Listener(database.url, received.put).start()
    try:
        assert received.get(timeout=10) is None
        with database.session() as db:
            live.publish(db, topic="still-heard", data={}, now=clock())
        assert received.get(timeout=10) == "still-heard"
        assert not orphan.exists()
    finally:
        listener.stop()
