"""Times, dates and time zones as users in odd zones see and type them: admin dates at the calendar's
ends, the hour a clock change repeats, odd dates in filters and forms."""

import re
import uuid
from datetime import UTC, datetime
from html import unescape

import pytest
from django.urls import reverse

from accounts import roles
from accounts.models import Invitation, User
from knowledge.models import ArticleRevision
from tests.admin_pages import change_url, post_change
from tests.factories import (
    InvitationFactory,
    TeamFactory,
    TicketFormFactory,
    make_administrator,
    make_agent,
    make_article,
    make_customer,
    make_supervisor,
    make_ticket,
    make_user_with_role,
)
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

QUEUE = reverse("tickets:desk_queue")


def text_of(response) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]*>", " ", response.content.decode())))


@pytest.fixture
def team():
    return TeamFactory(name="Support")


# --- role expiry typed in the admin at a time the admin's zone skips or repeats ----------------------


@pytest.mark.parametrize(
    ("day", "clock_time"),
    [("2026-03-29", "02:30:00"), ("2026-10-25", "02:30:00")],  # does not exist / happens twice in Berlin
)
def test_role_expiry_at_a_skipped_or_repeated_berlin_time_is_a_form_error(client, clock, day, clock_time):
    clock.move_to(datetime(2026, 3, 1, tzinfo=UTC), tick=False)
    client.force_login(make_administrator(is_superuser=True, timezone="Europe/Berlin"))
    person = make_user_with_role(roles.AGENT)
    response = post_change(
        client, person,
        **{"role_assignments-0-expires_at_0": day, "role_assignments-0-expires_at_1": clock_time},
    )  # fmt: skip
    assert response.status_code == 422
    assert person.role_assignments.get().expires_at is None


@pytest.mark.parametrize(
    ("day", "clock_time"),
    [("2026-03-29", "02:30:00"), ("2026-10-25", "02:30:00")],
)
def test_role_assignment_admin_refuses_a_skipped_or_repeated_time(client, clock, day, clock_time):
    clock.move_to(datetime(2026, 3, 1, tzinfo=UTC), tick=False)
    client.force_login(make_administrator(is_superuser=True, timezone="Europe/Berlin"))
    person = make_user_with_role(roles.AGENT)
    assignment = person.role_assignments.get()
    response = post_change(client, assignment, expires_at_0=day, expires_at_1=clock_time)
    assert response.status_code == 422
    assert person.role_assignments.get().expires_at is None


@pytest.mark.parametrize(
    ("day", "clock_time"),
    [("2026-03-29", "02:30:00"), ("2026-10-25", "02:30:00"), ("2026-02-01", "10:00:00")],
)
def test_invitation_expiry_at_a_skipped_repeated_or_past_time_is_a_form_error(client, clock, day, clock_time):
    clock.move_to(datetime(2026, 3, 1, tzinfo=UTC), tick=False)
    client.force_login(make_administrator(is_superuser=True, timezone="Europe/Berlin"))
    invitation = InvitationFactory()
    response = post_change(client, invitation, expires_at_0=day, expires_at_1=clock_time)
    assert response.status_code == 422
    assert Invitation.objects.get(pk=invitation.pk).expires_at is None


def test_role_expiry_in_the_past_is_a_form_error(client, clock):
    clock.move_to(datetime(2026, 3, 1, tzinfo=UTC), tick=False)
    client.force_login(make_administrator(is_superuser=True, timezone="Asia/Kathmandu"))
    person = make_user_with_role(roles.AGENT)
    response = post_change(
        client,
        person,
        **{"role_assignments-0-expires_at_0": "2026-03-01", "role_assignments-0-expires_at_1": "05:40:00"},
    )  # 05:40 in Kathmandu is 23:55 UTC the day before: passed
    assert response.status_code == 422
    assert person.role_assignments.get().expires_at is None


# --- the knowledge base's editor: versions made in the hour the clocks go back -----------------------


