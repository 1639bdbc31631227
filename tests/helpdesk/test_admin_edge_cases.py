"""The Django admin: odd input gets a clear answer (never a 500), deletes that would change
other records behind the services' back are refused, and pages cost the same queries for few or many
rows."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape
from django_tasks_db.models import DBTaskResult

from accounts import services as account_services
from accounts.models import Invitation, Organization, Team, User
from audit.models import AuditEvent
from audit.recorder import verify_chain
from helpdesk.admin import ChangeList
from helpdesk.forms import JSON_NUL
from helpdesk.models import SiteConfiguration
from knowledge.models import Category
from tests.factories import (
    InvitationFactory,
    OrganizationFactory,
    TeamFactory,
    TicketFormFactory,
    make_administrator,
    make_agent,
    make_article,
    make_customer,
    make_ticket,
)
from tickets import services as ticket_services
from tickets.models import Ticket, TicketForm

pytestmark = pytest.mark.django_db


@pytest.fixture
def administrator():
    return make_administrator(is_superuser=True)


@pytest.fixture
def admin_client(client, administrator):
    client.force_login(administrator)
    return client


def delete_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_delete", args=[obj.pk])


def changelist_url(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


# Odd input: a clear answer, never a server error.


def test_every_admin_lists_with_the_guarded_changelist():
    for model, model_admin in admin.site._registry.items():
        assert model_admin.get_changelist(None) is ChangeList, model


@pytest.mark.parametrize(
    "query",
    [
        "status__exact=%00",
        "status=open%00",
        "channel__exact=%00",
        "created_at__year=0",
        "created_at__year=0&created_at__month=12&created_at__day=31",
    ],
)
def test_odd_ticket_list_filters_go_back_to_the_list_with_an_error_flag(admin_client, query):
    response = admin_client.get(f"{changelist_url(Ticket)}?{query}")
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


@pytest.mark.parametrize(
    "model, query",
    [
        (AuditEvent, "category__exact=%00"),
        (AuditEvent, "created_at__year=0"),
        (User, "status__exact=%00"),
        (Group, "name=%00"),
        (DBTaskResult, "queue_name__exact=%00"),
        # Lookups typed into the address that fail only when PostgreSQL runs them: a broken regular
        # expression, trigram and unaccent (extensions core PostgreSQL lacks).
        (User, "name__regex=("),
        (User, "email__iregex=%5Ba-"),
        (User, "timezone__regex=a%7B99999%7D"),
        (User, "name__trigram_similar=x"),
        (User, "name__unaccent=x"),
        (User, "name__unaccent__icontains=x"),
        (Ticket, "subject__regex=("),
        (AuditEvent, "action__regex=("),
    ],
)
def test_odd_list_filters_elsewhere_go_back_to_the_list_too(admin_client, model, query):
    response = admin_client.get(f"{changelist_url(model)}?{query}")
    assert (response.status_code, response["Location"][-4:]) == (302, "?e=1")


@pytest.mark.parametrize(
    "path",
    [
        "{team}/permissions/user-manage/abc/",
        "abc/permissions/",
        "abc/permissions/user-manage/{user}/",
        "{team}/permissions/group-manage/abc/",
    ],
)
def test_object_permission_pages_with_a_malformed_id_answer_404(admin_client, path):
    team, agent = TeamFactory(), make_agent()
    base = reverse("admin:accounts_team_changelist")
    response = admin_client.get(base + path.format(team=team.pk, user=agent.pk))
    assert response.status_code == 404


def test_object_permission_pages_of_a_ticket_with_a_malformed_id_answer_404(admin_client):
    ticket = make_ticket(make_customer())
    base = reverse("admin:tickets_ticket_changelist")
    assert admin_client.get(f"{base}abc/permissions/").status_code == 404
    assert admin_client.get(f"{base}{ticket.pk}/permissions/user-manage/abc/").status_code == 404


def test_object_permissions_find_the_person_however_their_address_is_capitalised(admin_client):
    team, agent = TeamFactory(), make_agent(email="jane.doe@example.org")
    url = reverse("admin:accounts_team_permissions", args=[team.pk])
    response = admin_client.post(url, {"user": "Jane.Doe@Example.org", "submit_manage_user": "1"})
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:accounts_team_permissions_manage_user", args=[team.pk, agent.pk]
    )


def test_the_password_page_of_a_malformed_user_id_answers_404(admin_client):
    assert admin_client.get("/admin/accounts/user/abc/password/").status_code == 404
    response = admin_client.post("/admin/accounts/user/abc/password/", {"password1": "a", "password2": "a"})
    assert response.status_code == 404


def test_the_password_page_still_changes_and_audits_a_password(admin_client):
    customer = make_customer()
    url = reverse("admin:auth_user_password_change", args=[customer.pk])
    new = "Zq9!long-enough-pass"
    response = admin_client.post(url, {"password1": new, "password2": new, "usable_password": "true"})
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.check_password(new)
    assert AuditEvent.objects.filter(action="password_change", object_id=str(customer.pk)).exists()


def post_schema(admin_client, form, schema: str):
    """The ticket form's change page sent back as it was shown, with `schema` typed into it."""
    url = reverse("admin:tickets_ticketform_change", args=[form.pk])
    page = admin_client.get(url)
    data = {
        name: value
        for name, value in page.context["adminform"].form.initial.items()
        if isinstance(value, str | int) and not isinstance(value, bool)
    }
    return admin_client.post(url, {**data, "schema": schema})


