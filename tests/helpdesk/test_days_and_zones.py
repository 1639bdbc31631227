"""Time, dates and time zones. Every page shows times in the viewer's zone and says which; date-range
filters cover whole days of the viewer's zone (DST days of 23 and 25 hours, a last hour the clocks
repeat at midnight, zones at +14 and -11); suspensions entered in the admin lift at the right instant;
custom-field dates are dates; a zone the tz database dropped survives an admin edit; a bad zone name
never breaks a page."""

import re
import uuid
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from django.urls import reverse

from accounts import services as account_services
from accounts.models import User
from audit.models import AuditEvent
from tests.admin_pages import change_url, changelist_url, form_data
from tests.factories import (
    TEST_PASSWORD,
    TeamFactory,
    TicketFormFactory,
    make_administrator,
    make_agent,
    make_article,
    make_customer,
    make_ticket,
)
from tickets import services as ticket_services
from tickets.models import Ticket
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

QUEUE = reverse("tickets:desk_queue")
AUDIT = reverse("audit:event_list")


def text_of(response) -> str:
    """What a reader reads: tags (and their datetime attributes) dropped, entities decoded."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]*>", " ", response.content.decode())))


def subjects(response) -> set[str]:
    return {ticket.subject for ticket in response.context["queue"].tickets}


def at(ticket: Ticket, moment: datetime, *, field: str = "created_at") -> None:
    Ticket.objects.filter(pk=ticket.pk).update(**{field: moment})


@pytest.fixture
def team():
    return TeamFactory(name="Support")


def desk_with(team, zone: str, moments: dict[str, datetime], field: str = "created_at"):
    agent = make_agent(team, timezone=zone)
    customer = make_customer()
    for subject, moment in moments.items():
        at(make_ticket(customer, team=team, subject=subject), moment, field=field)
    return agent


# --- queue date ranges: the whole last day of the viewer's zone ---------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "inside", "outside"),
    [
        # +14: 29 Mar local runs from 28 Mar 10:00 UTC to 29 Mar 10:00 UTC.
        ("Pacific/Kiritimati", "2026-03-29", [datetime(2026, 3, 28, 10, 0, tzinfo=UTC),
                                               datetime(2026, 3, 29, 9, 59, tzinfo=UTC)],
         [datetime(2026, 3, 28, 9, 59, tzinfo=UTC), datetime(2026, 3, 29, 10, 0, tzinfo=UTC)]),
        # -11: 29 Mar local runs from 29 Mar 11:00 UTC to 30 Mar 11:00 UTC.
        ("Pacific/Pago_Pago", "2026-03-29", [datetime(2026, 3, 29, 11, 0, tzinfo=UTC),
                                              datetime(2026, 3, 30, 10, 59, tzinfo=UTC)],
         [datetime(2026, 3, 29, 10, 59, tzinfo=UTC), datetime(2026, 3, 30, 11, 0, tzinfo=UTC)]),
        # Berlin, 29 Mar 2026 (clocks forward, a 23-hour day): 28 Mar 23:00 UTC to 29 Mar 22:00 UTC.
        ("Europe/Berlin", "2026-03-29", [datetime(2026, 3, 28, 23, 0, tzinfo=UTC),
                                          datetime(2026, 3, 29, 21, 59, tzinfo=UTC)],
         [datetime(2026, 3, 28, 22, 59, tzinfo=UTC), datetime(2026, 3, 29, 22, 0, tzinfo=UTC)]),
        # Berlin, 25 Oct 2026 (clocks back, a 25-hour day): 24 Oct 22:00 UTC to 25 Oct 23:00 UTC.
        ("Europe/Berlin", "2026-10-25", [datetime(2026, 10, 24, 22, 0, tzinfo=UTC),
                                          datetime(2026, 10, 25, 22, 59, tzinfo=UTC)],
         [datetime(2026, 10, 24, 21, 59, tzinfo=UTC), datetime(2026, 10, 25, 23, 0, tzinfo=UTC)]),
        # New York, 8 Mar 2026 (23 hours): 8 Mar 05:00 UTC to 9 Mar 04:00 UTC.
        ("America/New_York", "2026-03-08", [datetime(2026, 3, 8, 5, 0, tzinfo=UTC),
                                             datetime(2026, 3, 9, 3, 59, tzinfo=UTC)],
         [datetime(2026, 3, 8, 4, 59, tzinfo=UTC), datetime(2026, 3, 9, 4, 0, tzinfo=UTC)]),
        # New York, 1 Nov 2026 (25 hours): 1 Nov 04:00 UTC to 2 Nov 05:00 UTC.
        ("America/New_York", "2026-11-01", [datetime(2026, 11, 1, 4, 0, tzinfo=UTC),
                                             datetime(2026, 11, 2, 4, 59, tzinfo=UTC)],
         [datetime(2026, 11, 1, 3, 59, tzinfo=UTC), datetime(2026, 11, 2, 5, 0, tzinfo=UTC)]),
    ],
)  # fmt: skip
@pytest.mark.parametrize("field", ["created", "updated", "solved"])
def test_queue_date_range_covers_the_whole_day_of_the_viewers_zone(
    client, team, zone, day, inside, outside, field
):
    column = {"created": "created_at", "updated": "updated_at", "solved": "resolved_at"}[field]
    moments = {f"in {i}": moment for i, moment in enumerate(inside)}
    moments |= {f"out {i}": moment for i, moment in enumerate(outside)}
    agent = desk_with(team, zone, moments, field=column)
    client.force_login(agent)
    response = client.get(QUEUE, {f"{field}_after": day, f"{field}_before": day})
    assert response.status_code == 200
    assert not response.context["queue"].filterset.problems
    assert subjects(response) == {f"in {i}" for i in range(len(inside))}


# --- audit viewer's date filter ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "inside", "outside"),
    [
        ("Pacific/Kiritimati", "2026-03-29", datetime(2026, 3, 29, 9, 59, tzinfo=UTC),
         datetime(2026, 3, 29, 10, 0, tzinfo=UTC)),
        ("Pacific/Pago_Pago", "2026-03-29", datetime(2026, 3, 30, 10, 59, tzinfo=UTC),
         datetime(2026, 3, 30, 11, 0, tzinfo=UTC)),
        ("Europe/Berlin", "2026-10-25", datetime(2026, 10, 25, 22, 59, tzinfo=UTC),
         datetime(2026, 10, 25, 23, 0, tzinfo=UTC)),
        ("America/New_York", "2026-11-01", datetime(2026, 11, 2, 4, 59, tzinfo=UTC),
         datetime(2026, 11, 2, 5, 0, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_audit_date_filter_covers_the_whole_last_day_of_the_viewers_zone(client, zone, day, inside, outside):
    admin = make_administrator(timezone=zone)
    first = make_customer(name="Inside Person")
    second = make_customer(name="Outside Person")
    AuditEvent.objects.filter(object_id=str(first.pk)).update(created_at=inside)
    AuditEvent.objects.filter(object_id=str(second.pk)).update(created_at=outside)
    client.force_login(admin)
    response = client.get(AUDIT, {"date_from": day, "date_to": day})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Inside Person" in page
    assert "Outside Person" not in page


# --- pages show times in the viewer's zone ----------------------------------------------------------

# 28 Mar 2026, 20:30 UTC: 29 Mar 10:30 in Kiritimati, 28 Mar 09:30 in Pago Pago.
MOMENT = datetime(2026, 3, 28, 20, 30, tzinfo=UTC)
SHOWN = {"Pacific/Kiritimati": "29 Mar 2026, 10:30", "Pacific/Pago_Pago": "28 Mar 2026, 09:30",
         "UTC": "28 Mar 2026, 20:30"}  # fmt: skip


@pytest.fixture
def dated_ticket(team):
    customer = make_customer(timezone="Pacific/Pago_Pago", name="Carla Customer")
    ticket = make_ticket(customer, team=team, subject="Dated")
    Ticket.objects.filter(pk=ticket.pk).update(created_at=MOMENT, updated_at=MOMENT, public_updated_at=MOMENT)
    ticket.messages.update(created_at=MOMENT)
    ticket.activities.update(created_at=MOMENT)
    return Ticket.objects.get(pk=ticket.pk)


def test_workspace_thread_shows_times_in_the_agents_zone(client, team, dated_ticket, clock):
    clock.move_to(datetime(2026, 4, 1, tzinfo=UTC), tick=False)
    client.force_login(make_agent(team, timezone="Pacific/Kiritimati"))
    text = text_of(client.get(reverse("tickets:desk_ticket", args=[dated_ticket.number])))
    assert SHOWN["Pacific/Kiritimati"] in text
    assert SHOWN["UTC"] not in text


def test_portal_ticket_page_shows_times_in_the_customers_zone(client, dated_ticket, clock):
    clock.move_to(datetime(2026, 4, 1, tzinfo=UTC), tick=False)
    client.force_login(dated_ticket.requester)
    text = text_of(client.get(reverse("tickets:portal_detail", args=[dated_ticket.number])))
    assert SHOWN["Pacific/Pago_Pago"] in text
    assert SHOWN["UTC"] not in text


def test_portal_ticket_list_shows_times_in_the_customers_zone(client, dated_ticket, clock):
    clock.move_to(datetime(2026, 4, 1, tzinfo=UTC), tick=False)
    client.force_login(dated_ticket.requester)
    text = text_of(client.get(reverse("tickets:portal_list")))
    assert SHOWN["Pacific/Pago_Pago"] in text, text


def test_queue_updated_column_in_the_agents_zone(client, team, dated_ticket, clock):
    clock.move_to(datetime(2026, 4, 1, tzinfo=UTC), tick=False)
    client.force_login(make_agent(team, timezone="Pacific/Kiritimati"))
    text = text_of(client.get(QUEUE))
    assert "29 Mar, 10:30" in text


def test_kb_last_updated_is_the_date_of_the_viewers_zone(client, clock):
    article = make_article(title="Reset a password")
    type(article).objects.filter(pk=article.pk).update(content_updated_at=MOMENT)
    clock.move_to(datetime(2026, 4, 1, tzinfo=UTC), tick=False)
    client.force_login(make_customer(timezone="Pacific/Kiritimati"))
    text = text_of(client.get(reverse("knowledge:article", args=[article.slug])))
    assert "Last updated 29 Mar 2026" in text


def test_sessions_on_the_profile_page_are_in_the_viewers_zone(client, clock):
    clock.move_to(MOMENT, tick=False)
    user = make_customer(timezone="Pacific/Kiritimati", email="sess@example.org")
    client.force_login(user)
    clock.move_to(datetime(2026, 4, 1, tzinfo=UTC), tick=False)
    text = text_of(client.get(reverse("accounts:profile")))
    assert user.timezone == "Pacific/Kiritimati"
    assert SHOWN["Pacific/Kiritimati"] in text, text


def test_admin_ticket_list_shows_updated_in_the_admins_zone(client, dated_ticket, clock):
    clock.move_to(datetime(2026, 4, 1, tzinfo=UTC), tick=False)
    client.force_login(make_administrator(is_superuser=True, timezone="Pacific/Kiritimati"))
    text = text_of(client.get(changelist_url(Ticket)))
    assert "29 Mar 2026" in text and "10:30" in text, text


def test_admin_today_filter_is_the_admins_today(client, team, clock):
    """The admin's "created: Today" is today in the administrator's zone."""
    clock.move_to(datetime(2026, 3, 29, 9, 0, tzinfo=UTC), tick=False)  # 29 Mar 23:00 in Kiritimati
    customer = make_customer()
    at(make_ticket(customer, team=team, subject="Today local"), datetime(2026, 3, 28, 10, 30, tzinfo=UTC))
    at(make_ticket(customer, team=team, subject="Yesterday local"), datetime(2026, 3, 28, 9, 30, tzinfo=UTC))
    client.force_login(make_administrator(is_superuser=True, timezone="Pacific/Kiritimati"))
    page = client.get(changelist_url(Ticket))
    spec = next(s for s in page.context["cl"].filter_specs if getattr(s, "field_path", "") == "created_at")
    today = next(choice for choice in spec.choices(page.context["cl"]) if str(choice["display"]) == "Today")
    listed = client.get(changelist_url(Ticket) + today["query_string"]).content.decode()
    assert "Today local" in listed and "Yesterday local" not in listed


@pytest.mark.parametrize("url_name", ["tickets:desk_ticket", "tickets:portal_detail", "tickets:desk_queue"])
def test_pages_with_times_say_which_zone_they_are_in(client, team, dated_ticket, url_name):
    """A time without its zone reads as the reader's own: every page says the zone its times are in."""
    viewer = make_agent(team, timezone="Pacific/Kiritimati") if "desk" in url_name else dated_ticket.requester
    client.force_login(viewer)
    args = [] if url_name == "tickets:desk_queue" else [dated_ticket.number]
    text = text_of(client.get(reverse(url_name, args=args)))
    zone = str(viewer.timezone).replace("_", " ")
    assert zone in text, f"{url_name} shows times but never says they are in {zone}"


