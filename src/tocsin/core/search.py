"""Full-text search over a desk's rows, alike on SQLite (FTS5) and PostgreSQL (``tsvector``, GIN).

Words are analysed here, in Python, for both engines: split into runs of letters and digits,
lower-cased, stemmed with Snowball for French, Russian and English (FTS5 has no stemmer for them),
stripped of accents for Vietnamese (and for French after stemming). The database only stores and
intersects the resulting terms, so "interventions" finds "intervention", "обращения" finds
"обращение" and "So Thong tin" finds "Sở Thông tin" on SQLite and PostgreSQL alike.

Identifiers (``FI-12345-0001``, ``PT0012345``) are indexed by their parts and by their letters and
digits run together, so a code typed whole, with or without its dashes, or its first characters,
finds the row. User input is only ever words: quotes, operators and FTS5 syntax are separators,
and the engines receive queries built here from analysed terms, never the text typed.

A desk declares a ``SearchIndex`` (its name, language, fields and the key column of its table),
calls ``index``/``remove`` in the transaction that writes or deletes the row, and reads with
``search`` (ids, rank, highlighted fields) or joins ``matches`` into its own filtered query. Each
index has its own storage (``search_<name>``), created by a migration from ``storage_ddl``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import Stemmer
from markupsafe import Markup, escape
from sqlalchemy import BigInteger, ColumnElement, Select, bindparam, cast, delete, func, select, text
from sqlalchemy.dialects.postgresql import JSONB, TSQUERY, TSVECTOR
from sqlalchemy.orm import Session
from sqlalchemy.sql import Subquery, TableClause, column, table
from sqlalchemy.sql.expression import ColumnClause, literal_column

from tocsin.core.db import Direct

LANGUAGES = {
    "french": "french",
    "russian": "russian",
    "english": "english",
    "vietnamese": None,
    "simple": None,
}
# A field's weight class and its share of the rank: PostgreSQL's default ts_rank weights, given to
# FTS5's bm25 as column weights too, so both engines prefer a match in an A field over one in a D field.
WEIGHTS = {"A": 1.0, "B": 0.4, "C": 0.2, "D": 0.1}
MAX_QUERY_CHARS = 256  # a search box needs no more; longer input is cut, never refused here
MAX_CHUNKS = 12  # words (or codes) of a query; the rest are ignored
MAX_TERM = 64  # longest term kept: a 10 kB "word" is no word, and PostgreSQL limits lexemes to 2 kB
MAX_RANKED = 5000  # a query matching more is listed newest first, unranked, its count stopped here
MIN_PREFIX = 3  # shorter input matches whole terms only: a one-letter prefix would read half the index
MAX_POSITION = 16383  # PostgreSQL keeps positions up to this; later words share it
SNIPPET = 160  # characters of a long field shown around its first match
BATCH = 1000

_NAME = re.compile(r"[a-z][a-z0-9_]{0,40}")
_WORD = re.compile(r"[^\W_]+")  # letters and digits: every other character separates words
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Field:
    """One searchable field: its weight class (A strongest to D) and whether it holds codes."""

    name: str
    weight: str = "C"
    identifier: bool = False


@dataclass(frozen=True)
class SearchIndex:
    """A desk's index: its rows are keyed by ``key`` (the integer key column of the desk's table).

    ``documents`` yields ``(key, values)`` for every row, for ``rebuild``.
    """

    name: str
    language: str
    fields: tuple[Field, ...]
    key: Any
    documents: Callable[[Session], Iterable[tuple[int, Mapping[str, Any]]]] | None = field(
        default=None, compare=False
    )

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"SearchIndex.name: {self.name!r} must be lower-case letters, digits and _")
        if self.language not in LANGUAGES:
            raise ValueError(f"SearchIndex.language: {self.language!r} is not one of {sorted(LANGUAGES)}")
        names = [f.name for f in self.fields]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"SearchIndex.fields: {names} must be one or more distinct names")
        for each in self.fields:
            if each.weight not in WEIGHTS:
                raise ValueError(f"SearchIndex.fields: {each.name} has weight {each.weight!r}, not A-D")

    @property
    def table(self) -> str:
        return f"search_{self.name}"


# Analysis


def _clean(value: str) -> str:
    """Text as stored and searched: composed Unicode (NFC), control characters as spaces."""
    return _CONTROL.sub(" ", unicodedata.normalize("NFC", value))


def fold(word: str) -> str:
    """A word without accents or tone marks (Vietnamese đ becomes d), lower-cased."""
    if word.isascii():  # codes and most words: nothing to strip, and the slow path costs a call per letter
        return word.lower()
    decomposed = unicodedata.normalize("NFD", word.lower().replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=8)
def _stemmer(algorithm: str) -> Any:
    return Stemmer.Stemmer(algorithm, 100_000)


def term(word: str, language: str) -> str:
    """The index term of one word: what both the indexed text and the query are reduced to."""
    lower = word.lower()
    algorithm = LANGUAGES[language]
    if algorithm is None:
        return fold(lower)[:MAX_TERM]
    if language == "russian":
        return _stemmer("russian").stemWord(lower.replace("ё", "е"))[:MAX_TERM]
    if language == "french":  # stem first: the French stemmer reads the accents
        return fold(_stemmer("french").stemWord(lower))[:MAX_TERM]
    return _stemmer(algorithm).stemWord(lower)[:MAX_TERM]


def _text_terms(value: str, language: str) -> list[str]:
    return [term(word, language) for word in _WORD.findall(value)]


def _code_terms(value: str) -> list[str]:
    """A code's parts and, when it has several, the parts run together (``fi123450001``)."""
    parts = [fold(p)[:MAX_TERM] for p in _WORD.findall(value)]
    return parts + ([("".join(parts))[:MAX_TERM]] if len(parts) > 1 else [])


