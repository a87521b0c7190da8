"""What the roles' E-Intervention endpoints share: read the body (JSON, at most the configured size),
parse it, check the sender is the caller, apply a role's rule, shape the reply. A KO is answered with
its code and a description naming the fields, logged for support, and nothing else is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from tocsin.core.auth import Caller
from tocsin.core.web import Shell, shell_of
from tocsin.interventions.models import Rejection
from tocsin.interventions.schemas import ProtocolError, Reply, Wire, parse

V1 = "/v1"


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes without reading it all."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


async def answer(
    request: Request,
    caller: Caller,
    *,
    model: type[Wire],
    labels: dict[int, str],
    sender_field: str,
    handler: Callable[..., Reply],
) -> JSONResponse:
    """Shared path of the three operations: body → parse → identity check → rule → reply."""
    shell = shell_of(request)
    body = b""
    try:
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            raise ProtocolError(2, "Mauvais format : Content-Type application/json attendu")
        try:
            body = await read_body(request, shell.settings.max_body_bytes)
        except BodyTooLarge:
            raise ProtocolError(
                2, f"Mauvais format : corps > {shell.settings.max_body_bytes} octets"
            ) from None
        message = parse(model, body)
    except ProtocolError as error:
        return await run_in_threadpool(_rejected, shell, request, caller, error, body, labels)
    if getattr(message, sender_field) != caller.owner:
        return await run_in_threadpool(_forbidden, shell, request, caller, sender_field, body)
    return await run_in_threadpool(_handle, shell, request, caller, message, body, labels, handler)


def _handle(
    shell: Shell,
    request: Request,
    caller: Caller,
    message: Any,
    body: bytes,
    labels: dict[int, str],
    handler: Callable[..., Reply],
) -> JSONResponse:
    try:
        try:
            reply = _apply(shell, handler, message, caller)
        except IntegrityError:
            reply = _apply(
                shell, handler, message, caller
            )  # lost a race on a UNIQUE key: now sees the winner
    except ProtocolError as error:
        return _rejected(shell, request, caller, error, body, labels)
    return JSONResponse(reply.body(), status_code=reply.http_status)


def _apply(shell: Shell, handler: Callable[..., Reply], message: Any, caller: Caller) -> Reply:
    with shell.database.session() as db:
        return handler(db=db, message=message, sender=caller.owner, now=shell.clock())


def _rejected(
    shell: Shell, request: Request, caller: Caller, error: ProtocolError, body: bytes, labels: dict[int, str]
) -> JSONResponse:
    with shell.database.session() as db:
        log_rejection(
            db, path=request.url.path, sender=caller.owner, error=error, body=body, now=shell.clock()
        )
    reply = Reply(error.code, labels, description=error.description)
    return JSONResponse(reply.body(), status_code=reply.http_status)


def _forbidden(shell: Shell, request: Request, caller: Caller, field: str, body: bytes) -> JSONResponse:
    error = ProtocolError(2, f"{field} ne correspond pas au client authentifié ({caller.owner})")
    with shell.database.session() as db:
        log_rejection(
            db, path=request.url.path, sender=caller.owner, error=error, body=body, now=shell.clock()
        )
    return JSONResponse({"error": "forbidden", "error_description": error.description}, status_code=403)


def printable(raw: bytes) -> str:
    """A received body as storable text: PostgreSQL text cannot hold NUL, and bad UTF-8 is replaced."""
    return raw.decode("utf-8", "replace").replace("\x00", "\\x00")


def log_rejection(
    db: Session, *, path: str, sender: str, error: ProtocolError, body: bytes, now: datetime
) -> None:
    """Keep a KO for support (it is never stored as a message)."""
    db.add(
        Rejection(
            received_at=now,
            path=path,
            sender=sender,
            http_status=error.http_status,
            code=error.code,
            description=error.description,
            body=printable(body[:4000]),
        )
    )
