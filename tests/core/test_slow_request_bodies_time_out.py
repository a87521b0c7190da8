"""A client that trickles its request body is answered 408 once the read deadline passes, so it cannot
hold a server worker for ever; a complete body in time is served as usual."""

from __future__ import annotations

import socket

import pytest

from tests.receiver import running


@pytest.fixture
def served(settings, database, clock):
    from tocsin.app import create_app

    quick = settings.model_copy(update={"read_timeout": 1.0})
    with running(create_app(quick, database=database, clock=clock)) as url:
        yield int(url.rsplit(":", 1)[1])


def exchange(port: int, head: bytes, body: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(head + body)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
        return received


def test_a_body_that_never_arrives_in_full_gets_408(served):
    head = (
        b"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
    )
    answer = exchange(served, head, b"grant_type=client")
    assert answer.startswith(b"HTTP/1.1 408")


def test_a_body_sent_in_time_is_served(served):
    body = b"grant_type=password"
    head = (
        b"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
    )
    assert exchange(served, head, body).startswith(b"HTTP/1.1 400")
