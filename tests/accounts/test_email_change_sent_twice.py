""" "Send the link" (profile, "Change e-mail address") pressed twice for the same address
within EMAIL_CHANGE_RESEND_AFTER is the first request sent twice (one mail, one audit event, the first link
still works); later, or for another address, a fresh link goes and spends the first."""

import re
import threading

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from accounts import services
from accounts.models import EmailChangeRequest, User, UserSession
from accounts.tasks import send_email_change_mail
from audit.models import AuditEvent
from tests.accounts.test_email_change import ask, press
from tests.accounts.test_sessions import FIREFOX, IPHONE, signed_in
from tests.concurrency import at_the_same_moment, in_another_thread, wait_until_another_waits_on_a_lock
from tests.conftest import notes
from tests.factories import TEST_PASSWORD, ensure_roles, make_customer

LINK = re.compile(r"http://testserver(/accounts/change-email/\S+/)")
VERIFY_LINK = re.compile(r"http://testserver(/accounts/verify-email/\S+/)")
RESET_LINK = re.compile(r"http://testserver(/accounts/reset/\S+/)")
NEW_PASSWORD = "another-long-passphrase-7"


def links_to(to: str, pattern: re.Pattern = LINK) -> list[str]:
    found = [pattern.search(message.body) for message in mail.outbox if message.to == [to]]
    return [match.group(1) for match in found if match]


def requests_logged() -> int:
    return AuditEvent.objects.filter(action="email_change_request").count()


def assert_link_moves(client: Client, link: str, user: User, email: str) -> None:
    """Pressing `link`'s button moves `user` to `email`."""
    assert press(client, link).status_code == 302
    user.refresh_from_db()
    assert user.email == email


def customer_asking(email: str = "new@example.org") -> tuple[User, Client, str]:
    user = make_customer(email="old@example.org")
    client = signed_in(user, FIREFOX)
    assert ask(client, email).status_code == 302
    (link,) = links_to(email)
    return user, client, link


# A correction within the minute, and locks -------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("immediate_tasks")
def test_the_second_press_with_other_capitals_is_told_the_address_the_account_will_take():
    """A customer asks to move to "Anna.Berg@example.org", then within the minute sends the form again
    with "anna.berg@example.org": the same request sent twice (no second mail), so the page names the
    address that request mailed its link to and the account will take, not the spelling typed last."""
    user, client, _ = customer_asking("Anna.Berg@example.org")
    response = ask(client, "anna.berg@example.org")
    assert response.status_code == 302
    told = [note for note in notes(response) if note.startswith("We sent a link to")][-1]
    told_address = told.removeprefix("We sent a link to ").split(". ")[0]
    # Whichever link reached a mailbox last is the one the customer opens.
    link = LINK.search(mail.outbox[-1].body).group(1)
    assert_link_moves(client, link, user, told_address)  # the address the page named


@pytest.mark.django_db(transaction=True)
def test_sending_the_link_while_the_same_user_signs_out_elsewhere_does_not_deadlock(monkeypatch):
    """A customer presses "Send the link" on the laptop while "Sign out other sessions" is saved on the
    phone: both succeed. The address request locks the account's row FOR NO KEY UPDATE, as every lock of
    an account before an audit record does: a plain FOR UPDATE blocks the foreign-key check of the
    sign-out's audit event, which holds the audit chain's lock the request waits for next (a deadlock:
    audit.recorder.lock_chain)."""
    ensure_roles()
    user = make_customer(email="old@example.org")
    signed_in(user, FIREFOX)
    signed_in(user, IPHONE)
    locked = threading.Event()
    errors: list[BaseException] = []
    original = services._asked_a_moment_ago

    def sign_out_elsewhere() -> None:
        assert locked.wait(timeout=10)
        services.user_sign_out_sessions(user, actor=user)

    other = in_another_thread(sign_out_elsewhere, errors)

    def paused_with_the_account_locked(account, new_email):
        locked.set()  # the address request holds the account's row now
        wait_until_another_waits_on_a_lock(
            unless_done=other
        )  # the sign-out has the chain's lock and waits for the row, or is done
        return original(account, new_email)

    monkeypatch.setattr(services, "_asked_a_moment_ago", paused_with_the_account_locked)
    other.start()
    try:
        services.user_email_change_request(
            user, new_email="new@example.org", password=TEST_PASSWORD, actor=user,
            domain="testserver", use_https=False,
        )  # fmt: skip
    except BaseException as error:  # the deadlock victim may be either side
        errors.append(error)
    finally:
        other.join(timeout=30)
    assert errors == []
    assert EmailChangeRequest.objects.filter(user=user, new_email="new@example.org").exists()
    assert not UserSession.objects.filter(user=user).exists()


