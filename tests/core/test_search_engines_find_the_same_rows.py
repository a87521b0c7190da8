"""SQLite (FTS5) and PostgreSQL (tsvector) find the same rows for the same queries: the words are
analysed in Python for both, so neither engine's own stemmer or parser decides what matches."""

from __future__ import annotations

import random

import pytest

from tests.core.notes import add_note, keys_found, notes_in
from tests.support import drop_database, fresh_database_url
from tocsin.core.db import Database

CORPUS = {
    "french": [
        ("FI-12345-0001", "Intervention programmée", "Remplacement du câble au PM de Besançon"),
        ("FI-12345-0002", "Interventions urgentes", "Coupure fibre, quartier nord, événement majeur"),
        ("PT0012345", "Maintenance préventive", "Vérification des équipements du répartiteur"),
        ("PT0099999", "Réparation", "Le technicien est intervenu sur l'armoire de rue"),
        ("DO-REF-77", "Déclaration modifiée", "Intervention décalée au lendemain à cause des intempéries"),
    ],
    "russian": [
        ("АП-2026-001", "Обращение гражданина", "Прошу отремонтировать дорогу у дома номер пять"),
        ("АП-2026-002", "Обращения жителей", "Жители обращаются по поводу уличного освещения"),
        ("АП-2026-003", "Жалоба на шум", "Ремонт в квартире ночью, обращение повторное"),
        ("АП-2026-004", "Ёлка на площади", "Установить новогоднюю ёлку к празднику"),
    ],
    "vietnamese": [
        ("KH-01", "Sở Thông tin và Truyền thông", "Kế hoạch chuyển đổi số tỉnh Đắk Lắk năm 2026"),
        ("KH-02", "Sở Tài chính", "Báo cáo quyết toán ngân sách địa phương"),
        ("KH-03", "Ủy ban nhân dân tỉnh", "Kế hoạch đầu tư công trung hạn"),
    ],
}
QUERIES = {
    "french": [
        "intervention",
        "interventions",
        "INTERVENU",
        "evenement",
        "événements",
        "besancon",
        "FI-12345",
        "fi12345",
        "FI-12345-0002",
        "PT0012",
        "pt00",
        "0001",
        "câble fibre",
        "cable",
        "répartiteur",
        "repart",
        "intempérie",
        "armoire rue",
        "do-ref",
        "NEAR(",
        '"',
        "ma",
    ],
    "russian": [
        "обращение",
        "обращения",
        "обращений",
        "ОБРАЩАЮТСЯ",
        "ремонт",
        "ремонта дороги",
        "елка",
        "ёлку",
        "АП-2026",
        "ап2026003",
        "жалоба шум",
        "освещение",
        "обра",
    ],
    "vietnamese": [
        "So Thong tin",
        "sở thông tin",
        "dak lak",
        "Đắk",
        "ke hoach",
        "kế hoạch 2026",
        "tai chinh",
        "ngan sach",
        "KH-0",
        "kh01",
        "uy ban",
        "truyen",
    ],
}


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    """A fresh SQLite and a fresh PostgreSQL database, whatever the run's default."""
    made = {
        kind: Database(fresh_database_url(tmp_path_factory.mktemp(kind), kind))
        for kind in ("sqlite", "postgresql")
    }
    yield made
    for database in made.values():
        database.engine.dispose()
        drop_database(database.url)


def _words_of(language: str) -> list[str]:
    """Every word of the corpus, cut at random lengths and in random case: more queries to agree on."""
    chooser = random.Random(7)
    words = [w for row in CORPUS[language] for text in row for w in text.split()]
    cut = [w[: chooser.randint(3, len(w))] if len(w) > 3 else w for w in words]
    return [w.upper() if chooser.random() < 0.3 else w for w in cut]


@pytest.mark.parametrize("language", sorted(CORPUS))
def test_both_engines_return_the_same_rows(engines, language):
    results: dict[str, dict[str, list[int]]] = {}
    for kind, database in engines.items():
        with notes_in(database, language) as index, database.session() as db:
            for code, title, body in CORPUS[language]:
                add_note(db, index, code=code, title=title, body=body)
            db.flush()
            queries = QUERIES[language] + _words_of(language)
            results[kind] = {q: sorted(keys_found(db, index, q)) for q in queries}
            db.rollback()
    assert results["sqlite"] == results["postgresql"]
    assert sum(1 for keys in results["sqlite"].values() if keys) > len(QUERIES[language]) // 2
