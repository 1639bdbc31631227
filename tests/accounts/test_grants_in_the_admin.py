"""Grants made in the admin reach no further than the actor's own: team memberships only in teams they
supervise, organisation managers only of organisations whose tickets they see, roles only for as long
as they hold them; and organisation, team and skill names are unique in any letter case."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm, get_group_perms, get_user_perms

from accounts import rbac, roles
from accounts import services as account_services
from accounts.models import Invitation, Organization, RoleAssignment, Skill, Team, TeamMember, User
from tests.admin_pages import change_url, changelist_url, form_data, post_change
from tests.factories import (
    OrganizationFactory,
    TeamFactory,
    TeamMemberFactory,
    give_custom_role,
    make_administrator,
    make_agent,
    make_customer,
    make_ticket,
    make_user_with_role,
)
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

ROSTER = [("accounts", f"{verb}_teammember") for verb in ("view", "add", "change", "delete")] + [
    ("accounts", "view_team"),
    ("accounts", "view_user"),
]


def membership_form(user: User, team: Team) -> dict:
    return {"user": user.pk, "team": team.pk, "role": TeamMember.Role.AGENT, "is_available": "on",
            "joined_at_0": "2026-01-05", "joined_at_1": "09:00:00"}  # fmt: skip


def sees(user: User, ticket: Ticket) -> bool:
    return Ticket.objects.visible_to(User.objects.get(pk=user.pk)).filter(pk=ticket.pk).exists()


# --- object permissions -------------------------------------------------------------------------------


def test_a_clerk_takes_away_no_object_grant_they_could_not_have_given(client):
    """On a team's "Object permissions" screen a clerk who may only view and change teams can neither give
    an agent delete_team on it nor take it away (as the role screens refuse: ROLE_OUT_OF_REACH); what
    they hold themselves they may take away."""
    team = TeamFactory(name="Escalations")
    agent = make_agent(TeamFactory())
    for name in ("accounts.delete_team", "accounts.view_team", "accounts.change_team"):
        assign_perm(name, agent, team)
    clerk = give_custom_role(
        make_agent(TeamFactory()), "Team clerks", [("accounts", "view_team"), ("accounts", "change_team")]
    )
    client.force_login(clerk)
    url = reverse("admin:accounts_team_permissions_manage_user", args=[team.pk, agent.pk])

    response = client.post(url, {"permissions": ["view_team", "change_team"]})
    assert (
        response.status_code == 422
        and rbac.REVOKE_BEYOND_OWN_OBJECT.format(missing="accounts.delete_team") in response.content.decode()
    )
    assert set(get_user_perms(agent, team)) == {"delete_team", "view_team", "change_team"}

    assert client.post(url, {"permissions": ["view_team", "delete_team"]}).status_code == 302
    assert set(get_user_perms(agent, team)) == {"delete_team", "view_team"}


# --- team memberships ------------------------------------------------------------------------------


def test_a_roster_clerk_cannot_join_a_team_whose_queue_they_do_not_work(client):
    """A membership hands out the team's queue, so an agent given a role to keep rosters cannot put
    themselves into Payroll and read its tickets: 422 with the reason, nothing saved."""
    support, payroll = TeamFactory(name="Support"), TeamFactory(name="Payroll")
    clerk = give_custom_role(make_agent(support), "Roster clerk", ROSTER)
    secret = make_ticket(make_customer(), team=payroll, subject="Salary of the CEO")
    client.force_login(clerk)

    response = client.post(reverse("admin:accounts_teammember_add"), membership_form(clerk, payroll))

    assert response.status_code == 422
    assert "you do not supervise “Payroll”" in response.content.decode()
    assert not TeamMember.objects.filter(team=payroll).exists()
    assert not sees(clerk, secret)


def test_a_team_lead_adds_members_to_their_own_team_but_moves_none_out_of_another(client):
    """The lead of Support keeps Support's roster (a colleague added is saved), but neither moves a
    Payroll member into Support nor removes Payroll members with the bulk delete."""
    support, payroll = TeamFactory(name="Support"), TeamFactory(name="Payroll")
    lead = make_agent()
    TeamMemberFactory(user=lead, team=support, role=TeamMember.Role.LEAD)
    lead = give_custom_role(lead, "Roster clerk", ROSTER)
    colleague = make_agent()
    payroll_member = TeamMemberFactory(user=make_agent(), team=payroll)
    client.force_login(lead)

    added = client.post(reverse("admin:accounts_teammember_add"), membership_form(colleague, support))
    assert added.status_code == 302
    assert TeamMember.objects.filter(user=colleague, team=support).exists()

    moved = client.post(
        reverse("admin:accounts_teammember_change", args=[payroll_member.pk]),
        membership_form(colleague, support),
    )
    assert moved.status_code == 403
    assert TeamMember.objects.get(pk=payroll_member.pk).team == payroll
    bulk = client.post(
        changelist_url(TeamMember),
        {"action": "delete_selected", "_selected_action": [payroll_member.pk], "post": "yes"},
    )
    assert bulk.status_code == 403
    assert TeamMember.objects.filter(pk=payroll_member.pk).exists()


def test_the_team_page_refuses_a_membership_row_for_a_clerk_who_does_not_supervise_the_team(client):
    """The same rule on the team's own page: its members' inline rows are not the clerk's to add to."""
    payroll = TeamFactory(name="Payroll")
    clerk = give_custom_role(
        make_agent(TeamFactory(name="Support")), "Team clerk", [*ROSTER, ("accounts", "change_team")]
    )
    client.force_login(clerk)

    response = post_change(
        client,
        payroll,
        **{
            "memberships-TOTAL_FORMS": "1",
            "memberships-0-user": str(clerk.pk),
            "memberships-0-role": TeamMember.Role.AGENT,
            "memberships-0-is_available": "on",
            "memberships-0-joined_at_0": "2026-01-05",
            "memberships-0-joined_at_1": "09:00:00",
        },
    )

    assert response.status_code == 422
    assert not TeamMember.objects.filter(team=payroll).exists()


