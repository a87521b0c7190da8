"""Rules 7 and 8: planned nature at M1, real one at M3; several triplets in one declaration."""

from tests.interventions.support import interventions, m1, m3, outbound_payloads


def declare(client, headers, body):
    return client.post("/v1/intervention_DO", json=body, headers=headers).json()


def test_racc_at_m1_becomes_aucune_action_at_m3(client, do_headers, database):
    declare(client, do_headers, m1())
    declare(client, do_headers, m3(Nature_PBO_PTO=[{"nature": 3, "PBO": "PT0012345", "PTO": "FI-1234-5678"}]))
    [intervention] = interventions(database)
    assert intervention.natures[0]["nature"] == 3


def test_non_fournie_is_allowed_at_m1(client, do_headers):
    assert declare(client, do_headers, m1(Nature_PBO_PTO=[{"nature": 4}]))["Code_Reponse"] == 0


def test_grouped_triplets_forward_every_pbo_once(client, do_headers, database):
    natures = [
        {"nature": 1, "PBO": "PT0000001", "PTO": "FI-0000-0001"},
        {"nature": 2, "PBO": "PT0000002", "PTO": "FI-0000-0002"},
        {"nature": 2, "PBO": "PT0000002", "PTO": "FI-0000-0003"},
        {"nature": 4},
    ]
    declare(client, do_headers, m1(Nature_PBO_PTO=natures))
    [m2] = outbound_payloads(database, "OCBB")
    assert m2["PBO"] == [{"PBO": "PT0000001"}, {"PBO": "PT0000002"}]


def test_no_pbo_given_means_no_pbo_forwarded(client, do_headers, database):
    declare(client, do_headers, m1(Nature_PBO_PTO=[{"nature": 4}]))
    [m2] = outbound_payloads(database, "OCBB")
    assert "PBO" not in m2