# --- a suspension "until" entered in the admin ------------------------------------------------------


def login(client, email: str):
    return client.post(reverse("accounts:login"), {"username": email, "password": TEST_PASSWORD})


@pytest.mark.parametrize(
    ("zone", "typed_day", "typed_time", "instant"),
    [
        ("America/New_York", "2026-03-08", "03:30:00", datetime(2026, 3, 8, 7, 30, tzinfo=UTC)),
        ("Europe/Berlin", "2026-10-25", "12:00:00", datetime(2026, 10, 25, 11, 0, tzinfo=UTC)),
        ("Pacific/Kiritimati", "2026-03-29", "00:00:00", datetime(2026, 3, 28, 10, 0, tzinfo=UTC)),
        ("Pacific/Pago_Pago", "2026-03-29", "23:00:00", datetime(2026, 3, 30, 10, 0, tzinfo=UTC)),
    ],
)
def test_suspension_entered_in_the_admin_lifts_at_the_instant_meant(
    client, clock, zone, typed_day, typed_time, instant
):
    clock.move_to(datetime(2026, 3, 1, tzinfo=UTC), tick=False)
    admin = make_administrator(is_superuser=True, timezone=zone)
    customer = make_customer(email="held@example.org", timezone="UTC")
    client.force_login(admin)
    page = client.get(change_url(customer))
    response = client.post(change_url(customer), form_data(
        page, status="suspended", suspension_reason="Cooling off",
        suspended_until_0=typed_day, suspended_until_1=typed_time,
    ))  # fmt: skip
    assert response.status_code == 302, response.context["adminform"].form.errors
    customer.refresh_from_db()
    assert customer.suspended_until == instant
    client.logout()
    clock.move_to(instant - timedelta(seconds=30), tick=False)
    assert login(client, "held@example.org").status_code == 422
    assert account_services.suspensions_lift_expired() == 0
    clock.move_to(instant + timedelta(seconds=1), tick=False)
    assert login(client, "held@example.org").status_code == 302
    client.logout()
    assert account_services.suspensions_lift_expired() == 1
    assert User.objects.get(pk=customer.pk).status == User.Status.ACTIVE


