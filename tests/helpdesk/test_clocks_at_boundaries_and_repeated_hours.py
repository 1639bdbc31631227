"""Time as users live it. Auto-close at its boundary and run again, suspensions and roles ending
at the exact second, invitations at their expiry, dates shown and filtered in the viewer's own zone
across DST changes (London, New York, Auckland, Kolkata)."""

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from django.urls import reverse

from accounts import rbac, roles
from accounts import services as account_services
from accounts.models import RoleAssignment, User
from audit.models import AuditEvent
from tests.factories import (
    TEST_PASSWORD,
    InvitationFactory,
    OrganizationFactory,
    TeamFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_ticket,
)
from tickets import selectors
from tickets import services as ticket_services
from tickets.models import Ticket, TicketActivity
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

QUEUE = reverse("tickets:desk_queue")
AUDIT = reverse("audit:event_list")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, far from any DST change


def text_of(response) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]*>", " ", response.content.decode())))


def fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


@pytest.fixture
def team():
    return TeamFactory(name="Support")


@pytest.fixture
def resolved(team, clock, settings):
    """A ticket an agent resolved at T0, auto-close after 7 days."""
    settings.TICKET_AUTO_CLOSE_DAYS = 7
    clock.move_to(T0 - timedelta(hours=1), tick=False)
    agent = make_agent(team, name="Alex Agent")
    customer = make_customer(name="Carla Customer")
    ticket = make_ticket(customer, team=team, subject="Printer")
    clock.move_to(T0, tick=False)
    ticket_services.ticket_transition(ticket, status=Status.RESOLVED, actor=agent)
    return {"ticket": fresh(ticket), "agent": agent, "customer": customer}


# --- auto-close -------------------------------------------------------------------------------------


def test_auto_close_exactly_at_the_boundary(resolved, clock):
    ticket = resolved["ticket"]
    assert ticket.resolved_at == T0
    clock.move_to(T0 + timedelta(days=7) - timedelta(microseconds=1), tick=False)
    assert ticket_services.tickets_close_resolved() == 0
    clock.move_to(T0 + timedelta(days=7), tick=False)
    assert ticket_services.tickets_close_resolved() == 1
    assert fresh(ticket).status == Status.CLOSED


def test_auto_close_run_twice_in_a_row_changes_nothing_more(resolved, clock):
    ticket = resolved["ticket"]
    clock.move_to(T0 + timedelta(days=8), tick=False)
    assert ticket_services.tickets_close_resolved() == 1
    after_first = fresh(ticket)
    activities, events = ticket.activities.count(), AuditEvent.objects.count()
    clock.shift(timedelta(hours=1))
    assert ticket_services.tickets_close_resolved() == 0
    again = fresh(ticket)
    assert (again.status, again.version, again.updated_at, again.closed_at) == (
        Status.CLOSED, after_first.version, after_first.updated_at, after_first.closed_at,
    )  # fmt: skip
    assert ticket.activities.count() == activities
    assert AuditEvent.objects.count() == events


def test_reopened_by_the_customer_and_resolved_again_restarts_the_clock(resolved, clock):
    ticket, agent, customer = resolved["ticket"], resolved["agent"], resolved["customer"]
    clock.move_to(T0 + timedelta(days=5), tick=False)
    ticket_services.ticket_reply(fresh(ticket), body="Still broken", actor=customer, as_requester=True)
    assert fresh(ticket).status == Status.OPEN
    assert fresh(ticket).resolved_at is None
    clock.move_to(T0 + timedelta(days=6), tick=False)
    ticket_services.ticket_transition(fresh(ticket), status=Status.RESOLVED, actor=agent)
    clock.move_to(T0 + timedelta(days=7, hours=1), tick=False)  # past the first resolution's deadline
    assert ticket_services.tickets_close_resolved() == 0
    clock.move_to(T0 + timedelta(days=13), tick=False)
    assert ticket_services.tickets_close_resolved() == 1


def test_resolved_then_noted_by_an_agent_still_closes_on_time_and_closed_is_left_alone(resolved, clock, team):
    ticket, agent = resolved["ticket"], resolved["agent"]
    clock.move_to(T0 + timedelta(days=2), tick=False)
    ticket_services.ticket_add_note(fresh(ticket), body="Customer confirmed by phone", actor=agent)
    ticket_services.ticket_update_fields(fresh(ticket), changes={"priority": "high"}, actor=agent)
    assert fresh(ticket).resolved_at == T0
    clock.move_to(T0 + timedelta(days=7), tick=False)
    assert ticket_services.tickets_close_resolved() == 1
    # Another ticket closed by hand long ago: never touched by the job.
    other = make_ticket(resolved["customer"], team=team, subject="Closed by hand")
    ticket_services.ticket_transition(other, status=Status.CLOSED, actor=agent)
    before = fresh(other)
    clock.shift(timedelta(days=30))
    assert ticket_services.tickets_close_resolved() == 0
    assert fresh(other).version == before.version and fresh(other).status == Status.CLOSED


