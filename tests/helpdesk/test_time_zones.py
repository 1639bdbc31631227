"""Times and dates as each reader's zone has them: a stale zone name, the audit viewer's changes, zone
and export, "Recently solved" after the auto-close, and the year of an older time in the queue."""

import json
import re
import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts.models import User
from audit.models import AuditEvent
from helpdesk.display import shown_zone
from tests.factories import (
    TEST_PASSWORD,
    TeamFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_ticket,
)
from tickets import selectors
from tickets import services as ticket_services
from tickets.models import Ticket
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

QUEUE = reverse("tickets:desk_queue")


def subjects(response) -> set[str]:
    return {ticket.subject for ticket in response.context["queue"].tickets}


def test_suspended_user_with_a_stale_time_zone_name_is_told_why_not_a_server_error(client):
    """A zone name the tz database no longer has (US/Pacific-New, removed in 2020) reads as UTC
    (User.zone): the sign-in of a suspended account with an end date answers 422 with the suspension
    message, its end in UTC."""
    user = make_customer(email="stale@example.org")
    account_services.user_suspend(
        user, until=timezone.now() + timedelta(days=3), reason="Abusive language", actor=None
    )
    User.objects.filter(pk=user.pk).update(timezone="US/Pacific-New")
    credentials = {"username": "stale@example.org", "password": TEST_PASSWORD}
    response = client.post(reverse("accounts:login"), credentials)
    assert response.status_code == 422
    assert "This account is suspended until" in response.content.decode()
    assert "(UTC)" in response.content.decode()


# --- audit viewer and export ------------------------------------------------------------------------


def test_audit_viewer_shows_a_recorded_suspension_end_in_the_viewers_zone(client):
    """A datetime among an event's changes (a suspension's end) reads in the viewer's zone, as the
    event's own time does, not as the UTC text the trail stores."""
    admin = make_administrator(timezone="Pacific/Kiritimati")
    customer = make_customer()
    until = datetime(2026, 12, 23, 23, 0, tzinfo=UTC)  # 24 Dec 2026, 13:00 in Kiritimati
    account_services.user_suspend(customer, until=until, reason="", actor=admin)
    client.force_login(admin)
    page = client.get(reverse("audit:event_list"), {"action": "suspend"}).content.decode()
    assert "2026-12-23T23:00:00Z" not in page
    assert "24 Dec 2026, 13:00" in page


def test_audit_export_records_the_zone_its_date_filter_was_read_in(client):
    """An export is recorded with its filter; "date_from 2026-03-29" selects from the start of that day in
    the exporter's zone (10:00 UTC the day before, for Pacific/Kiritimati), so the record names the zone:
    a reader of the trail can tell which 24 hours it covered."""
    admin = make_administrator(timezone="Pacific/Kiritimati")
    client.force_login(admin)
    response = client.post(reverse("audit:event_export"), {"date_from": "2026-03-29"})
    assert response.status_code == 200
    b"".join(response.streaming_content)
    export = AuditEvent.objects.get(action="export")
    recorded = json.dumps(export.changes)
    assert "2026-03-29" in recorded
    assert export.changes["filter"][1] == {"date_from": "2026-03-29", "time_zone": "Pacific/Kiritimati"}


# --- "Recently solved" ------------------------------------------------------------------------------


def test_recently_solved_does_not_list_a_ticket_solved_long_ago_that_auto_close_touched(client, clock):
    """ "Recently solved" holds the tickets solved in the last RECENTLY_SOLVED_DAYS days, by when they were
    resolved: one resolved 10 days ago and closed by the auto-close today (which updates it) is neither
    counted nor listed, while one resolved yesterday is both."""
    team = TeamFactory()
    agent = make_agent(team)
    ticket = make_ticket(make_customer(), team=team, subject="Old one")
    clock.shift(-timedelta(days=10))
    ticket_services.ticket_transition(ticket, status=Status.RESOLVED, actor=agent)
    clock.shift(timedelta(days=10))
    assert ticket_services.tickets_close_resolved() == 1
    client.force_login(agent)
    solved = next(view for view in selectors.built_in_views() if view.slug == "solved")
    assert subjects(client.get(QUEUE + "?" + solved.query)) == set()
    assert client.get(QUEUE).context["counts"]["solved"] == 0
    recent = make_ticket(make_customer(), team=team, subject="Recent one")
    ticket_services.ticket_transition(recent, status=Status.RESOLVED, actor=agent)
    assert subjects(client.get(QUEUE + "?" + solved.query)) == {"Recent one"}
    cache.clear()  # the counts of a moment ago, kept for a few seconds
    assert client.get(QUEUE).context["counts"]["solved"] == 1


