"""M5 at the OI: unknown reference, empty list, HS criteria, `inconnu`, out-of-window and late flags."""

from sqlalchemy import select

from tests.interventions.support import m3, token_for
from tocsin.interventions.models import ImpactReport


def ended_intervention(client, do_headers):
    return client.post("/v1/intervention_DO", json=m3(), headers=do_headers).json()["Ref_Interv_OI"]


def client_hs(**changes):
    entry = {
        "PTO": "FI-9999-0001",
        "PBO": "PT0012345",
        "Tube": "3",
        "Fibre": "7",
        "Position_PM_Module_OI": "M2-P14",
        "HMS_Coupure": "2026-11-20T10:15:00+01:00",
    }
    entry.update(changes)
    return entry


def send_m5(client, headers, ref, code="OCCC", entries=None):
    body = {"Code_OC_impacte": code, "Ref_Interv_OI": ref}
    if entries is not None:
        body["Liste_Clients_HS"] = entries
    return client.post("/v1/client_HS_OC_Par_Inter", json=body, headers=headers)


def report(database):
    with database.session() as db:
        return db.scalar(select(ImpactReport))


def test_unknown_reference_answers_3(client, occc_headers):
    reply = send_m5(client, occc_headers, "OIAA-20261120-NOPE")
    assert reply.status_code == 404
    assert reply.json()["Code_Reponse"] == 3 and reply.json()["Libelle_Reponse"] == "REF_INTERV_OI_INCONNUE"


def test_m5_without_a_list_means_no_customer_impacted(client, do_headers, occc_headers, database):
    ref = ended_intervention(client, do_headers)
    reply = send_m5(client, occc_headers, ref)
    assert reply.json() == {"Code_Reponse": 0, "Libelle_Reponse": "OK"}
    assert report(database).impacts == []


def test_a_cut_inside_the_window_counts(client, do_headers, occc_headers, database):
    ref = ended_intervention(client, do_headers)
    send_m5(client, occc_headers, ref, entries=[client_hs()])
    [impact] = report(database).impacts
    assert impact.counted and impact.flags == []


def test_a_cut_outside_the_window_is_stored_but_flagged(client, do_headers, occc_headers, database):
    ref = ended_intervention(client, do_headers)
    send_m5(client, occc_headers, ref, entries=[client_hs(HMS_Coupure="2026-11-20T12:00:00+01:00")])
    [impact] = report(database).impacts
    assert not impact.counted and impact.flags == ["out_of_window"]


def test_the_customer_the_do_worked_on_does_not_count(client, do_headers, occc_headers, database):
    ref = ended_intervention(client, do_headers)
    send_m5(client, occc_headers, ref, entries=[client_hs(PTO="FI-1234-5678")])
    assert report(database).impacts[0].flags == ["worked_on_by_do"]


def test_inconnu_values_are_accepted_and_an_unknown_pto_does_not_count(
    client, do_headers, occc_headers, database
):
    ref = ended_intervention(client, do_headers)
    entry = client_hs(
        PTO="inconnu", PBO="inconnu", Tube="inconnu", Fibre="inconnu", Position_PM_Module_OI="inconnu"
    )
    assert send_m5(client, occc_headers, ref, entries=[entry]).json()["Code_Reponse"] == 0
    assert report(database).impacts[0].flags == ["pto_unknown"]


def test_m5_after_midnight_is_stored_and_flagged(client, do_headers, database, clock):
    ref = ended_intervention(client, do_headers)
    clock.advance(hours=15)  # 2026-11-21 01:00 Paris
    occc_headers = {"Authorization": f"Bearer {token_for(client, 'occc')}"}
    send_m5(client, occc_headers, ref, entries=[client_hs()])
    assert "after_midnight" in report(database).flags


def test_oc_not_present_at_the_pm_is_flagged(client, do_headers, occc_headers, database):
    ref = client.post("/v1/intervention_DO", json=m3(PM="FI-12345-0003"), headers=do_headers).json()[
        "Ref_Interv_OI"
    ]
    send_m5(client, occc_headers, ref)
    assert report(database).flags == ["oc_not_present_at_pm"]


def test_a_resent_m5_replaces_the_previous_list(client, do_headers, occc_headers, database):
    ref = ended_intervention(client, do_headers)
    send_m5(client, occc_headers, ref, entries=[client_hs(), client_hs(PTO="FI-9999-0002")])
    send_m5(client, occc_headers, ref, entries=[client_hs(PTO="FI-9999-0003")])
    assert [i.pto for i in report(database).impacts] == ["FI-9999-0003"]


def test_missing_field_in_an_entry_answers_1_naming_it(client, do_headers, occc_headers, database):
    ref = ended_intervention(client, do_headers)
    entry = client_hs()
    del entry["HMS_Coupure"]
    reply = send_m5(client, occc_headers, ref, entries=[entry])
    assert reply.status_code == 400 and reply.json()["Code_Reponse"] == 1
    assert "Liste_Clients_HS[0].HMS_Coupure" in reply.json()["Description_Reponse"]
    assert report(database) is None


def test_an_oc_cannot_report_for_another_oc(client, do_headers, occc_headers, database):
    ref = ended_intervention(client, do_headers)
    assert send_m5(client, occc_headers, ref, code="OCBB").status_code == 403
    assert report(database) is None
