"""Every link the product mails (password reset, address confirmation, address change,
invitations, submission receipts) and what happens when it is opened."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client, TestCase
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts import services
from accounts.models import Invitation, Organization, User
from accounts.tokens import email_verification_token
from tests.accounts.test_sessions import FIREFOX, signed_in
from tests.factories import TEST_PASSWORD, make_administrator, make_customer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("immediate_tasks")]

RESET = reverse("accounts:password_reset")
PROFILE = reverse("accounts:profile")
ANY_LINK = re.compile(r"(https?)://([^/\s]+)(/\S*)")
NEW_PASSWORD = "a-fresh-long-passphrase-42"


def links_in(message) -> list[tuple[str, str, str]]:
    return ANY_LINK.findall(message.body)


def reset_link(email: str, client: Client | None = None, **headers) -> str:
    """Ask for a reset of `email` and return the path of the mailed link."""
    mail.outbox.clear()
    response = (client or Client()).post(RESET, {"email": email}, **headers)
    assert response.status_code == 302, response.status_code
    (message,) = [message for message in mail.outbox if message.to == [email]]
    ((_scheme, _host, path),) = [link for link in links_in(message) if "/accounts/reset/" in link[2]]
    return path


def set_password_via(client: Client, path: str, password: str = NEW_PASSWORD):
    page = client.get(path, follow=True)
    form_url = page.redirect_chain[-1][0] if page.redirect_chain else path
    return client.post(form_url, {"new_password1": password, "new_password2": password})


# --- where the links point ---------------------------------------------------------------------------


def test_a_forged_host_is_refused_and_x_forwarded_host_is_ignored():
    make_customer(email="victim@example.org")
    forged = Client().post(RESET, {"email": "victim@example.org"}, HTTP_HOST="evil.example.net")
    assert forged.status_code == 400
    assert mail.outbox == []
    Client().post(RESET, {"email": "victim@example.org"}, HTTP_X_FORWARDED_HOST="evil.example.net")
    (message,) = mail.outbox
    assert "evil.example.net" not in message.body
    assert [host for _s, host, _p in links_in(message)] == ["testserver"]


def test_site_url_wins_over_the_request_host_for_reset_and_change_links(settings):
    settings.SITE_URL = "https://help.example.com"
    settings.ALLOWED_HOSTS = ["testserver", "other.example.com"]
    user = make_customer(email="victim@example.org")
    Client().post(RESET, {"email": user.email}, HTTP_HOST="other.example.com")
    (message,) = mail.outbox
    assert {(scheme, host) for scheme, host, _p in links_in(message)} == {("https", "help.example.com")}
    mail.outbox.clear()
    client = signed_in(user, FIREFOX)
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(
            PROFILE,
            {"change_email": "1", "email": "new@example.org", "password": TEST_PASSWORD},
            HTTP_HOST="other.example.com",
        )
    (message,) = mail.outbox
    assert {(scheme, host) for scheme, host, _p in links_in(message)} == {("https", "help.example.com")}


# --- password reset ----------------------------------------------------------------------------------


def test_the_reset_link_redirects_to_a_token_free_address_and_pages_send_no_referrer_off_site():
    make_customer(email="someone@example.org")
    path = reset_link("someone@example.org")
    client = Client()
    first = client.get(path)
    assert first.status_code == 302 and first.url.endswith("/set-password/")
    token = path.rstrip("/").rsplit("/", 1)[1]
    assert token not in first.url
    form = client.get(first.url)
    assert form.status_code == 200
    assert form["Referrer-Policy"] == "same-origin"
    assert "no-store" in form["Cache-Control"]


def test_a_prefetched_reset_link_still_works_and_works_once():
    user = make_customer(email="someone@example.org")
    path = reset_link(user.email)
    Client().get(path, follow=True)  # a mail scanner
    Client().head(path)
    assert set_password_via(Client(), path).status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    again = Client().get(path, follow=True)
    assert "already been used or has expired" in again.content.decode()
    assert set_password_via(Client(), path, "another-long-passphrase-9").status_code != 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_a_reset_link_dies_with_a_password_change_a_new_address_and_a_suspension():
    user = make_customer(email="someone@example.org")
    path = reset_link(user.email)
    client = signed_in(user, FIREFOX)
    client.post(
        PROFILE,
        {
            "change_password": "1",
            "old_password": TEST_PASSWORD,
            "new_password1": "changed-another-way-77",
            "new_password2": "changed-another-way-77",
        },
    )
    assert "already been used" in Client().get(path, follow=True).content.decode()

    other = make_customer(email="second@example.org")
    path = reset_link(other.email)
    services.user_suspend(other, until=None, reason="", actor=make_administrator())
    assert "already been used" in Client().get(path, follow=True).content.decode()
    assert set_password_via(Client(), path).status_code != 302


def test_the_reset_mail_is_plain_text_with_the_whole_link_on_one_line():
    user = make_customer(email="someone@example.org", name='<a href="https://evil.example">Click</a>')
    path = reset_link(user.email)
    (message,) = mail.outbox
    assert getattr(message, "alternatives", []) == []
    assert f"http://testserver{path}" in [line.strip() for line in message.body.splitlines()]
    assert "<a href" not in message.body  # the unverified address is not greeted by name


def test_a_reset_link_opened_while_signed_in_to_another_account_says_whose_password_it_sets():
    """Expected: someone signed in as B who opens the reset link of account A is told the link is for A
    (A's address on the page, or a warning that another account is signed in), as the confirmation and
    address-change links do ("you are signed in to another account"). Actually: the page just says
    "Choose a new password" with no account named; a person with two accounts (work and personal) sets
    what they believe is B's password, A's is changed instead, B stays signed in and the "Sign in" link
    of the complete page bounces them home as B. They cannot tell which account they changed."""
    owner = make_customer(email="work@example.org")
    other = make_customer(email="home@example.org")
    path = reset_link(owner.email)
    client = signed_in(other, FIREFOX)
    page = client.get(path, follow=True)
    shown = page.content.decode()
    assert page.status_code == 200 and "Set password" in shown
    assert owner.email in shown or "another account" in shown, "the page names no account"


# --- invitations -------------------------------------------------------------------------------------


def mail_invitation(**fields) -> tuple[Invitation, str]:
    organization = Organization.objects.create(name="Acme")
    invitation = Invitation.objects.create(organization=organization, email="new@example.org", **fields)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.invitation_mail(invitation, actor=None, domain="testserver", use_https=False)
    (message,) = mail.outbox
    (path,) = [path for _s, _h, path in links_in(message) if "code=" in path]
    return invitation, path


def test_the_invitation_link_opens_sign_up_filled_in_and_a_scanner_spends_nothing():
    invitation, path = mail_invitation(code="ACME-JOIN-1")
    page = Client().get(path)
    assert page.status_code == 200 and "ACME-JOIN-1" in page.content.decode()
    assert "no-store" in page["Cache-Control"] and page["Referrer-Policy"] == "same-origin"
    invitation.refresh_from_db()
    assert invitation.uses == 0


def test_an_expired_invitation_link_says_so_when_opened_not_after_the_form_is_filled(clock):
    """Expected: opening the mailed invitation link after the invitation expired tells the visitor at
    once that it has expired and what to do (ask whoever invited them for a new one), as the other
    mailed links do ("This link has expired or is not valid any more"). Actually: the sign-up form is
    shown, filled in and looking valid; only after typing a name and choosing a password does the
    visitor learn it expired, and the form is refused with 422. A user of Zendesk or Zammad expects an
    expired invitation link to say so on its page."""
    _invitation, path = mail_invitation(code="ACME-JOIN-2", expires_at=timezone.now() + timedelta(days=1))
    clock.shift(timedelta(days=2))
    page = Client().get(path)
    shown = page.content.decode()
    assert page.status_code != 500
    assert services.INVITATION_EXPIRED in shown or "expired" in shown.lower(), (
        "the page opened by an expired invitation link does not say it expired"
    )


# --- expired links -----------------------------------------------------------------------------------


def verification_path(user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = email_verification_token.make_token(user)
    return reverse("accounts:email_verify", kwargs={"uidb64": uid, "token": token})


def change_path(user: User, client: Client) -> str:
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(PROFILE, {"change_email": "1", "email": "moved@example.org", "password": TEST_PASSWORD})
    (message,) = [message for message in mail.outbox if message.to == ["moved@example.org"]]
    ((_s, _h, path),) = links_in(message)
    return path


def test_expired_confirmation_and_change_links_say_so_and_offer_the_way_forward(clock, settings):
    user = make_customer(email="someone@example.org")
    client = signed_in(user, FIREFOX)
    verify, change = verification_path(user), change_path(user, client)
    clock.shift(timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60))
    client = signed_in(user, FIREFOX)  # the session may be past its age
    for path in (verify, change):
        page = client.get(path)
        assert page.status_code < 500
        assert "expired or is not valid" in page.content.decode()
        assert PROFILE in page.content.decode()
        assert client.post(path).status_code == 422
    user.refresh_from_db()
    assert user.email == "someone@example.org" and user.email_verified_at is None


def test_an_expired_reset_link_says_so_and_offers_a_new_one(clock, settings):
    """Opened after PASSWORD_RESET_TIMEOUT: the page says the link expired and links to a new one (with
    200, as the other mailed-link pages answer a dead link; a POST to it is refused)."""
    user = make_customer(email="someone@example.org")
    path = reset_link(user.email)
    clock.shift(timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60))
    page = Client().get(path, follow=True)
    assert "already been used or has expired" in page.content.decode()
    assert RESET in page.content.decode()


def test_the_verification_link_opened_by_a_scanner_or_another_account_confirms_nothing():
    user = make_customer(email="someone@example.org")
    path = verification_path(user)
    assert Client().get(path).status_code == 200
    stranger = signed_in(make_customer(email="stranger@example.org"), FIREFOX)
    page = stranger.get(path)
    assert "you are signed in to another account" in page.content.decode()
    assert stranger.post(path).status_code == 403
    user.refresh_from_db()
    assert user.email_verified_at is None
    owner = signed_in(user, FIREFOX)
    assert owner.post(path).status_code == 302
    user.refresh_from_db()
    assert user.email_verified_at is not None
    assert owner.post(path).status_code == 200  # used twice: "confirmed already", no second event
