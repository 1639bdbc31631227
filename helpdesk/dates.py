"""Days as the viewer counts them: a date filter's day is the whole of that day in their time zone."""

from datetime import date, datetime, time, timedelta

from django.utils import timezone

# Dates outside this range would overflow once shifted to UTC; nothing was recorded there anyway.
EARLIEST, LATEST = date(1900, 1, 1), date(9000, 1, 1)


def start_of(day: date, *, days_later: int = 0) -> datetime:
    """The first instant of `day` (plus `days_later`) in the current time zone. A range of days ends
    before the start of the day after its last: at the last instant of that day instead, an hour the
    clocks repeat at midnight (America/Santiago in April) would fall in no day at all."""
    day = min(max(day, EARLIEST), LATEST) + timedelta(days=days_later)
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())
