"""Grants in the admin beyond the role screens (guardian's object permissions, built-in roles whose
name gives powers), custom-field rules for stored values, the e-mail confirmation flow on a shared
computer, the demo data, the site configuration's change detection, and the workflows that must keep
working."""

from html import unescape

import pytest
from django import forms
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.urls import reverse

from accounts import rbac, roles
from accounts import services as account_services
from accounts.models import RoleAssignment, User
from accounts.tokens import email_verification_token
from audit.models import AuditEvent
from helpdesk import services as site_services
from helpdesk.markdown import render_markdown
from helpdesk.models import SiteConfiguration
from tests.admin_pages import post_change
from tests.factories import (
    TeamFactory,
    TicketFormFactory,
    UserFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_ticket,
)
from tickets import schema
from tickets import services as ticket_services
from tickets.models import Ticket, TicketActivity, TicketMessage

pytestmark = pytest.mark.django_db


def staff_with_role(name: str, codenames: list[tuple[str, str]]) -> User:
    """A staff user (admin site access) whose only role is a custom one holding these permissions."""
    role = Group.objects.create(name=name)
    for app_label, codename in codenames:
        role.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    user = UserFactory(is_staff=True)
    account_services.role_assign(user, name, actor=None)
    return User.objects.get(pk=user.pk)


# ---------------------------------------------------------------------------------------------------
# 1. Escalation paths that rbac.grant_refusal does not cover
# ---------------------------------------------------------------------------------------------------


def test_the_object_permissions_screen_refuses_a_permission_the_actor_lacks(client):
    """A role that may only edit teams must not give itself work_team_queue (every ticket of that team)
    on a team's "Object permissions" screen."""
    editor = staff_with_role("Team editor", [("accounts", "view_team"), ("accounts", "change_team")])
    team = TeamFactory(name="Payroll")
    assert team.pk not in rbac.access(editor).team_ids
    client.force_login(editor)
    url = reverse("admin:accounts_team_permissions_manage_user", args=[team.pk, editor.pk])
    client.post(url, {"permissions": ["work_team_queue"], "submit_manage_user": "1"})
    refreshed = User.objects.get(pk=editor.pk)
    assert team.pk not in rbac.access(refreshed).team_ids, "granted themselves a permission they do not hold"


def test_a_role_editor_cannot_become_administrator_by_emptying_the_role_then_taking_it(client):
    """Emptied of its permissions, the built-in Administrator role would be 'within' anyone's grant,
    while its name alone (rbac.is_administrator) opens every ticket and the whole audit trail: a
    built-in role is given only by someone of at least that rank."""
    editor = staff_with_role(
        "Role editor",
        [
            ("auth", "view_group"),
            ("auth", "change_group"),
            ("accounts", "add_roleassignment"),
            ("accounts", "view_roleassignment"),
            ("accounts", "view_user"),
        ],
    )
    client.force_login(editor)
    administrator_role = Group.objects.get(name=roles.ADMINISTRATOR)
    post_change(client, administrator_role, permissions=[])
    client.post(
        reverse("admin:accounts_roleassignment_add"), {"user": editor.pk, "role": administrator_role.pk}
    )
    refreshed = User.objects.get(pk=editor.pk)
    assert not rbac.is_administrator(refreshed), "a role editor made themselves an Administrator"


# Checks of the new grant rules that pass (kept: the brief's other escalation paths).


def test_the_role_inline_on_the_add_user_page_refuses_a_role_the_actor_cannot_grant(client):
    clerk = staff_with_role(
        "User clerk",
        [
            ("accounts", "add_user"),
            ("accounts", "change_user"),
            ("accounts", "view_user"),
            ("accounts", "add_roleassignment"),
            ("accounts", "view_roleassignment"),
            ("auth", "view_group"),
        ],
    )
    client.force_login(clerk)
    administrator_role = Group.objects.get(name=roles.ADMINISTRATOR)
    prefix = "role_assignments"
    response = client.post(
        reverse("admin:accounts_user_add"),
        {
            "email": "friend@example.org",
            "name": "Friend",
            "password1": "Zq9!a-long-password",
            "password2": "Zq9!a-long-password",
            "usable_password": "true",
            f"{prefix}-TOTAL_FORMS": "1",
            f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000",
            f"{prefix}-0-role": str(administrator_role.pk),
        },
    )
    assert response.status_code in (200, 422)
    assert "Only someone who holds the role “Administrator” (or a higher one) can give it." in unescape(
        response.content.decode()
    )
    assert not User.objects.filter(email="friend@example.org").exists()


def test_changing_an_existing_assignment_to_a_bigger_role_is_refused(client):
    clerk = staff_with_role(
        "Assignment clerk",
        [
            ("accounts", "change_roleassignment"),
            ("accounts", "view_roleassignment"),
            ("accounts", "view_user"),
            ("auth", "view_group"),
        ],
    )
    customer_role = Group.objects.get(name=roles.CUSTOMER)
    customer_role.role_assignments.create(user=clerk)  # the clerk's own Customer role
    assignment = RoleAssignment.objects.get(user=clerk, role=customer_role)
    client.force_login(clerk)
    response = post_change(client, assignment, role=str(Group.objects.get(name=roles.ADMINISTRATOR).pk))
    assert "Only someone who holds the role “Administrator”" in unescape(response.content.decode())
    assignment.refresh_from_db()
    assert assignment.role_id == customer_role.pk