@pytest.mark.parametrize(
    ("typed_day", "typed_time"),
    [("2026-03-08", "02:30:00"), ("2026-11-01", "01:30:00")],  # does not exist / happens twice
)
def test_suspension_end_at_a_time_the_admins_zone_skips_or_repeats_is_a_form_error(
    client, clock, typed_day, typed_time
):
    clock.move_to(datetime(2026, 3, 1, tzinfo=UTC), tick=False)
    admin = make_administrator(is_superuser=True, timezone="America/New_York")
    customer = make_customer()
    client.force_login(admin)
    page = client.get(change_url(customer))
    response = client.post(change_url(customer), form_data(
        page, status="suspended", suspended_until_0=typed_day, suspended_until_1=typed_time,
    ))  # fmt: skip
    assert response.status_code == 422
    assert response.context["adminform"].form.errors.get("suspended_until")
    assert User.objects.get(pk=customer.pk).status == User.Status.ACTIVE


def test_suspension_message_at_sign_in_names_the_accounts_zone(client, clock):
    clock.move_to(datetime(2026, 3, 1, tzinfo=UTC), tick=False)
    customer = make_customer(email="far@example.org", timezone="Pacific/Kiritimati")
    account_services.user_suspend(
        customer, until=datetime(2026, 3, 28, 20, 30, tzinfo=UTC), reason="", actor=None
    )
    text = text_of(login(client, "far@example.org"))
    assert "until 29 Mar 2026, 10:30 (Pacific/Kiritimati)" in text