def test_staff_resolving_a_ticket_already_resolved_does_not_restart_the_auto_close_clock(resolved, clock):
    """Expected: asking the service to set "Resolved" on a ticket that is already resolved (an admin's or
    a script's repeated resolve, a second click whose page check raced) changes nothing, as it does for
    the customer path and for the inline edit and bulk paths, which skip a status the ticket holds.
    Instead: `ticket_transition` for staff runs `_apply_transition` anyway, so resolved_at jumps to now
    (the customer's 7-day auto-close deadline is silently pushed back each time) and the timeline gets a
    meaningless "Resolved → Resolved" entry and a version bump that makes colleagues' pages stale."""
    ticket, agent = resolved["ticket"], resolved["agent"]
    version = ticket.version
    clock.move_to(T0 + timedelta(days=6), tick=False)
    ticket_services.ticket_transition(fresh(ticket), status=Status.RESOLVED, actor=agent)
    now = fresh(ticket)
    assert now.resolved_at == T0, "resolving again moved resolved_at, restarting the auto-close clock"
    assert now.version == version
    assert not ticket.activities.filter(action=TicketActivity.Action.STATUS, created_at__gt=T0).exists()


# --- suspensions and roles ending at the exact second ----------------------------------------------


def login(client, email: str):
    return client.post(reverse("accounts:login"), {"username": email, "password": TEST_PASSWORD})


def test_suspension_lifts_at_exactly_its_end(client, clock):
    clock.move_to(T0, tick=False)
    customer = make_customer(email="held@example.org", timezone="Asia/Kolkata")
    until = T0 + timedelta(days=1)
    account_services.user_suspend(customer, until=until, reason="Cooling off", actor=None)
    clock.move_to(until - timedelta(seconds=1), tick=False)
    refused = login(client, "held@example.org")
    assert refused.status_code == 422
    # 3 Mar 09:00 UTC is 14:30 in Kolkata.
    assert "until 3 Mar 2026, 14:30 (Asia/Kolkata)" in text_of(refused)
    clock.move_to(until, tick=False)
    assert login(client, "held@example.org").status_code == 302


def test_an_agent_whose_suspension_has_ended_is_offered_as_an_assignee(team, clock):
    """Expected: a suspension with an end date lifts itself at that instant everywhere (DESIGN: the
    status in force is effective_status; the agent can sign in and work at once), so colleagues can pick
    them in the workspace's assignee menu. Instead: `agents_in_teams` filters on the stored
    `status=ACTIVE`, so until the lift task has run (every minute when the scheduler and a worker are
    up; indefinitely when the worker is down) the agent, already signed in and working, is missing from
    every assignee menu, while the service would accept them."""
    clock.move_to(T0, tick=False)
    agent = make_agent(team, name="Alex Agent")
    back = make_agent(team, name="Bo Back")
    ticket = make_ticket(make_customer(), team=team)
    account_services.user_suspend(back, until=T0 + timedelta(hours=2), reason="Leave", actor=None)
    clock.move_to(T0 + timedelta(hours=2, seconds=1), tick=False)
    assert User.objects.get(pk=back.pk).is_active  # already lifted, as sign-in reads it
    offered = {user.pk for user in selectors.agents_in_teams({team.pk})}
    # The service takes them: only the menu leaves them out.
    ticket_services.ticket_assign(fresh(ticket), assignee=User.objects.get(pk=back.pk), actor=agent)
    assert fresh(ticket).assignee_id == back.pk
    ticket_services.ticket_assign(fresh(ticket), assignee=None, actor=agent)
    assert back.pk in offered, "an agent whose suspension has ended is left out of assignee menus"


def test_role_ends_at_the_exact_second(client, team, clock):
    clock.move_to(T0, tick=False)
    ends = T0 + timedelta(hours=3)
    temp = make_agent(team, name="Tem Porary", expires_at=ends)
    customer_role = RoleAssignment.objects.filter(user=temp, role__name=roles.AGENT)
    assert customer_role.exists()
    client.force_login(temp)
    clock.move_to(ends - timedelta(seconds=1), tick=False)
    assert client.get(QUEUE).status_code == 200
    clock.move_to(ends, tick=False)
    rbac.forget(temp)
    assert not rbac.is_agent(User.objects.get(pk=temp.pk))
    assert client.get(QUEUE).status_code in (302, 403, 404)


