"""The law's clock (59-FZ): calendar days from the day after the event, a last day off work moved to the
next Russian working day from the core's calendar data, one extension, days counted in Moscow."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.appeals.deadlines import (
    AppealFacts,
    DeadlineRule,
    ExpectedAnswer,
    answer_due,
    expected_answer,
    extend,
    forwarding_due,
    registration_due,
)
from tocsin.core.calendar import OutsideCalendar, calendar
from tocsin.core.errors import DomainError

MOSCOW = timezone(timedelta(hours=3))


def test_an_answer_due_on_a_working_day_stays_there():
    assert answer_due(date(2026, 11, 15)) == date(2026, 12, 15)  # a Tuesday


def test_day_thirty_on_a_saturday_moves_to_monday():
    assert date(2026, 3, 14).weekday() == 5
    assert answer_due(date(2026, 2, 12)) == date(2026, 3, 16)


def test_day_thirty_in_the_new_year_holidays_moves_past_them_and_the_moved_day_off():
    # 4 January 2026 is a holiday; 5-8 too; 9 January is a day off moved from Saturday 3 January.
    assert calendar("ru").why_not_working(date(2026, 1, 9)) == "перенос с субботы 3 января"
    assert answer_due(date(2025, 12, 5)) == date(2026, 1, 12)


def test_day_thirty_on_31_december_2025_a_moved_day_off_goes_into_january():
    assert answer_due(date(2025, 12, 1)) == date(2026, 1, 12)


def test_day_thirty_on_international_womens_day_skips_its_moved_monday_too():
    # 8 March 2026 is a Sunday; article 112 moves the day off to Monday 9 March.
    assert answer_due(date(2026, 2, 6)) == date(2026, 3, 10)


def test_a_working_saturday_is_a_working_day():
    assert calendar("ru").is_working_day(date(2025, 11, 1))
    assert answer_due(date(2025, 10, 2)) == date(2025, 11, 1)


def test_day_thirty_on_30_december_2024_waits_for_the_holidays_to_end():
    assert answer_due(date(2024, 11, 30)) == date(2025, 1, 9)


@given(st.dates(date(2024, 1, 1), date(2026, 11, 30)))
def test_the_answer_is_due_on_the_first_working_day_from_day_thirty(registered):
    ru, day_thirty = calendar("ru"), registered + timedelta(days=30)
    due = answer_due(registered)
    assert ru.is_working_day(due)
    assert due >= day_thirty
    assert ru.working_days_between(day_thirty - timedelta(days=1), due - timedelta(days=1)) == 0


def test_registration_is_due_three_days_after_the_moscow_day_of_receipt():
    # 22:00 UTC on Monday 2 February is 01:00 on Tuesday 3 February in Moscow.
    received = datetime(2026, 2, 2, 22, 0, tzinfo=UTC)
    assert registration_due(received) == date(2026, 2, 6)
    assert registration_due(datetime(2026, 2, 2, 20, 59, tzinfo=UTC)) == date(2026, 2, 5)
    assert registration_due(datetime(2026, 2, 3, 1, 0, tzinfo=MOSCOW)) == date(2026, 2, 6)


def test_registration_due_in_the_new_year_holidays_moves_after_them():
    assert registration_due(datetime(2025, 12, 29, 10, 0, tzinfo=UTC)) == date(2026, 1, 12)


def test_a_naive_instant_is_a_programming_error():
    with pytest.raises(ValueError, match="timezone-aware"):
        registration_due(datetime(2026, 2, 2, 12, 0))


def test_forwarding_is_due_seven_days_after_registration_moved_off_the_may_holiday():
    # 1 May 2026 is a Friday holiday; 2 and 3 May the weekend.
    assert forwarding_due(date(2026, 4, 24)) == date(2026, 5, 4)
    assert forwarding_due(date(2026, 2, 2)) == date(2026, 2, 9)


def test_an_extension_counts_from_the_moved_deadline():
    first = answer_due(date(2026, 4, 1))
    assert first == date(2026, 5, 4)  # 1 May is a holiday, then the weekend
    assert extend(first, 30) == date(2026, 6, 3)
    assert answer_due(date(2026, 4, 1), 30) == date(2026, 6, 3)


def test_an_extension_can_be_shorter_than_the_most_allowed():
    assert extend(date(2026, 1, 12), 10) == date(2026, 1, 22)


def test_an_extension_landing_on_a_holiday_is_moved_too():
    # 12 June 2026 (Russia Day) is a Friday.
    assert extend(date(2026, 5, 13), 30) == date(2026, 6, 15)


def test_a_second_extension_is_refused():
    with pytest.raises(DomainError) as caught:
        extend(date(2026, 6, 3), 10, extensions_made=1)
    assert caught.value.field == "extension"
    assert "1 time(s) only" in caught.value.reason


@pytest.mark.parametrize("days", [0, -5, 31, 365])
def test_an_extension_outside_one_to_thirty_days_is_refused_naming_days(days):
    with pytest.raises(DomainError) as caught:
        extend(date(2026, 6, 3), days)
    assert caught.value.field == "days"
    assert f"not {days}" in caught.value.reason


@pytest.mark.parametrize("extension_days", [-1, 31])
def test_answer_due_refuses_an_extension_the_rule_does_not_allow(extension_days):
    with pytest.raises(DomainError) as caught:
        answer_due(date(2026, 4, 1), extension_days)
    assert caught.value.field == "extension_days"


def test_an_unknown_appeal_type_is_refused_naming_kind():
    with pytest.raises(DomainError) as caught:
        answer_due(date(2026, 4, 1), kind="petition")
    assert caught.value.field == "kind"


def test_rules_are_configurable_per_appeal_type():
    rules = {
        "complaint": DeadlineRule(answer_days=15, extensions=2, extension_max_days=10),
        "question": DeadlineRule(),
    }
    assert answer_due(date(2026, 2, 2), kind="complaint", rules=rules) == date(2026, 2, 17)
    assert answer_due(date(2026, 2, 2), kind="question", rules=rules) == date(2026, 3, 4)
    assert extend(date(2026, 2, 17), 10, extensions_made=1, kind="complaint", rules=rules) == date(
        2026, 2, 27
    )
    with pytest.raises(DomainError) as caught:
        extend(date(2026, 2, 17), 11, kind="complaint", rules=rules)
    assert caught.value.field == "days"


def test_a_deadline_the_calendar_does_not_know_is_let_through_saying_which_and_why():
    # Registered today (1 December 2026): day 30 is 31 December, a day off; the next working day is in
    # 2027, whose decree is not in the data yet.
    with pytest.raises(OutsideCalendar) as caught:
        answer_due(date(2026, 12, 1))
    assert caught.value.field == "registered_on"
    assert "answer deadline (falls on 2026-12-31)" in caught.value.reason
    assert "2027 is not in the ru calendar" in caught.value.reason


def test_a_registration_deadline_before_the_calendar_is_refused():
    with pytest.raises(OutsideCalendar) as caught:
        registration_due(datetime(2023, 6, 1, 12, 0, tzinfo=UTC))
    assert caught.value.field == "received_at"
    assert "2023 is not in the ru calendar" in caught.value.reason


def test_the_expected_answer_counts_from_the_registration():
    facts = AppealFacts(
        kind="complaint", received_at=datetime(2026, 2, 10, 9, 0, tzinfo=UTC), registered_on=date(2026, 2, 12)
    )
    assert expected_answer(facts) == ExpectedAnswer(due=date(2026, 3, 16), basis="registered", extended=False)


def test_the_expected_answer_before_registration_is_the_latest_the_law_allows():
    # Received Monday 29 December 2025; registration due 12 January 2026 (after the holidays); +30 days.
    facts = AppealFacts(kind="question", received_at=datetime(2025, 12, 29, 10, 0, tzinfo=UTC))
    expected = expected_answer(facts)
    assert expected == ExpectedAnswer(due=date(2026, 2, 11), basis="not registered yet", extended=False)


def test_the_expected_answer_shows_the_extension():
    facts = AppealFacts(
        kind="proposal",
        received_at=datetime(2026, 3, 30, 9, 0, tzinfo=UTC),
        registered_on=date(2026, 4, 1),
        extension_days=30,
    )
    assert expected_answer(facts) == ExpectedAnswer(due=date(2026, 6, 3), basis="registered", extended=True)
