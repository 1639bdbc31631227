"""Account security flows: security notices (password changed, two-factor off), password reset
(enumeration, single use, expiry, rate limit), password history, sessions, sign-out, `next` redirects and
the address change."""

import getpass
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import services, tasks
from accounts.models import EmailChangeRequest, User, UserSession
from tests.factories import TEST_PASSWORD, make_administrator, make_customer

pytestmark = pytest.mark.django_db

PROFILE = reverse("accounts:profile")
LOGIN = reverse("accounts:login")
RESET = reverse("accounts:password_reset")
NEW_PASSWORD = "a-brand-new-passphrase-91"
OTHER_PASSWORD = "yet-another-passphrase-57"


def change_password(client: Client, old: str = TEST_PASSWORD, new: str = NEW_PASSWORD):
    return client.post(
        PROFILE,
        {"change_password": "1", "old_password": old, "new_password1": new, "new_password2": new},
    )


def reset_link(message) -> str:
    match = re.search(r"https?://[^/\s]+(/\S*reset/\S+/)", message.body)
    assert match, message.body
    return match.group(1)


def follow_reset(client: Client, link: str, password: str):
    """Open the mailed link (Django moves the token into the session), then post the new password."""
    response = client.get(link)
    if response.status_code != 302:
        return response
    return client.post(response["Location"], {"new_password1": password, "new_password2": password})


def notices(kind_subject: str = "password") -> list:
    return [m for m in mail.outbox if kind_subject in m.subject.lower() and "changed" in m.subject.lower()]


# --- Security notices: when, to whom, in which words, and not for a first password ------------------


def test_security_notice_names_the_time_in_the_accounts_time_zone(
    client, immediate_tasks, django_capture_on_commit_callbacks, time_machine
):
    """Zendesk's and Google's "your password was changed" mails say WHEN it happened, in the reader's
    time: the owner compares it with what they did ("that was me at 21:00") and, if not, knows how long
    someone else has had the account. templates/accounts/security_notice.txt names no time at all, so a
    notice read the next morning (or delayed by the mail retries, up to hours) cannot be placed. The
    account's zone (User.timezone, set on the profile) is known: 12:00 UTC is 21:00 in Tokyo."""
    time_machine.move_to(datetime(2031, 3, 14, 12, 0, tzinfo=UTC), tick=False)
    user = make_customer(name="Kenji Sato", timezone="Asia/Tokyo", email_verified_at=timezone.now())
    client.force_login(user)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert change_password(client).status_code == 302
    [notice] = notices()
    body = notice.body
    assert re.search(r"\b21[:.]00\b|\b9[:.]00\s*(PM|p\.m\.)", body, re.I), (
        f"the notice does not say when the password changed (21:00 in Asia/Tokyo):\n{body}"
    )


def test_security_notice_greets_an_unconfirmed_address_without_the_accounts_name(
    immediate_tasks, django_capture_on_commit_callbacks
):
    """The project's own rule (User.mail_greeting): a mail to an address not yet shown to be read greets
    "Hello," and not by name, because whoever signed up with someone else's address chose the name (it
    can be a link or a lure) and the site's mail would put it before the real owner. The reset mail and
    the address-change notice follow the rule; security_notice.txt greets with user.get_short_name
    regardless (templates/accounts/security_notice.txt line 1), so a stranger who signed up with your
    address and changes "their" password makes the site mail you "Hello evil.example/refund,"."""
    user = make_customer(name="evil.example/refund Smith", email_verified_at=None)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.user_password_change(user, password=NEW_PASSWORD, actor=user, keep_session_key=None)
    [notice] = notices()
    assert "evil.example" not in notice.body, notice.body
    assert notice.body.startswith("Hello,"), notice.body


