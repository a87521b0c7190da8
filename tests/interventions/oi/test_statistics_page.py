"""The statistics page: tables in French and English, chart PNG, CSV exports, period errors, access."""

from __future__ import annotations

import pytest

from tests.interventions.support import add_intervention, utc
from tests.support import sign_in

PAGE = "/interventions/oi/statistics"
PERIOD = {"since": "2026-11-19", "until": "2026-11-21"}


@pytest.fixture
def data(database, oi_config):
    with database.session() as db:
        add_intervention(db, "A", do="DOXX", pm="PM-1", debut=utc(19, 22, 30), delay_min=10, impacts=(True,))
        add_intervention(db, "B", do="DOXX", pm="PM-1", debut=utc(19, 23, 30), delay_min=20)
        add_intervention(db, "C", do="OCBB", pm="PM-2", debut=utc(20, 9), delay_min=90)


def test_page_shows_the_tables_in_english(client, database, data):
    sign_in(client, database, "olive", ["viewer"])
    page = client.get(PAGE, params=PERIOD | {"lang": "en"})
    assert page.status_code == 200
    assert '<th scope="row">20/11/2026</th><td>2</td>' in page.text
    assert '<th scope="row">PM-1</th><td>2</td>' in page.text
    assert "1 (33.3%)" in page.text
    assert "<td>20\u00a0min</td>" in page.text
    assert '<th scope="row">DOXX</th><td>15\u00a0min</td><td>2</td>' in page.text
    assert "between 19/11/2026 and 21/11/2026, local days (Paris time)" in page.text
    assert "statistics/chart.png?since=2026-11-19&amp;until=2026-11-21" in page.text


def test_page_in_french(client, database, data):
    sign_in(client, database, "olive", ["operator"])
    page = client.get(PAGE, params=PERIOD | {"lang": "fr"}).text
    assert "Interventions par jour" in page and "Délai médian entre HD et réception du M1" in page
    assert '<th scope="row">20/11/2026</th><td>2</td>' in page
    assert "1 (33,3\u00a0%)" in page and "<td>20\u00a0min</td>" in page
    assert "entre le 19/11/2026 et le 21/11/2026, jours locaux (heure de Paris)" in page


def test_default_period_is_the_last_thirty_days(client, database, data):
    sign_in(client, database, "olive", ["operator"])
    page = client.get(PAGE, params={"lang": "en"}).text
    assert 'value="2026-10-22"' in page and 'value="2026-11-20"' in page


def test_csv_exports_in_the_readers_language(client, database, data):
    sign_in(client, database, "olive", ["operator"])
    english = PERIOD | {"lang": "en"}
    per_day = client.get(f"{PAGE}/per_day.csv", params=english)
    assert per_day.headers["content-type"].startswith("text/csv")
    assert "attachment" in per_day.headers["content-disposition"]
    assert per_day.text == (
        "Day,Interventions,Non-working day\n2026-11-19,1,\n2026-11-20,2,\n2026-11-21,0,Weekend\n"
    )
    summary = client.get(f"{PAGE}/summary.csv", params=english).text.splitlines()
    assert summary[0].startswith("From,Until,Interventions,") and summary[0].endswith(
        ",Average per working day"
    )
    assert summary[1] == "2026-11-19,2026-11-21,3,1,0.3333,1200,2,1.5"
    delays = client.get(f"{PAGE}/delay_per_do.csv", params=english).text
    assert (
        delays
        == "DO,Median delay from HD to receipt of M1 (s),Interventions with an M1\nDOXX,900,2\nOCBB,5400,1\n"
    )
    assert client.get(f"{PAGE}/per_pm.csv", params=english).text == "PM,Interventions\nPM-1,2\nPM-2,1\n"
    french = client.get(f"{PAGE}/per_day.csv", params=PERIOD | {"lang": "fr"}).text
    assert french.splitlines()[0] == "Jour,Interventions,Jour non ouvré" and french.endswith(",Week-end\n")
    assert client.get(f"{PAGE}/secrets.csv").status_code == 404
    assert client.get(f"{PAGE}/per_day.docx", params=PERIOD).status_code == 404


def test_chart_is_a_png(client, database, data):
    sign_in(client, database, "olive", ["operator"])
    chart = client.get(f"{PAGE}/chart.png", params=PERIOD)
    assert chart.headers["content-type"] == "image/png"
    assert chart.content.startswith(b"\x89PNG\r\n\x1a\n")


def test_bad_period_names_the_field(client, database, data):
    sign_in(client, database, "olive", ["operator"])
    page = client.get(PAGE, params={"since": "2026-13-01", "lang": "en"})
    assert page.status_code == 400 and '<a href="#since">Enter a date as YYYY-MM-DD.</a>' in page.text
    page = client.get(PAGE, params={"since": "2020-01-01", "until": "2026-01-01", "lang": "en"})
    assert page.status_code == 400 and "at most 366 days" in page.text
    assert client.get(f"{PAGE}/per_day.csv", params={"until": "nope"}).status_code == 400


@pytest.mark.parametrize("url", [PAGE, f"{PAGE}/chart.png", f"{PAGE}/per_day.csv"])
def test_outsider_and_technician_are_refused(client, database, url):
    assert client.get(url, follow_redirects=False).headers["location"].startswith("/login")
    sign_in(client, database, "tech", ["technician"])
    assert client.get(url).status_code == 403
