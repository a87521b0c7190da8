"""Files a citizen attaches to an appeal, checked against the spec's rules before anything keeps them:
kinds judged by content, limits per file and per set, no archive inside an archive, nothing encrypted,
no password-protected PDF, and a ClamAV verdict for every file. Each refusal names the file and the
reason; when any file is refused nothing is kept (the caller stores the files only after a full pass).

The rules, decided here (docs/appeals.md says them to people):

- Checks run per file in this order and the first problem is the one reported: empty, too large, virus
  (clamd, before our own parsers read the bytes; clamd down refuses: never accepted unscanned), kind by
  content (core ``detect``: libmagic, OOXML told from a plain zip), the name's extension agrees with the
  content, not a polyglot (for ZIP/RAR after their members), then what the kind needs (PDF not
  encrypted; DOCX/XLSX a real OOXML package without macros; DOC/XLS without macros; ZIP/RAR members
  listed, never extracted).
- A polyglot is a file that a reader of another format would also open: it ends as a ZIP (an
  end-of-central-directory record exactly at the end, which is where zip readers look) while its content
  is not ZIP/DOCX/XLSX; or it has ``%PDF-`` in its first 1024 bytes (where PDF readers look) while it is
  not a PDF; or it carries a RAR signature anywhere (RAR readers scan for it) while it is not a RAR.
- Archives are listed without extracting, so member names such as ``../../etc/passwd`` do no harm here.
  A member that is an archive by its name or by its first bytes is refused, a DOCX inside a ZIP too (it
  is a zip container; attach it directly). Zip bombs: too many members, a declared unpacked size over a
  bound, or an overall ratio over a bound. RAR members are read through libarchive (never to disk) to see
  their first bytes and, where libarchive cannot flag encryption (RAR5 in libarchive 3.6), to find that a
  member cannot be decoded; the count of unpacked bytes is bounded as it goes.
- DOCX/XLSX with a macro part (``vbaProject.bin``) or a macro-enabled main part are refused: macros run
  code on the official's machine, and the spec's DOCX/XLSX are the macro-free formats.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
import zlib
from ctypes import c_int
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import libarchive
from libarchive import ffi as libarchive_ffi
from libarchive.exception import ArchiveError

from tocsin.core.files import ScannerUnavailable, Verdict, base_type, detect, display_name
from tocsin.core.files.detect import OOXML, PART_LIMIT

MiB = 1024 * 1024
HEAD = 512  # first bytes of an archive member read to know what it is (tar's "ustar" is at 257)
ALL_KINDS = ("PDF", "DOC", "DOCX", "XLS", "XLSX", "JPEG", "PNG", "ZIP", "RAR")
EXTENSIONS = {
    "pdf": "PDF",
    "doc": "DOC",
    "docx": "DOCX",
    "xls": "XLS",
    "xlsx": "XLSX",
    "jpg": "JPEG",
    "jpeg": "JPEG",
    "png": "PNG",
    "zip": "ZIP",
    "rar": "RAR",
}
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
KIND_OF_TYPE = {
    "application/pdf": "PDF",
    "application/msword": "DOC",
    "application/vnd.ms-excel": "XLS",
    DOCX_TYPE: "DOCX",
    XLSX_TYPE: "XLSX",
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "application/zip": "ZIP",
    "application/x-rar": "RAR",
    "application/vnd.rar": "RAR",
    "application/x-rar-compressed": "RAR",
}
MACRO_TYPES = {
    "application/vnd.ms-word.document.macroenabled.12": "DOCX",
    "application/vnd.ms-excel.sheet.macroenabled.12": "XLSX",
}  # lower case, as base_type gives them
MAIN_PART = {kind: main for main, kind in OOXML.items()}  # OOXML package type -> its main part's type
ARCHIVE_EXTENSIONS = {
    "zip", "rar", "7z", "gz", "tgz", "tar", "bz2", "tbz", "xz", "txz", "zst", "lz", "lzma", "cab", "arj",
    "jar", "z", "iso",
}  # fmt: skip
ARCHIVE_MAGIC = (
    (0, b"PK\x03\x04", "ZIP"),
    (0, b"PK\x05\x06", "ZIP"),
    (0, b"PK\x07\x08", "ZIP"),
    (0, b"Rar!\x1a\x07", "RAR"),
    (0, b"7z\xbc\xaf\x27\x1c", "7z"),
    (0, b"\x1f\x8b", "gzip"),
    (0, b"BZh", "bzip2"),
    (0, b"\xfd7zXZ\x00", "xz"),
    (0, b"\x28\xb5\x2f\xfd", "zstd"),
    (0, b"MSCF", "CAB"),
    (0, b"\x60\xea", "ARJ"),
    (257, b"ustar", "tar"),
)
RAR5 = b"Rar!\x1a\x07\x01\x00"
RAR_SIGNATURE = b"Rar!\x1a\x07"
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
EOCD = b"PK\x05\x06"  # a zip's end of central directory: 22 bytes and a comment of up to 65535
ENCRYPT_KEY = re.compile(rb"/Encrypt(?![A-Za-z0-9_.#-])")  # the name /Encrypt, not /EncryptMetadata
OVERRIDE = re.compile(r"<Override\b[^>]*>", re.I)
ATTRIBUTE = re.compile(r'(\w+)\s*=\s*"([^"]*)"')

# libarchive-c 5.3 does not wrap archive_entry_is_encrypted (libarchive >= 3.2); its ffi helper binds it
_is_encrypted = libarchive_ffi.ffi("entry_is_encrypted", [libarchive_ffi.c_archive_entry_p], c_int)


@dataclass(frozen=True)
class Limits:
    """The spec's limits (configuration: the source also quotes 50 MB and 25 MB elsewhere) and the
    bounds that keep archives from being bombs."""

    max_file_bytes: int = 10 * MiB
    max_files: int = 5
    max_total_bytes: int = 20 * MiB
    allowed: tuple[str, ...] = ALL_KINDS
    max_members: int = 1000  # entries in one archive
    max_unpacked_bytes: int = 200 * MiB  # what one archive declares (or a RAR yields) once unpacked
    max_ratio: int = 100  # unpacked size over packed size, for archives that unpack to over 1 MiB


class Scanner(Protocol):
    """What scans a file: the core's clamd client (``tocsin.core.files.Clamd``)."""

    def scan(self, path: Path) -> Verdict: ...


