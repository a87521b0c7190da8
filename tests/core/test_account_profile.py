"""The account page: each staff user keeps an e-mail, a phone (stored in E.164), a language, the channels
wanted per kind, and Web Push devices; a wrong field is named with the reason; hostile input is refused."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.support import csrf_of, sign_in
from tocsin.core import notify
from tocsin.core.notify import NotifyPreference, PushSubscription, StaffContact

PAGE = "/account"
ENDPOINT = "https://push.example.net/send/abc123"
KEYS = {
    "p256dh": "BOr1b0VhZ2xvcmVtaXBzdW1kb2xvcnNpdGFtZXRjb25zZWN0ZXR1cmFkaXBpc2NpbmdlbGl0c2Vk",
    "auth": "c2VjcmV0LWF1dGg",
}


@pytest.fixture
def web(app):
    with TestClient(app) as client:
        yield client


def form(web, **values) -> dict:
    token = csrf_of(web.get(PAGE).text)
    return {"csrf": token, "email": "", "phone": "", "language": "", **values}


def contact(database, username: str = "zoe") -> StaffContact | None:
    from tocsin.core.auth.staff import StaffUser

    with database.session() as db:
        user_id = db.scalar(select(StaffUser.id).where(StaffUser.username == username))
        return db.get(StaffContact, user_id)


def test_a_visitor_is_sent_to_sign_in(web):
    assert web.get(PAGE, follow_redirects=False).headers["location"] == "/login?next=/account"


def test_contact_details_and_channels_are_saved_with_the_phone_in_e164(web, database):
    sign_in(web, database, "zoe", ["operator"])
    data = form(web, email=" zoe@example.org ", phone="06 12 34 56 78", language="en")
    data["choice"] = ["core.test:email", "core.test:sms", "interventions.delivery_failed:push"]
    reply = web.post(PAGE, data=data, follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"] == "/account?saved=1"

    stored = contact(database)
    assert (stored.email, stored.phone, stored.language) == ("zoe@example.org", "+33612345678", "en")
    with database.session() as db:
        choices = {(p.kind, p.email, p.sms, p.push) for p in db.scalars(select(NotifyPreference))}
    assert ("core.test", True, True, False) in choices
    assert ("interventions.delivery_failed", False, False, True) in choices
    assert ("interventions.open_failures", False, False, False) in choices  # shown, left unticked
    page = web.get("/account?saved=1&lang=en").text
    assert "Your profile is saved." in page and 'value="+33 6 12 34 56 78"' in page
    assert 'value="core.test:sms" checked' in page


@pytest.mark.parametrize(
    ("values", "field", "reason"),
    [
        ({"phone": "12"}, "phone", "Enter a phone number such as +33 6 12 34 56 78."),
        ({"phone": "+33 1"}, "phone", "Enter a phone number such as +33 6 12 34 56 78."),
        ({"phone": "06 12 34 56 78 99 99"}, "phone", "Enter a phone number such as +33 6 12 34 56 78."),
        ({"phone": "call me"}, "phone", "Enter a phone number such as +33 6 12 34 56 78."),
        ({"email": "zoe@"}, "email", "Enter an e-mail address such as name@example.org."),
        ({"email": "zoe example@org.fr"}, "email", "Enter an e-mail address such as name@example.org."),
        ({"email": "a" * 250 + "@b.fr"}, "email", "Enter an e-mail address such as name@example.org."),
        ({"email": "<script>@x.fr"}, "email", "Enter an e-mail address such as name@example.org."),
        ({"language": "xx"}, "language", "Choose a language from the list."),
    ],
)
def test_a_wrong_field_is_named_with_the_reason_and_nothing_is_saved(web, database, values, field, reason):
    sign_in(web, database, "zoe", ["operator"])
    reply = web.post(PAGE + "?lang=en", data=form(web, **values))
    assert reply.status_code == 400
    assert f'<a href="#{field}">{reason}</a>' in reply.text
    assert f'id="{field}"' in reply.text and 'aria-invalid="true"' in reply.text
    assert "<script>@x.fr" not in reply.text
    assert contact(database) is None


def test_both_wrong_fields_are_named_and_typed_values_kept(web, database):
    sign_in(web, database, "zoe", ["operator"])
    reply = web.post(PAGE + "?lang=en", data=form(web, email="zoe@", phone="12"))
    assert reply.text.count('class="field-error"') == 2
    assert 'value="zoe@"' in reply.text and 'value="12"' in reply.text


@pytest.mark.parametrize(
    "choice", ["core.test:pigeon", "core.nope:email", "interventions.delivery_failed:email", "core.test"]
)
def test_channels_outside_the_list_are_refused(web, database, choice):
    sign_in(web, database, "tina", ["technician"])  # operators' kinds are not hers to choose
    reply = web.post(PAGE + "?lang=en", data={**form(web), "choice": [choice]})
    assert reply.status_code == 400 and '<a href="#choices">Choose channels from the list.</a>' in reply.text


def test_a_form_without_its_csrf_token_is_refused(web, database):
    sign_in(web, database, "zoe", ["operator"])
    assert web.post(PAGE, data={"email": "zoe@example.org"}).status_code == 400
    assert contact(database) is None


def devices(database) -> list[PushSubscription]:
    with database.session() as db:
        return list(db.scalars(select(PushSubscription).order_by(PushSubscription.id)))


def post_device(web, subscription, token):
    return web.post(
        "/api/account/devices", json={"subscription": subscription}, headers={"X-CSRF-Token": token}
    )


def test_a_browser_subscription_is_kept_and_can_be_removed(web, database):
    token = sign_in(web, database, "zoe", ["operator"])
    reply = post_device(web, {"endpoint": ENDPOINT, "keys": KEYS}, token)
    assert reply.status_code == 201
    [device] = devices(database)
    assert (device.endpoint, device.p256dh, device.auth) == (ENDPOINT, KEYS["p256dh"], KEYS["auth"])
    assert post_device(web, {"endpoint": ENDPOINT, "keys": KEYS}, token).status_code == 201
    assert len(devices(database)) == 1  # the same endpoint again replaces it

    sign_in(web, database, "mallory", ["operator"])
    other = csrf_of(web.get(PAGE).text)
    assert web.post(f"{PAGE}/devices/{device.id}/delete", data={"csrf": other}).status_code == 404
    assert len(devices(database)) == 1

    sign_in(web, database, "zoe", ["operator"])
    mine = csrf_of(web.get(PAGE).text)
    reply = web.post(f"{PAGE}/devices/{device.id}/delete", data={"csrf": mine}, follow_redirects=False)
    assert reply.status_code == 303 and devices(database) == []


@pytest.mark.parametrize(
    ("subscription", "field"),
    [
        ({"endpoint": "http://push.example.net/x", "keys": KEYS}, "endpoint"),
        ({"endpoint": "https://user:pw@push.example.net/x", "keys": KEYS}, "endpoint"),
        ({"endpoint": "file:///etc/passwd", "keys": KEYS}, "endpoint"),
        ({"endpoint": "https://" + "a" * 500 + ".net", "keys": KEYS}, "endpoint"),
        ({"endpoint": ENDPOINT}, "keys"),
        ({"endpoint": ENDPOINT, "keys": {"p256dh": "not base64!", "auth": "x"}}, "keys"),
        ({"endpoint": ENDPOINT, "keys": {"p256dh": "A" * 500, "auth": "x"}}, "keys"),
        ("a string", "subscription"),
    ],
)
def test_a_bad_subscription_is_refused_naming_the_field(web, database, subscription, field):
    token = sign_in(web, database, "zoe", ["operator"])
    reply = post_device(web, subscription, token)
    assert reply.status_code == 400 and reply.json()["field"] == field
    assert devices(database) == []


def test_subscribing_needs_the_csrf_token_and_a_signed_in_user(web, database):
    assert post_device(web, {"endpoint": ENDPOINT, "keys": KEYS}, "x").status_code in (400, 401)
    sign_in(web, database, "zoe", ["operator"])
    assert post_device(web, {"endpoint": ENDPOINT, "keys": KEYS}, "forged").status_code == 400
    assert devices(database) == []


def test_the_test_message_goes_to_the_channels_chosen_for_it(web, database):
    sign_in(web, database, "zoe", ["operator"])
    data = form(web, email="zoe@example.org", phone="+44 7911 123456")
    data["choice"] = ["core.test:email", "core.test:sms"]
    web.post(PAGE, data=data)
    reply = web.post(f"{PAGE}/test", data={"csrf": data["csrf"]}, follow_redirects=False)
    assert reply.headers["location"] == "/account?tested=2"
    with database.session() as db:
        sent = {(n.channel, n.address) for n in db.scalars(select(notify.Notification))}
    assert sent == {("email", "zoe@example.org"), ("sms", "+447911123456")}