def test_recently_solved_saved_as_an_agents_own_view_stays_recent_as_days_pass(client, clock):
    """ "Recently solved" saved as an agent's own view keeps its meaning: ten days on, it lists what was
    solved in the last RECENTLY_SOLVED_DAYS days then, not what was solved in the week it was saved."""
    team = TeamFactory()
    agent = make_agent(team)
    client.force_login(agent)
    solved = next(view for view in selectors.built_in_views() if view.slug == "solved")
    client.post(reverse("tickets:desk_view_create"), {"name": "My solved", "query": solved.query})
    saved = agent.saved_views.get()  # as the agent's menu links it
    then = make_ticket(make_customer(), team=team, subject="Solved the week it was saved")
    ticket_services.ticket_transition(then, status=Status.RESOLVED, actor=agent)
    assert subjects(client.get(QUEUE + "?" + saved.query)) == {"Solved the week it was saved"}

    clock.shift(timedelta(days=10))
    now = make_ticket(make_customer(), team=team, subject="Solved ten days later")
    ticket_services.ticket_transition(now, status=Status.RESOLVED, actor=agent)
    assert subjects(client.get(QUEUE + "?" + saved.query)) == {"Solved ten days later"}


@pytest.mark.parametrize(
    ("zone", "days", "listed"),
    [
        ("Pacific/Auckland", "0", {"Updated at 09:30 UTC"}),
        ("Pacific/Honolulu", "0", set()),
        ("Pacific/Honolulu", "1", {"Updated at 09:30 UTC"}),
    ],
)
def test_updated_in_a_period_counts_whole_days_in_the_readers_time_zone(client, clock, zone, days, listed):
    """ "Updated in: today" starts at the reader's own midnight. Read at 10:30 UTC on 5 December, a ticket
    updated at 09:30 UTC was updated today for a reader in Auckland (22:30 on the 5th, now 23:30) and
    yesterday for one in Honolulu (23:30 on the 4th, now 00:30 on the 5th)."""
    team = TeamFactory()
    agent = make_agent(team)
    agent.timezone = zone
    agent.save(update_fields=["timezone"])
    ticket = make_ticket(make_customer(), team=team, subject="Updated at 09:30 UTC")
    Ticket.objects.filter(pk=ticket.pk).update(updated_at=datetime(2026, 12, 5, 9, 30, tzinfo=UTC))
    clock.move_to(datetime(2026, 12, 5, 10, 30, tzinfo=UTC), tick=False)
    client.force_login(agent)
    assert subjects(client.get(QUEUE, {"updated_within": days})) == listed


# --- queue rows ----------------------------------------------------------------------------------


def test_queue_row_of_a_ticket_from_an_earlier_year_shows_its_year(client, clock):
    """The queue's "Updated" column drops this year's year ('3 Dec, 13:05'), but not another's: a ticket
    last updated in 2024 reads '3 Dec 2024, 13:05'."""
    clock.move_to(datetime(2026, 3, 29, 12, 0, tzinfo=UTC), tick=False)
    team = TeamFactory()
    agent = make_agent(team)
    ticket = make_ticket(make_customer(), team=team, subject="Ancient")
    Ticket.objects.filter(pk=ticket.pk).update(updated_at=datetime(2024, 12, 3, 13, 5, tzinfo=UTC))
    client.force_login(agent)
    page = client.get(QUEUE, {"sort": "-updated"}).content.decode()
    row = page.split("<tr data-ticket-row")[1].split("</tr>")[0]
    assert "Ancient" in row
    assert "3 Dec 2024, 13:05" in row


