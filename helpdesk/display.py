"""How stored values read on our pages and in our messages: moments, spans of time, and the
before/after values of timelines and the audit trail."""

import datetime
from typing import Any

from django.utils.dates import MONTHS_3


def shown_time(local: datetime.datetime, with_year: bool = True) -> str:
    """'3 Dec 2026, 13:05' (without the year: '3 Dec, 13:05'), in the zone `local` is in already."""
    month = str(MONTHS_3[local.month]).title()
    year = f" {local.year}" if with_year else ""
    return f"{local.day} {month}{year}, {local:%H:%M}"


def shown_duration(seconds: int) -> str:
    """'a day', '2 days', 'an hour', '12 hours', '30 minutes', in the largest unit that divides it
    (seconds round up to minutes)."""
    for unit, length, one in (("day", 86400, "a day"), ("hour", 3600, "an hour")):
        if seconds >= length and seconds % length == 0:
            count = seconds // length
            return one if count == 1 else f"{count} {unit}s"
    minutes = max(1, -(-seconds // 60))
    return "a minute" if minutes == 1 else f"{minutes} minutes"


def shown_value(value: Any) -> str:
    """A JSON value as a person reads it: '—' for nothing, yes/no, lists joined, dicts as 'key: value'."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(shown_value(item) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{key}: {shown_value(item)}" for key, item in value.items())
    return str(value)
