"""rbac.py: team access from memberships and grants, organisation isolation, explanations."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import timezone
from guardian.shortcuts import assign_perm

from accounts import rbac, roles
from accounts.services import role_assign
from tests.factories import (
    OrganizationFactory,
    TeamFactory,
    TeamMemberFactory,
    UserFactory,
    give_custom_role,
    make_administrator,
    make_agent,
    make_customer,
    make_supervisor,
    make_ticket,
    make_user_with_role,
)

pytestmark = pytest.mark.django_db


def test_agent_works_the_queues_of_their_teams_only():
    support, billing = TeamFactory(), TeamFactory()
    agent = make_agent(support)
    assert rbac.workable_team_ids(agent) == {support.pk}
    assert billing.pk not in rbac.workable_team_ids(agent)


def test_a_team_grant_opens_one_more_queue_and_explain_names_it():
    support, billing = TeamFactory(), TeamFactory(name="Billing")
    agent = make_agent(support)
    assign_perm(rbac.WORK_TEAM_QUEUE, agent, billing)
    agent = type(agent).objects.get(pk=agent.pk)
    assert rbac.workable_team_ids(agent) == {support.pk, billing.pk}
    decision = rbac.explain(agent, rbac.WORK_TEAM_QUEUE, billing)
    assert decision.allowed
    assert "object grant of accounts.work_team_queue on team Billing" in str(decision)
    assert "member of team" in str(rbac.explain(agent, rbac.WORK_TEAM_QUEUE, support))


def test_explain_gives_the_answer_the_queues_and_organisation_pages_act_on(clock):
    """explain() answers as workable_team_ids and sees_organization_tickets decide: a team grant to a role
    the agent holds (until it expires), every queue for an administrator, none for a customer granted
    one, an organisation's tickets for its manager and not for a role's permission alone."""
    support, legal = TeamFactory(), TeamFactory(name="Legal")
    agent = make_agent(support)
    assign_perm(rbac.WORK_TEAM_QUEUE, Group.objects.create(name="Night shift"), legal)
    role_assign(agent, "Night shift", expires_at=timezone.now() + timedelta(hours=1), actor=None)
    fresh = type(agent).objects.get
    assert rbac.explain(fresh(pk=agent.pk), rbac.WORK_TEAM_QUEUE, legal).allowed
    clock.shift(timedelta(hours=2))
    assert not rbac.explain(fresh(pk=agent.pk), rbac.WORK_TEAM_QUEUE, legal).allowed
    assert rbac.explain(make_administrator(), rbac.WORK_TEAM_QUEUE, legal).allowed
    customer = make_customer()
    assign_perm(rbac.WORK_TEAM_QUEUE, customer, legal)
    assert not rbac.explain(fresh(pk=customer.pk), rbac.WORK_TEAM_QUEUE, legal).allowed

    acme = OrganizationFactory(name="Acme")
    manager = make_customer(acme, manager=True)
    decision = rbac.explain(manager, rbac.VIEW_ORGANIZATION_TICKETS, acme)
    assert str(decision) == "allowed: manager of organisation Acme"
    auditor = give_custom_role(make_agent(support), "Auditors", [("accounts", "view_organization_tickets")])
    decision = rbac.explain(auditor, rbac.VIEW_ORGANIZATION_TICKETS, acme)
    assert not decision.allowed
    assert "a role's accounts.view_organization_tickets alone shows none" in str(decision)


def test_an_organisation_grant_to_a_customer_is_explained_as_showing_nothing(client):
    """A customer of Globex granted Acme's tickets (the organisation admin's permission screen lets an
    administrator pick anyone) is not shown them by the portal, and explain() and
    sees_organization_tickets say so. Before the fix both answered "allowed: grant of ...", which a
    manager made from that account would rely on."""
    acme, globex = OrganizationFactory(name="Acme"), OrganizationFactory(name="Globex")
    ticket = make_ticket(make_customer(acme), subject="Acme printer")
    customer = make_customer(globex)
    assign_perm(rbac.VIEW_ORGANIZATION_TICKETS, customer, acme)
    customer = type(customer).objects.get(pk=customer.pk)
    client.force_login(customer)
    assert client.get(f"/portal/tickets/{ticket.number}/").status_code == 404
    decision = rbac.explain(customer, rbac.VIEW_ORGANIZATION_TICKETS, acme)
    assert not decision.allowed
    assert "not staff: sees no other organisation's tickets, whatever is granted" in str(decision)
    assert not rbac.sees_organization_tickets(customer, acme)
    # Nor may they run the account of Acme's manager, who sees what they do not (the admin's bulk actions
    # read this filter; before the fix it still counted the grant).
    manager = make_customer(acme, manager=True)
    assert type(customer).objects.filter(rbac.out_of_reach_user_filter(customer), pk=manager.pk).exists()
    assert rbac.is_out_of_reach(customer, manager)
    agent = make_agent()
    assign_perm(rbac.VIEW_ORGANIZATION_TICKETS, agent, acme)
    assert rbac.sees_organization_tickets(type(agent).objects.get(pk=agent.pk), acme)


def test_team_grant_to_a_customer_gives_no_queue():
    team = TeamFactory()
    customer = make_customer()
    assign_perm(rbac.WORK_TEAM_QUEUE, customer, team)
    assert rbac.workable_team_ids(customer) == frozenset()


def test_administrator_works_every_queue_and_supervisor_supervises_their_teams():
    support, billing = TeamFactory(), TeamFactory()
    assert rbac.workable_team_ids(make_administrator()) == {support.pk, billing.pk}
    supervisor = make_supervisor(support)
    assert rbac.supervised_team_ids(supervisor) == {support.pk}
    assert rbac.supervised_team_ids(make_agent(support)) == frozenset()


def test_anonymous_and_suspended_users_have_no_roles(rf):
    from django.contrib.auth.models import AnonymousUser

    assert rbac.active_roles(AnonymousUser()) == frozenset()
    agent = make_agent()
    agent.status = agent.Status.SUSPENDED
    assert not rbac.is_agent(agent)
    assert not rbac.has_permission(UserFactory(), "accounts.provide_support")


def test_access_reads_roles_teams_grants_and_permissions_in_one_query(django_assert_num_queries):
    support, billing, legal, archive = TeamFactory(), TeamFactory(), TeamFactory(), TeamFactory()
    acme = OrganizationFactory()
    agent = make_agent(support)
    ticket = make_ticket(make_customer(acme), team=archive)
    assign_perm(rbac.WORK_TEAM_QUEUE, agent, billing)
    assign_perm("tickets.view_ticket", agent, ticket)
    # Grants to a role reach its holders while the role is in force, and not after.
    night_shift = Group.objects.create(name="Night shift")
    assign_perm("accounts.change_team", night_shift)
    assign_perm(rbac.WORK_TEAM_QUEUE, night_shift, legal)
    assign_perm(rbac.VIEW_ORGANIZATION_TICKETS, night_shift, acme)
    role_assign(agent, "Night shift", expires_at=timezone.now() + timedelta(hours=1), actor=None)
    agent = type(agent).objects.get(pk=agent.pk)

    with django_assert_num_queries(1):
        access = rbac.access(agent)
        assert rbac.workable_team_ids(agent) == {support.pk, billing.pk, legal.pk}
        assert agent.has_perm("accounts.change_team")
    assert access.roles == {"Agent", "Night shift"}
    assert access.ticket_ids == {ticket.pk}
    assert access.organization_ids == {acme.pk}

    role_assign(agent, "Night shift", expires_at=timezone.now() - timedelta(seconds=1), actor=None)
    assert rbac.workable_team_ids(agent) == {support.pk, billing.pk}
    assert rbac.access(agent).organization_ids == frozenset()
    assert not agent.has_perm("accounts.change_team")


def test_opening_the_desk_needs_a_staff_role_and_view_support_queue():
    agent = make_agent()
    assert rbac.can_open_desk(agent)
    view_queue = Permission.objects.get(codename="view_support_queue")
    customer = make_customer()
    customer.user_permissions.add(view_queue)
    assert not rbac.can_open_desk(customer)
    Group.objects.get(name=roles.AGENT).permissions.remove(view_queue)
    assert rbac.can_open_desk(agent)  # kept for the request, like every other access fact
    rbac.forget(agent)
    assert not rbac.can_open_desk(agent)
    assert rbac.can_open_desk(make_supervisor()) and rbac.can_open_desk(make_administrator())


def _custom_role(name: str, *codenames: str) -> Group:
    role = Group.objects.create(name=name)
    role.permissions.set(Permission.objects.filter(codename__in=codenames))
    return role


def test_a_role_an_administrator_makes_with_the_desk_permission_makes_agents():
    # Staff-ness follows the permissions, not the four built-in names: a "Tier 2" role works tickets.
    from tickets import selectors

    _custom_role("Tier 2", "view_support_queue", "provide_support", "view_ticket")
    _custom_role("Read-only auditor", "view_metrics")
    team = TeamFactory()
    tier2 = make_user_with_role("Tier 2")
    TeamMemberFactory(team=team, user=tier2)
    auditor = make_user_with_role("Read-only auditor")
    TeamMemberFactory(team=team, user=auditor)
    ticket = make_ticket(make_customer(), team=team)

    assert rbac.is_agent(tier2) and rbac.can_open_desk(tier2)
    assert not rbac.is_supervisor(tier2)
    assert rbac.workable_team_ids(tier2) == {team.pk}
    assert list(type(ticket).objects.visible_to(tier2)) == [ticket]
    assert not rbac.is_agent(auditor) and rbac.workable_team_ids(auditor) == frozenset()
    assert [user.pk for user in selectors.agents_in_teams([team.pk])] == [tier2.pk]


def test_a_custom_role_that_manages_agents_supervises_its_teams():
    _custom_role("Team lead", "view_support_queue", "provide_support", "manage_support_agents")
    team = TeamFactory()
    lead = make_user_with_role("Team lead")
    TeamMemberFactory(team=team, user=lead)
    assert rbac.is_supervisor(lead)
    assert rbac.supervised_team_ids(lead) == {team.pk}


def test_an_expired_custom_staff_role_makes_nobody_an_agent(clock):
    from tickets import selectors

    _custom_role("Tier 2", "view_support_queue", "provide_support")
    team = TeamFactory()
    tier2 = make_user_with_role("Tier 2", expires_at=timezone.now() + timedelta(hours=1))
    TeamMemberFactory(team=team, user=tier2)
    assert [user.pk for user in selectors.agents_in_teams([team.pk])] == [tier2.pk]
    clock.shift(timedelta(hours=2))
    rbac.forget(tier2)
    assert not rbac.is_agent(tier2)
    assert selectors.agents_in_teams([team.pk]) == []
