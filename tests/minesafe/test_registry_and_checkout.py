"""The device registry, the charging station's check-outs and the positions' retention.

The registry lists every tracker of the site file and every phone seen, with the battery the reports
said (a radio tracker's two cells, a phone's percentage, written by ``store.save_reports``); operators
name a tracker and assign it (stored exactly, audited), every bad field comes back named with what was
typed, viewers only read, nobody signed out sees it. At the gatehouse an operator hands a tracker out
for the shift and takes it back: never out twice, never back when not out; those missing from an earlier
shift come first; the JSON API says the same. The daily retention job deletes exactly the positions
older than the configured days, and keeps the alarms."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.minesafe.test_dispatch_pages import SITE, SITES, T0, report, stored
from tests.support import sign_in
from tocsin.core.audit import events_for
from tocsin.core.config import get_settings
from tocsin.core.scheduler import run_job_now
from tocsin.minesafe import checkouts, store
from tocsin.minesafe.desk import desk
from tocsin.minesafe.ingest.osmand import PhoneFix
from tocsin.minesafe.ingest.pipeline import Ingestion, Phone
from tocsin.minesafe.model import Kind, Report
from tocsin.minesafe.models import Alarm, Checkout, Position, Tracker
from tocsin.minesafe.retention import FORGET_POSITIONS, forget_old_positions

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # the app's fixed clock: 14:00 local, the day shift
SURVEYOR, BLASTER, TRUCK = "quarry:11", "quarry:12", "quarry:0"
LAT, LON = SITE.grid.to_wgs84(800.0, 600.0)


@pytest.fixture
def client(app) -> TestClient:
    return TestClient(app, base_url="http://testserver")


def radio(tracker: int, t: float, battery: str | None) -> Report:
    return replace(report(tracker, t, 800.0, 600.0), battery=battery)


def phone_reports(percent: float | None, t: float) -> list[Report]:
    """A phone's fix through the ingestion, as the OsmAnd endpoint hands it over."""
    ingestion = Ingestion(SITES, {}, phones={"pixel-7": Phone("pixel-7", SITE.name, Kind.PERSON)})
    fix = PhoneFix(device="pixel-7", t=t, latitude=LAT, longitude=LON, battery_percent=percent)
    return ingestion.phone_reports([fix])


def tracker(database, key: str) -> Tracker:
    with database.session() as db:
        found = db.get(Tracker, key)
        assert found is not None
        db.expunge(found)
        return found


# The registry ------------------------------------------------------------------------------------------


def test_battery_state_is_written_from_radio_reports_and_phone_percents(database):
    with database.session() as db:
        store.save_reports(db, [radio(11, T0, "ok"), radio(11, T0 + 10, "first_empty")], SITES)
        store.save_reports(db, phone_reports(57.0, T0), SITES)
    surveyor = tracker(database, SURVEYOR)
    assert (surveyor.battery_state, surveyor.battery_percent) == ("first_empty", None)
    assert surveyor.battery_at == datetime.fromtimestamp(T0 + 10, UTC)
    phone = tracker(database, "phone:pixel-7")
    assert (phone.battery_state, phone.battery_percent) == (None, 57.0)
    assert phone.battery_at == datetime.fromtimestamp(T0, UTC)

    with database.session() as db:  # an older report arriving late, and reports saying nothing of it
        store.save_reports(db, [radio(11, T0 + 5, "both_empty"), radio(11, T0 + 20, None)], SITES)
        store.save_reports(db, phone_reports(None, T0 + 20), SITES)
    surveyor = tracker(database, SURVEYOR)
    assert surveyor.battery_state == "first_empty" and surveyor.battery_at == datetime.fromtimestamp(
        T0 + 10, UTC
    )
    assert surveyor.last_at == datetime.fromtimestamp(T0 + 20, UTC)
    assert tracker(database, "phone:pixel-7").battery_percent == 57.0

    with database.session() as db:
        store.save_reports(db, [radio(11, T0 + 30, "both_empty")], SITES)
        store.save_reports(db, phone_reports(12.5, T0 + 30), SITES)
    assert tracker(database, SURVEYOR).battery_state == "both_empty"
    assert tracker(database, "phone:pixel-7").battery_percent == 12.5


