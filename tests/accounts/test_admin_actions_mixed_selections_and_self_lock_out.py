"""The accounts admin: the User admin's actions and status fields, Organization, Team,
TeamMember and Invitation admin pages, as administrators and limited staff use them."""

import json
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import roles, services
from accounts.models import Invitation, Organization, RoleAssignment, Team, TeamMember, User
from audit.models import AuditEvent
from tests.admin_pages import (
    change_url,
    changelist_url,
    form_data,
    messages_of,
    post_change,
    run_action,
)
from tests.factories import (
    InvitationFactory,
    OrganizationFactory,
    TeamFactory,
    TeamMemberFactory,
    UserFactory,
    give_custom_role,
    make_administrator,
    make_agent,
    make_customer,
    make_supervisor,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user():
    return make_administrator()


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def events_on(user, action):
    content_type = ContentType.objects.get_for_model(User)
    return AuditEvent.objects.filter(object_type=content_type, object_id=str(user.pk), action=action)


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def signed_in_client(user) -> Client:
    other = Client()
    other.force_login(user)
    return other


def split(moment) -> dict:
    return {
        "suspended_until_0": moment.strftime("%Y-%m-%d"),
        "suspended_until_1": moment.strftime("%H:%M:%S"),
    }


# --- User actions: mixed selections -------------------------------------------------------------------


def test_suspend_mixed_selection_keeps_self_and_superuser_and_names_them(admin_client, admin_user):
    boss = make_administrator(is_superuser=True, email="boss@example.org", name="Boss Person")
    customer = make_customer(email="cust@example.org")
    page = run_action(admin_client, User, "suspend_users", [admin_user.pk, boss.pk, customer.pk])
    assert page.status_code == 200
    said = " ".join(messages_of(page))
    assert "You cannot suspend yourself" in said
    assert "Boss Person" in said
    assert fresh(customer).status == User.Status.SUSPENDED
    assert fresh(boss).status == User.Status.ACTIVE
    assert fresh(admin_user).status == User.Status.ACTIVE
    assert not events_on(boss, "suspend").exists()
    event = events_on(customer, "suspend").get()
    assert event.actor_id == admin_user.pk
    assert "status" in json.dumps(event.changes)


def test_suspended_users_existing_session_stops_at_once(admin_client):
    customer = make_customer()
    theirs = signed_in_client(customer)
    assert theirs.get(reverse("accounts:profile")).status_code == 200
    run_action(admin_client, User, "suspend_users", [customer.pk])
    after = theirs.get(reverse("accounts:profile"))
    assert after.status_code == 302
    assert reverse("accounts:login") in after["Location"]


def test_activate_clears_reason_and_end(admin_client, admin_user):
    customer = make_customer()
    services.user_suspend(
        customer, until=timezone.now() + timedelta(days=3), reason="Abusive replies", actor=admin_user
    )
    page = run_action(admin_client, User, "activate_users", [customer.pk])
    assert page.status_code == 200
    customer = fresh(customer)
    assert customer.status == User.Status.ACTIVE
    assert customer.suspended_until is None
    assert customer.suspension_reason == ""
    event = events_on(customer, "activate").get()
    assert event.actor_id == admin_user.pk


def test_sign_out_everywhere_mixed_selection(admin_client, admin_user):
    boss = make_administrator(is_superuser=True, email="boss2@example.org", name="Boss Two")
    agent = make_agent(TeamFactory())
    bosses, agents = signed_in_client(boss), signed_in_client(agent)
    page = run_action(admin_client, User, "sign_out_everywhere", [boss.pk, agent.pk, admin_user.pk])
    assert page.status_code == 200
    assert "Boss Two" in " ".join(messages_of(page))
    assert bosses.get(reverse("accounts:profile")).status_code == 200
    assert agents.get(reverse("accounts:profile")).status_code == 302
    # The administrator's own session (the one acting) survives.
    assert admin_client.get(changelist_url(User)).status_code == 200


def test_unlock_sign_in_is_audited(admin_client, admin_user, settings):
    customer = make_customer(email="locked@example.org")
    AccessAttempt.objects.create(
        username="locked@example.org",
        ip_address="203.0.113.9",
        user_agent="x",
        failures_since_start=settings.AXES_FAILURE_LIMIT,
        get_data="",
        post_data="",
        http_accept="",
        path_info="/accounts/login/",
    )
    page = run_action(admin_client, User, "unlock_sign_in", [customer.pk])
    assert page.status_code == 200
    assert AuditEvent.objects.filter(actor=admin_user).exclude(action="login").exists()


def test_limited_staff_cannot_suspend_by_posting_the_action(client):
    clerk = give_custom_role(
        UserFactory(), "User clerk", [("accounts", "view_user"), ("accounts", "change_user")]
    )
    customer = make_customer()
    client.force_login(clerk)
    listing = client.get(changelist_url(User))
    assert listing.status_code == 200
    assert "suspend_users" not in listing.content.decode()
    data = {"action": "suspend_users", "index": "0", ACTION_CHECKBOX_NAME: [str(customer.pk)]}
    answer = client.post(changelist_url(User), data)
    assert answer.status_code in (200, 302, 403)
    assert fresh(customer).status == User.Status.ACTIVE
    assert not events_on(customer, "suspend").exists()


def test_limited_staff_cannot_suspend_through_the_change_form(client):
    clerk = give_custom_role(
        UserFactory(), "User clerk 2", [("accounts", "view_user"), ("accounts", "change_user")]
    )
    customer = make_customer()
    client.force_login(clerk)
    page = client.get(change_url(customer))
    assert page.status_code == 200
    data = form_data(page, status="suspended", suspension_reason="hah")
    client.post(change_url(customer), data)
    assert fresh(customer).status == User.Status.ACTIVE


def test_view_only_staff_cannot_run_actions(client):
    viewer = give_custom_role(UserFactory(), "User viewer", [("accounts", "view_user")])
    customer = make_customer()
    client.force_login(viewer)
    for action in ("suspend_users", "sign_out_everywhere", "unlock_sign_in", "reset_two_factor"):
        data = {"action": action, "index": "0", ACTION_CHECKBOX_NAME: [str(customer.pk)]}
        answer = client.post(changelist_url(User), data)
        assert answer.status_code in (200, 302, 403)
    assert fresh(customer).status == User.Status.ACTIVE
    assert not AuditEvent.objects.filter(actor=viewer).exclude(action__in=["login"]).exists()


def test_supervisor_cannot_suspend_an_administrator_by_crafted_post(client):
    supervisor = make_supervisor(TeamFactory(), is_staff=True)
    give_custom_role(
        supervisor,
        "Suspenders",
        [("accounts", "view_user"), ("accounts", "change_user"), ("accounts", "suspend_user")],
    )
    other_admin = make_administrator(email="adm@example.org", name="Other Admin")
    customer = make_customer()
    client.force_login(fresh(supervisor))
    page = run_action(client, User, "suspend_users", [other_admin.pk, customer.pk])
    assert page.status_code == 200
    assert fresh(other_admin).status == User.Status.ACTIVE
    assert fresh(customer).status == User.Status.SUSPENDED
    assert "Other Admin" in " ".join(messages_of(page))


# --- Suspension through the change form --------------------------------------------------------------


def test_suspending_yourself_on_the_change_form_is_refused(admin_client, admin_user):
    answer = post_change(admin_client, admin_user, status="suspended")
    assert answer.status_code in (200, 422)
    assert "You cannot suspend yourself." in answer.content.decode()
    assert fresh(admin_user).status == User.Status.ACTIVE


def test_setting_your_own_account_pending_on_the_change_form_is_refused(admin_client, admin_user):
    """Suspending oneself is refused on the change form (SUSPEND_YOURSELF), and so is setting one's own
    Status to "Pending": user_set_pending ends every session of the account, the acting one included,
    and a pending account cannot sign in again until someone else activates it (Zendesk and Freshdesk do
    not let an admin deactivate their own account)."""
    answer = post_change(admin_client, admin_user, status="pending")
    assert fresh(admin_user).status == User.Status.ACTIVE, "own account set to pending"
    assert answer.status_code in (200, 422)


def test_suspension_end_in_the_past_is_refused_clearly(admin_client):
    customer = make_customer()
    answer = post_change(
        admin_client, customer, status="suspended", **split(timezone.now() - timedelta(days=1))
    )
    assert answer.status_code in (200, 422)
    assert "This date has passed" in answer.content.decode()
    assert fresh(customer).status == User.Status.ACTIVE


@pytest.mark.parametrize("year", ["9999", "0001"])
def test_suspension_end_absurd_years_are_refused_clearly(admin_client, year):
    customer = make_customer()
    answer = post_change(
        admin_client,
        customer,
        status="suspended",
        suspended_until_0=f"{year}-12-31",
        suspended_until_1="23:59:59",
    )
    assert answer.status_code in (200, 422)
    assert 'class="errorlist' in answer.content.decode()
    assert fresh(customer).status == User.Status.ACTIVE


def test_suspension_on_the_form_signs_the_user_out_and_is_audited(admin_client, admin_user):
    customer = make_customer()
    theirs = signed_in_client(customer)
    until = timezone.now() + timedelta(days=2)
    answer = post_change(admin_client, customer, status="suspended", suspension_reason="Spam", **split(until))
    assert answer.status_code == 302
    customer = fresh(customer)
    assert customer.status == User.Status.SUSPENDED
    assert customer.suspension_reason == "Spam"
    assert theirs.get(reverse("accounts:profile")).status_code == 302
    assert events_on(customer, "suspend").get().actor_id == admin_user.pk


def test_activate_on_the_form_clears_reason_and_end(admin_client, admin_user):
    customer = make_customer()
    services.user_suspend(customer, until=timezone.now() + timedelta(days=1), reason="x", actor=admin_user)
    answer = post_change(admin_client, customer, status="active")
    assert answer.status_code == 302
    customer = fresh(customer)
    assert (customer.status, customer.suspended_until, customer.suspension_reason) == ("active", None, "")


def test_only_administrator_cannot_remove_their_own_administrator_role(admin_client, admin_user):
    """The only Administrator of the site (no superuser) cannot take the Administrator role off their own
    account on their user page (Delete ticked on the role row): the helpdesk would be left with nobody
    who can run the admin site, give roles or lift suspensions (Zendesk refuses to downgrade the last
    admin). The save is refused, saying they are the only administrator."""
    assert not User.objects.filter(is_superuser=True).exists()
    page = admin_client.get(change_url(admin_user))
    data = form_data(page)
    # The Administrator row of the role inline, ticked for deletion.
    formset = page.context["inline_admin_formsets"][0].formset
    row = next(f for f in formset.initial_forms if f.instance.role.name == roles.ADMINISTRATOR)
    data[row.add_prefix("DELETE")] = "on"
    answer = admin_client.post(change_url(admin_user), data)
    assert RoleAssignment.objects.filter(user=admin_user, role__name=roles.ADMINISTRATOR).exists(), (
        "the last administrator removed their own Administrator role"
    )
    assert "You are the only administrator" in answer.content.decode()
    make_administrator()  # with another one, stepping down is theirs to do
    admin_client.post(change_url(admin_user), data)
    assert not RoleAssignment.objects.filter(user=admin_user, role__name=roles.ADMINISTRATOR).exists()


def test_admin_changing_email_to_one_in_use_in_other_case_is_refused(admin_client):
    make_customer(email="taken@example.org")
    customer = make_customer(email="mine@example.org")
    answer = post_change(admin_client, customer, email="TAKEN@Example.ORG")
    assert answer.status_code in (200, 422)
    assert fresh(customer).email == "mine@example.org"
    assert 'class="errorlist' in answer.content.decode()


def test_admin_password_change_of_another_user_signs_them_out_and_audits(admin_client, admin_user):
    customer = make_customer()
    theirs = signed_in_client(customer)
    url = reverse("admin:auth_user_password_change", args=[customer.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    answer = admin_client.post(
        url,
        {
            "password1": "A-new-long-passphrase-42",
            "password2": "A-new-long-passphrase-42",
            "usable_password": "true",
        },
    )
    assert answer.status_code == 302
    assert theirs.get(reverse("accounts:profile")).status_code == 302
    assert (
        AuditEvent.objects.filter(actor=admin_user, object_id=str(customer.pk))
        .exclude(action="login")
        .exists()
    )


def test_admin_password_change_mismatch_is_422_not_500(admin_client):
    customer = make_customer()
    url = reverse("admin:auth_user_password_change", args=[customer.pk])
    answer = admin_client.post(
        url, {"password1": "A-new-long-passphrase-42", "password2": "other", "usable_password": "true"}
    )
    assert answer.status_code == 422


# --- Changelist search with odd input -------------------------------------------------------------------


@pytest.mark.parametrize("model", [User, Organization, Team, TeamMember, Invitation, AccessAttempt])
@pytest.mark.parametrize("term", ["%", "_", "\\", "\x00", "a\x00b", "'", "%_\\", "x" * 5000])
def test_changelist_search_with_odd_input_never_500(admin_client, model, term):
    OrganizationFactory()
    answer = admin_client.get(changelist_url(model), {"q": term}, follow=True)
    assert answer.status_code in (200, 400)


# --- Organisations -----------------------------------------------------------------------------------


def org_add_data(**changes) -> dict:
    data = {"name": "Acme", "slug": "acme", "email_domains": "[]", "settings": "{}", "is_active": "on"}
    return data | changes


def test_org_domains_normalised_and_refused(admin_client):
    url = reverse("admin:accounts_organization_add")
    answer = admin_client.post(url, org_add_data(email_domains='["ACME.Example", " acme.example "]'))
    assert answer.status_code == 302, answer.content.decode()[:2000]
    assert Organization.objects.get(slug="acme").email_domains == ["acme.example"]
    for bad in (
        '["@other.example"]',
        '["gmail.com"]',
        '["Gmail.COM"]',
        '["*.x.example"]',
        '["bad domain.example"]',
        '["acme.example"]',
        '"acme.example"',
        "[1]",
    ):
        answer = admin_client.post(url, org_add_data(name="Other", slug="other", email_domains=bad))
        assert answer.status_code in (200, 422), bad
        assert 'class="errorlist' in answer.content.decode(), bad
    assert not Organization.objects.filter(slug="other").exists()


def test_deactivated_org_stops_invitations_and_domain_joins(admin_client, admin_user):
    organization = OrganizationFactory(email_domains=["closing.example"])
    invitation = InvitationFactory(organization=organization, code="JOIN-CLOSING", max_uses=5)
    answer = post_change(admin_client, organization, is_active="")
    assert answer.status_code == 302
    assert not fresh(organization).is_active
    assert services.invitation_problem("JOIN-CLOSING")
    assert services.organization_for_address("new@closing.example") is None
    assert invitation.pk


def test_inactive_org_cannot_get_new_invitation(admin_client):
    organization = OrganizationFactory(is_active=False)
    url = reverse("admin:accounts_invitation_add")
    answer = admin_client.post(
        url,
        {"code": "NEWCODE", "organization": organization.pk, "max_uses": "1", "is_active": "on", "email": ""},
    )
    assert answer.status_code in (200, 422)
    assert not Invitation.objects.filter(code="NEWCODE").exists()


# --- Teams and memberships -------------------------------------------------------------------------------


def member_data(team, user) -> dict:
    now = timezone.now()
    return {
        "team": team.pk,
        "user": user.pk,
        "role": "agent",
        "is_available": "on",
        "joined_at_0": now.strftime("%Y-%m-%d"),
        "joined_at_1": now.strftime("%H:%M:%S"),
    }


def test_team_member_added_twice_is_refused_clearly(admin_client):
    team = TeamFactory()
    agent = make_agent(team)
    url = reverse("admin:accounts_teammember_add")
    answer = admin_client.post(url, member_data(team, agent))
    assert answer.status_code in (200, 422)
    assert 'class="errorlist' in answer.content.decode()
    assert "already" in answer.content.decode()
    assert TeamMember.objects.filter(team=team, user=agent).count() == 1


def test_team_member_added_twice_on_the_team_page_is_refused_clearly(admin_client):
    """On the team's page, the same agent added in two new member rows at once must be refused with a
    message on the form (Django's formset check of unique_together), not a 500 from the database."""
    team = TeamFactory()
    agent = make_agent()
    page = admin_client.get(change_url(team))
    data = form_data(page)
    formset = page.context["inline_admin_formsets"][0].formset
    prefix = formset.prefix
    data[f"{prefix}-TOTAL_FORMS"] = "2"
    for index in range(2):
        data[f"{prefix}-{index}-user"] = str(agent.pk)
        data[f"{prefix}-{index}-role"] = "agent"
        data[f"{prefix}-{index}-is_available"] = "on"
        data[f"{prefix}-{index}-team"] = str(team.pk)
        data[f"{prefix}-{index}-joined_at_0"] = timezone.now().strftime("%Y-%m-%d")
        data[f"{prefix}-{index}-joined_at_1"] = "10:00:00"
    answer = admin_client.post(change_url(team), data)
    assert answer.status_code in (200, 422)
    assert "errorlist" in answer.content.decode()
    assert TeamMember.objects.filter(team=team, user=agent).count() == 0


def test_customer_added_as_team_member_is_refused(admin_client):
    team = TeamFactory()
    customer = make_customer()
    url = reverse("admin:accounts_teammember_add")
    answer = admin_client.post(url, member_data(team, customer))
    assert answer.status_code in (200, 422)
    assert "is not an agent" in answer.content.decode()
    assert not TeamMember.objects.filter(user=customer).exists()


def test_team_member_add_is_audited_on_the_team(admin_client, admin_user):
    team = TeamFactory()
    agent = make_agent()
    url = reverse("admin:accounts_teammember_add")
    answer = admin_client.post(url, member_data(team, agent))
    assert answer.status_code == 302, answer.context["adminform"].form.errors
    content_type = ContentType.objects.get_for_model(Team)
    event = AuditEvent.objects.get(object_type=content_type, object_id=str(team.pk), actor=admin_user)
    assert "member" in json.dumps(event.changes)


def test_supervisor_cannot_add_member_to_a_team_they_do_not_supervise(client):
    mine, other = TeamFactory(), TeamFactory()
    supervisor = make_supervisor(mine, is_staff=True)
    agent = make_agent()
    client.force_login(supervisor)
    url = reverse("admin:accounts_teammember_add")
    answer = client.post(url, member_data(other, agent))
    assert answer.status_code in (200, 403)
    assert not TeamMember.objects.filter(team=other, user=agent).exists()


def test_team_member_bulk_delete_mixed_selection(client):
    mine, other = TeamFactory(), TeamFactory()
    supervisor = make_supervisor(mine, is_staff=True)
    in_mine = TeamMemberFactory(team=mine, user=make_agent())
    in_other = TeamMemberFactory(team=other, user=make_agent())
    client.force_login(supervisor)
    page = client.post(
        changelist_url(TeamMember),
        {
            "action": "delete_selected",
            "index": "0",
            "post": "yes",
            ACTION_CHECKBOX_NAME: [str(in_mine.pk), str(in_other.pk)],
        },
        follow=True,
    )
    assert page.status_code in (200, 403)
    assert TeamMember.objects.filter(pk=in_other.pk).exists()


# --- Self lock-out and more mixed selections ------------------------------------------------------------


def test_administrator_deleting_their_own_account_is_not_a_500(admin_client, admin_user):
    from tests.admin_pages import delete_url

    answer = admin_client.post(delete_url(admin_user), {"post": "yes"}, follow=True)
    assert answer.status_code in (200, 403, 422)
    assert User.objects.filter(pk=admin_user.pk).exists(), "an administrator deleted their own account"


def test_only_administrator_cannot_untick_their_own_admin_site_access(admin_client, admin_user):
    """One's own "admin site access" (is_staff) cannot be unticked on one's own user page: the very next
    request to the admin site would be refused (Django's AdminSite.has_permission asks is_staff), and the
    only administrator would leave nobody who can reach the admin to give it back."""
    assert not User.objects.filter(is_superuser=True).exists()
    post_change(admin_client, admin_user, is_staff="")
    locked_out = admin_client.get(reverse("admin:index")).status_code == 302
    assert fresh(admin_user).is_staff and not locked_out, (
        f"the only administrator removed their own admin-site access (admin now refused: {locked_out})"
    )


def test_activate_mixed_selection_by_a_clerk_keeps_higher_ranked(client, admin_user):
    clerk = give_custom_role(
        make_supervisor(TeamFactory()),
        "Unsuspenders",
        [("accounts", "view_user"), ("accounts", "change_user"), ("accounts", "unsuspend_user")],
    )
    customer = make_customer()
    services.user_suspend(customer, until=None, reason="x", actor=admin_user)
    other_admin = make_administrator(name="Suspended Admin")
    services.user_suspend(other_admin, until=None, reason="y", actor=admin_user)
    client.force_login(clerk)
    page = run_action(client, User, "activate_users", [customer.pk, other_admin.pk])
    assert page.status_code == 200
    assert fresh(customer).status == User.Status.ACTIVE
    assert fresh(other_admin).status == User.Status.SUSPENDED
    assert "Suspended Admin" in " ".join(messages_of(page))


def test_reset_two_factor_skips_self(admin_client, admin_user):
    agent = make_agent(TeamFactory())
    page = run_action(admin_client, User, "reset_two_factor", [admin_user.pk, agent.pk])
    assert page.status_code == 200
    assert "reset your own two-factor" in " ".join(messages_of(page))


def test_org_deactivation_is_audited(admin_client, admin_user):
    organization = OrganizationFactory()
    assert post_change(admin_client, organization, is_active="").status_code == 302
    content_type = ContentType.objects.get_for_model(Organization)
    event = AuditEvent.objects.get(object_type=content_type, object_id=str(organization.pk), actor=admin_user)
    assert "is_active" in json.dumps(event.changes)


def test_invitation_for_an_address_with_an_account_or_past_expiry_is_refused(admin_client):
    organization = OrganizationFactory()
    make_customer(email="has@example.org")
    url = reverse("admin:accounts_invitation_add")
    base = {"code": "CODE-1", "organization": organization.pk, "max_uses": "1", "is_active": "on"}
    answer = admin_client.post(url, base | {"email": "HAS@example.org"})
    assert answer.status_code in (200, 422)
    past = timezone.now() - timedelta(days=1)
    answer = admin_client.post(
        url, base | {"email": "", "expires_at_0": past.strftime("%Y-%m-%d"), "expires_at_1": "10:00:00"}
    )
    assert answer.status_code in (200, 422)
    assert "This date has passed" in answer.content.decode()
    assert not Invitation.objects.filter(code="CODE-1").exists()
