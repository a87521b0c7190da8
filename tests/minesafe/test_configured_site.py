"""A deployment names its site file (``TOCSIN_MINESAFE_SITE``): the dispatch room draws that site and
the ingestion runs it by default; a missing file is an error naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from tests.support import sign_in
from tocsin.minesafe import pages
from tocsin.minesafe.site import SiteError, example_site_path, load_configured_site


@pytest.fixture
def other_site(tmp_path: Path, monkeypatch):
    data = yaml.safe_load(example_site_path().read_text(encoding="utf-8"))
    data["name"] = "karier2"
    path = tmp_path / "karier2.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("TOCSIN_MINESAFE_SITE", str(path))
    pages.the_site.cache_clear()
    yield path
    pages.the_site.cache_clear()


def test_the_dispatch_room_draws_the_configured_site(other_site, app, database):
    client = TestClient(app)
    sign_in(client, database, "op", ["operator"])
    page = client.get("/minesafe/")
    assert page.status_code == 200 and "karier2" in page.text
    assert load_configured_site().name == "karier2"


def test_a_missing_site_file_names_the_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("TOCSIN_MINESAFE_SITE", str(tmp_path / "nowhere.yaml"))
    with pytest.raises(SiteError, match="TOCSIN_MINESAFE_SITE: cannot read"):
        load_configured_site()
