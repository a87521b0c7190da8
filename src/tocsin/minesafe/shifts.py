"""The quarry's two shifts, 08:00–20:00 ("day") and 20:00–08:00 ("night"), in the desk's local time."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Asia/Yekaterinburg")
DAY_STARTS, NIGHT_STARTS = time(8, 0), time(20, 0)
SHIFTS = ("day", "night")


def shift_of(moment: datetime, zone: ZoneInfo = ZONE) -> str:
    """ "day" or "night" at ``moment`` (an aware datetime)."""
    local = moment.astimezone(zone).time()
    return "day" if DAY_STARTS <= local < NIGHT_STARTS else "night"


def shift_start(moment: datetime, zone: ZoneInfo = ZONE) -> datetime:
    """When the shift holding ``moment`` began (aware, in ``zone``)."""
    local = moment.astimezone(zone)
    day = local.date()
    if local.time() >= NIGHT_STARTS:
        start = NIGHT_STARTS
    elif local.time() >= DAY_STARTS:
        start = DAY_STARTS
    else:
        day, start = day - timedelta(days=1), NIGHT_STARTS
    return datetime.combine(day, start, tzinfo=zone)
