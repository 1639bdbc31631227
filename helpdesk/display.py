"""How stored values read on our pages and in our messages: moments, spans of time, and the
before/after values of timelines and the audit trail."""

import datetime
import unicodedata
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.dates import MONTHS_3


def shown_time(local: datetime.datetime, with_year: bool = True, seconds: bool = False) -> str:
    """'3 Dec 2026, 13:05' (without the year: '3 Dec, 13:05', for a time of this year only: last
    December's must not read as this one's; with seconds: '13:05:09'), in the zone `local` is in already.
    In the hour the clocks go back, which happens twice, with its offset: '25 Oct 2026, 02:30 (UTC+02:00)'
    and, an hour later, '(UTC+01:00)'."""
    month = str(MONTHS_3[local.month]).title()
    this_year = local.year == datetime.datetime.now(local.tzinfo).year
    year = "" if not with_year and this_year else f" {local.year}"
    clock = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
    shown = f"{local.day} {month}{year}, {clock}"
    # A moment's wall time has two offsets only in the repeated hour (a time in the skipped hour has two
    # as well, but no moment reads as one).
    offset = local.utcoffset()
    if offset is not None and local.replace(fold=1 - local.fold).utcoffset() != offset:
        shown += f" (UTC{_offset(offset)})"
    return shown


def cut(text: str, length: int) -> str:
    """`text` cut to at most `length` characters, not inside what reads as one character: a letter and its
    accents, an emoji with its skin tone or variation, a family of emoji joined by zero-width joiners, a
    flag (two regional indicators)."""
    if len(text) <= length:
        return text
    end = length
    while end > 0 and _continues(text, end):
        end -= 1
    return text[:end]


def _continues(text: str, at: int) -> bool:
    """Whether the character at `at` belongs with the one before it (cutting between them breaks both)."""
    ch, before = text[at], text[at - 1]
    code = ord(ch)
    if before == "\u200d" or ch == "\u200d" or unicodedata.category(ch) in ("Mn", "Mc", "Me"):
        return True
    if 0xFE00 <= code <= 0xFE0F or 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F:
        return True  # a variation selector, a skin tone, a subdivision flag's tag
    if _regional(ch) and _regional(before):  # the second of a pair of indicators: one flag
        run = at
        while run > 0 and _regional(text[run - 1]):
            run -= 1
        return (at - run) % 2 == 1
    return False


def _regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def shown_date(day: datetime.date) -> str:
    """'20 Dec 2026', as shown_time writes the date of a moment."""
    return f"{day.day} {str(MONTHS_3[day.month]).title()} {day.year}"


def shown_zone() -> str:
    """The current time zone as a person reads it: 'Pacific/Kiritimati (UTC+14:00)', 'Europe/Berlin
    (UTC+01:00, in summer +02:00)' (times shown from either season are in that season's offset), or
    'UTC'; with the offset of today when it is neither ('Africa/Casablanca (UTC+01:00, now +00:00)'
    during Ramadan, when Morocco's clocks go back an hour)."""
    zone = timezone.get_current_timezone()
    name = str(zone).replace("_", " ")
    if name == "UTC":
        return name
    year = timezone.now().year
    # Summer time is the larger offset, in the north (July) and the south (January) alike.
    winter, summer = sorted(
        datetime.datetime(year, month, 1, 12, tzinfo=datetime.UTC).astimezone(zone).utcoffset()
        for month in (1, 7)
    )
    shown = f"UTC{_offset(winter)}"
    if winter != summer:
        shown += f", in summer {_offset(summer)}"
    if (today := timezone.now().astimezone(zone).utcoffset()) not in (winter, summer):
        shown += f", now {_offset(today)}"
    return f"{name} ({shown})"


def _offset(delta: datetime.timedelta) -> str:
    """'+05:30', '-03:00'."""
    minutes = int(delta.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def shown_duration(seconds: int) -> str:
    """'a day', '2 days', 'an hour', '12 hours', '30 minutes', in the largest unit that divides it
    (seconds round up to minutes)."""
    for unit, length, one in (("day", 86400, "a day"), ("hour", 3600, "an hour")):
        if seconds >= length and seconds % length == 0:
            count = seconds // length
            return one if count == 1 else f"{count} {unit}s"
    minutes = max(1, -(-seconds // 60))
    return "a minute" if minutes == 1 else f"{minutes} minutes"


def shown_count(count: int, noun: str) -> str:
    """'1 ticket', '3 tickets' (nouns that take an s)."""
    return f"{count} {noun}{plural_s(count)}"


def plural_s(count: int) -> str:
    """The s of a noun counted `count` times, for a message formatted later ("{count} ticket{s}")."""
    return "" if count == 1 else "s"


def plain_number(value: int | float) -> str:
    """A number as typed, never in scientific notation: 0.00001, not 1e-05; 1e+16 as 10000000000000000."""
    return format(Decimal(repr(value)), "f")


def shown_value(value: Any) -> str:
    """A JSON value as a person reads it: '—' for nothing, yes/no, lists joined, dicts as 'key: value'."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return plain_number(value)
    if isinstance(value, list):
        return ", ".join(shown_value(item) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{key}: {shown_value(item)}" for key, item in value.items())
    return str(value)