# Repeats, corrections and other requests around the minute --------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("immediate_tasks")
@pytest.mark.parametrize("again", ["new@example.org", "  NEW@Example.ORG  ", "new@EXAMPLE.org"])
def test_probe_the_same_address_retyped_within_the_minute_mails_nothing_more(again):
    """spaces and capitals make no second request: one mail, one audit event, the link works."""
    user, client, first = customer_asking()
    assert ask(client, again).status_code == 302
    assert len(mail.outbox) == 1 and requests_logged() == 1
    assert_link_moves(client, first, user, "new@example.org")


@pytest.mark.django_db
@pytest.mark.usefixtures("immediate_tasks")
def test_probe_an_internationalised_domain_typed_either_way_is_the_same_request():
    """ "new@bücher.example" then its xn-- form within the minute: one mail, the link works."""
    user, client, first = customer_asking("new@xn--bcher-kva.example")
    assert ask(client, "new@bücher.example").status_code == 302
    assert len(mail.outbox) == 1 and requests_logged() == 1
    assert_link_moves(client, first, user, "new@xn--bcher-kva.example")


@pytest.mark.django_db
@pytest.mark.usefixtures("immediate_tasks")
def test_probe_another_address_within_the_minute_mails_and_spends_the_first(clock):
    """a corrected address a few seconds later gets its own link; the first is spent."""
    user, client, first = customer_asking("typo@example.org")
    clock.shift(5)
    assert ask(client, "right@example.org").status_code == 302
    (second,) = links_to("right@example.org")
    assert requests_logged() == 2
    assert client.post(first).status_code == 422
    assert_link_moves(client, second, user, "right@example.org")


@pytest.mark.django_db
@pytest.mark.usefixtures("immediate_tasks")
def test_probe_back_to_the_first_address_after_another_mails_again(clock):
    """A, then B, then A within the minute: the newest request (B) is not A, so A gets a fresh
    link and only that one works."""
    user, client, first_a = customer_asking("a@example.org")
    ask(client, "b@example.org")
    (link_b,) = links_to("b@example.org")
    ask(client, "a@example.org")
    links_a = links_to("a@example.org")
    assert len(links_a) == 2
    assert client.post(first_a).status_code == 422 and client.post(link_b).status_code == 422
    assert_link_moves(client, links_a[-1], user, "a@example.org")


@pytest.mark.django_db
@pytest.mark.usefixtures("immediate_tasks")
def test_probe_the_wrong_password_the_second_time_is_refused_and_counted(settings, clock):
    """within the minute, a wrong password is still refused (422, address refilled), it counts
    against the rate limit, and the first link keeps working."""
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "password_change": ("100/h", "3/h")}
    user, client, first = customer_asking()
    response = ask(client, "new@example.org", "not-my-password")
    assert response.status_code == 422
    body = response.content.decode()
    assert services.PASSWORD_INCORRECT.replace("'", "&#x27;") in body and 'value="new@example.org"' in body
    assert ask(client, "new@example.org", "not-my-password-2").status_code == 422
    assert ask(client, "new@example.org").status_code == 429  # the good first, two bad: over 3/h
    assert len(mail.outbox) == 1 and requests_logged() == 1
    assert_link_moves(client, first, user, "new@example.org")


@pytest.mark.django_db
@pytest.mark.usefixtures("immediate_tasks")
def test_probe_a_used_link_then_moving_back_within_the_minute_mails_a_link():
    """the link used at once, then (still within the minute) the old address asked back: a link
    goes, it is not taken for the used request sent twice."""
    user, client, first = customer_asking()
    assert press(client, first).status_code == 302
    assert ask(client, "old@example.org").status_code == 302
    (back,) = links_to("old@example.org")
    assert_link_moves(client, back, user, "old@example.org")


@pytest.mark.django_db
@pytest.mark.usefixtures("immediate_tasks")
def test_probe_a_new_password_within_the_minute_makes_the_next_ask_mail_a_fresh_link():
    """the first link is spent by a new password; asked again within the minute, a working link
    goes (the dedupe checks that the first still holds)."""
    user, client, first = customer_asking()
    services.user_password_change(user, password=NEW_PASSWORD, actor=user, keep_session_key=None)
    client = signed_in(user, FIREFOX, password=NEW_PASSWORD)
    assert ask(client, "new@example.org", NEW_PASSWORD).status_code == 302
    links = links_to("new@example.org")
    assert len(links) == 2 and requests_logged() == 2
    assert client.post(first).status_code == 422
    assert_link_moves(client, links[-1], user, "new@example.org")


@pytest.mark.django_db
@pytest.mark.usefixtures("immediate_tasks")
def test_probe_an_address_set_by_an_administrator_within_the_minute_makes_the_next_ask_mail_again():
    """an administrator moved the account meanwhile (the first link is spent); asked again, a link
    that works goes."""
    user, client, first = customer_asking()
    User.objects.filter(pk=user.pk).update(email="admin-set@example.org")
    user.refresh_from_db()
    assert ask(client, "new@example.org").status_code == 302
    links = links_to("new@example.org")
    assert len(links) == 2
    assert client.post(first).status_code == 422
    assert_link_moves(client, links[-1], user, "new@example.org")


