"""What a role holds decides what its people are, not its name (README): the built-in roles with a
permission taken away, roles an administrator makes in the admin, and permissions given to one person."""

import pytest
from django.contrib.auth.models import Group, Permission

from accounts import rbac
from accounts import services as account_services
from accounts.models import User
from tests.admin_pages import change_url, changelist_url
from tests.conftest import made_once_per_module
from tests.factories import (
    TeamFactory,
    TeamMemberFactory,
    UserFactory,
    ensure_roles,
    make_agent,
    make_customer,
    make_ticket,
)
from tickets import services as ticket_services
from tickets.models import SavedView, Ticket

pytestmark = pytest.mark.django_db


def _perm(app_label: str, codename: str) -> Permission:
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def make_world():
    ensure_roles()
    support = TeamFactory(name="Support")
    agent = make_agent(support, name="Alex Agent")
    customer = make_customer(name="Carla Customer")
    ticket = make_ticket(customer, team=support, subject="Printer on fire")
    ticket_services.ticket_add_note(ticket, body="SECRET-NOTE", actor=agent)
    return {
        "support": support,
        "agent": agent,
        "customer": customer,
        "ticket": Ticket.objects.get(pk=ticket.pk),
    }


_world_rows, world = made_once_per_module(make_world, "world")


def _holder_of_new_role(name: str, perms: list[tuple[str, str]], *, team=None) -> User:
    """A user whose only role is one an administrator made with `perms`, member of `team`."""
    user = UserFactory(name=f"{name} holder")
    Group.objects.create(name=name).permissions.add(*[_perm(*p) for p in perms])
    account_services.role_assign(user, name, actor=None)
    if team is not None:
        TeamMemberFactory(team=team, user=user)
    return User.objects.get(pk=user.pk)


def test_an_agent_whose_role_lost_the_desk_works_no_team_ticket_through_the_portal(client, world):
    """An administrator takes "Can open the agent desk" (view_support_queue) off the Agent role to shut
    agents out of the desk: accounts/decorators.py says "removing it from a role closes the desk", and the
    nav then offers them only "My tickets". They expect such an agent to be unable to work tickets.
    The portal's ticket pages (/portal/tickets/<n>/, .../reply/, .../status/) took any ticket visible_to()
    them, which still held their team's queue (rbac.is_agent counted the role by its name), and the
    services took them for staff: a public staff reply and Solved, the desk's work without the desk."""
    Group.objects.get(name="Agent").permissions.remove(_perm("accounts", "view_support_queue"))
    agent, ticket = User.objects.get(pk=world["agent"].pk), world["ticket"]
    client.force_login(agent)
    assert client.get("/desk/").status_code == 404  # the desk is closed, as promised

    assert client.get(f"/portal/tickets/{ticket.number}/").status_code == 404
    client.post(f"/portal/tickets/{ticket.number}/reply/", {"body": "Answered without the desk"})
    client.post(f"/portal/tickets/{ticket.number}/status/", {"status": "resolved"})

    ticket.refresh_from_db()
    staff_replies = ticket.messages.filter(author=agent, from_staff=True, is_internal=False)
    assert (staff_replies.count(), ticket.status) == (0, "new"), (
        f"{staff_replies.count()} staff reply posted and status set to {ticket.status!r} by an agent "
        "whose role no longer opens the desk"
    )


def test_role_with_only_view_support_queue_reads_and_is_refused_cleanly(client, world):
    """A "Triage" role with only "Can open the agent desk": desk and workspace open; replying, notes,
    priority, taking, closing and merging are refused with a message (no 500), nothing changes."""
    user = _holder_of_new_role("Triage", [("accounts", "view_support_queue")], team=world["support"])
    client.force_login(user)
    ticket = world["ticket"]
    n, v = ticket.number, ticket.version
    assert client.get("/desk/").status_code == 200
    page = client.get(f"/desk/tickets/{n}/")
    assert (
        page.status_code == 200 and world["customer"].email not in page.content.decode()
    )  # no view_user_info
    assert (
        client.post(f"/desk/tickets/{n}/reply/", {"kind": "reply", "body": "x", "version": v}).status_code
        == 422
    )
    assert (
        client.post(f"/desk/tickets/{n}/reply/", {"kind": "note", "body": "x", "version": v}).status_code
        == 422
    )
    for field, value in (("priority", "high"), ("take", ""), ("status", "closed")):
        data = {"field": field, "value": value, "version": v, "confirm": "close"}
        assert client.post(f"/desk/tickets/{n}/update/", data).status_code == 409
    assert client.post(f"/desk/tickets/{n}/merge/", {"into": "T-99999", "version": v}).status_code == 422
    assert client.get("/kb/manage/").status_code == 200
    assert client.get("/kb/manage/new/").status_code == 403  # no add_article
    assert client.get("/audit/").status_code == 404
    ticket.refresh_from_db()
    assert (ticket.version, ticket.priority, ticket.assignee_id) == (v, "medium", None)


