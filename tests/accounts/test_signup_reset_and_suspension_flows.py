"""Accounts flows end to end: sign-up with invitations, e-mail spelling, address confirmation, password
reset and history, suspensions and their end, organisation managers and sessions."""

import itertools
import re
from datetime import timedelta

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts import services
from accounts.models import Invitation, User, UserSession
from accounts.tokens import email_verification_token
from helpdesk.services import site_configuration_update
from tests.concurrency import run_while_another_transaction_waits
from tests.factories import (
    TEST_PASSWORD,
    InvitationFactory,
    OrganizationFactory,
    ensure_roles,
    make_administrator,
    make_customer,
    make_pending_account,
    make_ticket,
)

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-fresh-long-passphrase"


def signup(email: str, code: str = "", open_signup: bool = False) -> User:
    return services.user_signup(
        email=email, name="New Person", password="a-long-passphrase-9", invitation_code=code,
        open_signup=open_signup, actor=None,
    )  # fmt: skip


def uid(user: User) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))


def reset_link(user: User) -> str:
    """The link the reset mail would carry for `user` as the account stands now."""
    token = default_token_generator.make_token(user)
    return reverse("accounts:password_reset_confirm", kwargs={"uidb64": uid(user), "token": token})


def use_reset_link(client: Client, link: str, password: str = NEW_PASSWORD):
    page = client.get(link, follow=True)
    form_url = page.redirect_chain[-1][0] if page.redirect_chain else link
    return client.post(form_url, {"new_password1": password, "new_password2": password})


# --- Suspensions and links ----------------------------------------------------------------------------


def test_a_reset_link_mailed_before_a_suspension_does_not_work_while_suspended(client):
    """Suspended accounts get no reset mail, and a link mailed just before the suspension does not work
    during it either: the password stays as it was (and the address unverified, a lockout in place)."""
    user = make_customer(email="suspended@example.org")
    link = reset_link(user)  # mailed while the account was active
    services.user_suspend(user, until=None, reason="Abuse", actor=None)

    response = use_reset_link(client, link)

    user.refresh_from_db()
    assert not user.check_password(NEW_PASSWORD), "a suspended account's password was reset"
    assert response.status_code != 302


def test_a_pending_account_whose_timed_suspension_ends_can_still_be_claimed_with_a_reset(
    client, clock, immediate_tasks
):
    """A pending account (an anonymous submission's, no password) suspended for a day is pending again
    once the suspension ends: its owner can still set a password through "Forgotten your password?" and
    reach their tickets (active with no password, it would be mailed no link and unreachable for good)."""
    visitor = make_pending_account("visitor@example.org")
    services.user_suspend(visitor, until=timezone.now() + timedelta(days=1), reason="Spam", actor=None)
    clock.shift(timedelta(days=1, minutes=1))
    services.suspensions_lift_expired()  # the scheduler's every-minute job

    client.post(reverse("accounts:password_reset"), {"email": "visitor@example.org"})

    visitor.refresh_from_db()
    assert visitor.status == User.Status.PENDING
    assert [message.to for message in mail.outbox] == [["visitor@example.org"]]


def test_an_administrator_activating_an_account_without_a_password_leaves_it_pending_and_says_so(client):
    """The admin's "activate" on a suspended account nobody set a password for makes it pending (to be
    claimed with a reset link), not active with no way in, and the page says why."""
    visitor = make_pending_account("visitor@example.org")
    services.user_suspend(visitor, until=None, reason="Spam", actor=None)
    client.force_login(make_administrator())
    response = client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "activate_users", "_selected_action": [visitor.pk]},
        follow=True,
    )
    visitor.refresh_from_db()
    assert visitor.status == User.Status.PENDING and visitor.suspension_reason == ""
    assert "One account has no password yet, so it stays pending" in response.content.decode()