def _texts(value: Any) -> list[str]:
    """A field's value as a list of cleaned texts (a field may hold several, e.g. PBO codes)."""
    if value is None:
        return []
    items = value if isinstance(value, list | tuple) else [value]
    return [_clean(str(item)) for item in items if item is not None and str(item).strip()]


def _document(index: SearchIndex, values: Mapping[str, Any]) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """Terms per weight class, and the cleaned fields kept for highlighting."""
    unknown = set(values) - {f.name for f in index.fields}
    if unknown:
        raise ValueError(f"index {index.name}: unknown field(s) {sorted(unknown)}")
    terms: dict[str, list[str]] = {weight: [] for weight in WEIGHTS}
    kept: dict[str, Any] = {}
    for each in index.fields:
        texts = _texts(values.get(each.name))
        if not texts:
            continue
        kept[each.name] = texts if isinstance(values[each.name], list | tuple) else texts[0]
        for item in texts:
            found = _code_terms(item) if each.identifier else _text_terms(item, index.language)
            terms[each.weight].extend(t for t in found if t)
    return terms, kept


# Queries


@dataclass(frozen=True)
class Chunk:
    """One word or code of a query: its terms all present, or a term starting with ``prefix``."""

    terms: tuple[str, ...]
    prefix: str

    @property
    def is_prefix(self) -> bool:
        return len(self.prefix) >= MIN_PREFIX

    @property
    def prefix_covers_terms(self) -> bool:
        """Whether the prefix alone finds what the terms find (one term that it starts or equals)."""
        if len(self.terms) != 1:
            return False
        return self.terms[0].startswith(self.prefix) if self.is_prefix else self.terms[0] == self.prefix

    def matches(self, candidate: str) -> bool:
        """Whether an index term answers this chunk (alone, for highlighting)."""
        if candidate in self.terms:
            return True
        return candidate.startswith(self.prefix) if self.is_prefix else candidate == self.prefix


