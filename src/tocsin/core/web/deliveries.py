"""Why a message has not been delivered, in words a person reads: the outbox keeps the technical error
(``ConnectError: [Errno 111] Connection refused``, an HTTP status); pages show one translated sentence
and keep the technical text for support."""

from __future__ import annotations

import re

from fastapi import Request

from tocsin.core.web.shell import shell_of

TOKEN_FAILED = "token endpoint of "  # how core.outbox.TokenSource starts its errors
# What went wrong, recognised in the technical text, first match wins.
CAUSES = (
    (re.compile(r"Connection refused|Errno 111\b"), "connection refused"),
    (
        re.compile(r"Name or service not known|nodename nor servname|name resolution|Errno -[235]\b"),
        "address not found (DNS)",
    ),
    (re.compile(r"\[SSL|CERTIFICATE_VERIFY|certificate verify"), "secure connection (TLS) failed"),
    (re.compile(r"^ConnectTimeout"), "no connection within the time limit"),
    (re.compile(r"Timeout|timed out"), "no answer within the time limit"),
    (re.compile(r"^RemoteProtocolError|disconnected"), "connection cut before the answer"),
    (re.compile(r"unreachable|No route to host|Errno 11[03]\b|Errno 101\b"), "network unreachable"),
    (re.compile(r"^HTTPStatusError: \w+ error '(?P<status>\d{3})"), "answer HTTP {status}"),
    (re.compile(r"^(KeyError|ValueError|TypeError)"), "answer without a usable token"),
)
UNKNOWN = "unexpected error"


def failure_in_words(request: Request, *, status_code: int | None, error: str | None) -> str:
    """The last failure of a message as one sentence in the reader's language ("" if none yet)."""
    shell = shell_of(request)

    def _(text: str, **values: object) -> str:
        return shell.gettext(request, text).format(**values)

    if status_code is not None:
        if status_code == 401:
            return _("The partner refused our access token (HTTP 401).")
        if status_code == 408:
            return _("The partner's server gave up waiting (HTTP 408).")
        if status_code == 429:
            return _("The partner asked us to send less often (HTTP 429).")
        if status_code >= 500:
            return _("The partner's server failed (HTTP {status}).", status=status_code)
        if status_code >= 400:
            return _("The partner rejected the message (HTTP {status}).", status=status_code)
        if status_code >= 300:
            return _("The partner did not accept the message (HTTP {status}).", status=status_code)
        return ""
    if not error:
        return ""
    if error.startswith(TOKEN_FAILED):
        detail = error.split(": ", 1)[1] if ": " in error else error
        return _(
            "The partner's token endpoint gave us no access token: {cause}.", cause=cause(request, detail)
        )
    return _("Sending failed: {cause}.", cause=cause(request, error))


def cause(request: Request, error: str) -> str:
    """The translated cause of a technical error text ("connection refused", "answer HTTP 503"…)."""
    for pattern, text in CAUSES:
        found = pattern.search(error)
        if found:
            return shell_of(request).gettext(request, text).format(**found.groupdict())
    return shell_of(request).gettext(request, UNKNOWN)
