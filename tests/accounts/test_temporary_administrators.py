"""An Administrator for a while (holiday cover) runs the site until then, and makes nothing outlast it:
no permanent administrator's account taken over, no powers added for good to a role they hold for good,
no team membership (given for good) added or changed. Their own account and role stay theirs."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone

from accounts import rbac, roles
from accounts.admin import MEMBERS_OUTLAST, ROLE_ADDS_OUTLAST
from accounts.models import RoleAssignment, TeamMember, User
from tests.admin_pages import change_url, post_change
from tests.factories import TeamFactory, make_administrator, make_agent, make_customer, make_user_with_role

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Brand-new-pass-1234"


def temporary_administrator(**fields) -> User:
    return make_user_with_role(
        roles.ADMINISTRATOR, is_staff=True, expires_at=timezone.now() + timedelta(days=2), **fields
    )


def fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)


def test_a_temporary_administrator_takes_over_no_account_that_outlasts_their_role(client):
    cover = temporary_administrator(email="cover@example.org")
    RoleAssignment.objects.create(user=cover, role=Group.objects.get(name=roles.AGENT))  # an agent for good
    boss = make_administrator(email="boss@example.org")
    supervisor = make_user_with_role(roles.SUPERVISOR, email="sam@example.org")
    customer = make_customer(email="carla@example.org")
    client.force_login(cover)

    for account in (boss, supervisor):
        password_page = reverse("admin:auth_user_password_change", args=[account.pk])
        client.post(password_page, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
        assert post_change(client, account, email="cover-owned@example.org").status_code == 403
        assert not fresh(account).check_password(NEW_PASSWORD) and fresh(account).email == account.email
        assert rbac.is_out_of_reach(cover, account)
    # What is theirs to run for good stays theirs: a customer's account, and their own.
    assert post_change(client, customer, name="Carla C.").status_code == 302
    assert fresh(customer).name == "Carla C."
    assert not rbac.is_out_of_reach(cover, cover)
    assert client.get(change_url(cover)).status_code == 200
    # A permanent administrator runs the permanent one's account as before.
    assert not rbac.is_out_of_reach(make_administrator(email="peer@example.org"), boss)


def test_a_temporary_administrator_adds_no_power_for_good_to_a_role_they_hold_for_good(client):
    cover = temporary_administrator()
    agent_role = Group.objects.get(name=roles.AGENT)
    RoleAssignment.objects.create(user=cover, role=agent_role)
    added = Permission.objects.filter(content_type__app_label="accounts", codename="change_user")
    wanted = [
        str(pk)
        for pk in [*agent_role.permissions.values_list("pk", flat=True), *added.values_list("pk", flat=True)]
    ]
    client.force_login(cover)

    response = post_change(client, agent_role, permissions=wanted)
    assert response.status_code == 422
    until = RoleAssignment.objects.get(user=cover, role__name=roles.ADMINISTRATOR).expires_at
    message = ROLE_ADDS_OUTLAST.format(role=roles.AGENT, until=until.astimezone(timezone.UTC))
    assert message in response.content.decode().replace("&quot;", '"')
    assert not agent_role.permissions.filter(codename="change_user").exists()
    # Taking a power away outlasts nothing.
    kept = [pk for pk in wanted[:-1] if pk != wanted[0]]
    assert post_change(client, agent_role, permissions=kept).status_code == 302


def test_a_temporary_administrator_changes_no_team_membership(client):
    support, payroll = TeamFactory(name="Support"), TeamFactory(name="Payroll")
    cover = make_agent(support)
    RoleAssignment.objects.create(
        user=cover,
        role=Group.objects.get(name=roles.ADMINISTRATOR),
        expires_at=timezone.now() + timedelta(days=2),
    )
    User.objects.filter(pk=cover.pk).update(is_staff=True)
    colleague = make_agent(payroll)
    client.force_login(fresh(cover))

    added = client.post(
        reverse("admin:accounts_teammember_add"),
        {"user": cover.pk, "team": payroll.pk, "role": TeamMember.Role.SUPERVISOR, "is_available": "on",
         "joined_at_0": "2026-01-05", "joined_at_1": "09:00:00"},
    )  # fmt: skip
    assert added.status_code == 422
    until = RoleAssignment.objects.get(user=cover, role__name=roles.ADMINISTRATOR).expires_at
    message = MEMBERS_OUTLAST.format(team="Payroll", until=until.astimezone(timezone.UTC))
    assert message in added.content.decode().replace("&quot;", '"')
    assert not TeamMember.objects.filter(user=cover, team=payroll).exists()
    membership = TeamMember.objects.get(user=colleague, team=payroll)
    assert (
        client.post(
            reverse("admin:accounts_teammember_delete", args=[membership.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert TeamMember.objects.filter(pk=membership.pk).exists()
