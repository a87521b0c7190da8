"""The law's clock for appeals (Federal Law 59-FZ «О порядке рассмотрения обращений граждан», as the spec
states it): registered within 3 days of receipt, forwarded to the competent body within 7 days of
registration, answered within 30 days of registration, extended once by up to 30 days.

Periods are counted in calendar days from the day after the event (Civil Code art. 191); a last day that
is not a working day in Russia moves to the next working day (art. 193), from the core's calendar "ru".
Instants become days in the desk's zone, Europe/Moscow: an appeal received at 01:00 Moscow time on the 3rd
(22:00 UTC on the 2nd) was received on the 3rd. A day the calendar does not know raises OutsideCalendar.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from tocsin.core.calendar import OutsideCalendar, calendar
from tocsin.core.errors import DomainError

ZONE = ZoneInfo("Europe/Moscow")
COUNTRY = "ru"
KINDS = ("complaint", "appeal", "question", "proposal")  # жалоба, обращение, вопрос, предложение


@dataclass(frozen=True)
class DeadlineRule:
    """One appeal type's periods, in calendar days."""

    register_days: int = 3
    forward_days: int = 7
    answer_days: int = 30
    extensions: int = 1
    extension_max_days: int = 30


DEFAULT_RULES: Mapping[str, DeadlineRule] = {kind: DeadlineRule() for kind in KINDS}


@dataclass(frozen=True)
class AppealFacts:
    """What the clock needs to know of an appeal: its type, when it arrived, when this agency registered
    it (None while not yet), and the days of the extension granted (0 when none)."""

    kind: str
    received_at: datetime
    registered_on: date | None = None
    extension_days: int = 0


@dataclass(frozen=True)
class ExpectedAnswer:
    """The date the answer is due by. ``basis`` says whether it counts from the registration or, before
    it, from the latest day the appeal may still be registered."""

    due: date
    basis: Literal["registered", "not registered yet"]
    extended: bool


def rule_for(kind: str, rules: Mapping[str, DeadlineRule] | None = None) -> DeadlineRule:
    """The rule of an appeal type; DomainError naming ``kind`` for a type without one."""
    rules = DEFAULT_RULES if rules is None else rules
    try:
        return rules[kind]
    except KeyError:
        raise DomainError(f"Unknown appeal type {kind!r}; known: {', '.join(rules)}.", field="kind") from None


def received_on(received_at: datetime) -> date:
    """The Moscow day of an instant (which must carry its zone)."""
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        raise ValueError("received_at must be timezone-aware")
    return received_at.astimezone(ZONE).date()


def _last_day(day: date, *, what: str, field: str) -> date:
    """``day`` if it is worked in Russia, else the next working day; OutsideCalendar says what was asked."""
    try:
        return calendar(COUNTRY).deadline(day)
    except OutsideCalendar as error:
        raise OutsideCalendar(
            f"cannot compute the {what} (falls on {day.isoformat()}): {error.reason}", field=field
        ) from error


def registration_due(
    received_at: datetime, *, kind: str = "appeal", rules: Mapping[str, DeadlineRule] | None = None
) -> date:
    """The last day to register an appeal received at ``received_at``."""
    days = rule_for(kind, rules).register_days
    return _last_day(
        received_on(received_at) + timedelta(days=days), what="registration deadline", field="received_at"
    )


def forwarding_due(
    registered_on: date, *, kind: str = "appeal", rules: Mapping[str, DeadlineRule] | None = None
) -> date:
    """The last day to forward an appeal registered on ``registered_on`` to the competent body."""
    days = rule_for(kind, rules).forward_days
    return _last_day(registered_on + timedelta(days=days), what="forwarding deadline", field="registered_on")


def answer_due(
    registered_on: date,
    extension_days: int = 0,
    *,
    kind: str = "appeal",
    rules: Mapping[str, DeadlineRule] | None = None,
) -> date:
    """The last day to answer an appeal registered on ``registered_on``, with the extension granted.
    The extension counts from the end of the first period (moved off a non-working day, as the law
    ends it), so this equals ``extend(answer_due(registered_on), extension_days)``."""
    rule = rule_for(kind, rules)
    if extension_days < 0 or extension_days > rule.extension_max_days:
        raise DomainError(
            f"An extension is 0 to {rule.extension_max_days} days, not {extension_days}.",
            field="extension_days",
        )
    due = _last_day(
        registered_on + timedelta(days=rule.answer_days), what="answer deadline", field="registered_on"
    )
    if extension_days:
        due = extend(due, extension_days, kind=kind, rules=rules)
    return due


def extend(
    current_due: date,
    days: int,
    *,
    extensions_made: int = 0,
    kind: str = "appeal",
    rules: Mapping[str, DeadlineRule] | None = None,
) -> date:
    """The answer deadline after extending ``current_due`` by ``days``; refuses an extension past the
    number the rule allows (``extension``), and ``days`` outside 1 to the rule's maximum (``days``)."""
    rule = rule_for(kind, rules)
    if extensions_made >= rule.extensions:
        raise DomainError(
            f"The deadline can be extended {rule.extensions} time(s) only; it already was.",
            field="extension",
        )
    if days <= 0 or days > rule.extension_max_days:
        raise DomainError(f"Extend by 1 to {rule.extension_max_days} days, not {days}.", field="days")
    return _last_day(current_due + timedelta(days=days), what="extended answer deadline", field="days")


def expected_answer(facts: AppealFacts, *, rules: Mapping[str, DeadlineRule] | None = None) -> ExpectedAnswer:
    """The date the citizen can expect an answer by: from the registration when there is one, else from
    the last day it may still be registered (the latest the law allows), so there is always a date."""
    basis: Literal["registered", "not registered yet"] = "registered"
    if facts.registered_on is not None:
        registered = facts.registered_on
    else:
        registered = registration_due(facts.received_at, kind=facts.kind, rules=rules)
        basis = "not registered yet"
    due = answer_due(registered, facts.extension_days, kind=facts.kind, rules=rules)
    return ExpectedAnswer(due=due, basis=basis, extended=facts.extension_days > 0)
