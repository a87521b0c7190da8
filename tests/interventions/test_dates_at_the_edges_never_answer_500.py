"""Dates at the edges, bare numbers and odd shapes never answer 500: not in M1, M3, M5 or M2/M4, not in
the technician's JSON, the outage feed or any page filter, and page numbers are bounded. A refusal is a
400 naming the field; whatever is accepted lies in the years 2000 to 2099. An M1/M3 at the very edges
of that range is answered, and a later M5 for it works."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.interventions.support import (
    add_received,
    apply_oc_config,
    m1,
    m3,
    make_declaration,
    reject,
    token_for,
)
from tests.support import csrf_of, sign_in
from tocsin.core.scheduler import run_job_now
from tocsin.interventions.jobs import JOBS
from tocsin.interventions.models import Impact, ImpactReport, Intervention, LineCut, ReceivedIntervention

EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", flags=re.ASCII)
DAY = re.compile(r"\d{4}-\d{2}-\d{2}", flags=re.ASCII)
LOCAL = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?", flags=re.ASCII)
REFS = itertools.count(1)

LATE_START, LATE_END = "2099-12-31T23:59:59-12:00", "2099-12-31T23:59:59-23:59"
EARLY_START, EARLY_END = "2000-01-01T00:00:00+23:59", "2000-01-01T00:00:00+14:00"
EDGES = [
    LATE_START,
    LATE_END,
    EARLY_START,
    EARLY_END,
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:00:00-23:59",
    "9999-12-31T23:59:59-12:00",
    "9999-12-31T23:59:59+00:00",
    "1999-12-31T23:59:59-23:59",
    "2100-01-01T00:00:00+23:59",
    "2026-11-20T10:00:00+24:00",
    "2026-02-29T10:00:00Z",
    "2026-11-20T10:00:00",
    "2026-11-20 10:00:00+01:00",
    "1763629200",
    "",
]

printable_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)


def written(moment: datetime, minutes: int, zulu: bool) -> str:
    """``moment`` (any year) written as RFC 3339 with an offset of ``minutes``."""
    if zulu and minutes == 0:
        return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}Z"
    sign = "+" if minutes >= 0 else "-"
    offset = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}{offset}"


offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59)
any_year = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59))
years_2000_to_2099 = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31, 23, 59, 59)
)
any_year_instants = st.builds(written, any_year, offsets, st.booleans())
instant_values = st.one_of(
    st.sampled_from(EDGES),
    any_year_instants,
    st.builds(written, years_2000_to_2099, offsets, st.booleans()),
    printable_text,
    st.integers(),
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.datetimes().map(datetime.isoformat),
)
day_values = st.one_of(
    st.sampled_from(["2000-01-01", "2099-12-31", "1999-12-31", "2100-01-01", "0001-01-01", "9999-12-31"]),
    st.dates().map(lambda d: f"{d.year:04d}-{d:%m-%d}"),
    years_2000_to_2099.map(lambda d: f"{d:%Y-%m-%d}"),
    st.integers().map(str),
    printable_text,
)
moment_values = st.one_of(
    st.sampled_from(["2000-01-01T00:00", "2099-12-31T23:59", "0001-01-01T00:00", "9999-12-31T23:59"]),
    any_year.map(lambda d: f"{d.year:04d}-{d:%m-%dT%H:%M}"),
    years_2000_to_2099.map(lambda d: f"{d:%Y-%m-%d %H:%M:%S}"),
    any_year_instants,
    st.integers().map(str),
    printable_text,
)


def known_edges(name: str, values: list[str]):
    """Always try these values first, then the random ones: the shapes that once answered 500."""

    def decorate(test):
        for value in values:
            test = example(**{name: value})(test)
        return test

    return decorate


INSTANT_EDGES = known_edges("value", ["0001-01-01T00:00:00-23:59", "9999-12-31T23:59:59+00:00", "1763629200"])


def in_range(text: Any, shape: re.Pattern[str]) -> bool:
    """What an acceptance must satisfy: the shape asked for, and a year from 2000 to 2099."""
    return (
        isinstance(text, str)
        and bool(shape.fullmatch(text.strip()))
        and 2000 <= int(text.strip()[:4]) <= 2099
    )


def instant_of(text: str) -> datetime:
    return datetime.fromisoformat(text.strip().upper()).astimezone(UTC)


def post_v1(client: TestClient, path: str, body: dict[str, Any], headers: dict[str, str]):
    reply = client.post(f"/v1/{path}", json=body, headers=headers)
    assert reply.status_code < 500, reply.text
    return reply


def assert_refused_naming(reply, field: str) -> None:
    assert reply.status_code == 400, reply.text
    assert reply.json()["Code_Reponse"] in (1, 2) and field in reply.json()["Description_Reponse"]


def impact_report(database) -> tuple[bool, Impact]:
    """Whether the only M5 stored arrived after midnight of the intervention's day, and its one line."""
    with database.session() as db:
        report, impact = db.scalar(select(ImpactReport)), db.scalar(select(Impact))
        return "after_midnight" in report.flags, impact


