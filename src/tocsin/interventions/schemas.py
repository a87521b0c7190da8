"""Wire shapes of E-Intervention lot 1, field names exactly as in the official OpenAPI.

Protocol names (``Ref_Interv_DO``…) live only here; the rest of the desk speaks snake_case.
Parsing follows rule 1 of the spec: a missing mandatory field answers 1 (CHAMPS_NON_RENSEIGNE)
before any bad format answers 2 (MAUVAIS_FORMAT); the description names the fields at fault.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    ValidationError,
    ValidationInfo,
)
from pydantic_core import PydanticCustomError

from tocsin.core import dates
from tocsin.core.errors import DomainError

OperatorCode = Annotated[str, StringConstraints(pattern=r"^[0-9A-Z]{4}$")]
Reference = Annotated[str, StringConstraints(pattern=r"^[0-9A-Z_-]{1,50}$")]
Printable = r"^[^\x00-\x1f\x7f]*$"
Pbo = Annotated[str, StringConstraints(max_length=100, pattern=Printable)]
Pto = Annotated[str, StringConstraints(max_length=50, pattern=Printable)]
Short = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=Printable)]
Long = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=Printable)]
INSTANT_ERROR = "rfc3339_instant"


def _instant(value: Any, info: ValidationInfo) -> datetime:
    try:
        return dates.instant(value, field=info.field_name or "date")
    except DomainError as error:
        raise PydanticCustomError(INSTANT_ERROR, "{reason}", {"reason": error.reason}) from None


Instant = Annotated[datetime, BeforeValidator(_instant)]
"""A ``date-time`` of the OpenAPI read by the core's strict rule: RFC 3339 with an offset, years
2000 to 2099 (no bare numbers, no other ISO 8601 shapes); held in UTC."""


class Nature(IntEnum):
    RACC = 1
    SAV = 2
    AUCUNE_ACTION = 3
    NON_FOURNIE = 4


class Wire(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class NaturePboPto(Wire):
    nature: Annotated[StrictInt, Field(ge=1, le=4)]
    PBO: Pbo | None = None
    PTO: Pto | None = None


class InterventionDO(Wire):
    """M1 (no Fin_Inter) and M3 (with Fin_Inter), DO → OI."""

    Code_DO: OperatorCode
    Code_OI: OperatorCode
    Ref_Interv_DO: Reference
    PM: Reference
    Nature_PBO_PTO: list[NaturePboPto] = Field(min_length=1, max_length=1000)
    Debut_Inter: Instant
    Fin_Inter: Instant | None = None


class PboItem(Wire):
    PBO: Pbo | None = None


class InterventionOI(Wire):
    """M2 (no Fin_Inter) and M4 (with Fin_Inter), OI → OC."""

    Code_OI: OperatorCode
    Ref_Interv_OI: Reference
    PM: Reference
    PBO: list[PboItem] | None = Field(default=None, max_length=1000)
    Debut_Inter: Instant
    Fin_Inter: Instant | None = None


class ClientHS(Wire):
    PTO: Short
    PBO: Long
    Tube: Short
    Fibre: Short
    Position_PM_Module_OI: Long
    HMS_Coupure: Instant


class ClientsHS(Wire):
    """M5, OC → OI: impacted customers (an absent list means none impacted)."""

    Code_OC_impacte: OperatorCode
    Ref_Interv_OI: Reference
    Liste_Clients_HS: list[ClientHS] | None = Field(default=None, max_length=100_000)


REQUIRED: dict[type[Wire], tuple[str, ...]] = {
    InterventionDO: ("Code_DO", "Code_OI", "Ref_Interv_DO", "PM", "Nature_PBO_PTO", "Debut_Inter"),
    InterventionOI: ("Code_OI", "Ref_Interv_OI", "PM", "Debut_Inter"),
    ClientsHS: ("Code_OC_impacte", "Ref_Interv_OI"),
}
ITEM_REQUIRED = {
    "Nature_PBO_PTO": ("nature",),
    "Liste_Clients_HS": ("PTO", "PBO", "Tube", "Fibre", "Position_PM_Module_OI", "HMS_Coupure"),
}

LABELS = {
    0: "OK",
    1: "CHAMPS_NON_RENSEIGNE",
    2: "MAUVAIS_FORMAT",
}
DO_LABELS = {**LABELS, 3: "CODE_OI_INCONNU", 4: "PM_INCONNU"}
OI_LABELS = DO_LABELS  # R M2/R M4: the OpenAPI's enum (3 CODE_OI_INCONNU, 4 PM_INCONNU)
M5_LABELS = {**LABELS, 3: "REF_INTERV_OI_INCONNUE"}
HTTP_FOR_CODE = {0: 200, 1: 400, 2: 400, 3: 404, 4: 404}


class ProtocolError(Exception):
    """A KO answer: Code_Reponse (1–4) and a Description_Reponse naming the fields."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code, self.description = code, description[:100]

    @property
    def http_status(self) -> int:
        return HTTP_FOR_CODE[self.code]