@dataclass(frozen=True)
class Query:
    """What a user typed, as words the engines can match: every chunk must match."""

    chunks: tuple[Chunk, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.chunks)

    def fts5(self) -> str:
        """The FTS5 MATCH expression (terms are letters and digits only, quoted all the same)."""
        ways = []
        for c in self.chunks:
            prefix = f'"{c.prefix}"' + ("*" if c.is_prefix else "")
            terms = " AND ".join(f'"{t}"' for t in c.terms)
            ways.append(f"({prefix})" if c.prefix_covers_terms else f"(({terms}) OR {prefix})")
        return " AND ".join(ways)

    def tsquery(self) -> str:
        """The PostgreSQL ``tsquery`` text, read as given (no dictionary touches it)."""
        ways = []
        for c in self.chunks:
            prefix = _lexeme(c.prefix) + (":*" if c.is_prefix else "")
            terms = " & ".join(_lexeme(t) for t in c.terms)
            ways.append(f"({prefix})" if c.prefix_covers_terms else f"(({terms}) | {prefix})")
        return " & ".join(ways)


def _lexeme(word: str) -> str:
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def parse(typed: object, language: str) -> Query:
    """The words of a search box, never an error: anything but letters and digits separates words."""
    cleaned = _clean(str(typed or "")[: MAX_QUERY_CHARS * 4])[:MAX_QUERY_CHARS]
    chunks: list[Chunk] = []
    for piece in cleaned.split():
        words = _WORD.findall(piece)
        if not words:
            continue
        terms = tuple(dict.fromkeys(t for t in (term(w, language) for w in words) if t))
        chunk = Chunk(terms, "".join(fold(w) for w in words)[:MAX_TERM])
        if terms and chunk not in chunks:
            chunks.append(chunk)
        if len(chunks) == MAX_CHUNKS:
            break
    return Query(tuple(chunks))


# Storage


def storage_ddl(dialect: str, name: str) -> list[str]:
    """The statements creating one index's storage (a migration writes these by hand, per dialect)."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"index name {name!r} must be lower-case letters, digits and _")
    if dialect == "sqlite":
        # The ascii tokenizer splits on ASCII punctuation and spaces only: terms, made of letters and
        # digits here, reach the index exactly as analysed. Prefix indexes of 3 and 4 characters serve
        # the shortest (most common) prefix queries without a scan of the term list.
        return [
            f"CREATE VIRTUAL TABLE search_{name} USING fts5("
            "a, b, c, d, fields UNINDEXED, tokenize = 'ascii', prefix = '3 4')"
        ]
    if dialect == "postgresql":
        return [
            f"CREATE TABLE search_{name} (doc_id BIGINT PRIMARY KEY, body TSVECTOR NOT NULL, "
            "fields JSONB NOT NULL)",
            f"CREATE INDEX ix_search_{name}_body ON search_{name} USING GIN (body)",
        ]
    raise ValueError(f"dialect {dialect!r}: search supports sqlite and postgresql")


def autogenerate_includes(name: str | None, type_: str, _parent_names: object) -> bool:
    """Alembic's ``include_name``: leave ``search_*`` storage (FTS5 shadow tables too) out of
    autogenerate, which knows neither FTS5 nor the hand-written tsvector tables."""
    return not (type_ == "table" and (name or "").startswith("search_"))


def _storage(db: Session, index: SearchIndex) -> tuple[str, TableClause]:
    dialect = db.get_bind().dialect.name
    cols: list[ColumnClause[Any]]
    if dialect == "sqlite":
        cols = [column("rowid", BigInteger), *[column(c) for c in ("a", "b", "c", "d", "fields")]]
    else:
        cols = [column("doc_id", BigInteger), column("body", TSVECTOR()), column("fields", JSONB())]
    return dialect, table(index.table, *cols)


def _row(dialect: str, key: int, terms: dict[str, list[str]], kept: dict[str, Any]) -> dict[str, Any]:
    if dialect == "sqlite":
        return {"rowid": key, **{w.lower(): " ".join(terms[w]) for w in WEIGHTS}, "fields": json.dumps(kept)}
    return {"doc_id": key, "body": _tsvector(terms), "fields": kept}


def _tsvector(terms: dict[str, list[str]]) -> str:
    """A ``tsvector`` literal with each term's positions and weight class (cast as is, unparsed)."""
    positions: dict[str, list[str]] = defaultdict(list)
    position = 0
    for weight, found in terms.items():
        for each in found:
            position = min(position + 1, MAX_POSITION)
            if len(positions[each]) < 256:  # PostgreSQL keeps 256 positions per lexeme
                positions[each].append(f"{position}{weight}")
    return " ".join(f"{_lexeme(t)}:{','.join(p)}" for t, p in positions.items())