def test_an_account_whose_suspension_has_ended_can_confirm_its_address(client, clock):
    """A suspension with an end date lifts itself at that time (User.effective_status), before the
    scheduler stores the change: the owner, signed in, confirms their address with a valid link then too."""
    user = make_customer(email="returning@example.org")
    services.user_suspend(user, until=timezone.now() + timedelta(hours=1), reason="Cool-off", actor=None)
    clock.shift(timedelta(hours=1, seconds=30))  # ended; the every-minute lifting has not run yet
    user.refresh_from_db()
    assert user.is_active
    token = email_verification_token.make_token(user)
    client.force_login(user)

    response = client.post(reverse("accounts:email_verify", kwargs={"uidb64": uid(user), "token": token}))

    user.refresh_from_db()
    assert user.email_verified_at is not None, f"refused with {response.status_code}"


# --- Sign-up, reset, history and sessions ------------------------------------------------------------


def test_an_invitation_code_with_spaces_around_it_is_accepted():
    """A pasted code with spaces or a tab around it joins the organisation."""
    invitation = InvitationFactory(max_uses=3)
    user = signup("pasted@example.org", f"  {invitation.code}\t")
    assert user.organization == invitation.organization


@pytest.mark.parametrize(
    "spelling",
    [
        "ANN@EXAMPLE.COM",
        "ann@example.com",
        " Ann@Example.com ",
        "ann@\uff45xample.com",
        "\uff41nn@example.com",
    ],
)
def test_a_second_account_for_the_same_address_in_another_spelling_is_refused(spelling):
    """Another case, spaces around it, or a fullwidth look-alike never gives a second account."""
    signup("Ann@Example.com", open_signup=True)
    with pytest.raises(ValidationError):
        signup(spelling, open_signup=True)
    assert User.objects.count() == 1


@pytest.mark.parametrize("email", ["ann@example.com.", "ann@example..com", "\uff41nn@example.com"])
def test_the_sign_up_page_refuses_malformed_addresses_with_422(client, email):
    """A trailing dot, a double dot or fullwidth letters are a form error (422), no account."""
    site_configuration_update(changes={"open_signup": True}, actor=None)
    data = {"name": "X", "email": email, "password": "a-long-passphrase-9"}
    assert client.post(reverse("accounts:signup"), data).status_code == 422
    assert not User.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_last_use_of_an_invitation_goes_to_one_of_two_concurrent_sign_ups():
    """While one sign-up holds the last use (uncommitted), the other waits and is then refused as used up."""
    ensure_roles()
    invitation = InvitationFactory(max_uses=1)
    refused = []

    def second() -> None:
        try:
            signup("second@example.org", invitation.code)
        except ValidationError as error:
            refused.append(error.message_dict)

    run_while_another_transaction_waits(lambda: signup("first@example.org", invitation.code), second)
    assert refused and services.INVITATION_USED_UP in refused[0]["invitation_code"]
    assert Invitation.objects.get(pk=invitation.pk).uses == 1
    assert not User.objects.filter(email="second@example.org").exists()


def test_the_reset_page_answers_alike_for_known_unknown_and_suspended_addresses(immediate_tasks):
    """Same status, redirect and page for every address; only the known active one gets mail."""
    make_customer(email="known@example.org")
    services.user_suspend(make_customer(email="sus@example.org"), until=None, reason="x", actor=None)
    answers = []
    for email in ["known@example.org", "nobody@example.org", "sus@example.org", "KNOWN@example.org"]:
        response = Client().post(reverse("accounts:password_reset"), {"email": email}, follow=True)
        page = re.sub(r"[A-Za-z0-9]{64}", "", response.content.decode())  # the CSRF token
        answers.append((response.status_code, response.redirect_chain, page))
    assert all(answer == answers[0] for answer in answers)
    assert [message.to for message in mail.outbox] == [["known@example.org"]] * 2


def test_a_reset_link_stops_working_after_a_password_change(client):
    """A link mailed before the password was changed on the profile no longer sets a password."""
    user = make_customer(email="changer@example.org")
    link = reset_link(user)
    services.user_password_change(user, password="some-other-passphrase", actor=user, keep_session_key=None)
    use_reset_link(client, link)
    user.refresh_from_db()
    assert user.check_password("some-other-passphrase")


