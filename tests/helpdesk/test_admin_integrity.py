"""The Django admin keeps the application's rules: administrators who are not superusers cannot raise
anyone (themselves included) above what they hold, edits are audited (security ones as such), rows
that others point at are not deleted behind the services' back, odd input is a form error, and list
pages keep their query budgets."""

from datetime import timedelta
from html import unescape

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from accounts import services as account_services
from accounts.models import Invitation, Organization, RoleAssignment, Team, User
from audit.models import AuditEvent
from helpdesk import services as site_services
from helpdesk.models import SiteConfiguration
from knowledge.models import Category
from tests.admin_pages import change_url, changelist_url, delete_url, form_data, post_change
from tests.factories import (
    CategoryFactory,
    InvitationFactory,
    OrganizationFactory,
    TeamFactory,
    TicketFormFactory,
    UserFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_ticket,
)
from tickets import services as ticket_services
from tickets.models import Attachment, Ticket, TicketForm

pytestmark = pytest.mark.django_db


@pytest.fixture
def administrator():
    """An Administrator by role (the built-in role's permissions), not a superuser."""
    return make_administrator()


@pytest.fixture
def administrator_client(client, administrator):
    client.force_login(administrator)
    return client


# 1. Privilege escalation by an administrator who is not a superuser.


def test_an_administrator_cannot_make_themselves_superuser(administrator_client, administrator):
    response = post_change(administrator_client, administrator, is_superuser="on")
    assert response.status_code in (200, 302, 403)
    administrator.refresh_from_db()
    assert administrator.is_superuser is False


def test_an_administrator_cannot_grant_themselves_permissions_their_role_lacks(
    administrator_client, administrator
):
    # The Administrator role holds no audit permission; a direct grant would add it past the roles.
    audit_view = Permission.objects.get(codename="view_auditevent", content_type__app_label="audit")
    assert not administrator.has_perm("audit.view_auditevent")
    post_change(administrator_client, administrator, user_permissions=[str(audit_view.pk)])
    assert not administrator.user_permissions.filter(pk=audit_view.pk).exists()


def test_an_administrator_cannot_set_a_superusers_password(administrator_client):
    owner = UserFactory(email="owner@example.org", is_superuser=True, is_staff=True)
    url = reverse("admin:auth_user_password_change", args=[owner.pk])
    new = "Zq9!taken-over-account"
    response = administrator_client.post(url, {"password1": new, "password2": new, "usable_password": "true"})
    assert response.status_code in (403, 302, 200)
    owner.refresh_from_db()
    assert not owner.check_password(new)


def test_ones_own_password_is_changed_on_the_profile_where_the_current_one_is_asked(superuser_client):
    """/admin/accounts/user/<own id>/password/ set the signed-in account's password without the current
    one: whoever borrowed the session could lock its owner out. It is sent to the profile's form."""
    me = User.objects.get(pk=superuser_client.session["_auth_user_id"])
    url = reverse("admin:auth_user_password_change", args=[me.pk])
    assert superuser_client.get(url)["Location"] == reverse("accounts:profile") + "#password-title"
    new = "Zq9!borrowed-session-pass"
    # The account as found, however its id is written ("08" finds account 8).
    for written in (str(me.pk), f"0{me.pk}", f"00{me.pk}"):
        url = reverse("admin:auth_user_password_change", args=[written])
        response = superuser_client.post(url, {"password1": new, "password2": new, "usable_password": "true"})
        assert response.status_code == 302, written
        me.refresh_from_db()
        assert not me.check_password(new), written


def test_an_administrator_cannot_change_a_superusers_email(administrator_client):
    # With the address changed, a password reset mails the superuser's account to whoever chose it.
    owner = UserFactory(email="owner@example.org", is_superuser=True, is_staff=True)
    post_change(administrator_client, owner, email="attacker@example.net")
    owner.refresh_from_db()
    assert owner.email == "owner@example.org"