def test_security_notice_names_the_reset_link_as_the_sign_in_page_shows_it(
    client, immediate_tasks, django_capture_on_commit_callbacks
):
    """The notice's one instruction for someone whose account was taken over is to find a link on the
    sign-in page by its words: it says "Forgot your password?", while the sign-in page's link reads
    "Forgotten your password?" (templates/accounts/login.html line 14 vs security_notice.txt line 5).
    A frightened reader looking for the words they were given does not find them; the notice must name
    the link as it is shown (or simply give the reset page's address)."""
    user = make_customer(email_verified_at=timezone.now())
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.user_password_change(user, password=NEW_PASSWORD, actor=user, keep_session_key=None)
    [notice] = notices()
    login_page = Client().get(LOGIN).content.decode()
    quoted = re.findall(r'"([^"]*password\?)"', notice.body.replace("\n", " "))
    assert quoted, notice.body
    for words in quoted:
        assert words in login_page, f"the notice names {words!r}, which the sign-in page does not show"


# --- Security notices: after the commit, to the current address, without secrets ----------------------


def test_notice_not_sent_when_the_change_rolls_back(immediate_tasks, django_capture_on_commit_callbacks):
    user = make_customer(email_verified_at=timezone.now())
    mail.outbox.clear()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.user_password_change(user, password=NEW_PASSWORD, actor=user, keep_session_key=None)
        raise RuntimeError("rolled back")
    assert callbacks == [] and mail.outbox == []


def test_notice_goes_to_the_current_address_not_a_pending_new_one(
    client, immediate_tasks, django_capture_on_commit_callbacks
):
    user = make_customer(email="owner@example.org", email_verified_at=timezone.now())
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            PROFILE, {"change_email": "1", "email": "new-box@example.net", "password": TEST_PASSWORD}
        )
    assert response.status_code == 302
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert change_password(client).status_code == 302
    assert [m.to for m in mail.outbox] == [["owner@example.org"]]
    body = mail.outbox[0].body
    assert NEW_PASSWORD not in body and TEST_PASSWORD not in body
    for key in UserSession.objects.values_list("session_key", flat=True):
        assert key not in body
    # The pending change was asked with the old password: its link is spent.
    change = EmailChangeRequest.objects.get(user=user)
    assert not services.email_change_holds(change)


def test_notice_by_reset_contains_no_token_and_old_link_is_single_use(
    client, immediate_tasks, django_capture_on_commit_callbacks
):
    user = make_customer(email="reset-me@example.org", email_verified_at=timezone.now())
    mail.outbox.clear()
    assert client.post(RESET, {"email": "reset-me@example.org"}).status_code == 302
    [reset_mail] = mail.outbox
    link = reset_link(reset_mail)
    token = link.rstrip("/").rsplit("/", 1)[1]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = follow_reset(client, link, NEW_PASSWORD)
    assert response.status_code == 302, response.content.decode()[:800]
    assert User.objects.get(pk=user.pk).check_password(NEW_PASSWORD)
    [notice] = notices()
    assert (
        notice.to == ["reset-me@example.org"] and token not in notice.body and NEW_PASSWORD not in notice.body
    )
    # Used once: the same link no longer sets a password.
    again = follow_reset(Client(), link, OTHER_PASSWORD)
    assert again.status_code in (200, 422)
    assert User.objects.get(pk=user.pk).check_password(NEW_PASSWORD)


