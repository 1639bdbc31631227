"""Password reset: the page does the same work for every address (the mail is a background task), so its
timing tells nobody who has an account; a completed reset verifies the address the link was sent to."""

import re

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from accounts.models import User
from audit.models import AuditEvent
from helpdesk.services import site_configuration_update
from tests.factories import make_customer

pytestmark = pytest.mark.django_db

RESET = reverse("accounts:password_reset")
LINK = re.compile(r"http://testserver(/accounts/reset/\S+/)")
NEW_PASSWORD = "a-fresh-long-passphrase"


def statements(email: str) -> list[str]:
    """The SQL the reset page runs for `email`, with the values left out."""
    with CaptureQueriesContext(connection) as queries:
        response = Client().post(RESET, {"email": email})
    assert response.status_code == 302
    # Now and then a rate-limit check also prunes old counters, whatever the address: not part of the answer.
    sql = [query["sql"] for query in queries if "DELETE FROM helpdesk_ratelimitcounter" not in query["sql"]]
    return [re.sub(r"'[^']*'|\b\d+\b", "?", statement) for statement in sql]


def test_the_reset_page_runs_the_same_statements_for_a_known_and_an_unknown_address():
    make_customer(email="known@example.org")
    known, unknown = statements("known@example.org"), statements("nobody@example.org")
    assert known == unknown
    assert not any("accounts_user" in statement for statement in known)  # the look-up is the task's


def test_the_reset_mail_is_left_to_a_background_task_whose_arguments_hold_no_link():
    make_customer(email="known@example.org")
    Client().post(RESET, {"email": "known@example.org"})
    assert mail.outbox == []
    task = DBTaskResult.objects.get()
    assert task.task_path == "accounts.tasks.send_password_reset_mail"
    arguments = {"args": ["known@example.org"], "kwargs": {"domain": "testserver", "use_https": False}}
    assert task.args_kwargs == arguments


def reset_through_the_mailed_link(client: Client, email: str) -> None:
    client.post(RESET, {"email": email})
    (message,) = mail.outbox
    page = client.get(LINK.search(message.body).group(1), follow=True)
    form_url = page.redirect_chain[-1][0]
    response = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302


@pytest.mark.usefixtures("immediate_tasks")
def test_the_task_mails_a_working_link_to_a_known_address_only(client):
    user = make_customer(email="known@example.org")
    client.post(RESET, {"email": "nobody@example.org"})
    assert mail.outbox == []
    reset_through_the_mailed_link(client, "Known@Example.org")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


@pytest.mark.usefixtures("immediate_tasks")
def test_a_reset_through_the_mailed_link_verifies_the_address(client):
    user = make_customer(email="self-made@example.org")  # open sign-up: the address was never checked
    assert user.email_verified_at is None
    reset_through_the_mailed_link(client, user.email)
    user.refresh_from_db()
    assert user.email_verified_at is not None
    event = AuditEvent.objects.get(action="email_verified")
    assert (event.actor, event.object_id) == (user, str(user.pk))
    assert AuditEvent.objects.filter(action="password_change", actor=user).exists()


@pytest.mark.usefixtures("immediate_tasks")
def test_a_reset_keeps_an_earlier_verification(client):
    user = make_customer(email="verified@example.org")
    User.objects.filter(pk=user.pk).update(email_verified_at="2026-01-05T09:00:00Z")
    reset_through_the_mailed_link(client, user.email)
    user.refresh_from_db()
    assert user.email_verified_at.isoformat() == "2026-01-05T09:00:00+00:00"
    assert not AuditEvent.objects.filter(action="email_verified").exists()


def test_the_reset_mail_names_the_site_as_configured_and_the_form_says_e_mail_address(immediate_tasks):
    site_configuration_update(changes={"site_name": "Acme Support"}, actor=None)
    make_customer(email="known@example.org")
    page = Client().get(RESET).content.decode()
    assert '<label for="id_email">E-mail address' in page
    Client().post(RESET, {"email": "known@example.org"})
    (message,) = mail.outbox
    assert message.subject == "Choose a new password for Acme Support"
    assert "testserver" not in message.subject


def test_the_link_lifetime_the_page_and_the_mail_give_follows_the_setting(client, immediate_tasks, settings):
    make_customer(email="known@example.org")
    settings.PASSWORD_RESET_TIMEOUT = 2 * 60 * 60
    response = client.post(RESET, {"email": "known@example.org"}, follow=True)
    assert b"It works once and expires after 2 hours." in response.content
    (message,) = mail.outbox
    assert "The link works once and expires after 2 hours." in message.body


@pytest.mark.django_db(transaction=True)
def test_a_reset_link_sent_from_two_tabs_at_once_sets_one_password():
    """The link works once even when two tabs (or a forwarded copy) send it at the same moment: the
    second, checked against the password the first had not yet committed, is refused as no longer
    valid once it gets the row, and the first password stands."""
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    from tests.concurrency import run_while_another_transaction_waits
    from tests.factories import ensure_roles

    ensure_roles()
    user = make_customer(email="twotabs@example.org")
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    link = reverse("accounts:password_reset_confirm", args=[uid, default_token_generator.make_token(user)])
    first, second = Client(), Client()
    forms = [first.get(link)["Location"], second.get(link)["Location"]]
    answers = {}

    def send(client, url, password):
        answers[password] = client.post(url, {"new_password1": password, "new_password2": password})

    run_while_another_transaction_waits(
        lambda: send(first, forms[0], "first-tab-passphrase-1"),
        lambda: send(second, forms[1], "second-tab-passphrase-2"),
    )
    assert answers["first-tab-passphrase-1"].status_code == 302
    refused = answers["second-tab-passphrase-2"]
    assert refused.status_code == 422 and not refused.context["validlink"]
    user.refresh_from_db()
    assert user.check_password("first-tab-passphrase-1")


def test_signing_in_buys_no_more_reset_mails_to_someone_elses_address():
    """The per-address limit on reset mails (3 an hour) stops a mailbox being flooded: each account the
    sender signs in to counts against the address all the same."""
    make_customer(email="victim@example.org")
    answers = []
    for sender in [make_customer() for _ in range(4)]:
        browser = Client()
        browser.force_login(sender)
        answers.append(browser.post(RESET, {"email": "victim@example.org"}).status_code)
    assert answers == [302, 302, 302, 429]
