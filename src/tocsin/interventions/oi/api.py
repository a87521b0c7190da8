"""The OI's E-Intervention endpoints (flows 1 and 3), as the official OpenAPI lays them out."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from tocsin.core.auth import Caller
from tocsin.core.web import require_scope
from tocsin.interventions.oi import service
from tocsin.interventions.protocol import V1, answer
from tocsin.interventions.schemas import DO_LABELS, M5_LABELS, ClientsHS, InterventionDO

router = APIRouter(prefix=V1, tags=["E-Intervention"])


@router.post("/intervention_DO", summary="Flux 1 – M1/M3, DO → OI")
async def declare_intervention_do(
    request: Request, caller: Caller = Depends(require_scope("write:interventions"))
) -> JSONResponse:
    """OI receives a start (M1) or end (M3) from a DO."""
    return await answer(
        request,
        caller,
        model=InterventionDO,
        labels=DO_LABELS,
        sender_field="Code_DO",
        handler=service.receive_declaration,
    )


@router.post("/client_HS_OC_Par_Inter", summary="Flux 3 – M5, OC → OI")
async def notify_clients_hs(
    request: Request, caller: Caller = Depends(require_scope("write:clients"))
) -> JSONResponse:
    """OI receives the impacted customers (M5) of an OC."""
    return await answer(
        request,
        caller,
        model=ClientsHS,
        labels=M5_LABELS,
        sender_field="Code_OC_impacte",
        handler=service.receive_impacts,
    )