def test_a_role_clerk_cannot_grant_the_administrator_role_to_themselves(client):
    # A custom role that may hand out roles (add_roleassignment) but holds little itself.
    clerk_role = Group.objects.create(name="Role clerk")
    clerk_role.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="accounts",
            codename__in=["add_roleassignment", "view_roleassignment", "view_user"],
        )
    )
    clerk = UserFactory(is_staff=True)
    account_services.role_assign(clerk, "Role clerk", actor=None)
    client.force_login(clerk)
    administrator_role = Group.objects.get(name=roles.ADMINISTRATOR)
    client.post(
        reverse("admin:accounts_roleassignment_add"), {"user": clerk.pk, "role": administrator_role.pk}
    )
    assert not RoleAssignment.objects.filter(user=clerk, role=administrator_role).exists()


def test_an_administrator_cannot_add_a_permission_they_lack_to_their_own_role(administrator_client):
    # The same escalation through the role: every Administrator would then hold it.
    audit_view = Permission.objects.get(codename="view_auditevent", content_type__app_label="audit")
    role = Group.objects.get(name=roles.ADMINISTRATOR)
    held = [str(pk) for pk in role.permissions.values_list("pk", flat=True)]
    post_change(administrator_client, role, permissions=[*held, str(audit_view.pk)])
    assert not role.permissions.filter(pk=audit_view.pk).exists()


# 2. Deleting rows that other records (or the site's settings) point at.


def test_deleting_the_sites_default_team_is_refused_with_the_way_out(superuser_client):
    team = TeamFactory(name="Front desk")
    site_services.site_configuration_update(changes={"default_team": team}, actor=None)
    response = superuser_client.post(delete_url(team), {"post": "yes"})
    assert response.status_code == 200  # the "cannot delete" page, not a deletion
    assert "receives new tickets by default: choose another in the site configuration first" in unescape(
        response.content.decode()
    )
    assert Team.objects.filter(pk=team.pk).exists()
    assert SiteConfiguration.objects.get_current().default_team_id == team.pk


def test_deleting_a_team_that_is_a_forms_default_team_is_refused_with_the_way_out(superuser_client):
    team = TeamFactory(name="Billing")
    form = TicketFormFactory(title="Billing question", default_team=team)
    response = superuser_client.post(delete_url(team), {"post": "yes"})
    assert "receives the tickets of the form “Billing question”: choose another team" in unescape(
        response.content.decode()
    )
    form.refresh_from_db()
    assert form.default_team_id == team.pk and Team.objects.filter(pk=team.pk).exists()


def test_role_assign_refuses_an_actor_who_lacks_the_roles_permissions():
    administrator = make_administrator()  # the Administrator role holds no audit permission
    auditor = Group.objects.create(name="Auditor")
    auditor.permissions.add(
        Permission.objects.get(codename="view_auditevent", content_type__app_label="audit")
    )
    customer = make_customer()
    with pytest.raises(PermissionDenied, match=r"you do not hold audit\.view_auditevent"):
        account_services.role_assign(customer, "Auditor", actor=administrator)
    assert not RoleAssignment.objects.filter(user=customer, role=auditor).exists()
    account_services.role_assign(customer, roles.AGENT, actor=administrator)  # within their own: fine
    assert RoleAssignment.objects.filter(user=customer, role__name=roles.AGENT).exists()


def test_bulk_actions_leave_superusers_to_superusers(administrator_client):
    owner = make_administrator(is_superuser=True, email="owner@example.org")
    customer = make_customer()
    for action in ("suspend_users", "reset_two_factor", "sign_out_everywhere"):
        administrator_client.post(
            changelist_url(User), {"action": action, "_selected_action": [owner.pk, customer.pk]}
        )
    owner.refresh_from_db()
    customer.refresh_from_db()
    assert owner.status == User.Status.ACTIVE and customer.status == User.Status.SUSPENDED


def test_deleting_an_agent_who_holds_tickets_is_refused(superuser_client):
    team = TeamFactory()
    agent = make_agent(team)
    ticket = make_ticket(make_customer(), team=team)
    ticket_services.ticket_assign(ticket, assignee=agent, actor=None)  # routing, as the System
    page = superuser_client.get(delete_url(agent))
    assert page.status_code == 200
    superuser_client.post(delete_url(agent), {"post": "yes"})
    ticket.refresh_from_db()
    # The ticket must not lose its assignee behind the services' back (no activity, no version bump).
    assert User.objects.filter(pk=agent.pk).exists()
    assert ticket.assignee_id == agent.pk


