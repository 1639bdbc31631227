"""Signing in: e-mail login, suspended and pending accounts, sessions of suspended users."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.forms import PENDING
from accounts.models import User
from tests.factories import TEST_PASSWORD, make_customer

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")


def post_login(client, email: str, password: str = TEST_PASSWORD):
    return client.post(LOGIN, {"username": email, "password": password})


def test_login_with_email_in_any_case(client):
    make_customer(email="Jo.Bloggs@Example.org")
    response = post_login(client, "jo.bloggs@EXAMPLE.org")
    assert response.status_code == 302
    assert client.session.get("_auth_user_id")


def test_wrong_password_answers_422_and_keeps_the_email(client):
    make_customer(email="jo@example.org")
    response = post_login(client, "jo@example.org", "wrong")
    assert response.status_code == 422
    assert 'value="jo@example.org"' in response.content.decode()
    assert "do not match an account" in response.content.decode()


def test_suspended_user_cannot_log_in_and_is_told_why(client):
    user = make_customer(email="banned@example.org")
    services.user_suspend(user, until=None, reason="Abusive language", actor=None)
    response = post_login(client, "banned@example.org")
    assert response.status_code == 422
    body = response.content.decode()
    assert "This account is suspended" in body
    assert "Abusive language" in body
    assert "_auth_user_id" not in client.session


def test_suspension_with_an_end_date_lifts_itself_at_that_time(client, clock):
    user = make_customer(email="timeout@example.org")
    services.user_suspend(user, until=timezone.now() + timedelta(hours=2), reason="Cool down", actor=None)
    assert post_login(client, "timeout@example.org").status_code == 422
    clock.shift(timedelta(hours=2, seconds=1))
    assert post_login(client, "timeout@example.org").status_code == 302


def test_expired_suspensions_are_turned_back_into_active_accounts(clock):
    user = make_customer()
    services.user_suspend(user, until=timezone.now() + timedelta(minutes=5), reason="", actor=None)
    assert services.suspensions_lift_expired() == 0
    clock.shift(timedelta(minutes=6))
    assert services.suspensions_lift_expired() == 1
    user.refresh_from_db()
    assert user.status == User.Status.ACTIVE


def test_pending_user_cannot_log_in_and_is_told_how_to_activate(client):
    make_customer(email="pending@example.org", status=User.Status.PENDING)
    response = post_login(client, "pending@example.org")
    assert response.status_code == 422
    assert PENDING.split("“")[0] in response.content.decode()


def test_session_of_a_user_suspended_later_stops_working(client):
    user = make_customer()
    client.force_login(user)
    assert client.get(reverse("accounts:profile")).status_code == 200
    services.user_suspend(user, until=None, reason="", actor=None)
    response = client.get(reverse("accounts:profile"))
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_logout_is_post_only(client):
    client.force_login(make_customer())
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert client.post(reverse("accounts:logout")).status_code == 302
    assert "_auth_user_id" not in client.session


def test_repeated_failures_lock_the_account_with_a_clear_page_and_audit_event(client, settings):
    from audit.models import AuditEvent

    make_customer(email="target@example.org")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        post_login(client, "target@example.org", "guess")
    response = post_login(client, "target@example.org")  # even the right password is refused now
    assert response.status_code == 429
    assert "Too many sign-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="lockout", category="security").exists()


def test_lockout_lifts_after_the_cool_off(client, settings, clock):
    from datetime import timedelta

    make_customer(email="patient@example.org")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        post_login(client, "patient@example.org", "guess")
    assert post_login(client, "patient@example.org").status_code == 429
    clock.shift(settings.AXES_COOLOFF_TIME + timedelta(seconds=1))
    assert post_login(client, "patient@example.org").status_code == 302


def test_an_administrator_can_lift_a_lockout(client, settings):
    from django.core.management import call_command

    make_customer(email="locked@example.org")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        post_login(client, "locked@example.org", "guess")
    assert post_login(client, "locked@example.org").status_code == 429
    call_command("axes_reset_username", "locked@example.org", verbosity=0)
    assert post_login(client, "locked@example.org").status_code == 302
