"""What a supervisor reads in the audit viewer follows what they may read now: the action menu (kept a
few minutes) after a grant is revoked or a member leaves, and the count, added up by disjoint parts."""

import pytest
from django.urls import reverse
from guardian.shortcuts import assign_perm, remove_perm

import audit
from accounts.models import TeamMember
from audit.models import AuditEvent
from tests.audit.test_viewer import about
from tests.conftest import made_once_per_module
from tests.factories import (
    OrganizationFactory,
    SavedViewFactory,
    TeamFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_supervisor,
    make_ticket,
)

pytestmark = pytest.mark.django_db

AUDIT = reverse("audit:event_list")


def action_menu(response) -> str:
    page = response.content.decode()
    start = page.index('name="action"')
    return page[start : page.index("</select>", start)]


def make_teams():
    support, billing = TeamFactory(name="Support"), TeamFactory(name="Billing")
    return {"support": support, "billing": billing, "customer": make_customer(OrganizationFactory())}


_teams_rows, teams = made_once_per_module(make_teams, "teams")


def test_the_action_menu_forgets_an_action_once_the_ticket_grant_that_showed_it_is_revoked(client, teams):
    """A supervisor whose grant on another team's ticket is revoked is no longer offered the action only
    that ticket's events carry: the menu is what they may read now, not five minutes ago."""
    supervisor = make_supervisor(teams["support"])
    secret = make_ticket(teams["customer"], team=teams["billing"], subject="Billing only")
    audit.record("ticket.legal_hold", actor=None, obj=secret)
    assign_perm("tickets.view_ticket", supervisor, secret)
    client.force_login(supervisor)
    assert 'value="ticket.legal_hold"' in action_menu(client.get(AUDIT))

    remove_perm("tickets.view_ticket", supervisor, secret)
    assert "Billing only" not in client.get(AUDIT, {"action": "ticket.legal_hold"}).content.decode()
    assert 'value="ticket.legal_hold"' not in action_menu(client.get(AUDIT))


def test_the_action_menu_forgets_the_actions_of_a_member_who_left_the_team(client, teams):
    """Once an agent leaves the supervisor's team, the object-less actions only they did are no longer
    offered, as the list no longer shows those events."""
    supervisor = make_supervisor(teams["support"])
    member = make_agent(teams["support"], name="Mo Member")
    audit.record("account.api_token_created", actor=member, category="security")
    client.force_login(supervisor)
    assert 'value="account.api_token_created"' in action_menu(client.get(AUDIT))

    TeamMember.objects.filter(user=member, team=teams["support"]).delete()
    assert "Mo Member" not in client.get(AUDIT, {"action": "account.api_token_created"}).content.decode()
    assert 'value="account.api_token_created"' not in action_menu(client.get(AUDIT))


def test_the_parts_a_supervisor_reads_are_disjoint_and_make_up_what_they_may_read(teams):
    """visible_parts, which the viewer counts, splits visible_to into parts no event is in twice, and
    together they hold exactly the events visible_to gives: about their tickets, team and members, and
    the members' object-less events and saved views; nothing about the other team."""
    supervisor = make_supervisor(teams["support"])
    member, outsider = make_agent(teams["support"]), make_agent(teams["billing"])
    ours = make_ticket(teams["customer"], team=teams["support"])
    theirs = make_ticket(teams["customer"], team=teams["billing"])
    view = SavedViewFactory(owner=member, name="Mine")
    for obj in (ours, theirs, teams["support"], teams["billing"], member, outsider, view, None):
        for actor in (member, outsider, make_administrator()):
            audit.record("update", actor=actor, obj=obj)
    everything = set(AuditEvent.objects.visible_to(supervisor).values_list("pk", flat=True))
    parts = [set(part.values_list("pk", flat=True)) for part in AuditEvent.objects.visible_parts(supervisor)]
    assert sum(len(part) for part in parts) == len(everything) == len(set().union(*parts))
    assert set().union(*parts) == everything
    assert not AuditEvent.objects.filter(pk__in=everything, **about(theirs)).exists()
    assert AuditEvent.objects.filter(pk__in=everything, actor=member, **about(view)).exists()


def test_the_supervisors_count_adds_up_the_parts(client, teams):
    """The viewer's count for a supervisor is the number of events they may read that the filter keeps,
    one event counted once, however its parts are added up."""
    supervisor = make_supervisor(teams["support"])
    member = make_agent(teams["support"])
    ours = make_ticket(teams["customer"], team=teams["support"])
    for _ in range(3):
        audit.record("ticket.priority", actor=member, obj=ours)
        audit.record("login", actor=member, obj=member, category="security")
        audit.record("export", actor=member)
    client.force_login(supervisor)
    page = client.get(AUDIT).context["page"]
    assert page.count == AuditEvent.objects.visible_to(supervisor).count() == len(page.events)
    security = AuditEvent.objects.visible_to(supervisor).filter(category="security")
    assert client.get(AUDIT, {"category": "security"}).context["page"].count == security.count() >= 3


def test_a_supervisors_actor_filter_looks_the_accounts_up_once(client, teams):
    """The actor filter's accounts are read once per page, not once for each part of the supervisor's
    trail that the filter is applied to."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    member = make_agent(teams["support"], name="Mo Member")
    audit.record("logout", actor=member)
    client.force_login(make_supervisor(teams["support"]))
    with CaptureQueriesContext(connection) as queries:
        page = client.get(AUDIT, {"actor": "Mo Member"}).context["page"]
    assert page.count == 1
    lookups = [
        query for query in queries if 'FROM "accounts_user"' in query["sql"] and "LIKE" in query["sql"]
    ]
    assert len(lookups) == 1