# --- auto-close at DST boundaries -----------------------------------------------------------------


@pytest.mark.parametrize(
    "resolved",
    [datetime(2026, 3, 25, 12, 0, tzinfo=UTC), datetime(2026, 10, 20, 12, 0, tzinfo=UTC),
     datetime(2026, 3, 2, 12, 0, tzinfo=UTC)],
)  # fmt: skip
def test_auto_close_after_n_days_across_dst_changes(team, clock, settings, resolved):
    settings.TICKET_AUTO_CLOSE_DAYS = 7
    clock.move_to(resolved, tick=False)
    agent = make_agent(team, timezone="Europe/Berlin")
    ticket = make_ticket(make_customer(), team=team)
    ticket_services.ticket_transition(ticket, status=Status.RESOLVED, actor=agent)
    clock.move_to(resolved + timedelta(days=7) - timedelta(minutes=1), tick=False)
    assert ticket_services.tickets_close_resolved() == 0
    clock.move_to(resolved + timedelta(days=7), tick=False)
    assert ticket_services.tickets_close_resolved() == 1
    assert Ticket.objects.get(pk=ticket.pk).status == Status.CLOSED


# --- custom-field dates have no zone --------------------------------------------------------------

DATE_FORM = [{"name": "since", "label": "Broken since", "type": "date"}]