@dataclass(frozen=True)
class Accepted:
    """A file that passed every rule: the name to show, its bytes' kind and what scanned it."""

    name: str
    path: Path
    kind: str  # one of ALL_KINDS
    content_type: str
    size: int
    sha256: str
    scanned_by: str


class Refusal(Exception):
    """One file refused (``file_name`` None: the set as a whole), with the reason and a stable code."""

    def __init__(self, file_name: str | None, reason: str, code: str) -> None:
        self.file_name, self.reason, self.code = file_name, reason, code
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"{self.file_name}: {self.reason}" if self.file_name is not None else self.reason

    def __repr__(self) -> str:
        return f"Refusal({self.file_name!r}, {self.reason!r}, {self.code!r})"


@dataclass
class AttachmentsRefused(Exception):
    """The set was refused: each refused file with its first problem (or one refusal of the whole set).
    Nothing of the set is to be kept."""

    refusals: list[Refusal] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(refusal.message for refusal in self.refusals)


def check_files(files: list[tuple[str, Path]], limits: Limits, scanner: Scanner) -> list[Accepted]:
    """Every file of ``files`` (name as the citizen gave it, where its bytes wait) checked against the
    rules; raises ``AttachmentsRefused`` when any file (or the set) is refused."""
    if len(files) > limits.max_files:
        raise AttachmentsRefused(
            [
                Refusal(
                    None, f"{len(files)} files attached, at most {limits.max_files} are allowed", "too_many"
                )
            ]
        )
    total = sum(path.stat().st_size for _, path in files)
    if total > limits.max_total_bytes:
        reason = f"the files come to {_mb(total)} in all, more than the {_mb(limits.max_total_bytes)} limit"
        raise AttachmentsRefused([Refusal(None, reason, "too_large_in_all")])
    accepted, refused = [], []
    for raw_name, path in files:
        try:
            accepted.append(check_file(raw_name, path, limits, scanner))
        except Refusal as refusal:
            refused.append(refusal)
    if refused:
        raise AttachmentsRefused(refused)
    return accepted


