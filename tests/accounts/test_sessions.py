"""Sessions: listed with device, IP and last activity; the others (or one) can be signed out; password
changes and resets end them; administrators sign a user out everywhere; cookies are __Host- in production."""

from datetime import timedelta

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import UserSession, describe_user_agent
from audit.models import AuditEvent
from tests.factories import TEST_PASSWORD, make_administrator, make_customer
from tests.helpdesk.test_settings import settings_value

pytestmark = pytest.mark.django_db

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/18.0 Mobile/15E148 Safari/604.1")  # fmt: skip


def signed_in(user, user_agent: str, ip: str = "127.0.0.1", password: str = TEST_PASSWORD) -> Client:
    client = Client(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=ip)
    response = client.post(reverse("accounts:login"), {"username": user.email, "password": password})
    assert response.status_code == 302
    return client


def is_signed_in(client: Client) -> bool:
    return client.get(reverse("accounts:profile")).status_code == 200


def test_signing_in_records_the_session_with_device_and_ip():
    user = make_customer()
    signed_in(user, FIREFOX, ip="203.0.113.9")
    session = UserSession.objects.get(user=user)
    assert (session.ip, session.device) == ("203.0.113.9", "Firefox on Linux")


def test_profile_lists_sessions_and_marks_this_device():
    user = make_customer()
    laptop, phone = signed_in(user, FIREFOX), signed_in(user, IPHONE, ip="198.51.100.7")
    page = laptop.get(reverse("accounts:profile")).content.decode()
    assert "Firefox on Linux" in page and "Safari on iPhone" in page and "198.51.100.7" in page
    assert page.count("This device") == 1
    # Keys are credentials: the page names sessions by a digest only.
    for session in UserSession.objects.filter(user=user):
        assert session.session_key not in page.replace(laptop.cookies["sessionid"].value, "")
    assert is_signed_in(phone)


def test_sign_out_all_other_sessions_keeps_this_one():
    user = make_customer()
    laptop, phone, tablet = signed_in(user, FIREFOX), signed_in(user, IPHONE), signed_in(user, IPHONE)
    response = laptop.post(reverse("accounts:sessions_sign_out"))
    assert response.status_code == 302
    assert is_signed_in(laptop)
    assert not is_signed_in(phone) and not is_signed_in(tablet)
    event = AuditEvent.objects.get(action="sign_out")
    assert (event.actor, event.changes) == (user, {"sessions": [2, 0]})


def test_sign_out_one_named_session():
    user = make_customer()
    laptop, phone, tablet = signed_in(user, FIREFOX), signed_in(user, IPHONE), signed_in(user, FIREFOX)
    target = UserSession.objects.get(session_key=phone.cookies["sessionid"].value)
    laptop.post(reverse("accounts:sessions_sign_out"), {"session": target.public_id})
    assert not is_signed_in(phone)
    assert is_signed_in(laptop) and is_signed_in(tablet)


def test_nobody_signs_out_another_persons_session():
    victim, attacker = make_customer(), make_customer()
    victim_client = signed_in(victim, FIREFOX)
    attacker_client = signed_in(attacker, IPHONE)
    victim_session = UserSession.objects.get(user=victim)
    response = attacker_client.post(
        reverse("accounts:sessions_sign_out"), {"session": victim_session.public_id}, follow=True
    )
    assert is_signed_in(victim_client)
    # Read as one of theirs that ended already (a second click): nothing said of anyone else's.
    assert "That session was signed out already." in response.content.decode()


def test_signing_out_a_session_twice_says_it_ended_already():
    user = make_customer()
    laptop, phone = signed_in(user, FIREFOX), signed_in(user, IPHONE)
    other = UserSession.objects.get(user=user, user_agent__icontains="iPhone")
    url = reverse("accounts:sessions_sign_out")
    assert (
        "Signed out that session."
        in laptop.post(url, {"session": other.public_id}, follow=True).content.decode()
    )
    again = laptop.post(url, {"session": other.public_id}, follow=True).content.decode()
    assert "That session was signed out already." in again
    assert not is_signed_in(phone) and is_signed_in(laptop)


def test_sign_out_is_post_only_and_needs_sign_in(client):
    assert client.post(reverse("accounts:sessions_sign_out")).status_code == 302  # to the sign-in page
    user = make_customer()
    laptop = signed_in(user, FIREFOX)
    assert laptop.get(reverse("accounts:sessions_sign_out")).status_code == 405


def test_password_change_signs_out_the_other_sessions():
    user = make_customer()
    laptop, phone = signed_in(user, FIREFOX), signed_in(user, IPHONE)
    response = laptop.post(reverse("accounts:profile"), {
        "change_password": "1", "old_password": TEST_PASSWORD,
        "new_password1": "a-much-better-passphrase-42", "new_password2": "a-much-better-passphrase-42",
    })  # fmt: skip
    assert response.status_code == 302
    assert is_signed_in(laptop)
    assert not is_signed_in(phone)
    assert UserSession.objects.filter(user=user).count() == 1
    assert AuditEvent.objects.filter(action="password_change", actor=user).exists()


def test_password_reset_signs_out_every_session(client):
    user = make_customer()
    laptop = signed_in(user, FIREFOX)
    user.refresh_from_db()  # the reset token covers last_login, which signing in just changed
    uid, token = urlsafe_base64_encode(force_bytes(user.pk)), default_token_generator.make_token(user)
    url = reverse("accounts:password_reset_confirm", kwargs={"uidb64": uid, "token": token})
    set_password_url = client.get(url)["Location"]
    new = "another-strong-passphrase-7"
    response = client.post(set_password_url, {"new_password1": new, "new_password2": new})
    assert response.status_code == 302
    assert not is_signed_in(laptop)
    assert not UserSession.objects.filter(user=user).exists()


