"""The partner receiver records each message and answers with the status it is told, served in a
thread (the tests') or from a process of its own (the benches')."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import httpx

from bench.harness import OK_BODY, partner, start_receivers


def test_receiver_answers_its_script_then_its_default_and_records_each_message():
    with partner() as receiver:
        receiver.script = [(503, {"error": "busy"}, 0.0)]
        first = httpx.post(f"{receiver.url}/v1/intervention_OI", json={"n": 1}, headers={"X-Try": "1"})
        second = httpx.post(f"{receiver.url}/v1/intervention_OI", json={"n": 2})
    assert (first.status_code, first.json()) == (503, {"error": "busy"})
    assert (second.status_code, second.json()) == (200, OK_BODY)
    assert [record["json"] for record in receiver.received] == [{"n": 1}, {"n": 2}]
    assert receiver.received[0]["path"] == "/v1/intervention_OI"
    assert receiver.received[0]["headers"]["x-try"] == "1"
    assert receiver.received[0]["port"] == int(receiver.url.rsplit(":", 1)[1])


def test_receiver_issues_tokens():
    with partner() as receiver:
        reply = httpx.post(f"{receiver.url}/oauth/token", data={"grant_type": "client_credentials"})
    assert reply.json()["access_token"] == "tok-1"
    assert receiver.tokens_issued == 1


def test_receivers_in_their_own_process_are_told_their_answer_and_tell_what_arrived(tmp_path: Path):
    with ExitStack() as stack:
        ports = start_receivers(stack, tmp_path, 2)
        first, second = (f"http://127.0.0.1:{port}" for port in ports)
        assert httpx.post(f"{first}/v1/intervention_OI", json={"n": 1}).status_code == 200
        httpx.post(f"{first}/_answer", json={"status": 400, "body": {"Code_Reponse": 2}}).raise_for_status()
        refused = httpx.post(f"{second}/v1/intervention_OI", json={"n": 2})
        received = httpx.get(f"{second}/_received").json()
        httpx.post(f"{second}/_reset").raise_for_status()
        left = httpx.get(f"{first}/_count").json()
    assert (refused.status_code, refused.json()) == (400, {"Code_Reponse": 2})
    arrivals = [(record["port"], record["json"]) for record in received]
    assert arrivals == [(ports[0], {"n": 1}), (ports[1], {"n": 2})]
    assert left == 0
