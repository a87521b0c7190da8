"""The OC keeps each outage file it receives (CSV page, JSON feed) once clamd has found it clean, imports
it all or nothing, and lists every file on the outage page with what came of it; refused files are listed
with their reason, infected ones are never kept and import nothing; staff who see the page may download
the files, nobody else."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.clamd import EICAR
from tests.interventions.support import GOOD_OUTAGE_CSV, OUTAGE_CSV_HEADER, apply_oc_config
from tests.support import sign_in
from tocsin.core.files import StoredFile
from tocsin.core.scheduler import run_job_now
from tocsin.interventions.models import LineCut, OutageImport

PAGE = "/interventions/oc/outages"


@pytest.fixture
def web(app, database, clock, clamd):
    apply_oc_config(database, clock())
    with TestClient(app) as client:
        yield client


def upload(web, token, name: str, content: bytes, lang: str = "fr"):
    files = {"file": (name, content, "text/csv")}
    return web.post(f"{PAGE}?lang={lang}", data={"csrf": token}, files=files, follow_redirects=False)


def count(database, model) -> int:
    with database.session() as db:
        return db.scalar(select(func.count()).select_from(model)) or 0


def history_rows(html: str) -> list[str]:
    table = html.split('class="import-history"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]
    return [" ".join(spaced(re.sub(r"<[^>]+>", " ", row)).split()) for row in rows]


def spaced(text: str) -> str:
    """Sizes are written with no-break spaces (they never wrap); compare them with plain ones."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def download_links(html: str) -> list[str]:
    return re.findall(r'href="(/files/\d+)"', html)


def test_an_imported_csv_is_kept_and_listed_with_its_counts(web, database):
    token = sign_in(web, database, "olga", ["operator"])
    assert upload(web, token, "coupures lundi.csv", GOOD_OUTAGE_CSV.encode()).status_code == 303
    page = web.get(f"{PAGE}?lang=fr").text
    (row,) = history_rows(page)
    assert "olga" in row and "coupures lundi.csv" in row and "2 importée(s), 0 doublon(s)" in row
    assert "20/11/2026" in row or "2026-11-20" in row
    (link,) = download_links(page)
    download = web.get(link)
    assert download.status_code == 200 and download.content == GOOD_OUTAGE_CSV.encode()
    assert download.headers["content-type"] == "text/csv; charset=utf-8"
    assert download.headers["content-disposition"].startswith('attachment; filename="coupures lundi.csv"')
    with database.session() as db:
        stored = db.scalar(select(StoredFile))
        record = db.scalar(select(OutageImport))
    assert (stored.owner_kind, stored.owner_id) == ("interventions.outage_import", str(record.id))
    assert (record.source, record.size, record.imported, record.duplicates) == (
        "csv",
        len(GOOD_OUTAGE_CSV.encode()),
        2,
        0,
    )


def test_an_infected_csv_imports_nothing_is_not_kept_and_is_listed(web, database):
    token = sign_in(web, database, "olga", ["operator"])
    reply = upload(web, token, "coupures.csv", EICAR)
    assert reply.status_code == 400
    assert "coupures.csv contient un virus (Tocsin-Test-EICAR.UNOFFICIAL)" in reply.text
    assert count(database, LineCut) == 0 and count(database, StoredFile) == 0
    (row,) = history_rows(web.get(PAGE).text)
    assert "Refusé" in row and "contient un virus" in row
    assert download_links(web.get(PAGE).text) == []


def test_a_file_over_5_mb_is_refused_naming_the_limit_and_listed(web, database):
    token = sign_in(web, database, "olga", ["operator"])
    big = (OUTAGE_CSV_HEADER + "2026-11-20T10:05:00+01:00,FI-12345-0001,FI-1,,,,,0\n" * 120_000).encode()
    assert len(big) > 5_000_000
    reply = upload(web, token, "énorme.csv", big, lang="en")
    assert reply.status_code == 413 and "énorme.csv is larger than 5 MB, the limit" in spaced(reply.text)
    (row,) = history_rows(web.get(f"{PAGE}?lang=fr").text)
    assert "énorme.csv" in row and "dépasse la taille maximale de 5 Mo" in row and "—" in row
    assert count(database, LineCut) == 0 and count(database, StoredFile) == 0


