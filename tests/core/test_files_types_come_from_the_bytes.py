"""A file's type is found in its bytes (libmagic, then a look inside zips and at text), never taken from
its name or from the type the browser claims."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from tests.core.vault import OPEN_CASES, post_file, vault_client
from tests.support import sign_in
from tocsin.core.files import detect

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def image(kind: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, kind)
    return out.getvalue()


def pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def zipped(entries: dict[str, bytes], *, first: tuple[str, bytes] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        if first:
            archive.writestr(zipfile.ZipInfo(first[0]), first[1], compress_type=zipfile.ZIP_STORED)
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def ooxml(main_type: str, main_part: str) -> bytes:
    """An Office Open XML package in the order Office does not always keep: docProps before the types."""
    types = (
        '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/{main_part}" ContentType="{main_type}"/></Types>'
    )
    return zipped(
        {"docProps/app.xml": b"<Properties/>", "[Content_Types].xml": types.encode(), main_part: b"<x/>"}
    )


def found(tmp_path: Path, data: bytes, name: str = "upload.bin") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return detect(path)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (pdf(), "application/pdf"),
        (image("PNG"), "image/png"),
        (image("JPEG"), "image/jpeg"),
        (image("GIF"), "image/gif"),
        (image("WEBP"), "image/webp"),
        (zipped({"a.txt": b"hello"}), "application/zip"),
        (
            ooxml(
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
                "word/document.xml",
            ),
            DOCX,
        ),
        (
            ooxml(
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                "xl/workbook.xml",
            ),
            XLSX,
        ),
        (
            ooxml(
                "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
                "ppt/presentation.xml",
            ),
            PPTX,
        ),
        (
            ooxml("application/vnd.ms-excel.sheet.macroEnabled.main+xml", "xl/workbook.xml"),
            "application/vnd.ms-excel.sheet.macroEnabled.12",
        ),
        (
            zipped(
                {"content.xml": b"<x/>"},
                first=("mimetype", b"application/vnd.oasis.opendocument.spreadsheet"),
            ),
            "application/vnd.oasis.opendocument.spreadsheet",
        ),
        (b"cut_at,pm,pto\n2026-11-20T10:05:00+01:00,FI-1,FI-2\n", "text/csv; charset=utf-8"),
        ("cut_at;pm;pto\n2026-11-20;Évry;FI-2\n".encode(), "text/csv; charset=utf-8"),
        (b"\xef\xbb\xbfa,b\n1,2\n", "text/csv; charset=utf-8"),
        (b"Dear OC,\nthe cuts are attached.\nRegards\n", "text/plain; charset=utf-8"),
        (b'[{"cut_at": "2026-11-20T10:05:00+01:00"}]', "application/json; charset=utf-8"),
        ("Relevé de coupures\n".encode("latin-1"), "text/plain"),
        (b"\x00\x01\x02\x03binary", "application/octet-stream"),
    ],
    ids=[
        "pdf",
        "png",
        "jpeg",
        "gif",
        "webp",
        "zip",
        "docx",
        "xlsx",
        "pptx",
        "xlsm",
        "ods",
        "csv",
        "csv-semicolons",
        "csv-bom",
        "text",
        "json",
        "latin-1-text",
        "binary",
    ],
)
def test_each_format_is_named_from_its_bytes(tmp_path, data, expected):
    assert found(tmp_path, data) == expected


def test_a_wrong_extension_changes_nothing(tmp_path):
    assert found(tmp_path, image("PNG"), "report.pdf") == "image/png"
    assert (
        found(tmp_path, b"<html><body><script>alert(1)</script></body></html>", "photo.png")
        == "text/html; charset=utf-8"
    )
    assert found(tmp_path, pdf(), "cuts.csv") == "application/pdf"


def test_an_ooxml_named_zip_and_a_zip_named_docx_are_told_apart(tmp_path):
    word = ooxml(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
        "word/document.xml",
    )
    assert found(tmp_path, word, "archive.zip") == DOCX
    assert found(tmp_path, zipped({"word/document.xml": b"<x/>"}), "letter.docx") == "application/zip"


def test_polyglot_files_are_what_their_first_bytes_say(tmp_path):
    jpeg_then_zip = image("JPEG") + zipped({"payload.exe": b"MZ" + b"\0" * 64})
    assert found(tmp_path, jpeg_then_zip) == "image/jpeg"
    gif_with_script = b"GIF89a/*\x01\x00\x01\x00\x00\x00\x00*/=1;alert(document.domain);//"
    assert found(tmp_path, gif_with_script) == "image/gif"
    pdf_with_html = pdf() + b"<html><script>alert(1)</script></html>"
    assert found(tmp_path, pdf_with_html) == "application/pdf"


def test_a_csv_with_markup_in_a_cell_is_still_csv(tmp_path):
    text = b'cut_at,pm,pto\n2026-11-20T10:05:00+01:00,FI-1,"<script>x()</script>"\n'
    assert found(tmp_path, text) == "text/csv; charset=utf-8"


def test_a_broken_zip_is_unknown_bytes(tmp_path):
    assert found(tmp_path, zipped({"a.txt": b"hello"})[:40]) == "application/octet-stream"


def test_the_kept_type_ignores_the_name_and_the_claimed_type(settings, database, clock, clamd):
    OPEN_CASES.add("case-1")
    with vault_client(settings, database, clock) as client:
        token = sign_in(client, database, "anna", ["operator"])
        files = {"file": ("report.pdf", image("PNG"), "application/pdf")}
        reply = client.post("/api/vault/cases/case-1/files", data={"csrf": token}, files=files)
        assert reply.status_code == 200 and reply.json()["content_type"] == "image/png"
        assert post_file(client, token, "cuts.csv", pdf()).json()["content_type"] == "application/pdf"