def test_the_registry_lists_every_tracker_with_its_assignment_battery_and_last_fix(database, client):
    with database.session() as db:
        store.save_reports(db, [radio(11, T0, "first_empty"), radio(12, T0, "both_empty")], SITES)
        store.save_reports(db, phone_reports(57.0, T0), SITES)
        db.get(Tracker, SURVEYOR).assigned_to = "Иванов Пётр"
        db.get(Tracker, SURVEYOR).personnel_no = "1042"
    sign_in(client, database, "gate", ["viewer"])
    page = client.get("/minesafe/trackers")
    assert page.status_code == 200
    html = page.text
    rows = re.findall(r'<tr id="tracker-([^"]+)"', html)
    assert rows == [f"quarry-{n}" for n in range(20)] + ["phone-pixel-7"]  # site file, then phones
    surveyor = html[html.index('id="tracker-quarry-11"') :].split("</tr>")[0]
    assert "Иванов Пётр" in surveyor and "таб. № 1042" in surveyor and "Первый элемент разряжен" in surveyor
    assert "Человек" in surveyor and "назад" in surveyor
    blaster = html[html.index('id="tracker-quarry-12"') :].split("</tr>")[0]
    assert "Оба элемента разряжены" in blaster and "battery-low" in blaster
    phone = html[html.index('id="tracker-phone-pixel-7"') :].split("</tr>")[0]
    assert "57 %" in phone and "телефон" in phone
    truck = html[html.index('id="tracker-quarry-0"') :].split("</tr>")[0]
    assert (
        "БелАЗ-7547 №1" in truck and "не закреплён" in truck and "нет данных" in truck and "ни разу" in truck
    )
    assert "/edit" not in html  # a viewer gets no edit link
    english = client.get("/minesafe/trackers?lang=en").text
    assert "First cell empty" in english and "Assigned to" in english
    nav = re.search(r"<nav.*?</nav>", html, re.S)
    assert nav and 'href="/minesafe/trackers"' in nav.group(0)