def stored_intervention(database, ref_oi: str) -> Intervention:
    with database.session() as db:
        return db.scalar(select(Intervention).where(Intervention.ref_oi == ref_oi))


# E-Intervention API


@INSTANT_EDGES
@EXAMPLES
@given(value=instant_values)
def test_m1_with_any_start_is_answered_and_accepted_only_in_range(client, do_headers, database, value):
    reply = post_v1(client, "intervention_DO", m1(f"EDGE-M1-{next(REFS)}", Debut_Inter=value), do_headers)
    if reply.status_code == 200:
        assert in_range(value, RFC3339)
        assert stored_intervention(database, reply.json()["Ref_Interv_OI"]).debut == instant_of(value)
    else:
        assert_refused_naming(reply, "Debut_Inter")


@INSTANT_EDGES
@EXAMPLES
@given(value=instant_values.filter(lambda v: v is not None))
def test_m3_with_any_end_is_answered_and_accepted_only_in_range(client, do_headers, database, value):
    body = m3(f"EDGE-M3-{next(REFS)}", Debut_Inter="2000-01-01T00:00:00+23:59", Fin_Inter=value)
    reply = post_v1(client, "intervention_DO", body, do_headers)
    if reply.status_code == 200:
        assert in_range(value, RFC3339)
        assert stored_intervention(database, reply.json()["Ref_Interv_OI"]).fin == instant_of(value)
    else:
        assert_refused_naming(reply, "Fin_Inter")


@INSTANT_EDGES
@EXAMPLES
@given(value=instant_values)
def test_m5_with_any_cut_time_is_answered_and_accepted_only_in_range(client, do_headers, occc_headers, value):
    declared = post_v1(client, "intervention_DO", m3("EDGE-M5"), do_headers).json()["Ref_Interv_OI"]
    line = {"PTO": "FI-1", "PBO": "PBO-9", "Tube": "T", "Fibre": "F", "Position_PM_Module_OI": "P"}
    body = {
        "Code_OC_impacte": "OCCC",
        "Ref_Interv_OI": declared,
        "Liste_Clients_HS": [line | {"HMS_Coupure": value}],
    }
    reply = post_v1(client, "client_HS_OC_Par_Inter", body, occc_headers)
    if reply.status_code == 200:
        assert in_range(value, RFC3339)
    else:
        assert_refused_naming(reply, "Liste_Clients_HS[0].HMS_Coupure")


@pytest.mark.parametrize(
    ("start", "end", "cut", "after_midnight"),
    [
        (LATE_START, LATE_END, "2099-12-31T23:59:59-13:00", False),
        (EARLY_START, EARLY_END, "2000-01-01T00:00:00+20:00", True),
    ],
)
def test_an_intervention_at_the_edges_of_the_range_takes_a_later_m5(
    client, do_headers, occc_headers, database, clock, start, end, cut, after_midnight
):
    ref = f"EDGE-{start[:4]}"
    assert post_v1(client, "intervention_DO", m1(ref, Debut_Inter=start), do_headers).status_code == 200
    reply = post_v1(client, "intervention_DO", m3(ref, Debut_Inter=start, Fin_Inter=end), do_headers)
    assert reply.status_code == 200
    ref_oi = reply.json()["Ref_Interv_OI"]
    line = {"PTO": "FI-1234-0001", "PBO": "P", "Tube": "T", "Fibre": "F", "Position_PM_Module_OI": "M"}
    body = {
        "Code_OC_impacte": "OCCC",
        "Ref_Interv_OI": ref_oi,
        "Liste_Clients_HS": [line | {"HMS_Coupure": cut}],
    }
    assert post_v1(client, "client_HS_OC_Par_Inter", body, occc_headers).status_code == 200
    assert impact_report(database)[0] is after_midnight
    clock.at = datetime(2100, 1, 3, tzinfo=UTC)  # a re-send long after the intervention's day
    headers = {"Authorization": f"Bearer {token_for(client, 'occc')}"}
    assert post_v1(client, "client_HS_OC_Par_Inter", body, headers).status_code == 200
    late, impact = impact_report(database)
    assert late and impact.counted and impact.cut_at == instant_of(cut)
    sign_in(client, database, "olive", ["viewer"])
    assert client.get(f"/interventions/oi/interventions/{ref_oi}").status_code == 200
    day = start[:10]
    listing = client.get("/interventions/oi/interventions", params={"since": day, "until": day})
    assert listing.status_code == 200
    figures = client.get("/interventions/oi/statistics/summary.csv", params={"since": day, "until": day})
    assert figures.status_code == 200


