"""Access control as it changes while people work (roles expiring or revoked mid-session, team
memberships removed, guardian grants given and taken, supervisors outside their teams, organisations
left while signed in), and counts that must not count what the viewer cannot see."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from accounts import rbac
from accounts.models import RoleAssignment, TeamMember, User
from audit.models import AuditEvent
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
from tickets.models import SavedView, Ticket, TicketMessage

pytestmark = pytest.mark.django_db

QUEUE = reverse("tickets:desk_queue")
BULK = reverse("tickets:desk_bulk")


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def ws(ticket) -> str:
    return reverse("tickets:desk_ticket", args=[ticket.number])


def update_url(ticket) -> str:
    return reverse("tickets:desk_update", args=[ticket.number])


def expire_roles(user, role_name=None) -> None:
    rows = RoleAssignment.objects.filter(user=user)
    if role_name:
        rows = rows.filter(role__name=role_name)
    rows.update(expires_at=timezone.now() - timedelta(seconds=1))


def revoke_roles(user, role_name=None) -> None:
    rows = RoleAssignment.objects.filter(user=user)
    if role_name:
        rows = rows.filter(role__name=role_name)
    rows.delete()


def desk_posts(ticket, view_count):
    """Every desk POST an agent makes, with what it would change."""
    return [
        (update_url(ticket), {"field": "priority", "value": "urgent", "version": ticket.version}),
        (update_url(ticket), {"field": "tags", "value": "leaked", "version": ticket.version}),
        (update_url(ticket), {"field": "take", "value": "", "version": ticket.version}),
        (
            reverse("tickets:desk_reply", args=[ticket.number]),
            {"kind": "note", "body": "sneaky note", "version": ticket.version, "submission_key": "k1"},
        ),
        (BULK, {"tickets": [f"{ticket.pk}:{ticket.version}"], "action": "priority:urgent"}),
        (BULK, {"tickets": [f"{ticket.pk}:{ticket.version}"], "action": "add_tag", "value": "leaked"}),
        (reverse("tickets:desk_view_create"), {"name": "Mine", "query": "status=open"}),
        (reverse("tickets:desk_seen", args=[ticket.number]), {"shown": timezone.now().isoformat()}),
    ]


def snapshot(ticket):
    t = fresh(ticket)
    return (
        t.priority, t.assignee_id, t.version, sorted(t.tags.values_list("name", flat=True)),
        TicketMessage.objects.filter(ticket=t).count(), SavedView.objects.count(),
    )  # fmt: skip


@pytest.mark.parametrize("change", ["expired", "revoked"])
def test_a_role_ending_mid_session_closes_every_desk_page_and_post(client, change):
    """An agent signed in at the desk whose Agent role expires (or is taken away) between two requests:
    the next request to the queue and workspace is a 404, and no POST changes anything."""
    team = TeamFactory()
    agent = make_agent(team)
    ticket = make_ticket(make_customer(), team=team)
    SavedViewFactory(owner=agent, query="status=open")
    client.force_login(agent)
    assert client.get(QUEUE).status_code == 200
    assert client.get(ws(ticket)).status_code == 200
    (expire_roles if change == "expired" else revoke_roles)(agent)
    before = snapshot(ticket)
    assert client.get(QUEUE).status_code == 404
    assert client.get(ws(ticket)).status_code == 404
    assert client.get(reverse("knowledge:manage_list")).status_code == 404
    for url, data in desk_posts(ticket, 1):
        response = client.post(url, data)
        assert response.status_code == 404, (url, data, response.status_code)
    assert snapshot(ticket) == before


@pytest.mark.parametrize("change", ["expired", "revoked"])
def test_a_supervisor_role_ending_mid_session_closes_the_audit_viewer(client, change):
    team = TeamFactory()
    supervisor = make_supervisor(team)
    client.force_login(supervisor)
    assert client.get(reverse("audit:event_list")).status_code == 200
    (expire_roles if change == "expired" else revoke_roles)(supervisor)
    assert client.get(reverse("audit:event_list")).status_code == 404
    response = client.post(reverse("audit:event_export"), {})
    assert response.status_code == 404


@pytest.mark.parametrize("change", ["expired", "revoked"])
def test_an_administrator_role_ending_mid_session_closes_the_admin_models(client, change):
    admin_user = make_administrator()
    target = make_customer()
    client.force_login(admin_user)
    url = reverse("admin:accounts_user_change", args=[target.pk])
    assert client.get(url).status_code == 200
    assert client.get(reverse("admin:tickets_tag_changelist")).status_code == 200
    (expire_roles if change == "expired" else revoke_roles)(admin_user)
    for page in (
        url,
        reverse("admin:accounts_user_changelist"),
        reverse("admin:tickets_tag_changelist"),
        reverse("admin:accounts_roleassignment_changelist"),
        reverse("admin:helpdesk_siteconfiguration_changelist"),
    ):
        response = client.get(page)
        assert response.status_code in (302, 403, 404), (page, response.status_code)
    before = fresh(target).name
    response = client.post(url, {"name": "Hacked"})
    assert response.status_code in (302, 403, 404)
    assert fresh(target).name == before


# Team memberships taken away mid-session


def test_a_membership_removed_mid_session_closes_the_teams_tickets(client):
    """An agent of Support and Billing taken out of Support between two requests: Support's ticket is a
    404 in the workspace and every POST to it changes nothing; Billing's still opens."""
    support, billing = TeamFactory(name="Support"), TeamFactory(name="Billing")
    agent = make_agent(support, billing)
    ticket = make_ticket(make_customer(), team=support, subject="Support only")
    kept = make_ticket(make_customer(), team=billing, subject="Billing one")
    client.force_login(agent)
    assert client.get(ws(ticket)).status_code == 200
    TeamMember.objects.filter(user=agent, team=support).delete()
    before = snapshot(ticket)
    assert client.get(ws(ticket)).status_code == 404
    assert client.get(ws(kept)).status_code == 200
    queue = client.get(QUEUE).content.decode()
    assert "Support only" not in queue and "Billing one" in queue
    for url, data in desk_posts(ticket, 1)[:4]:
        assert client.post(url, data).status_code == 404, url
    merge = client.post(
        reverse("tickets:desk_merge", args=[ticket.number]),
        {"into": kept.reference, "confirm": "merge", "version": ticket.version},
    )
    assert merge.status_code == 404
    assert snapshot(ticket) == before
    assert fresh(ticket).merged_into_id is None


