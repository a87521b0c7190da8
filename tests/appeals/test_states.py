"""An appeal moves only as the status table allows: the happy path, clarification back and forth, the
one-way doors (rejected, withdrawn, closed), who may do what, and rejections carrying a code."""

from __future__ import annotations

import pytest

from tocsin.appeals.states import FINAL, MOVES, OPEN, RUSSIAN, Actor, Status, actions, may_link, move
from tocsin.core.errors import DomainError


def test_the_whole_story_of_an_appeal():
    status = Status.DRAFT
    for action, who in [
        ("send", Actor.CITIZEN),
        ("register", Actor.SYSTEM),
        ("take", Actor.STAFF),
        ("ask", Actor.STAFF),
        ("reply", Actor.CITIZEN),
        ("extend", Actor.STAFF),
        ("answer", Actor.STAFF),
        ("close", Actor.CITIZEN),
    ]:
        status = move(status, action, who)
    assert status is Status.CLOSED


def test_forwarding_and_extension_keep_the_appeal_open():
    assert move(Status.REGISTERED, "forward", Actor.STAFF) is Status.REGISTERED
    assert move(Status.UNDER_REVIEW, "forward", Actor.STAFF) is Status.REGISTERED  # the new agency takes it
    assert move(Status.UNDER_REVIEW, "extend", Actor.STAFF) is Status.UNDER_REVIEW


@pytest.mark.parametrize("status", sorted(OPEN))
def test_the_citizen_may_withdraw_until_the_answer(status):
    assert move(status, "withdraw", Actor.CITIZEN) is Status.WITHDRAWN


@pytest.mark.parametrize("status", [Status.ANSWERED, *sorted(FINAL), Status.DRAFT])
def test_nothing_withdraws_after_the_answer_or_before_sending(status):
    with pytest.raises(DomainError, match="cannot withdraw"):
        move(status, "withdraw", Actor.CITIZEN)


def test_final_statuses_have_no_way_out():
    assert not [m for (source, _), m in MOVES.items() if source in FINAL]


def test_who_may_do_what():
    with pytest.raises(DomainError, match="citizen may not answer"):
        move(Status.UNDER_REVIEW, "answer", Actor.CITIZEN)
    with pytest.raises(DomainError, match="staff may not reply"):
        move(Status.CLARIFICATION, "reply", Actor.STAFF)
    assert actions(Status.UNDER_REVIEW, Actor.STAFF) == ["answer", "ask", "extend", "forward", "reject"]
    assert actions(Status.CLARIFICATION, Actor.CITIZEN) == ["reply", "withdraw"]
    assert actions(Status.REJECTED, Actor.CITIZEN) == ["send_again"]
    assert actions(Status.ANSWERED, Actor.CITIZEN) == ["close", "dispute"]


def test_a_rejection_carries_one_of_the_codes():
    assert move(Status.SENT, "reject", Actor.SYSTEM, rejection="format") is Status.REJECTED
    for code in (None, "", "whim", "FORMAT"):
        with pytest.raises(DomainError) as refused:
            move(Status.SENT, "reject", Actor.SYSTEM, rejection=code)
        assert refused.value.field == "rejection"


def test_unknown_statuses_actions_and_actors_are_refused():
    with pytest.raises(ValueError):
        move("lost", "send", Actor.CITIZEN)
    with pytest.raises(ValueError):
        move(Status.DRAFT, "send", "mayor")
    with pytest.raises(DomainError) as refused:
        move(Status.DRAFT, "teleport", Actor.CITIZEN)
    assert refused.value.field == "action" and "allowed: send" in str(refused.value)


def test_links_start_only_from_their_status_and_every_status_has_its_russian_name():
    assert may_link(Status.REJECTED, "send_again") and not may_link(Status.UNDER_REVIEW, "send_again")
    assert may_link(Status.ANSWERED, "dispute") and not may_link(Status.CLOSED, "dispute")
    assert set(RUSSIAN) == set(Status) and RUSSIAN[Status.REGISTERED] == "Принято"
