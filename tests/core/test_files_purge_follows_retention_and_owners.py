"""The core's housekeeping deletes files past their kind's retention and files whose owner is gone, from
the database and from the disk; a blob another row still names stays, and so does anything an upload
under way may still claim."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from tests.core.vault import CASE_FILES, OPEN_CASES, RETENTION, post_file, vault_client
from tests.support import sign_in
from tocsin.core.files import StoredFile
from tocsin.core.housekeeping import jobs
from tocsin.core.scheduler import run_job_now


def blob(settings, content: bytes) -> Path:
    digest = hashlib.sha256(content).hexdigest()
    return Path(settings.files_dir) / "blobs" / digest[:2] / digest


def age_every_file(settings, seconds: float) -> None:
    """The disk's clock runs apart from the test clock: make every file as old as the rows say."""
    then = time.time() - seconds
    for path in Path(settings.files_dir).rglob("*"):
        if path.is_file():
            os.utime(path, (then, then))


def names_kept(database) -> list[str]:
    with database.session() as db:
        return sorted(db.scalars(select(StoredFile.name)))


def test_expired_and_orphaned_files_go_and_the_rest_stays(settings, database, clock, clamd):
    OPEN_CASES.update({"case-1", "case-2"})
    with vault_client(settings, database, clock) as client:
        token = sign_in(client, database, "anna", ["operator"])
        post_file(client, token, "old.txt", b"old content")
        post_file(client, token, "old-shared.txt", b"shared content")
        clock.advance(days=RETENTION.days + 1)
        token = sign_in(client, database, "anna", ["operator"])
        post_file(client, token, "fresh.txt", b"fresh content")
        post_file(client, token, "fresh-shared.txt", b"shared content")
        post_file(client, token, "closed-case.txt", b"closed content", case="case-2")
        OPEN_CASES.discard("case-2")  # the desk deleted the case: its files have no owner any more
        age_every_file(settings, seconds=2 * 86400)

        (job,) = jobs(settings, file_kinds={CASE_FILES.name: CASE_FILES})
        summary = run_job_now(database, job, now=clock())

    assert "files expired 2, files orphaned 1, files blobs 2" in summary
    assert names_kept(database) == ["fresh-shared.txt", "fresh.txt"]
    assert not blob(settings, b"old content").exists()
    assert not blob(settings, b"closed content").exists()
    assert blob(settings, b"shared content").exists() and blob(settings, b"fresh content").exists()


def test_a_blob_no_row_names_goes_only_after_the_grace_period(settings, database, clock):
    stray, fresh_stray = blob(settings, b"stray"), blob(settings, b"being uploaded")
    incoming = Path(settings.files_dir) / "incoming" / "upload-abandoned"
    for path in (stray, incoming):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    age_every_file(settings, seconds=2 * 3600)
    fresh_stray.parent.mkdir(parents=True, exist_ok=True)
    fresh_stray.write_bytes(b"being uploaded")

    (job,) = jobs(settings, file_kinds={CASE_FILES.name: CASE_FILES})
    summary = run_job_now(database, job, now=clock())

    assert "files blobs 2" in summary
    assert not stray.exists() and not incoming.exists() and fresh_stray.exists()


def test_files_of_a_kind_no_enabled_desk_declares_are_left_alone(settings, database, clock, clamd):
    OPEN_CASES.add("case-1")
    with vault_client(settings, database, clock) as client:
        token = sign_in(client, database, "anna", ["operator"])
        post_file(client, token, "kept.txt", b"kept")
    clock.advance(days=365)
    age_every_file(settings, seconds=365 * 86400)
    (job,) = jobs(settings)
    run_job_now(database, job, now=clock())
    assert names_kept(database) == ["kept.txt"] and blob(settings, b"kept").exists()


def test_a_reupload_refreshes_a_blob_the_sweep_would_otherwise_take(settings, database, clock, clamd):
    OPEN_CASES.add("case-1")
    with vault_client(settings, database, clock) as client:
        token = sign_in(client, database, "anna", ["operator"])
        post_file(client, token, "first.txt", b"same bytes")
        age_every_file(settings, seconds=2 * 3600)
        post_file(client, token, "second.txt", b"same bytes")
    assert time.time() - blob(settings, b"same bytes").stat().st_mtime < timedelta(minutes=5).total_seconds()