# --- organisation managers -------------------------------------------------------------------------


def test_a_people_clerk_cannot_make_themselves_manager_of_another_organisation(client):
    """A manager sees every ticket of the organisation: an agent who may edit accounts cannot move their
    own into Globex as its manager. 422 with the reason; the account stays as it was."""
    clerk = give_custom_role(
        make_agent(TeamFactory(name="Support")),
        "People clerk",
        [("accounts", "view_user"), ("accounts", "change_user")],
    )
    globex = OrganizationFactory(name="Globex", slug="globex")
    secret = make_ticket(make_customer(globex), subject="Globex merger plans")
    client.force_login(clerk)

    response = post_change(client, clerk, organization=str(globex.pk), is_organization_manager="on")

    assert response.status_code == 422
    assert "can make a manager of it" in response.content.decode()
    assert not User.objects.get(pk=clerk.pk).is_organization_manager
    assert not sees(clerk, secret)


def test_an_administrator_makes_a_customer_manager_of_their_organisation(client):
    """Administrators see every ticket, so they make managers as before."""
    acme = OrganizationFactory(name="Acme")
    customer = make_customer(acme)
    client.force_login(make_user_with_role(roles.ADMINISTRATOR, is_staff=True))

    assert post_change(client, customer, is_organization_manager="on").status_code == 302
    assert User.objects.get(pk=customer.pk).is_organization_manager


def test_an_invitation_that_makes_managers_is_refused_to_a_clerk_who_does_not_see_the_organisation(client):
    """An invitation code with "People who sign up become managers" would hand the same view to whoever
    uses it: refused to a clerk who does not see the organisation's tickets."""
    clerk = give_custom_role(
        make_agent(TeamFactory(name="Support")),
        "Invitation clerk",
        [("accounts", "add_invitation"), ("accounts", "view_invitation"), ("accounts", "view_organization")],
    )
    globex = OrganizationFactory(name="Globex")
    client.force_login(clerk)

    response = client.post(
        reverse("admin:accounts_invitation_add"),
        {"organization": globex.pk, "code": "join-globex", "email": "", "max_uses": "5", "is_active": "on",
         "makes_manager": "on", "expires_at_0": "", "expires_at_1": ""},
    )  # fmt: skip

    assert response.status_code == 422
    assert not Invitation.objects.filter(code="join-globex").exists()