def test_a_year_9999_end_is_refused_so_no_later_m5_can_break(client, do_headers, occc_headers):
    body = m3("FAR-FUTURE", Fin_Inter="9999-12-31T23:59:59+00:00")
    reply = post_v1(client, "intervention_DO", body, do_headers)
    assert_refused_naming(reply, "Fin_Inter")
    assert "2000 à 2099" in reply.json()["Description_Reponse"]


@pytest.fixture
def oc_app(app, database, clock, clamd):
    apply_oc_config(database, clock())
    with TestClient(app) as web:
        yield web


@INSTANT_EDGES
@EXAMPLES
@given(value=instant_values.filter(lambda v: v is not None))
def test_m4_at_the_oc_with_any_end_is_answered_and_its_m5_still_computes(oc_app, database, clock, value):
    headers = {"Authorization": f"Bearer {token_for(oc_app, 'oiaa')}"}
    ref = f"OIAA-EDGE-{next(REFS)}"
    body = {"Code_OI": "OIAA", "Ref_Interv_OI": ref, "PM": "FI-12345-0001", "Debut_Inter": EARLY_START}
    reply = post_v1(oc_app, "intervention_OI", body | {"Fin_Inter": value}, headers)
    if reply.status_code != 200:
        assert_refused_naming(reply, "Fin_Inter")
        return
    assert in_range(value, RFC3339)
    with database.session() as db:
        received = db.scalar(select(ReceivedIntervention).where(ReceivedIntervention.ref_oi == ref))
        received_id = received.id
    sign_in(oc_app, database, "olga", ["viewer"])
    assert oc_app.get(f"/interventions/oc/received/{received_id}").status_code == 200


def test_the_m5_job_copes_with_interventions_at_the_edges(oc_app, database):
    for start, end in ((EARLY_START, EARLY_END), (LATE_START, LATE_END)):
        add_received(
            database,
            ref=f"OIAA-{start[:4]}",
            debut=datetime.fromisoformat(start),
            fin=datetime.fromisoformat(end),
        )
    job = next(j for j in JOBS if j.name == "interventions.send_due_m5")
    assert run_job_now(database, job, now=datetime(2100, 1, 3, tzinfo=UTC)) == "2 M5 queued, 0 skipped"


# The technician's JSON and the outage feed


@INSTANT_EDGES
@EXAMPLES
@given(value=instant_values)
def test_a_technician_start_at_any_time_is_answered_naming_the_field(web, database, value):
    token = sign_in(web, database, "tina", ["technician"])
    body = {"pm": "FI-12345-0001", "natures": [{"nature": 1}], "started_at": value}
    reply = web.post("/api/interventions/do/start", json=body, headers={"X-CSRF-Token": token})
    assert reply.status_code < 500, reply.text
    if reply.status_code == 200:
        assert in_range(value, RFC3339)
    else:
        assert reply.status_code == 400 and reply.json()["field"] == "started_at"