def test_an_operator_names_and_assigns_a_tracker_stored_exactly_and_audited(database, client):
    token = sign_in(client, database, "op", ["operator"])
    form = client.get(f"/minesafe/trackers/{SURVEYOR}/edit")
    assert form.status_code == 200 and 'value="surveyor"' in form.text and "Табельный номер" in form.text
    typed = {
        "label": "  маркшейдер  ",
        "assigned_to": "Иванов Пётр",
        "personnel_no": "Т-1042/7",
        "csrf": token,
    }
    done = client.post(f"/minesafe/trackers/{SURVEYOR}", data=typed, follow_redirects=False)
    assert (
        done.status_code == 303
        and done.headers["location"] == "/minesafe/trackers?saved=quarry%3A11#tracker-quarry-11"
    )
    saved = tracker(database, SURVEYOR)
    assert (saved.label, saved.assigned_to, saved.personnel_no) == ("маркшейдер", "Иванов Пётр", "Т-1042/7")
    assert (saved.site, saved.kind, saved.last_at) == ("quarry", "person", None)  # from the site file
    assert "Трекер маркшейдер сохранён." in client.get(done.headers["location"]).text

    truck = {"label": "БелАЗ-7547 №1", "assigned_to": "Самосвал 1", "personnel_no": "101", "csrf": token}
    assert client.post(f"/minesafe/trackers/{TRUCK}", data=truck, follow_redirects=False).status_code == 303
    saved = tracker(database, TRUCK)
    assert (saved.label, saved.assigned_to, saved.personnel_no) == ("", "Самосвал 1", "101")  # site's name
    assert "Гаражный номер" in client.get(f"/minesafe/trackers/{TRUCK}/edit").text

    with database.session() as db:
        events = events_for(db, object_type="tracker", object_id=SURVEYOR)
    assert [(e.actor, e.action) for e in events] == [("op", "minesafe.tracker_updated")]
    assert events[0].detail == {
        "changed": {
            "label": ["", "маркшейдер"],
            "assigned_to": ["", "Иванов Пётр"],
            "personnel_no": ["", "Т-1042/7"],
        }
    }
    client.post(f"/minesafe/trackers/{SURVEYOR}", data=typed, follow_redirects=False)  # nothing changed
    with database.session() as db:
        assert len(events_for(db, object_type="tracker", object_id=SURVEYOR)) == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("label", "x" * 121, "Введите не больше 120 символов."),
        ("label", "bad\x07bell", "Уберите переводы строк"),
        ("assigned_to", "Иванов\nПётр", "Уберите переводы строк"),
        ("assigned_to", "я" * 121, "Введите не больше 120 символов."),
        ("personnel_no", "1" * 21, "Введите не больше 20 символов."),
        ("personnel_no", "<script>1</script>", "Допустимы только буквы"),
        ("personnel_no", "12\t34", "Уберите переводы строк"),
    ],
)
def test_every_bad_field_is_named_and_what_was_typed_is_kept(database, client, field, value, message):
    token = sign_in(client, database, "op", ["operator"])
    typed = {"label": "маркшейдер", "assigned_to": "Иванов Пётр", "personnel_no": "1042"} | {field: value}
    reply = client.post(f"/minesafe/trackers/{SURVEYOR}", data=typed | {"csrf": token})
    assert reply.status_code == 400
    html = reply.text
    summary = html[html.index('id="error-summary"') :].split("</div>")[0]
    assert f'href="#{field}"' in summary and message in summary
    assert f'id="{field}-error"' in html and 'aria-invalid="true"' in html
    kept = value.replace("<", "&lt;").replace(">", "&gt;")
    assert f'value="{kept}"' in html or f'value="{kept[:20]}' in html
    with database.session() as db:
        row = db.get(Tracker, SURVEYOR)
        assert row is None or (row.label, row.assigned_to) == ("", "")
        assert events_for(db, object_type="tracker", object_id=SURVEYOR) == []


def test_a_number_without_a_name_and_a_monstrous_value_are_refused_by_field(database, client):
    token = sign_in(client, database, "op", ["operator"])
    reply = client.post(f"/minesafe/trackers/{SURVEYOR}", data={"personnel_no": "1042", "csrf": token})
    assert reply.status_code == 400 and 'href="#assigned_to"' in reply.text
    assert "Введите не только номер, но и имя." in reply.text
    huge = client.post(f"/minesafe/trackers/{SURVEYOR}", data={"label": "x" * 5000, "csrf": token})
    assert huge.status_code == 400 and "label" in huge.text


def test_an_unknown_tracker_is_not_found(database, client):
    token = sign_in(client, database, "op", ["operator"])
    for key in ("quarry:99", "nowhere", "x" * 300):
        assert client.get(f"/minesafe/trackers/{key}/edit").status_code == 404
        reply = client.post(f"/minesafe/trackers/{key}", data={"label": "a", "csrf": token})
        assert reply.status_code == 404
    with database.session() as db:
        assert db.scalar(select(func.count()).select_from(Tracker)) == 0


def test_viewers_cannot_edit_nobody_signed_out_sees_and_forms_need_their_token(database, client):
    for path in ("/minesafe/trackers", f"/minesafe/trackers/{SURVEYOR}/edit"):
        reply = client.get(path, follow_redirects=False)
        assert reply.status_code in (302, 303) and reply.headers["location"].startswith("/login")
    token = sign_in(client, database, "gate", ["viewer"])
    assert client.get(f"/minesafe/trackers/{SURVEYOR}/edit").status_code == 403
    assert (
        client.post(f"/minesafe/trackers/{SURVEYOR}", data={"label": "a", "csrf": token}).status_code == 403
    )
    sign_in(client, database, "tech", ["technician"])
    assert client.get("/minesafe/trackers").status_code == 403
    sign_in(client, database, "op", ["operator"])
    assert (
        client.post(f"/minesafe/trackers/{SURVEYOR}", data={"label": "a", "csrf": "forged"}).status_code
        == 400
    )
    with database.session() as db:
        assert db.get(Tracker, SURVEYOR) is None


