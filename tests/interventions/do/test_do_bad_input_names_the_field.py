"""Bad or hostile input to the technician's endpoints is refused, naming the field, and queues nothing."""

from __future__ import annotations

import pytest

from tests.interventions.support import END, START, nature_lines, outbox_messages
from tests.support import sign_in


@pytest.fixture
def csrf(web, database) -> str:
    return sign_in(web, database, "tina", ["technician"])


def post(web, csrf, action, **body):
    return web.post(f"/api/interventions/do/{action}", json=body, headers={"X-CSRF-Token": csrf})


def good_start(**changes):
    return {
        "ref_do": "DOXX-PHONE-1",
        "pm": "FI-12345-0001",
        "natures": nature_lines(1),
        "started_at": START,
        **changes,
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"pm": "FI-00000-0000"}, "pm"),
        ({"pm": "FI-99999-0001"}, "pm"),
        ({"pm": "<script>alert(1)</script>"}, "pm"),
        ({"pm": None}, "pm"),
        ({"natures": [{"nature": 3}]}, "natures[0].nature"),
        ({"natures": [{"nature": 7}]}, "natures[0].nature"),
        ({"natures": [{"nature": True}]}, "natures[0].nature"),
        ({"natures": []}, "natures"),
        ({"natures": "RACC"}, "natures"),
        ({"natures": [{"nature": 1, "PBO": "x" * 101}]}, "natures[0].PBO"),
        ({"natures": [{"nature": 1, "PTO": "FI\x00-1"}]}, "natures[0].PTO"),
        ({"natures": [{"nature": 1, "PTO": ["a"]}]}, "natures[0].PTO"),
        ({"started_at": "2026-11-20 25:00"}, "started_at"),
        ({"started_at": "2026-11-20T10:00:00"}, "started_at"),
        ({"started_at": 1763629200}, "started_at"),
        ({"ref_do": "../../etc/passwd"}, "ref_do"),
        ({"ref_do": "x" * 51}, "ref_do"),
    ],
)
def test_a_bad_start_names_the_field(web, database, csrf, changes, field):
    reply = post(web, csrf, "start", **good_start(**changes))
    assert reply.status_code == 400, reply.text
    assert reply.json()["field"] == field
    assert outbox_messages(database) == []


def test_a_refusal_is_translated_for_a_french_page(web, database, csrf):
    reply = web.post(
        "/api/interventions/do/start",
        json=good_start(natures=[{"nature": 3}]),
        headers={"X-CSRF-Token": csrf, "Accept-Language": "fr"},
    )
    assert reply.json()["message"] == "AUCUNE ACTION n’est permis qu’à la fin"


def test_an_end_before_the_start_names_ended_at(web, database, csrf):
    assert post(web, csrf, "start", **good_start()).status_code == 200
    reply = post(
        web, csrf, "end", ref_do="DOXX-PHONE-1", natures=nature_lines(3), ended_at="2026-11-20T09:00:00+01:00"
    )
    assert (reply.status_code, reply.json()["field"]) == (400, "ended_at")


def test_a_body_that_is_not_a_json_object_is_refused(web, database, csrf):
    reply = web.post(
        "/api/interventions/do/start",
        content=b"[1, 2]",
        headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"},
    )
    assert reply.status_code == 400
    reply = web.post("/api/interventions/do/start", content=b"{nope", headers={"X-CSRF-Token": csrf})
    assert reply.status_code == 400


def test_start_and_end_through_the_api_are_idempotent(web, database, csrf):
    first = post(web, csrf, "start", **good_start())
    again = post(web, csrf, "start", **good_start(started_at="2026-11-20T10:09:00+01:00"))
    assert first.json() == again.json()
    assert first.json()["m1_state"] == "queued"
    ended = post(web, csrf, "end", ref_do="DOXX-PHONE-1", natures=nature_lines(3), ended_at=END)
    post(web, csrf, "end", ref_do="DOXX-PHONE-1", natures=nature_lines(3), ended_at=END)
    assert ended.json()["m3_state"] == "queued"
    assert [m.kind for m in outbox_messages(database)] == ["M1", "M3"]
    status = web.get("/api/interventions/do/declarations/DOXX-PHONE-1")
    assert status.json()["ended_at"] == "2026-11-20T10:30:00+00:00"
