"""A throw-away table of notes with a search index per language, for the core's search tests.

The table lives in its own metadata (not the product's schema), and ``notes_in`` creates it with
its search storage (``core.search.storage_ddl``) for one test, then drops both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Integer, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from tocsin.core import search
from tocsin.core.db import Database
from tocsin.core.search import Field, SearchIndex


class NotesBase(DeclarativeBase):
    pass


class Note(NotesBase):
    __tablename__ = "test_note"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), default="")
    title: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    region: Mapped[str] = mapped_column(String(40), default="")


def _documents(db: Session) -> Iterator[tuple[int, dict[str, Any]]]:
    for note in db.query(Note).order_by(Note.id):
        yield note.id, {"code": note.code, "title": note.title, "body": note.body}


def notes_index(language: str) -> SearchIndex:
    """Codes weigh most (A), then titles (B), then bodies (D)."""
    return SearchIndex(
        name=f"test_notes_{language}",
        language=language,
        fields=(Field("code", "A", identifier=True), Field("title", "B"), Field("body", "D")),
        key=Note.id,
        documents=_documents,
    )


@contextmanager
def notes_in(database: Database, language: str) -> Iterator[SearchIndex]:
    """The notes table and one index's storage, for the length of a test."""
    index = notes_index(language)
    NotesBase.metadata.create_all(database.engine)
    with database.engine.begin() as connection:
        connection.execute(text(f"DROP TABLE IF EXISTS {index.table}"))
        for statement in search.storage_ddl(database.dialect, index.name):
            connection.execute(text(statement))
    try:
        yield index
    finally:
        with database.engine.begin() as connection:
            connection.execute(text(f"DROP TABLE IF EXISTS {index.table}"))
        NotesBase.metadata.drop_all(database.engine)


def add_note(db: Session, index: SearchIndex, **values: str) -> int:
    """Store a note and index it in the same transaction; returns its key."""
    note = Note(**values)
    db.add(note)
    db.flush()
    search.index(db, index, key=note.id, values={"code": note.code, "title": note.title, "body": note.body})
    return note.id


def keys_found(db: Session, index: SearchIndex, typed: str, **options: Any) -> list[int]:
    """The keys ``search`` returns for ``typed``, best first."""
    return [hit.key for hit in search.search(db, index, typed, limit=100, **options).hits]