# 3. Odd input: a clear answer, never a 500.


@pytest.mark.parametrize(
    "value",
    # Numbers PostgreSQL cannot store, and settings that are not one object of named settings.
    ['{"limit": NaN}', '{"limit": Infinity}', '{"limit": 1e999}', "[1, 2]", '"text"', "5"],
)
def test_json_with_a_number_postgresql_cannot_store_is_a_form_error(superuser_client, value):
    organization = OrganizationFactory()
    data = {"name": organization.name, "slug": organization.slug, "email_domains": '["acme.example"]',
            "settings": value, "is_active": "on"}  # fmt: skip
    response = superuser_client.post(change_url(organization), data)
    assert response.status_code == 422
    assert "settings" in response.context["adminform"].form.errors
    assert Organization.objects.get(pk=organization.pk).settings == {}


@pytest.mark.parametrize("value", ["", "null"])
def test_organisation_settings_left_empty_are_no_settings_not_a_server_error(superuser_client, value):
    organization = OrganizationFactory(settings={"locale": "fr"})
    data = {"name": organization.name, "slug": organization.slug, "email_domains": '["acme.example"]',
            "settings": value, "is_active": "on"}  # fmt: skip
    assert superuser_client.post(change_url(organization), data).status_code == 302
    assert Organization.objects.get(pk=organization.pk).settings == {}


def test_site_custom_settings_with_nan_is_a_form_error(superuser_client):
    configuration = SiteConfiguration.objects.get_current()
    page = superuser_client.get(change_url(configuration))
    response = superuser_client.post(
        change_url(configuration), form_data(page, custom_settings='{"greeting": NaN}')
    )
    assert response.status_code == 422
    assert "custom_settings" in response.context["adminform"].form.errors


def test_searching_the_ticket_list_for_a_reference_as_shown_finds_the_ticket(superuser_client):
    ticket = make_ticket(make_customer(), subject="Printer on fire")
    make_ticket(make_customer(), subject="Another one")
    response = superuser_client.get(changelist_url(Ticket), {"q": ticket.reference})  # "T-1042"
    assert response.status_code == 200
    assert [row.pk for row in response.context["cl"].result_list] == [ticket.pk]


ODD_QUERIES = [
    {"o": "99"},
    {"o": "abc.-7.x"},
    {"q": "x" * 5000},
    {"q": "9" * 40},
    {"q": '"unbalanced'},
    {"p": "999999"},
    {"p": "-1"},
    {"all": "", "o": "1.2.3.4.5.6.7.8.9"},
]


@pytest.mark.parametrize(
    "model",
    [User, Group, RoleAssignment, Organization, Team, Invitation, TicketForm, Ticket, Category, AuditEvent],
    ids=lambda model: model._meta.label,
)
def test_changelists_answer_odd_ordering_paging_and_search_without_a_server_error(superuser_client, model):
    url = changelist_url(model)
    for query in ODD_QUERIES:
        response = superuser_client.get(url, query)
        assert response.status_code in (200, 302), (query, response.status_code)


@pytest.mark.parametrize(
    "model, query",
    [
        (RoleAssignment, "expires_at__gte=not-a-date"),
        (RoleAssignment, "expires_at__lt=2024-13-45"),
        (User, "role_assignments__role__id__exact=abc"),
        (User, "organization__id__exact=99999999999999999999999"),
        (Ticket, "team__id__exact=abc"),
        (Ticket, "created_at__year=abc"),
        (Ticket, "created_at__year=2024&created_at__month=13"),
        (Ticket, "created_at__year=2024&created_at__month=2&created_at__day=30"),
        (AuditEvent, "created_at__year=0"),
        (TicketForm, "organization__id__exact=%00"),
        (Invitation, "is_active__exact=maybe"),
    ],
)
def test_bad_list_filters_do_not_500(superuser_client, model, query):
    response = superuser_client.get(f"{changelist_url(model)}?{query}")
    assert response.status_code in (200, 302)


