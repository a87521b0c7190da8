"""The YAML configuration: validated as a whole, every problem named by its path, loaded in one go."""

import pytest
import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from tests.interventions.support import OI_CONFIG
from tocsin.core.auth import ApiClient
from tocsin.interventions.config import (
    ConfigError,
    apply_config,
    parse_config,
    read_config,
    referential,
)
from tocsin.interventions.models import PM, Partner


def problems(data) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    return caught.value.problems


def test_the_spec_example_loads(database, clock):
    desk_file = parse_config(OI_CONFIG)
    with database.session() as db:
        apply_config(db, desk_file, now=clock())
    with database.session() as db:
        assert db.get(PM, "FI-12345-0001").oc_codes == ["OCBB", "OCCC"]
        assert db.get(Partner, "OCBB").url == "http://127.0.0.1:9/v1"
        scopes = {c.client_id: c.scopes for c in db.scalars(select(ApiClient))}
    assert scopes == {
        "ocbb": ["write:clients", "write:interventions"],
        "occc": ["write:clients"],
        "doxx": ["write:interventions"],
    }


def test_lower_case_code_is_named(database):
    assert any(
        p.startswith("self.code:") for p in problems({**OI_CONFIG, "self": {"code": "oiaa", "roles": ["OI"]}})
    )


def test_unknown_role_and_unknown_key_are_named():
    found = problems({**OI_CONFIG, "self": {"code": "OIAA", "roles": ["XX"]}, "colour": "blue"})
    assert any(p.startswith("self.roles.0:") for p in found)
    assert any(p.startswith("colour:") for p in found)


def test_a_pm_naming_an_oc_that_is_not_a_partner_is_refused():
    data = {**OI_CONFIG, "pms": [{"ref": "FI-1", "ocs": ["OCZZ"]}]}
    assert any("OCZZ is not a partner with role OC" in p for p in problems(data))


def test_retry_schedule_must_fit_in_a_day():
    assert any(p.startswith("retry_schedule") for p in problems({**OI_CONFIG, "retry_schedule": [60, 86400]}))


def test_unknown_time_zone_is_named():
    assert any(p.startswith("timezone") for p in problems({**OI_CONFIG, "timezone": "Mars/Olympus"}))


def test_duplicate_partner_codes_are_refused():
    partner = OI_CONFIG["partners"][0]
    assert any("listed twice" in p for p in problems({**OI_CONFIG, "partners": [partner, partner]}))


def test_a_file_that_is_not_yaml_is_refused(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("self: [unclosed")
    with pytest.raises(ConfigError):
        read_config(path)


def test_reloading_replaces_pms_and_partners(database, clock):
    with database.session() as db:
        apply_config(db, parse_config(OI_CONFIG), now=clock())
    smaller = {**OI_CONFIG, "pms": [{"ref": "FI-12345-0002", "ocs": ["OCCC"]}]}
    with database.session() as db:
        apply_config(db, parse_config(smaller), now=clock())
    with database.session() as db:
        assert [p.ref for p in db.scalars(select(PM))] == ["FI-12345-0002"]


def test_a_long_lived_session_sees_a_new_configuration_in_its_next_transaction(database, clock):
    with database.session() as db:
        apply_config(db, parse_config(OI_CONFIG), now=clock())
    smaller = {**OI_CONFIG, "pms": [{"ref": "FI-12345-0002", "ocs": ["OCCC"]}]}
    with database.session() as worker:
        assert "FI-12345-0001" in referential(worker).pm_ocs
        assert referential(worker) is referential(worker)  # read once per transaction
        worker.commit()
        with database.session() as db:
            apply_config(db, parse_config(smaller), now=clock())
        assert list(referential(worker).pm_ocs) == ["FI-12345-0002"]


def test_the_cli_prints_every_problem_and_stores_nothing(tmp_path, database, monkeypatch):
    from tocsin.core.config import get_settings
    from tocsin.interventions.cli import app

    path = tmp_path / "conf.yaml"
    path.write_text(yaml.safe_dump({**OI_CONFIG, "self": {"code": "bad", "roles": []}}))
    monkeypatch.setenv("TOCSIN_DATABASE_URL", database.url)
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["load-config", str(path)])
    get_settings.cache_clear()
    assert result.exit_code == 2
    assert "self.code" in result.output and "self.roles" in result.output
    with database.session() as db:
        assert db.scalar(select(PM)) is None


def test_the_cli_loads_a_good_file(tmp_path, database, monkeypatch):
    from tocsin.core.config import get_settings
    from tocsin.interventions.cli import app

    path = tmp_path / "conf.yaml"
    path.write_text(yaml.safe_dump(OI_CONFIG))
    monkeypatch.setenv("TOCSIN_DATABASE_URL", database.url)
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["load-config", str(path)])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "OIAA" in result.output
