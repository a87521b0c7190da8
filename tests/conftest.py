"""Shared fixtures: a real database (SQLite by default, PostgreSQL with TOCSIN_TEST_DATABASE=postgresql),
migrated once per run and emptied after each test, a settable clock, and the app over real ASGI HTTP,
with its files folder in the test's temporary folder and its virus scanner at the test clamd's socket
(``tests/clamd.py``; a test that uploads asks for the ``clamd`` fixture).

Each test ends by deleting every row rather than rolling back a savepoint: the code under test commits
for real (the outbox worker and the API open their own sessions in other threads), so a test sees the
same transactions production does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text

from tests.support import drop_database, fresh_database_url
from tocsin.core.auth import passwords
from tocsin.core.clock import FixedClock
from tocsin.core.config import Settings, get_settings
from tocsin.core.db import Base, Database
from tocsin.core.migrate import upgrade

pytest_plugins = ["tests.browser", "tests.clamd"]

# argon2id at its cheapest for tests: hashing is exercised, seconds per test are not spent on it.
passwords.hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

SHARED = Path(__file__).resolve().parents[2] / "shared"
if not SHARED.exists():
    SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test about one engine's own mechanism runs in that engine's suite and is deselected (reported,
    not skipped) in the other's; both suites run in ``make test``."""
    kind = os.environ.get("TOCSIN_TEST_DATABASE", "sqlite")
    other = "only_postgresql" if kind == "sqlite" else "only_sqlite"
    kept = [item for item in items if other not in item.keywords]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if other in item.keywords])
        items[:] = kept


def pytest_report_header(config: pytest.Config) -> str:
    return f"tocsin test database: {os.environ.get('TOCSIN_TEST_DATABASE', 'sqlite')}"


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """Each test reads its own settings: the process's cached ones are dropped before and after, and
    any TOCSIN_ variable a test (or code it ran, such as the demo) set is put back as it was."""
    saved = {key: value for key, value in os.environ.items() if key.startswith("TOCSIN_")}
    get_settings.cache_clear()
    yield
    for key in [key for key in os.environ if key.startswith("TOCSIN_") and key not in saved]:
        del os.environ[key]
    os.environ.update(saved)
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def database_kind() -> str:
    return os.environ.get("TOCSIN_TEST_DATABASE", "sqlite")


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory, database_kind: str) -> Iterator[Database]:
    url = fresh_database_url(tmp_path_factory.mktemp("db"), database_kind)
    database = Database(url)
    upgrade(database)
    yield database
    database.engine.dispose()
    drop_database(url)


def empty_all_tables(database: Database) -> None:
    """Every table of the schema, and the search storage of every known desk's indexes."""
    from tocsin import desks

    searched = [index.table for desk in desks.load(None) for index in desk.search]
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)] + searched
    with database.engine.begin() as connection:
        if database.dialect == "postgresql":
            connection.execute(
                text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
            )
        else:
            for table in tables:
                connection.execute(text(f'DELETE FROM "{table}"'))


@pytest.fixture
def database(migrated: Database) -> Iterator[Database]:
    yield migrated
    empty_all_tables(migrated)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))


@pytest.fixture
def settings(database: Database, tmp_path: Path, clamd_socket: Path) -> Settings:
    return Settings(
        database_url=database.url,
        files_dir=tmp_path / "files",
        clamd=f"unix://{clamd_socket}",
        secret_key="test-secret-key-0123456789",
        allowed_hosts=["testserver", "127.0.0.1", "localhost"],
        retry_schedule=[60, 120, 300, 600, 72000],
    )


@pytest.fixture
def app(settings: Settings, database: Database, clock: FixedClock):
    from tocsin.app import create_app

    return create_app(settings, database=database, clock=clock)
