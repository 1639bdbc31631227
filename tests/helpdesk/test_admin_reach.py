"""The Django admin's reach: staff of a lower rank cannot take over or act on accounts ranked above
theirs, an agent given access to the admin lists only what the desk shows them, changes go through the
services in an order their rules accept, and deletions that would take records with them are refused."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import timezone
from guardian.shortcuts import assign_perm

from accounts import rbac, roles
from accounts import services as account_services
from accounts.models import Organization, User
from audit.models import AuditEvent
from knowledge import services as knowledge_services
from knowledge.models import Article, Category
from tests.admin_pages import change_url, changelist_url, delete_url, form_data, post_change
from tests.factories import (
    CategoryFactory,
    OrganizationFactory,
    TeamFactory,
    TicketFormFactory,
    UserFactory,
    give_custom_role,
    make_administrator,
    make_agent,
    make_customer,
    make_ticket,
)
from tickets.models import Ticket, TicketForm

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Brand-new-pass-1234"


@pytest.fixture
def clerk_client(client):
    """Staff holding a custom role an administrator made for managing people: view and change users, and
    suspend them and lift suspensions, nothing else (rank below Administrator: rbac.grant_refusal would
    not let them give that role)."""
    role = Group.objects.create(name="People clerk")
    codenames = ["view_user", "change_user", "suspend_user", "unsuspend_user"]
    role.permissions.add(
        *Permission.objects.filter(content_type__app_label="accounts", codename__in=codenames)
    )
    clerk = UserFactory(is_staff=True)
    account_services.role_assign(clerk, "People clerk", actor=None)
    client.force_login(clerk)
    return client


def shown_messages(response) -> list[str]:
    return [str(message) for message in response.wsgi_request._messages]


def test_a_lower_ranked_clerk_cannot_change_an_administrators_password_or_email(clerk_client):
    """Like a superuser's account for everyone less, an Administrator's account is out of reach of staff
    whose roles rank below Administrator: setting its password or e-mail address would hand the role to
    someone who may not give it (rbac.grant_refusal)."""
    boss = make_administrator()
    password_url = f"/admin/accounts/user/{boss.pk}/password/"
    clerk_client.post(
        password_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    )
    boss.refresh_from_db()
    assert not boss.check_password(NEW_PASSWORD), "the clerk set the Administrator's password"
    post_change(clerk_client, boss, email="clerk-owned@example.org")
    boss.refresh_from_db()
    assert boss.email != "clerk-owned@example.org", "the clerk changed the Administrator's address"


def test_a_lower_ranked_clerks_bulk_actions_leave_administrators_alone(clerk_client):
    """The user actions (suspend, sign out, reset two-factor...) skip accounts ranked above the actor."""
    boss = make_administrator()
    clerk_client.post(changelist_url(User), {"action": "suspend_users", "_selected_action": [boss.pk]})
    boss.refresh_from_db()
    assert boss.status == User.Status.ACTIVE


def test_an_agent_with_admin_access_sees_only_their_teams_tickets_in_the_admin(client):
    """An agent given access to the admin (is_staff; the Agent role holds tickets.view_ticket) lists and
    opens only the tickets the desk shows them (DESIGN §3.2), and none of another team's messages."""
    mine, other = TeamFactory(), TeamFactory()
    agent = make_agent(mine, is_staff=True)
    theirs = make_ticket(make_customer(), team=other, subject="Secret merger plans")
    client.force_login(agent)
    assert "Secret merger plans" not in client.get(changelist_url(Ticket)).content.decode()
    assert client.get(change_url(theirs)).status_code in (302, 403, 404)
    assert make_ticket(make_customer(), team=mine, subject="Printer jam").subject in (
        client.get(changelist_url(Ticket)).content.decode()
    )


def test_an_agent_with_admin_access_does_not_see_other_authors_drafts_in_the_admin(client):
    """The article admin lists what /kb/manage/ shows the agent: published articles and their own
    drafts, not another author's unpublished one."""
    author = make_agent(TeamFactory())
    knowledge_services.article_create(title="Unannounced price rise", body="Draft.", actor=author)
    client.force_login(make_agent(TeamFactory(), is_staff=True))
    assert "Unannounced price rise" not in client.get(changelist_url(Article)).content.decode()


def test_moving_a_ticket_to_another_team_and_assigning_an_agent_of_that_team_in_one_save(superuser_client):
    """The new team applies before the new assignee, who must work the ticket's team (the new one)."""
    old, new = TeamFactory(), TeamFactory()
    newcomer = make_agent(new)
    ticket = make_ticket(make_customer(), team=old)
    response = post_change(superuser_client, ticket, team=str(new.pk), assignee=str(newcomer.pk))
    ticket.refresh_from_db()
    assert (ticket.team_id, ticket.assignee_id) == (new.pk, newcomer.pk), shown_messages(response)