# 4. Query budgets: list pages cost the same for few or many rows.


def _make_forms(count: int) -> None:
    for _ in range(count):
        TicketFormFactory(organization=OrganizationFactory(), default_team=TeamFactory())


def _make_categories(count: int) -> None:
    for _ in range(count):
        CategoryFactory(parent=CategoryFactory())


def _make_attachments(count: int) -> None:
    team = TeamFactory()
    for number in range(count):
        ticket = make_ticket(make_customer(), team=team)
        upload = SimpleUploadedFile(f"{number}.txt", b"hi")
        ticket_services.ticket_reply(ticket, body="See file", actor=make_agent(team), uploads=[upload])


def _make_users(count: int) -> None:
    for _ in range(count):
        make_customer()


def _make_role_assignments(count: int) -> None:
    for _ in range(count):
        make_agent()


def _make_invitations(count: int) -> None:
    for _ in range(count):
        InvitationFactory()


@pytest.mark.parametrize(
    "model, make",
    [
        (TicketForm, _make_forms),
        (Category, _make_categories),
        (Attachment, _make_attachments),
        (User, _make_users),
        (RoleAssignment, _make_role_assignments),
        (Invitation, _make_invitations),
    ],
    ids=lambda value: getattr(getattr(value, "_meta", None), "label", None) or value.__name__,
)
def test_changelist_query_count_does_not_grow_per_row(
    superuser_client, django_assert_max_num_queries, model, make
):
    url = changelist_url(model)
    make(2)
    with CaptureQueriesContext(connection) as few:
        assert superuser_client.get(url).status_code == 200
    make(8)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert superuser_client.get(url).status_code == 200


# 5. What the user list shows.


def test_the_user_list_does_not_show_an_expired_role_as_held(superuser_client):
    user = make_customer(email="former.admin@example.org")
    account_services.role_assign(
        user, roles.ADMINISTRATOR, expires_at=timezone.now() - timedelta(days=1), actor=None
    )
    response = superuser_client.get(changelist_url(User), {"q": "former.admin"})
    row = next(row for row in response.context["cl"].result_list if row.pk == user.pk)
    shown = response.context["cl"].model_admin.roles(row)
    assert shown == "Customer" or "expired" in shown.lower(), shown


# 6. Inline rows posted twice, duplicates, and what the audit trail says.


def _inline_extra(page, index: int, prefix_index: int = 0) -> str:
    formset = page.context["inline_admin_formsets"][prefix_index].formset
    return f"{formset.prefix}-{index}"


def test_the_same_member_added_twice_on_a_team_page_is_a_form_error(superuser_client):
    team = TeamFactory()
    agent = make_agent()
    page = superuser_client.get(change_url(team))
    prefix = page.context["inline_admin_formsets"][0].formset.prefix
    rows = {
        f"{prefix}-TOTAL_FORMS": "2",
        f"{prefix}-0-user": str(agent.pk), f"{prefix}-0-role": "agent", f"{prefix}-0-is_available": "on",
        f"{prefix}-0-joined_at_0": "2030-01-01", f"{prefix}-0-joined_at_1": "10:00:00",
        f"{prefix}-1-user": str(agent.pk), f"{prefix}-1-role": "lead", f"{prefix}-1-is_available": "on",
        f"{prefix}-1-joined_at_0": "2030-01-01", f"{prefix}-1-joined_at_1": "10:00:00",
    }  # fmt: skip
    response = superuser_client.post(change_url(team), form_data(page, **rows))
    assert response.status_code == 422
    assert "Please correct the duplicate data" in response.content.decode()
    assert team.memberships.count() == 0


def test_the_same_role_added_twice_on_a_user_page_is_a_form_error(superuser_client):
    user = UserFactory()
    agent_role = Group.objects.get(name=roles.AGENT)
    page = superuser_client.get(change_url(user))
    prefix = page.context["inline_admin_formsets"][0].formset.prefix
    rows = {
        f"{prefix}-TOTAL_FORMS": "2",
        f"{prefix}-0-role": str(agent_role.pk),
        f"{prefix}-1-role": str(agent_role.pk),
    }
    response = superuser_client.post(change_url(user), form_data(page, **rows))
    assert response.status_code == 422
    assert "Please correct the duplicate data" in response.content.decode()
    assert not user.role_assignments.exists()


