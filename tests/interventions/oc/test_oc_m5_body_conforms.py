"""The M5 we build matches the official OpenAPI request schema client_HS_OC_Par_Inter."""

from __future__ import annotations

import jsonschema
import pytest

from tests.interventions.support import REF, add_cut, add_received, apply_oc_config
from tests.openapi_check import spec
from tocsin.interventions.config import current
from tocsin.interventions.models import ReceivedIntervention
from tocsin.interventions.oc.outages import impacted_customers, m5_body


def official_m5_schema() -> dict:
    document = spec()
    return {
        **document["components"]["schemas"]["client_HS_OC_Par_Inter"],
        "components": document["components"],
    }


@pytest.fixture
def intervention(database, clock):
    apply_oc_config(database, clock())
    return add_received(database)


def body_for(database, received_id):
    with database.session() as db:
        received = db.get(ReceivedIntervention, received_id)
        config = current(db)
        return m5_body(
            received=received, customers=impacted_customers(db=db, received=received), config=config
        )


def test_m5_with_customers_conforms_and_uses_local_time_with_offset(database, intervention):
    add_cut(database, "2026-11-20T09:15:00+00:00", "FI-1234-0001")
    body = body_for(database, intervention)
    jsonschema.validate(body, official_m5_schema(), format_checker=jsonschema.FormatChecker())
    assert body == {
        "Code_OC_impacte": "OCBB",
        "Ref_Interv_OI": REF,
        "Liste_Clients_HS": [
            {
                "PTO": "FI-1234-0001",
                "PBO": "PT0012345",
                "Tube": "T1",
                "Fibre": "F3",
                "Position_PM_Module_OI": "M2-P14",
                "HMS_Coupure": "2026-11-20T10:15:00+01:00",
            }
        ],
    }


def test_m5_without_customers_omits_the_list(database, intervention):
    body = body_for(database, intervention)
    jsonschema.validate(body, official_m5_schema())
    assert body == {"Code_OC_impacte": "OCBB", "Ref_Interv_OI": REF}


def test_the_schema_check_would_catch_a_wrong_body():
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"Ref_Interv_OI": REF}, official_m5_schema())