def test_custom_field_date_is_the_same_date_for_every_reader(client, team, clock):
    clock.move_to(datetime(2026, 3, 28, 20, 30, tzinfo=UTC), tick=False)  # 29 Mar in Kiritimati
    TicketFormFactory(slug="dated", schema=DATE_FORM, default_team=team)
    customer = make_customer(timezone="Pacific/Kiritimati")
    client.force_login(customer)
    response = client.post(
        reverse("tickets:portal_submit_form", args=["dated"]),
        {
            "subject": "Help",
            "description": "Please",
            "submission_key": str(uuid.uuid4()),
            "cf_since": "2026-03-29",
        },
    )
    assert response.status_code == 302
    ticket = Ticket.objects.get(subject="Help")
    assert ticket.custom_fields == {"since": "2026-03-29"}
    client.force_login(make_agent(team, timezone="Pacific/Pago_Pago"))
    page = client.get(reverse("tickets:desk_ticket", args=[ticket.number]))
    assert 'value="2026-03-29"' in page.content.decode()
    # The agent in Pago Pago changes it: the date typed is the date stored and shown.
    response = client.post(
        reverse("tickets:desk_update", args=[ticket.number]),
        {"field": "custom_fields", "version": ticket.version, "cf-since": "2026-03-30"},
    )
    assert response.status_code == 302
    assert Ticket.objects.get(pk=ticket.pk).custom_fields == {"since": "2026-03-30"}
    client.force_login(customer)
    text = text_of(client.get(reverse("tickets:portal_detail", args=[ticket.number])))
    assert "30 Mar 2026" in text
    admin = make_administrator(timezone="Pacific/Kiritimati")
    client.force_login(admin)
    audit_text = text_of(client.get(AUDIT, {"object": ticket.reference}))
    assert "29 Mar 2026" in audit_text or "2026-03-29" in audit_text
    assert "28 Mar 2026" not in audit_text and "31 Mar 2026" not in audit_text


# --- a bad zone name on a user never breaks a page ------------------------------------------------

BAD_ZONES = ["Mars/Olympus_Mons", "zone.tab", "US/Pacific-New", "Europe//Berlin", "../../etc/passwd",
             "America", "", "<b>x</b>"]  # fmt: skip


@pytest.mark.parametrize("bad", BAD_ZONES)
def test_pages_work_for_a_user_with_a_bad_zone_in_the_database(client, team, bad):
    agent = make_agent(team)
    customer = make_customer()
    admin = make_administrator(is_superuser=True)
    ticket = make_ticket(customer, team=team)
    make_article(title="Some article")
    for user in (agent, customer, admin):
        User.objects.filter(pk=user.pk).update(timezone=bad)
    pages = {
        agent: [QUEUE, reverse("tickets:desk_ticket", args=[ticket.number]), reverse("knowledge:manage_list"),
                reverse("accounts:profile")],
        customer: [reverse("tickets:portal_list"), reverse("tickets:portal_detail", args=[ticket.number]),
                   reverse("knowledge:home"), reverse("accounts:profile")],
        admin: [AUDIT, changelist_url(Ticket), changelist_url(User), change_url(customer), change_url(admin),
                reverse("tickets:desk_ticket", args=[ticket.number])],
    }  # fmt: skip
    for user, urls in pages.items():
        client.force_login(user)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)


@pytest.mark.parametrize("posted", ["Mars/Olympus_Mons", "zone.tab", "../../etc/passwd", "", "x" * 200])
def test_a_bad_zone_posted_on_the_profile_is_refused_with_a_message(client, posted):
    user = make_customer(timezone="Europe/Berlin")
    client.force_login(user)
    response = client.post(
        reverse("accounts:profile"), {"save_profile": "1", "name": "N", "timezone": posted}
    )
    assert response.status_code == 422
    assert User.objects.get(pk=user.pk).timezone == "Europe/Berlin"


def test_a_stale_zone_survives_an_admin_edit_of_something_else(client):
    """An administrator edits a user whose zone the tz database no longer has: the zone stays on offer,
    selected (else the browser would post the list's first option, Africa/Abidjan)."""
    admin = make_administrator(is_superuser=True)
    customer = make_customer(name="Old Zone")
    User.objects.filter(pk=customer.pk).update(timezone="US/Pacific-New")
    client.force_login(admin)
    page = client.get(change_url(customer))
    html = page.content.decode()
    select = re.search(r'<select name="timezone".*?</select>', html, re.S).group(0)
    assert "selected" in select, "no zone is selected: the browser posts the first one"


