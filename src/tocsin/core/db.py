"""Storage: SQLAlchemy engine and sessions for SQLite (embedded) and PostgreSQL (deployments)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from tocsin.core.clock import as_utc

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        utc = as_utc(value)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)


JSONDoc = JSON().with_variant(JSONB(), "postgresql")
SQLITE_BUSY_SECONDS = 10  # how long a writer waits for another before giving up


WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC")  # the statements sqlite3 opens a transaction for


class WriterQueue:
    """SQLite takes one writer at a time, and a writer kept waiting by the file lock sleeps and polls (up
    to 100 ms a nap), so under load a request can wait seconds. Within this process, writers queue on a
    lock instead and each starts the moment the one before commits; between processes (server and worker)
    SQLite's busy timeout still applies.

    A connection joins the queue before its first write statement and leaves at commit, rollback or
    close; a thread already writing on another connection does not queue behind itself."""

    def __init__(self, timeout: float) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None
        self.timeout = timeout
        self.waiting = 0  # writers queued now (read by the tests and nothing else)

    def enter(self) -> bool:
        if self._owner == threading.get_ident():
            return False
        self.waiting += 1
        try:
            if not self._lock.acquire(timeout=self.timeout):
                return False  # let SQLite's own waiting take over rather than fail here
        finally:
            self.waiting -= 1
        self._owner = threading.get_ident()
        return True

    def leave(self) -> None:
        self._owner = None
        self._lock.release()


def _queued_connection(queue: WriterQueue) -> type[sqlite3.Connection]:
    """A sqlite3 connection class that leaves ``queue`` once its transaction is over."""

    class Queued(sqlite3.Connection):
        writers = queue
        in_queue = False

        def commit(self) -> None:
            try:
                super().commit()
            finally:
                self._leave()

        def rollback(self) -> None:
            try:
                super().rollback()
            finally:
                self._leave()

        def close(self) -> None:
            try:
                super().close()
            finally:
                self._leave()

        def _leave(self) -> None:
            if self.in_queue:
                self.in_queue = False
                queue.leave()

    return Queued


def _join_queue(queue: WriterQueue) -> Callable[..., None]:
    def before_execute(_conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        connection = cursor.connection
        if connection.in_queue or not statement.lstrip()[:6].upper().startswith(WRITES):
            return
        connection.in_queue = queue.enter()

    return before_execute


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Build an engine; for SQLite create the folder and turn on WAL and foreign keys."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        if "poolclass" not in kwargs:
            kwargs.setdefault("pool_size", 20)
            kwargs.setdefault("max_overflow", 40)
        queue = WriterQueue(timeout=SQLITE_BUSY_SECONDS)
        connect_args: dict[str, Any] = {"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS}
        connect_args["factory"] = _queued_connection(queue)
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "before_cursor_execute", _join_queue(queue))
        return engine
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 20)
        kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


class Database:
    """An engine plus the session factory every request, job and command uses."""

    def __init__(self, url: str, engine: Engine | None = None, **session_options: Any) -> None:
        self.url = url
        self.engine = engine or make_engine(url)
        self.sessions = sessionmaker(bind=self.engine, expire_on_commit=False, **session_options)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends and rolls back on error."""
        with self.sessions() as db:
            try:
                yield db
                db.commit()
            except BaseException:
                db.rollback()
                raise


def affected(result: Any) -> int:
    """Rows touched by an UPDATE or DELETE (typed loosely by SQLAlchemy, hence this helper)."""
    return int(getattr(result, "rowcount", 0) or 0)
