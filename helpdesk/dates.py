"""Days as the viewer counts them: a date filter's day is the whole of that day in their time zone."""

from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

# Dates outside this range would overflow once shifted to UTC; nothing was recorded there anyway.
EARLIEST, LATEST = date(1900, 1, 1), date(9000, 1, 1)
TOO_LATE = "Give a date before the year 9000, or leave it empty for no end."
REVERSED = "The To date is before the From date."


def validate_not_too_late(moment: datetime | None) -> None:
    """An end (of a suspension, a role, an invitation) before LATEST: one at the calendar's end (31
    December 9999, "for good") would be the year 10,000 in a time zone ahead of where it was typed,
    which neither Python nor PostgreSQL can read back."""
    if moment is not None and moment.date() >= LATEST:
        raise ValidationError(TOO_LATE, code="too_late")


OUTSIDE_THE_CALENDAR = "Give a date between the years 1900 and 9000."


def validate_within_calendar(moment: date | datetime | None) -> None:
    """Any date or time typed in the admin: one at the calendar's ends (1 January 0001, 31 December 9999)
    is the year 0 or 10,000 in UTC when typed in a time zone ahead or behind, which PostgreSQL stores
    and then cannot read back (the page after saving failed)."""
    if moment is None:
        return
    day = moment.date() if isinstance(moment, datetime) else moment
    if not EARLIEST <= day < LATEST:
        raise ValidationError(OUTSIDE_THE_CALENDAR, code="outside_the_calendar")


def start_of(day: date, *, days_later: int = 0) -> datetime:
    """The first instant of `day` (plus `days_later`) in the current time zone. A range of days ends
    before the start of the day after its last: at the last instant of that day instead, an hour the
    clocks repeat at midnight (America/Santiago in April) would fall in no day at all."""
    day = min(max(day, EARLIEST), LATEST) + timedelta(days=days_later)
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())
