"""Storage: SQLAlchemy engine and sessions for SQLite (embedded) and PostgreSQL (deployments)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, MetaData, create_engine, event, exc
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


def join_writers(connection: Any, statement: str) -> None:
    """Queue a SQLite connection behind this process's other writers before its first write (a
    connection made without ``make_engine`` has no queue)."""
    if (
        getattr(connection, "writers", None) is None
        or connection.in_queue
        or not statement.lstrip()[:6].upper().startswith(WRITES)
    ):
        return
    connection.in_queue = connection.writers.enter()


def _join_queue(_conn: Any, cursor: Any, statement: str, *_: Any) -> None:
    join_writers(cursor.connection, statement)


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
        event.listen(engine, "before_cursor_execute", _join_queue)
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


class Direct:
    """A Core statement compiled once per dialect and run on the driver's cursor of the session's own
    connection, in its transaction: for the few statements every request of a desk runs (audit, outbox,
    live events, a hot path's INSERTs), SQLAlchemy's per-execution work — cache key, execution
    context, result object — costs about twice the driver's. Parameters go through the columns' types
    as SQLAlchemy would send them; a driver error comes back as SQLAlchemy's (``IntegrityError``…).

    Columns left out get their Python-side defaults (a value, or a function of no argument) as with
    SQLAlchemy; every other parameter the statement names must be given."""

    def __init__(self, statement: Any, keys: Iterable[str] | None = None) -> None:
        self.statement = statement
        self.keys = list(keys) if keys is not None else None
        self._compiled: dict[str, _Compiled] = {}

    def run(self, db: Session, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> None:
        """Execute with one row of parameters, or with several (one round trip)."""
        self._execute(db, params, fetch=False)

    def scalar(self, db: Session, params: Mapping[str, Any]) -> Any:
        """The first column of the first row answered (None when there is none)."""
        return self._execute(db, params, fetch=True)

    def _execute(self, db: Session, params: Any, *, fetch: bool) -> Any:
        db.flush()  # as a session's own execute does first (nothing to do when no object is pending)
        connection = db.connection()
        dialect = connection.dialect
        compiled = self._compiled.get(dialect.name) or self._compile(dialect)
        driver = connection.connection.dbapi_connection
        if dialect.name == "sqlite":
            join_writers(driver, compiled.sql)
        many = not isinstance(params, Mapping)
        values = [compiled.values(p) for p in params] if many else compiled.values(params)
        cursor = driver.cursor()  # type: ignore[union-attr]
        try:
            if many:
                cursor.executemany(compiled.sql, values)
                return None
            cursor.execute(compiled.sql, values)
            row = cursor.fetchone() if fetch else None
            return None if row is None else row[0]
        except dialect.loaded_dbapi.Error as error:
            lost = dialect.is_disconnect(error, driver, cursor)
            if lost:
                connection.invalidate(error)
            raise exc.DBAPIError.instance(
                compiled.sql,
                values,
                error,
                dialect.loaded_dbapi.Error,
                connection_invalidated=lost,
                dialect=dialect,
            ) from error
        finally:
            cursor.close()

    def _compile(self, dialect: Any) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect, column_keys=self.keys)
        processors, fixed = {}, {}
        for bind, name in compiled.bind_names.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
            if not bind.required and bind.value is not None:  # a literal of the statement (id == 1)
                fixed[name] = bind.effective_value
        order = list(compiled.positiontup) if compiled.positional else None
        defaults = {
            column.key: column.default
            for column in getattr(compiled, "insert_prefetch", ())
            if column.default is not None and (column.default.is_scalar or column.default.is_callable)
        }
        names = list(compiled.bind_names.values())
        made = _Compiled(compiled.string, order, processors, names, defaults, fixed)
        self._compiled[dialect.name] = made
        return made


@dataclass(frozen=True)
class _Compiled:
    sql: str
    order: list[str] | None  # positional drivers (sqlite3's "?"): the parameters' order
    processors: dict[str, Callable[[Any], Any]]
    names: list[str]
    defaults: dict[str, Any]  # the column's ColumnDefault, by parameter name
    fixed: dict[str, Any]  # the statement's own literals

    def values(self, params: Mapping[str, Any]) -> Any:
        if self.fixed:
            params = {**self.fixed, **params}
        missing = [name for name in self.names if name not in params]
        if missing:
            params = {**params, **{name: self._default(name) for name in missing}}
            missing = [name for name in missing if name not in self.defaults]
        if missing:
            raise KeyError(f"parameters missing for {self.sql[:60]}…: {missing}")
        processors = self.processors
        converted = {
            name: processors[name](params[name]) if name in processors else params[name]
            for name in self.names
        }
        return converted if self.order is None else tuple(converted[name] for name in self.order)

    def _default(self, name: str) -> Any:
        default = self.defaults.get(name)
        if default is None:
            return None
        return default.arg if default.is_scalar else default.arg(None)


def affected(result: Any) -> int:
    """Rows touched by an UPDATE or DELETE (typed loosely by SQLAlchemy, hence this helper)."""
    return int(getattr(result, "rowcount", 0) or 0)
