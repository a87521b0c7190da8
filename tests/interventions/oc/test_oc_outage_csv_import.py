"""The OC's outage feed as CSV: all or nothing, every bad line and field named, duplicates skipped."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from tests.interventions.support import GOOD_OUTAGE_CSV, OUTAGE_CSV_HEADER
from tocsin.interventions.models import LineCut
from tocsin.interventions.oc.outages import FeedError, decode_upload, import_cuts_csv


def run(database, text, clock):
    with database.session() as db:
        return import_cuts_csv(db=db, text=text, now=clock())


def stored(database):
    with database.session() as db:
        return list(db.scalars(select(LineCut).order_by(LineCut.cut_at)))


def problems_of(database, text, clock):
    with pytest.raises(FeedError) as caught:
        run(database, text, clock)
    return [(p.line, p.field, p.reason) for p in caught.value.problems]


def test_good_rows_are_imported_in_utc_with_unknown_details_as_inconnu(database, clock):
    result = run(database, GOOD_OUTAGE_CSV, clock)
    assert (result.imported, result.duplicates) == (2, 0)
    first, second = stored(database)
    assert first.cut_at == datetime(2026, 11, 20, 9, 5, tzinfo=UTC)
    assert (first.pto, first.pbo, first.tube, first.fibre, first.position) == (
        "FI-1234-5678",
        "PT0012345",
        "T1",
        "F3",
        "M2-P14",
    )
    assert first.dying_gasp is False and first.source == "csv"
    assert (second.pbo, second.tube, second.fibre, second.position) == ("inconnu",) * 4
    assert second.dying_gasp is True


def test_semicolon_separated_files_from_french_spreadsheets_are_read(database, clock):
    text = GOOD_OUTAGE_CSV.replace(",", ";")
    assert run(database, text, clock).imported == 2


def test_every_bad_row_is_named_by_line_and_field(database, clock):
    text = (
        OUTAGE_CSV_HEADER
        + "2026-11-20T10:05:00+01:00,FI-12345-0001,FI-1234-5678,,,,,false\n"
        + "2026-11-20 10:05,FI-12345-0001,FI-1234-5679,,,,,false\n"
        + "2026-11-20T10:05:00+01:00,fi 12345,FI-1234-5670,,,,,maybe\n"
        + ",FI-12345-0001,FI-1234-5671,,,,,\n"
        + "2026-11-20T10:05:00+01:00,FI-12345-0001\n"
    )
    assert problems_of(database, text, clock) == [
        (3, "cut_at", "must be an RFC 3339 date and time with an offset, e.g. 2026-11-20T10:05:00+01:00"),
        (4, "pm", "must be a PM reference: capital letters, digits, - and _, 50 at most"),
        (4, "dying_gasp", "must be true, false, 1, 0, oui or non"),
        (5, "cut_at", "is required"),
        (5, "dying_gasp", "is required"),
        (6, "row", "wrong number of columns"),
    ]


def test_one_bad_row_means_nothing_is_imported(database, clock):
    text = GOOD_OUTAGE_CSV + "not a date,FI-12345-0001,FI-1234-0000,,,,,false\n"
    assert problems_of(database, text, clock) == [
        (4, "cut_at", "must be an RFC 3339 date and time with an offset, e.g. 2026-11-20T10:05:00+01:00")
    ]
    assert stored(database) == []


def test_a_missing_required_column_is_named(database, clock):
    text = "cut_at,pm,pbo\n2026-11-20T10:05:00+01:00,FI-12345-0001,PT1\n"
    problems = problems_of(database, text, clock)
    assert (1, "pto", "column missing from the header line") in problems
    assert (1, "dying_gasp", "column missing from the header line") in problems


def test_duplicates_in_the_file_and_in_the_store_are_skipped_and_counted(database, clock):
    run(database, GOOD_OUTAGE_CSV, clock)
    same_instant_other_offset = "2026-11-20T09:05:00+00:00,FI-12345-0001,FI-1234-5678,,,,,false\n"
    again = (
        GOOD_OUTAGE_CSV + same_instant_other_offset + same_instant_other_offset.replace("5678", "0001") * 2
    )
    result = run(database, again, clock)
    assert (result.imported, result.duplicates) == (1, 4)
    with database.session() as db:
        assert db.scalar(select(func.count()).select_from(LineCut)) == 3


def test_a_formula_is_stored_as_plain_text(database, clock):
    text = OUTAGE_CSV_HEADER + "2026-11-20T10:05:00+01:00,FI-12345-0001,\"=cmd|' /C calc'!A0\",@SUM(1),,,,0\n"
    run(database, text, clock)
    (cut,) = stored(database)
    assert (cut.pto, cut.pbo) == ("=cmd|' /C calc'!A0", "@SUM(1)")


def test_a_huge_field_is_refused_with_its_line(database, clock):
    text = OUTAGE_CSV_HEADER + "2026-11-20T10:05:00+01:00,FI-12345-0001,FI-1," + "X" * 5000 + ",,,,0\n"
    assert problems_of(database, text, clock) == [(2, "pbo", "is too long")]


def test_a_field_over_the_csv_limit_is_refused_not_crashed(database, clock):
    text = OUTAGE_CSV_HEADER + '2026-11-20T10:05:00+01:00,FI-12345-0001,"' + "X" * 200_000 + '",,,,,0\n'
    assert problems_of(database, text, clock) == [
        (2, "file", "unreadable CSV: a field is too large or a quote is not closed")
    ]


def test_control_characters_are_refused(database, clock):
    text = OUTAGE_CSV_HEADER + "2026-11-20T10:05:00+01:00,FI-12345-0001,FI-1\x1b[2J,,,,,0\n"
    assert problems_of(database, text, clock) == [(2, "pto", "contains control characters")]


def test_binary_garbage_is_refused_before_parsing():
    with pytest.raises(FeedError) as caught:
        decode_upload(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    assert [(p.line, p.field) for p in caught.value.problems] == [(1, "file")]
    assert caught.value.problems[0].reason == "the file is not text (binary data)"


def test_a_latin1_file_is_refused_with_the_line_of_the_first_bad_byte():
    data = (OUTAGE_CSV_HEADER + "2026-11-20T10:05:00+01:00,FI-12345-0001,FI-1,Rue de l'Église,,,,0\n").encode(
        "latin-1"
    )
    with pytest.raises(FeedError) as caught:
        decode_upload(data)
    assert [(p.line, p.field, p.reason) for p in caught.value.problems] == [
        (2, "file", "the file is not UTF-8 text: save it as CSV UTF-8")
    ]


def test_a_utf8_file_with_bom_is_decoded():
    assert decode_upload(b"\xef\xbb\xbf" + GOOD_OUTAGE_CSV.encode()) == GOOD_OUTAGE_CSV


def test_an_empty_file_is_refused(database, clock):
    assert problems_of(database, "", clock) == [(1, "file", "the file is empty")]