NO_ROLE_ROWS = {"role_assignments-TOTAL_FORMS": "0", "role_assignments-INITIAL_FORMS": "0"}


def test_adding_a_user_whose_address_differs_only_in_case_is_a_form_error(superuser_client):
    UserFactory(email="jo@example.org")
    password = "Zq9!long-enough-pass"
    response = superuser_client.post(
        reverse("admin:accounts_user_add"),
        {"email": "Jo@Example.org", "name": "Jo", "password1": password, "password2": password,
         "usable_password": "true", **NO_ROLE_ROWS},
    )  # fmt: skip
    assert response.status_code == 422
    assert "email" in response.context["adminform"].form.errors
    assert User.objects.with_email("jo@example.org").count() == 1


def test_a_users_new_account_made_in_the_admin_is_audited_without_the_password(superuser_client):
    password = "Zq9!long-enough-pass"
    response = superuser_client.post(
        reverse("admin:accounts_user_add"),
        {"email": "new.person@example.org", "name": "New Person", "password1": password,
         "password2": password, "usable_password": "true", **NO_ROLE_ROWS},
    )  # fmt: skip
    assert response.status_code == 302
    user = User.objects.get(email="new.person@example.org")
    event = AuditEvent.objects.get(action="create", object_id=str(user.pk))
    assert event.changes["email"] == [None, "new.person@example.org"]
    assert password not in str(event.changes)


def test_a_roles_permissions_changed_in_the_admin_are_recorded_before_and_after(superuser_client):
    role = Group.objects.create(name="Night shift")
    view_ticket = Permission.objects.get(codename="view_ticket", content_type__app_label="tickets")
    response = post_change(superuser_client, role, permissions=[str(view_ticket.pk)])
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="update", object_type=ContentType.objects.get_for_model(Group))
    assert event.changes["permissions"][0] == []
    assert event.changes["permissions"][1] == [str(view_ticket)]


def test_making_someone_superuser_in_the_admin_is_a_security_event(superuser_client):
    # createsuperuser records a new superuser in the security category; the admin's tick box grants the
    # same and should leave the same kind of trace (the audit viewer filters security events).
    user = make_customer()
    response = post_change(superuser_client, user, is_superuser="on", is_staff="on")
    assert response.status_code == 302
    event = AuditEvent.objects.filter(object_id=str(user.pk), changes__has_key="is_superuser").get()
    assert event.changes["is_superuser"] == [False, True]
    assert event.category == AuditEvent.Category.SECURITY


def test_an_invitation_made_in_the_admin_is_audited_and_credited_to_its_maker(superuser_client):
    organization = OrganizationFactory()
    data = {"organization": organization.pk, "code": "WELCOME-2030", "email": "", "max_uses": "3",
            "expires_at_0": "", "expires_at_1": "", "is_active": "on"}  # fmt: skip
    response = superuser_client.post(reverse("admin:accounts_invitation_add"), data)
    assert response.status_code == 302
    invitation = Invitation.objects.get(code="WELCOME-2030")
    assert invitation.created_by is not None
    event = AuditEvent.objects.get(action="create", object_id=str(invitation.pk))
    assert event.changes["max_uses"] == [None, 3]


def test_setting_an_account_back_to_pending_in_the_admin_is_audited(superuser_client):
    customer = make_customer()
    response = post_change(superuser_client, customer, status="pending")
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.status == "pending"
    event = AuditEvent.objects.filter(object_id=str(customer.pk), action="update").latest("sequence")
    assert event.changes["status"] == ["active", "pending"]


def test_a_role_assignment_cannot_be_moved_to_another_user(superuser_client):
    """Moved, the first user would lose the role with nothing on their trail: the user is read-only on
    an existing assignment (take the role from one, give it to the other)."""
    first, second = UserFactory(name="First"), UserFactory(name="Second")
    assignment = account_services.role_assign(first, roles.AGENT, actor=None)
    response = post_change(superuser_client, assignment, user=str(second.pk))
    assert response.status_code == 302
    assert RoleAssignment.objects.get(pk=assignment.pk).user_id == first.pk
    assert not RoleAssignment.objects.filter(user=second).exists()