@INSTANT_EDGES
@EXAMPLES
@given(value=st.one_of(instant_values, st.none()))
def test_the_outage_json_feed_takes_any_cut_time_without_500(oc_app, database, value):
    token = sign_in(oc_app, database, "olga", ["operator"])
    cut = {"cut_at": value, "pm": "FI-12345-0001", "pto": f"FI-{next(REFS)}", "dying_gasp": "non"}
    reply = oc_app.post("/api/interventions/outages", json=[cut], headers={"X-CSRF-Token": token})
    assert reply.status_code < 500, reply.text
    if reply.status_code == 200:
        assert in_range(value, RFC3339)
        with database.session() as db:
            stored = db.scalar(select(LineCut).where(LineCut.pto == cut["pto"]))
            assert stored.cut_at == instant_of(value).replace(microsecond=0)
    else:
        assert reply.status_code == 400 and reply.json()["field"] == "line 1: cut_at"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"started_at": "0001-01-01T00:00"}, "started_at"),
        ({"started_at": "9999-12-31T23:59"}, "started_at"),
        ({"ended_at": "1763629200"}, "ended_at"),
        ({"ended_at": "2026-11-20T10:05+01:00"}, "ended_at"),
        ({"lines": "abc"}, "pm"),
        ({"lines": str(10**9)}, "pm"),
    ],
)
def test_the_correction_form_refuses_odd_times_and_counts_naming_the_field(
    web, database, clock, changes, field
):
    ref = make_declaration(database, clock)
    reject(database, clock)
    token = sign_in(web, database, "olive", ["operator"])
    form = {"csrf": token, "pm": "FI-12345-0001", "started_at": "2026-11-20T10:05", "lines": "0"} | changes
    reply = web.post(f"/interventions/do/rejected/{ref}", data=form)
    assert reply.status_code == 400 and f'href="#{ref}-{field}"' in reply.text


csv_cell = st.one_of(
    st.sampled_from(EDGES),
    any_year_instants,
    st.text(
        alphabet=st.characters(exclude_categories=("Cs",), exclude_characters=',;"\r\n\x00'), max_size=30
    ),
)


@INSTANT_EDGES
@EXAMPLES
@given(value=csv_cell)
def test_the_outage_csv_takes_any_cut_time_without_500(oc_app, database, value):
    token = sign_in(oc_app, database, "olga", ["operator"])
    text = (
        f"cut_at,pm,pto,pbo,tube,fibre,position,dying_gasp\n{value},FI-12345-0001,FI-{next(REFS)},,,,,non\n"
    )
    files = {"file": ("cuts.csv", text.encode(), "text/csv")}
    reply = oc_app.post(
        "/interventions/oc/outages?lang=en", data={"csrf": token}, files=files, follow_redirects=False
    )
    assert reply.status_code in (303, 400), reply.text
    if reply.status_code == 303:
        assert in_range(value, RFC3339)
    else:
        assert "field cut_at" in reply.text


# Page filters


OI_FILTERS = [
    ("/interventions/oi/interventions", ("since", "until"), DAY),
    ("/interventions/oi/rejections", ("since", "until"), DAY),
    ("/interventions/oi/statistics", ("since", "until"), DAY),
    ("/interventions/oi/statistics/per_day.csv", ("since", "until"), DAY),
    ("/interventions/oi/deliveries", ("since", "until"), LOCAL),
]


@example(page=OI_FILTERS[0], which=1, days="9999-12-31", moments="")
@example(page=OI_FILTERS[1], which=0, days="0001-01-01", moments="")
@example(page=OI_FILTERS[4], which=0, days="", moments="0001-01-01T00:00")
@EXAMPLES
@given(
    page=st.sampled_from(OI_FILTERS),
    which=st.sampled_from([0, 1]),
    days=day_values,
    moments=moment_values,
)
def test_oi_page_filters_answer_200_or_400_naming_the_field(client, database, page, which, days, moments):
    path, names, shape = page
    value = moments if shape is LOCAL else days
    sign_in(client, database, "olive", ["operator"])
    reply = client.get(path, params={names[which]: value, "lang": "en"})
    assert reply.status_code in (200, 400), reply.text
    if reply.status_code == 400:
        named = [name for name in names if f'href="#{name}"' in reply.text or f"{name}:" in reply.text]
        assert named, reply.text
    elif value.strip():
        assert in_range(value, shape)


