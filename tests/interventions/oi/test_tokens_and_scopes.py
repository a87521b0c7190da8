"""OAuth2 client credentials (RFC 6749 §4.4) and the scopes each operation needs."""

from tests.interventions.support import SECRET, interventions, m1, token_for


def test_token_endpoint_issues_a_bearer_token_with_the_granted_scopes(client):
    reply = client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=("doxx", SECRET))
    assert reply.status_code == 200
    body = reply.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    assert body["scope"] == "write:interventions"
    assert reply.headers["cache-control"] == "no-store"


def test_credentials_in_the_body_are_accepted(client):
    data = {"grant_type": "client_credentials", "client_id": "occc", "client_secret": SECRET}
    assert client.post("/oauth/token", data=data).json()["scope"] == "write:clients"


def test_wrong_secret_is_invalid_client(client):
    reply = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=("doxx", "wrong-secret")
    )
    assert reply.status_code == 401 and reply.json()["error"] == "invalid_client"


def test_other_grant_types_are_refused(client):
    reply = client.post("/oauth/token", data={"grant_type": "password"}, auth=("doxx", SECRET))
    assert reply.status_code == 400 and reply.json()["error"] == "unsupported_grant_type"


def test_a_scope_not_granted_cannot_be_asked_for(client):
    reply = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "write:clients"},
        auth=("doxx", SECRET),
    )
    assert reply.status_code == 400 and reply.json()["error"] == "invalid_scope"


def test_no_token_is_401(client, database):
    reply = client.post("/v1/intervention_DO", json=m1())
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"].startswith("Bearer")
    assert interventions(database) == []


def test_unknown_token_is_401(client, database):
    reply = client.post("/v1/intervention_DO", json=m1(), headers={"Authorization": "Bearer forged"})
    assert reply.status_code == 401


def test_expired_token_is_401(client, clock):
    token = token_for(client, "doxx")
    clock.advance(hours=2)
    reply = client.post("/v1/intervention_DO", json=m1(), headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 401


def test_token_without_the_operation_scope_is_403(client, occc_headers, database):
    reply = client.post("/v1/intervention_DO", json=m1(Code_DO="OCCC"), headers=occc_headers)
    assert reply.status_code == 403
    assert interventions(database) == []


def test_m5_needs_write_clients(client, do_headers):
    body = {"Code_OC_impacte": "DOXX", "Ref_Interv_OI": "X"}
    assert client.post("/v1/client_HS_OC_Par_Inter", json=body, headers=do_headers).status_code == 403


def test_a_partner_cannot_declare_for_another_do(client, ocbb_headers, database):
    reply = client.post("/v1/intervention_DO", json=m1(Code_DO="DOXX"), headers=ocbb_headers)
    assert reply.status_code == 403
    assert interventions(database) == []