# Guardian grants given and taken


def test_a_team_grant_given_and_taken_is_explained_each_time(client):
    support, legal = TeamFactory(name="Support"), TeamFactory(name="Legal")
    agent = make_agent(support)
    ticket = make_ticket(make_customer(), team=legal, subject="Legal matter")
    client.force_login(agent)
    assert client.get(ws(ticket)).status_code == 404
    decision = rbac.explain(fresh(agent), rbac.WORK_TEAM_QUEUE, legal)
    assert not decision.allowed, str(decision)

    assign_perm(rbac.WORK_TEAM_QUEUE, agent, legal)
    assert client.get(ws(ticket)).status_code == 200
    decision = rbac.explain(fresh(agent), rbac.WORK_TEAM_QUEUE, legal)
    assert decision.allowed
    assert "grant of accounts.work_team_queue on team Legal" in str(decision)

    remove_perm(rbac.WORK_TEAM_QUEUE, agent, legal)
    assert client.get(ws(ticket)).status_code == 404
    assert "Legal matter" not in client.get(QUEUE).content.decode()
    decision = rbac.explain(fresh(agent), rbac.WORK_TEAM_QUEUE, legal)
    assert not decision.allowed
    assert "on team Legal" not in str(decision), str(decision)

    # The same through a role, then the role expiring.
    night = Group.objects.create(name="Night shift")
    assign_perm(rbac.WORK_TEAM_QUEUE, night, legal)
    from accounts.services import role_assign

    role_assign(agent, "Night shift", expires_at=timezone.now() + timedelta(hours=1), actor=None)
    assert client.get(ws(ticket)).status_code == 200
    assert rbac.explain(fresh(agent), rbac.WORK_TEAM_QUEUE, legal).allowed
    expire_roles(agent, "Night shift")
    assert client.get(ws(ticket)).status_code == 404
    decision = rbac.explain(fresh(agent), rbac.WORK_TEAM_QUEUE, legal)
    assert not decision.allowed, str(decision)


