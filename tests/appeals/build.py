"""Real files for the attachment tests, made here: PDFs (one with an encryption dictionary), PNG and JPEG
by Pillow, DOCX by hand as an OOXML package, XLSX by openpyxl, DOC/XLS as minimal OLE2 compound files,
zips with zipfile (an encrypted member by setting the flag bit zipfile cannot write)."""

from __future__ import annotations

import io
import struct
import zipfile

from openpyxl import Workbook
from PIL import Image

WORD_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="{main}"/>'
    "</Types>"
)
RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="word/document.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/>'
    "</Relationships>"
)
DOCUMENT = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    "<w:body><w:p><w:r><w:t>Прошу рассмотреть обращение.</w:t></w:r></w:p></w:body></w:document>"
)


def pdf(*, encrypted: bool = False, text: str = "Appeal") -> bytes:
    """A one-page PDF with a correct xref table; ``encrypted`` adds a standard security handler
    dictionary (RC4, 40 bit) named by /Encrypt in the trailer, as a password-protected PDF has."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
    ]
    stream = f"BT /F1 12 Tf 20 100 Td ({text}) Tj ET".encode()
    objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    if encrypted:
        objects.append(
            b"<< /Filter /Standard /V 1 /R 2 /O <" + b"11" * 32 + b"> /U <" + b"22" * 32 + b"> /P -44 >>"
        )
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    trailer = b"<< /Size %d /Root 1 0 R" % (len(objects) + 1)
    if encrypted:
        trailer += (
            b" /Encrypt %d 0 R /ID [<0123456789abcdef0123456789abcdef> <0123456789abcdef0123456789abcdef>]"
            % (len(objects))
        )
    out += b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def image(kind: str) -> bytes:
    """A small real PNG or JPEG."""
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 30, 30)).save(out, format=kind)
    return out.getvalue()


def zip_of(members: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def docx(*, main: str = WORD_MAIN, extra: dict[str, bytes] | None = None) -> bytes:
    """A minimal Word document: content types, the package relationship and word/document.xml."""
    return zip_of(
        {
            "[Content_Types].xml": CONTENT_TYPES.format(main=main).encode(),
            "_rels/.rels": RELS.encode(),
            "word/document.xml": DOCUMENT.encode(),
            **(extra or {}),
        }
    )


def xlsx() -> bytes:
    book = Workbook()
    book.active.append(["Обращение", 1])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def encrypt_flag(data: bytes, member: str) -> bytes:
    """The zip with ``member``'s general purpose flag bit 0 (encrypted) set in its local header and its
    central directory record, as a password-protecting zip tool writes it."""
    out = bytearray(data)
    name = member.encode()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(member)
    local = info.header_offset
    assert out[local : local + 4] == b"PK\x03\x04"
    struct.pack_into("<H", out, local + 6, struct.unpack_from("<H", out, local + 6)[0] | 1)
    central = out.find(b"PK\x01\x02", local)
    while central != -1:
        (name_length,) = struct.unpack_from("<H", out, central + 28)
        if out[central + 46 : central + 46 + name_length] == name:
            struct.pack_into("<H", out, central + 8, struct.unpack_from("<H", out, central + 8)[0] | 1)
        central = out.find(b"PK\x01\x02", central + 4)
    return bytes(out)


def ole(stream: str, *, extra_names: tuple[str, ...] = ()) -> bytes:
    """A minimal OLE2 compound file (512-byte sectors) holding one 4096-byte stream named ``stream``
    (``WordDocument`` for a DOC, ``Workbook`` for an XLS) and empty storages named ``extra_names``."""
    free, end, fat_sector = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIIII", header, 40, 0, 1, 1, 0, 4096, end, 0, end, 0)
    struct.pack_into("<I", header, 76, 0)  # the FAT is sector 0
    for index in range(1, 109):
        struct.pack_into("<I", header, 76 + 4 * index, free)
    fat = [fat_sector, end] + [3 + i for i in range(7)] + [end]
    fat += [free] * (128 - len(fat))
    fat_bytes = struct.pack("<128I", *fat)

    def entry(name: str, kind: int, start: int, size: int, child: int = free, right: int = free) -> bytes:
        raw = bytearray(128)
        encoded = (name + "\0").encode("utf-16-le")
        raw[0 : len(encoded)] = encoded
        struct.pack_into("<HBB", raw, 64, len(encoded), kind, 1)
        struct.pack_into("<III", raw, 68, free, right, child)
        struct.pack_into("<IIH", raw, 116, start, size, 0)
        return bytes(raw)

    names = (stream, *extra_names)
    directory = entry("Root Entry", 5, end, 0, child=1)
    for index, name in enumerate(names, start=1):
        right = index + 1 if index < len(names) else free
        directory += entry(
            name, 2 if index == 1 else 1, 2 if index == 1 else 0, 4096 if index == 1 else 0, right=right
        )
    directory += bytes(512 - len(directory))
    return bytes(header) + fat_bytes + directory + bytes(4096)