def test_made_supervisor_role_leads_its_teams(client, world):
    """view_support_queue + manage_support_agents makes a supervisor: the audit trail opens, the teams led
    are its memberships, and a team's shared view may be deleted."""
    lead = _holder_of_new_role(
        "Lead",
        [
            ("accounts", "view_support_queue"),
            ("accounts", "manage_support_agents"),
            ("accounts", "provide_support"),
        ],
        team=world["support"],
    )
    client.force_login(lead)
    assert rbac.is_supervisor(lead) and rbac.supervised_team_ids(lead) == {world["support"].pk}
    assert client.get("/audit/").status_code == 200
    view = SavedView.objects.create(
        name="Shared", owner=world["agent"], team=world["support"], query="status=open"
    )
    client.post(f"/desk/views/{view.pk}/delete/")
    assert not SavedView.objects.filter(pk=view.pk).exists()


def test_desk_role_in_no_team_gets_an_empty_desk_and_404s(client, world):
    loner = _holder_of_new_role(
        "Tier 2", [("accounts", "view_support_queue"), ("accounts", "provide_support")]
    )
    client.force_login(loner)
    assert client.get("/desk/").status_code == 200
    assert client.get(f"/desk/tickets/{world['ticket'].number}/").status_code == 404


def test_permissions_given_to_a_customer_directly_make_no_agent(client, world):
    """provide_support, close_ticket and assign_ticket given to a customer directly: no desk, no notes
    shown, and their own ticket is not closed through the portal."""
    customer, ticket = world["customer"], world["ticket"]
    customer.user_permissions.add(
        _perm("accounts", "provide_support"),
        _perm("tickets", "close_ticket"),
        _perm("tickets", "assign_ticket"),
    )
    customer = User.objects.get(pk=customer.pk)
    client.force_login(customer)
    assert not rbac.is_agent(customer)
    assert client.get("/desk/").status_code == 404
    page = client.get(f"/portal/tickets/{ticket.number}/")
    assert page.status_code == 200 and "SECRET-NOTE" not in page.content.decode()
    client.post(f"/portal/tickets/{ticket.number}/status/", {"status": "closed"})
    ticket.refresh_from_db()
    assert ticket.status == "new"


def _account_clerk(*codenames: str) -> User:
    """Admin staff whose role runs user accounts (view and change them) and holds `codenames` besides."""
    role = Group.objects.create(name="Account clerk")
    role.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="accounts", codename__in=["view_user", "change_user", *codenames]
        )
    )
    clerk = UserFactory(is_staff=True)
    account_services.role_assign(clerk, "Account clerk", actor=None)
    account_services.role_assign(clerk, "Customer", actor=None)  # ranked as the customers they run
    return User.objects.get(pk=clerk.pk)


@pytest.mark.parametrize(
    ("held", "offered"),
    [
        ((), set()),
        (("suspend_user",), {"suspend_users"}),
        (("unsuspend_user",), {"activate_users"}),
        (("suspend_user", "unsuspend_user"), {"suspend_users", "activate_users"}),
    ],
)
def test_suspending_and_lifting_in_the_admin_take_the_roles_permissions_for_them(client, held, offered):
    """ "Can suspend a user" and "Can lift a suspension" were held by roles and read by nothing: anyone who
    could change an account suspended it. The admin's Suspend and Activate actions now ask for one each,
    and the status fields on an account's page for both; a clerk without them changes names and
    addresses, and posting a suspension leaves the account as it was."""
    clerk = _account_clerk(*held)
    customer = make_customer()
    client.force_login(clerk)
    listing = client.get(changelist_url(User))
    actions = {value for value, _label in listing.context["action_form"].fields["action"].choices if value}
    assert actions & {"suspend_users", "activate_users"} == offered
    page = client.get(change_url(customer)).content.decode()
    assert ('name="status"' in page) is (len(held) == 2)
    client.post(changelist_url(User), {"action": "suspend_users", "_selected_action": [customer.pk]})
    customer.refresh_from_db()
    assert customer.status == (User.Status.SUSPENDED if "suspend_users" in offered else User.Status.ACTIVE)
