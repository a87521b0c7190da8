"""The names people read for alarm types and levels (English source; Russian in the desk's catalog)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from tocsin.core.i18n import Catalogs

ALARM_TYPES = {
    "collision": "Collision danger",
    "run_over": "Run-over danger",
    "zone_approach": "Approaching a hazard zone",
    "zone_entry": "Inside a hazard zone",
    "overspeed": "Speeding",
    "sos": "SOS",
    "silent": "No signal",
    "low_battery": "Low battery",
}
LEVELS = {"DANGER": "Danger", "WARNING": "Warning", "INFO": "Information"}


@cache
def catalog() -> Catalogs:
    """The desk's own translations, for words written outside a page (SMS, OPC UA)."""
    return Catalogs([Path(__file__).parent / "locales"], ("ru", "en"))
