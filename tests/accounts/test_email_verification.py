"""An account's address counts as verified (email_verified_at) only where its owner has shown they read
mail sent to it: an invitation issued to that address, or a link mailed to it (the confirmation link
below, or a password reset: tests/accounts/test_password_reset.py). Open sign-up alone verifies nothing:
anybody can type somebody else's address, so it mails the address a link to confirm it."""

import re
import uuid
from urllib.parse import quote

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tasks_db.models import DBTaskResult

from accounts import services
from accounts.models import User
from accounts.tokens import email_verification_token
from audit.models import AuditEvent
from helpdesk.services import site_configuration_update
from tests.factories import TEST_PASSWORD, InvitationFactory, make_customer
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def signup(email: str, code: str = "", open_signup: bool = False):
    return services.user_signup(
        email=email, name="New Person", password=TEST_PASSWORD, invitation_code=code,
        open_signup=open_signup, actor=None,
    )  # fmt: skip


def test_signing_up_with_an_invitation_issued_to_the_address_verifies_it():
    invitation = InvitationFactory(email="Invited@Example.org")
    user = signup("invited@example.org", invitation.code)
    assert user.email_verified_at is not None
    event = AuditEvent.objects.get(action="create", object_id=str(user.pk))
    assert event.changes["email_verified_at"][0] is None and event.changes["email_verified_at"][1]


def test_open_sign_up_leaves_the_address_unverified():
    assert signup("anyone@example.org", open_signup=True).email_verified_at is None


def test_a_shared_invitation_code_leaves_the_address_unverified():
    invitation = InvitationFactory(max_uses=10)  # for anybody who has the code, whatever their address
    assert signup("someone@example.org", invitation.code).email_verified_at is None


def test_verifying_twice_keeps_the_first_time_and_records_it_once():
    user = make_customer()
    services.user_email_verify(user, actor=user)
    first = user.email_verified_at
    services.user_email_verify(user, actor=user)
    user.refresh_from_db()
    assert user.email_verified_at == first
    assert AuditEvent.objects.filter(action="email_verified").count() == 1


# The mailed link: open sign-up sends it, the owner confirms with a button, the profile sends it again.

LINK = re.compile(r"http://testserver(/accounts/verify-email/\S+/)")
SUBMIT = reverse("tickets:portal_submit")


@pytest.fixture
def open_site():
    site_configuration_update(changes={"open_signup": True, "anonymous_submission": True}, actor=None)


def sign_up_through_the_page(client: Client, email: str = "newcomer@example.org") -> User:
    data = {"name": "New Person", "email": email, "password": "a-long-passphrase-9"}
    assert client.post(reverse("accounts:signup"), data).status_code == 302
    return User.objects.get(email=email)


def mailed_link(to: str) -> str:
    (message,) = [message for message in mail.outbox if message.to == [to]]
    return LINK.search(message.body).group(1)


def test_open_sign_up_mails_a_link_that_confirms_the_address_on_a_button_press(
    client, open_site, immediate_tasks
):
    user = sign_up_through_the_page(client)
    link = mailed_link("newcomer@example.org")
    page = client.get(link)
    assert page.status_code == 200 and b"Confirm my address" in page.content
    user.refresh_from_db()
    assert user.email_verified_at is None  # opening the link (a mail scanner does) changes nothing
    response = client.post(link)
    assert response.status_code == 302 and response["Location"] == reverse("accounts:profile")
    user.refresh_from_db()
    assert user.email_verified_at is not None
    event = AuditEvent.objects.get(action="email_verified", object_id=str(user.pk))
    assert event.actor_id == user.pk
    # Used: the page says so, and a second press records nothing more.
    assert b"confirmed already" in client.get(link).content
    client.post(link)
    assert AuditEvent.objects.filter(action="email_verified").count() == 1


def test_only_the_signed_in_owner_confirms_so_a_stranger_cannot_borrow_an_address(open_site, immediate_tasks):
    """Someone signs up with another person's address; that person, puzzled by the mail, presses the
    link. Confirmed, the stranger's account would collect that person's later requests."""
    user = sign_up_through_the_page(Client())
    link = mailed_link(user.email)
    visitor = Client()
    page = visitor.get(link).content.decode()
    assert "Sign in to confirm" in page and "Confirm my address" not in page
    assert f'href="{reverse("accounts:login")}?next={quote(link)}"' in page
    assert visitor.post(link).status_code == 403
    someone_else = Client()
    someone_else.force_login(make_customer())
    assert someone_else.post(link).status_code == 403
    user.refresh_from_db()
    assert user.email_verified_at is None
    owner = Client()
    owner.force_login(user)
    assert owner.post(link)["Location"] == reverse("accounts:profile")
    user.refresh_from_db()
    assert user.email_verified_at is not None


