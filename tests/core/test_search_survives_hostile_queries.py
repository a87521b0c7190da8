"""What people type is only ever words: quotes, operators, FTS5 syntax, control characters and huge
strings never raise, on either engine, and never reach the engine as syntax."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.core.notes import add_note, keys_found, notes_in
from tocsin.core import search

HOSTILE = [
    '"',
    '""',
    "'",
    "*",
    "NEAR(",
    "NEAR(a b, 2)",
    "a OR b",
    "a AND NOT b",
    "title:panne",
    "^panne",
    "panne*",
    "(((",
    ")",
    "\x00",
    "panne\x00fibre",
    "-panne",
    "+panne",
    "a & b | !c <-> d:*",
    "\\",
    "'; DROP TABLE test_note; --",
    "x" * 10_000,
    "panne " * 2_000,
    "\u202e\u200b\ufeff",
    "🔥💥",
    "",
    "   ",
]


@pytest.fixture
def french(database):
    with notes_in(database, "french") as index:
        with database.session() as db:
            add_note(db, index, title="panne fibre", code="FI-1")
        yield index


@pytest.mark.parametrize("typed", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_input_is_searched_as_words(database, french, typed):
    with database.session() as db:
        found = search.search(db, french, typed)
    assert found.total == len(found.hits) <= 1


def test_operators_and_quotes_are_words_not_syntax(database, french):
    with database.session() as db:
        assert len(keys_found(db, french, '"panne" OR NEAR(fibre*')) == 0  # "or", "near" are words too
        assert len(keys_found(db, french, '"panne" fibre*')) == 1


@given(st.text(max_size=300))
def test_parsing_never_raises_and_keeps_only_letters_and_digits(typed):
    query = search.parse(typed, "french")
    for chunk in query.chunks:
        assert all(t.isalnum() for t in chunk.terms) and chunk.prefix.isalnum()
    assert len(query.chunks) <= search.MAX_CHUNKS


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(typed=st.text(alphabet=st.characters(codec="utf-8"), max_size=80))
def test_any_text_searches_without_error(database, french, typed):
    with database.session() as db:
        search.search(db, french, typed)