W = TypeVar("W", bound=Wire)


def parse(model: type[W], body: bytes) -> W:
    """Parse a request body into ``model`` or raise ProtocolError with code 1 or 2."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise ProtocolError(2, "Mauvais format : corps JSON illisible") from None
    if not isinstance(data, dict):
        raise ProtocolError(2, "Mauvais format : le corps doit être un objet JSON") from None
    missing = missing_fields(model, data)
    if missing:
        raise ProtocolError(1, "Champ(s) non renseigné(s) : " + ", ".join(missing))
    try:
        return model.model_validate_json(body, strict=True)
    except ValidationError as error:
        raise ProtocolError(2, "Mauvais format : " + ", ".join(_bad_fields(error))) from None


def missing_fields(model: type[Wire], data: dict[str, Any]) -> list[str]:
    """Mandatory fields absent, null or empty, including inside list items."""
    missing = [name for name in REQUIRED[model] if _blank(data.get(name))]
    for list_name, keys in ITEM_REQUIRED.items():
        items = data.get(list_name)
        if list_name in model.model_fields and isinstance(items, list):
            for index, item in enumerate(items):
                if isinstance(item, dict):
                    missing += [f"{list_name}[{index}].{k}" for k in keys if _blank(item.get(k))]
    return missing


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == []


def _bad_fields(error: ValidationError) -> list[str]:
    fields: list[str] = []
    for item in error.errors():
        path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in item["loc"]).lstrip(
            "."
        )
        reason = _reason(item["type"])
        text = f"{path} ({reason})" if reason else path
        if text not in fields:
            fields.append(text)
    return fields


def _reason(kind: str) -> str:
    if kind == INSTANT_ERROR:
        return f"date RFC 3339 avec fuseau, années {dates.MIN_YEAR} à {dates.MAX_YEAR}"
    if kind == "string_pattern_mismatch":
        return "caractères"
    if kind in ("string_too_long", "too_long"):
        return "trop long"
    if kind in ("greater_than_equal", "less_than_equal"):
        return "valeur hors liste"
    if kind.endswith("_type"):
        return "type"
    return ""


@dataclass(frozen=True)
class Reply:
    """An R Mx answer: code, label and, when OK, the OI reference."""

    code: int
    labels: dict[int, str]
    description: str | None = None
    ref_oi: str | None = None

    @property
    def http_status(self) -> int:
        return HTTP_FOR_CODE[self.code]

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"Code_Reponse": self.code, "Libelle_Reponse": self.labels[self.code]}
        if self.ref_oi is not None:
            body["Ref_Interv_OI"] = self.ref_oi
        if self.description:
            body["Description_Reponse"] = self.description[:100]
        return body


def format_instant(value: datetime, zone: Any) -> str:
    """RFC 3339 with the offset of ``zone`` (local time at the edge), to the second."""
    return value.astimezone(zone).isoformat(timespec="seconds")
