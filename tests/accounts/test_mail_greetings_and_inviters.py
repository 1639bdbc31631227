"""Whom a mail names: the notice to an account's old address greets by name only when that address had
been confirmed (the name may be a stranger's, who signed up with it), and an invitation never names its
inviter by their address."""

import re

import pytest
from django.core import mail
from django.test import Client, TestCase
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts.models import User
from helpdesk.services import site_configuration_update
from tests.accounts.test_sessions import FIREFOX, signed_in
from tests.admin_pages import post_change
from tests.factories import (
    TEST_PASSWORD,
    InvitationFactory,
    OrganizationFactory,
    make_administrator,
    make_customer,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("immediate_tasks")]

EVIL = "https://evil.example/claim"


def on_commit(callable_, *args, **kwargs):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return callable_(*args, **kwargs)


def move_by_link(client: Client, new_email: str, password: str) -> None:
    """Ask on the profile for `new_email` and press the mailed link."""
    on_commit(client.post, reverse("accounts:profile"),
              {"change_email": "1", "email": new_email, "password": password})  # fmt: skip
    path = re.search(r"https?://[^/\s]+(/accounts/change-email/\S+/)", mail.outbox[-1].body).group(1)
    on_commit(client.post, path)


def notice_to(address: str):
    (notice,) = [message for message in mail.outbox if message.to == [address]]
    return notice


def test_a_stranger_who_signed_up_with_an_address_is_not_named_in_the_notice_sent_there():
    site_configuration_update(changes={"open_signup": True}, actor=None)
    stranger = Client(HTTP_USER_AGENT=FIREFOX)
    passphrase = "a-long Passphrase 42!"
    signup = {"name": f"{EVIL} Support", "email": "victim@example.org", "password": passphrase}
    assert on_commit(stranger.post, reverse("accounts:signup"), signup).status_code == 302
    mail.outbox.clear()
    move_by_link(stranger, "stranger@example.net", passphrase)
    assert User.objects.filter(email="stranger@example.net").exists()
    notice = notice_to("victim@example.org")
    assert notice.body.startswith("Hello,\n") and "evil.example" not in notice.body


def test_the_notice_to_a_confirmed_old_address_greets_its_owner_by_name():
    user = make_customer(email="old@example.org", name="Anna Berg", email_verified_at=timezone.now())
    move_by_link(signed_in(user, FIREFOX), "new@example.org", TEST_PASSWORD)
    assert notice_to("old@example.org").body.startswith("Hello Anna,\n")


@pytest.mark.parametrize("confirmed, greeting", [(True, "Hello Anna,\n"), (False, "Hello,\n")])
def test_a_move_in_the_admin_greets_by_name_only_a_confirmed_old_address(client, confirmed, greeting):
    user = make_customer(
        email="old@example.org", name="Anna Berg", email_verified_at=timezone.now() if confirmed else None
    )
    client.force_login(make_administrator(is_superuser=True))
    response = on_commit(post_change, client, user, email="moved@example.org")
    assert response.status_code == 302
    assert notice_to("old@example.org").body.startswith(greeting)


@pytest.mark.parametrize("name, inviter", [("", "Helpdesk"), ("Alice Admin", "Alice Admin")])
def test_an_invitation_names_its_inviter_by_name_never_by_address(name, inviter):
    admin = make_administrator(name=name, email="admin.private@example.com")
    invitation = InvitationFactory(
        organization=OrganizationFactory(name="Acme"), email="invitee@example.net", created_by=admin
    )
    on_commit(
        account_services.invitation_mail, invitation, actor=admin, domain="help.example", use_https=True
    )
    (message,) = mail.outbox
    assert "admin.private@example.com" not in message.body
    assert f"{inviter} invites you" in message.body
