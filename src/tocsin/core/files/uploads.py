"""Receiving files over HTTP as they arrive: a multipart form (a page's upload) or a raw body (an API),
written to the files folder piece by piece and refused past the limit, so no upload is ever held in
memory or on disk beyond it. Routes that use this read the request themselves: no ``UploadFile``
parameter and no ``check_csrf`` dependency (both would read the whole body first)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from tocsin.core.errors import DomainError
from tocsin.core.files.names import display_name
from tocsin.core.files.store import FileKind, Incoming, TooLarge, Upload
from tocsin.core.web.csrf import token_matches
from tocsin.core.web.shell import shell_of

if TYPE_CHECKING:  # python-multipart declares its callback types for type checkers only
    from python_multipart.multipart import MultipartCallbacks

FIELD_BYTES = 8 * 1024  # one text field of the form
FORM_PARTS = 20
DRAIN_BYTES = 16 * 1024 * 1024  # read (and drop) this much past the limit so a browser sees the 413


@dataclass
class Form:
    """A received form: its file (None when no file was chosen) and its other fields."""

    upload: Upload | None
    fields: dict[str, str] = field(default_factory=dict)


async def receive_form(request: Request, *, kind: FileKind, file_field: str = "file") -> Form:
    """Read a multipart form whose ``file_field`` holds one file of ``kind``, then check its CSRF token
    (the ``csrf`` field or the ``X-CSRF-Token`` header)."""
    kind_of, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind_of != b"multipart/form-data" or not boundary:
        raise DomainError("send the form as multipart/form-data", field=file_field)
    reader = _FormReader(request, kind, file_field)
    parser = MultipartParser(boundary, reader.callbacks())
    stream = request.stream()
    try:
        async for chunk in stream:
            parser.write(chunk)
        parser.finalize()
    except TooLarge:
        await _drain(stream)
        _check_csrf(request, reader.fields)  # a forged form is a CSRF error, not a refused file
        raise
    except BaseException:
        reader.discard()
        raise
    form = reader.form()
    try:
        _check_csrf(request, form.fields)
    except DomainError:
        if form.upload:
            form.upload.discard()
        raise
    return form


def _check_csrf(request: Request, fields: dict[str, str]) -> None:
    if not token_matches(request, fields.get("csrf") or request.headers.get("x-csrf-token")):
        raise DomainError("the form has expired; reload the page and try again", field="csrf")


async def receive_body(request: Request, *, kind: FileKind, name: str) -> Upload:
    """Read a raw request body as one file of ``kind`` called ``name``."""
    incoming = shell_of(request).files.incoming(name=display_name(name), kind=kind)
    stream = request.stream()
    try:
        async for chunk in stream:
            incoming.write(chunk)
    except TooLarge:
        await _drain(stream)
        raise
    except BaseException:
        incoming.discard()
        raise
    return incoming.finish()


async def _drain(stream: Any) -> None:
    """Read on a little past the limit: a browser still sending its body when the server closes the
    connection shows a network error instead of our 413 page."""
    drained = 0
    async for chunk in stream:
        drained += len(chunk)
        if drained > DRAIN_BYTES:
            break


class _FormReader:
    """The multipart parser's callbacks: the file part goes to an ``Incoming``, other parts to fields."""

    def __init__(self, request: Request, kind: FileKind, file_field: str) -> None:
        self.request, self.kind, self.file_field = request, kind, file_field
        self.fields: dict[str, str] = {}
        self.headers: dict[bytes, bytes] = {}
        self.header_name = self.header_value = b""
        self.part_name = ""
        self.value = bytearray()
        self.incoming: Incoming | None = None
        self.writing: Incoming | None = None
        self.parts = 0

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": self.header_field,
            "on_header_value": self.header_text,
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
        }

    def part_begin(self) -> None:
        self.parts += 1
        if self.parts > FORM_PARTS:
            raise DomainError("the form has too many fields", field=self.file_field)
        self.headers, self.value, self.writing = {}, bytearray(), None

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def header_text(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def header_end(self) -> None:
        self.headers[self.header_name.strip().lower()] = self.header_value.strip()
        self.header_name = self.header_value = b""

    def headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        self.part_name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if self.part_name != self.file_field or filename is None:
            return
        if self.incoming is not None:
            raise DomainError("send one file at a time", field=self.file_field)
        if not filename:
            return  # a browser sends an unnamed empty part when no file was chosen
        name = display_name(filename.decode("utf-8", "replace"))
        self.incoming = shell_of(self.request).files.incoming(name=name, kind=self.kind)
        self.writing = self.incoming

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self.writing is not None:
            self.writing.write(data[start:end])
            return
        self.value += data[start:end]
        if len(self.value) > FIELD_BYTES:
            raise DomainError("a field of the form is too long", field=self.part_name or self.file_field)

    def part_end(self) -> None:
        if self.writing is None and self.part_name and self.part_name != self.file_field:
            self.fields[self.part_name] = self.value.decode("utf-8", "replace")
        self.writing = None

    def form(self) -> Form:
        return Form(self.incoming.finish(self.fields) if self.incoming else None, self.fields)

    def discard(self) -> None:
        if self.incoming is not None:
            self.incoming.discard()