def test_a_spreadsheet_saved_as_xlsx_is_refused_as_not_text(web, database):
    token = sign_in(web, database, "olga", ["operator"])
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        main = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
        archive.writestr("[Content_Types].xml", f'<Types><Override ContentType="{main}"/></Types>')
        archive.writestr("xl/workbook.xml", "<workbook/>")
    reply = upload(web, token, "coupures.csv", out.getvalue(), lang="en")
    assert reply.status_code == 415
    assert "coupures.csv is application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" in reply.text


def test_a_csv_with_bad_lines_is_kept_for_reading_and_listed_with_the_first_problem(web, database):
    token = sign_in(web, database, "olga", ["operator"])
    bad = OUTAGE_CSV_HEADER + "demain,FI-12345-0001,FI-1,,,,,0\n" + "demain,FI-12345-0001,FI-2,,,,,0\n"
    assert upload(web, token, "faux.csv", bad.encode()).status_code == 400
    page = web.get(PAGE).text
    (row,) = history_rows(page)
    assert "Ligne 2, champ cut_at" in row and "(et 1 autres problèmes)" in row
    assert len(download_links(page)) == 1
    assert count(database, LineCut) == 0


def test_with_clamd_down_the_upload_is_refused_and_listed(app, settings, database, clock, tmp_path):
    apply_oc_config(database, clock())
    settings.clamd = f"unix://{tmp_path / 'down.sock'}"
    from tocsin.app import create_app

    with TestClient(create_app(settings, database=database, clock=clock)) as web:
        token = sign_in(web, database, "olga", ["operator"])
        reply = upload(web, token, "coupures.csv", GOOD_OUTAGE_CSV.encode())
        assert reply.status_code == 503 and "l’antivirus ne répond pas" in reply.text
        (row,) = history_rows(web.get(PAGE).text)
    assert "coupures.csv n’a pas été enregistré" in row
    assert count(database, LineCut) == 0 and count(database, StoredFile) == 0


def test_the_json_feed_body_is_kept_as_a_file_too(web, database):
    token = sign_in(web, database, "olga", ["operator"])
    cuts = [
        {"cut_at": "2026-11-20T10:05:00+01:00", "pm": "FI-12345-0001", "pto": "FI-1", "dying_gasp": False}
    ]
    reply = web.post("/api/interventions/outages", json=cuts, headers={"X-CSRF-Token": token})
    assert reply.status_code == 200 and reply.json() == {"imported": 1, "duplicates": 0}
    page = web.get(f"{PAGE}?lang=en").text
    (row,) = history_rows(page)
    assert (
        "outages-20261120T090000Z.json" in row and "JSON feed" in row and "1 imported, 0 duplicate(s)" in row
    )
    (link,) = download_links(page)
    assert web.get(link).headers["content-type"] == "application/json; charset=utf-8"


def test_an_infected_json_feed_is_refused_and_imports_nothing(web, database):
    token = sign_in(web, database, "olga", ["operator"])
    reply = web.post("/api/interventions/outages", content=EICAR, headers={"X-CSRF-Token": token})
    assert reply.status_code == 400 and "contains a virus" in reply.json()["reason"]
    assert count(database, LineCut) == 0 and count(database, StoredFile) == 0
    assert count(database, OutageImport) == 1


def test_a_viewer_downloads_a_technician_gets_404_a_visitor_signs_in(web, database):
    token = sign_in(web, database, "olga", ["operator"])
    upload(web, token, "coupures.csv", GOOD_OUTAGE_CSV.encode())
    (link,) = download_links(web.get(PAGE).text)
    sign_in(web, database, "victor", ["viewer"])
    assert web.get(link).status_code == 200
    sign_in(web, database, "tom", ["technician"])
    assert web.get(link).status_code == 404
    web.cookies.clear()
    reply = web.get(link, follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"].startswith("/login?next=/files/")


def test_the_desk_retention_removes_old_imports_and_the_core_then_their_files(web, database, settings, clock):
    from tocsin.core.housekeeping import jobs as core_jobs
    from tocsin.interventions.jobs import purge_expired
    from tocsin.interventions.oc.imports import OUTAGE_FILES

    token = sign_in(web, database, "olga", ["operator"])
    upload(web, token, "coupures.csv", GOOD_OUTAGE_CSV.encode())
    clock.advance(days=400)
    with database.session() as db:
        assert "outage_imports 1" in purge_expired(db=db, now=clock())
    (job,) = core_jobs(settings, file_kinds={OUTAGE_FILES.name: OUTAGE_FILES})
    run_job_now(database, job, now=clock())
    assert count(database, StoredFile) == 0
