"""Rule 9: flags the OI can compute; they are shown and never block."""

from tests.interventions.support import interventions, m1, m3, token_for


def declare(client, headers, body):
    return client.post("/v1/intervention_DO", json=body, headers=headers).json()


def flags(database):
    [intervention] = interventions(database)
    return set(intervention.flags)


def test_start_in_the_future_is_flagged_not_refused(client, do_headers, database, clock):
    # the clock is 2026-11-20 09:00 UTC = 10:00 Paris
    assert declare(client, do_headers, m1(Debut_Inter="2026-11-20T10:30:00+01:00"))["Code_Reponse"] == 0
    assert "hd_in_future" in flags(database)


def test_start_within_tolerance_is_not_flagged(client, do_headers, database):
    declare(client, do_headers, m1(Debut_Inter="2026-11-20T10:04:00+01:00"))
    assert flags(database) == set()


def test_m1_received_long_after_the_start_is_flagged(client, do_headers, database):
    declare(client, do_headers, m1(Debut_Inter="2026-11-20T09:30:00+01:00"))
    assert "late_m1" in flags(database)


def test_implausibly_long_intervention_is_flagged(client, database, clock):
    clock.advance(hours=12)
    do_headers = {"Authorization": f"Bearer {token_for(client, 'doxx')}"}
    declare(client, do_headers, m3(Fin_Inter="2026-11-20T21:00:00+01:00"))
    assert "long_intervention" in flags(database)


def test_end_in_the_future_is_flagged(client, do_headers, database):
    declare(client, do_headers, m1(Debut_Inter="2026-11-20T09:58:00+01:00"))
    declare(
        client, do_headers, m3(Debut_Inter="2026-11-20T09:58:00+01:00", Fin_Inter="2026-11-20T12:00:00+01:00")
    )
    assert "hf_in_future" in flags(database)
