"""Rule 5: an M3 with no M1 creates the reference and sends M2 then M4; a late M1 changes nothing."""

from tests.interventions.support import interventions, m1, m3, outbound, outcomes


def declare(client, headers, body):
    return client.post("/v1/intervention_DO", json=body, headers=headers).json()


def test_m3_first_creates_the_reference_and_sends_m2_then_m4(client, do_headers, database):
    reply = declare(client, do_headers, m3())
    assert reply["Code_Reponse"] == 0
    [intervention] = interventions(database)
    assert intervention.created_from == "M3" and "m3_before_m1" in intervention.flags
    assert outbound(database) == [("OCBB", "M2"), ("OCBB", "M4"), ("OCCC", "M2"), ("OCCC", "M4")]


def test_late_m1_answers_ok_with_the_same_reference_and_triggers_no_flow(client, do_headers, database):
    ref = declare(client, do_headers, m3())["Ref_Interv_OI"]
    late = declare(client, do_headers, m1(Debut_Inter="2026-11-20T10:20:00+01:00"))
    assert late == {"Code_Reponse": 0, "Libelle_Reponse": "OK", "Ref_Interv_OI": ref}
    assert len(outbound(database)) == 4
    assert outcomes(database) == ["created", "ignored"]


def test_late_m1_does_not_erase_m3_data(client, do_headers, database):
    declare(client, do_headers, m3())
    declare(client, do_headers, m1(Debut_Inter="2026-11-20T10:20:00+01:00", Nature_PBO_PTO=[{"nature": 4}]))
    [intervention] = interventions(database)
    assert intervention.debut.isoformat() == "2026-11-20T09:00:00+00:00"
    assert intervention.fin.isoformat() == "2026-11-20T10:30:00+00:00"
    assert intervention.natures == [{"nature": 1, "PBO": "PT0012345", "PTO": "FI-1234-5678"}]
    assert "m1_after_m3" in intervention.flags


def test_m2_goes_out_only_for_an_ok_m1(client, do_headers, database):
    declare(client, do_headers, m1(PM="FI-00000-0000"))
    assert outbound(database) == []


def test_m4_goes_out_only_for_an_ok_m3(client, do_headers, database):
    declare(client, do_headers, m1())
    declare(client, do_headers, m3(Fin_Inter="2026-11-20T09:00:00+01:00"))
    assert ("OCBB", "M4") not in outbound(database)
