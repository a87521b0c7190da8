"""The OC's E-Intervention endpoint (flow 2), as the official OpenAPI lays it out."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from tocsin.core.auth import Caller
from tocsin.core.web import require_scope
from tocsin.interventions.oc import service
from tocsin.interventions.protocol import V1, answer
from tocsin.interventions.schemas import OI_LABELS, InterventionOI

router = APIRouter(prefix=V1, tags=["E-Intervention"])


@router.post("/intervention_OI", summary="Flux 2 – M2/M4, OI → OC")
async def declare_intervention_oi(
    request: Request, caller: Caller = Depends(require_scope("write:interventions"))
) -> JSONResponse:
    """OC receives a start (M2) or end (M4) from an OI."""
    return await answer(
        request,
        caller,
        model=InterventionOI,
        labels=OI_LABELS,
        sender_field="Code_OI",
        handler=service.receive_announcement,
    )