def test_admin_change_of_a_suspended_accounts_password_still_notifies(
    client, immediate_tasks, django_capture_on_commit_callbacks
):
    user = make_customer(email="held@example.org", email_verified_at=timezone.now())
    services.user_suspend(user, until=None, reason="abuse", actor=None)
    client.force_login(make_administrator(is_superuser=True))
    mail.outbox.clear()
    url = reverse("admin:auth_user_password_change", args=[user.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
        )
    assert response.status_code == 302, response.content.decode()[:800]
    assert [m.to for m in notices()] == [["held@example.org"]]


def test_changepassword_command_notifies(monkeypatch, immediate_tasks, django_capture_on_commit_callbacks):
    user = make_customer(email="cli@example.org", email_verified_at=timezone.now())
    monkeypatch.setattr(getpass, "getpass", lambda prompt="Password: ", stream=None: NEW_PASSWORD)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("changepassword", "CLI@example.org", verbosity=0)
    assert User.objects.get(pk=user.pk).check_password(NEW_PASSWORD)
    assert [m.to for m in notices()] == [["cli@example.org"]]


def test_notice_task_for_a_deleted_account_sends_nothing():
    assert tasks.send_security_notice.call(987654321, "password_changed") is False
    assert mail.outbox == []


# --- Password reset ------------------------------------------------------------------------------------


def test_reset_answers_alike_for_known_and_unknown_addresses(client, immediate_tasks):
    make_customer(email="known@example.org")
    known = client.post(RESET, {"email": "known@example.org"}, follow=True)
    unknown = Client().post(RESET, {"email": "nobody-here@example.org"}, follow=True)
    assert known.status_code == unknown.status_code == 200
    assert [r[1] for r in known.redirect_chain] == [r[1] for r in unknown.redirect_chain] == [302]

    def shown(response, address):
        text = re.sub(
            r'"X-CSRFToken": "[^"]*"|name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode()
        )
        return text.replace(address, "")

    assert shown(known, "known") == shown(unknown, "nobody-here")


def test_reset_rate_limit_is_a_friendly_429_alike_for_unknown_addresses(client):
    make_customer(email="known@example.org")
    for address in ("known@example.org", "nobody-here@example.org"):
        codes = [client.post(RESET, {"email": address}).status_code for _ in range(4)]
        assert codes == [302, 302, 302, 429], (address, codes)
    response = client.post(RESET, {"email": "nobody-here@example.org"})
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "minute" in response.content.decode()


@pytest.mark.parametrize("spoil", ["password", "email", "expiry", "sign_in"])
def test_reset_link_dies_after_a_change_or_expiry(client, immediate_tasks, settings, time_machine, spoil):
    user = make_customer(email="owner@example.org", email_verified_at=timezone.now())
    mail.outbox.clear()
    assert client.post(RESET, {"email": user.email}).status_code == 302
    link = reset_link(mail.outbox[0])
    if spoil == "password":
        services.user_password_change(user, password=f"x-{NEW_PASSWORD}", actor=user, keep_session_key=None)
    elif spoil == "email":
        User.objects.filter(pk=user.pk).update(email="moved@example.org")
    elif spoil == "sign_in":
        assert Client().post(LOGIN, {"username": user.email, "password": TEST_PASSWORD}).status_code == 302
    else:
        time_machine.move_to(timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60))
    stored = User.objects.get(pk=user.pk).password
    response = follow_reset(Client(), link, OTHER_PASSWORD)
    assert response.status_code in (200, 422), response.status_code
    assert "not valid" in response.content.decode() or "expired" in response.content.decode()
    assert User.objects.get(pk=user.pk).password == stored


def test_password_history_holds_in_reset_and_admin(client, immediate_tasks):
    user = make_customer(email="owner@example.org", email_verified_at=timezone.now())
    services.user_password_change(user, password=NEW_PASSWORD, actor=user, keep_session_key=None)
    # Reset to the previous password (TEST_PASSWORD, in the history): refused.
    client.post(RESET, {"email": user.email})
    link = reset_link(mail.outbox[-1])
    response = follow_reset(client, link, TEST_PASSWORD)
    assert response.status_code == 422
    assert "used this password recently" in response.content.decode()
    # The admin's form too.
    admin = Client()
    admin.force_login(make_administrator(is_superuser=True))
    url = reverse("admin:auth_user_password_change", args=[user.pk])
    response = admin.post(
        url, {"password1": TEST_PASSWORD, "password2": TEST_PASSWORD, "usable_password": "true"}
    )
    assert response.status_code == 422
    assert User.objects.get(pk=user.pk).check_password(NEW_PASSWORD)


# --- Sessions, sign-out, redirects ---------------------------------------------------------------------


