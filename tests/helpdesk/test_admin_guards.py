"""Admin guards: a lower-ranked clerk cannot take an Administrator's role away, an account set back to
pending loses its sessions, a schema name may not end in a line break, and an autocomplete value that
is no id is a form error, not a 500."""

import json

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from accounts import services as account_services
from accounts.models import RoleAssignment, TeamMember, User, UserSession
from tests.admin_pages import change_url, delete_url, form_data, post_change
from tests.factories import (
    TeamFactory,
    TicketFormFactory,
    UserFactory,
    make_administrator,
    make_agent,
    make_customer,
)
from tickets.models import TicketForm

pytestmark = pytest.mark.django_db


def test_a_lower_ranked_role_clerk_cannot_delete_an_administrators_role_assignment(client):
    """Staff ranked below Administrator (a custom "Role clerk" role managing role assignments) cannot
    take the Administrator role away from an Administrator: like setting that account's password or
    address (UserAdmin.has_change_permission/has_delete_permission, rbac.rank) or changing the
    assignment's expiry (RoleAssignmentForm → rbac.grant_refusal), revoking a role the actor could not
    give is out of their reach. The delete must be refused and the assignment kept."""
    role = Group.objects.create(name="Role clerk")
    role.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="accounts",
            codename__in=["view_roleassignment", "add_roleassignment", "change_roleassignment",
                          "delete_roleassignment"],
        )
    )  # fmt: skip
    clerk = UserFactory(is_staff=True)
    account_services.role_assign(clerk, "Role clerk", actor=None)
    client.force_login(clerk)
    boss = make_administrator()
    assignment = RoleAssignment.objects.get(user=boss, role__name="Administrator")

    client.post(delete_url(assignment), {"post": "yes"})

    assert RoleAssignment.objects.filter(pk=assignment.pk).exists(), (
        "a clerk ranked below Administrator demoted an Administrator"
    )


def test_setting_an_account_back_to_pending_in_the_admin_ends_its_sessions(superuser_client):
    """An account set to "pending" in the admin may no longer sign in, so its live sessions are ended
    (as user_suspend does: "one suspension cuts off a stolen session for good"). Otherwise the sessions
    only pause (RoleAwareBackend.get_user refuses them while pending) and sign the holder straight back
    in once the account is activated again."""
    customer = make_customer()
    browser = Client()
    browser.force_login(customer)
    assert UserSession.objects.filter(user=customer).exists()

    post_change(superuser_client, customer, status="pending")
    customer.refresh_from_db()
    assert customer.status == User.Status.PENDING

    assert not UserSession.objects.filter(user=customer).exists(), (
        "the pending account's sessions survive and come back to life on activation"
    )


def test_a_schema_field_name_ending_in_a_newline_is_a_form_error(superuser_client):
    """A custom field's name must be lower-case letters, digits and _ (tickets/schema.py NAME_PATTERN);
    "order\\n" is not one and must be a form error on the schema, not stored."""
    form = TicketFormFactory()
    page = superuser_client.get(change_url(form))
    schema = json.dumps([{"name": "order\n", "label": "Order", "type": "text"}])

    response = superuser_client.post(change_url(form), form_data(page, schema=schema))

    assert response.status_code == 422, "the schema with a bad field name was accepted"
    assert "schema" in response.context["adminform"].form.errors
    assert TicketForm.objects.get(pk=form.pk).schema[0]["name"] == "order_number"


@pytest.mark.parametrize("value", ["abc", "  "])
def test_an_autocomplete_choice_that_is_not_an_id_is_a_form_error_not_a_server_error(superuser_client, value):
    """Odd input gets a clear answer, never a 500 (helpdesk.admin.OddInputAdminMixin): a team member
    posted with a team that is not an id is a form error on the add page."""
    user = make_agent()
    url = reverse("admin:accounts_teammember_add")
    response = superuser_client.post(
        url, {"team": value, "user": str(user.pk), "role": "agent", "joined_at_0": "2024-01-01",
              "joined_at_1": "10:00:00"}
    )  # fmt: skip
    assert response.status_code == 422
    assert "team" in response.context["adminform"].form.errors
    assert not TeamMember.objects.filter(user=user).exists()


def test_a_ticket_assignee_that_is_not_an_id_is_a_form_error_not_a_server_error(superuser_client):
    """The same on the ticket's change page: an assignee posted as text is refused with a message or
    form error, not a server error."""
    from tests.factories import make_ticket

    team = TeamFactory()
    ticket = make_ticket(make_customer(), team=team)
    page = superuser_client.get(change_url(ticket))
    response = superuser_client.post(change_url(ticket), form_data(page, assignee="not-an-id"))
    assert response.status_code in (422, 302)


def test_a_json_value_changed_to_one_python_finds_equal_is_saved_and_audited(superuser_client):
    """1 and true are equal to Python, not to the JSON column: an organisation's setting changed from
    1 to true in the admin is saved (the admin writes only the columns its page changed) and its audit
    event names the change."""
    from audit.models import AuditEvent
    from tests.factories import OrganizationFactory

    organization = OrganizationFactory(settings={"notify": 1})
    response = post_change(superuser_client, organization, settings=json.dumps({"notify": True}))
    assert response.status_code == 302
    organization.refresh_from_db()
    assert organization.settings["notify"] is True
    event = AuditEvent.objects.filter(action="update", object_id=str(organization.pk)).latest("sequence")
    assert event.changes["settings"] == [{"notify": 1}, {"notify": True}]