# --- invitations at their expiry -------------------------------------------------------------------


def signup(client, code: str, email: str):
    return client.post(
        reverse("accounts:signup"),
        {
            "name": "New Person",
            "email": email,
            "password": "a-long-enough-passphrase-9",
            "invitation_code": code,
        },
    )


def test_invitation_works_until_its_expiry_and_not_at_it(client, clock, settings):
    settings.RATE_LIMITS_ENABLED = False
    clock.move_to(T0, tick=False)
    organization = OrganizationFactory()
    expires = T0 + timedelta(days=2)
    early = InvitationFactory(organization=organization, code="early-code", expires_at=expires)
    late = InvitationFactory(organization=organization, code="late-code", expires_at=expires)
    clock.move_to(expires - timedelta(seconds=1), tick=False)
    assert signup(client, early.code, "early@example.org").status_code == 302
    client.logout()
    clock.move_to(expires, tick=False)
    response = signup(client, late.code, "late@example.org")
    assert response.status_code == 422
    assert "This invitation has expired." in text_of(response)


# --- dates filtered and shown in the viewer's zone ------------------------------------------------


def test_london_created_on_the_day_the_clocks_go_forward(client, team):
    agent = make_agent(team, timezone="Europe/London")
    customer = make_customer()
    moments = {
        "half past midnight": datetime(2026, 3, 29, 0, 30, tzinfo=UTC),  # 00:30 GMT
        "half past eleven the night before": datetime(2026, 3, 28, 23, 30, tzinfo=UTC),
        "late that evening": datetime(2026, 3, 29, 22, 59, tzinfo=UTC),  # 23:59 BST
        "just after midnight BST": datetime(2026, 3, 29, 23, 0, tzinfo=UTC),  # 30 Mar 00:00 BST
    }
    for subject, moment in moments.items():
        ticket = make_ticket(customer, team=team, subject=subject)
        Ticket.objects.filter(pk=ticket.pk).update(created_at=moment)
    client.force_login(agent)
    response = client.get(QUEUE, {"created_after": "2026-03-29", "created_before": "2026-03-29"})
    assert {t.subject for t in response.context["queue"].tickets} == {
        "half past midnight",
        "late that evening",
    }


@pytest.mark.parametrize(
    ("zone", "moment", "shown"),
    [
        # Auckland's clocks go back on 5 Apr 2026 at 03:00 NZDT: 02:30 happens twice.
        ("Pacific/Auckland", datetime(2026, 4, 4, 13, 30, tzinfo=UTC), "5 Apr 2026, 02:30 (UTC+13:00)"),
        ("Pacific/Auckland", datetime(2026, 4, 4, 14, 30, tzinfo=UTC), "5 Apr 2026, 02:30 (UTC+12:00)"),
        ("Asia/Kolkata", datetime(2026, 3, 28, 20, 30, tzinfo=UTC), "29 Mar 2026, 02:00"),
        ("America/New_York", datetime(2026, 11, 1, 5, 30, tzinfo=UTC), "1 Nov 2026, 01:30 (UTC-04:00)"),
        ("America/New_York", datetime(2026, 11, 1, 6, 30, tzinfo=UTC), "1 Nov 2026, 01:30 (UTC-05:00)"),
        ("Europe/London", datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "25 Oct 2026, 01:30 (UTC+00:00)"),
    ],
)
def test_workspace_portal_and_audit_show_the_viewers_own_time(client, team, clock, zone, moment, shown):
    clock.move_to(datetime(2026, 12, 1, tzinfo=UTC), tick=False)
    agent = make_agent(team, timezone=zone)
    customer = make_customer(timezone=zone)
    ticket = make_ticket(customer, team=team, subject="Zoned")
    Ticket.objects.filter(pk=ticket.pk).update(created_at=moment)
    ticket.messages.update(created_at=moment)
    client.force_login(agent)
    assert shown in text_of(client.get(reverse("tickets:desk_ticket", args=[ticket.number])))
    client.force_login(customer)
    assert shown in text_of(client.get(reverse("tickets:portal_detail", args=[ticket.number])))
    admin = make_administrator(timezone=zone)
    AuditEvent.objects.filter(object_id=str(customer.pk)).update(created_at=moment)
    client.force_login(admin)
    page = text_of(client.get(AUDIT, {"q": customer.email}))
    assert re.sub(r"(\d\d:\d\d)", r"\1:00", shown, count=1) in page  # the audit trail shows seconds
