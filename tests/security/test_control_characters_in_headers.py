"""Control characters in the headers we store (User-Agent, Accept): a NUL, which PostgreSQL refuses in
text, used to turn every sign-in into a 500 before django-axes could count the failure, so an attacker
could guess passwords without ever being locked out."""

import pytest
from axes.models import AccessAttempt
from django.db.models import Sum
from django.test import Client
from django.urls import reverse

from accounts.models import UserSession
from audit.checks import check_lockout_counted_before_audit
from audit.context import printable
from audit.models import AuditEvent
from tests.factories import TEST_PASSWORD, make_customer

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
NUL_AGENT = "x\x00y"


def attempt(client: Client, email: str, password: str, **headers: str):
    return client.post(LOGIN, {"username": email, "password": password}, headers=headers)


def failures_counted(email: str) -> int:
    return AccessAttempt.objects.filter(username=email).aggregate(total=Sum("failures_since_start"))["total"]


def test_wrong_passwords_with_a_nul_in_the_user_agent_lock_the_account_and_are_audited(settings):
    user = make_customer(email="target@example.org")
    client = Client(raise_request_exception=False)
    statuses = [
        attempt(client, user.email, "guess", user_agent=NUL_AGENT).status_code
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert 500 not in statuses and statuses[:-1] == [422] * (settings.AXES_FAILURE_LIMIT - 1)
    assert failures_counted(user.email) == settings.AXES_FAILURE_LIMIT
    # Locked out: even the right password is refused now.
    assert attempt(client, user.email, TEST_PASSWORD, user_agent=NUL_AGENT).status_code == 429
    assert "_auth_user_id" not in client.session
    failed = AuditEvent.objects.filter(action="login_failed", object_repr=user.email)
    assert failed.count() >= settings.AXES_FAILURE_LIMIT
    assert set(failed.values_list("user_agent", flat=True)) == {"xy"}
    assert AuditEvent.objects.filter(action="lockout").exists()
    assert set(AccessAttempt.objects.values_list("user_agent", flat=True)) == {"xy"}


def test_a_nul_in_the_accept_header_does_not_spare_a_guess_from_the_lockout():
    user = make_customer()
    client = Client(raise_request_exception=False)
    assert attempt(client, user.email, "guess", accept="text/html\x00").status_code == 422
    assert failures_counted(user.email) == 1
    assert AccessAttempt.objects.get().http_accept == "text/html"


def test_a_sign_in_with_control_characters_in_the_user_agent_stores_them_cleaned():
    user = make_customer()
    client = Client(raise_request_exception=False)
    sent = "Firefox/140.0\x00 (X11;\r\n Linux)\u202e\x7f"
    assert attempt(client, user.email, TEST_PASSWORD, user_agent=sent).status_code == 302
    cleaned = "Firefox/140.0 (X11; Linux)"
    assert UserSession.objects.get(user=user).user_agent == cleaned
    assert AuditEvent.objects.get(action="login").user_agent == cleaned


def test_a_long_user_agent_is_cut_to_what_the_columns_hold():
    user = make_customer()
    assert attempt(Client(), user.email, TEST_PASSWORD, user_agent="A" * 5000).status_code == 302
    assert len(UserSession.objects.get(user=user).user_agent) == 300


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("Mozilla/5.0 (X11)", "Mozilla/5.0 (X11)"), ("a\x00b\tc\nd", "abcd"), ("  é\u200b ", "é"), ("", "")],
)
def test_printable_keeps_visible_text_only(sent, kept):
    assert printable(sent, 300) == kept


def test_a_failing_audit_receiver_does_not_spare_a_guess_from_the_lockout(monkeypatch, settings):
    settings.AXES_FAILURE_LIMIT = 5
    user = make_customer()
    client = Client(raise_request_exception=False)

    def broken_audit(*args, **kwargs):
        raise RuntimeError("the audit trail is unavailable")

    with monkeypatch.context() as patched:
        patched.setattr("audit.signals.record", broken_audit)
        statuses = [attempt(client, user.email, "guess").status_code for _ in range(5)]
    # Loud (an error, never a silently unaudited failure), and the last one is answered with the lockout.
    assert statuses == [500, 500, 500, 500, 429]
    assert failures_counted(user.email) == 5
    assert attempt(client, user.email, TEST_PASSWORD).status_code == 429


def test_django_axes_is_configured_to_count_a_failure_before_it_is_audited():
    assert check_lockout_counted_before_audit(None) == []