# The charging station ----------------------------------------------------------------------------------


def test_an_operator_hands_a_tracker_out_and_takes_it_back_at_the_gatehouse(database, client, clock):
    with database.session() as db:
        store.save_reports(db, [radio(11, T0, "first_empty")], SITES)
    token = sign_in(client, database, "op", ["operator"])
    out = client.post(
        "/minesafe/gatehouse/checkouts",
        data={"tracker": SURVEYOR, "person": " Иванов Пётр ", "csrf": token},
        follow_redirects=False,
    )
    assert out.status_code == 303 and out.headers["location"].startswith("/minesafe/gatehouse?out=")
    html = client.get(out.headers["location"]).text
    assert "Трекер surveyor выдан: Иванов Пётр." in html and "на руках" in html
    with database.session() as db:
        checkout = db.scalars(select(Checkout)).one()
        assert (checkout.tracker, checkout.person, checkout.shift_day.isoformat(), checkout.shift) == (
            SURVEYOR,
            "Иванов Пётр",
            "2026-11-20",
            "day",
        )
        assert (checkout.out_at, checkout.out_by, checkout.in_at) == (NOW, "op", None)
        number = checkout.id

    again = client.post(
        "/minesafe/gatehouse/checkouts", data={"tracker": SURVEYOR, "person": "Петров", "csrf": token}
    )
    assert again.status_code == 409
    assert (
        'href="#out-tracker"' in again.text
        and "Трекер quarry:11 уже выдан (Иванов Пётр, с 2026-11-20 14:00)" in again.text
    )
    assert 'value="Петров"' in again.text  # what was typed is kept

    clock.advance(minutes=50)  # within the session's idle time
    back = client.post(
        "/minesafe/gatehouse/returns",
        data={"tracker": SURVEYOR, "note": "ремешок порван", "csrf": token},
        follow_redirects=False,
    )
    assert back.status_code == 303
    assert "Трекер surveyor принят, сдал: Иванов Пётр." in client.get(back.headers["location"]).text
    with database.session() as db:
        checkout = db.get(Checkout, number)
        assert (checkout.in_at, checkout.in_by, checkout.in_battery_state, checkout.note) == (
            NOW + timedelta(minutes=50),
            "op",
            "first_empty",
            "ремешок порван",
        )
        actions = [e.action for e in events_for(db, object_type="checkout", object_id=number)]
    assert actions == ["minesafe.tracker_checked_out", "minesafe.tracker_checked_in"]

    twice = client.post("/minesafe/gatehouse/returns", data={"tracker": SURVEYOR, "csrf": token})
    assert twice.status_code == 409 and 'href="#in-tracker"' in twice.text
    assert "Трекер quarry:11 не выдан — принимать нечего." in twice.text
    assert (
        client.post(
            "/minesafe/gatehouse/checkouts",
            data={"tracker": SURVEYOR, "person": "Петров", "csrf": token},
            follow_redirects=False,
        ).status_code
        == 303
    )  # back at the station: it may go out again


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"tracker": "", "person": "Иванов"}, "out-tracker", "Выберите трекер."),
        (
            {"tracker": "quarry:99", "person": "Иванов"},
            "out-tracker",
            "В реестре нет трекера с таким номером.",
        ),
        ({"tracker": "q" * 500, "person": "Иванов"}, "out-tracker", "В реестре нет трекера с таким номером."),
        ({"tracker": SURVEYOR, "person": "  "}, "out-person", "Введите имя того, кто берёт трекер."),
        ({"tracker": SURVEYOR, "person": "Ива\x00нов"}, "out-person", "Уберите переводы строк"),
        ({"tracker": SURVEYOR, "person": "И" * 121}, "out-person", "Введите не больше 120 символов."),
    ],
)
def test_a_bad_check_out_names_its_field(database, client, form, field, message):
    token = sign_in(client, database, "op", ["operator"])
    reply = client.post("/minesafe/gatehouse/checkouts", data=form | {"csrf": token})
    assert reply.status_code == 400
    summary = reply.text[reply.text.index('id="error-summary"') :].split("</div>")[0]
    assert f'href="#{field}"' in summary and message in summary
    with database.session() as db:
        assert db.scalars(select(Checkout)).all() == []


