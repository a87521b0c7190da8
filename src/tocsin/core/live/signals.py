"""Telling other processes that events were published: PostgreSQL LISTEN/NOTIFY, or on SQLite a Unix
datagram socket per listening process in a folder beside the database file (``var/tocsin.live/``).

A signal only says "look": whoever receives one reads the committed events (or claims the outbox),
and every listener also looks now and then on its own, so a lost signal costs a delay, never an event.
Why datagrams rather than polling a counter on SQLite: see docs/architecture.md (live section).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path

from sqlalchemy.engine import URL, make_url

log = logging.getLogger(__name__)

CHANNEL = "tocsin_live"
LISTENER_NAME = "tocsin-live"  # application_name of the LISTEN connections, to find them in pg_stat_activity
SOCKET_PATH_MAX = 107  # sun_path on Linux, less its final NUL
RECONNECT_AFTER = (0.5, 1.0, 2.0, 5.0, 10.0)  # seconds between attempts to LISTEN again
Handler = Callable[[str | None], None]  # a topic, or None: "signals may have been missed, look"

_sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
_sender.setblocking(False)


@lru_cache(maxsize=64)  # every commit that published asks, with the same few URLs
def folder_of(url: str | URL) -> Path | None:
    """Where the SQLite database's listeners keep their sockets (None: PostgreSQL, or no file)."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).with_suffix(".live")


def send(url: str | URL, topics: Iterable[str]) -> None:
    """SQLite: one datagram with the topics to every listener of the database, without waiting; a
    socket nobody holds any more (its process died) is removed."""
    folder = folder_of(url)
    if folder is None:
        return
    payload = "\n".join(topics).encode()
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return
    for entry in entries:
        if not entry.name.endswith(".sock"):
            continue
        try:
            _sender.sendto(payload, entry.path)
        except ConnectionRefusedError:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
        except (BlockingIOError, FileNotFoundError):
            pass  # a full queue or a listener just gone: its own periodic look catches up
        except OSError as error:
            log.warning("live: could not signal %s: %s", entry.path, error)


class Listener:
    """A thread that calls ``on_signal(topic)`` for every signal about ``url``'s database, and
    ``on_signal(None)`` whenever it (re)starts listening, since signals may have been missed meanwhile.
    ``on_signal`` runs in the listener's thread and must return quickly."""

    def __init__(self, url: str | URL, on_signal: Handler, *, name: str = "live-listener") -> None:
        self.url, self.on_signal, self.name = make_url(url), on_signal, name
        self.stopped = threading.Event()
        self.listening = threading.Event()  # set while signals are being received
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Listener:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        if self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join(timeout=5)

    def _run(self) -> None:
        if self.url.drivername.startswith("postgresql"):
            self._listen_postgres()
        else:
            self._listen_datagrams()

    def _listen_postgres(self) -> None:
        import psycopg

        conninfo = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        failures = 0
        while not self.stopped.is_set():
            try:
                with psycopg.connect(
                    conninfo,
                    autocommit=True,
                    application_name=LISTENER_NAME,
                    keepalives=1,
                    keepalives_idle=30,
                    keepalives_interval=10,
                    keepalives_count=3,
                    connect_timeout=10,
                ) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    failures = 0
                    self._started()
                    while not self.stopped.is_set():
                        for note in connection.notifies(timeout=1.0):
                            self._tell(note.payload)
            except psycopg.Error as error:
                self.listening.clear()
                if self.stopped.is_set():
                    return
                delay = RECONNECT_AFTER[min(failures, len(RECONNECT_AFTER) - 1)]
                failures += 1
                log.warning("live: LISTEN connection lost (%s); again in %.1f s", str(error).strip(), delay)
                self.stopped.wait(delay)
        self.listening.clear()

    def _listen_datagrams(self) -> None:
        folder = folder_of(self.url)
        if folder is None:
            log.info("live: %s has no file; no signals between processes", self.url.database)
            return
        path = folder / f"{os.getpid()}-{secrets.token_hex(4)}.sock"
        if len(str(path)) > SOCKET_PATH_MAX:
            log.error(
                "live: the socket path %s is longer than %d characters; move the SQLite database to a "
                "shorter path. Until then changes are seen only by periodic looks.",
                path,
                SOCKET_PATH_MAX,
            )
            return
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            receiver.bind(str(path))
            receiver.settimeout(1.0)
            self._started()
            while not self.stopped.is_set():
                try:
                    payload = receiver.recv(65536)
                except TimeoutError:
                    continue
                for topic in payload.decode(errors="replace").split("\n"):
                    if topic:
                        self._tell(topic)
        except OSError as error:
            if error.errno != errno.EBADF:
                log.error("live: cannot listen on %s: %s", path, error)
        finally:
            self.listening.clear()
            receiver.close()
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _started(self) -> None:
        self.listening.set()
        self._tell(None)

    def _tell(self, topic: str | None) -> None:
        try:
            self.on_signal(topic)
        except Exception:  # a consumer's bug must not stop the signals of the others
            log.exception("live: handling the signal %r failed", topic)
