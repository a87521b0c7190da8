"""A configuration loaded while the server runs applies to the next message (the referential is cached)."""

from tests.interventions.support import OI_CONFIG, m1, outbound
from tocsin.interventions.config import apply_config, parse_config


def test_a_new_pm_and_its_ocs_are_known_right_after_a_reload(client, do_headers, database, clock):
    assert (
        client.post("/v1/intervention_DO", json=m1("A", PM="FI-77777-0001"), headers=do_headers).status_code
        == 404
    )
    bigger = {**OI_CONFIG, "pms": [*OI_CONFIG["pms"], {"ref": "FI-77777-0001", "ocs": ["OCBB"]}]}
    with database.session() as db:
        apply_config(db, parse_config(bigger), now=clock())
    reply = client.post("/v1/intervention_DO", json=m1("B", PM="FI-77777-0001"), headers=do_headers)
    assert reply.json()["Code_Reponse"] == 0
    assert outbound(database) == [("OCBB", "M2")]


def test_a_removed_pm_is_unknown_right_after_a_reload(client, do_headers, database, clock):
    assert client.post("/v1/intervention_DO", json=m1("A"), headers=do_headers).json()["Code_Reponse"] == 0
    with database.session() as db:
        apply_config(
            db, parse_config({**OI_CONFIG, "pms": [{"ref": "FI-12345-0002", "ocs": ["OCCC"]}]}), now=clock()
        )
    assert client.post("/v1/intervention_DO", json=m1("B"), headers=do_headers).json()["Code_Reponse"] == 4
