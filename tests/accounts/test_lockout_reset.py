"""Lockouts lifted with django-axes' own commands (manage.py axes_reset, axes_reset_ip, axes_reset_username)
leave an audit event, through our handler (AXES_HANDLER = accounts.lockouts.AuditedAxesHandler); the admin's
audited unlock actions still leave exactly one event each."""

from io import StringIO

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts import services
from accounts.checks import check_lockout_resets_are_audited
from accounts.lockouts import HANDLER, RESET_ACTION
from audit.models import AuditEvent
from audit.recorder import verify_chain
from tests.factories import TEST_PASSWORD, make_administrator, make_customer

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")


@pytest.fixture
def audited_handler(settings):
    settings.AXES_HANDLER = HANDLER  # axes picks its handler up again when the setting changes
    return settings


def sign_in(client: Client, email: str, password: str = TEST_PASSWORD) -> int:
    return client.post(LOGIN, {"username": email, "password": password}).status_code


def lock_out(settings, email: str, address: str = "203.0.113.5") -> Client:
    client = Client(REMOTE_ADDR=address)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, email, "guess")
    assert sign_in(client, email) == 429
    return client


def test_axes_reset_lifts_every_lockout_and_is_audited(audited_handler):
    user = make_customer(email="target@example.org")
    client = lock_out(audited_handler, user.email)
    call_command("axes_reset", stdout=StringIO())
    assert sign_in(client, user.email) == 302
    event = AuditEvent.objects.get(action=RESET_ACTION)
    assert (event.actor, event.actor_repr, event.category) == (None, "System", AuditEvent.Category.SECURITY)
    assert event.object_repr == "Sign-in lockouts: everyone"
    # The failures, and the refused attempt with the right password.
    assert event.changes == {"failed_sign_ins": [audited_handler.AXES_FAILURE_LIMIT + 1, 0]}
    assert verify_chain()[1] is None


def test_axes_reset_username_in_any_case_lifts_the_lockout_and_is_audited(audited_handler):
    user = make_customer(email="target@example.org")
    client = lock_out(audited_handler, user.email)
    call_command("axes_reset_username", "Target@Example.org", stdout=StringIO())
    assert sign_in(client, user.email) == 302
    assert AuditEvent.objects.get(action=RESET_ACTION).object_repr == "Sign-in lockouts: target@example.org"


def test_axes_reset_ip_is_audited(audited_handler):
    make_customer(email="target@example.org")
    lock_out(audited_handler, "target@example.org", address="203.0.113.9")
    call_command("axes_reset_ip", "203.0.113.9", stdout=StringIO())
    assert AuditEvent.objects.get(action=RESET_ACTION).object_repr == "Sign-in lockouts: from 203.0.113.9"


def test_a_reset_that_finds_nothing_records_nothing(audited_handler):
    call_command("axes_reset", stdout=StringIO())
    assert not AuditEvent.objects.filter(action=RESET_ACTION).exists()


def test_the_admins_unlock_records_its_own_event_only(audited_handler):
    user = make_customer(email="target@example.org")
    lock_out(audited_handler, user.email)
    administrator = make_administrator()
    assert services.user_unlock(user, actor=administrator) == 1
    assert AuditEvent.objects.get(action="unlock").actor == administrator
    assert not AuditEvent.objects.filter(action=RESET_ACTION).exists()


def test_a_successful_sign_in_that_clears_earlier_failures_is_no_reset(audited_handler):
    user = make_customer(email="target@example.org")
    client = Client()
    sign_in(client, user.email, "guess")
    assert sign_in(client, user.email) == 302
    assert not AuditEvent.objects.filter(action=RESET_ACTION).exists()


def test_the_configuration_check_asks_for_the_audited_handler(settings):
    settings.AXES_HANDLER = HANDLER
    assert check_lockout_resets_are_audited(None) == []
    settings.AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
    assert [warning.id for warning in check_lockout_resets_are_audited(None)] == ["accounts.W001"]


def test_axes_reset_ip_lifts_the_lockout_of_an_ipv6_client(settings):
    settings.AXES_HANDLER = "accounts.lockouts.AuditedAxesHandler"
    settings.AXES_IP_FAILURE_LIMIT = 3
    user = make_customer(email="target@example.org")
    client = Client(REMOTE_ADDR="2001:db8:1:2::5")
    for n in range(3):
        client.post(LOGIN, {"username": f"guess{n}@example.org", "password": "wrong"})
    assert client.post(LOGIN, {"username": user.email, "password": TEST_PASSWORD}).status_code == 429
    call_command("axes_reset_ip", "2001:db8:1:2::5", stdout=StringIO())
    assert client.post(LOGIN, {"username": user.email, "password": TEST_PASSWORD}).status_code == 302


def test_a_password_reset_through_the_mailed_link_lifts_the_accounts_lockout(settings):
    """The lockout page offers a reset as the way back in: after it, the new password signs in, from
    another address too; the lift is audited."""
    user = make_customer(email="locked@example.org")
    lock_out(settings, user.email)
    owner = Client(REMOTE_ADDR="198.51.100.20")
    assert sign_in(owner, user.email) == 429
    link = reverse(
        "accounts:password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    form = owner.get(link)["Location"]  # Django moves the token into the session
    new = "a-brand-new-passphrase-42"
    assert owner.post(form, {"new_password1": new, "new_password2": new}).status_code == 302
    assert sign_in(owner, user.email, new) == 302
    assert AuditEvent.objects.filter(action="unlock", actor=user, object_id=str(user.pk)).exists()
