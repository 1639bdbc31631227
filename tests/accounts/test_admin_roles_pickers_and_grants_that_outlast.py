"""The Django admin as administrators and partial-permission staff use it: a role clerk takes away only
what they could give, object-permission pages name no account to a clerk who may not view accounts, the
ticket's assignee picker offers agents, a temporary administrator makes no manager for good, a role that
loses the desk warns of its holders' open tickets; view-only clerks change nothing by crafted posts."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone

from accounts import rbac, roles
from accounts.models import RoleAssignment, Team, TeamMember, User
from audit.models import AuditEvent
from tests.admin_pages import change_url, changelist_url, form_data, messages_of, post_change, run_action
from tests.factories import (
    OrganizationFactory,
    TeamFactory,
    give_custom_role,
    make_administrator,
    make_agent,
    make_customer,
    make_ticket,
    make_user_with_role,
)
from tickets import services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def perm(app_label: str, codename: str) -> Permission:
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def tier_two_role() -> Group:
    """A role an administrator made: opens the desk, answers, closes and assigns tickets."""
    role = Group.objects.create(name="Tier 2")
    for app_label, codename in (("accounts", "view_support_queue"), ("accounts", "provide_support"),
                                ("tickets", "view_ticket"), ("tickets", "close_ticket"),
                                ("tickets", "assign_ticket")):  # fmt: skip
        role.permissions.add(perm(app_label, codename))
    return role


def temporary_administrator() -> User:
    """Administrator until the day after tomorrow (holiday cover), an Agent for good."""
    cover = make_user_with_role(
        roles.ADMINISTRATOR, is_staff=True, expires_at=timezone.now() + timedelta(days=2)
    )
    RoleAssignment.objects.create(user=cover, role=Group.objects.get(name=roles.AGENT))
    return fresh(cover)


# --- roles, pickers, grants that outlast -------------------------------------------------------------


def test_a_role_clerk_cannot_strip_from_a_role_permissions_they_do_not_hold(client):
    """A clerk given "view/change role" (and nothing else) opens the "Tier 2" role, held by an agent,
    and unticks "Can close ticket", which the clerk does not hold and could never have given. Saved:
    the agent can no longer close tickets. The object-permission screens refuse exactly this
    (REVOKE_BEYOND_OWN_OBJECT) and the role assignments refuse taking away a role the actor could not
    give (ROLE_OUT_OF_REACH); the role page should refuse it too, with 422 and the permission kept."""
    role = tier_two_role()
    holder = make_agent(TeamFactory(name="Tier two"))
    RoleAssignment.objects.create(user=holder, role=role)
    assert rbac.has_permission(fresh(holder), rbac.CLOSE_TICKET)
    clerk = give_custom_role(
        make_customer(), "Role clerks", [("auth", "view_group"), ("auth", "change_group")]
    )
    client.force_login(clerk)

    kept = [str(pk) for pk in role.permissions.exclude(codename="close_ticket").values_list("pk", flat=True)]
    response = post_change(client, role, permissions=kept)

    assert response.status_code == 422
    assert role.permissions.filter(codename="close_ticket").exists()


def test_object_permission_pages_hide_accounts_from_a_clerk_who_may_not_view_them(client):
    """A clerk who may view and change teams but not view users (their user page answers 403) opens
    /admin/accounts/team/<id>/permissions/user-manage/<user id>/ for any id and reads that account's
    name; the page's "user" box tells them which e-mail addresses have an account (302 to its page)
    and which do not (422). Walking the ids lists every customer. Zammad/osTicket show people only to
    staff allowed to see people: these pages should answer 404 for accounts the actor may not view
    (or require view_user), and not tell known addresses from unknown ones."""
    team = TeamFactory(name="Payroll")
    secret = make_customer(name="Gloria Globex", email="gloria.private@globex.example")
    clerk = give_custom_role(
        make_agent(team), "Team clerks", [("accounts", "view_team"), ("accounts", "change_team")]
    )
    client.force_login(clerk)
    assert client.get(change_url(secret)).status_code == 403  # not theirs to see

    page = client.get(reverse("admin:accounts_team_permissions_manage_user", args=[team.pk, secret.pk]))
    assert page.status_code == 404 and "Gloria Globex" not in page.content.decode()

    select = reverse("admin:accounts_team_permissions", args=[team.pk])
    known = client.post(select, {"user": secret.email, "submit_manage_user": "1"})
    unknown = client.post(select, {"user": "nobody@globex.example", "submit_manage_user": "1"})
    assert known.status_code == unknown.status_code


def test_the_ticket_assignee_picker_offers_agents_only(client):
    """An administrator types "zed" in a ticket's Assignee box in the admin: the picker offers
    "Zed Customer", a customer, beside the agent; choosing them is then refused on save ("not an agent
    who can see this ticket"). The team-member and skill pickers already offer agents only
    (UserAdmin.AGENT_PICKERS); the ticket's assignee picker should too, as the desk's menu does."""
    team = TeamFactory(name="Support")
    make_customer(name="Zed Customer", email="zed@customer.example")
    make_agent(team, name="Zed Agent", email="zed@staff.example")
    client.force_login(make_administrator())

    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "tickets", "model_name": "ticket", "field_name": "assignee", "term": "zed"},
    )

    offered = [row["text"] for row in response.json()["results"]]
    assert "Zed Agent" in offered
    assert "Zed Customer" not in offered


def test_a_temporary_administrator_makes_no_organisation_manager_for_good(client):
    """An Administrator until the day after tomorrow (an Agent for good) ticks "Is organisation
    manager" on an Acme customer: saved, and the customer reads every Acme ticket for good, long after
    the cover ended. The admin treats the flag as a grant of the organisation's tickets
    (security_fields; MANAGER_OUT_OF_REACH), and a temporary administrator makes no grant that outlasts
    their role (rbac.lasting: no membership, no role made permanent, no queue for good). It should be
    refused (422) as MEMBERS_OUTLAST refuses a membership."""
    acme = OrganizationFactory(name="Acme")
    customer = make_customer(acme)
    other = make_customer(acme)
    ticket = make_ticket(other, subject="Acme payroll question")
    client.force_login(temporary_administrator())

    response = post_change(client, customer, is_organization_manager="on")

    assert response.status_code == 422
    assert not fresh(customer).is_organization_manager
    assert not Ticket.objects.visible_to(fresh(customer)).filter(pk=ticket.pk).exists()


def test_taking_the_desk_from_a_role_warns_of_its_holders_open_tickets(client):
    """An administrator unticks "Can open the agent desk" on the "Tier 2" role. Its holder, assigned an
    open ticket, is no longer an agent: the ticket keeps them as assignee and no queue's Unassigned view
    offers it, so the customer waits. The page says only "changed successfully". Taking the role from
    that person on their user page, or suspending them, warns of exactly this (STRANDED_TICKETS); the
    role page should warn too."""
    team = TeamFactory(name="Tier two")
    tier_two_role()
    holder = make_user_with_role("Tier 2", name="Tara Tiertwo")
    TeamMember.objects.create(user=holder, team=team, role=TeamMember.Role.AGENT)
    boss = make_administrator()
    ticket = make_ticket(make_customer(), team=team)
    services.ticket_assign(ticket, assignee=fresh(holder), actor=boss)
    client.force_login(boss)
    role = Group.objects.get(name="Tier 2")

    kept = [
        str(pk) for pk in role.permissions.exclude(codename="view_support_queue").values_list("pk", flat=True)
    ]
    page = client.get(change_url(role))
    response = client.post(change_url(role), form_data(page, permissions=kept), follow=True)

    assert not rbac.is_agent(fresh(holder)) and fresh(ticket).assignee_id == holder.pk
    assert any("Tara Tiertwo" in message and "open ticket" in message for message in messages_of(response))


# --- crafted posts, filters and kept rows ------------------------------------------------------------


def test_admin_ticket_edits_obey_the_desks_rules(client):
    """Closed is final, nothing goes back to New, a deleted or merged ticket is not edited: 422, unchanged."""
    boss = make_administrator()
    client.force_login(boss)
    team, customer = TeamFactory(), make_customer()
    closed, opened, deleted, merged, into = (make_ticket(customer, team=team) for _ in range(5))
    services.ticket_transition(closed, status="closed", actor=boss)
    services.ticket_transition(opened, status="open", actor=boss)
    services.ticket_delete(deleted, actor=boss)
    services.ticket_merge(merged, into=into, actor=boss)

    assert post_change(client, fresh(closed), status="open").status_code == 422
    assert post_change(client, fresh(opened), status="new").status_code == 422
    assert post_change(client, fresh(deleted), priority="urgent").status_code == 422
    assert post_change(client, fresh(merged), priority="urgent", subject="Changed").status_code == 422
    assert [fresh(t).status for t in (closed, opened)] == ["closed", "open"]
    assert fresh(deleted).priority == fresh(merged).priority == "medium"


def test_the_requester_is_not_changed_by_a_crafted_post(client):
    boss = make_administrator()
    client.force_login(boss)
    customer, other = make_customer(), make_customer()
    ticket = make_ticket(customer, team=TeamFactory())
    post_change(client, ticket, requester=str(other.pk), priority="high")
    assert fresh(ticket).requester_id == customer.pk and fresh(ticket).priority == "high"


def test_view_only_staff_change_nothing_by_crafted_posts(client):
    """A view-only clerk (and agent, so the ticket list shows them their team's tickets): posts to change
    pages answer 403, delete pages 403, and the ticket actions are refused by the services."""
    team = TeamFactory(name="Support")
    ticket = make_ticket(make_customer(), team=team)
    victim = make_customer(name="Vic Victim")
    clerk = give_custom_role(
        make_agent(team),
        "Viewers",
        [("accounts", "view_user"), ("accounts", "view_team"), ("auth", "view_group")],
    )
    client.force_login(clerk)
    role = Group.objects.get(name=roles.AGENT)
    before = set(role.permissions.values_list("pk", flat=True))

    assert client.post(change_url(victim), {"name": "Changed", "email": victim.email}).status_code == 403
    assert client.post(change_url(team), {"name": "Renamed", "slug": team.slug}).status_code == 403
    assert client.post(change_url(role), {"name": roles.AGENT, "permissions": []}).status_code == 403
    assert client.post(change_url(ticket), {"subject": "Changed", "status": "closed"}).status_code == 403
    assert (
        client.post(reverse("admin:accounts_team_delete", args=[team.pk]), {"post": "yes"}).status_code == 403
    )
    run_action(client, Ticket, "delete_tickets", [ticket.pk])
    assert fresh(victim).name == "Vic Victim" and fresh(team).name == "Support"
    assert fresh(ticket).subject == "Printer on fire" and not fresh(ticket).is_deleted
    assert set(role.permissions.values_list("pk", flat=True)) == before


def test_password_hashes_cannot_be_probed_through_list_filters(client):
    boss = make_administrator(email="boss@example.org")
    clerk = give_custom_role(make_customer(), "People clerks", [("accounts", "view_user")])
    client.force_login(clerk)
    digest = fresh(boss).password
    response = client.get(changelist_url(User), {"password__startswith": digest[:12]})
    assert response.status_code == 400


def test_temporary_administrator_grants_no_team_queue(client):
    payroll = TeamFactory(name="Payroll")
    colleague = make_agent(TeamFactory(name="Support"))
    client.force_login(temporary_administrator())
    url = reverse("admin:accounts_team_permissions_manage_user", args=[payroll.pk, colleague.pk])
    assert client.post(url, {"permissions": ["work_team_queue"]}).status_code == 422
    assert payroll.pk not in rbac.workable_team_ids(fresh(colleague))


def test_role_permission_edits_are_security_audited(client):
    role = tier_two_role()
    client.force_login(make_administrator())
    kept = [str(pk) for pk in role.permissions.exclude(codename="close_ticket").values_list("pk", flat=True)]
    assert post_change(client, role, permissions=kept).status_code == 302
    event = AuditEvent.objects.get(object_repr="Tier 2", action="update")
    assert event.category == AuditEvent.Category.SECURITY and "permissions" in event.changes


def test_a_team_holding_tickets_is_kept(client):
    team = TeamFactory(name="Billing")
    make_ticket(make_customer(), team=team)
    client.force_login(make_administrator())
    client.post(reverse("admin:accounts_team_delete", args=[team.pk]), {"post": "yes"})
    assert Team.objects.filter(pk=team.pk).exists()
