"""Pages speak the user's language (French first) and errors are pages or JSON, never a bare 500."""

from fastapi.testclient import TestClient


def test_french_is_the_default(app):
    with TestClient(app) as client:
        page = client.get("/login")
    assert '<html lang="fr">' in page.text and "Se connecter" in page.text


def test_accept_language_english(app):
    with TestClient(app) as client:
        page = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in page.text and "Sign in" in page.text


def test_the_language_switch_is_remembered(app):
    with TestClient(app) as client:
        client.get("/login?lang=en")
        assert '<html lang="en">' in client.get("/login").text


def test_an_unknown_language_falls_back_to_french(app):
    with TestClient(app) as client:
        assert '<html lang="fr">' in client.get("/login?lang=xx").text


def test_a_missing_page_is_a_translated_404_page(app):
    with TestClient(app) as client:
        reply = client.get("/no/such/page?lang=fr")
    assert reply.status_code == 404 and "Erreur 404" in reply.text


def test_a_missing_api_path_is_json(app):
    with TestClient(app) as client:
        reply = client.get("/api/nothing")
    assert reply.status_code == 404 and reply.json()["reason"]


def test_a_protected_page_sends_to_sign_in(app):
    with TestClient(app) as client:
        reply = client.get("/interventions/oi", follow_redirects=False)
    assert reply.status_code in (303, 404)


def test_health_and_ping(app):
    with TestClient(app) as client:
        assert client.get("/ping").json() == {"status": "ok"}
        assert client.get("/healthz").json()["status"] == "ok"


def test_a_path_value_of_the_wrong_type_is_a_400_naming_it(app, database):
    from fastapi.testclient import TestClient

    from tests.support import sign_in

    with TestClient(app) as client:
        sign_in(client, database, "marie", ["operator"])
        page = client.get("/interventions/oc/received/abc?lang=en")
    assert page.status_code == 400
    assert "received_id" in page.text and "This value has the wrong form." in page.text