def test_password_change_keeps_this_session_and_ends_the_others(client):
    user = make_customer()
    other = Client()
    other.force_login(user)
    client.force_login(user)
    assert change_password(client).status_code == 302
    assert client.get(PROFILE).status_code == 200
    assert other.get(PROFILE).status_code == 302


def test_sessions_list_and_sign_out_of_another_users_session(client):
    user = make_customer()
    stranger = make_customer()
    stranger_client = Client(HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0")
    stranger_client.force_login(stranger)
    other = Client(HTTP_USER_AGENT="Mozilla/5.0 (Windows NT 10.0) Chrome/128.0 Safari/537.36")
    other.get(LOGIN)
    other.post(LOGIN, {"username": user.email, "password": TEST_PASSWORD})
    client.force_login(user)
    page = client.get(PROFILE).content.decode()
    assert "Chrome on Windows" in page and "127.0.0.1" in page
    stranger_row = UserSession.objects.get(user=stranger)
    response = client.post(reverse("accounts:sessions_sign_out"), {"session": stranger_row.public_id})
    assert response.status_code in (302, 404)
    assert UserSession.objects.filter(pk=stranger_row.pk).exists()
    # "Sign out the others" really deletes them, keeps this one.
    response = client.post(reverse("accounts:sessions_sign_out"))
    assert response.status_code == 302
    assert UserSession.objects.filter(user=user).count() == 1
    assert other.get(PROFILE).status_code == 302 and client.get(PROFILE).status_code == 200
    assert stranger_client.get(PROFILE).status_code == 200


def test_logout_by_get_is_refused(client):
    user = make_customer()
    client.force_login(user)
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert client.get(PROFILE).status_code == 200


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "/\\evil.example/",
        "\\\\evil.example",
        "https:evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "/%2F%2Fevil.example",
        " //evil.example",
        "http:/\\/evil.example",
        "\t//evil.example",
    ],
)
def test_login_next_never_leaves_the_site(client, target):
    user = make_customer()
    response = client.post(LOGIN + "?next=" + target, {"username": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location[:3], location
    assert "evil" not in location.split("?")[0].lstrip("/").split("/")[0]


def test_email_change_to_an_address_in_use_is_refused(client, django_capture_on_commit_callbacks):
    user = make_customer()
    taken = make_customer(email="taken@example.org")
    client.force_login(user)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            PROFILE, {"change_email": "1", "email": "TAKEN@example.org", "password": TEST_PASSWORD}
        )
    assert response.status_code == 422
    assert "Another account uses this e-mail address." in response.content.decode()
    assert not EmailChangeRequest.objects.filter(user=user).exists() and mail.outbox == []
    assert User.objects.get(pk=taken.pk).email == "taken@example.org"


def test_first_password_of_a_pending_account_is_not_reported_as_a_changed_password(
    client, immediate_tasks, django_capture_on_commit_callbacks
):
    """A visitor who wrote in without an account (a pending account, no password) uses "Forgotten your
    password?" to choose their FIRST password, as the sign-up page tells them to (services.EMAIL_PENDING).
    services.user_password_reset calls user_password_changed, which mails "The password of your account
    was changed ... If it was not [you], someone else may have access to your account" the moment they
    finish: an alarm about a change that was no change, right after their own first sign-up step.
    Zendesk/Freshdesk send a welcome (or nothing) when a password is first set; the "changed" notice is
    for an account that had a password. Expected: no "password was changed" notice for an account that
    had no usable password before."""
    visitor = make_customer(email="visitor@example.org", status=User.Status.PENDING, password=None)
    assert not visitor.has_usable_password()
    client.post(RESET, {"email": "visitor@example.org"})
    link = reset_link(mail.outbox[-1])
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = follow_reset(client, link, NEW_PASSWORD)
    assert response.status_code == 302, response.content.decode()[:800]
    assert User.objects.get(pk=visitor.pk).status == User.Status.ACTIVE
    alarming = [m for m in mail.outbox if "someone else may have access" in " ".join(m.body.split())]
    assert alarming == [], alarming[0].subject