def test_audit_viewer_says_which_zone_its_times_and_date_filters_are_in(client, clock):
    """The audit viewer lists times and reads "From"/"To" dates in the viewer's zone, while its CSV export
    gives UTC: the page names the zone and its offset, so a page and an export can be compared."""
    clock.move_to(datetime(2026, 3, 28, 20, 0, tzinfo=UTC), tick=False)
    admin = make_administrator(timezone="Pacific/Kiritimati")
    client.force_login(admin)
    page = client.get(reverse("audit:event_list")).content.decode()
    text = re.sub(r"<[^>]*>", " ", page)  # what is read, not the <time datetime> attributes
    assert "29 Mar 2026, 10:00" in text  # the admin's own creation, shown in their zone
    assert "Times and dates are in Pacific/Kiritimati (UTC+14:00)" in text


def test_a_subject_that_reads_like_a_timestamp_is_shown_as_typed_in_the_audit_trail():
    """Only the object's date-time fields are shown in the reader's zone: a ticket subject a person typed
    as '2026-01-01T00:00Z' is text, and the audit trail shows it as typed."""
    ticket = make_ticket(make_customer(), team=TeamFactory())
    ticket_services.ticket_update_fields(
        ticket, changes={"subject": "2026-01-01T00:00Z"}, actor=make_administrator()
    )
    event = AuditEvent.objects.filter(object_id=str(ticket.pk), changes__has_key="subject").latest("sequence")
    with timezone.override(zoneinfo.ZoneInfo("Pacific/Kiritimati")):
        rows = {name: after for name, _, after in event.change_rows()}
    assert rows["subject"] == "2026-01-01T00:00Z"


@pytest.mark.parametrize(
    ("moment", "shown"),
    [(datetime(2026, 3, 1, 12, tzinfo=UTC), "Africa/Casablanca (UTC+01:00, now +00:00)"),
     (datetime(2026, 5, 1, 12, tzinfo=UTC), "Africa/Casablanca (UTC+01:00)"),
     (datetime(2026, 3, 1, 12, tzinfo=UTC), "Europe/Berlin (UTC+01:00, in summer +02:00)")],
)  # fmt: skip
def test_the_zone_note_names_todays_offset_when_it_is_neither_seasons(clock, moment, shown):
    """Morocco's clocks go back an hour for Ramadan (UTC+00:00 in March 2026, +01:00 in January and July):
    before the fix the note said +01:00 while the page's times were at +00:00."""
    clock.move_to(moment, tick=False)
    with timezone.override(zoneinfo.ZoneInfo(shown.split(" ")[0])):
        assert shown_zone() == shown


def test_audit_viewer_tells_apart_the_two_times_of_the_hour_the_clocks_go_back(client, clock):
    """00:30 and 01:30 UTC on 25 October 2026 are both 02:30 in Berlin: each is shown with its offset,
    so an investigator can order them (and a time of any other hour is shown without one)."""
    clock.move_to(datetime(2026, 10, 26, 12, 0, tzinfo=UTC), tick=False)
    admin = make_administrator(timezone="Europe/Berlin")
    first, second, later = (make_customer(name=name) for name in ("First Person", "Second Person", "Later"))
    for person, hour in ((first, 0), (second, 1), (later, 2)):
        AuditEvent.objects.filter(object_id=str(person.pk)).update(
            created_at=datetime(2026, 10, 25, hour, 30, 5, tzinfo=UTC)
        )
    client.force_login(admin)
    page = client.get(reverse("audit:event_list"), {"date_from": "2026-10-25", "date_to": "2026-10-25"})
    rows = {
        name: re.sub(r"<[^>]+>", "", row)
        for row in page.content.decode().split("<tr")[1:]
        for name in ("First Person", "Second Person", "Later")
        if name in row
    }
    assert "25 Oct 2026, 02:30:05 (UTC+02:00)" in rows["First Person"]
    assert "25 Oct 2026, 02:30:05 (UTC+01:00)" in rows["Second Person"]
    assert "25 Oct 2026, 03:30:05#" in rows["Later"].replace("\n", "").replace(" #", "#")
