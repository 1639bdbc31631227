"""Desk access and ticket services check permission codenames, so editing a role in the admin counts."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from guardian.shortcuts import assign_perm

from accounts import rbac, roles
from accounts.models import User
from tests.factories import (
    TeamFactory,
    TeamMemberFactory,
    TicketFormFactory,
    make_administrator,
    make_agent,
    make_supervisor,
    make_ticket,
)
from tickets import services
from tickets.models import Ticket, TicketMessage
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

QUEUE = reverse("tickets:desk_queue")


@pytest.fixture
def colleague(team):
    return make_agent(team, name="Casey Colleague")


@pytest.fixture
def supervisor(team):
    return make_supervisor(team, name="Sam Supervisor")


@pytest.fixture
def ticket(customer, team):
    return make_ticket(customer, team=team)


def _permission(name: str) -> Permission:
    app_label, codename = name.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def take_from_agents(user: User, permission: str) -> User:
    """Remove `permission` from the Agent role, as an administrator would in the admin, and drop what
    access() and the permission backend cached on `user`."""
    Group.objects.get(name=roles.AGENT).permissions.remove(_permission(permission))
    rbac.forget(user)
    return user


def give_to_agents(user: User, permission: str) -> User:
    Group.objects.get(name=roles.AGENT).permissions.add(_permission(permission))
    rbac.forget(user)
    return user


def current(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


# The desk: view_support_queue


def test_agent_role_opens_the_desk(client, agent, ticket):
    client.force_login(agent)
    assert client.get(QUEUE).status_code == 200
    assert client.get(reverse("tickets:desk_ticket", args=[ticket.number])).status_code == 200


def test_staff_without_view_support_queue_find_no_desk(client, agent, ticket):
    take_from_agents(agent, rbac.VIEW_SUPPORT_QUEUE)
    client.force_login(agent)
    assert client.get(QUEUE).status_code == 404
    assert client.get(reverse("tickets:desk_ticket", args=[ticket.number])).status_code == 404
    response = client.post(reverse("tickets:desk_update", args=[ticket.number]), {"field": "take"})
    assert response.status_code == 404
    assert current(ticket).assignee is None
    response = client.post(reverse("tickets:desk_bulk"), {"tickets": [ticket.pk], "action": "assign_me"})
    assert response.status_code == 404
    assert current(ticket).assignee is None


def test_view_support_queue_without_a_staff_role_opens_no_desk(client, customer):
    customer.user_permissions.add(_permission(rbac.VIEW_SUPPORT_QUEUE))
    assert not rbac.can_open_desk(User.objects.get(pk=customer.pk))
    client.force_login(customer)
    assert client.get(QUEUE).status_code == 404


def test_supervisors_and_administrators_keep_the_desk(client, supervisor):
    for user in (supervisor, make_administrator()):
        client.force_login(user)
        assert client.get(QUEUE).status_code == 200


# Assigning: assign_ticket


def test_agent_assigns_and_takes_tickets(ticket, agent, colleague):
    assert services.ticket_assign(ticket, assignee=agent, actor=agent).assignee == agent
    assert services.ticket_assign(ticket, assignee=colleague, actor=agent).assignee == colleague


def test_staff_without_assign_ticket_cannot_assign_or_take(ticket, agent, colleague, supervisor):
    take_from_agents(agent, rbac.ASSIGN_TICKET)
    with pytest.raises(services.TicketNotAllowed, match=services.ASSIGN_NOT_ALLOWED):
        services.ticket_assign(ticket, assignee=agent, actor=agent)
    with pytest.raises(services.TicketNotAllowed, match=services.ASSIGN_NOT_ALLOWED):
        services.ticket_assign(ticket, assignee=colleague, actor=agent)
    assert current(ticket).assignee is None
    assert services.ticket_assign(ticket, assignee=agent, actor=supervisor).assignee == agent
    with pytest.raises(services.TicketNotAllowed, match=services.ASSIGN_NOT_ALLOWED):
        services.ticket_assign(current(ticket), assignee=None, actor=agent)


def test_desk_take_without_assign_ticket_shows_the_refusal(client, ticket, agent):
    take_from_agents(agent, rbac.ASSIGN_TICKET)
    client.force_login(agent)
    response = client.post(
        reverse("tickets:desk_update", args=[ticket.number]),
        {"field": "take", "version": ticket.version},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 409
    assert services.ASSIGN_NOT_ALLOWED in response.content.decode()
    assert current(ticket).assignee is None


def test_bulk_take_without_assign_ticket_reports_each_ticket(ticket, agent):
    take_from_agents(agent, rbac.ASSIGN_TICKET)
    (outcome,) = services.tickets_bulk_apply([ticket], action="assign_me", value="", actor=agent)
    assert outcome.error == services.ASSIGN_NOT_ALLOWED
    assert current(ticket).assignee is None


def test_assign_ticket_granted_on_one_ticket_allows_that_ticket_only(customer, team, agent):
    granted, other = make_ticket(customer, team=team), make_ticket(customer, team=team)
    take_from_agents(agent, rbac.ASSIGN_TICKET)
    assign_perm(rbac.ASSIGN_TICKET, agent, granted)
    assert services.ticket_assign(granted, assignee=agent, actor=agent).assignee == agent
    with pytest.raises(services.TicketNotAllowed, match=services.ASSIGN_NOT_ALLOWED):
        services.ticket_assign(other, assignee=agent, actor=agent)


# Closing: close_ticket


def test_agent_closes_tickets(ticket, agent):
    assert services.ticket_transition(ticket, status=Status.CLOSED, actor=agent).status == Status.CLOSED


def test_staff_without_close_ticket_cannot_close_but_still_resolve(ticket, agent, supervisor):
    take_from_agents(agent, rbac.CLOSE_TICKET)
    with pytest.raises(services.TicketNotAllowed, match=services.CLOSE_NOT_ALLOWED):
        services.ticket_transition(ticket, status=Status.CLOSED, actor=agent)
    assert current(ticket).status == Status.NEW
    assert services.ticket_transition(ticket, status=Status.RESOLVED, actor=agent).status == Status.RESOLVED
    with pytest.raises(services.TicketNotAllowed, match=services.CLOSE_NOT_ALLOWED):
        services.ticket_transition(current(ticket), status=Status.CLOSED, actor=agent)
    assert services.ticket_transition(current(ticket), status=Status.CLOSED, actor=supervisor).closed_at


def test_staff_without_close_ticket_cannot_send_and_close(ticket, agent):
    take_from_agents(agent, rbac.CLOSE_TICKET)
    with pytest.raises(services.TicketNotAllowed, match=services.CLOSE_NOT_ALLOWED):
        services.ticket_reply(ticket, body="Fixed.", status_after=Status.CLOSED, actor=agent)
    assert not TicketMessage.objects.filter(ticket=ticket, body="Fixed.").exists()
    services.ticket_reply(ticket, body="Fixed.", status_after=Status.RESOLVED, actor=agent)
    assert current(ticket).status == Status.RESOLVED


def test_the_system_closes_resolved_tickets_whatever_the_roles(ticket, agent):
    take_from_agents(agent, rbac.CLOSE_TICKET)
    services.ticket_transition(ticket, status=Status.RESOLVED, actor=agent)
    assert services.ticket_transition(ticket, status=Status.CLOSED, actor=None).status == Status.CLOSED


def test_customers_keep_their_own_transitions(ticket, customer):
    assert (
        services.ticket_transition(ticket, status=Status.RESOLVED, actor=customer).status == Status.RESOLVED
    )
    assert services.ticket_transition(ticket, status=Status.OPEN, actor=customer).status == Status.OPEN
    with pytest.raises(services.TransitionRefused):
        services.ticket_transition(ticket, status=Status.CLOSED, actor=customer)


# Fields: provide_support, escalate_ticket, manage_tickets


def test_agent_changes_priority_team_custom_fields_and_tags(customer, team, agent):
    form = TicketFormFactory(schema=[{"name": "device", "label": "Device", "type": "text"}])
    ticket = make_ticket(customer, team=team, form=form)
    billing = TeamFactory(name="Billing")
    TeamMemberFactory(team=billing, user=agent)
    agent = User.objects.get(pk=agent.pk)
    ticket = services.ticket_update_fields(
        ticket,
        changes={"priority": "urgent", "team": billing, "custom_fields": {"device": "Printer"}},
        actor=agent,
    )
    assert (ticket.priority, ticket.team, ticket.custom_fields) == ("urgent", billing, {"device": "Printer"})
    services.ticket_set_tags(ticket, names=["vip"], actor=agent)
    assert list(ticket.tags.values_list("name", flat=True)) == ["vip"]


def test_agent_role_cannot_change_subject_or_escalation(ticket, agent):
    with pytest.raises(services.TicketNotAllowed, match="change the subject"):
        services.ticket_update_fields(ticket, changes={"subject": "Renamed"}, actor=agent)
    with pytest.raises(services.TicketNotAllowed, match="change the escalation level"):
        services.ticket_update_fields(ticket, changes={"escalation_level": 2}, actor=agent)
    # One refused field refuses the whole change.
    with pytest.raises(services.TicketNotAllowed, match="change the subject"):
        services.ticket_update_fields(
            ticket, changes={"priority": "urgent", "subject": "Renamed"}, actor=agent
        )
    fresh = current(ticket)
    assert (fresh.subject, fresh.escalation_level, fresh.priority, fresh.version) == (
        "Printer on fire",
        0,
        "medium",
        ticket.version,
    )


def test_supervisor_changes_subject_and_escalation(ticket, supervisor):
    ticket = services.ticket_update_fields(
        ticket, changes={"subject": "Renamed", "escalation_level": 2}, actor=supervisor
    )
    assert (ticket.subject, ticket.escalation_level) == ("Renamed", 2)


def test_permissions_given_to_the_agent_role_take_effect(ticket, agent):
    give_to_agents(agent, rbac.MANAGE_TICKETS)
    ticket = services.ticket_update_fields(ticket, changes={"subject": "Renamed"}, actor=agent)
    with pytest.raises(services.TicketNotAllowed, match="change the escalation level"):
        services.ticket_update_fields(ticket, changes={"escalation_level": 1}, actor=agent)
    give_to_agents(agent, rbac.ESCALATE_TICKET)
    ticket = services.ticket_update_fields(ticket, changes={"escalation_level": 1}, actor=agent)
    assert (ticket.subject, ticket.escalation_level) == ("Renamed", 1)


def test_escalate_ticket_granted_on_one_ticket_allows_that_ticket_only(customer, team, agent):
    granted, other = make_ticket(customer, team=team), make_ticket(customer, team=team)
    assign_perm(rbac.ESCALATE_TICKET, agent, granted)
    assert services.ticket_update_fields(
        granted, changes={"escalation_level": 1}, actor=agent
    ).escalation_level
    with pytest.raises(services.TicketNotAllowed, match="change the escalation level"):
        services.ticket_update_fields(other, changes={"escalation_level": 1}, actor=agent)


def test_staff_without_provide_support_cannot_change_everyday_fields(ticket, agent):
    take_from_agents(agent, rbac.PROVIDE_SUPPORT)
    for changes in ({"priority": "urgent"}, {"team": ticket.team}, {"custom_fields": {}}):
        with pytest.raises(services.TicketNotAllowed, match="You do not have permission to change"):
            services.ticket_update_fields(ticket, changes=changes, actor=agent)
    with pytest.raises(services.TicketNotAllowed, match="change the tags"):
        services.ticket_set_tags(ticket, names=["vip"], actor=agent)
    assert current(ticket).version == ticket.version


def test_desk_priority_edit_without_provide_support_shows_the_refusal(client, ticket, agent):
    take_from_agents(agent, rbac.PROVIDE_SUPPORT)
    client.force_login(agent)
    response = client.post(
        reverse("tickets:desk_update", args=[ticket.number]),
        {"field": "priority", "value": "urgent", "version": ticket.version},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 409
    assert "You do not have permission to change the priority of a ticket." in response.content.decode()
    assert current(ticket).priority == "medium"


def test_staff_without_provide_support_cannot_reply_or_add_notes(ticket, agent):
    take_from_agents(agent, rbac.PROVIDE_SUPPORT)
    with pytest.raises(services.TicketNotAllowed, match=services.ANSWER_NOT_ALLOWED):
        services.ticket_reply(ticket, body="On it.", actor=agent)
    with pytest.raises(services.TicketNotAllowed, match=services.ANSWER_NOT_ALLOWED):
        services.ticket_add_note(ticket, body="Looking.", actor=agent)
    assert ticket.messages.count() == 1  # the description only


# The pages offer only what the role allows


def workspace_page(client, user, ticket) -> str:
    client.force_login(user)
    response = client.get(reverse("tickets:desk_ticket", args=[ticket.number]))
    assert response.status_code == 200
    return response.content.decode()


def queue_page(client, user) -> str:
    client.force_login(user)
    response = client.get(QUEUE)
    assert response.status_code == 200
    return response.content.decode()


def test_agent_role_sees_every_everyday_control(client, ticket, agent):
    page = workspace_page(client, agent, ticket)
    for control in ('id="composer"', "data-shortcut-take", 'id="edit-assignee"', 'id="edit-priority"',
                    'id="edit-team"', 'id="edit-tags"', '<option value="closed">'):  # fmt: skip
        assert control in page
    assert 'id="merge"' not in page  # manage_threads: supervisors
    page = queue_page(client, agent)
    for option in (
        'value="assign_me"',
        'value="status:closed"',
        'value="priority:urgent"',
        'value="add_tag"',
    ):
        assert option in page


def test_without_close_ticket_closed_is_not_offered(client, ticket, agent):
    take_from_agents(agent, rbac.CLOSE_TICKET)
    page = workspace_page(client, agent, ticket)
    assert '<option value="closed">' not in page and '<option value="resolved">' in page
    page = queue_page(client, agent)
    assert 'value="status:closed"' not in page and 'value="status:resolved"' in page


def test_without_assign_ticket_take_and_assignee_are_not_offered(client, ticket, agent):
    take_from_agents(agent, rbac.ASSIGN_TICKET)
    page = workspace_page(client, agent, ticket)
    assert "data-shortcut-take" not in page and 'id="edit-assignee"' not in page
    assert 'id="edit-priority"' in page
    page = queue_page(client, agent)
    assert 'value="assign_me"' not in page and 'value="unassign"' not in page
    assert 'value="priority:urgent"' in page


def test_assign_ticket_granted_on_one_ticket_shows_take_on_that_ticket(client, customer, team, agent):
    granted, other = make_ticket(customer, team=team), make_ticket(customer, team=team)
    take_from_agents(agent, rbac.ASSIGN_TICKET)
    assign_perm(rbac.ASSIGN_TICKET, agent, granted)
    assert "data-shortcut-take" in workspace_page(client, agent, granted)
    assert "data-shortcut-take" not in workspace_page(client, agent, other)


def test_without_provide_support_the_ticket_reads_without_composer_or_field_forms(
    client, customer, team, agent
):
    ticket = make_ticket(customer, team=team, subject="Printer jam")
    services.ticket_update_fields(ticket, changes={"priority": "high"}, actor=None)
    services.ticket_set_tags(current(ticket), names=["hardware"], actor=None)
    take_from_agents(agent, rbac.PROVIDE_SUPPORT)
    page = workspace_page(client, agent, current(ticket))
    assert "Your role does not include answering tickets" in page
    assert 'name="body"' not in page
    for form in ('id="edit-priority"', 'id="edit-team"', 'id="edit-tags"'):
        assert form not in page
    assert "<dt>Priority</dt><dd>High</dd>" in page and "<dt>Tags</dt><dd>hardware</dd>" in page
    assert f"<dt>Team</dt><dd>{team.name}</dd>" in page
    page = queue_page(client, agent)
    assert 'value="priority:urgent"' not in page and 'value="add_tag"' not in page
    assert 'id="bulk-value"' not in page


def test_supervisor_sees_merge(client, ticket, supervisor):
    assert 'id="merge"' in workspace_page(client, supervisor, ticket)


def test_merging_closes_the_source_so_it_needs_close_ticket_too(client, customer, team, supervisor):
    source, into = make_ticket(customer, team=team), make_ticket(customer, team=team)
    Group.objects.get(name=roles.SUPERVISOR).permissions.remove(_permission(rbac.CLOSE_TICKET))
    rbac.forget(supervisor)
    with pytest.raises(services.TicketNotAllowed, match=services.CLOSE_NOT_ALLOWED):
        services.ticket_merge(source, into=into, actor=supervisor)
    assert current(source).merged_into_id is None and current(source).status == Status.NEW
    assert 'id="merge"' not in workspace_page(client, supervisor, source)