def test_administrator_signs_a_user_out_everywhere(admin_client_with_session):
    admin, admin_client = admin_client_with_session
    user = make_customer()
    laptop, phone = signed_in(user, FIREFOX), signed_in(user, IPHONE)
    response = admin_client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "sign_out_everywhere", "_selected_action": [user.pk, admin.pk]},
    )
    assert response.status_code == 302
    assert not is_signed_in(laptop) and not is_signed_in(phone)
    assert is_signed_in(admin_client)  # never the administrator's own session
    assert AuditEvent.objects.filter(action="sign_out", actor=admin, object_id=str(user.pk)).exists()


@pytest.fixture
def admin_client_with_session():
    admin = make_administrator()
    return admin, signed_in(admin, FIREFOX)


def test_last_seen_is_written_at_most_every_few_minutes(time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    user = make_customer()
    laptop = signed_in(user, FIREFOX)
    started = UserSession.objects.get(user=user).last_seen
    time_machine.shift(timedelta(minutes=2))
    laptop.get(reverse("accounts:profile"))
    assert UserSession.objects.get(user=user).last_seen == started
    time_machine.shift(timedelta(minutes=4))
    laptop.get(reverse("accounts:profile"))
    assert UserSession.objects.get(user=user).last_seen == started + timedelta(minutes=6)


@pytest.mark.parametrize(
    ("user_agent", "device"),
    [(FIREFOX, "Firefox on Linux"), (IPHONE, "Safari on iPhone"), ("curl/8.0", "Unknown device"),
     ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 "
      "Safari/537.36 Edg/130.0", "Edge on Windows")],
)  # fmt: skip
def test_device_names(user_agent, device):
    assert describe_user_agent(user_agent) == device


def test_cookies_use_the_host_prefix_when_secure():
    assert settings_value("SESSION_COOKIE_NAME") == "sessionid"
    assert settings_value("SESSION_COOKIE_NAME", SESSION_COOKIE_SECURE="1") == "__Host-sessionid"
    assert settings_value("CSRF_COOKIE_NAME", CSRF_COOKIE_SECURE="1") == "__Host-csrftoken"


def test_administrator_setting_a_password_in_the_admin_is_audited_and_ends_the_users_sessions(
    admin_client_with_session,
):
    admin, admin_client = admin_client_with_session
    user = make_customer()
    laptop = signed_in(user, FIREFOX)
    new = "an-admin-chosen-passphrase-5"
    response = admin_client.post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {"password1": new, "password2": new, "set_usable_password": "true"},
    )
    assert response.status_code == 302
    assert not is_signed_in(laptop)
    assert not UserSession.objects.filter(user=user).exists()
    event = AuditEvent.objects.get(action="password_change")
    assert (event.actor, event.object_id) == (admin, str(user.pk))
    assert is_signed_in(admin_client)  # the administrator's own session is not touched


def test_password_reset_is_audited_as_a_password_change_and_ends_the_other_sessions(client):
    user = make_customer()
    laptop, phone = signed_in(user, FIREFOX), signed_in(user, IPHONE)
    user.refresh_from_db()  # the reset token covers last_login, which signing in just changed
    uid, token = urlsafe_base64_encode(force_bytes(user.pk)), default_token_generator.make_token(user)
    set_password_url = client.get(
        reverse("accounts:password_reset_confirm", kwargs={"uidb64": uid, "token": token})
    )["Location"]
    new = "a-reset-passphrase-for-sure-3"
    assert client.post(set_password_url, {"new_password1": new, "new_password2": new}).status_code == 302
    event = AuditEvent.objects.get(action="password_change", object_id=str(user.pk))
    assert (event.actor, event.category) == (user, AuditEvent.Category.SECURITY)
    assert not is_signed_in(laptop) and not is_signed_in(phone)
    assert not UserSession.objects.filter(user=user).exists()


def test_the_admins_own_password_page_sends_to_the_profile_and_changes_nothing(admin_client_with_session):
    admin, admin_client = admin_client_with_session
    url = reverse("admin:password_change")
    new = "a-password-past-the-service-1"
    form = {"old_password": TEST_PASSWORD, "new_password1": new, "new_password2": new}
    for response in (admin_client.get(url), admin_client.post(url, form)):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:profile"))
    admin.refresh_from_db()
    assert admin.check_password(TEST_PASSWORD)
    assert not AuditEvent.objects.filter(action="password_change").exists()


def test_an_administrator_changing_their_password_from_the_admin_link_is_audited_and_ends_other_sessions(
    admin_client_with_session,
):
    admin, admin_client = admin_client_with_session
    other_device = signed_in(admin, IPHONE)
    profile = admin_client.get(reverse("admin:password_change"), follow=True)
    assert profile.redirect_chain[-1][0].startswith(reverse("accounts:profile"))
    new = "a-new-admin-passphrase-77"
    response = admin_client.post(reverse("accounts:profile"), {
        "change_password": "1", "old_password": TEST_PASSWORD, "new_password1": new, "new_password2": new,
    })  # fmt: skip
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="password_change", actor=admin, object_id=str(admin.pk)).exists()
    assert is_signed_in(admin_client) and not is_signed_in(other_device)
