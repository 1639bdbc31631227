"""Signing in: e-mail login, suspended and pending accounts, sessions of suspended users, lockouts."""

from datetime import datetime, timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.forms import PENDING
from accounts.models import User
from audit.models import AuditEvent
from tests.factories import TEST_PASSWORD, make_administrator, make_customer

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


def test_an_office_behind_one_address_survives_a_few_typos_but_not_a_spray(settings):
    make_customer(email="colleague@example.org")
    office = Client(REMOTE_ADDR="203.0.113.20")
    for attempt in range(settings.AXES_FAILURE_LIMIT):  # five people, one typo each
        post_login(office, f"person{attempt}@example.org", "typo")
    assert post_login(office, "colleague@example.org").status_code == 302
    sprayer = Client(REMOTE_ADDR="203.0.113.21")
    for attempt in range(settings.AXES_IP_FAILURE_LIMIT):  # one guess for each of many accounts
        post_login(sprayer, f"victim{attempt}@example.org", "Summer2026!")
    assert post_login(sprayer, "colleague@example.org").status_code == 429
    assert post_login(Client(REMOTE_ADDR="198.51.100.3"), "colleague@example.org").status_code == 302


def test_changing_the_case_of_the_email_buys_no_more_guesses(client, settings):
    make_customer(email="target@example.org")
    spellings = ["Target@Example.org", "TARGET@example.org", " target@EXAMPLE.ORG"]
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        # A fresh address each time, so only the per-account count can lock.
        client.post(LOGIN, {"username": spellings[attempt % 3], "password": "guess"},
                    REMOTE_ADDR=f"203.0.113.{attempt + 1}")  # fmt: skip
    response = client.post(
        LOGIN, {"username": "target@example.org", "password": TEST_PASSWORD}, REMOTE_ADDR="198.51.100.1"
    )
    assert response.status_code == 429


def lock_out(client, settings, email: str) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        post_login(client, email.upper(), "guess")
    assert post_login(client, email).status_code == 429


def test_an_administrator_unlocks_sign_in_from_the_users_admin_and_it_is_audited(client, settings):
    user = make_customer(email="locked@example.org")
    lock_out(client, settings, "locked@example.org")
    administrator = make_administrator()
    admin_client = Client()
    admin_client.force_login(administrator)
    response = admin_client.post(
        reverse("admin:accounts_user_changelist"), {"action": "unlock_sign_in", "_selected_action": [user.pk]}
    )
    assert response.status_code == 302
    assert post_login(client, "locked@example.org").status_code == 302
    event = AuditEvent.objects.get(action="unlock")
    assert (event.actor, event.object_type, event.object_id, event.category) == (
        administrator,
        ContentType.objects.get_for_model(User),
        str(user.pk),
        AuditEvent.Category.SECURITY,
    )
    # The failures, and the refused attempt with the right password.
    assert event.changes == {"failed_sign_ins": [settings.AXES_FAILURE_LIMIT + 1, 0]}


def test_unlocking_an_account_that_is_not_locked_records_nothing():
    user = make_customer()
    assert services.user_unlock(user, actor=make_administrator()) == 0
    assert not AuditEvent.objects.filter(action="unlock").exists()


def test_sign_in_attempts_are_read_only_in_the_admin_so_no_unlock_bypasses_the_audit_trail(rf):
    request = rf.get("/")
    request.user = make_administrator(is_superuser=True)
    axes_admins = {model: model_admin for model, model_admin in admin.site._registry.items()
                   if model._meta.app_label == "axes"}  # fmt: skip
    assert list(axes_admins) == [AccessAttempt]
    attempts_admin = axes_admins[AccessAttempt]
    assert not attempts_admin.has_add_permission(request)
    assert not attempts_admin.has_change_permission(request)
    assert not attempts_admin.has_delete_permission(request)
    assert set(attempts_admin.get_actions(request)) == {"unlock_addresses"}


def lock_out_address(settings, address: str) -> Client:
    """Failures under other names from one address: everyone there is locked out."""
    office = Client(REMOTE_ADDR=address)
    for attempt in range(settings.AXES_IP_FAILURE_LIMIT):
        post_login(office, f"someone{attempt}@example.org", "guess")
    return office