def test_admin_name_change_of_a_user_with_a_stale_zone_is_saved(client):
    admin = make_administrator(is_superuser=True)
    customer = make_customer(name="Old Zone")
    User.objects.filter(pk=customer.pk).update(timezone="US/Pacific-New")
    client.force_login(admin)
    page = client.get(change_url(customer))
    response = client.post(change_url(customer), form_data(page, name="New Name"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    customer.refresh_from_db()
    assert (customer.name, customer.timezone) == ("New Name", "US/Pacific-New")


# --- a day whose last hour happens twice (clocks go back at midnight) ---------------------------------

# America/Santiago, Sat 4 Apr 2026: at Sunday 00:00 (-03) clocks go back to Saturday 23:00 (-04), so
# 23:00-23:59 on Saturday happens twice. Asia/Beirut, Sat 24 Oct 2026: the same at 00:00 (+03 -> +02).
REPEATED_HOUR = [
    ("America/Santiago", "2026-04-04", "2026-04-05", datetime(2026, 4, 5, 3, 30, tzinfo=UTC)),
    ("Asia/Beirut", "2026-10-24", "2026-10-25", datetime(2026, 10, 24, 21, 30, tzinfo=UTC)),
]


@pytest.mark.parametrize(("zone", "saturday", "sunday", "moment"), REPEATED_HOUR)
@pytest.mark.parametrize("field", ["created", "updated", "solved"])
def test_queue_to_date_includes_a_repeated_last_hour(client, team, zone, saturday, sunday, moment, field):
    """A ticket created at 23:30 on Saturday (the second time that hour comes round) is Saturday's:
    "created to Saturday" lists it, "from Sunday" does not."""
    column = {"created": "created_at", "updated": "updated_at", "solved": "resolved_at"}[field]
    agent = desk_with(team, zone, {"Second 23:30": moment}, field=column)
    client.force_login(agent)
    on_saturday = subjects(client.get(QUEUE, {f"{field}_after": saturday, f"{field}_before": saturday}))
    on_sunday = subjects(client.get(QUEUE, {f"{field}_after": sunday, f"{field}_before": sunday}))
    assert on_saturday | on_sunday == {"Second 23:30"}, "the ticket falls between the two days"
    assert on_saturday == {"Second 23:30"}


@pytest.mark.parametrize(("zone", "saturday", "sunday", "moment"), REPEATED_HOUR)
def test_audit_to_date_includes_a_repeated_last_hour(client, zone, saturday, sunday, moment):
    admin = make_administrator(timezone=zone)
    person = make_customer(name="Repeated Hour")
    AuditEvent.objects.filter(object_id=str(person.pk)).update(created_at=moment)
    client.force_login(admin)
    assert "Repeated Hour" in client.get(AUDIT, {"date_from": saturday, "date_to": saturday}).content.decode()
    assert "Repeated Hour" not in client.get(AUDIT, {"date_from": sunday, "date_to": sunday}).content.decode()


def test_the_server_local_zone_is_not_a_users_zone():
    """ "localtime" (the server's /etc/localtime) and "Factory" are files of the tz database, not zones a
    person lives in: refused."""
    from django.core.exceptions import ValidationError

    user = make_customer()
    for name in ("localtime", "Factory"):
        user.timezone = name
        with pytest.raises(ValidationError):
            user.full_clean()


def test_audit_zone_note_does_not_give_an_offset_the_listed_times_are_not_in(client, clock):
    """In July the audit viewer of an administrator in Berlin lists January's events at +01:00: its note
    gives both offsets, not July's alone (with which "13:00" would read as 11:00 UTC, not 12:00)."""
    clock.move_to(datetime(2026, 7, 1, 12, 0, tzinfo=UTC), tick=False)
    admin = make_administrator(timezone="Europe/Berlin")
    person = make_customer(name="Winter Event")
    AuditEvent.objects.filter(object_id=str(person.pk)).update(
        created_at=datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    )
    client.force_login(admin)
    text = text_of(client.get(AUDIT, {"date_to": "2026-01-31"}))
    assert "15 Jan 2026, 13:00" in text
    assert "(UTC+02:00)" not in text and "Europe/Berlin (UTC+01:00, in summer +02:00)" in text