def test_an_organisation_grant_given_and_taken_is_explained_each_time(client):
    support = TeamFactory(name="Support")
    acme = OrganizationFactory(name="Acme")
    agent = make_agent(support)
    ticket = make_ticket(make_customer(acme), subject="Acme matter")
    client.force_login(agent)
    assert client.get(ws(ticket)).status_code == 404
    assign_perm(rbac.VIEW_ORGANIZATION_TICKETS, agent, acme)
    assert client.get(ws(ticket)).status_code == 200
    decision = rbac.explain(fresh(agent), rbac.VIEW_ORGANIZATION_TICKETS, acme)
    assert decision.allowed
    assert "grant of accounts.view_organization_tickets on organisation Acme" in str(decision)
    remove_perm(rbac.VIEW_ORGANIZATION_TICKETS, agent, acme)
    assert client.get(ws(ticket)).status_code == 404
    decision = rbac.explain(fresh(agent), rbac.VIEW_ORGANIZATION_TICKETS, acme)
    assert not decision.allowed
    assert "no grant on organisation Acme" in str(decision)


def test_a_grant_on_one_ticket_does_not_open_its_siblings(client):
    """An agent granted one ticket of another team (same requester, same organisation) sees that one
    only: not in the queue, the workspace's "other tickets" list, a merge target or a bulk action."""
    support, legal = TeamFactory(name="Support"), TeamFactory(name="Legal")
    agent = make_agent(support)
    acme = OrganizationFactory(name="Acme")
    requester = make_customer(acme)
    granted = make_ticket(requester, team=legal, subject="Granted one")
    sibling = make_ticket(requester, team=legal, subject="Sibling secret")
    assign_perm("tickets.view_ticket", agent, granted)
    client.force_login(agent)
    assert client.get(ws(granted)).status_code == 200
    page = client.get(ws(granted)).content.decode()
    assert "Sibling secret" not in page
    assert client.get(ws(sibling)).status_code == 404
    queue = client.get(QUEUE).content.decode()
    assert "Granted one" in queue and "Sibling secret" not in queue
    before = snapshot(sibling)
    client.post(BULK, {"tickets": [f"{sibling.pk}:{sibling.version}"], "action": "priority:urgent"})
    merge = client.post(
        reverse("tickets:desk_merge", args=[granted.number]),
        {"into": sibling.reference, "confirm": "merge", "version": granted.version},
    )
    assert "Sibling secret" not in merge.content.decode()
    assert snapshot(sibling) == before and fresh(granted).merged_into_id is None
    for term in (requester.email, "Sibling"):
        assert "Sibling secret" not in client.get(QUEUE, {"q": term}).content.decode()
    remove_perm("tickets.view_ticket", agent, granted)
    assert client.get(ws(granted)).status_code == 404
    assert "Granted one" not in client.get(QUEUE).content.decode()


def test_explain_calls_a_ticket_allowed_only_where_the_agent_can_open_it():
    """An administrator asks rbac.explain why an agent of Support may (or may not) see a Legal ticket
    they were granted, and a sibling they were not. Observed: explain answers "allowed: role Agent
    grants tickets.view_ticket" for the sibling too, which the agent gets a 404 for (the role's model
    permission says nothing about which tickets). Expected: as for teams and organisations, explain
    gives the answer visibility acts on: allowed by the object grant for the one, denied for the
    sibling."""
    support, legal = TeamFactory(name="Support"), TeamFactory(name="Legal")
    agent = make_agent(support)
    requester = make_customer()
    granted = make_ticket(requester, team=legal, subject="Granted one")
    sibling = make_ticket(requester, team=legal, subject="Sibling secret")
    assign_perm("tickets.view_ticket", agent, granted)
    agent = fresh(agent)
    yes = rbac.explain(agent, "tickets.view_ticket", granted)
    assert yes.allowed and "object grant" in str(yes)
    assert not Ticket.objects.visible_to(agent).filter(pk=sibling.pk).exists()
    no = rbac.explain(agent, "tickets.view_ticket", sibling)
    assert not no.allowed, str(no)
    assert "a role's tickets.view_ticket alone shows none" in str(no)
    member = make_agent(legal)
    assert str(rbac.explain(member, "tickets.view_ticket", sibling)).endswith("works the queue of team Legal")


