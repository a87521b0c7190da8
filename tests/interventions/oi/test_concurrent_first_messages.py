"""Two first messages for one DO reference at the same moment make one intervention, answered alike."""

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.interventions.support import interventions, m1, outbound, token_for


def test_simultaneous_duplicates_share_one_oi_reference(client, live_server, database):
    headers = {"Authorization": f"Bearer {token_for(client, 'doxx')}"}

    def send(_: int) -> dict:
        return httpx.post(
            f"{live_server.base_url}/v1/intervention_DO", json=m1("RACE-1"), headers=headers, timeout=30
        ).json()

    with ThreadPoolExecutor(max_workers=6) as pool:
        replies = list(pool.map(send, range(6)))
    assert {r["Code_Reponse"] for r in replies} == {0}
    assert len({r["Ref_Interv_OI"] for r in replies}) == 1
    assert len(interventions(database)) == 1
    assert outbound(database) == [("OCBB", "M2"), ("OCCC", "M2")]
