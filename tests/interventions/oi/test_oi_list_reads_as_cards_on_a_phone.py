"""On a phone the OI list shows each intervention as a card: every cell carries its column's name (the
table stays a table for screen readers), so nothing scrolls sideways and no value is left unlabelled."""

from __future__ import annotations

import re

from tests.interventions.support import post_m1
from tests.support import sign_in

LIST = "/interventions/oi/interventions"


def test_every_cell_of_every_row_names_its_column(client, database, do_headers):
    post_m1(client, do_headers, "CARD-1")
    post_m1(client, do_headers, "CARD-2")
    sign_in(client, database, "olive", ["viewer"])
    page = client.get(LIST, params={"lang": "fr"}).text
    assert re.search(r'<table class="[^"]*\bstack-narrow\b[^"]*" role="table">', page)
    body = page.split("<tbody", 1)[1].split("</tbody>", 1)[0]
    rows = re.findall(r"<tr [^>]*>(.*?)</tr>", body, re.S)
    assert len(rows) == 2
    for row in rows:
        cells = re.findall(r"<t[hd] ([^>]*)>", row)
        labels = [re.search(r'data-label="([^"]+)"', cell) for cell in cells]
        assert len(cells) == 9 and all(labels), cells
        assert [m.group(1) for m in labels][:5] == ["Ref_Interv_OI", "Ref_Interv_DO", "DO", "PM", "Début"]
