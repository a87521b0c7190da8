"""The durable outbox: delivery, retries on the schedule, functional KOs, failure, manual retry, ordering."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.receiver import free_port, partner
from tocsin.core import outbox
from tocsin.core.outbox import OutboxMessage, Worker

SCHEDULE = [60, 120, 300, 600, 72000]


@pytest.fixture
def receiver():
    with partner() as running_partner:
        yield running_partner


def queue(database, clock, url, *, stream="s1", payload=None, credential=None, on_result=None, schedule=None):
    with database.session() as db:
        return outbox.enqueue(
            db,
            desk="test",
            kind="M2",
            partner="OCBB",
            url=url,
            payload=payload or {"n": 1},
            stream=stream,
            now=clock(),
            credential=credential,
            on_result=on_result,
            schedule=schedule,
        )


def worker(database, clock, **kwargs) -> Worker:
    return Worker(
        database,
        schedule=SCHEDULE,
        name=kwargs.pop("name", "w1"),
        clock=clock,
        timeout=kwargs.pop("timeout", 2.0),
        **kwargs,
    )


def message(database, message_id) -> OutboxMessage:
    with database.session() as db:
        return db.get(OutboxMessage, message_id)


def test_a_message_is_delivered_and_its_answer_recorded(database, clock, receiver):
    message_id = queue(database, clock, f"{receiver.url}/v1/intervention_OI")
    w = worker(database, clock)
    assert w.run_once() == 1
    w.close()
    stored = message(database, message_id)
    assert stored.status == "delivered" and stored.attempts == 1
    assert stored.response == {"Code_Reponse": 0, "Libelle_Reponse": "OK"}
    assert receiver.received[0]["json"] == {"n": 1}
    with database.session() as db:
        [attempt] = outbox.attempts_of(db, message_id)
    assert (attempt.status_code, attempt.outcome) == (200, "delivered")


def test_server_errors_are_retried_on_the_schedule_then_fail(database, clock, receiver):
    receiver.default = (503, {"error": "busy"}, 0)
    message_id = queue(database, clock, f"{receiver.url}/v1/x")
    w = worker(database, clock)
    waits = []
    for _ in range(6):
        assert w.run_once() == 1
        stored = message(database, message_id)
        if stored.status == "pending":
            waits.append((stored.next_attempt_at - clock()).total_seconds())
            assert w.run_once() == 0  # not due yet
            clock.at = stored.next_attempt_at
    w.close()
    assert waits == SCHEDULE
    stored = message(database, message_id)
    assert stored.status == "failed" and stored.attempts == 6 and stored.last_status_code == 503


def test_a_closed_port_is_retried(database, clock):
    message_id = queue(database, clock, f"http://127.0.0.1:{free_port()}/v1/x")
    w = worker(database, clock)
    w.run_once()
    w.close()
    stored = message(database, message_id)
    assert stored.status == "pending" and stored.attempts == 1 and "ConnectError" in stored.last_error


def test_a_timeout_is_retried(database, clock, receiver):
    receiver.script = [(200, {}, 1.5)]
    message_id = queue(database, clock, f"{receiver.url}/v1/x")
    w = worker(database, clock, timeout=0.3)
    w.run_once()
    w.close()
    stored = message(database, message_id)
    assert stored.status == "pending" and "Timeout" in stored.last_error


def test_a_functional_ko_is_not_retried(database, clock, receiver):
    receiver.default = (404, {"Code_Reponse": 4, "Libelle_Reponse": "PM_INCONNU"}, 0)
    message_id = queue(database, clock, f"{receiver.url}/v1/x")
    w = worker(database, clock)
    w.run_once()
    clock.advance(days=2)
    assert w.run_once() == 0
    w.close()
    stored = message(database, message_id)
    assert stored.status == "rejected" and stored.response["Code_Reponse"] == 4
    assert len(receiver.received) == 1


def test_a_message_schedule_overrides_the_worker_default(database, clock, receiver):
    receiver.default = (500, {}, 0)
    message_id = queue(database, clock, f"{receiver.url}/v1/x", schedule=[5])
    w = worker(database, clock)
    w.run_once()
    assert (message(database, message_id).next_attempt_at - clock()).total_seconds() == 5
    clock.advance(seconds=5)
    w.run_once()
    w.close()
    assert message(database, message_id).status == "failed"


def test_manual_retry_requeues_failed_messages_of_one_partner_in_a_period(database, clock, receiver):
    receiver.default = (500, {}, 0)
    early = queue(database, clock, f"{receiver.url}/v1/x", stream="a", schedule=[])
    clock.advance(hours=2)
    late = queue(database, clock, f"{receiver.url}/v1/x", stream="b", schedule=[])
    w = worker(database, clock)
    w.run_once()
    assert {message(database, i).status for i in (early, late)} == {"failed"}
    with database.session() as db:
        requeued = outbox.retry_by_hand(
            db, now=clock(), partner="OCBB", since=clock().replace(minute=0), until=None
        )
        assert [m.id for m in requeued] == [late]
    receiver.default = (200, {}, 0)
    w.run_once()
    w.close()
    assert message(database, late).status == "delivered"
    assert message(database, early).status == "failed"


def test_messages_of_one_stream_go_one_at_a_time_in_order(database, clock, receiver):
    first = queue(database, clock, f"{receiver.url}/v1/x", payload={"n": 1})
    second = queue(database, clock, f"{receiver.url}/v1/x", payload={"n": 2})
    other = queue(database, clock, f"{receiver.url}/v1/x", payload={"n": 3}, stream="s2")
    w = worker(database, clock)
    assert w.run_once() == 2  # first of s1 and the one of s2
    assert w.run_once() == 1  # then the second of s1
    w.close()
    assert [r["json"]["n"] for r in receiver.received if r["json"]["n"] != 3] == [1, 2]
    assert {message(database, i).status for i in (first, second, other)} == {"delivered"}


def test_a_blocked_stream_waits_for_its_earlier_message_retry(database, clock, receiver):
    receiver.script = [(503, {}, 0)]
    queue(database, clock, f"{receiver.url}/v1/x", payload={"n": 1})
    queue(database, clock, f"{receiver.url}/v1/x", payload={"n": 2})
    w = worker(database, clock)
    w.run_once()
    assert w.run_once() == 0
    clock.advance(seconds=60)
    w.run_once()
    w.run_once()
    w.close()
    assert [r["json"]["n"] for r in receiver.received] == [1, 1, 2]


def test_outbound_credentials_fetch_a_token_and_send_it(database, clock, receiver):
    with database.session() as db:
        outbox.set_credential(
            db, name="oc", token_url=f"{receiver.url}/oauth/token", client_id="me", client_secret="secret"
        )
    queue(database, clock, f"{receiver.url}/v1/x", credential="oc")
    queue(database, clock, f"{receiver.url}/v1/x", credential="oc", stream="s2")
    w = worker(database, clock)
    w.run_once()
    w.close()
    assert {r["headers"]["authorization"] for r in receiver.received} == {"Bearer tok-1"}
    assert receiver.tokens_issued == 1


def test_a_401_forgets_the_token_and_retries(database, clock, receiver):
    with database.session() as db:
        outbox.set_credential(
            db, name="oc", token_url=f"{receiver.url}/oauth/token", client_id="me", client_secret="secret"
        )
    receiver.script = [(401, {}, 0)]
    message_id = queue(database, clock, f"{receiver.url}/v1/x", credential="oc")
    w = worker(database, clock)
    w.run_once()
    clock.advance(seconds=60)
    w.run_once()
    w.close()
    assert message(database, message_id).status == "delivered"
    assert [r["headers"]["authorization"] for r in receiver.received] == ["Bearer tok-1", "Bearer tok-2"]


def test_a_result_handler_runs_in_the_recording_transaction(database, clock, receiver):
    seen = []

    @outbox.on_result("test.seen")
    def remember(db, msg, outcome, body):
        seen.append((msg.id, outcome, body))

    message_id = queue(database, clock, f"{receiver.url}/v1/x", on_result="test.seen")
    w = worker(database, clock)
    w.run_once()
    w.close()
    assert seen == [(message_id, "delivered", {"Code_Reponse": 0, "Libelle_Reponse": "OK"})]


def test_purge_deletes_only_finished_old_messages(database, clock, receiver):
    old = queue(database, clock, f"{receiver.url}/v1/x")
    w = worker(database, clock)
    w.run_once()
    w.close()
    pending = queue(database, clock, f"{receiver.url}/v1/x", stream="other")
    clock.advance(days=400)
    with database.session() as db:
        assert outbox.purge(db, desk="test", before=clock()) == 1
    with database.session() as db:
        assert [m.id for m in db.scalars(select(OutboxMessage))] == [pending]
    assert old != pending
