"""Every file passes clamd (INSTREAM) before anything keeps it: the EICAR test file is refused naming
the file and the signature, a clean file passes, and with clamd unreachable nothing is kept (fail closed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.clamd import EICAR, SIGNATURE
from tests.core.vault import OPEN_CASES, post_file, vault_client
from tests.support import free_port, sign_in
from tocsin.core.files import Clamd, ScannerUnavailable, StoredFile


def kept(database) -> int:
    with database.session() as db:
        return db.scalar(select(func.count()).select_from(StoredFile)) or 0


def files_on_disk(settings) -> list[Path]:
    return [p for p in Path(settings.files_dir).rglob("*") if p.is_file()]


@pytest.fixture
def vault(settings, database, clock, clamd):
    OPEN_CASES.add("case-1")
    with vault_client(settings, database, clock) as client:
        yield client


def test_the_eicar_test_file_is_refused_naming_the_file_and_the_signature(vault, database, settings):
    token = sign_in(vault, database, "anna", ["operator"])
    reply = post_file(vault, token, "invoice.pdf", EICAR)
    assert reply.status_code == 400
    assert reply.json() == {
        "field": "file",
        "reason": f"invoice.pdf contains a virus ({SIGNATURE}.UNOFFICIAL) and was not stored",
    }
    assert kept(database) == 0 and files_on_disk(settings) == []


def test_eicar_in_a_raw_body_is_refused_too(vault, database, settings):
    token = sign_in(vault, database, "anna", ["operator"])
    reply = vault.post(
        "/api/vault/cases/case-1/raw",
        params={"name": "feed.json"},
        content=EICAR,
        headers={"X-CSRF-Token": token},
    )
    assert reply.status_code == 400 and "feed.json contains a virus" in reply.json()["reason"]
    assert kept(database) == 0 and files_on_disk(settings) == []


def test_a_clean_file_passes_and_records_what_scanned_it(vault, database):
    token = sign_in(vault, database, "anna", ["operator"])
    reply = post_file(vault, token, "notes.txt", b"nothing to see here\n")
    assert reply.status_code == 200, reply.text
    with database.session() as db:
        stored = db.scalar(select(StoredFile))
    assert stored.scanned_by.startswith("ClamAV 1.")
    assert stored.content_type == "text/plain; charset=utf-8"


def test_with_clamd_unreachable_the_upload_is_refused_and_nothing_is_kept(
    settings, database, clock, tmp_path
):
    OPEN_CASES.add("case-1")
    settings.clamd = f"unix://{tmp_path / 'nobody-listens.sock'}"
    with vault_client(settings, database, clock) as client:
        token = sign_in(client, database, "anna", ["operator"])
        reply = post_file(client, token, "notes.txt", b"nothing to see here\n")
    assert reply.status_code == 503
    assert reply.json()["reason"] == (
        "notes.txt was not stored: the virus scanner is not answering. Try again in a few minutes."
    )
    assert kept(database) == 0 and files_on_disk(settings) == []


def test_a_tcp_port_where_nothing_listens_is_no_verdict(tmp_path):
    scanner = Clamd(f"tcp://127.0.0.1:{free_port()}", timeout=2)
    sample = tmp_path / "sample.txt"
    sample.write_bytes(b"hello")
    assert scanner.ping() is False
    with pytest.raises(ScannerUnavailable, match="cannot reach clamd"):
        scanner.scan(sample)


def test_clamd_answers_ping_and_its_version(clamd):
    scanner = Clamd(clamd.address)
    assert scanner.ping() is True
    assert scanner.version().startswith("ClamAV ")