# Moving a ticket out of one's own reach


def test_moving_a_ticket_to_a_team_one_is_not_in_says_where_it_went(client):
    """An agent of Support and Sales moves a ticket to Billing (not one of their teams) with the
    workspace's team picker. Observed: the change is saved and they land on the queue with "Saved. That
    ticket is no longer in your queues, so you are back in the queue.", naming neither the ticket nor
    where it went. Expected: the message says which ticket went to which team ("T-1042 moved to
    Billing"), since the agent can no longer open it to find out."""
    support, sales = TeamFactory(name="Support"), TeamFactory(name="Sales")
    billing = TeamFactory(name="Billing")
    agent = make_agent(support, sales)
    ticket = make_ticket(make_customer(), team=support, subject="Wrong desk")
    client.force_login(agent)
    response = client.post(
        update_url(ticket), {"field": "team", "value": billing.pk, "version": ticket.version}, follow=True
    )
    assert response.status_code == 200
    assert fresh(ticket).team_id == billing.pk
    said = " ".join(str(m) for m in response.context["messages"])
    assert ticket.reference in said and "Billing" in said, said


def test_moving_tickets_in_bulk_to_a_team_one_is_not_in_says_where_they_went(client):
    """The same by the queue's bulk "Move to team" action. Observed: "No longer in your queues after this
    change: T-1042." Expected: the team they went to is named too."""
    support, billing = TeamFactory(name="Support"), TeamFactory(name="Billing")
    agent = make_agent(support)
    ticket = make_ticket(make_customer(), team=support, subject="Wrong desk")
    client.force_login(agent)
    response = client.post(
        BULK, {"tickets": [f"{ticket.pk}:{ticket.version}"], "action": f"team:{billing.pk}"}, follow=True
    )
    assert response.status_code == 200
    assert fresh(ticket).team_id == billing.pk
    said = " ".join(str(m) for m in response.context["messages"])
    assert ticket.reference in said and "Billing" in said, said


# Suspended administrators, customers leaving their organisation


def test_a_superuser_suspended_mid_session_is_signed_out_at_once(client):
    admin_user = make_administrator(is_superuser=True)
    ticket = make_ticket(make_customer())
    client.force_login(admin_user)
    assert client.get(reverse("admin:index")).status_code == 200
    User.objects.filter(pk=admin_user.pk).update(status=User.Status.SUSPENDED)
    for url in (reverse("admin:index"), QUEUE, ws(ticket), reverse("audit:event_list")):
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"], (url, response.status_code)
    before = fresh(ticket).priority
    response = client.post(update_url(ticket), {"field": "priority", "value": "urgent", "version": 1})
    assert response.status_code == 302
    assert fresh(ticket).priority == before
    assert rbac.explain(fresh(admin_user), "accounts.manage_roles").allowed is False


@pytest.mark.parametrize("change", ["taken out", "no longer manager", "moved"])
def test_a_manager_taken_out_of_the_organisation_loses_its_tickets_at_once(client, change):
    acme, globex = OrganizationFactory(name="Acme"), OrganizationFactory(name="Globex")
    manager = make_customer(acme, manager=True)
    colleague_ticket = make_ticket(make_customer(acme), subject="Colleague secret")
    own = make_ticket(manager, subject="My own request")
    client.force_login(manager)
    detail = reverse("tickets:portal_detail", args=[colleague_ticket.number])
    assert client.get(detail).status_code == 200
    assert "Colleague secret" in client.get("/portal/tickets/", {"scope": "organization"}).content.decode()
    changes = {
        "taken out": {"organization": None, "is_organization_manager": False},
        "no longer manager": {"is_organization_manager": False},
        "moved": {"organization": globex},
    }[change]
    User.objects.filter(pk=manager.pk).update(**changes)
    assert client.get(detail).status_code == 404
    for scope in ("organization", "mine", ""):
        listing = client.get("/portal/tickets/", {"scope": scope, "status": "all"})
        assert listing.status_code == 200
        assert "Colleague secret" not in listing.content.decode()
    reply = client.post(
        reverse("tickets:portal_reply", args=[colleague_ticket.number]), {"body": "still here?"}
    )
    assert reply.status_code == 404
    assert not TicketMessage.objects.filter(ticket=colleague_ticket, body="still here?").exists()
    assert client.get(reverse("tickets:portal_detail", args=[own.number])).status_code == 200


