"""Files live outside the database under their SHA-256, in a folder only the server's user can read: the
same content uploaded twice is one file on disk and two rows."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

from sqlalchemy import select

from tests.core.vault import OPEN_CASES, post_file, vault_client
from tests.support import sign_in
from tocsin.core.files import StoredFile


def test_the_same_content_twice_is_one_blob_and_two_rows(settings, database, clock, clamd):
    OPEN_CASES.update({"case-1", "case-2"})
    content = b"cut_at,pm\n2026-11-20T10:05:00+01:00,FI-1\n"
    with vault_client(settings, database, clock) as client:
        token = sign_in(client, database, "anna", ["operator"])
        first = post_file(client, token, "monday.csv", content, case="case-1").json()
        second = post_file(client, token, "copy of monday.csv", content, case="case-2").json()
    assert first["id"] != second["id"]
    digest = hashlib.sha256(content).hexdigest()
    with database.session() as db:
        rows = list(db.scalars(select(StoredFile).order_by(StoredFile.id)))
    assert [(r.sha256, r.name, r.owner_id, r.uploaded_by) for r in rows] == [
        (digest, "monday.csv", "case-1", "anna"),
        (digest, "copy of monday.csv", "case-2", "anna"),
    ]
    folder = Path(settings.files_dir)
    blobs = [p for p in folder.rglob("*") if p.is_file()]
    assert blobs == [folder / "blobs" / digest[:2] / digest]
    assert blobs[0].read_bytes() == content


def test_the_files_folder_is_readable_by_its_owner_only(settings, database, clock, clamd):
    OPEN_CASES.add("case-1")
    with vault_client(settings, database, clock) as client:
        token = sign_in(client, database, "anna", ["operator"])
        assert post_file(client, token, "a.txt", b"hello").status_code == 200
    folder = Path(settings.files_dir)
    for path in [folder, *folder.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"
