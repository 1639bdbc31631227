"""{% timestamp %} renders what the `date` filter pair it replaces rendered; spans of time read plainly."""

import zoneinfo
from datetime import UTC, datetime

import pytest
from django.template import engines
from django.utils import timezone

from helpdesk.display import shown_duration

WITH_FILTERS = (
    """<time datetime="{{ v|date:'c' }}">{{ v|date:"j M Y, H:i" }}</time>"""
    """<time datetime="{{ v|date:'c' }}">{{ v|date:"j M, H:i" }}</time>"""
)
WITH_TAG = "{% load timestamps %}{% timestamp v %}{% timestamp v with_year=False %}"


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"])
@pytest.mark.parametrize(
    "value", [datetime(2026, 3, 29, 1, 30, tzinfo=UTC), datetime(2026, 11, 2, 23, 5, 7, 123, tzinfo=UTC)]
)
def test_timestamp_matches_the_date_filter(zone, value, time_machine):
    time_machine.move_to(datetime(2026, 12, 3, 12, 0, tzinfo=UTC), tick=False)  # the values' year
    with timezone.override(zoneinfo.ZoneInfo(zone)):
        expected = engines["django"].from_string(WITH_FILTERS).render({"v": value})
        assert engines["django"].from_string(WITH_TAG).render({"v": value}) == expected


def test_a_time_of_another_year_keeps_its_year_where_this_years_drop_it(time_machine):
    """In a list of this year's times the year is noise; last December's 3 Dec must not read as this
    one's. The year is "this year" in the reader's zone: on 1 January in Kolkata, 31 December in UTC is
    last year's."""
    time_machine.move_to(datetime(2026, 12, 31, 20, 0, tzinfo=UTC), tick=False)  # 1 Jan 2027 in Kolkata
    tag = engines["django"].from_string("{% load timestamps %}{% timestamp v with_year=False %}")
    recent, older = datetime(2026, 12, 3, 13, 5, tzinfo=UTC), datetime(2024, 12, 3, 13, 5, tzinfo=UTC)
    assert ">3 Dec, 13:05<" in tag.render({"v": recent})
    assert ">3 Dec 2024, 13:05<" in tag.render({"v": older})
    with timezone.override(zoneinfo.ZoneInfo("Asia/Kolkata")):
        assert ">3 Dec 2026, 18:35<" in tag.render({"v": recent})


def test_no_value_renders_nothing():
    assert engines["django"].from_string("{% load timestamps %}{% timestamp v %}").render({"v": None}) == ""


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (86400, "a day"),
        (3 * 86400, "3 days"),
        (3600, "an hour"),
        (36 * 3600, "36 hours"),
        (90 * 60, "90 minutes"),
        (60, "a minute"),
        (61, "2 minutes"),
        (0, "a minute"),
    ],
)
def test_a_span_of_time_reads_in_the_largest_unit_that_divides_it(seconds, shown):
    assert shown_duration(seconds) == shown


def test_dates_django_formats_itself_use_the_24_hour_clock_as_the_site_does():
    """The admin prints datetimes with Django's own formats: "4 Dec 2026, 13:05", not "1:05 p.m."."""
    from datetime import UTC, datetime

    from django.template import Context, Template

    moment = datetime(2026, 12, 4, 13, 5, tzinfo=UTC)
    shown = Template("{{ moment }}|{{ moment|time }}|{{ moment|date:'SHORT_DATETIME_FORMAT' }}").render(
        Context({"moment": moment})
    )
    assert shown == "4 Dec 2026, 13:05|13:05|04/12/2026 13:05"