def check_file(raw_name: str, path: Path, limits: Limits, scanner: Scanner) -> Accepted:
    """One file against the per-file rules; raises ``Refusal`` with the first problem found."""
    name = display_name(raw_name)

    def refuse(reason: str, code: str) -> Refusal:
        return Refusal(name, reason, code)

    size = path.stat().st_size
    if size == 0:
        raise refuse("the file is empty", "empty")
    if size > limits.max_file_bytes:
        raise refuse(
            f"the file is {_mb(size)}, more than the {_mb(limits.max_file_bytes)} limit", "too_large"
        )
    try:
        verdict = scanner.scan(path)
    except ScannerUnavailable:
        raise refuse("the file cannot be checked for viruses now; try again later", "scanner_down") from None
    if not verdict.clean:
        raise refuse(f"contains a virus ({verdict.signature})", "virus")
    content_type = detect(path)
    found = base_type(content_type)
    if found in MACRO_TYPES:
        raise refuse(f"content is {MACRO_TYPES[found]} with macros, which are not accepted", "macros")
    kind = KIND_OF_TYPE.get(found)
    if kind is None and _starts_as_zip(path):
        raise refuse("the file is a ZIP container that cannot be read (damaged)", "damaged")
    if kind is None or kind not in limits.allowed:
        raise refuse(
            f"content is {kind or found}, which is not accepted (accepted: {', '.join(limits.allowed)})",
            "kind_not_allowed",
        )
    extension = raw_name.rpartition(".")[2].lower() if "." in raw_name else ""
    said = EXTENSIONS.get(extension)
    if said != kind:
        says = f"name says {extension.upper()}" if extension else "the name has no extension"
        raise refuse(f"content is {kind}, {says}", "name_disagrees")
    data = path.read_bytes()  # at most max_file_bytes
    # an archive's members first: a RAR stored in a ZIP is better told as a nested archive than a polyglot
    problem = _kind_problem(kind, path, data, limits) if kind in {"ZIP", "RAR"} else None
    other = None if problem else _other_format(data, kind)
    if other:
        raise refuse(f"content is both {kind} and {other}; a file that is two formats is refused", "polyglot")
    problem = problem or _kind_problem(kind, path, data, limits)
    if problem:
        raise refuse(*problem)
    return Accepted(name, path, kind, content_type, size, hashlib.sha256(data).hexdigest(), verdict.scanner)


def _starts_as_zip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"PK\x03\x04"


def _mb(size: int) -> str:
    """Sizes in the spec's megabytes (MiB), one decimal when needed: ``10 MB``, ``10.5 MB``."""
    return f"{round(size / MiB, 1):g} MB"


def _other_format(data: bytes, kind: str) -> str | None:
    """The other format a reader would also find in ``data``, if any."""
    if kind not in {"ZIP", "DOCX", "XLSX"} and _ends_as_zip(data):
        return "ZIP"
    if kind != "PDF" and b"%PDF-" in data[:1024]:
        return "PDF"
    if kind != "RAR" and RAR_SIGNATURE in data:
        return "RAR"
    return None


def _ends_as_zip(data: bytes) -> bool:
    """An end-of-central-directory record whose comment ends exactly at the end of ``data``."""
    tail_start = max(0, len(data) - 22 - 65535)
    at = data.rfind(EOCD, tail_start)
    while at >= tail_start:
        if at + 22 <= len(data) and at + 22 + int.from_bytes(data[at + 20 : at + 22], "little") == len(data):
            return True
        at = data.rfind(EOCD, tail_start, at)
    return False


def _kind_problem(kind: str, path: Path, data: bytes, limits: Limits) -> tuple[str, str] | None:
    """What the kind's own rules find wrong, as (reason, code)."""
    if kind == "PDF":
        # pypdf is not a dependency. The /Encrypt key lives in the trailer or the xref stream's dictionary,
        # which are never compressed (ISO 32000-1 7.5.5, 7.5.8.2), so the bytes show it; the name
        # appearing elsewhere in uncompressed content refuses a rare honest file, never passes a locked one.
        if ENCRYPT_KEY.search(data):
            return "the PDF is password-protected (encrypted)", "encrypted_pdf"
        return None
    if kind in {"DOC", "XLS"}:
        if "_VBA_PROJECT".encode("utf-16-le") in data:
            return f"the {kind} contains macros, which are not accepted", "macros"
        return None
    if kind in {"DOCX", "XLSX"}:
        return _ooxml_problem(kind, path, limits)
    if kind == "ZIP":
        return _zip_problem(path, limits, size=len(data), nested=True)
    if kind == "RAR":
        return _rar_problem(path, data, limits)
    return None