# --- roles held for a while ------------------------------------------------------------------------


def temporary_administrator(days: int = 1) -> User:
    return make_user_with_role(
        roles.ADMINISTRATOR, is_staff=True, expires_at=timezone.now() + timedelta(days=days)
    )


def test_a_temporary_administrator_cannot_make_their_own_role_permanent(client):
    """Administrator until tomorrow ends tomorrow: clearing the expiry of one's own assignment is refused
    with the date the role ends."""
    temporary = temporary_administrator()
    assignment = RoleAssignment.objects.get(user=temporary, role__name=roles.ADMINISTRATOR)
    client.force_login(temporary)

    response = post_change(client, assignment, expires_at_0="", expires_at_1="")

    assert response.status_code == 422
    assert "so you can give it until then at the latest" in response.content.decode()
    assignment.refresh_from_db()
    assert assignment.expires_at is not None


def test_a_role_held_for_a_while_is_given_to_others_for_no_longer(client):
    """Through the service too: a temporary Administrator gives the role until their own ends, not for
    good and not beyond; a role they also hold for good (Agent, beneath it) they give without an end."""
    temporary = temporary_administrator(days=2)
    other = make_customer()

    with pytest.raises(PermissionDenied):
        account_services.role_assign(other, roles.ADMINISTRATOR, actor=temporary)
    with pytest.raises(PermissionDenied):
        account_services.role_assign(
            other, roles.ADMINISTRATOR, expires_at=timezone.now() + timedelta(days=3), actor=temporary
        )
    account_services.role_assign(
        other, roles.ADMINISTRATOR, expires_at=timezone.now() + timedelta(days=1), actor=temporary
    )

    account_services.role_assign(temporary, roles.AGENT, actor=None)
    account_services.role_assign(other, roles.AGENT, actor=User.objects.get(pk=temporary.pk))
    assert RoleAssignment.objects.get(user=other, role__name=roles.AGENT).expires_at is None


# --- names in any letter case ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (Organization, {"name": "acme", "slug": "acme-two", "email_domains": "[]", "settings": "{}",
                        "is_active": "on"}),
        (Team, {"name": "acme", "slug": "acme-two", "description": "", "email": "", "is_active": "on",
                "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"}),
        (Skill, {"name": "acme", "slug": "acme-two", "description": ""}),
    ],
)  # fmt: skip
def test_names_are_unique_in_any_letter_case(superuser_client, model, data):
    """ "acme" next to "Acme" would be two organisations (teams, skills) nobody can tell apart in the desk's
    menus: a form error (422, the name kept), as Zendesk's "Name has already been taken"."""
    model.objects.create(name="Acme", slug="acme")
    response = superuser_client.post(reverse(f"admin:accounts_{model._meta.model_name}_add"), data)

    assert response.status_code == 422
    assert "has this name (in some letter case)" in response.content.decode()
    assert model.objects.filter(name__iexact="acme").count() == 1


def test_view_organization_tickets_from_a_role_makes_no_managers(client):
    """Only a grant on an organisation shows its tickets (the permission from a role shows none), so
    only such a grant lets its holder make managers of it."""
    clerk = give_custom_role(
        make_agent(TeamFactory(name="Support")),
        "People clerk",
        [("accounts", "view_user"), ("accounts", "change_user"), ("accounts", "view_organization_tickets")],
    )
    globex = OrganizationFactory(name="Globex")
    secret = make_ticket(make_customer(globex), subject="Globex merger plans")
    client.force_login(clerk)

    assert (
        post_change(client, clerk, organization=str(globex.pk), is_organization_manager="on").status_code
        == 422
    )
    assert not sees(clerk, secret)