def test_a_bad_check_in_names_its_field(database, client):
    token = sign_in(client, database, "op", ["operator"])
    for tracker_id, message in (("", "Выберите трекер."), ("quarry:99", "В реестре нет трекера")):
        reply = client.post("/minesafe/gatehouse/returns", data={"tracker": tracker_id, "csrf": token})
        assert reply.status_code == 400 and 'href="#in-tracker"' in reply.text and message in reply.text


def test_trackers_missing_from_an_earlier_shift_come_first(database, client, clock):
    token = sign_in(client, database, "op", ["operator"])
    clock.at = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 07:00 local: the night shift of the 19th
    for tracker_id, person in ((BLASTER, "Сидоров"), (SURVEYOR, "Иванов")):
        client.post(
            "/minesafe/gatehouse/checkouts", data={"tracker": tracker_id, "person": person, "csrf": token}
        )
    client.post("/minesafe/gatehouse/returns", data={"tracker": SURVEYOR, "csrf": token})
    clock.at = NOW
    client.post("/minesafe/gatehouse/checkouts", data={"tracker": TRUCK, "person": "Козлов", "csrf": token})
    html = client.get("/minesafe/gatehouse").text
    missing = html[html.index('id="missing"') : html.index("</table>", html.index('id="missing"'))]
    assert "Не сданы с прошлой смены: 1" in missing and "Сидоров" in missing and "Иванов" not in missing
    shift = html[html.index('id="shift-checkouts"') :].split("</table>")[0]
    assert "Козлов" in shift and "Сидоров" not in shift and "Эта смена: на руках 1, сдано 0" in shift
    assert html.index('id="missing"') < html.index('id="out-title"') < html.index('id="shift-checkouts"')
    assert "Смена: 20.11.2026, дневная смена (08:00–20:00)." in html
    taken_back = re.search(r'<select id="in-tracker".*?</select>', html, re.S).group(0)
    assert BLASTER in taken_back and TRUCK in taken_back and SURVEYOR not in taken_back
    handed_out = re.search(r'<select id="out-tracker".*?</select>', html, re.S).group(0)
    assert SURVEYOR in handed_out and BLASTER not in handed_out

    previous = client.get("/minesafe/api/checkouts?shift=2026-11-19:night").json()
    assert [(c["tracker"], c["person"], c["in_by"]) for c in previous["checkouts"]] == [
        (BLASTER, "Сидоров", None),
        (SURVEYOR, "Иванов", "op"),
    ]


def test_a_viewer_sees_the_station_without_its_forms_and_cannot_post(database, client):
    token = sign_in(client, database, "gate", ["viewer"])
    html = client.get("/minesafe/gatehouse").text
    assert 'id="station-title"' in html and "/minesafe/gatehouse/checkouts" not in html
    for path, form in (
        ("checkouts", {"tracker": SURVEYOR, "person": "a"}),
        ("returns", {"tracker": SURVEYOR}),
    ):
        assert client.post(f"/minesafe/gatehouse/{path}", data=form | {"csrf": token}).status_code == 403
    sign_in(client, database, "op", ["operator"])
    assert (
        client.post("/minesafe/gatehouse/checkouts", data={"tracker": SURVEYOR, "person": "a"}).status_code
        == 400
    )
    with database.session() as db:
        assert db.scalars(select(Checkout)).all() == []


# The JSON API ------------------------------------------------------------------------------------------


