"""Moving an account to a new e-mail address from the profile: the current password asks, a link goes to
the new address, and only its owner, signed in, makes the change with it; the old address hears of it."""

import re

import pytest
from django.core import mail
from django.test import Client, TestCase, override_settings
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from accounts import services
from accounts.models import User
from accounts.tasks import send_email_change_mail
from audit.models import AuditEvent
from tests.accounts.test_sessions import FIREFOX, IPHONE, is_signed_in, signed_in
from tests.factories import TEST_PASSWORD, make_agent, make_customer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("immediate_tasks")]

PROFILE = reverse("accounts:profile")
LINK = re.compile(r"http://testserver(/accounts/change-email/\S+/)")


def ask(client: Client, email: str, password: str = TEST_PASSWORD):
    with TestCase.captureOnCommitCallbacks(execute=True):  # the mail goes after commit
        return client.post(PROFILE, {"change_email": "1", "email": email, "password": password})


def press(client: Client, link: str):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(link)


def signs_in(email: str, password: str) -> bool:
    response = Client().post(reverse("accounts:login"), {"username": email, "password": password})
    return response.status_code == 302


def mailed_link(to: str) -> str:
    (message,) = [message for message in mail.outbox if message.to == [to]]
    return LINK.search(message.body).group(1)


def asked() -> tuple[User, Client, str]:
    """A customer at old@example.org, signed in, who asked to move to new@example.org; the mailed link."""
    user = make_customer(email="old@example.org")
    client = signed_in(user, FIREFOX)
    ask(client, "new@example.org")
    return user, client, mailed_link("new@example.org")


def test_asking_mails_a_link_to_the_new_address_and_changes_nothing_yet():
    user = make_customer(email="old@example.org")
    client = signed_in(user, FIREFOX)
    response = ask(client, "  New@Example.ORG ")
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.email == "old@example.org"
    (message,) = mail.outbox
    assert message.to == ["New@example.org"] and "New@example.org" in message.body
    assert LINK.search(message.body)
    event = AuditEvent.objects.get(action="email_change_request")
    assert event.changes["email"] == ["old@example.org", "New@example.org"]
    shown = client.get(PROFILE).content.decode()
    assert "We sent a link to New@example.org" in shown and "keeps the address old@example.org" in shown


def test_the_profile_says_where_the_account_is_moving_while_the_link_holds(clock):
    """Until the link is opened the profile shows the move under way and until when its link works (the
    message after asking is gone after the next page); once it is carried out, expired or spent by a new
    password, the profile says nothing of it."""
    _user, client, link = asked()
    assert "We sent a link to new@example.org" in client.get(PROFILE).content.decode()
    shown = client.get(PROFILE).content.decode()
    assert "Moving to <strong>new@example.org</strong>" in shown and "We sent a link" not in shown
    press(client, link)
    assert "Moving to" not in client.get(PROFILE).content.decode()
    clock.shift(120)
    ask(client, "newer@example.org")
    assert "Moving to <strong>newer@example.org</strong>" in client.get(PROFILE).content.decode()
    with override_settings(PASSWORD_RESET_TIMEOUT=-1):
        assert "Moving to" not in client.get(PROFILE).content.decode()


def test_the_owner_opening_the_link_sees_a_button_and_pressing_it_moves_the_account():
    user, client, link = asked()
    other_device = signed_in(user, IPHONE)

    page = client.get(link)
    assert page.status_code == 200 and "Change my address" in page.content.decode()
    user.refresh_from_db()
    assert user.email == "old@example.org"  # opening the link (a mail scanner, say) changes nothing

    response = press(client, link)
    assert response.status_code == 302 and response.url == PROFILE
    user.refresh_from_db()
    assert user.email == "new@example.org" and user.email_verified_at is not None
    assert is_signed_in(client) and not is_signed_in(other_device)
    event = AuditEvent.objects.get(action="email_change")
    assert event.changes["email"] == ["old@example.org", "new@example.org"]
    (notice,) = [message for message in mail.outbox if message.to == ["old@example.org"]]
    assert "changed from old@example.org to new@example.org" in " ".join(notice.body.split())
    # The account signs in with its new address only.
    assert signs_in("new@example.org", TEST_PASSWORD) and not signs_in("old@example.org", TEST_PASSWORD)


def test_the_link_works_once():
    user, client, link = asked()
    client.post(link)
    again = client.post(link)
    assert again.status_code == 200 and "has the address" in again.content.decode()  # done already
    assert AuditEvent.objects.filter(action="email_change").count() == 1
    # Nor after the account came back to the address and password it had when the link was made.
    ask(client, "old@example.org")
    assert press(client, mailed_link("old@example.org")).status_code == 302
    assert client.post(link).status_code == 422
    user.refresh_from_db()
    assert user.email == "old@example.org"


def test_only_the_newest_requests_link_works():
    user, client, first = asked()
    ask(client, "newer@example.org")
    assert client.post(first).status_code == 422
    assert press(client, mailed_link("newer@example.org")).status_code == 302
    user.refresh_from_db()
    assert user.email == "newer@example.org"


def test_send_the_link_pressed_twice_mails_one_link_that_works_and_later_a_fresh_one(clock):
    """A second "Send the link" for the same address within a minute is the first sent twice (a
    double click without JavaScript): one mail, whose link still works, and one audit event. Asked again
    later, a new link goes (the first mail may be lost) and the earlier one is spent."""
    user, client, first = asked()
    assert ask(client, "NEW@example.org").status_code == 302
    assert len(mail.outbox) == 1
    assert AuditEvent.objects.filter(action="email_change_request").count() == 1
    assert client.get(first).status_code == 200 and "Change my address" in client.get(first).content.decode()

    clock.shift(services.EMAIL_CHANGE_RESEND_AFTER)
    mail.outbox.clear()
    ask(client, "new@example.org")
    second = mailed_link("new@example.org")
    assert second != first and client.post(first).status_code == 422
    assert press(client, second).status_code == 302
    user.refresh_from_db()
    assert user.email == "new@example.org"