def test_marking_an_address_verified_in_the_admin_goes_through_the_verification_service(superuser_client):
    """An address marked verified in the user admin is verified as its owner's link would verify it
    (accounts.services.user_email_verify): a security "email_verified" event, and a customer without an
    organisation joins the one of their address's domain (README)."""
    organization = OrganizationFactory(slug="acme", email_domains=["acme.example"])
    user = UserFactory(email="pat@acme.example")
    account_services.role_assign(user, roles.CUSTOMER, actor=None)
    post_change(superuser_client, user, email_verified_at_0="2026-01-01", email_verified_at_1="10:00:00")
    user.refresh_from_db()
    assert user.email_verified_at is not None
    verified = AuditEvent.objects.filter(object_id=str(user.pk), action="email_verified")
    assert verified.get().category == AuditEvent.Category.SECURITY
    assert user.organization_id == organization.pk


def test_deleting_an_organisation_does_not_delete_a_form_that_tickets_were_sent_with(superuser_client):
    """As deleting the form itself is refused (its schema labels those tickets' custom fields), so is
    deleting an organisation the form was made private to: the page names the form."""
    form = TicketFormFactory(title="Billing question")
    ticket = make_ticket(make_customer(), form=form, custom_fields={"order_number": "A-1"})
    empty = OrganizationFactory()  # no members, no tickets
    post_change(superuser_client, form, organization=str(empty.pk))  # the form made private to it
    assert TicketForm.objects.get(pk=form.pk).organization_id == empty.pk
    refused = superuser_client.post(delete_url(empty), {"post": "yes"})
    assert "Billing question" in refused.content.decode()
    ticket.refresh_from_db()
    assert ticket.form_id == form.pk
    assert Organization.objects.filter(pk=empty.pk).exists()


def test_deleting_a_category_with_subcategories_is_a_protected_page_not_a_server_error(superuser_client):
    parent = CategoryFactory()
    child = CategoryFactory(parent=parent)
    assert superuser_client.post(delete_url(parent), {"post": "yes"}).status_code == 200
    bulk = {"action": "delete_selected", "_selected_action": [parent.pk, child.pk], "post": "yes"}
    assert superuser_client.post(changelist_url(Category), bulk).status_code == 200
    assert Category.objects.filter(pk__in=[parent.pk, child.pk]).count() == 2


def test_a_suspended_administrator_stays_out_of_a_lower_ranked_clerks_reach(clerk_client):
    """A suspended Administrator still holds the role: a clerk ranked below cannot set their password
    (they would own an Administrator's account once the suspension ends)."""
    boss = make_administrator()
    account_services.user_suspend(
        boss, until=timezone.now() + timedelta(days=1), reason="Holiday", actor=None
    )
    password_url = f"/admin/accounts/user/{boss.pk}/password/"
    clerk_client.post(
        password_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    )
    boss.refresh_from_db()
    assert not boss.check_password(NEW_PASSWORD)


def test_an_agent_by_a_custom_role_ranks_as_an_agent_and_changes_a_customers_account(client):
    """What a role holds decides what its people are: a "Desk lead" role holding view_support_queue (an
    agent, rbac.is_agent) and change_user ranks as an Agent, above the customers it looks after."""
    role = Group.objects.create(name="Desk lead")
    codenames = ["view_support_queue", "view_user", "change_user"]
    role.permissions.add(
        *Permission.objects.filter(content_type__app_label="accounts", codename__in=codenames)
    )
    lead = UserFactory(is_staff=True)
    account_services.role_assign(lead, "Desk lead", actor=None)
    client.force_login(lead)
    customer = make_customer(name="Pat Old")
    post_change(client, customer, name="Pat New")
    customer.refresh_from_db()
    assert customer.name == "Pat New"
    assert rbac.rank(lead) == rbac.BUILT_IN_RANK[roles.AGENT]