def test_a_schema_nested_too_deep_is_a_form_error_not_a_server_error(admin_client):
    form = TicketFormFactory()
    response = post_schema(admin_client, form, "[" * 100_000 + "]" * 100_000)
    assert response.status_code == 422
    assert "Enter a valid JSON." in str(response.context["adminform"].form.errors["schema"])
    form.refresh_from_db()
    assert form.schema != []


@pytest.mark.parametrize(
    "raw",
    [
        '[{"name": "a", "label": "A", "type": "text", "help_text": "\\ud800"}]',
        '[{"name": "a", "label": "A", "type": "number", "decimal_places": ' + "9" * 5000 + "}]",
    ],
    ids=["half a surrogate pair", "a number past Python's digit limit"],
)
def test_json_the_parser_or_the_page_cannot_take_is_a_form_error_shown_as_typed(admin_client, raw):
    form = TicketFormFactory(schema=[])
    response = post_schema(admin_client, form, raw)
    assert response.status_code == 422
    assert "schema" in response.context["adminform"].form.errors
    assert escape(raw)[:60] in response.content.decode()
    form.refresh_from_db()
    assert form.schema == []


# Deletes that would change other records behind the services' back are refused.


def test_deleting_a_user_who_acted_is_refused_and_the_audit_chain_still_verifies(admin_client):
    agent, customer = make_agent(TeamFactory()), make_customer()
    account_services.user_suspend(customer, until=None, reason="Spam", actor=agent)
    page = admin_client.get(delete_url(agent))
    assert "Suspend the account instead." in page.content.decode()
    admin_client.post(delete_url(agent), {"post": "yes"})
    bulk = {"action": "delete_selected", "_selected_action": [agent.pk], "post": "yes"}
    admin_client.post(changelist_url(User), bulk)
    assert User.objects.filter(pk=agent.pk).exists()
    assert verify_chain()[1] is None


def test_a_user_who_never_acted_can_still_be_deleted(admin_client):
    mistake = make_agent()  # created by the system, never signed in or did anything
    response = admin_client.post(delete_url(mistake), {"post": "yes"})
    assert response.status_code == 302
    assert not User.objects.filter(pk=mistake.pk).exists()
    assert verify_chain()[1] is None


def test_deleting_a_team_with_tickets_is_refused(admin_client):
    busy, empty = TeamFactory(name="Billing"), TeamFactory(name="Old")
    ticket = make_ticket(make_customer(), team=busy)
    page = admin_client.get(delete_url(busy))
    assert "Team “Billing” holds 1 ticket:" in page.content.decode()
    bulk = {"action": "delete_selected", "_selected_action": [busy.pk, empty.pk], "post": "yes"}
    admin_client.post(changelist_url(Team), bulk)
    admin_client.post(delete_url(busy), {"post": "yes"})
    ticket.refresh_from_db()
    assert ticket.team_id == busy.pk
    admin_client.post(delete_url(empty), {"post": "yes"})
    assert not Team.objects.filter(pk=empty.pk).exists()


def test_deleting_a_category_with_articles_is_refused(admin_client):
    category = Category.objects.create(name="Billing", slug="billing")
    article = make_article(category=category)
    page = admin_client.get(delete_url(category))
    assert "Category “Billing” holds 1 article:" in page.content.decode()
    admin_client.post(delete_url(category), {"post": "yes"})
    article.refresh_from_db()
    assert article.category_id == category.pk


def test_deleting_a_ticket_form_used_by_tickets_is_refused(admin_client):
    form, unused = TicketFormFactory(title="Billing question"), TicketFormFactory()
    ticket = make_ticket(make_customer(), form=form, custom_fields={"order_number": "A-1"})
    bulk = {"action": "delete_selected", "_selected_action": [form.pk, unused.pk], "post": "yes"}
    page = admin_client.post(changelist_url(TicketForm), bulk)
    assert "Form “Billing question” was used for 1 ticket," in page.content.decode()
    ticket.refresh_from_db()
    assert ticket.form_id == form.pk
    assert TicketForm.objects.filter(pk=unused.pk).exists()  # nothing deleted from a refused selection


