"""A list's ``sort`` input: a column from the list's own set, a minus sign for the reverse order;
anything else is refused with a message naming the field, and the list keeps its default order."""

from __future__ import annotations

from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select

from tocsin.core.web.inputs import MAX_SORT_CHARS, Inputs, Pager, Sort, Sorting

ROWS = Table("rows", MetaData(), Column("id", Integer, primary_key=True), Column("name", String))
SORTING = Sorting({"name": ROWS.c.name, "number": ROWS.c.id}, default="-number", key=ROWS.c.id)


def inputs() -> Inputs:
    """Inputs over a request whose shell translates nothing (English)."""
    shell = SimpleNamespace(gettext=lambda request, text: text)
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(shell=shell)))
    return Inputs(request, ZoneInfo("Europe/Paris"))  # type: ignore[arg-type]


def test_a_column_sorts_ascending():
    read = inputs()
    assert read.sort("name", SORTING) == Sort("name", descending=False, chosen=True)
    assert read.errors == []


def test_a_minus_sign_sorts_descending():
    read = inputs()
    sort = read.sort("-name", SORTING)
    assert (sort.column, sort.descending, sort.value, read.errors) == ("name", True, "-name", [])


def test_empty_gives_the_lists_default_not_chosen():
    read = inputs()
    sort = read.sort("", SORTING)
    assert (sort.value, sort.chosen, read.errors) == ("-number", False, [])


@pytest.mark.parametrize(
    "hostile",
    [
        "nope",
        "id",  # a real column, but not one this list offers
        "id;drop",
        "name;DROP TABLE rows",
        "--name",
        "-",
        "+name",
        "name ",
        "NAME",
        "name\x00",
        "'name'",
        "name" * 500,
        "-" + "n" * (MAX_SORT_CHARS + 1),
    ],
)
def test_anything_else_is_refused_naming_the_field_and_the_default_order_is_kept(hostile):
    read = inputs()
    sort = read.sort(hostile, SORTING)
    assert sort == SORTING.default
    [(field, message)] = read.errors
    assert field == "sort"
    assert (
        message == "Sort by one of the list's columns (name, number), with a minus sign before it to reverse."
    )


def test_order_breaks_ties_on_the_key_in_the_same_direction():
    down = select(ROWS).order_by(*SORTING.order_by(Sort("name", descending=True)))
    up = select(ROWS).order_by(*SORTING.order_by(Sort("name")))
    assert str(down).endswith("ORDER BY rows.name DESC NULLS LAST, rows.id DESC")
    assert str(up).endswith("ORDER BY rows.name ASC NULLS LAST, rows.id ASC")


def test_headers_say_which_column_is_sorted_and_what_a_click_asks_for():
    sort = Sort("name")
    assert (sort.aria("name"), sort.aria("number")) == ("ascending", None)
    assert (sort.next_for("name"), sort.next_for("number")) == ("-name", "number")
    assert Sort("name", descending=True).next_for("name") == "name"


def test_pager_links_keep_the_sort_and_a_new_sort_starts_on_page_one():
    pager = Pager(2, 120, {"pm": "FI-1", "sort": "-name", "q": ""})
    assert pager.link(3) == "?pm=FI-1&sort=-name&page=3"
    assert pager.sort_link("number") == "?pm=FI-1&sort=number"
