"""Check a response against the official E-Intervention OpenAPI file read from ../shared/reference."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jsonschema
import yaml

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "e-intervention"
LOT1 = REFERENCE / "E-Intervention-v1.0.0.OAS3.yaml"


@lru_cache
def spec() -> dict:
    return yaml.safe_load(LOT1.read_text(encoding="utf-8"))


def check_response(method: str, path: str, status: int, body: object) -> None:
    """Raise AssertionError if the status is undocumented or the body breaks the documented schema."""
    document = spec()
    operations = document["paths"][path.removeprefix("/v1")]
    if method.lower() not in operations:
        assert status == 405, f"{method} {path}: undocumented method answered {status}, not 405"
        return
    operation = operations[method.lower()]
    documented = operation["responses"].get(str(status))
    assert documented is not None, f"{method} {path}: status {status} is not in the official OpenAPI"
    content = documented.get("content", {}).get("application/json")
    if content is None:
        return
    schema = {**content["schema"], "components": document["components"]}
    jsonschema.validate(body, schema)