# Supervisors and leads outside their teams; counts after a grant is taken


def test_a_lead_cannot_delete_a_view_shared_with_a_team_they_only_work(client):
    support, billing = TeamFactory(name="Support"), TeamFactory(name="Billing")
    lead = make_agent(support, team_role=TeamMember.Role.LEAD)
    TeamMember.objects.create(team=billing, user=lead, role=TeamMember.Role.AGENT)
    colleague = make_agent(support, billing)
    in_support = SavedViewFactory(owner=colleague, team=support, name="Support view")
    in_billing = SavedViewFactory(owner=colleague, team=billing, name="Billing view")
    client.force_login(lead)
    assert client.post(reverse("tickets:desk_view_delete", args=[in_billing.pk])).status_code == 404
    assert SavedView.objects.filter(pk=in_billing.pk).exists()
    assert client.post(reverse("tickets:desk_view_delete", args=[in_support.pk])).status_code == 302
    assert not SavedView.objects.filter(pk=in_support.pk).exists()
    # Demoted to a plain member mid-session: the Support views are no longer theirs to delete.
    again = SavedViewFactory(owner=colleague, team=support, name="Support view 2")
    TeamMember.objects.filter(user=lead, team=support).update(role=TeamMember.Role.AGENT)
    assert client.post(reverse("tickets:desk_view_delete", args=[again.pk])).status_code == 404
    assert SavedView.objects.filter(pk=again.pk).exists()


def test_a_supervisor_taken_out_of_a_team_stops_reading_its_audit_events(client):
    support = TeamFactory(name="Support")
    supervisor = make_supervisor(support)
    agent = make_agent(support)
    ticket = make_ticket(make_customer(), team=support, subject="Audited thing")
    from tickets import services as ticket_services

    ticket_services.ticket_assign(ticket, assignee=agent, actor=agent)
    client.force_login(supervisor)
    page = client.get(reverse("audit:event_list")).content.decode()
    assert ticket.reference in page or "Audited thing" in page
    TeamMember.objects.filter(user=supervisor).delete()
    response = client.get(reverse("audit:event_list"))
    assert response.status_code == 200
    page = response.content.decode()
    assert ticket.reference not in page and "Audited thing" not in page
    assert AuditEvent.objects.visible_to(fresh(supervisor)).filter(object_id=str(ticket.pk)).count() == 0


def test_the_view_counts_drop_at_once_when_a_ticket_grant_is_taken(client):
    support, legal = TeamFactory(name="Support"), TeamFactory(name="Legal")
    agent = make_agent(support)
    granted = make_ticket(make_customer(), team=legal, subject="Granted one")
    from tickets import services as ticket_services

    ticket_services.ticket_transition(granted, status="pending", actor=None)
    assign_perm("tickets.view_ticket", agent, granted)
    client.force_login(agent)
    assert client.get(QUEUE).context["counts"]["pending"] == 1
    remove_perm("tickets.view_ticket", agent, granted)
    assert client.get(QUEUE).context["counts"]["pending"] == 0
    assign_perm(rbac.VIEW_ORGANIZATION_TICKETS, agent, granted.organization)
    assert client.get(QUEUE).context["counts"]["pending"] == 1
    remove_perm(rbac.VIEW_ORGANIZATION_TICKETS, agent, granted.organization)
    assert client.get(QUEUE).context["counts"]["pending"] == 0
