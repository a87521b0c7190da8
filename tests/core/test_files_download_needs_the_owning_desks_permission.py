"""Downloading a file: the owning desk says who may read it; anyone else gets the 404 a missing file gets,
a signed-out visitor is sent to sign in; the answer carries the type found in the bytes, nosniff, and an
RFC 6266 Content-Disposition that survives any name."""

from __future__ import annotations

import pytest

from tests.core.vault import OPEN_CASES, READERS, post_file, vault_client
from tests.support import sign_in

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def vault(settings, database, clock, clamd):
    OPEN_CASES.add("case-1")
    READERS["case-1"] = {"anna", "maya"}
    with vault_client(settings, database, clock) as client:
        yield client


def upload(vault, database, name: str, content: bytes = PDF) -> int:
    token = sign_in(vault, database, "anna", ["operator"])
    reply = post_file(vault, token, name, content)
    assert reply.status_code == 200, reply.text
    return reply.json()["id"]


def test_the_owner_and_a_member_download_with_safe_headers(vault, database):
    file_id = upload(vault, database, "Relevé été.txt")
    for persona in ("anna", "maya"):
        sign_in(vault, database, persona, ["viewer"])
        reply = vault.get(f"/files/{file_id}")
        assert reply.status_code == 200 and reply.content == PDF
        assert reply.headers["content-type"] == "application/pdf"
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["content-disposition"] == (
            "attachment; filename=\"Releve ete.txt\"; filename*=UTF-8''Relev%C3%A9%20%C3%A9t%C3%A9.txt"
        )
        assert reply.headers["content-security-policy"] == "default-src 'none'; sandbox"
        assert "no-store" in reply.headers["cache-control"]


def test_an_outsider_gets_the_same_404_as_for_a_missing_file(vault, database):
    file_id = upload(vault, database, "secret.pdf")
    sign_in(vault, database, "otto", ["admin"])
    refused = vault.get(f"/files/{file_id}")
    missing = vault.get(f"/files/{file_id + 1000}")
    assert refused.status_code == missing.status_code == 404
    assert "no such file" in refused.text and refused.text == missing.text
    assert PDF not in refused.content


def test_a_signed_out_visitor_is_sent_to_sign_in(vault, database):
    file_id = upload(vault, database, "secret.pdf")
    vault.cookies.clear()
    reply = vault.get(f"/files/{file_id}", follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"] == f"/login?next=/files/{file_id}"


def test_a_file_whose_kind_no_enabled_desk_declares_is_not_served(vault, database, settings, clock):
    file_id = upload(vault, database, "secret.pdf")
    settings.desks = ["interventions"]
    from fastapi.testclient import TestClient

    from tocsin.app import create_app

    with TestClient(create_app(settings, database=database, clock=clock)) as other:
        sign_in(other, database, "anna", ["admin"])
        assert other.get(f"/files/{file_id}").status_code == 404


@pytest.mark.parametrize("file_id", ["abc", "-1", "99999999999999999999999"])
def test_a_malformed_id_is_refused_not_crashed(vault, database, file_id):
    sign_in(vault, database, "anna", ["viewer"])
    assert vault.get(f"/files/{file_id}").status_code in (400, 404)