def _ooxml_problem(kind: str, path: Path, limits: Limits) -> tuple[str, str] | None:
    """A DOCX/XLSX is a zip whose [Content_Types].xml declares the main part, and that part is there;
    without macros; and sound as a zip (no encrypted member, no bomb). Embedded objects are allowed."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            with archive.open("[Content_Types].xml") as part:
                declared = part.read(PART_LIMIT).decode("utf-8", "replace")
    except (KeyError, zipfile.BadZipFile, OSError, NotImplementedError, ValueError, RuntimeError, zlib.error):
        return f"the {kind} is damaged", "damaged"
    main_type = {"DOCX": MAIN_PART[DOCX_TYPE], "XLSX": MAIN_PART[XLSX_TYPE]}[kind]
    part_name = None
    for override in OVERRIDE.findall(declared):
        attributes = dict(ATTRIBUTE.findall(override))
        if attributes.get("ContentType") == main_type:
            part_name = attributes.get("PartName", "").lstrip("/")
    if not part_name or part_name not in names:
        return f"the {kind} has no main part ({part_name or 'none declared'})", "damaged"
    if any(member.lower().endswith("vbaproject.bin") for member in names):
        return f"the {kind} contains macros (vbaProject.bin), which are not accepted", "macros"
    return _zip_problem(path, limits, size=path.stat().st_size, nested=False)


def _zip_problem(path: Path, limits: Limits, *, size: int, nested: bool) -> tuple[str, str] | None:
    """Members listed from the central directory, never extracted; only a member's first bytes are
    decompressed, to know whether it is itself an archive (when ``nested`` is checked)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > limits.max_members:
                return _too_many(len(members), limits)
            unpacked = sum(member.file_size for member in members)
            if unpacked > limits.max_unpacked_bytes or (
                unpacked > MiB and unpacked > limits.max_ratio * size
            ):
                return _bomb(unpacked, limits)
            for member in members:
                if member.flag_bits & 0x1:
                    return (
                        f"{_shown(member.filename)} inside is encrypted (password-protected)",
                        "encrypted_member",
                    )
            if not nested:
                return None
            for member in members:
                if member.is_dir():
                    continue
                by_name = _archive_by_name(member.filename)
                with archive.open(member) as opened:
                    head = opened.read(HEAD)
                by_magic = _archive_by_magic(head)
                if by_name or by_magic:
                    return _nested(member.filename, by_magic or by_name or "")
    except (zipfile.BadZipFile, OSError, NotImplementedError, ValueError, RuntimeError, EOFError, zlib.error):
        return "the archive is damaged or uses a method we cannot read", "damaged"
    return None


def _rar_problem(path: Path, data: bytes, limits: Limits) -> tuple[str, str] | None:
    """Members listed by libarchive's RAR reader (chosen by the signature: left to guess, libarchive 3.6
    reads a RAR holding a stored zip as that zip), data decoded in memory to see the first bytes."""
    reader = "rar5" if data.startswith(RAR5) else "rar"
    count = unpacked = 0
    try:
        with libarchive.file_reader(str(path), format_name=reader, filter_name="none") as archive:
            for entry in archive:
                count += 1
                if count > limits.max_members:
                    return _too_many(count, limits)
                member = entry.pathname or ""
                if _is_encrypted(entry._entry_p):
                    return f"{_shown(member)} inside is encrypted (password-protected)", "encrypted_member"
                if entry.isdir:
                    continue
                unpacked += max(entry.size or 0, 0)
                if unpacked > limits.max_unpacked_bytes or (
                    unpacked > MiB and unpacked > limits.max_ratio * len(data)
                ):
                    return _bomb(unpacked, limits)
                by_name = _archive_by_name(member)
                head, read = b"", 0
                try:
                    for block in entry.get_blocks():
                        if len(head) < HEAD:
                            head += block[: HEAD - len(head)]
                        read += len(block)
                        if read > limits.max_unpacked_bytes:
                            return _bomb(read, limits)
                except ArchiveError:
                    return (
                        f"{_shown(member)} inside cannot be read: it is encrypted or damaged",
                        "unreadable_member",
                    )
                by_magic = _archive_by_magic(head)
                if by_name or by_magic:
                    return _nested(member, by_magic or by_name or "")
    except ArchiveError as error:
        if "encrypt" in str(error).lower():
            return "the archive is encrypted (password-protected)", "encrypted_archive"
        return "the archive is damaged or uses a method we cannot read", "damaged"
    except UnicodeDecodeError:
        return "the archive is damaged (a member's name is not readable)", "damaged"
    return None


def _archive_by_name(member: str) -> str | None:
    extension = member.rpartition(".")[2].lower() if "." in member else ""
    return extension.upper() if extension in ARCHIVE_EXTENSIONS else None


def _archive_by_magic(head: bytes) -> str | None:
    for offset, magic, kind in ARCHIVE_MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return kind
    return None


def _shown(member: str) -> str:
    """A member's name made safe to show (its last part, no control characters)."""
    return display_name(member)


def _nested(member: str, kind: str) -> tuple[str, str]:
    return (
        f"{_shown(member)} inside is itself an archive ({kind}); archives inside archives are refused",
        "nested",
    )


def _too_many(count: int, limits: Limits) -> tuple[str, str]:
    return f"the archive has over {limits.max_members} entries ({count} counted)", "zip_bomb"


def _bomb(unpacked: int, limits: Limits) -> tuple[str, str]:
    return (
        f"the archive would unpack to {_mb(unpacked)}, too much for its size "
        f"(bounds: {_mb(limits.max_unpacked_bytes)}, {limits.max_ratio} times its size)",
        "zip_bomb",
    )
