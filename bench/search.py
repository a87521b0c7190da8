"""Core search at desk scale: Russian appeals (text, stemmed) and codes, indexed in bulk, then a mix of
queries timed one at a time, on SQLite (FTS5) and PostgreSQL (tsvector + GIN).

    .venv/bin/python bench/search.py [--postgresql] [--count 100000] [--queries 300]

The documents are synthetic: sentences drawn from a small Russian vocabulary in its inflected forms,
with a code per document (``АП-2026-000123``). Queries: a rare word, a common word, two words,
a code whole, a code's first characters, a word's first letters, a word that matches nothing, and two
of them with a filter on the desk's table. Each query asks for the first 20 plus the total, as a list
page does (past ``search.MAX_RANKED`` matches: newest first, total stopped there). Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from sqlalchemy import BigInteger, Column, MetaData, Table, text

from harness import emit, machine, run_until_signalled, scratch_database
from tocsin.core import search
from tocsin.core.db import Database
from tocsin.core.search import Field, SearchIndex

STEMS = [
    ("обращени", ["е", "я", "ю", "ем", "й"]),
    ("ремонт", ["", "а", "у", "ом", "ы"]),
    ("дорог", ["а", "и", "у", "е", "ой"]),
    ("освещени", ["е", "я", "ю"]),
    ("жалоб", ["а", "ы", "у"]),
    ("двор", ["", "а", "е", "ы"]),
    ("школ", ["а", "ы", "е"]),
    ("мусор", ["", "а", "у"]),
    ("отоплени", ["е", "я", "ю"]),
    ("подъезд", ["", "а", "е"]),
    ("автобус", ["", "а", "ы"]),
    ("парковк", ["а", "и", "у"]),
    ("детск", ["ий", "ой", "ая"]),
    ("площадк", ["а", "и", "у"]),
]
RARE = [f"редкослово{n}" for n in range(500)]


def sentence(chooser: random.Random) -> str:
    words = []
    for _ in range(chooser.randint(12, 40)):
        stem, endings = chooser.choice(STEMS)
        words.append(stem + chooser.choice(endings))
    if chooser.random() < 0.02:
        words.append(chooser.choice(RARE))
    return " ".join(words)


def documents(count: int):
    chooser = random.Random(42)
    for key in range(1, count + 1):
        yield key, {"code": f"АП-2026-{key:06d}", "title": sentence(chooser)[:80], "body": sentence(chooser)}


def run(kind: str, url: str, count: int, queries: int) -> dict:
    """Index ``count`` documents in the empty database at ``url``, then time ``queries`` queries."""
    database = Database(url)
    appeals = Table("bench_appeal", MetaData(), Column("id", BigInteger, primary_key=True))
    index = SearchIndex(
        "bench_appeals",
        "russian",
        (Field("code", "A", identifier=True), Field("title", "B"), Field("body", "D")),
        key=appeals.c.id,
        documents=lambda db: documents(count),
    )
    appeals.metadata.create_all(database.engine)
    with database.engine.begin() as connection:
        for statement in search.storage_ddl(database.dialect, index.name):
            connection.execute(text(statement))
        connection.execute(appeals.insert(), [{"id": n} for n in range(1, count + 1)])
    started = time.perf_counter()
    with database.session() as db:
        search.rebuild(db, index)
    indexing = time.perf_counter() - started
    if kind == "postgresql":
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE search_bench_appeals"))
    chooser = random.Random(7)
    mix = {
        "rare word": lambda: chooser.choice(RARE),
        "common word": lambda: "обращения",
        "two words": lambda: "ремонт дороги",
        "code": lambda: f"АП-2026-{chooser.randint(1, count):06d}",
        "code prefix": lambda: f"ап-2026-{chooser.randint(1, count // 1000):03d}",
        "word prefix": lambda: "освещ",
        "nothing": lambda: "несуществующее",
        "two words, filtered": lambda: "ремонт дороги",
        "rare word, filtered": lambda: chooser.choice(RARE),
    }
    timings: dict[str, list[float]] = {name: [] for name in mix}
    totals: dict[str, int] = {}
    with database.session() as db:
        for n in range(queries):
            name = list(mix)[n % len(mix)]
            typed = mix[name]()
            began = time.perf_counter()
            filters = [appeals.c.id > count // 2] if name.endswith("filtered") else []
            found = search.search(db, index, typed, limit=20, filters=filters)
            timings[name].append((time.perf_counter() - began) * 1000)
            totals[name] = found.total
    every = sorted(t for values in timings.values() for t in values)
    per_kind = {
        name: {
            "p50_ms": round(statistics.median(values), 2),
            "p99_ms": round(sorted(values)[max(0, int(len(values) * 0.99) - 1)], 2),
            "matches": totals[name],
        }
        for name, values in timings.items()
    }
    database.engine.dispose()
    return {
        "engine": kind,
        "documents": count,
        "indexing_s": round(indexing, 1),
        "per_query": per_kind,
        "p50_ms": round(statistics.median(every), 2),
        "p99_ms": round(every[max(0, int(len(every) * 0.99) - 1)], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgresql", action="store_true")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=350)
    args = parser.parse_args()
    kind = "postgresql" if args.postgresql else "sqlite"
    with scratch_database(kind) as url:
        result = run(kind, url, args.count, args.queries)
    emit({**result, "machine": machine()})


if __name__ == "__main__":
    run_until_signalled(main)