def test_a_clerk_cannot_take_over_the_account_of_a_manager_of_an_organisation_they_do_not_see(client):
    """Whoever holds an organisation manager's account sees all that organisation's tickets: a clerk who
    could not make a manager of it (MANAGER_OUT_OF_REACH) cannot re-address the manager's account, set
    its password or suspend it either; a plain member of it stays theirs to run."""
    acme = OrganizationFactory(name="Acme")
    manager, member = make_customer(acme, manager=True), make_customer(acme)
    people = [("accounts", "view_user"), ("accounts", "change_user"), ("accounts", "suspend_user")]
    client.force_login(give_custom_role(make_agent(TeamFactory()), "Desk clerk", people))
    clerk_client = client
    assert post_change(clerk_client, manager, email="clerk-owned@example.org").status_code == 403
    clerk_client.post(
        change_url(manager).replace("/change/", "/password/"),
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    response = clerk_client.post(
        changelist_url(User),
        {"action": "suspend_users", "_selected_action": [manager.pk, member.pk]},
        follow=True,
    )
    manager.refresh_from_db()
    assert manager.email != "clerk-owned@example.org" and not manager.check_password(NEW_PASSWORD)
    assert manager.status == User.Status.ACTIVE
    assert User.objects.get(pk=member.pk).status == User.Status.SUSPENDED
    assert any(
        "Kept 1 user as" in message and str(manager) in message for message in shown_messages(response)
    )
    assert post_change(clerk_client, member, name="Renamed").status_code == 302


def test_a_clerk_cannot_delete_the_account_of_a_manager_of_an_organisation_they_do_not_see(client):
    """Deleting is more than suspending: the manager's account the clerk may not suspend they may not
    delete, on its own delete page or ticked with a plain member in "delete selected"."""
    acme = OrganizationFactory(name="Acme")
    manager, member = make_customer(acme, manager=True), make_customer(acme)
    people = [("accounts", "view_user"), ("accounts", "change_user"), ("accounts", "delete_user"),
              ("accounts", "delete_roleassignment")]  # fmt: skip
    client.force_login(give_custom_role(make_agent(TeamFactory()), "Desk clerk", people))
    assert client.get(delete_url(manager)).status_code == 403
    assert client.post(delete_url(manager), {"post": "yes"}).status_code == 403
    bulk = {"action": "delete_selected", "_selected_action": [manager.pk, member.pk]}
    asked = client.post(changelist_url(User), bulk)
    assert asked.status_code == 200 and "Cannot delete" in asked.content.decode()
    assert client.post(changelist_url(User), {**bulk, "post": "yes"}).status_code == 403
    assert User.objects.filter(pk__in=[manager.pk, member.pk]).count() == 2
    assert client.post(delete_url(member), {"post": "yes"}).status_code == 302
    assert not User.objects.filter(pk=member.pk).exists()


def test_a_manager_of_an_organisation_the_actor_was_granted_is_theirs_to_run(client):
    """An agent granted an organisation (who sees its tickets) may run its manager's account."""
    acme = OrganizationFactory(name="Acme")
    manager = make_customer(acme, manager=True)
    agent = make_agent(TeamFactory())
    give_custom_role(agent, "People clerk", [("accounts", "view_user"), ("accounts", "change_user")])
    assign_perm(rbac.VIEW_ORGANIZATION_TICKETS, agent, acme)
    client.force_login(agent)
    assert post_change(client, manager, name="Renamed").status_code == 302
    assert User.objects.get(pk=manager.pk).name == "Renamed"


@pytest.mark.parametrize(
    ("action", "done"),
    [("suspend_users", "Suspended"), ("activate_users", "Activated"), ("reset_two_factor", "Two-factor")],
)
def test_a_bulk_action_on_accounts_out_of_reach_says_it_kept_them_and_claims_nothing(
    clerk_client, action, done
):
    """Zendesk and Zammad report per object what was done: an action that skipped every selected account
    says so by name, not "Suspended the selected users"."""
    boss = make_administrator()
    if action == "activate_users":
        account_services.user_suspend(boss, until=None, reason="holiday", actor=None)
    before = User.objects.get(pk=boss.pk).status
    response = clerk_client.post(
        changelist_url(User), {"action": action, "_selected_action": [boss.pk]}, follow=True
    )
    shown = shown_messages(response)
    assert User.objects.get(pk=boss.pk).status == before
    assert not any(message.startswith(done) for message in shown), shown
    assert any(message.startswith("Kept 1 user as") and str(boss) in message for message in shown), shown


def test_a_user_page_opened_before_a_suspension_does_not_lift_it_when_saved(superuser_client):
    """Opened to fix a name; meanwhile someone else suspends the account. Saving the old page would
    write back the status it showed (and lift the suspension): it is refused, what was typed kept, until
    the page is reloaded."""
    customer = make_customer(name="Old Name")
    page = superuser_client.get(change_url(customer))
    account_services.user_suspend(customer, until=None, reason="abuse", actor=None)
    response = superuser_client.post(change_url(customer), form_data(page, name="New Name"))
    assert response.status_code == 422
    assert "Someone changed this user since you opened this page" in response.content.decode()
    assert response.context["adminform"].form["name"].value() == "New Name"
    customer.refresh_from_db()
    assert (customer.status, customer.name) == (User.Status.SUSPENDED, "Old Name")
    # The refused page keeps the old page's fingerprint: sent again, refused again; reloaded, it saves.
    assert response.context["loaded_digest"] == page.context["loaded_digest"]
    assert post_change(superuser_client, customer, name="New Name").status_code == 302
    customer.refresh_from_db()
    assert (customer.status, customer.name) == (User.Status.SUSPENDED, "New Name")


def test_an_organisation_page_opened_before_it_was_deactivated_does_not_reactivate_it(superuser_client):
    acme = OrganizationFactory(name="Acme")
    page = superuser_client.get(change_url(acme))
    Organization.objects.filter(pk=acme.pk).update(is_active=False)
    assert superuser_client.post(change_url(acme), form_data(page, name="Acme Ltd")).status_code == 422
    acme.refresh_from_db()
    assert (acme.is_active, acme.name) == (False, "Acme")