def test_kb_versions_an_hour_apart_in_the_repeated_hour_read_as_different_times(client, clock):
    """An editor in Berlin opens an article whose two versions were published at 00:30 and 01:30 UTC
    on 25 Oct 2026 (both 02:30 on Berlin's clock, before and after it goes back). The version list
    shows both as "25 Oct 2026, 02:30", with nothing to tell them apart, where every other page
    (helpdesk.display.shown_time: the workspace, the audit viewer, and the editor's own "Restored the
    version of ..." message) adds the offset in that hour. They should read as "02:30 (UTC+02:00)" and
    "02:30 (UTC+01:00)"."""
    clock.move_to(datetime(2026, 11, 2, 12, 0, tzinfo=UTC), tick=False)
    editor = make_supervisor(TeamFactory(), timezone="Europe/Berlin")
    article = make_article(title="Printer setup")
    ArticleRevision.objects.filter(article=article).delete()
    for hour, title in ((0, "First take"), (1, "Second take")):
        ArticleRevision.objects.create(
            article=article, title=title, body=title, created_at=datetime(2026, 10, 25, hour, 30, tzinfo=UTC)
        )
    client.force_login(editor)
    response = client.get(reverse("knowledge:manage_edit", args=[article.slug]))
    assert response.status_code == 200
    text = text_of(response)
    assert "25 Oct 2026, 02:30 (UTC+02:00)" in text and "25 Oct 2026, 02:30 (UTC+01:00)" in text, re.findall(
        r"25 Oct 2026, 02:30[^·]*", text
    )


# --- odd offsets on the pages ------------------------------------------------------------------------

# 28 Mar 2026 20:30 UTC
ODD = {
    "Asia/Kathmandu": "29 Mar 2026, 02:15",
    "America/St_Johns": "28 Mar 2026, 18:00",  # NDT (-2:30) since 8 Mar
    "Pacific/Chatham": "29 Mar 2026, 10:15",  # +13:45 until 5 Apr
    "Pacific/Kiritimati": "29 Mar 2026, 10:30",
}
MOMENT = datetime(2026, 3, 28, 20, 30, tzinfo=UTC)


@pytest.mark.parametrize("zone", list(ODD))
def test_odd_offsets_on_workspace_portal_and_queue(client, team, clock, zone):
    clock.move_to(datetime(2026, 4, 1, tzinfo=UTC), tick=False)
    customer = make_customer(timezone=zone, name="Odd Zone")
    ticket = make_ticket(customer, team=team, subject="Odd")
    Ticket.objects.filter(pk=ticket.pk).update(created_at=MOMENT, updated_at=MOMENT, public_updated_at=MOMENT)
    ticket.messages.update(created_at=MOMENT)
    client.force_login(customer)
    assert ODD[zone] in text_of(client.get(reverse("tickets:portal_detail", args=[ticket.number])))
    assert ODD[zone] in text_of(client.get(reverse("tickets:portal_list")))
    client.force_login(make_agent(team, timezone=zone))
    assert ODD[zone] in text_of(client.get(reverse("tickets:desk_ticket", args=[ticket.number])))
    assert ODD[zone].replace(" 2026", "") in text_of(client.get(QUEUE))


# --- "Created in: Today" across the reader's midnight --------------------------------------------------


def test_queue_count_of_a_today_period_does_not_outlive_the_readers_midnight(client, team, clock):
    """ "Created in: Today" at 23:59:50 in Kiritimati lists three; 20 s later (tomorrow there) none, and
    the cached count is corrected by the page's own rows."""
    # 23:59:50 on 29 Mar in Kiritimati (+14) is 09:59:50 UTC on 29 Mar.
    clock.move_to(datetime(2026, 3, 29, 9, 59, 50, tzinfo=UTC), tick=False)
    agent = make_agent(team, timezone="Pacific/Kiritimati")
    customer = make_customer()
    for n in range(3):
        make_ticket(customer, team=team, subject=f"Late {n}")
    client.force_login(agent)
    before = client.get(QUEUE, {"created_within": "0"})
    assert len(before.context["queue"].tickets) == 3
    assert "3 tickets" in text_of(before)
    clock.move_to(datetime(2026, 3, 29, 10, 0, 10, tzinfo=UTC), tick=False)  # 00:00:10 on 30 Mar there
    after = client.get(QUEUE, {"created_within": "0"})
    assert after.context["queue"].tickets == []
    assert after.context["queue"].page.paginator.count == 0, text_of(after)[-400:]


