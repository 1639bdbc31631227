"""Roles: permissions come from role assignments in force; built-in roles cannot be deleted."""

from datetime import timedelta

import pytest
from django.contrib.admin.sites import site
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from accounts import rbac, roles, services
from accounts.models import User
from tests.factories import UserFactory, make_administrator, make_user_with_role

pytestmark = pytest.mark.django_db


def fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)


def test_expired_role_grants_nothing_from_the_moment_it_expires(clock):
    clock.move_to("2026-03-01 12:00:00+00:00", tick=False)
    user = make_user_with_role(roles.AGENT, expires_at=timezone.now() + timedelta(hours=1))
    assert fresh(user).has_perm("accounts.provide_support")
    assert rbac.is_agent(fresh(user))

    clock.move_to("2026-03-01 12:59:59+00:00", tick=False)
    assert fresh(user).has_perm("accounts.provide_support")

    clock.move_to("2026-03-01 13:00:00+00:00", tick=False)
    user = fresh(user)
    assert not user.has_perm("accounts.provide_support")
    assert not rbac.is_agent(user)
    assert rbac.active_roles(user) == frozenset()


def test_role_without_expiry_keeps_granting(clock):
    user = make_user_with_role(roles.SUPERVISOR)
    clock.shift(timedelta(days=3650))
    assert fresh(user).has_perm("accounts.manage_support_agents")


def test_reassigning_a_role_replaces_its_expiry():
    user = UserFactory()
    services.role_assign(user, roles.AGENT, expires_at=timezone.now() - timedelta(seconds=1), actor=None)
    assert not rbac.is_agent(fresh(user))
    services.role_assign(user, roles.AGENT, expires_at=None, actor=None)
    assert rbac.is_agent(fresh(user))
    assert user.role_assignments.count() == 1


def test_a_role_given_again_after_it_expired_is_recorded_as_granted_not_as_held(clock):
    """Between its expiry and the new grant the person held no role: the trail says so (before: none),
    keeping the lapsed expiry as the before of expires_at."""
    from audit.models import AuditEvent

    expiry = timezone.now() + timedelta(hours=1)
    user = make_user_with_role(roles.AGENT, expires_at=expiry)
    clock.shift(timedelta(days=1))
    services.role_assign(user, roles.AGENT, actor=None)
    event = AuditEvent.objects.filter(action="role_change", object_id=str(user.pk)).latest("sequence")
    assert event.changes["role"] == [None, roles.AGENT]
    assert event.changes["expires_at"][1] is None and event.changes["expires_at"][0] is not None
    services.role_assign(user, roles.AGENT, expires_at=timezone.now() + timedelta(days=3), actor=None)
    event = AuditEvent.objects.filter(action="role_change", object_id=str(user.pk)).latest("sequence")
    assert event.changes["role"] == [roles.AGENT, roles.AGENT]  # held, its expiry changed


def test_user_groups_do_not_grant_roles():
    user = UserFactory()
    user.groups.add(Group.objects.get(name=roles.ADMINISTRATOR))
    assert not fresh(user).has_perm("accounts.manage_roles")


@pytest.mark.parametrize("name", roles.BUILT_IN_ROLES)
def test_built_in_roles_cannot_be_deleted(name):
    with pytest.raises(ProtectedError), transaction.atomic():
        Group.objects.get(name=name).delete()
    assert Group.objects.filter(name=name).exists()


def test_admin_offers_no_delete_for_built_in_roles_but_does_for_others(rf):
    request = rf.get("/admin/")
    request.user = make_administrator(is_superuser=True)
    admin = site._registry[Group]
    assert not admin.has_delete_permission(request, Group.objects.get(name=roles.AGENT))
    custom = Group.objects.create(name="Night shift")
    assert admin.has_delete_permission(request, custom)
    custom.delete()
    assert not Group.objects.filter(name="Night shift").exists()


def test_explain_names_the_role_and_its_expiry(clock):
    clock.move_to("2026-05-01 08:00:00+00:00", tick=False)
    user = make_user_with_role(roles.AGENT, expires_at=timezone.now() + timedelta(days=1))
    decision = rbac.explain(fresh(user), "accounts.provide_support")
    assert decision.allowed
    assert "role Agent until 2026-05-02 08:00" in str(decision)

    clock.shift(timedelta(days=2))
    decision = rbac.explain(fresh(user), "accounts.provide_support")
    assert not decision.allowed
    assert "expired at 2026-05-02 08:00" in str(decision)


def test_explain_denies_with_a_reason_when_nothing_grants():
    decision = rbac.explain(UserFactory(), "accounts.manage_roles")
    assert not decision
    assert "no role in force" in str(decision)