def test_a_manager_making_invitation_is_not_re_addressed_by_a_clerk_who_does_not_see_the_organisation(client):
    """Every use of such a code makes a manager: changing who may use it (address, uses) is refused as
    ticking the box would be."""
    clerk = give_custom_role(
        make_agent(TeamFactory(name="Support")),
        "Invitation clerk",
        [
            ("accounts", "change_invitation"),
            ("accounts", "view_invitation"),
            ("accounts", "view_organization"),
        ],
    )
    invitation = Invitation.objects.create(
        organization=OrganizationFactory(name="Globex"), code="globex-boss", email="ceo@globex.example",
        makes_manager=True,
    )  # fmt: skip
    client.force_login(make_administrator(is_superuser=True))
    page = client.get(change_url(invitation))  # the page as someone who may see it has it
    client.force_login(clerk)
    # Its code hands out Globex's tickets: not shown to the clerk at all (the admin's "doesn't exist").
    assert client.get(change_url(invitation)).status_code == 302
    changed = form_data(page, email="accomplice@evil.example", max_uses="50")
    assert client.post(change_url(invitation), changed).status_code == 302

    invitation.refresh_from_db()
    assert (invitation.email, invitation.max_uses) == ("ceo@globex.example", 1)


def test_a_role_that_opens_no_desk_counts_for_no_rank_in_the_expiry_limit():
    """Ranked as rbac.rank() ranks: an Agent until tomorrow who holds for good only a "Clerk" role that
    opens no desk could not give the Customer role after tomorrow, so gives it until then at most."""
    actor = make_customer()
    actor.role_assignments.all().delete()
    customer_role = Group.objects.get(name=roles.CUSTOMER)
    clerk_role = Group.objects.create(name="Clerk")
    clerk_role.permissions.set(customer_role.permissions.all())
    account_services.role_assign(actor, "Clerk", actor=None)
    tomorrow = timezone.now() + timedelta(days=1)
    account_services.role_assign(actor, roles.AGENT, expires_at=tomorrow, actor=None)
    actor = User.objects.get(pk=actor.pk)

    assert rbac.grant_expiry_limit(actor, customer_role) == tomorrow
    with pytest.raises(PermissionDenied):
        account_services.role_assign(make_customer(), roles.CUSTOMER, actor=actor)


def test_a_role_assignment_changed_in_the_admin_is_granted_by_whoever_changed_it(superuser_client, clock):
    """As services.role_assign records a grant: the supervisor who gave Agent never gave Supervisor."""
    supervisor, person = make_user_with_role(roles.SUPERVISOR), make_customer()
    assignment = account_services.role_assign(person, roles.AGENT, actor=supervisor)
    first_granted_at = assignment.granted_at
    clock.shift(timedelta(hours=1))
    admin = User.objects.get(pk=superuser_client.session["_auth_user_id"])
    untouched = post_change(superuser_client, assignment)
    assert untouched.status_code == 302
    assignment.refresh_from_db()
    assert (assignment.granted_by, assignment.granted_at) == (supervisor, first_granted_at)  # unchanged
    response = post_change(
        superuser_client, assignment, role=str(Group.objects.get(name=roles.SUPERVISOR).pk)
    )
    assert response.status_code == 302
    assignment.refresh_from_db()
    assert (assignment.role.name, assignment.granted_by) == (roles.SUPERVISOR, admin)
    assert assignment.granted_at >= first_granted_at + timedelta(hours=1)


# --- the object-permission screens: grants decided by their own rules --------------------------------


def permissions_url(obj, holder) -> str:
    kind = "user" if isinstance(holder, User) else "group"
    name = f"admin:{obj._meta.app_label}_{obj._meta.model_name}_permissions_manage_{kind}"
    return reverse(name, args=[obj.pk, holder.pk])