# --- "e-mail verified at" typed in the admin at the calendar's ends -----------------------------------


@pytest.mark.parametrize(
    ("zone", "typed_day", "typed_time"),
    [
        ("America/New_York", "31/12/9999", "23:00:00"),  # 10000-01-01 04:00 UTC
        ("Asia/Kathmandu", "01/01/0001", "00:00:00"),  # 31 Dec of year 0 in UTC
    ],
)
def test_email_verified_at_at_the_calendars_end_is_a_form_error_not_a_broken_user(
    client, zone, typed_day, typed_time
):
    """An administrator in New York edits a user whose address is verified and types "31/12/9999 23:00"
    into "e-mail verified at" (Profile section of the user's admin page): that is 1 Jan 10000, 04:00 UTC.
    PostgreSQL stores it, but reading the user back (UserAdmin.save_related, accounts/admin.py:656)
    fails with DataError "timestamp too large (after year 10K)": a 500 instead of the form. In
    Kathmandu, "01/01/0001 00:00" is year 0 in UTC: "timestamp too small (before year 1)", a 500 too.
    Suspension, role and invitation ends carry helpdesk.dates.validate_not_too_late for exactly this;
    User.email_verified_at (accounts/models.py:276) has no bound. Expected: 422 with an error beside
    the field, the stored date unchanged."""
    admin = make_administrator(is_superuser=True, timezone=zone)
    customer = make_customer(email="verified@example.org", name="Vera Verified")
    verified = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    User.objects.filter(pk=customer.pk).update(email_verified_at=verified)  # verified already: kept as typed
    client.force_login(admin)
    try:
        response = post_change(
            client, customer, email_verified_at_0=typed_day, email_verified_at_1=typed_time
        )
        status = response.status_code
    except Exception as error:
        status = repr(error)
    try:
        page = client.get(change_url(customer)).status_code
    except Exception as error:
        page = repr(error)
    assert (status, page) == (422, 200)
    assert User.objects.filter(pk=customer.pk, email_verified_at=verified).exists()


# --- odd dates typed into the queue's filters and a form's date field -----------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"created_after": "2026-02-30"},
        {"updated_before": "2026-13-01"},
        {"created_after": "9999-12-31", "created_before": "9999-12-31"},
        {"created_after": "0001-01-01", "created_before": "0001-01-01"},
        {"created_after": "2" * 5000},
        {"updated_within": "1e9"},
        {"created_after": "2026-03-29T02:30", "created_before": "2026-03-29 02:30"},
    ],
)
def test_odd_dates_and_periods_in_the_queue_never_break_it(client, team, params):
    client.force_login(make_agent(team, timezone="Asia/Kathmandu"))
    make_ticket(make_customer(), team=team)
    response = client.get(QUEUE, params)
    assert response.status_code == 200


FULLWIDTH_DATE = "\uff12\uff10\uff12\uff16-\uff10\uff11-\uff10\uff11"  # 2026-01-01 in fullwidth digits


@pytest.mark.parametrize("typed", ["2" * 100_000, "2026-02-29", FULLWIDTH_DATE])
def test_odd_custom_field_dates_are_refused_with_the_form_refilled(client, team, typed):
    TicketFormFactory(
        slug="dated", schema=[{"name": "since", "label": "Since", "type": "date"}], default_team=team
    )
    client.force_login(make_customer(timezone="Pacific/Chatham"))
    response = client.post(
        reverse("tickets:portal_submit_form", args=["dated"]),
        {
            "subject": "Kept subject",
            "description": "Please",
            "submission_key": str(uuid.uuid4()),
            "cf_since": typed,
        },
    )
    assert response.status_code == 422
    assert 'value="Kept subject"' in response.content.decode()
    assert not Ticket.objects.exists()
