"""Reading what staff type into page filters and forms: days, times, choices, numbers, page numbers and
a list's sort order, each by the core's rules (``tocsin.core.dates``), collecting a translated message
per bad field."""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request

from tocsin.core import dates
from tocsin.core.errors import DomainError
from tocsin.core.web.shell import formatter_of, shell_of

PAGE_SIZE = 50
MAX_PAGE = 100_000  # 5 million rows at 50 a page: beyond that a filter serves better than paging
INTEGER_KEY = 2**31 - 1  # the largest INTEGER primary key (32 bits on PostgreSQL)
BIGINT_KEY = 2**63 - 1  # the largest BIGINT primary key

DAY_WANTED = "Enter a date as YYYY-MM-DD."
MOMENT_WANTED = "Enter a date and time as YYYY-MM-DD HH:MM."
MOMENT_MISSING = "Enter a date and time."
YEAR_WANTED = "Enter a year from {first} to {last}."
NUMBER_WANTED = "Enter a whole number from {lowest} to {highest}."
PERIOD_REVERSED = "The end of the period is before its start."
SORT_WANTED = "Sort by one of the list's columns ({columns}), with a minus sign before it to reverse."
MAX_SORT_CHARS = 40  # longer than any column name: a longer value is refused before it is looked at


class Inputs:
    """Reads filter and form values, collecting ``(field, translated message)`` for the bad ones."""

    def __init__(self, request: Request, zone: ZoneInfo | None = None) -> None:
        """``zone``: the one local days and times are typed in, by default the page's (its desk's)."""
        self.request, self.zone = request, zone or formatter_of(request).zone
        self.errors: list[tuple[str, str]] = []

    def fail(self, name: str, message: str, **values: Any) -> None:
        """Record a problem with field ``name``; ``message`` is English, translated here."""
        text = shell_of(self.request).gettext(self.request, message)
        self.errors.append((name, text.format(**values) if values else text))

    def day(self, name: str, value: str) -> date | None:
        """A local day typed as YYYY-MM-DD, or None when empty."""
        if not value.strip():
            return None
        try:
            return dates.local_day(value.strip(), field=name)
        except DomainError as error:
            self._refused(name, error, DAY_WANTED)
            return None

    def moment(self, name: str, value: str, *, required: bool = False) -> datetime | None:
        """A local date and time typed as YYYY-MM-DDTHH:MM (or with a space), returned in UTC."""
        if not value.strip():
            if required:
                self.fail(name, MOMENT_MISSING)
            return None
        try:
            return dates.local_moment(value.strip(), field=name, zone=self.zone)
        except DomainError as error:
            self._refused(name, error, MOMENT_WANTED)
            return None

    def choice(self, name: str, value: str, allowed: Container[str], message: str) -> str:
        """An optional value that must be one of ``allowed``."""
        if value and value not in allowed:
            self.fail(name, message)
            return ""
        return value

    def order(self, first: str, since: Any, until: Any) -> None:
        """Refuse a period whose end comes before its start, naming the field ``first``."""
        if since is not None and until is not None and until < since:
            self.fail(first, PERIOD_REVERSED)

    def number(self, name: str, value: str, *, lowest: int, highest: int, default: int) -> int:
        """A whole number from ``lowest`` to ``highest``; ``default`` when empty or refused."""
        try:
            return dates.bounded_int(value, field=name, lowest=lowest, highest=highest, default=default)
        except DomainError:
            self.fail(name, NUMBER_WANTED, lowest=lowest, highest=highest)
            return default

    def page(self, value: str, name: str = "page") -> int:
        """A page number from 1 to ``MAX_PAGE`` (1 when empty)."""
        return self.number(name, value, lowest=1, highest=MAX_PAGE, default=1)

    def sort(self, value: str, sorting: Sorting, name: str = "sort") -> Sort:
        """A list's order from its ``sort`` input: a column of ``sorting``, ``-`` before it for the
        reverse; the list's default when empty or refused."""
        column = value[1:] if value.startswith("-") else value
        if not value:
            return sorting.default
        if len(value) > MAX_SORT_CHARS or column not in sorting.columns:
            self.fail(name, SORT_WANTED, columns=", ".join(sorting.columns))
            return sorting.default
        return Sort(column, descending=value.startswith("-"), chosen=True)

    def _refused(self, name: str, error: DomainError, shape: str) -> None:
        if error.reason == dates.YEAR_RANGE:
            self.fail(name, YEAR_WANTED, first=dates.MIN_YEAR, last=dates.MAX_YEAR)
        else:
            self.fail(name, shape)


def notice_count(value: str | None, *, highest: int) -> int | None:
    """A count a redirect passes to the next page's notice (``?queued=3``); None when absent or odd."""
    if not value:
        return None
    try:
        return dates.bounded_int(value, field="count", lowest=0, highest=highest, default=0)
    except DomainError:
        return None


def names_a_row(number: int, *, highest: int = INTEGER_KEY) -> bool:
    """Whether a number taken from a path can be a row's key: a larger one would overflow the query."""
    return 1 <= number <= highest


@dataclass(frozen=True)
class Sort:
    """The order a list is shown in: one column, ascending or descending (``start``, ``-start``);
    ``chosen`` when the reader asked for it rather than getting the list's default."""

    column: str
    descending: bool = False
    chosen: bool = False

    @property
    def value(self) -> str:
        """As the ``sort`` input writes it."""
        return ("-" if self.descending else "") + self.column

    def aria(self, column: str) -> str | None:
        """The ``aria-sort`` of a column header: set on the sorted column only."""
        if column != self.column:
            return None
        return "descending" if self.descending else "ascending"

    def next_for(self, column: str) -> str:
        """The ``sort`` a click on a column header asks for: that column, reversed if already sorted."""
        return column if column != self.column or self.descending else f"-{column}"


class Sorting:
    """The columns a list may be sorted by (name → SQL expression), its default order, and the row key
    that breaks ties, so equal values keep one order from page to page."""

    def __init__(self, columns: Mapping[str, Any], *, default: str, key: Any) -> None:
        self.columns, self.key = dict(columns), key
        self.default = Sort(default.lstrip("-"), descending=default.startswith("-"))
        assert self.default.column in self.columns, default

    def order_by(self, sort: Sort) -> list[Any]:
        """ORDER BY terms for ``sort``: empty values last either way, then the key in the same direction."""
        column = self.columns[sort.column]
        if sort.descending:
            return [column.desc().nulls_last(), self.key.desc()]
        return [column.asc().nulls_last(), self.key.asc()]


@dataclass
class Pager:
    """Which slice of a filtered list is shown, and the links to its neighbours.

    A number past the last page shows the last page, so a link kept while rows went away still works.
    """

    number: int
    total: int
    filters: dict[str, str] = field(default_factory=dict)
    size: int = PAGE_SIZE

    def __post_init__(self) -> None:
        self.number = max(1, min(self.number, self.pages))

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    def link(self, number: int) -> str:
        """Another page of the same list: filters and sort kept."""
        wanted = {k: v for k, v in self.filters.items() if v}
        return "?" + urlencode({**wanted, "page": number})

    def sort_link(self, sort: str) -> str:
        """The same list in another order, from its first page (filters kept)."""
        wanted = {k: v for k, v in self.filters.items() if v and k != "sort"}
        return "?" + urlencode({**wanted, "sort": sort})
