"""A file's name is only shown and sent back in Content-Disposition, never used as a path: a path is cut
to its last part, control, bidirectional and reserved characters go, and the header stays one clean line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.core.vault import OPEN_CASES, READERS, vault_client
from tests.support import sign_in
from tocsin.core.files import content_disposition, display_name

HEADER_VALUE = re.compile(r"^[\x20-\x7e]+$")  # visible ASCII and spaces only: no CR, LF, NUL


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("/", "unnamed"),
        ("..", "unnamed"),
        ('say "hi".csv', "say _hi_.csv"),
        ("line\r\nSet-Cookie: a=b.csv", "lineSet-Cookie_ a=b.csv"),
        ("nul\x00byte.csv", "nulbyte.csv"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),
        ("  spaced  .txt ", "spaced  .txt"),
        ("relevé.csv", "relevé.csv"),
        ("e\u0301te\u0301.csv", "été.csv"),
        ("<script>.csv", "_script_.csv"),
        ("x" * 300 + ".csv", "x" * 196 + ".csv"),
    ],
)
def test_names_are_cut_to_something_safe_to_show(raw, shown):
    assert display_name(raw) == shown


def test_content_disposition_carries_utf8_and_an_ascii_fallback():
    assert content_disposition("Relevé n°3 «été».csv") == (
        'attachment; filename="Releve n3 ete.csv"; '
        "filename*=UTF-8''Relev%C3%A9%20n%C2%B03%20%C2%AB%C3%A9t%C3%A9%C2%BB.csv"
    )
    assert (
        content_disposition("报告.pdf")
        == "attachment; filename=\"unnamed.pdf\"; filename*=UTF-8''%E6%8A%A5%E5%91%8A.pdf"
    )


@given(st.text(max_size=300))
def test_any_name_gives_one_clean_header_line(raw):
    header = content_disposition(display_name(raw))
    assert HEADER_VALUE.match(header), header
    assert header.count('"') == 2


def test_a_hostile_name_in_a_real_form_is_kept_only_as_text(settings, database, clock, clamd, tmp_path):
    OPEN_CASES.add("case-1")
    READERS["case-1"] = {"anna"}
    with vault_client(settings, database, clock) as client:
        token = sign_in(client, database, "anna", ["operator"])
        body = (
            b'--b\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n' + token.encode() + b"\r\n"
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="../../etc/pa\\"ss\x00wd"\r\n\r\n'
            b"root:x:0:0\r\n--b--\r\n"
        )
        reply = client.post(
            "/api/vault/cases/case-1/files",
            content=body,
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["name"] == "pa_sswd"
        download = client.get(f"/files/{reply.json()['id']}")
    assert (
        download.headers["content-disposition"]
        == "attachment; filename=\"pa_sswd\"; filename*=UTF-8''pa_sswd"
    )
    assert not Path("/etc/pa_sswd").exists() and not (tmp_path / "etc").exists()
    assert [p.parent.parent.name for p in Path(settings.files_dir).rglob("*") if p.is_file()] == ["blobs"]