def test_the_link_holds_the_account_as_it_was_when_asked_not_when_the_mail_went_out(settings):
    """A worker busy or down sends the mail later; a new password in between spends the link all the same."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    user = make_customer(email="old@example.org")
    client = signed_in(user, FIREFOX)
    ask(client, "new@example.org")
    services.user_password_change(
        user, password="another-long-passphrase-7", actor=user, keep_session_key=None
    )
    (stored,) = DBTaskResult.objects.filter(task_path="accounts.tasks.send_email_change_mail")
    assert not send_email_change_mail.call(*stored.args_kwargs["args"], **stored.args_kwargs["kwargs"])
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("email", "password", "error"),
    [
        ("new@example.org", "not-my-password", services.PASSWORD_INCORRECT),
        ("OLD@example.org", TEST_PASSWORD, services.EMAIL_UNCHANGED),
        ("taken@example.org", TEST_PASSWORD, services.EMAIL_IN_USE),
        ("TAKEN@Example.org", TEST_PASSWORD, services.EMAIL_IN_USE),
        ("pending@example.org", TEST_PASSWORD, "waiting to be activated"),
        ("not an address", TEST_PASSWORD, "Enter a valid email address."),
        ("ünïcode@example.org", TEST_PASSWORD, "letters"),
        ("x" * 250 + "@example.org", TEST_PASSWORD, "at most 254"),
    ],
)
def test_a_refused_request_answers_422_with_the_address_kept_and_mails_nothing(email, password, error):
    user = make_customer(email="old@example.org")
    make_customer(email="taken@example.org")
    make_customer(email="pending@example.org", status=User.Status.PENDING)
    client = signed_in(user, FIREFOX)
    response = ask(client, email, password)
    body = response.content.decode()
    assert response.status_code == 422
    assert error in body.replace("&#x27;", "'")
    assert 'value="' + email.strip()[:40] in body.replace("&#x27;", "'")  # typed address refilled
    assert TEST_PASSWORD not in body and "not-my-password" not in body
    assert mail.outbox == [] and not AuditEvent.objects.filter(action="email_change_request").exists()


def test_someone_else_with_the_link_cannot_use_it():
    user, _, link = asked()
    stranger = signed_in(make_customer(), FIREFOX)
    page = stranger.get(link)
    assert page.status_code == 200 and "Sign out, then sign in" in page.content.decode()
    assert "old@example.org" not in page.content.decode()  # the account's address is not told
    assert stranger.post(link).status_code == 403
    anonymous = Client().get(link)
    assert "Sign in to change it" in anonymous.content.decode()
    assert Client().post(link).status_code == 403
    user.refresh_from_db()
    assert user.email == "old@example.org"


def test_a_new_password_spends_the_link():
    user, client, link = asked()
    new_password = "another-long-passphrase-7"
    services.user_password_change(user, password=new_password, actor=user, keep_session_key=None)
    client = signed_in(user, FIREFOX, password=new_password)
    assert "expired or is not valid" in client.get(link).content.decode()
    assert client.post(link).status_code == 422
    user.refresh_from_db()
    assert user.email == "old@example.org"


@pytest.mark.parametrize("token", ["guessed-token", "eyJ1IjoxfQ:1abcde:bad-signature"])
def test_a_made_up_link_is_not_valid(token):
    client = signed_in(make_customer(), FIREFOX)
    link = reverse("accounts:email_change_confirm", kwargs={"token": token})
    assert "expired or is not valid" in client.get(link).content.decode()
    assert client.post(link).status_code == 422


def test_an_expired_link_is_not_valid():
    user, client, link = asked()
    with override_settings(PASSWORD_RESET_TIMEOUT=-1):
        assert client.post(link).status_code == 422
    user.refresh_from_db()
    assert user.email == "old@example.org"


def test_an_address_taken_after_the_link_was_sent_is_refused_clearly():
    user, client, link = asked()
    make_customer(email="NEW@example.org")
    assert "Another account uses" in client.get(link).content.decode()
    response = client.post(link)
    assert response.status_code == 422 and "Another account uses" in response.content.decode()
    user.refresh_from_db()
    assert user.email == "old@example.org"


def test_a_suspended_account_cannot_move():
    user, _, link = asked()
    services.user_suspend(user, until=None, reason="", actor=None)
    with pytest.raises(Exception, match="expired or is not valid"):
        change = services.email_change_for_link(link.split("/")[-2])
        services.user_email_change(change, actor=user, keep_session_key=None)
    user.refresh_from_db()
    assert user.email == "old@example.org"


def test_agents_move_their_account_the_same_way():
    agent = make_agent(email="agent@example.org")
    client = signed_in(agent, FIREFOX)
    assert ask(client, "agent.new@example.org").status_code == 302
    assert client.post(mailed_link("agent.new@example.org")).status_code == 302
    agent.refresh_from_db()
    assert agent.email == "agent.new@example.org"


def test_guessing_the_password_through_the_form_is_rate_limited(settings, clock):
    # The clock stands still: the limit's window is a fixed hour, which the three tries could straddle.
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "password_change": ("100/h", "2/h")}
    client = signed_in(make_customer(), FIREFOX)
    assert ask(client, "new@example.org", "guess-1").status_code == 422
    assert ask(client, "new@example.org", "guess-2").status_code == 422
    assert ask(client, "new@example.org", "guess-3").status_code == 429
