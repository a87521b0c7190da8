"""Browser flow of the profile page: a wrong phone is named in the error summary (focused, linked to the
field), then e-mail and phone are set, channels chosen with the keyboard and mouse, and kept."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser import sign_in_page
from tests.channels import notifications_of
from tocsin.core.auth.staff import StaffUser
from tocsin.core.notify import NotifyPreference, PushSubscription


@pytest.mark.browser
def test_an_operator_sets_email_phone_and_channels(page, database, app):
    sign_in_page(page, database, "olive", ["operator"])
    page.goto("/account?lang=en")
    page.get_by_label("E-mail address").fill("olive@oi.example.org")
    page.get_by_label("Mobile phone").fill("06 12")
    page.get_by_role("button", name="Save").click()

    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Enter a phone number such as +33 6 12 34 56 78.")
    summary.get_by_role("link", name="Enter a phone number such as +33 6 12 34 56 78.").click()
    expect(page.get_by_label("Mobile phone")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("E-mail address")).to_have_value("olive@oi.example.org")

    page.get_by_label("Mobile phone").fill("06 12 34 56 78")
    failures = page.get_by_role("group", name="A delivery to a partner failed for good or was rejected")
    failures.get_by_label("SMS").check()
    digest = page.get_by_role("group", name="Daily digest of the deliveries still failed")
    digest.get_by_label("E-mail").uncheck()
    digest.get_by_label("Push").focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("status").first).to_have_text("Your profile is saved.")
    expect(page.get_by_label("Mobile phone")).to_have_value("+33 6 12 34 56 78")
    expect(failures.get_by_label("E-mail")).to_be_checked()
    expect(failures.get_by_label("SMS")).to_be_checked()
    expect(digest.get_by_label("E-mail")).not_to_be_checked()
    expect(digest.get_by_label("Push")).to_be_checked()
    with database.session() as db:
        digest_choice = db.scalar(
            select(NotifyPreference)
            .join(StaffUser, StaffUser.id == NotifyPreference.user_id)
            .where(StaffUser.username == "olive", NotifyPreference.kind == "interventions.open_failures")
        )
    assert (digest_choice.email, digest_choice.sms, digest_choice.push) == (False, False, True)

    page.get_by_role("button", name="Send me a test message").click()
    expect(page.get_by_role("status").first).to_have_text("Test messages queued: 1.")
    assert [(n.channel, n.address) for n in notifications_of(database)] == [("email", "olive@oi.example.org")]


@pytest.fixture
def settings(settings):
    """Push set up on this server: the profile page offers this device."""
    from tocsin.core.outbox.transports.push import new_vapid_key

    return settings.model_copy(
        update={"vapid_private_key": new_vapid_key()[0], "vapid_subject": "mailto:ops@oi.example.org"}
    )


@pytest.mark.browser
def test_the_push_button_runs_its_script_and_says_what_happened(page, database):
    """Headless Chromium has no push service: the script must say so, and no device is stored."""
    sign_in_page(page, database, "olive", ["operator"])
    page.goto("/account?lang=en")
    button = page.get_by_role("button", name="Receive push notifications on this device")
    expect(button).to_be_visible()  # hidden in the HTML; the script shows it where push is supported
    button.click()
    expect(page.locator("#push-status")).to_have_text(
        re.compile(
            "Notifications are blocked for this site in your browser settings."
            "|The device could not be added. Try again later."
        )
    )
    expect(button).to_be_enabled()
    with database.session() as db:
        assert list(db.scalars(select(PushSubscription))) == []
