"""Hostile and malformed requests: the documented code, a description naming the field, nothing stored."""

import json

import pytest

from tests.interventions.support import interventions, m1, outbound


def raw(client, headers, content, content_type="application/json"):
    return client.post(
        "/v1/intervention_DO", content=content, headers={**headers, "Content-Type": content_type}
    )


@pytest.mark.parametrize(
    "content", [b"{", b"", b"null", b"[]", b'"M1"', b"\xff\xfe\x00", b"{" * 5000 + b"}" * 5000]
)
def test_unreadable_bodies_answer_mauvais_format(client, do_headers, database, content):
    reply = raw(client, do_headers, content)
    assert reply.status_code == 400
    assert reply.json()["Code_Reponse"] == 2 and reply.json()["Libelle_Reponse"] == "MAUVAIS_FORMAT"
    assert interventions(database) == []


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", ""]
)
def test_wrong_content_type_is_refused_naming_it(client, do_headers, database, content_type):
    reply = raw(client, do_headers, json.dumps(m1()).encode(), content_type)
    assert reply.status_code == 400
    assert "Content-Type" in reply.json()["Description_Reponse"]
    assert interventions(database) == []


def test_body_over_one_megabyte_is_refused(client, do_headers, database):
    body = m1(Nature_PBO_PTO=[{"nature": 1, "PBO": "P" * 90}] * 12000)
    content = json.dumps(body).encode()
    assert len(content) > 1_048_576
    reply = raw(client, do_headers, content)
    assert reply.status_code == 400 and reply.json()["Code_Reponse"] == 2
    assert "corps" in reply.json()["Description_Reponse"]
    assert interventions(database) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("Code_DO", "doxx"),
        ("Code_OI", "oiaa"),
        ("Code_OI", "OIAAA"),
        ("Ref_Interv_DO", "REF 1"),
        ("Ref_Interv_DO", "réf-1"),
        ("Ref_Interv_DO", "R" * 51),
        ("Ref_Interv_DO", "R;DROP TABLE iv_intervention"),
        ("PM", "fi-12345-0001"),
        ("PM", "FI-12345-0001\n"),
        ("Debut_Inter", "2026-11-20T10:00:00"),
        ("Debut_Inter", "20/11/2026 10:00"),
        ("Debut_Inter", 1763629200),
        ("Nature_PBO_PTO", "RACC"),
        ("Nature_PBO_PTO", [{"nature": 5}]),
        ("Nature_PBO_PTO", [{"nature": "1"}]),
        ("Nature_PBO_PTO", [{"nature": True}]),
        ("Nature_PBO_PTO", [{"nature": 1, "PBO": "P" * 101}]),
        ("Nature_PBO_PTO", [{"nature": 1, "PTO": "\x00\x01"}]),
        ("Code_DO", ["DOXX"]),
        ("PM", {"ref": "FI-12345-0001"}),
    ],
)
def test_wrong_type_or_format_answers_2_naming_the_field(client, do_headers, database, field, value):
    reply = client.post("/v1/intervention_DO", json=m1(**{field: value}), headers=do_headers)
    assert reply.status_code == 400, reply.text
    assert reply.json()["Code_Reponse"] == 2
    assert field in reply.json()["Description_Reponse"]
    assert len(reply.json()["Description_Reponse"]) <= 100
    assert interventions(database) == [] and outbound(database) == []


def test_unknown_extra_fields_are_ignored_not_stored(client, do_headers, database):
    reply = client.post("/v1/intervention_DO", json={**m1(), "Code_Secret": "x"}, headers=do_headers)
    assert reply.json()["Code_Reponse"] == 0


def test_get_is_not_allowed(client, do_headers):
    assert client.get("/v1/intervention_DO", headers=do_headers).status_code == 405