def test_an_administrator_by_role_still_assigns_agent_and_supervisor_in_the_admin(client):
    administrator = make_administrator()
    client.force_login(administrator)
    for name in (roles.AGENT, roles.SUPERVISOR):
        person = make_customer()
        response = client.post(
            reverse("admin:accounts_roleassignment_add"),
            {"user": person.pk, "role": Group.objects.get(name=name).pk},
        )
        assert response.status_code == 302, name
        assert RoleAssignment.objects.filter(user=person, role__name=name).exists()
        event = AuditEvent.objects.filter(action="role_change", object_id=str(person.pk)).latest("sequence")
        assert event.category == AuditEvent.Category.SECURITY


def test_an_administrator_by_role_can_save_their_own_user_page(client):
    administrator = make_administrator(name="Ada Admin")
    client.force_login(administrator)
    response = post_change(client, administrator, name="Ada Administrator")
    assert response.status_code == 302
    administrator.refresh_from_db()
    assert administrator.name == "Ada Administrator" and not administrator.is_superuser


# ---------------------------------------------------------------------------------------------------
# 2. Custom fields: a stored value's exception must not widen what new values are accepted
# ---------------------------------------------------------------------------------------------------


AMOUNT = {"name": "amount", "label": "Amount", "type": "number", "decimal_places": 2}


def test_a_new_number_with_more_places_than_allowed_is_refused_even_if_the_old_one_had_them():
    """The stored 1.125 survives a field now asking for two places, but no other number with three."""
    with pytest.raises(forms.ValidationError):
        schema.clean_values([AMOUNT], {"amount": "7.777"}, stored={"amount": 1.125})


def test_the_desk_refuses_a_new_number_with_more_places_than_the_form_allows(client):
    support = TeamFactory()
    agent = make_agent(support)
    form = TicketFormFactory(schema=[{"name": "amount", "label": "Amount", "type": "number"}])
    ticket = make_ticket(make_customer(), team=support, form=form, custom_fields={"amount": "1.125"})
    form.schema = [AMOUNT]  # the administrator now asks for cents
    form.save()
    client.force_login(agent)
    client.post(
        reverse("tickets:desk_update", args=[ticket.number]),
        {"field": "custom_fields", "version": ticket.version, "cf-amount": "7.777"},
    )
    assert Ticket.objects.get(pk=ticket.pk).custom_fields["amount"] == 1.125


def test_a_select_value_the_ticket_never_held_is_still_refused():
    product = {"name": "product", "label": "Product", "type": "select", "choices": ["Basic", "Pro"]}
    with pytest.raises(forms.ValidationError):
        schema.clean_values([product], {"product": "Legacy"}, stored={"product": "Basic"})
    assert schema.clean_values([product], {"product": "Legacy"}, stored={"product": "Legacy"}) == {
        "product": "Legacy"
    }


def test_keys_outside_the_schema_cannot_be_injected():
    product = {"name": "product", "label": "Product", "type": "select", "choices": ["Basic", "Pro"]}
    cleaned = schema.clean_values([product], {"product": "Pro", "is_vip": True}, stored={"old": "kept"})
    assert cleaned == {"product": "Pro", "old": "kept"}


def test_the_timeline_does_not_record_an_empty_field_as_changed_from_nothing_to_nothing():
    """A field added to the schema after submission (no key) saved empty ("") is no change: no
    'Reference: — → —' on the timeline."""
    reference = {"name": "reference", "label": "Reference", "type": "text"}
    assert schema.labelled_changes([reference], {}, {"reference": ""}) == ({}, {})


def test_saving_custom_fields_unchanged_writes_no_activity(client):
    support = TeamFactory()
    agent = make_agent(support)
    form = TicketFormFactory(schema=[{"name": "order_number", "label": "Order number", "type": "text"}])
    ticket = make_ticket(make_customer(), team=support, form=form, custom_fields={"order_number": "A-1"})
    form.schema = [*form.schema, {"name": "reference", "label": "Reference", "type": "text"}]
    form.save()
    client.force_login(agent)
    client.post(
        reverse("tickets:desk_update", args=[ticket.number]),
        {"field": "custom_fields", "version": ticket.version, "cf-order_number": "A-1", "cf-reference": ""},
    )
    activities = TicketActivity.objects.filter(ticket=ticket, action=TicketActivity.Action.CUSTOM_FIELDS)
    assert list(activities.values_list("old_value", "new_value")) == []


# ---------------------------------------------------------------------------------------------------
# 3. Merged tickets and merges across organisations
# ---------------------------------------------------------------------------------------------------