@example(since="0001-01-01T00:00", until="2026-11-20T10:00")
@EXAMPLES
@given(since=moment_values, until=moment_values)
def test_the_retry_form_asks_for_confirmation_or_answers_400_naming_the_field(client, database, since, until):
    sign_in(client, database, "olive", ["operator"])
    form = {
        "csrf": csrf_of(client.get("/interventions/oi/deliveries").text),
        "retry-partner": "OCBB",
        "retry-since": since,
        "retry-until": until,
    }
    reply = client.post("/interventions/oi/deliveries/retry", data=form, follow_redirects=False)
    assert reply.status_code in (200, 400), reply.text
    if reply.status_code == 200:
        assert in_range(since, LOCAL) and in_range(until, LOCAL)
        confirmed = client.post(
            "/interventions/oi/deliveries/retry",
            data=form | {"confirm": "yes", "retry-upto": "0"},
            follow_redirects=False,
        )
        assert confirmed.status_code == 303, confirmed.text
    else:
        assert 'href="#retry-since"' in reply.text or 'href="#retry-until"' in reply.text


@known_edges("day", ["9999-12-31", "0001-01-01"])
@EXAMPLES
@given(day=day_values)
def test_the_oc_received_list_day_filter_answers_200_or_400_naming_it(oc_app, database, day):
    sign_in(oc_app, database, "victor", ["viewer"])
    reply = oc_app.get("/interventions/oc/received", params={"day": day})
    assert reply.status_code in (200, 400), reply.text
    if reply.status_code == 400:
        assert 'href="#day"' in reply.text
    elif day.strip():
        assert in_range(day, DAY)


# Page numbers


PAGED = [
    "/interventions/oi/interventions",
    "/interventions/oi/rejections",
    "/interventions/oi/deliveries",
    "/interventions/oc/received",
]


@pytest.mark.parametrize("path", PAGED)
@pytest.mark.parametrize("number", [str(10**30), "-5", "abc", "0", "²", "1e3", "9" * 5000, "100001"])
def test_a_bad_page_number_answers_400_naming_it(client, database, path, number):
    sign_in(client, database, "olive", ["operator"])
    reply = client.get(path, params={"page": number, "lang": "en"})
    assert reply.status_code == 400 and 'href="#page"' in reply.text
    assert "Enter a whole number from 1 to 100000." in reply.text


@pytest.mark.parametrize("path", PAGED)
def test_a_page_past_the_end_shows_the_last_page(client, database, path):
    sign_in(client, database, "olive", ["operator"])
    assert client.get(path, params={"page": "100000"}).status_code == 200


@pytest.mark.parametrize(("notice", "value"), [("queued", "²"), ("queued", "9" * 5000), ("imported", "²")])
def test_odd_counts_in_a_notice_are_ignored(client, database, notice, value):
    sign_in(client, database, "olive", ["operator"])
    path = "/interventions/oi/deliveries" if notice == "queued" else "/interventions/oc/outages"
    assert client.get(path, params={notice: value}).status_code == 200


def test_the_oc_received_list_is_paged(oc_app, database):
    start = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    for number in range(60):
        add_received(database, ref=f"OIAA-PAGED-{number:03d}", debut=start - timedelta(minutes=number))
    sign_in(oc_app, database, "victor", ["viewer"])
    first = oc_app.get("/interventions/oc/received", params={"lang": "en"})
    second = oc_app.get("/interventions/oc/received", params={"lang": "en", "page": "2"})
    assert first.text.count("OIAA-PAGED-") == 50 and "OIAA-PAGED-000" in first.text
    assert second.text.count("OIAA-PAGED-") == 10 and "OIAA-PAGED-059" in second.text
    assert 'href="?page=2"' in first.text and "Page 2 of 2" in second.text


@pytest.mark.parametrize("number", [str(10**30), str(2**63), str(2**31), "0", "-1"])
def test_a_row_number_too_large_for_the_database_answers_404(client, database, number):
    sign_in(client, database, "olive", ["operator"])
    token = csrf_of(client.get("/interventions/oi/deliveries").text)
    assert client.get(f"/interventions/oc/received/{number}").status_code == 404
    sent = client.post(
        f"/interventions/oc/received/{number}/m5", data={"csrf": token}, follow_redirects=False
    )
    assert sent.status_code == 404
    retried = client.post(
        f"/interventions/oi/deliveries/{number}/retry", data={"csrf": token}, follow_redirects=False
    )
    assert retried.status_code == 404