def _insert(db: Session, index: SearchIndex, rows: list[dict[str, Any]]) -> None:
    dialect = db.get_bind().dialect.name
    if dialect != "sqlite":
        rows = [{**r, "fields": json.dumps(r["fields"])} for r in rows]
    _insert_statement(dialect, index.table).run(db, rows)


@lru_cache(maxsize=64)
def _insert_statement(dialect: str, table: str) -> Direct:
    """Made once per index and run on the driver: it is on every indexed write's path."""
    if dialect == "sqlite":
        return Direct(
            text(f"INSERT INTO {table} (rowid, a, b, c, d, fields) VALUES (:rowid, :a, :b, :c, :d, :fields)")
        )
    return Direct(
        text(
            f"INSERT INTO {table} (doc_id, body, fields) "
            "VALUES (:doc_id, CAST(:body AS tsvector), CAST(:fields AS jsonb))"
        )
    )


def index(db: Session, index: SearchIndex, *, key: int, values: Mapping[str, Any], new: bool = False) -> None:
    """Index (or re-index) one row, in the caller's transaction; ``new``: the row was just created, so
    there is nothing to remove first (one statement saved on the hot path)."""
    terms, kept = _document(index, values)
    if not new:
        remove(db, index, key=key)
    _insert(db, index, [_row(db.get_bind().dialect.name, key, terms, kept)])


def remove(db: Session, index: SearchIndex, *, key: int) -> None:
    """Forget one row, in the caller's transaction (nothing happens if it was never indexed)."""
    _, storage = _storage(db, index)
    db.execute(delete(storage).where(storage.c[_key_column(db)] == key))


def remove_selected(db: Session, index: SearchIndex, *, keys: Select[Any]) -> None:
    """Forget every row whose key ``keys`` selects (before a bulk delete of those rows)."""
    _, storage = _storage(db, index)
    db.execute(delete(storage).where(storage.c[_key_column(db)].in_(keys.scalar_subquery())))


def _key_column(db: Session) -> str:
    return "rowid" if db.get_bind().dialect.name == "sqlite" else "doc_id"


def rebuild(db: Session, index: SearchIndex) -> int:
    """Empty the index and index every row its ``documents`` yields; returns how many."""
    if index.documents is None:
        raise ValueError(f"index {index.name}: no documents function to rebuild from")
    dialect, storage = _storage(db, index)
    db.execute(delete(storage))
    count, batch = 0, []
    for key, values in index.documents(db):
        terms, kept = _document(index, values)
        batch.append(_row(dialect, key, terms, kept))
        if len(batch) == BATCH:
            _insert(db, index, batch)
            count, batch = count + len(batch), []
    if batch:
        _insert(db, index, batch)
    return count + len(batch)


# Reading