def test_merged_ticket_refuses_field_tag_and_assignee_changes():
    support = TeamFactory()
    supervisor = make_agent(support, role=roles.SUPERVISOR)
    customer = make_customer()
    source = make_ticket(customer, team=support)
    into = make_ticket(customer, team=support)
    ticket_services.ticket_merge(source, into=into, actor=supervisor)
    source.refresh_from_db()
    for call in (
        lambda: ticket_services.ticket_update_fields(source, changes={"priority": "high"}, actor=supervisor),
        lambda: ticket_services.ticket_set_tags(source, names=["x"], actor=supervisor),
        lambda: ticket_services.ticket_assign(source, assignee=supervisor, actor=supervisor),
    ):
        with pytest.raises(ticket_services.TicketNotAllowed):
            call()


# ---------------------------------------------------------------------------------------------------
# 4. E-mail confirmation: only the signed-in owner
# ---------------------------------------------------------------------------------------------------


def _verify_url(user: User) -> str:
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    return reverse(
        "accounts:email_verify",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": email_verification_token.make_token(user),
        },
    )


def test_someone_else_signed_in_cannot_confirm_the_address(client):
    owner = make_customer(email="owner@example.org")
    client.force_login(make_customer(email="stranger@example.org"))
    response = client.post(_verify_url(owner))
    assert response.status_code == 403
    owner.refresh_from_db()
    assert owner.email_verified_at is None


def test_signed_in_to_another_account_the_page_signs_them_out_towards_signing_in(client):
    """On a shared computer someone else is signed in: the sign-in page would send them straight back,
    so the page offers to sign out first, then leads to signing in with this page to come back to."""
    owner = make_customer(email="owner@example.org")
    client.force_login(make_customer(email="partner@example.org"))
    link = _verify_url(owner)
    html = unescape(client.get(link).content.decode())
    assert "you are signed in to another account" in html and "Sign out, then sign in to confirm" in html
    form = html[html.rindex("<form", 0, html.index("Sign out, then sign in to confirm")) :]
    next_value = form[form.index('name="next" value="') + len('name="next" value="') :].split('"')[0]
    sign_in = f"{reverse('accounts:login')}?next={link}"
    assert next_value == sign_in  # signed out, straight on to signing in, then back here
    signed_out = client.post(reverse("accounts:logout"), {"next": next_value})
    assert signed_out["Location"] == sign_in and "_auth_user_id" not in client.session
    assert client.get(sign_in).status_code == 200


def test_the_sign_in_link_carries_only_a_local_next(client):
    owner = make_customer(email="owner@example.org")
    page = client.get(_verify_url(owner) + "?next=https://evil.example/")
    html = unescape(page.content.decode())
    assert "next=https://evil" not in html and "next=//" not in html


# ---------------------------------------------------------------------------------------------------
# 5. Demo data
# ---------------------------------------------------------------------------------------------------


def test_demo_invoice_messages_show_the_invoice_their_body_names():
    """The demo's invoices were renumbered in subject, description and body, but not in body_html, which
    is what the portal and the desk render: T-915 and T-927 still read 'INV-2026-0042'."""
    call_command("loaddata", "demo", verbosity=0)
    mismatched = [
        message.ticket.number
        for message in TicketMessage.objects.filter(body__contains="INV-2026").select_related("ticket")
        if message.body_html != render_markdown(message.body)
    ]
    assert mismatched == []


# ---------------------------------------------------------------------------------------------------
# 6. Site configuration: "unchanged" must mean unchanged
# ---------------------------------------------------------------------------------------------------


def test_a_custom_setting_changed_from_true_to_1_is_saved():
    """The no-op check compares with ==, for which True == 1 and 0 == False: a JSON value changed from
    true to 1 (or false to 0) is neither saved nor recorded."""
    site_services.site_configuration_update(changes={"custom.retries": True}, actor=None)
    site_services.site_configuration_update(changes={"custom.retries": 1}, actor=None)
    stored = SiteConfiguration.objects.get(pk=SiteConfiguration.SINGLETON_PK).custom_settings["retries"]
    assert stored == 1 and type(stored) is int


def test_an_unchanged_site_configuration_records_nothing():
    site_services.site_configuration_update(changes={"site_name": "Desk"}, actor=None)
    before = AuditEvent.objects.filter(action="settings_change").count()
    site_services.site_configuration_update(changes={"site_name": "Desk"}, actor=None)
    assert AuditEvent.objects.filter(action="settings_change").count() == before


# ---------------------------------------------------------------------------------------------------
# 7. Queue titles name user-provided views escaped
# ---------------------------------------------------------------------------------------------------


def test_a_saved_views_name_is_escaped_in_the_title_and_heading(client):
    from tests.factories import SavedViewFactory

    support = TeamFactory()
    agent = make_agent(support)
    SavedViewFactory(owner=agent, name="</title><script>alert(1)</script>", query="status=open")
    client.force_login(agent)
    for headers in ({}, {"HX-Request": "true", "HX-Target": "queue-table"}):
        response = client.get(reverse("tickets:desk_queue") + "?status=open", headers=headers)
        html = response.content.decode()
        assert "<script>alert(1)</script>" not in html
        assert "&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt; · Queue" in html
