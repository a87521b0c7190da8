"""A bench's throw-away database is removed when its block ends, even when the block fails and a
session is still connected to it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bench.harness import PG_ADMIN, scratch_database


def postgres_databases() -> set[str]:
    engine = create_engine(PG_ADMIN)
    try:
        with engine.connect() as connection:
            return set(connection.scalars(text("SELECT datname FROM pg_database")))
    finally:
        engine.dispose()


def test_scratch_postgresql_database_is_dropped_when_the_block_fails_with_a_session_open():
    failing = pytest.raises(RuntimeError, match="the scenario failed")
    with failing, scratch_database("postgresql", prefix="tocsin_harness") as url:
        name = url.rsplit("/", 1)[1]
        assert name in postgres_databases()
        engine = create_engine(url)
        with engine.connect() as connection:
            connection.execute(text("CREATE TABLE kept (n int)"))
            connection.commit()
            raise RuntimeError("the scenario failed")
    engine.dispose()
    assert name not in postgres_databases()


def test_scratch_sqlite_database_is_removed_when_the_block_fails():
    with pytest.raises(RuntimeError, match="the scenario failed"), scratch_database("sqlite") as url:
        path = Path(url.removeprefix("sqlite:///"))
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE kept (n int)"))
        engine.dispose()
        assert path.exists()
        raise RuntimeError("the scenario failed")
    assert not path.parent.exists()


def test_an_unknown_database_kind_is_refused():
    with pytest.raises(ValueError, match="sqlite or postgresql"), scratch_database("oracle"):
        pass
