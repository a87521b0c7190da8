"""Notification messages come from template files per kind and language: the recipient's language, English
when it has none; only the HTML body is autoescaped; SMS and push bodies are trimmed to their limits."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import jinja2
import pytest

from tocsin.core import notify
from tocsin.core.notify.kinds import PUSH_BODY_LIMIT, SMS_LIMIT

PARIS = ZoneInfo("Europe/Paris")
AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def words(language: str, **context):
    return notify.render(
        notify.TEST, language=language, context={"name": "Zoé", "at": AT, **context}, zone=PARIS
    )


def test_french_and_english_files_are_used_for_their_readers():
    french, english = words("fr"), words("en")
    assert french.subject == "Tocsin : message d’essai pour Zoé" and french.language == "fr"
    assert english.subject == "Tocsin: test message for Zoé" and english.language == "en"
    assert "20/11/2026\u00a010:00 (heure de Paris)" in french.text
    assert "20/11/2026, 10:00 (Paris time)" in english.text.replace("\u00a0", " ")


def test_a_language_without_files_falls_back_to_english():
    assert words("vi").language == "en" and words("vi").subject == "Tocsin: test message for Zoé"


def test_only_the_html_body_is_escaped():
    rendered = words("en", name='<b>"Zoé"</b>')
    assert '<b>"Zoé"</b>' in rendered.text and "&lt;b&gt;&#34;Zoé&#34;&lt;/b&gt;" in rendered.html


def test_a_missing_value_is_an_error_not_a_blank():
    with pytest.raises(jinja2.UndefinedError):
        notify.render(notify.TEST, language="en", context={"at": AT}, zone=PARIS)


def test_sms_and_push_bodies_are_trimmed_to_their_limits():
    long = words("fr", name="Zoé " * 200)
    assert len(long.sms()) == SMS_LIMIT and long.sms().endswith("...") and "\u00a0" not in long.sms()
    push = long.push("/account")
    assert len(push["body"]) == PUSH_BODY_LIMIT and push["body"].endswith("…") and push["url"] == "/account"
    assert len(push["title"]) <= 100
    short = words("fr")
    assert short.sms() == short.text.strip().replace("\u00a0", " ").replace("’", "'")
    assert "’" in short.text  # the e-mail keeps the typographic apostrophe; the SMS stays in GSM-7


@pytest.mark.parametrize(
    ("key", "channels", "reason"),
    [
        ("Core.Test", ("email",), "write <desk>.<name>"),
        ("core.a_name_longer_than_forty_characters_at_all", ("email",), "40 characters"),
        ("core.test", ("fax",), "unknown channel"),
        ("core.nothing_here", ("email",), "subject.en.txt is missing"),
    ],
)
def test_a_kind_is_checked_when_declared(key, channels, reason):
    with pytest.raises(ValueError, match=reason):
        notify.declare(key, label="x", templates=notify.CORE_TEMPLATES, default_channels=channels)
