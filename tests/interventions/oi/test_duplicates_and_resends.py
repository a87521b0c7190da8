"""Rules 2–4: one OI reference per DO reference; duplicates change nothing; modified re-sends re-forward."""

from tests.interventions.support import interventions, m1, m3, outbound, outbound_payloads, outcomes


def declare(client, headers, body):
    return client.post("/v1/intervention_DO", json=body, headers=headers).json()


def test_duplicate_m1_returns_same_reference_and_triggers_nothing(client, do_headers, database):
    first = declare(client, do_headers, m1())
    second = declare(client, do_headers, m1())
    assert second["Ref_Interv_OI"] == first["Ref_Interv_OI"]
    assert len(interventions(database)) == 1
    assert outbound(database) == [("OCBB", "M2"), ("OCCC", "M2")]
    assert outcomes(database) == ["created", "duplicate"]


def test_duplicate_m3_triggers_nothing(client, do_headers, database):
    declare(client, do_headers, m1())
    declare(client, do_headers, m3())
    declare(client, do_headers, m3())
    assert outbound(database).count(("OCBB", "M4")) == 1
    assert outcomes(database) == ["created", "completed", "duplicate"]


def test_same_do_reference_from_two_dos_makes_two_interventions(client, do_headers, ocbb_headers, database):
    a = declare(client, do_headers, m1("SAME-REF"))
    b = declare(client, ocbb_headers, m1("SAME-REF", Code_DO="OCBB"))
    assert a["Ref_Interv_OI"] != b["Ref_Interv_OI"]
    assert len(interventions(database)) == 2


def test_distinct_do_references_make_distinct_interventions(client, do_headers, database):
    declare(client, do_headers, m1("MORNING"))
    declare(client, do_headers, m1("NEXT-DAY", Debut_Inter="2026-11-21T08:00:00+01:00"))
    assert len({i.ref_oi for i in interventions(database)}) == 2


def test_modified_m1_updates_and_forwards_the_corrected_m2(client, do_headers, database):
    ref = declare(client, do_headers, m1())["Ref_Interv_OI"]
    again = declare(client, do_headers, m1(Debut_Inter="2026-11-20T10:05:00+01:00"))
    assert again["Ref_Interv_OI"] == ref
    [intervention] = interventions(database)
    assert intervention.debut.isoformat() == "2026-11-20T09:05:00+00:00"
    assert "modified" in intervention.flags
    sent = outbound_payloads(database, "OCBB")
    assert [p["Debut_Inter"] for p in sent] == ["2026-11-20T10:00:00+01:00", "2026-11-20T10:05:00+01:00"]
    assert outcomes(database) == ["created", "modified"]


def test_modified_m3_forwards_a_corrected_m4(client, do_headers, database):
    declare(client, do_headers, m1())
    declare(client, do_headers, m3())
    declare(client, do_headers, m3(Fin_Inter="2026-11-20T11:45:00+01:00"))
    m4s = [p for p in outbound_payloads(database, "OCCC") if "Fin_Inter" in p]
    assert [p["Fin_Inter"] for p in m4s] == ["2026-11-20T11:30:00+01:00", "2026-11-20T11:45:00+01:00"]


def test_a_change_invisible_to_ocs_is_not_forwarded_again(client, do_headers, database):
    declare(client, do_headers, m1())
    declare(client, do_headers, m1(Nature_PBO_PTO=[{"nature": 2, "PBO": "PT0012345", "PTO": "FI-1234-5678"}]))
    assert outbound(database) == [("OCBB", "M2"), ("OCCC", "M2")]
    assert outcomes(database) == ["created", "modified"]


def test_moving_to_another_pm_tells_the_ocs_of_the_new_pm(client, do_headers, database):
    declare(client, do_headers, m1(PM="FI-12345-0003"))
    assert outbound(database) == []
    declare(client, do_headers, m1(PM="FI-12345-0002"))
    assert outbound(database) == [("OCCC", "M2")]
