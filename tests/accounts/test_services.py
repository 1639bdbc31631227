"""Account services record the real before and after of what they change."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from accounts import roles, services
from accounts.models import RoleAssignment, User
from audit.models import AuditEvent
from tests.factories import TeamFactory, UserFactory, make_administrator, make_customer, make_supervisor

pytestmark = pytest.mark.django_db


def as_stored(value) -> str:
    """A date and time as the audit event's JSON holds it."""
    return DjangoJSONEncoder().default(value)


def last_event(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).latest("sequence")


def test_suspending_records_the_status_end_and_reason_it_replaced(clock):
    administrator = make_administrator()
    user = make_customer()
    loaded_earlier = User.objects.get(pk=user.pk)
    first_end = timezone.now() + timedelta(days=1)
    services.user_suspend(user, until=first_end, reason="Spam", actor=administrator)
    assert last_event("suspend").changes == {
        "status": ["active", "suspended"],
        "suspended_until": [None, as_stored(first_end)],
        "suspension_reason": ["", "Spam"],
    }
    # Made indefinite through a copy loaded before the first suspension: the before is the stored row.
    services.user_suspend(loaded_earlier, until=None, reason="Spam", actor=administrator)
    event = last_event("suspend")
    assert event.actor == administrator and event.object_id == str(user.pk)
    assert event.changes == {"suspended_until": [as_stored(first_end), None]}


def test_activating_records_the_suspension_it_lifted():
    user = make_customer()
    services.user_suspend(user, until=None, reason="Abusive language", actor=None)
    services.user_activate(user, actor=make_administrator())
    assert last_event("activate").changes == {
        "status": ["suspended", "active"],
        "suspension_reason": ["Abusive language", ""],
    }


def test_a_pending_owner_activating_records_the_verification_too(clock):
    user = make_customer(status=User.Status.PENDING, email_verified_at=None)
    services.user_activate(user, actor=user)
    assert last_event("activate").changes == {
        "status": ["pending", "active"],
        "email_verified_at": [None, as_stored(timezone.now())],
    }


def test_assigning_a_role_records_whether_it_was_held_and_until_when(clock):
    user = UserFactory()
    services.role_assign(user, roles.AGENT, actor=None)
    assert last_event("role_change").changes == {"role": [None, "Agent"], "expires_at": [None, None]}
    until = timezone.now() + timedelta(days=30)
    services.role_assign(user, roles.AGENT, expires_at=until, actor=None)
    assert last_event("role_change").changes == {
        "role": ["Agent", "Agent"],
        "expires_at": [None, as_stored(until)],
    }
    services.role_assign(user, roles.AGENT, expires_at=None, actor=None)
    assert last_event("role_change").changes == {
        "role": ["Agent", "Agent"],
        "expires_at": [as_stored(until), None],
    }


def test_lifting_ended_suspensions_leaves_one_renewed_meanwhile(monkeypatch, clock):
    """The job lists ended suspensions, then lifts them one by one: an administrator suspending one of
    them again (for good) in between must not be undone."""
    admin = make_administrator()
    first, second = make_customer(), make_customer()
    for user in (first, second):
        until = timezone.now() + timedelta(minutes=1)
        services.user_suspend(user, until=until, reason="Cooling off", actor=admin)
    clock.shift(timedelta(minutes=2))
    real_activate = services.user_activate

    def activate_while_an_administrator_acts(user, *, actor):
        if user.pk == first.pk:  # another request, committed between the job's read and its writes
            services.user_suspend(User.objects.get(pk=second.pk), until=None, reason="Fraud", actor=admin)
        return real_activate(user, actor=actor)

    monkeypatch.setattr(services, "user_activate", activate_while_an_administrator_acts)
    assert services.suspensions_lift_expired() == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == User.Status.ACTIVE
    assert (second.status, second.suspended_until, second.suspension_reason) == (
        User.Status.SUSPENDED,
        None,
        "Fraud",
    )


def test_role_revoke_records_the_expiry_it_ends_and_nothing_for_a_role_not_held():
    """role_revoke records what the admin records for a deleted assignment (the role and its expiry)."""
    admin = make_administrator()
    user = make_customer()
    until = timezone.now() + timedelta(days=3)
    services.role_assign(user, roles.AGENT, expires_at=until, actor=admin)
    services.role_revoke(user, roles.AGENT, actor=admin)
    assert last_event("role_change").changes == {
        "role": ["Agent", None],
        "expires_at": [as_stored(until), None],
    }
    events = AuditEvent.objects.count()
    services.role_revoke(user, roles.AGENT, actor=admin)
    assert AuditEvent.objects.count() == events


def test_role_revoke_is_refused_to_someone_who_could_not_grant_the_role():
    supervisor = make_supervisor(TeamFactory())
    administrator = make_administrator()
    with pytest.raises(PermissionDenied):
        services.role_revoke(administrator, roles.ADMINISTRATOR, actor=supervisor)
    assert RoleAssignment.objects.filter(user=administrator, role__name=roles.ADMINISTRATOR).exists()