def test_the_api_hands_out_takes_back_and_lists_a_shift(database, client, clock):
    token = sign_in(client, database, "op", ["operator"])
    headers = {"X-CSRF-Token": token}
    made = client.post(
        "/minesafe/api/checkouts", json={"tracker": SURVEYOR, "person": "Иванов"}, headers=headers
    )
    assert made.status_code == 201
    body = made.json()
    assert body == {
        "id": body["id"],
        "tracker": SURVEYOR,
        "person": "Иванов",
        "shift": "2026-11-20:day",
        "out_at": "2026-11-20T09:00:00Z",
        "out_by": "staff:op",
        "in_at": None,
        "in_by": None,
        "battery_state_in": None,
        "battery_percent_in": None,
        "note": "",
    }
    twice = client.post(
        "/minesafe/api/checkouts", json={"tracker": SURVEYOR, "person": "Пётр"}, headers=headers
    )
    assert twice.status_code == 409 and twice.json()["field"] == "tracker"
    assert "already out" in twice.json()["reason"]

    listed = client.get("/minesafe/api/checkouts").json()
    assert listed["shift"] == "2026-11-20:day" and [c["id"] for c in listed["checkouts"]] == [body["id"]]
    assert listed["not_returned_before"] == []

    clock.advance(minutes=30)
    back = client.post(f"/minesafe/api/checkouts/{body['id']}/return", json={"note": "ok"}, headers=headers)
    assert back.status_code == 200
    assert (back.json()["in_at"], back.json()["in_by"], back.json()["note"]) == (
        "2026-11-20T09:30:00Z",
        "staff:op",
        "ok",
    )
    again = client.post(f"/minesafe/api/checkouts/{body['id']}/return", headers=headers)
    assert again.status_code == 409 and again.json()["field"] == "checkout_id"
    assert client.post("/minesafe/api/checkouts/999/return", headers=headers).status_code == 404

    table = client.get("/minesafe/api/checkouts.csv?shift=2026-11-20:day")
    assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert [(r["tracker"], r["person"], r["in_by"], r["note"]) for r in rows] == [
        (SURVEYOR, "Иванов", "staff:op", "ok")
    ]
    assert client.get("/minesafe/api/checkouts?shift=2026-11-19:night").json()["checkouts"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tracker": "quarry:99", "person": "a"}, "tracker"),
        ({"tracker": "", "person": "a"}, "tracker"),
        ({"tracker": SURVEYOR, "person": ""}, "person"),
        ({"tracker": SURVEYOR, "person": "a\u0085b"}, "person"),
        ({"tracker": SURVEYOR, "person": "x" * 5000}, "person"),
        ({"tracker": SURVEYOR, "person": "a", "note": "n" * 501}, "note"),
        ({"tracker": SURVEYOR, "person": "a", "surprise": 1}, "surprise"),
        ({"tracker": 11, "person": "a"}, "tracker"),
    ],
)
def test_the_api_names_every_bad_field(database, client, body, field):
    token = sign_in(client, database, "op", ["operator"])
    reply = client.post("/minesafe/api/checkouts", json=body, headers={"X-CSRF-Token": token})
    assert reply.status_code == 400 and reply.json()["field"] == field


def test_the_api_refuses_a_bad_shift_viewers_writing_and_forged_tokens(database, client):
    token = sign_in(client, database, "gate", ["viewer"])
    for shift in ("2026-11-20", "2026-11-20:evening", "20.11.2026:day", "2026-13-01:day", "x" * 500):
        reply = client.get("/minesafe/api/checkouts", params={"shift": shift})
        assert reply.status_code == 400 and reply.json()["field"] == "shift", shift
    body = {"tracker": SURVEYOR, "person": "a"}
    assert (
        client.post("/minesafe/api/checkouts", json=body, headers={"X-CSRF-Token": token}).status_code == 403
    )
    sign_in(client, database, "op", ["operator"])
    assert client.post("/minesafe/api/checkouts", json=body).status_code == 403  # no X-CSRF-Token
    signed_out = TestClient(client.app, base_url="http://testserver")
    assert signed_out.get("/minesafe/api/checkouts").status_code == 401
    with database.session() as db:
        assert db.scalars(select(Checkout)).all() == []