# 7. Staff without the right permissions.


@pytest.fixture
def bare_staff_client(client):
    client.force_login(UserFactory(is_staff=True))  # may open the admin; no permission at all
    return client


@pytest.mark.parametrize(
    "model",
    [User, Group, RoleAssignment, Organization, Team, Invitation, TicketForm, Ticket, AuditEvent,
     SiteConfiguration],
    ids=lambda model: model._meta.label,
)  # fmt: skip
def test_staff_without_permissions_are_refused_lists_and_forms(bare_staff_client, model):
    assert bare_staff_client.get(changelist_url(model)).status_code == 403
    add = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")
    assert bare_staff_client.get(add).status_code in (403, 302)


def test_staff_without_permissions_cannot_reach_object_pages_or_grants(bare_staff_client):
    team, target = TeamFactory(), make_customer()
    assert bare_staff_client.get(change_url(team)).status_code in (403, 302)
    grants = reverse("admin:accounts_team_permissions", args=[team.pk])
    response = bare_staff_client.get(grants)
    assert response.status_code in (403, 302) and "work_team_queue" not in response.content.decode()
    password = reverse("admin:auth_user_password_change", args=[target.pk])
    assert bare_staff_client.post(password, {"password1": "x", "password2": "x"}).status_code == 403
    assert bare_staff_client.get(reverse("admin:axes_accessattempt_changelist")).status_code == 403
    search = {"app_label": "accounts", "model_name": "roleassignment", "field_name": "user", "term": "a"}
    assert bare_staff_client.get(reverse("admin:autocomplete"), search).status_code == 403


def test_an_administrator_by_role_cannot_open_the_audit_trail_in_the_admin(administrator_client):
    # The Administrator role holds no audit permission: the admin's audit list stays closed to it.
    assert administrator_client.get(changelist_url(AuditEvent)).status_code == 403


# 8. Ticket forms, site configuration and roles: form errors and honest messages.


@pytest.mark.parametrize(
    "schema, message",
    [
        ("[{", "Enter a valid JSON."),
        ('{"name": "x"}', "must be a list"),
        ("[1]", "must be an object"),
        ('[{"name": "subject", "label": "S", "type": "text"}]', "is reserved"),
        ('[{"name": "n", "label": "N", "type": "number", "decimal_places": 1e999}]', "must be finite"),
        ('[{"name": "n", "label": "N", "type": "text", "required": NaN}]', "must be finite"),
    ],
)
def test_a_bad_ticket_form_schema_is_a_form_error(superuser_client, schema, message):
    form = TicketFormFactory()
    page = superuser_client.get(change_url(form))
    response = superuser_client.post(change_url(form), form_data(page, schema=schema))
    assert response.status_code == 422
    assert message in str(response.context["adminform"].form.errors["schema"])
    form.refresh_from_db()
    assert isinstance(form.schema, list) and form.schema[0]["name"] == "order_number"


def test_saving_the_site_configuration_unchanged_records_no_empty_settings_change(superuser_client):
    configuration = SiteConfiguration.objects.get_current()
    page = superuser_client.get(change_url(configuration))
    response = superuser_client.post(change_url(configuration), form_data(page))
    assert response.status_code == 302
    events = AuditEvent.objects.filter(action="settings_change")
    assert [event.changes for event in events] == [], "a save that changed nothing left an (empty) event"


def test_changing_the_site_configuration_in_the_admin_records_before_and_after(superuser_client):
    configuration = SiteConfiguration.objects.get_current()
    page = superuser_client.get(change_url(configuration))
    response = superuser_client.post(change_url(configuration), form_data(page, site_name="Acme help"))
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="settings_change")
    assert event.changes == {"site_name": ["Helpdesk", "Acme help"]}
    assert SiteConfiguration.objects.get_current().site_name == "Acme help"