def matches(db: Session, index: SearchIndex, query: Query, *, ranked: bool = True) -> Subquery:
    """The rows matching ``query`` as a subquery of ``key`` and ``rank`` (higher ranks better), for a
    desk to join to its own filtered query; ``ranked=False`` leaves the rank at 0 (nothing computed).
    ``query`` must have words (``bool(query)``)."""
    if not query:
        raise ValueError("matches: the query has no words; check bool(query) first")
    dialect, storage = _storage(db, index)
    if dialect == "sqlite":
        name: Any = literal_column(index.table)
        rank = -func.bm25(name, *WEIGHTS.values()) if ranked else literal_column("0.0")
        found = select(storage.c.rowid.label("key"), rank.label("rank")).where(
            name.op("MATCH")(bindparam("search_fts5", query.fts5()))
        )
    else:
        wanted = cast(bindparam("search_tsquery", query.tsquery()), TSQUERY)
        rank = func.ts_rank(storage.c.body, wanted) if ranked else literal_column("0.0")
        found = select(storage.c.doc_id.label("key"), rank.label("rank")).where(
            storage.c.body.op("@@")(wanted)
        )
    return found.subquery(f"{index.table}_hits")


def counted(db: Session, selected: Select[Any]) -> int:
    """How many rows ``selected`` gives, counting no further than ``MAX_RANKED + 1``."""
    return db.scalar(select(func.count()).select_from(selected.limit(MAX_RANKED + 1).subquery())) or 0


@dataclass(frozen=True)
class Hit:
    """One row found: its key, its rank (higher is better) and its fields with matches marked."""

    key: int
    rank: float
    highlights: dict[str, Markup]


@dataclass(frozen=True)
class Found:
    """A page of results and how many rows match in all; past ``MAX_RANKED`` matches, ``more`` is
    set, ``total`` stops there and the hits come newest key first rather than by rank."""

    query: Query
    total: int
    hits: list[Hit]
    more: bool = False


def search(
    db: Session,
    index: SearchIndex,
    typed: str,
    *,
    limit: int = 20,
    offset: int = 0,
    filters: Sequence[ColumnElement[bool]] = (),
) -> Found:
    """Rows matching what was typed, best first, with highlights; ``filters`` are conditions on the
    desk's table (joined on the key only when given, so an unfiltered search never reads that table).

    Counting stops at ``MAX_RANKED + 1``; a broader query is listed newest key first without ranking,
    so its cost does not grow with the table (see ``Found.more``)."""
    if not 1 <= limit <= 1000:
        raise ValueError(f"limit: {limit} must be from 1 to 1000")
    if not 0 <= offset <= 1_000_000:
        raise ValueError(f"offset: {offset} must be from 0 to 1000000")
    query = parse(typed, index.language)
    if not query:
        return Found(query, 0, [])
    total = counted(db, select(matches(db, index, query, ranked=False).c.key))
    if total > MAX_RANKED:  # ranking every match of a very broad query would cost its size: newest first
        hits = matches(db, index, query, ranked=False)
        selected = _joined(index, hits, filters)
        total = counted(db, selected)
        rows = db.execute(selected.order_by(hits.c.key.desc()).limit(limit).offset(offset)).all()
        ranked = [(int(key), float(rank)) for key, rank in rows]
    else:  # few enough to rank all; filters then read the desk's rows by key, never its whole table
        hits = matches(db, index, query)
        every = [(int(key), float(rank)) for key, rank in db.execute(select(hits.c.key, hits.c.rank))]
        if filters:
            keys = [key for key, _ in every]
            kept = set(db.scalars(select(index.key).where(index.key.in_(keys), *filters)))
            every = [(key, rank) for key, rank in every if key in kept]
        every.sort(key=lambda hit: (-hit[1], -hit[0]))
        total, ranked = len(every), every[offset : offset + limit]
    marked = highlights(db, index, query, [key for key, _ in ranked])
    hits_found = [Hit(key, rank, marked.get(key, {})) for key, rank in ranked]
    return Found(query, min(total, MAX_RANKED), hits_found, more=total > MAX_RANKED)


def _joined(index: SearchIndex, hits: Subquery, filters: Sequence[ColumnElement[bool]]) -> Select[Any]:
    """The matches, joined to the desk's table only when there are filters to apply there."""
    if not filters:
        return select(hits.c.key, hits.c.rank)
    return (
        select(hits.c.key, hits.c.rank)
        .join_from(hits, index.key.table, hits.c.key == index.key)
        .where(*filters)
    )