@pytest.mark.parametrize("kind", ["organisation", "team"])
def test_a_role_permission_that_opens_nothing_does_not_let_a_clerk_grant_themselves_the_tickets(client, kind):
    """A clerk whose role holds view_organization_tickets (or work_team_queue) and the right to change
    organisations (teams): the permission from a role shows no organisation's tickets and works no queue,
    so holding it lets them hand out neither; the screen refuses a grant to themselves on Globex (Payroll)
    with the reason, and they read nothing of it. Before the fix the grant was saved ("Permissions
    saved.") and the clerk read every Globex (Payroll) ticket; the user and membership forms already
    refused the same reach."""
    if kind == "organisation":
        target = OrganizationFactory(name="Globex")
        secret = make_ticket(make_customer(target), subject="Globex merger plans")
        grants = [("accounts", "view_organization"), ("accounts", "change_organization"),
                  ("accounts", "view_organization_tickets")]  # fmt: skip
        permission, reason = "view_organization_tickets", "Only someone who sees every ticket of Globex"
    else:
        target = TeamFactory(name="Payroll")
        secret = make_ticket(make_customer(), team=target, subject="Salary of the CEO")
        grants = [("accounts", "view_team"), ("accounts", "change_team"), ("accounts", "work_team_queue")]
        permission, reason = "work_team_queue", "Only an administrator or a supervisor of team Payroll"
    clerk = give_custom_role(make_agent(TeamFactory(name="Support")), "Clerks", grants)
    client.force_login(clerk)
    response = client.post(permissions_url(target, clerk), {"permissions": [permission]})
    assert response.status_code == 422 and reason in response.content.decode()
    assert not get_user_perms(clerk, target) and not sees(clerk, secret)
    # Nor to a role, which they could then hold.
    role = Group.objects.create(name="Night shift")
    assert client.post(permissions_url(target, role), {"permissions": [permission]}).status_code == 422
    assert not get_group_perms(role, target)


def test_a_supervisor_of_the_team_may_still_hand_out_its_queue(client):
    """The rule's other side: who supervises the team (and runs its memberships) grants its queue."""
    payroll = TeamFactory(name="Payroll")
    lead = make_agent()
    TeamMemberFactory(user=lead, team=payroll, role=TeamMember.Role.LEAD)
    lead = give_custom_role(lead, "Clerks", [("accounts", "view_team"), ("accounts", "change_team"),
                                             ("accounts", "work_team_queue")])  # fmt: skip
    colleague = make_agent(TeamFactory(name="Support"))
    client.force_login(lead)
    assert (
        client.post(permissions_url(payroll, colleague), {"permissions": ["work_team_queue"]}).status_code
        == 302
    )
    assert payroll.pk in rbac.workable_team_ids(User.objects.get(pk=colleague.pk))


def test_a_grant_to_a_customer_is_refused_with_the_reason(superuser_client):
    """A Globex customer picked on Acme's permissions screen: refused, as the grant would give them nothing
    until the day they were made an agent, when it would open Acme's tickets unnoticed. Before the fix it
    was saved ("Permissions saved."). A suspended agent may be granted a queue that awaits their return."""
    acme, globex = OrganizationFactory(name="Acme"), OrganizationFactory(name="Globex")
    customer = make_customer(globex)
    response = superuser_client.post(
        permissions_url(acme, customer), {"permissions": ["view_organization_tickets"]}
    )
    # Refused as every form is, at 422 (before the fix guardian's page answered 200).
    assert response.status_code == 422 and "is not staff" in response.content.decode()
    assert not get_user_perms(customer, acme)
    agent = make_agent()
    User.objects.filter(pk=agent.pk).update(status=User.Status.SUSPENDED)
    team = TeamFactory(name="Legal")
    assert (
        superuser_client.post(permissions_url(team, agent), {"permissions": ["work_team_queue"]}).status_code
        == 302
    )


def test_holders_of_a_role_granted_a_queue_are_offered_as_its_assignees():
    """An agent who works Legal through a grant to a role they hold is offered in Legal's assignee picker
    and the queue's agent menus, as one granted it alone is; not once the role has expired. Before the
    fix only grants to single users were read."""
    from tickets import selectors

    legal = TeamFactory(name="Legal")
    night = Group.objects.create(name="Night shift")
    assign_perm(rbac.WORK_TEAM_QUEUE, night, legal)
    agent = make_agent(TeamFactory(name="Support"))
    account_services.role_assign(
        agent, "Night shift", expires_at=timezone.now() + timedelta(hours=1), actor=None
    )
    assert agent in selectors.agents_in_teams([legal.pk])
    RoleAssignment.objects.filter(user=agent, role=night).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert agent not in selectors.agents_in_teams([legal.pk])
