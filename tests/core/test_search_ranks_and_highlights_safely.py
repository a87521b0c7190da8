"""Search ranks a match in a strong field (a code) above one in a weak field (a body), and more
matching words above fewer; highlights escape the stored text first, then mark the matches."""

from __future__ import annotations

import pytest

from tests.core.notes import Note, add_note, keys_found, notes_in
from tocsin.core import search


@pytest.fixture
def french(database):
    with notes_in(database, "french") as index:
        yield index


def test_a_match_in_a_heavier_field_ranks_first(database, french):
    with database.session() as db:
        in_body = add_note(db, french, title="Relevé", body="voir le câble PT0012345 au sous-sol")
        in_code = add_note(db, french, code="PT0012345", title="Relevé")
        in_title = add_note(db, french, title="Remplacer PT0012345", body="rien")
    with database.session() as db:
        assert keys_found(db, french, "PT0012345") == [in_code, in_title, in_body]


def test_more_occurrences_rank_higher(database, french):
    with database.session() as db:
        once = add_note(db, french, body="fibre coupée près de la mairie, travaux de voirie en cours")
        thrice = add_note(db, french, body="fibre coupée, fibre réparée, fibre testée")
    with database.session() as db:
        found = search.search(db, french, "fibre")
        assert [h.key for h in found.hits] == [thrice, once]
        assert found.hits[0].rank > found.hits[1].rank


def test_highlights_mark_the_matched_words_in_their_original_form(database, french):
    with database.session() as db:
        key = add_note(db, french, code="FI-12345-0001", title="Interventions à Évry")
    with database.session() as db:
        hit = search.search(db, french, "intervention evry FI-12345").hits[0]
    assert hit.key == key
    assert hit.highlights["title"] == "<mark>Interventions</mark> à <mark>Évry</mark>"
    assert hit.highlights["code"] == "<mark>FI-12345</mark>-0001"


def test_indexed_markup_is_escaped_before_it_is_marked(database, french):
    attack = '<script>alert("x")</script> <img src=x onerror=alert(1)> intervention'
    with database.session() as db:
        add_note(db, french, title=attack, code='"><b>PT0012</b>')
    with database.session() as db:
        hit = search.search(db, french, "intervention script PT0012").hits[0]
    title, code = str(hit.highlights["title"]), str(hit.highlights["code"])
    assert "<script>" not in title and "<img" not in title and "<b>" not in code
    assert title.startswith("&lt;<mark>script</mark>&gt;alert(&#34;x&#34;)&lt;/<mark>script</mark>&gt;")
    assert title.endswith("<mark>intervention</mark>")
    assert code == "&#34;&gt;&lt;b&gt;<mark>PT0012</mark>&lt;/b&gt;"


def test_a_long_field_is_shown_around_its_first_match(database, french):
    body = "début " + "remplissage " * 40 + "panne du répartiteur " + "suite " * 40
    with database.session() as db:
        add_note(db, french, body=body)
    with database.session() as db:
        marked = str(search.search(db, french, "répartiteur").hits[0].highlights["body"])
    assert marked.startswith("…") and marked.endswith("…")
    assert "<mark>répartiteur</mark>" in marked and len(marked) < 250


def test_total_counts_every_match_and_pages_follow_the_rank(database, french):
    with database.session() as db:
        keys = [add_note(db, french, title="panne " * (n + 1)) for n in range(7)]
    with database.session() as db:
        first = search.search(db, french, "panne", limit=3)
        second = search.search(db, french, "panne", limit=3, offset=3)
    assert first.total == second.total == 7
    assert [h.key for h in first.hits + second.hits] == list(reversed(keys))[:6]


def test_filters_on_the_desk_table_narrow_the_matches(database, french):
    with database.session() as db:
        north = add_note(db, french, title="panne", region="nord")
        add_note(db, french, title="panne", region="sud")
    with database.session() as db:
        found = search.search(db, french, "panne", filters=[Note.region == "nord"])
    assert found.total == 1 and [h.key for h in found.hits] == [north]


def test_a_query_broader_than_the_ranking_bound_lists_newest_first(database, french, monkeypatch):
    monkeypatch.setattr(search, "MAX_RANKED", 3)
    with database.session() as db:
        keys = [add_note(db, french, title="panne " * (5 - n), region="nord") for n in range(5)]
    with database.session() as db:
        broad = search.search(db, french, "panne", limit=2)
        narrowed = search.search(db, french, "panne", limit=2, filters=[Note.region == "nord"])
    assert broad.more and broad.total == 3 and [h.key for h in broad.hits] == [keys[4], keys[3]]
    assert narrowed.more and [h.key for h in narrowed.hits] == [keys[4], keys[3]]