def highlights(
    db: Session, index: SearchIndex, query: Query, keys: Sequence[int]
) -> dict[int, dict[str, Markup]]:
    """The indexed fields of ``keys`` with the words ``query`` matches marked (``<mark>``)."""
    if not keys:
        return {}
    dialect, storage = _storage(db, index)
    key = storage.c[_key_column(db)]
    found: dict[int, dict[str, Markup]] = {}
    for row_key, kept in db.execute(select(key, storage.c.fields).where(key.in_(list(keys)))):
        values = json.loads(kept) if isinstance(kept, str) else kept
        found[int(row_key)] = mark(index, query, values)
    return found


def mark(index: SearchIndex, query: Query, values: Mapping[str, Any]) -> dict[str, Markup]:
    """Each field's text, escaped, with what ``query`` matches wrapped in ``<mark>``."""
    marked = {}
    for each in index.fields:
        texts = _texts(values.get(each.name))
        if texts:
            parts = [_marked(t, each, index.language, query) for t in texts]
            marked[each.name] = Markup(", ").join(parts)
    return marked


def _marked(value: str, each: Field, language: str, query: Query) -> Markup:
    spans = _merged(_code_spans(value, query) if each.identifier else _word_spans(value, language, query))
    if not spans:
        return escape(value[:SNIPPET] + ("…" if len(value) > SNIPPET else ""))
    start, end = 0, len(value)
    if len(value) > SNIPPET:  # a long text shows a window around its first match
        start = max(0, spans[0][0] - SNIPPET // 3)
        end = min(len(value), start + SNIPPET)
    pieces: list[str] = ["…" if start else ""]
    cursor = start
    for first, last in spans:
        if first < cursor or last > end:
            continue
        pieces += [
            escape(value[cursor:first]),
            Markup("<mark>"),
            escape(value[first:last]),
            Markup("</mark>"),
        ]
        cursor = last
    pieces += [escape(value[cursor:end]), "…" if end < len(value) else ""]
    return Markup("").join(pieces)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans in order, overlapping ones joined (two chunks may mark the same code)."""
    joined: list[tuple[int, int]] = []
    for first, last in sorted(spans):
        if joined and first <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(last, joined[-1][1]))
        else:
            joined.append((first, last))
    return joined


def _word_spans(value: str, language: str, query: Query) -> list[tuple[int, int]]:
    spans = []
    for found in _WORD.finditer(value):
        candidate = term(found.group(), language)
        if any(c.matches(candidate) or c.matches(fold(found.group())) for c in query.chunks):
            spans.append(found.span())
    return spans


def _code_spans(value: str, query: Query) -> list[tuple[int, int]]:
    """A code's matching parts, or its leading characters that a typed code (or prefix) covers."""
    parts = list(_WORD.finditer(value))
    folded = [fold(p.group()) for p in parts]
    whole = "".join(folded)
    spans: set[tuple[int, int]] = set()
    for chunk in query.chunks:
        covered = len(chunk.prefix) if chunk.matches(whole) and len(parts) > 1 else 0
        if covered:  # the typed code runs over several parts: one mark from its first character
            end = parts[0].start()
            for part, text_ in zip(parts, folded, strict=True):
                if covered <= 0:
                    break
                take = min(covered, len(text_))
                end = part.start() + take if len(text_) == len(part.group()) else part.end()
                covered -= len(text_)
            spans.add((parts[0].start(), end))
            continue
        for part, text_ in zip(parts, folded, strict=True):
            if text_ in chunk.terms or text_ == chunk.prefix:
                spans.add(part.span())
            elif chunk.matches(text_):  # by its first characters: mark those, as typed
                same_length = len(text_) == len(part.group())
                spans.add((part.start(), part.start() + len(chunk.prefix) if same_length else part.end()))
    return sorted(spans)
