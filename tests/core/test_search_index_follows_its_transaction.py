"""The index changes in the transaction that changes the row: re-indexing replaces, removing forgets,
and a rollback takes the index entry back with the row."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.core.notes import Note, add_note, keys_found, notes_in
from tocsin.core import search


@pytest.fixture
def french(database):
    with notes_in(database, "french") as index:
        yield index


def test_reindexing_a_row_replaces_its_old_words(database, french):
    with database.session() as db:
        key = add_note(db, french, title="panne fibre")
    with database.session() as db:
        search.index(db, french, key=key, values={"title": "réparation terminée"})
    with database.session() as db:
        assert keys_found(db, french, "panne") == []
        assert keys_found(db, french, "réparation") == [key]


def test_removing_a_row_forgets_it(database, french):
    with database.session() as db:
        key = add_note(db, french, title="panne fibre")
        kept = add_note(db, french, title="panne cuivre")
    with database.session() as db:
        search.remove(db, french, key=key)
    with database.session() as db:
        assert keys_found(db, french, "panne") == [kept]


def test_removing_selected_rows_forgets_them_all(database, french):
    with database.session() as db:
        for region in ("nord", "nord", "sud"):
            add_note(db, french, title="panne", region=region)
    with database.session() as db:
        search.remove_selected(db, french, keys=select(Note.id).where(Note.region == "nord"))
    with database.session() as db:
        assert len(keys_found(db, french, "panne")) == 1


def test_a_rolled_back_transaction_leaves_no_index_entry(database, french):
    with pytest.raises(RuntimeError), database.session() as db:
        add_note(db, french, title="panne fantôme")
        raise RuntimeError("the rule refused the change")
    with database.session() as db:
        assert keys_found(db, french, "fantôme") == []
        assert db.scalar(select(Note.id)) is None


def test_a_rolled_back_update_keeps_the_old_words(database, french):
    with database.session() as db:
        key = add_note(db, french, title="panne fibre")
    with pytest.raises(RuntimeError), database.session() as db:
        search.index(db, french, key=key, values={"title": "autre chose"})
        raise RuntimeError("refused")
    with database.session() as db:
        assert keys_found(db, french, "panne") == [key]


def test_rebuild_indexes_every_existing_row(database, french):
    with database.session() as db:
        db.add_all([Note(title="panne"), Note(title="panne"), Note(title="autre")])
    with database.session() as db:
        assert keys_found(db, french, "panne") == []
        assert search.rebuild(db, french) == 3
    with database.session() as db:
        assert len(keys_found(db, french, "panne")) == 2


def test_an_unknown_field_is_refused_naming_it(database, french):
    with database.session() as db, pytest.raises(ValueError, match="colour"):
        search.index(db, french, key=1, values={"colour": "red"})