def test_deleting_a_custom_role_someone_holds_is_refused(admin_client):
    Group.objects.create(name="Night shift")
    holder = make_customer()
    account_services.role_assign(holder, "Night shift", actor=None)
    admin_client.post(delete_url(Group.objects.get(name="Night shift")), {"post": "yes"})
    assert holder.role_assignments.filter(role__name="Night shift").exists()
    account_services.role_revoke(holder, "Night shift", actor=None)
    admin_client.post(delete_url(Group.objects.get(name="Night shift")), {"post": "yes"})
    assert not Group.objects.filter(name="Night shift").exists()


# Query budgets: the same number of queries for few or many rows.


def queries_for(django_assert_max_num_queries, client, url: str, budget: int) -> None:
    with django_assert_max_num_queries(budget):
        assert client.get(url).status_code == 200


def test_the_organisation_list_costs_the_same_for_5_or_30_organisations(
    admin_client, django_assert_max_num_queries
):
    url = reverse("admin:accounts_organization_changelist")
    for _ in range(5):
        make_customer(OrganizationFactory())
    with CaptureQueriesContext(connection) as few:
        admin_client.get(url)
    for _ in range(25):
        make_customer(OrganizationFactory())
    queries_for(django_assert_max_num_queries, admin_client, url, len(few.captured_queries))
    assert "Members" in admin_client.get(f"{url}?o=4").content.decode()  # sortable by member count


def test_a_ticket_change_page_costs_the_same_for_2_or_20_messages(
    admin_client, django_assert_max_num_queries
):
    team = TeamFactory()
    ticket = make_ticket(make_customer(), team=team)
    url = reverse("admin:tickets_ticket_change", args=[ticket.pk])
    ticket_services.ticket_reply(ticket, body="First", actor=make_agent(team))
    with CaptureQueriesContext(connection) as few:
        admin_client.get(url)
    for number in range(18):
        ticket_services.ticket_reply(ticket, body=f"Reply {number}", actor=make_agent(team))
    queries_for(django_assert_max_num_queries, admin_client, url, len(few.captured_queries))


def test_lowering_an_invitations_max_uses_below_its_uses_is_a_form_error(superuser_client):
    invitation = InvitationFactory(max_uses=5)
    Invitation.objects.filter(pk=invitation.pk).update(uses=3)
    data = {
        "organization": invitation.organization_id, "code": invitation.code, "email": "",
        "max_uses": "1", "expires_at_0": "", "expires_at_1": "", "is_active": "on",
    }  # fmt: skip
    response = superuser_client.post(reverse("admin:accounts_invitation_change", args=[invitation.pk]), data)
    assert response.status_code == 422
    assert "used 3 times already" in str(response.context["adminform"].form.errors["max_uses"])
    invitation.refresh_from_db()
    assert invitation.max_uses == 5


def test_json_holding_a_nul_character_is_a_form_error(superuser_client):
    configuration = SiteConfiguration.objects.get_current()
    url = reverse("admin:helpdesk_siteconfiguration_change", args=[configuration.pk])
    form = superuser_client.get(url).context["adminform"].form
    data = {name: "" if form[name].value() is None else form[name].value() for name in form.fields}
    data = {name: value for name, value in data.items() if value is not False}  # unticked boxes are not sent
    data["custom_settings"] = '{"greeting": "a\\u0000b"}'
    response = superuser_client.post(url, data)
    assert response.status_code == 422
    assert JSON_NUL in str(response.context["adminform"].form.errors["custom_settings"])
    organization = OrganizationFactory()
    data = {"name": organization.name, "slug": organization.slug, "email_domains": '["acme.example"]',
            "settings": '{"x\\u0000": 1}', "is_active": "on"}  # fmt: skip
    url = reverse("admin:accounts_organization_change", args=[organization.pk])
    response = superuser_client.post(url, data)
    assert response.status_code == 422 and "settings" in response.context["adminform"].form.errors
    assert Organization.objects.get(pk=organization.pk).settings == {}


def test_the_site_config_command_refuses_a_nul_character_with_a_message():
    with pytest.raises(CommandError, match="NUL"):
        call_command("site_config", "set", "custom.greeting", '"a\\u0000b"')


def test_an_autocomplete_search_with_a_nul_byte_finds_nothing(superuser_client):
    params = {"app_label": "accounts", "model_name": "roleassignment", "field_name": "user", "term": "a\x00b"}
    response = superuser_client.get(reverse("admin:autocomplete"), params)
    assert response.status_code == 200 and response.json()["results"] == []