@pytest.mark.django_db
@pytest.mark.usefixtures("immediate_tasks")
def test_probe_a_suspension_lifted_within_the_minute_keeps_one_working_link():
    """suspended and lifted within the minute, signed in again, asked again: the first link (which
    a lifted suspension does not spend) is the one that works; no second mail."""
    user, _, first = customer_asking()
    services.user_suspend(user, until=None, reason="check", actor=None)
    services.user_activate(user, actor=None)
    client = signed_in(user, FIREFOX)
    assert ask(client, "new@example.org").status_code == 302
    assert len(links_to("new@example.org")) == 1
    assert_link_moves(client, first, user, "new@example.org")


@pytest.mark.django_db
def test_probe_worker_down_two_presses_queue_one_mail_that_carries_a_working_link(clock):
    """Probe (stored task backend, no worker): two presses queue one task; run later, its link works.
    Asked again after the minute, a second task is queued and the first, run late, mails nothing."""
    user = make_customer(email="old@example.org")
    client = signed_in(user, FIREFOX)
    ask(client, "new@example.org")
    ask(client, "new@example.org")
    (stored,) = DBTaskResult.objects.filter(task_path="accounts.tasks.send_email_change_mail")
    args = stored.args_kwargs
    assert send_email_change_mail.call(*args["args"], **args["kwargs"])
    (link,) = links_to("new@example.org")
    assert client.get(link).status_code == 200 and "Change my address" in client.get(link).content.decode()

    clock.shift(services.EMAIL_CHANGE_RESEND_AFTER)
    mail.outbox.clear()
    ask(client, "new@example.org")
    assert DBTaskResult.objects.filter(task_path="accounts.tasks.send_email_change_mail").count() == 2
    assert not send_email_change_mail.call(*args["args"], **args["kwargs"])  # the first is spent
    assert mail.outbox == []


@pytest.mark.django_db
@pytest.mark.usefixtures("immediate_tasks")
def test_probe_the_message_after_the_second_press_names_the_address_and_the_kept_one():
    """the second press (same spelling) says what the first said; nothing claims a new link."""
    _, client, _ = customer_asking()
    response = ask(client, "new@example.org")
    told = notes(response)[-1]
    assert told.startswith(
        "We sent a link to new@example.org. Your account keeps the address old@example.org"
    )


@pytest.mark.django_db(transaction=True)
def test_probe_two_presses_at_the_same_moment_make_one_request_and_one_event(immediate_tasks):
    """two requests for the same address at once (threads, own connections): one request row,
    one audit event, one mail, and that link works."""
    ensure_roles()
    user = make_customer(email="old@example.org")

    def send() -> None:
        services.user_email_change_request(
            User.objects.get(pk=user.pk), new_email="new@example.org", password=TEST_PASSWORD,
            actor=user, domain="testserver", use_https=False,
        )  # fmt: skip

    assert at_the_same_moment(send) == []
    assert EmailChangeRequest.objects.filter(user=user).count() == 1
    assert requests_logged() == 1
    (link,) = links_to("new@example.org")
    client = signed_in(user, FIREFOX)
    assert client.post(link).status_code == 302
    user.refresh_from_db()
    assert user.email == "new@example.org"


@pytest.mark.django_db
@pytest.mark.usefixtures("immediate_tasks")
def test_probe_send_the_verification_link_again_twice_mails_two_links_that_both_work():
    """ "Send the link again" pressed twice: two mails, either link confirms (the other then says
    confirmed already)."""
    user = make_customer(email="unverified@example.org", email_verified_at=None)
    client = signed_in(user, FIREFOX)
    send = reverse("accounts:email_verification_send")
    assert client.post(send).status_code == 302 and client.post(send).status_code == 302
    first, second = links_to("unverified@example.org", VERIFY_LINK)
    assert "Confirm my address" in client.get(first).content.decode()
    assert "Confirm my address" in client.get(second).content.decode()
    assert client.post(second).status_code == 302
    assert b"confirmed already" in client.get(first).content
    user.refresh_from_db()
    assert user.email_verified_at is not None


@pytest.mark.django_db
@pytest.mark.usefixtures("immediate_tasks")
@pytest.mark.parametrize("used", [0, 1])
def test_probe_the_password_reset_sent_twice_mails_two_links_either_of_which_works(used):
    """the reset form sent twice mails two links; either one sets the password (once)."""
    user = make_customer(email="forgetful@example.org")
    client = Client()
    reset = reverse("accounts:password_reset")
    assert client.post(reset, {"email": user.email}).status_code == 302
    assert client.post(reset, {"email": user.email}).status_code == 302
    links = links_to("forgetful@example.org", RESET_LINK)
    assert len(links) == 2
    page = client.get(links[used], follow=True)
    form_url = page.redirect_chain[-1][0]
    response = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    other = Client().get(links[1 - used], follow=True)
    assert "new_password1" not in other.content.decode()  # the other is spent by the new password
