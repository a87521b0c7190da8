"""Rule 1: missing → 1, bad format → 2, Code_OI not ours → 3, PM unknown → 4; a KO is never stored."""

import pytest

from tests.interventions.support import count, interventions, m1, m3, outbound, rejections
from tocsin.interventions.models import InboundMessage


def post(client, headers, body):
    return client.post("/v1/intervention_DO", json=body, headers=headers)


@pytest.mark.parametrize(
    "field", ["Code_DO", "Code_OI", "Ref_Interv_DO", "PM", "Nature_PBO_PTO", "Debut_Inter"]
)
def test_missing_mandatory_field_answers_1_naming_it(client, do_headers, database, field):
    body = m1(**{field: None})
    reply = post(client, do_headers, body)
    assert reply.status_code == 400
    assert reply.json()["Code_Reponse"] == 1
    assert reply.json()["Libelle_Reponse"] == "CHAMPS_NON_RENSEIGNE"
    assert field in reply.json()["Description_Reponse"]
    assert interventions(database) == [] and outbound(database) == []


def test_missing_nature_inside_a_triplet_answers_1(client, do_headers):
    reply = post(client, do_headers, m1(Nature_PBO_PTO=[{"PBO": "PT1"}]))
    assert reply.json()["Code_Reponse"] == 1
    assert "Nature_PBO_PTO[0].nature" in reply.json()["Description_Reponse"]


def test_missing_field_wins_over_bad_format(client, do_headers):
    reply = post(client, do_headers, m1(PM=None, Code_OI="oiaa"))
    assert reply.json()["Code_Reponse"] == 1


def test_bad_format_wins_over_unknown_oi_code(client, do_headers):
    reply = post(client, do_headers, m1(Code_OI="ZZZZ", Debut_Inter="yesterday"))
    assert reply.json()["Code_Reponse"] == 2


def test_unknown_oi_code_wins_over_unknown_pm(client, do_headers):
    reply = post(client, do_headers, m1(Code_OI="ZZZZ", PM="FI-99999-9999"))
    assert reply.status_code == 404
    assert reply.json() == {
        "Code_Reponse": 3,
        "Libelle_Reponse": "CODE_OI_INCONNU",
        "Description_Reponse": "Code_OI inconnu : ZZZZ",
    }


def test_unknown_pm_answers_4(client, do_headers, database):
    reply = post(client, do_headers, m1(PM="FI-99999-9999"))
    assert reply.status_code == 404
    assert reply.json()["Code_Reponse"] == 4 and reply.json()["Libelle_Reponse"] == "PM_INCONNU"
    assert "FI-99999-9999" in reply.json()["Description_Reponse"]
    assert interventions(database) == []


def test_ko_is_logged_for_support_but_not_stored_as_a_message(client, do_headers, database):
    post(client, do_headers, m1(PM="FI-99999-9999"))
    assert count(database, InboundMessage) == 0
    [logged] = rejections(database)
    assert (logged.code, logged.sender, logged.http_status) == (4, "DOXX", 404)


def test_corrected_resend_after_ko_is_not_a_duplicate(client, do_headers, database):
    assert post(client, do_headers, m1(PM="FI-99999-9999")).json()["Code_Reponse"] == 4
    reply = post(client, do_headers, m1())
    assert reply.json()["Code_Reponse"] == 0
    assert len(interventions(database)) == 1
    assert outbound(database) == [("OCBB", "M2"), ("OCCC", "M2")]


def test_m3_ending_before_it_starts_answers_2(client, do_headers, database):
    reply = post(client, do_headers, m3(Fin_Inter="2026-11-20T09:59:59+01:00"))
    assert reply.json()["Code_Reponse"] == 2
    assert "Fin_Inter" in reply.json()["Description_Reponse"]
    assert interventions(database) == []


def test_aucune_action_is_refused_in_m1(client, do_headers, database):
    reply = post(client, do_headers, m1(Nature_PBO_PTO=[{"nature": 3}]))
    assert reply.json()["Code_Reponse"] == 2
    assert "Nature_PBO_PTO[0].nature" in reply.json()["Description_Reponse"]
    assert interventions(database) == []


def test_aucune_action_is_accepted_in_m3(client, do_headers):
    assert (
        post(client, do_headers, m3(Nature_PBO_PTO=[{"nature": 3, "PBO": "PT0012345"}])).json()[
            "Code_Reponse"
        ]
        == 0
    )
