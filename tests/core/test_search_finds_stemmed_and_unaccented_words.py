"""Search finds words in other forms: French and Russian by their Snowball stems, Vietnamese with or
without its tone marks, codes whole, without dashes or by their first characters."""

from __future__ import annotations

import pytest

from tests.core.notes import add_note, keys_found, notes_in


@pytest.fixture
def french(database):
    with notes_in(database, "french") as index:
        yield index


def test_a_plural_finds_the_singular_and_back(database, french):
    with database.session() as db:
        singular = add_note(db, french, title="Une intervention sur le réseau")
        plural = add_note(db, french, title="Deux interventions programmées")
        add_note(db, french, title="Rien à voir")
    with database.session() as db:
        assert set(keys_found(db, french, "interventions")) == {singular, plural}
        assert set(keys_found(db, french, "intervention")) == {singular, plural}


def test_french_accents_are_optional(database, french):
    with database.session() as db:
        found = add_note(db, french, title="Événements programmés à Besançon")
    with database.session() as db:
        assert keys_found(db, french, "evenement programme besancon") == [found]
        assert keys_found(db, french, "ÉVÉNEMENTS") == [found]


def test_every_word_must_match(database, french):
    with database.session() as db:
        both = add_note(db, french, title="Coupure fibre", body="quartier nord")
        add_note(db, french, title="Coupure électrique", body="quartier sud")
    with database.session() as db:
        assert keys_found(db, french, "coupure nord") == [both]


def test_russian_forms_find_each_other(database):
    with notes_in(database, "russian") as russian, database.session() as db:
        appeal = add_note(db, russian, title="Обращение гражданина о ремонте дороги")
        add_note(db, russian, title="Жалоба на шум")
        db.commit()
        assert keys_found(db, russian, "обращения") == [appeal]
        assert keys_found(db, russian, "обращений ремонта") == [appeal]
        assert keys_found(db, russian, "ОБРАЩЕНИЕ") == [appeal]


def test_russian_yo_and_ye_are_one_letter(database):
    with notes_in(database, "russian") as russian, database.session() as db:
        tree = add_note(db, russian, title="Ёлка на площади")
        db.commit()
        assert keys_found(db, russian, "елка") == [tree]


def test_vietnamese_without_tone_marks_finds_the_marked_text(database):
    with notes_in(database, "vietnamese") as vietnamese, database.session() as db:
        department = add_note(db, vietnamese, title="Sở Thông tin và Truyền thông tỉnh Đắk Lắk")
        add_note(db, vietnamese, title="Sở Tài chính")
        db.commit()
        assert keys_found(db, vietnamese, "So Thong tin") == [department]
        assert keys_found(db, vietnamese, "sở thông tin") == [department]
        assert keys_found(db, vietnamese, "dak lak") == [department]


def test_codes_match_whole_without_dashes_and_by_prefix(database, french):
    with database.session() as db:
        pm = add_note(db, french, code="FI-12345-0001")
        other_pm = add_note(db, french, code="FI-12399-0002")
        pbo = add_note(db, french, code="PT0012345")
    with database.session() as db:
        assert keys_found(db, french, "FI-12345-0001") == [pm]
        assert keys_found(db, french, "fi123450001") == [pm]
        assert keys_found(db, french, "FI-12345") == [pm]
        assert set(keys_found(db, french, "FI-123")) == {pm, other_pm}
        assert keys_found(db, french, "PT0012") == [pbo]
        assert keys_found(db, french, "0001") == [pm]


def test_a_word_prefix_of_three_letters_or_more_finds_the_word(database, french):
    with database.session() as db:
        found = add_note(db, french, title="Maintenance préventive")
    with database.session() as db:
        assert keys_found(db, french, "mainten") == [found]
        assert keys_found(db, french, "ma") == []