def test_the_tracker_api_carries_the_registry(database, client):
    with database.session() as db:
        store.save_reports(db, [radio(11, T0, "first_empty")], SITES)
    token = sign_in(client, database, "op", ["operator"])
    client.post(
        f"/minesafe/trackers/{SURVEYOR}", data={"assigned_to": "Иванов", "personnel_no": "7", "csrf": token}
    )
    found = {t["id"]: t for t in client.get("/minesafe/api/trackers").json()}[SURVEYOR]
    assert (found["assigned_to"], found["personnel_no"], found["battery_state"]) == (
        "Иванов",
        "7",
        "first_empty",
    )


# Retention ---------------------------------------------------------------------------------------------


def positions_at(database, moments: list[datetime]) -> None:
    rows = [
        {
            "site": "quarry",
            "tracker": SURVEYOR,
            "at": at,
            "x": 1.0,
            "y": 2.0,
            "latitude": LAT,
            "longitude": LON,
        }
        | {"speed": 0.0, "heading": None, "sos": False}
        for at in moments
    ]
    with database.session() as db:
        db.execute(Position.__table__.insert(), rows)


def kept(database) -> list[datetime]:
    with database.session() as db:
        return list(db.scalars(select(Position.at).where(Position.x == 1.0).order_by(Position.at)))


def test_the_retention_job_deletes_exactly_the_positions_older_than_the_setting(database):
    cut = NOW - timedelta(days=90)
    old = [
        cut - timedelta(days=400),
        cut - timedelta(days=1),
        cut - timedelta(seconds=1),
        cut - timedelta(microseconds=1000),
    ]
    young = [cut, cut + timedelta(seconds=1), NOW - timedelta(hours=1), NOW]
    positions_at(database, old + young)
    stored(database)  # alarms (and the trackers' latest fixes) are kept
    with database.session() as db:
        alarms = db.scalar(select(func.count()).select_from(Alarm))
        summary = forget_old_positions(db, now=NOW, batch=3)  # several batches
    assert summary == "4 position(s) older than 90 days deleted"
    assert kept(database) == young
    with database.session() as db:
        assert db.scalar(select(func.count()).select_from(Alarm)) == alarms > 0
        assert db.get(Tracker, "quarry:0") is not None


def test_the_retention_days_come_from_the_environment(database, monkeypatch):
    monkeypatch.setenv("TOCSIN_MINESAFE_KEEP_POSITIONS_DAYS", "7")
    get_settings.cache_clear()
    positions_at(database, [NOW - timedelta(days=8), NOW - timedelta(days=6)])
    assert run_job_now(database, FORGET_POSITIONS, now=NOW) == "1 position(s) older than 7 days deleted"
    assert kept(database) == [NOW - timedelta(days=6)]
    assert FORGET_POSITIONS in desk.jobs and FORGET_POSITIONS.daily_at is not None
    monkeypatch.setenv("TOCSIN_MINESAFE_KEEP_POSITIONS_DAYS", "0")
    get_settings.cache_clear()
    with pytest.raises(ValueError, match="minesafe_keep_positions_days"):
        get_settings()


def test_the_database_itself_refuses_a_second_open_check_out(database):
    from sqlalchemy.exc import IntegrityError

    with database.session() as db:
        checkouts.check_out(db, tracker=SURVEYOR, person="Иванов", by="op", now=NOW)
    with pytest.raises(IntegrityError), database.session() as db:  # as a second screen would, unchecked
        db.add(
            Checkout(
                tracker=SURVEYOR, person="Петров", shift_day=NOW.date(), shift="day", out_at=NOW, out_by="op"
            )
        )
        db.flush()
    with database.session() as db:
        with pytest.raises(checkouts.Again):
            checkouts.check_out(db, tracker=SURVEYOR, person="Петров", by="op", now=NOW)
        assert [c.person for c in db.scalars(select(Checkout))] == ["Иванов"]