def test_the_sign_up_task_holds_no_link_and_an_invited_address_gets_no_mail(client, open_site):
    user = sign_up_through_the_page(client)
    task = DBTaskResult.objects.get(task_path="accounts.tasks.send_email_verification_mail")
    assert task.args_kwargs == {"args": [user.pk], "kwargs": {"domain": "testserver", "use_https": False}}
    invitation = InvitationFactory(email="invited@example.org")
    data = {"name": "Invited", "email": "invited@example.org", "password": "a-long-passphrase-9",
            "invitation_code": invitation.code}  # fmt: skip
    assert Client().post(reverse("accounts:signup"), data).status_code == 302
    assert DBTaskResult.objects.filter(task_path="accounts.tasks.send_email_verification_mail").count() == 1


def test_a_confirmed_address_files_later_anonymous_requests_under_the_account(open_site, immediate_tasks):
    user = sign_up_through_the_page(Client())
    data = {"name": "New", "email": user.email, "subject": "Printer", "description": "It jams",
            "submission_key": str(uuid.uuid4())}  # fmt: skip
    refused = Client().post(SUBMIT, data)
    assert refused.status_code == 422 and not Ticket.objects.exists()  # not yet: anyone could have signed up
    owner = Client()
    owner.force_login(user)
    owner.post(mailed_link(user.email))
    assert Client().post(SUBMIT, {**data, "submission_key": str(uuid.uuid4())}).status_code == 302
    assert Ticket.objects.get().requester == user


@pytest.mark.parametrize(
    "changes",
    [{"email": "changed@example.org"}, {"status": User.Status.SUSPENDED}],
    ids=["address-changed", "suspended"],
)
def test_a_link_is_refused_once_the_account_changed(open_site, immediate_tasks, changes):
    user = sign_up_through_the_page(Client())
    link = mailed_link(user.email)
    User.objects.filter(pk=user.pk).update(**changes)
    assert b"not valid any more" in Client().get(link).content
    response = Client().post(link)
    assert response.status_code == 422
    user.refresh_from_db()
    assert user.email_verified_at is None


def test_an_expired_or_made_up_link_is_refused(open_site, immediate_tasks, settings):
    user = sign_up_through_the_page(Client())
    link = mailed_link(user.email)
    other = make_customer()
    uid = urlsafe_base64_encode(force_bytes(other.pk))
    token = link.rstrip("/").rsplit("/", 1)[1]
    for made_up in [f"/accounts/verify-email/{uid}/{token}/", "/accounts/verify-email/bm90LWEtbnVtYmVy/x-y/"]:
        assert Client().post(made_up).status_code == 422
    settings.PASSWORD_RESET_TIMEOUT = -1  # every link is past its time
    assert Client().post(link).status_code == 422
    other.refresh_from_db()
    user.refresh_from_db()
    assert other.email_verified_at is None and user.email_verified_at is None


def test_the_profile_sends_a_new_link_to_an_unconfirmed_address_only(client, immediate_tasks):
    user = make_customer()
    client.force_login(user)
    profile = client.get(reverse("accounts:profile"))
    assert b"Not confirmed" in profile.content and b"Send the link again" in profile.content
    assert client.get(reverse("accounts:email_verification_send")).status_code == 405
    response = client.post(reverse("accounts:email_verification_send"))
    assert response.status_code == 302
    client.post(mailed_link(user.email))
    user.refresh_from_db()
    assert user.email_verified_at is not None
    mail.outbox.clear()
    client.post(reverse("accounts:email_verification_send"))
    assert mail.outbox == []
    assert b"Send the link again" not in client.get(reverse("accounts:profile")).content


def test_sending_links_again_is_rate_limited_per_account(client, settings, clock):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "email_verification": ("100/h", "2/h")}
    client.force_login(make_customer())
    answers = [client.post(reverse("accounts:email_verification_send")).status_code for _ in range(3)]
    assert answers == [302, 302, 429]


def test_a_double_clicked_confirm_button_tells_the_second_click_it_is_confirmed(client, monkeypatch):
    """Two sendings at once: the second read the account before the first confirmed it, and the locked
    check then finds it confirmed. It hears what a later click hears, not that the link is dead."""
    user = make_customer(email_verified_at=None)
    client.force_login(user)
    token = email_verification_token.make_token(user)
    link = reverse("accounts:email_verify", args=[urlsafe_base64_encode(force_bytes(user.pk)), token])
    as_read_before = User.objects.get(pk=user.pk)  # the second sending's read
    assert client.post(link).status_code == 302
    monkeypatch.setattr("accounts.views._linked_user", lambda _uidb64: as_read_before)
    second = client.post(link)
    assert second.status_code == 200 and b"confirmed already" in second.content
    assert AuditEvent.objects.filter(action="email_verified").count() == 1
