"""The OI's search over interventions: both references, the PM and the PBO/PTO codes worked on.

Every field holds codes (``FI-12345-0001``, ``PT0012345``), so each is indexed as an identifier: the
whole code, its parts and its first characters find it. The rules index an intervention in the
transaction that writes it (``service``); the retention purge forgets those it deletes (``jobs``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.core import search
from tocsin.core.search import Field, SearchIndex
from tocsin.interventions.models import Intervention


def values_of(intervention: Intervention) -> dict[str, Any]:
    """What the index holds of one intervention."""
    natures = intervention.natures or []
    return {
        "ref_oi": intervention.ref_oi,
        "ref_do": intervention.ref_do,
        "pm": intervention.pm,
        "pbo": list(dict.fromkeys(n["PBO"] for n in natures if n.get("PBO"))),
        "pto": list(dict.fromkeys(n["PTO"] for n in natures if n.get("PTO"))),
    }


def documents(db: Session) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """Every intervention, for ``tocsin search rebuild``, read a thousand at a time."""
    for intervention in db.scalars(select(Intervention).execution_options(yield_per=1000)):
        yield intervention.id, values_of(intervention)


INTERVENTIONS = SearchIndex(
    name="interventions",
    language="french",
    fields=(
        Field("ref_oi", weight="A", identifier=True),
        Field("ref_do", weight="A", identifier=True),
        Field("pm", weight="B", identifier=True),
        Field("pbo", weight="C", identifier=True),
        Field("pto", weight="C", identifier=True),
    ),
    key=Intervention.id,
    documents=documents,
)


def index_intervention(db: Session, intervention: Intervention, *, new: bool = False) -> None:
    """Index one intervention in the caller's transaction (flushing first so it has its key); ``new``:
    made in this transaction, so there is no older entry to remove."""
    if intervention.id is None:
        db.flush()
    search.index(db, INTERVENTIONS, key=intervention.id, values=values_of(intervention), new=new)