def test_an_administrator_unlocks_an_ip_address_from_the_sign_in_attempts_admin(settings):
    make_customer(email="colleague@example.org")
    office = lock_out_address(settings, "203.0.113.7")
    assert post_login(office, "colleague@example.org").status_code == 429
    assert post_login(Client(REMOTE_ADDR="198.51.100.2"), "colleague@example.org").status_code == 302
    administrator = make_administrator()
    admin_client = Client()
    admin_client.force_login(administrator)
    attempts = AccessAttempt.objects.filter(ip_address="203.0.113.7")
    response = admin_client.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "unlock_addresses", "_selected_action": [attempts.first().pk]},
    )
    assert response.status_code == 302
    assert not attempts.exists()
    assert post_login(office, "colleague@example.org").status_code == 302
    event = AuditEvent.objects.get(action="unlock")
    assert (event.actor, event.object_repr, event.category) == (
        administrator,
        "Sign-in from 203.0.113.7",
        AuditEvent.Category.SECURITY,
    )
    # The failures under other names, and the refused attempt: the sign-in from elsewhere forgot it for
    # the account, not for the address it came from.
    assert event.changes == {"failed_sign_ins": [settings.AXES_IP_FAILURE_LIMIT + 1, 0]}


def test_unlocking_a_user_names_the_locked_address_they_tried_but_leaves_it_locked(settings):
    user = make_customer(email="colleague@example.org")
    office = lock_out_address(settings, "203.0.113.7")
    assert post_login(office, "colleague@example.org").status_code == 429
    admin_client = Client()
    admin_client.force_login(make_administrator())
    response = admin_client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "unlock_sign_in", "_selected_action": [user.pk]},
        follow=True,
    )
    shown = [str(message) for message in response.context["messages"]]
    assert any("203.0.113.7" in message for message in shown), shown
    assert post_login(office, "colleague@example.org").status_code == 429  # the address is its own decision


def test_the_sign_in_attempts_admin_is_closed_to_those_who_may_not_unlock_users(client, settings):
    lock_out_address(settings, "203.0.113.7")
    client.force_login(make_customer(is_staff=True))  # admin site access, but may not change users
    changelist = reverse("admin:axes_accessattempt_changelist")
    assert client.get(changelist).status_code == 403
    attempt = AccessAttempt.objects.first()
    client.post(changelist, {"action": "unlock_addresses", "_selected_action": [attempt.pk]})
    assert AccessAttempt.objects.filter(ip_address="203.0.113.7").exists()


@pytest.mark.parametrize("address", ["", "  ", "not-an-address"])
def test_unlocking_an_address_never_forgets_every_attempt(settings, address):
    lock_out_address(settings, "203.0.113.7")
    with pytest.raises(ValidationError):
        services.ip_unlock(address, actor=None)
    assert AccessAttempt.objects.filter(ip_address="203.0.113.7").exists()
    assert not AuditEvent.objects.filter(action="unlock").exists()


def test_an_account_from_an_anonymous_submission_is_shown_the_way_in_without_being_singled_out(client):
    user = make_customer(email="visitor@example.org", status=User.Status.PENDING)
    user.set_unusable_password()
    user.save()
    response = post_login(client, "visitor@example.org", "anything")
    assert response.status_code == 422
    assert "Set a password with “Forgotten your password?”" in response.content.decode()
    unknown = post_login(Client(), "nobody@example.org", "anything")
    assert unknown.context["form"].non_field_errors() == response.context["form"].non_field_errors()


def test_the_suspension_message_names_the_time_zone_and_has_one_full_stop(client):
    user = make_customer(email="timeout@example.org", timezone="Europe/Berlin")
    until = timezone.make_aware(datetime(2030, 5, 1, 10, 30), timezone.get_fixed_timezone(0))
    services.user_suspend(user, until=until, reason="Cool down.", actor=None)
    body = post_login(client, "timeout@example.org").content.decode()
    assert "until 1 May 2030, 12:30 (Europe/Berlin). Reason: Cool down. Contact support" in body


@pytest.mark.parametrize("length", [255, 256, 10_000])
def test_an_overlong_address_is_refused_by_the_form_not_the_database(client, length):
    username = "a" * (length - len("@example.org")) + "@example.org"
    response = client.post(LOGIN, {"username": username, "password": "wrong"})
    assert response.status_code == 422
    assert "Ensure this value has at most 254 characters" in response.content.decode()