def test_bulk_deleting_a_built_in_role_does_not_report_success(superuser_client):
    supervisor = Group.objects.get(name=roles.SUPERVISOR)
    assert not supervisor.role_assignments.exists()  # held by nobody: the in-use guard does not stop it
    response = superuser_client.post(
        changelist_url(Group),
        {"action": "delete_selected", "_selected_action": [supervisor.pk], "post": "yes"},
        follow=True,
    )
    assert Group.objects.filter(pk=supervisor.pk).exists()
    shown = [str(message) for message in response.context["messages"]]
    assert not any("deleted" in message.lower() for message in shown), shown


def test_deleting_an_organisation_with_members_is_refused_with_a_clear_page(superuser_client):
    customer = make_customer()
    organization = customer.organization
    page = superuser_client.get(delete_url(organization))
    assert page.status_code == 200 and "protected" in page.content.decode().lower()
    response = superuser_client.post(delete_url(organization), {"post": "yes"})
    assert response.status_code in (200, 403)
    assert Organization.objects.filter(pk=organization.pk).exists()


@pytest.mark.parametrize("typed", ["\u200b\u200b", "\u202e", "\u2800", "\u3164"])
@pytest.mark.parametrize(
    "make, field",
    [
        (lambda: TeamFactory(name="Support"), "name"),
        (lambda: OrganizationFactory(name="Acme"), "name"),
        (lambda: CategoryFactory(name="Billing"), "name"),
        (lambda: TicketFormFactory(title="Access request"), "title"),
        (lambda: SiteConfiguration.objects.get_current(), "site_name"),
    ],
    ids=["team", "organisation", "category", "ticket form", "site"],
)
def test_a_name_that_shows_nothing_is_refused_in_every_admin_form(superuser_client, make, field, typed):
    """A name of zero-width, direction or blank-letter characters is a blank row in every list and
    filter: the admin refuses it as the site's own forms do (OneLineNameField)."""
    obj = make()
    page = superuser_client.get(change_url(obj))
    response = superuser_client.post(change_url(obj), form_data(page, **{field: typed}))
    assert response.status_code == 422 and field in response.context["adminform"].form.errors
    obj.refresh_from_db()
    assert getattr(obj, field) not in (typed, "")


def test_a_name_typed_decomposed_with_spaces_around_is_stored_composed_on_one_line(superuser_client):
    team = TeamFactory(name="Support")
    assert post_change(superuser_client, team, name="  Cafe\u0301   team ").status_code == 302
    team.refresh_from_db()
    assert team.name == "Café team"


def test_a_user_is_not_moved_into_an_inactive_organisation_but_its_members_stay_editable(superuser_client):
    """ "An inactive organisation takes no new members", its own help text says."""
    closed = OrganizationFactory(name="Closed Ltd", is_active=False)
    newcomer, member = make_customer(name="Newcomer"), make_customer(closed, name="Member")
    response = post_change(superuser_client, newcomer, organization=str(closed.pk))
    assert response.status_code == 422 and "organization" in response.context["adminform"].form.errors
    assert User.objects.get(pk=newcomer.pk).organization_id == newcomer.organization_id != closed.pk
    assert post_change(superuser_client, member, name="Member, renamed").status_code == 302


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"code": "\u200b\u200b"}, "code"),
        ({"expires_at_0": "2020-01-01", "expires_at_1": "10:00:00"}, "expires_at"),
        ("closed organisation", "organization"),
    ],
    ids=["code nobody can type", "expiry passed", "inactive organisation"],
)
def test_an_invitation_nobody_could_redeem_is_refused(superuser_client, changes, field):
    invitation = InvitationFactory()
    if changes == "closed organisation":
        changes = {"organization": str(OrganizationFactory(name="Closed Ltd", is_active=False).pk)}
    response = post_change(superuser_client, invitation, **changes)
    assert response.status_code == 422 and field in response.context["adminform"].form.errors


def test_a_form_cannot_send_its_tickets_to_a_closed_team(superuser_client):
    form = TicketFormFactory(title="Access request")
    closed = TeamFactory(name="Closed team", is_active=False)
    response = post_change(superuser_client, form, default_team=str(closed.pk))
    assert response.status_code == 422 and "default_team" in response.context["adminform"].form.errors