def change_password(client: Client, old: str, new: str):
    data = {"change_password": "1", "old_password": old, "new_password1": new, "new_password2": new}
    return client.post(reverse("accounts:profile"), data)


def test_none_of_the_last_five_passwords_is_reused_but_the_sixth_oldest_is(client, settings):
    """After five changes, the current and the four before it are refused; the first one is allowed."""
    settings.RATE_LIMITS_ENABLED = False
    client.force_login(make_customer(email="history@example.org"))
    passwords = [TEST_PASSWORD] + [f"another-long-phrase-{n}" for n in range(1, 6)]
    for old, new in itertools.pairwise(passwords):
        assert change_password(client, old, new).status_code == 302
    for recent in passwords[1:]:
        assert change_password(client, passwords[-1], recent).status_code == 422, recent
    assert change_password(client, passwords[-1], passwords[0]).status_code == 302


@pytest.mark.parametrize("password", ["Margaret Thistlewood", "thistlewood"])
def test_a_new_password_like_the_accounts_own_name_is_refused(client, password):
    """As the help text says ("too similar to your other personal information"): accounts.User keeps one
    name field, which Django's similarity check does not look at unless told."""
    client.force_login(make_customer(name="Margaret Thistlewood"))
    response = change_password(client, TEST_PASSWORD, password)
    assert response.status_code == 422 and "too similar to the name" in response.content.decode()


def test_a_timed_suspension_refuses_sign_in_until_it_ends_and_is_then_lifted(client, clock):
    """Refused while it lasts; signs in once it ended; the scheduler's job then stores it as active."""
    user = make_customer(email="timed@example.org")
    services.user_suspend(user, until=timezone.now() + timedelta(hours=1), reason="x", actor=None)
    credentials = {"username": "timed@example.org", "password": TEST_PASSWORD}
    assert client.post(reverse("accounts:login"), credentials).status_code == 422
    clock.shift(timedelta(hours=1, seconds=1))
    assert client.post(reverse("accounts:login"), credentials).status_code == 302
    assert services.suspensions_lift_expired() == 1
    user.refresh_from_db()
    assert (user.status, user.suspended_until) == (User.Status.ACTIVE, None)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "utc", "Europe/Kiev", "../etc/passwd"])
def test_the_profile_refuses_a_time_zone_it_does_not_offer(client, zone):
    """An unknown or unoffered zone name is a 422 form error and the zone stays as it was."""
    user = make_customer(email="zone@example.org")
    client.force_login(user)
    data = {"save_profile": "1", "name": "N", "timezone": zone}
    assert client.post(reverse("accounts:profile"), data).status_code == 422
    user.refresh_from_db()
    assert user.timezone == "UTC"


def test_an_organisation_manager_sees_colleagues_tickets_but_no_other_organisations(client):
    """The manager's organisation scope lists a colleague's ticket, never another organisation's."""
    acme, globex = OrganizationFactory(), OrganizationFactory()
    manager = make_customer(acme, manager=True)
    make_ticket(make_customer(acme), subject="Colleague issue")
    make_ticket(make_customer(globex), subject="Outsider issue")
    client.force_login(manager)
    body = client.get(reverse("tickets:portal_list") + "?scope=organization").content.decode()
    assert "Colleague issue" in body and "Outsider issue" not in body


def test_nobody_signs_out_another_persons_session_by_its_key_or_public_id():
    """Posting another user's session key or public id to the sessions page ends nothing."""
    make_customer(email="a@example.org")
    make_customer(email="b@example.org")
    first, second = Client(), Client()
    first.post(reverse("accounts:login"), {"username": "a@example.org", "password": TEST_PASSWORD})
    second.post(reverse("accounts:login"), {"username": "b@example.org", "password": TEST_PASSWORD})
    theirs = UserSession.objects.get(user__email="b@example.org")
    for value in [theirs.session_key, theirs.public_id]:
        first.post(reverse("accounts:sessions_sign_out"), {"session": value})
    assert UserSession.objects.filter(pk=theirs.pk).exists()
    assert second.get(reverse("accounts:profile")).status_code == 200
