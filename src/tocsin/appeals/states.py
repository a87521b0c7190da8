"""An appeal's statuses and the moves between them, as data: who may make each move, and what a
rejection must carry. The pages, the API and the Open311 façade all move an appeal through ``move``
and nothing else, so a status can only change the way this table allows.

Statuses (the portal's words in Russian, English as the source language of the catalogs):
draft «Черновик» → sent «Отправлено» → registered «Принято» (with its registration number) →
under review «На рассмотрении» ⇄ clarification «Требуется уточнение» → answered «Ответ готов» →
closed «Завершено»; rejected «Отклонено» (with a code and a reason) from sent, registered or under
review; withdrawn «Отозвано» by the citizen any time before the answer. Forwarding to the competent
agency and the one extension are events that keep the status (the appeal stays registered or under
review, at its new agency or with its new date); "send again" after a rejection and "dispute" after an
answer make a new appeal linked to this one (``LINKS``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tocsin.core.errors import DomainError


class Status(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    REGISTERED = "registered"
    UNDER_REVIEW = "under_review"
    CLARIFICATION = "clarification"
    ANSWERED = "answered"
    CLOSED = "closed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class Actor(StrEnum):
    CITIZEN = "citizen"
    STAFF = "staff"
    SYSTEM = "system"  # the routing rules, the clock


class Rejection(StrEnum):
    """Why an appeal was not taken (the spec's codes)."""

    FORMAT = "format"  # the message or a file is not in an accepted form
    VALIDATION = "validation"  # a field is wrong
    RIGHTS = "rights"  # the sender may not write this (identity level, signature missing)
    TECHNICAL = "technical"
    SECURITY = "security"  # a file failed the virus scan, a forged signature
    UNKNOWN_RECIPIENT = "unknown_recipient"


LABELS = {
    Status.DRAFT: "Draft",
    Status.SENT: "Sent",
    Status.REGISTERED: "Registered",
    Status.UNDER_REVIEW: "Under review",
    Status.CLARIFICATION: "Clarification needed",
    Status.ANSWERED: "Answer ready",
    Status.CLOSED: "Closed",
    Status.REJECTED: "Rejected",
    Status.WITHDRAWN: "Withdrawn",
}
RUSSIAN = {  # the portal's own words, which the Russian catalog must give
    Status.DRAFT: "Черновик",
    Status.SENT: "Отправлено",
    Status.REGISTERED: "Принято",
    Status.UNDER_REVIEW: "На рассмотрении",
    Status.CLARIFICATION: "Требуется уточнение",
    Status.ANSWERED: "Ответ готов",
    Status.CLOSED: "Завершено",
    Status.REJECTED: "Отклонено",
    Status.WITHDRAWN: "Отозвано",
}
OPEN = frozenset({Status.SENT, Status.REGISTERED, Status.UNDER_REVIEW, Status.CLARIFICATION})
FINAL = frozenset({Status.CLOSED, Status.REJECTED, Status.WITHDRAWN})


@dataclass(frozen=True)
class Move:
    """One allowed move: from a status, by an action, to a status, by whom."""

    source: Status
    action: str
    target: Status
    actors: frozenset[Actor]


def _moves(*rows: tuple[Status, str, Status, tuple[Actor, ...]]) -> dict[tuple[Status, str], Move]:
    return {(s, a): Move(s, a, t, frozenset(who)) for s, a, t, who in rows}


C, S, X = Actor.CITIZEN, Actor.STAFF, Actor.SYSTEM
MOVES = _moves(
    (Status.DRAFT, "send", Status.SENT, (C,)),
    (Status.SENT, "register", Status.REGISTERED, (S, X)),
    (Status.SENT, "reject", Status.REJECTED, (S, X)),
    (Status.REGISTERED, "take", Status.UNDER_REVIEW, (S,)),
    (Status.REGISTERED, "forward", Status.REGISTERED, (S, X)),
    (Status.REGISTERED, "reject", Status.REJECTED, (S,)),
    (Status.UNDER_REVIEW, "ask", Status.CLARIFICATION, (S,)),
    (Status.CLARIFICATION, "reply", Status.UNDER_REVIEW, (C,)),
    (Status.UNDER_REVIEW, "forward", Status.REGISTERED, (S,)),
    (Status.UNDER_REVIEW, "extend", Status.UNDER_REVIEW, (S,)),
    (Status.CLARIFICATION, "extend", Status.CLARIFICATION, (S,)),
    (Status.REGISTERED, "extend", Status.REGISTERED, (S,)),
    (Status.UNDER_REVIEW, "answer", Status.ANSWERED, (S,)),
    (Status.UNDER_REVIEW, "reject", Status.REJECTED, (S,)),
    (Status.ANSWERED, "close", Status.CLOSED, (C, S, X)),
    *((source, "withdraw", Status.WITHDRAWN, (C,)) for source in sorted(OPEN)),
)
# Moves that make a new appeal linked to this one, and the status this one must be in.
LINKS = {"send_again": Status.REJECTED, "dispute": Status.ANSWERED}


def move(status: Status | str, action: str, actor: Actor | str, *, rejection: str | None = None) -> Status:
    """The status after ``action`` by ``actor``; a move the table does not allow is refused naming the
    action and why. A rejection must carry one of the codes."""
    current, who = Status(status), Actor(actor)
    found = MOVES.get((current, action))
    if found is None:
        allowed = sorted(a for s, a in MOVES if s == current)
        raise DomainError(
            f"cannot {action} an appeal that is {current.value}; allowed: {', '.join(allowed) or 'nothing'}",
            field="action",
        )
    if who not in found.actors:
        raise DomainError(f"{who.value} may not {action} an appeal", field="action")
    if action == "reject" and rejection not in {code.value for code in Rejection}:
        codes = ", ".join(code.value for code in Rejection)
        raise DomainError(f"a rejection needs one of the codes: {codes}", field="rejection")
    return found.target


def may_link(status: Status | str, link: str) -> bool:
    """Whether ``link`` ("send_again", "dispute") may start from an appeal in ``status``."""
    return LINKS.get(link) == Status(status)


def actions(status: Status | str, actor: Actor | str) -> list[str]:
    """What ``actor`` may do to an appeal in ``status`` (the buttons a page offers)."""
    current, who = Status(status), Actor(actor)
    found = [a for (s, a), m in MOVES.items() if s == current and who in m.actors]
    found += [link for link, source in LINKS.items() if source == current and who is Actor.CITIZEN]
    return sorted(found)
