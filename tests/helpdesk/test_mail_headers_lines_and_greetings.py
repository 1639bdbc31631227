"""Every mail the helpdesk sends (password reset, address confirmation, address-change link, notice of an
address change, invitation, receipt of an anonymous submission), read as a mail administrator and as the
person who receives it: headers, lines, greetings, links, and what a failure or a rollback leaves."""

import logging
import re
import uuid
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from django.core import mail
from django.db import transaction
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts import services as account_services
from accounts import tasks as account_tasks
from accounts.models import EmailChangeRequest
from helpdesk.services import site_configuration_update
from tests.factories import (
    TEST_PASSWORD,
    InvitationFactory,
    OrganizationFactory,
    make_administrator,
    make_customer,
)
from tickets import services as ticket_services
from tickets import tasks as ticket_tasks

pytestmark = pytest.mark.django_db

SITE = {"domain": "help.example.com", "use_https": True}
LINK = re.compile(r"https?://\S+")


def every_mail(*, name: str = "Anna Berg", inviter: str = "Zoë Admin", organisation: str = "Acme") -> dict:
    """Each of the six mails the site sends, sent once through the tasks as the worker runs them: name →
    the EmailMessage in django.core.mail.outbox."""
    mail.outbox.clear()
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    sent = {}
    anna = make_customer(email="anna@example.org", name=name, email_verified_at=timezone.now())
    account_tasks.send_password_reset_mail.call(anna.email, **SITE)
    sent["password reset"] = mail.outbox[-1]
    bob = make_customer(email="bob@example.org", name="Bob Stone")
    account_tasks.send_email_verification_mail.call(bob.pk, **SITE)
    sent["address confirmation"] = mail.outbox[-1]
    account_services.user_email_change_request(
        anna, new_email="anna.berg@example.net", password=TEST_PASSWORD, actor=anna, **SITE
    )
    account_tasks.send_email_change_mail.call(EmailChangeRequest.objects.get(user=anna).pk, **SITE)
    sent["address change link"] = mail.outbox[-1]
    account_tasks.send_email_changed_notice.call(anna.pk, "old.anna@example.org", greet_by_name=True)
    sent["address changed notice"] = mail.outbox[-1]
    invitation = InvitationFactory(
        email="new@example.org",
        organization=OrganizationFactory(name=organisation),
        created_by=make_administrator(name=inviter),
        expires_at=timezone.now() + timedelta(days=7),
    )
    account_tasks.send_invitation_mail.call(invitation.pk, **SITE)
    sent["invitation"] = mail.outbox[-1]
    ticket = ticket_services.ticket_submit_anonymous(
        email="anna@example.org", name=name, subject="Printer jam", description="Paper stuck."
    )
    ticket_tasks.send_submission_receipt.call(
        ticket.pk,
        portal_url=f"https://help.example.com{reverse('tickets:portal_detail', args=[ticket.number])}",
        reset_url=f"https://help.example.com{reverse('accounts:password_reset')}",
    )
    sent["receipt"] = mail.outbox[-1]
    assert len(mail.outbox) == 6, [m.subject for m in mail.outbox]
    return sent


def wire(message) -> "email.message.EmailMessage":  # noqa: F821
    """The message as a mail server receives it, parsed back as a mail client reads it."""
    return message_from_bytes(message.message().as_bytes(), policy=policy.default)


def test_automatic_mails_say_so_with_auto_submitted():
    """A mail administrator expects mail a program sends on its own (a reset link, a receipt, a notice) to
    carry `Auto-Submitted: auto-generated` (RFC 3834), so that a recipient's out-of-office or
    autoresponder does not answer it, and a helpdesk's own inbound rules do not loop (none carried it)."""
    missing = [kind for kind, message in every_mail().items() if wire(message)["Auto-Submitted"] is None]
    assert missing == []


def test_plain_text_mails_read_at_78_columns():
    """Someone reading the mail in a plain-text client (or a terminal, or a screen reader's line view)
    expects lines of prose of at most 78 characters, as RFC 5322 recommends, with links on lines of their
    own. The templates' prose was broken by hand at about 100 columns: an 80-column reader wrapped each
    long line again, leaving a ragged short line after it."""
    too_long = {}
    for kind, message in every_mail().items():
        prose = [line for line in message.body.splitlines() if len(line) > 78 and not LINK.fullmatch(line)]
        if prose:
            too_long[kind] = prose
    assert too_long == {}, "\n".join(
        f"{kind}: {len(line)}: {line}" for kind, lines in too_long.items() for line in lines
    )


@pytest.mark.parametrize(
    ("name", "short"),
    [("Berg, Anna", "Anna"), ("O'Neil, Seán", "Seán"), ("Anna Berg, PhD", "Anna"), ("King, Jr.", "King"),
     ("Anna,", "Anna"), (",", "anna@example.org"), ("   ", "anna@example.org"), ("Anna Berg", "Anna")],
)  # fmt: skip
def test_the_short_name_greetings_and_the_menu_use(name, short):
    """ "Berg, Anna" (a directory's way) is Anna; "Anna Berg, PhD" is Anna too, not "PhD"."""
    assert make_customer(email="anna@example.org", name=name).get_short_name() == short


def test_a_name_written_surname_comma_given_is_not_greeted_with_a_double_comma():
    """Directory names are often written "Berg, Anna". A confirmed customer of that name expects "Hello
    Anna,"; every greeting by name read "Hello Berg,,": the short name was the first word, comma included."""
    sent = every_mail(name="Berg, Anna")
    greetings = {kind: message.body.splitlines()[0] for kind, message in sent.items()}
    assert not [greeting for greeting in greetings.values() if ",," in greeting], greetings
    assert greetings["password reset"] == "Hello Anna,"


def test_the_address_changed_notice_says_how_to_reach_the_support_team():
    """The owner whose account was moved to a stranger's address can no longer sign in: the notice says
    what to do, reply to it (DEFAULT_FROM_EMAIL is a mailbox someone reads, .env.example says)."""
    notice = every_mail()["address changed notice"]
    assert "reply to this e-mail at once" in " ".join(notice.body.split())


def test_every_mail_has_date_message_id_from_and_a_bare_recipient():
    """Date and Message-ID present; From is DEFAULT_FROM_EMAIL; To is the bare address (no name, so no
    name to quote or inject through)."""
    for kind, message in every_mail().items():
        parsed = wire(message)
        assert parsed["Date"] and parsed["Message-ID"], kind
        assert parsed["From"] == "Helpdesk <helpdesk@localhost>", kind
        assert len(message.to) == 1 and "<" not in parsed["To"] and "," not in parsed["To"], kind


def test_subjects_say_what_the_mail_is_and_stay_on_one_line():
    subjects = {kind: message.subject for kind, message in every_mail().items()}
    assert subjects == {
        "password reset": "Choose a new password for Helpdesk",
        "address confirmation": "Confirm your e-mail address for Helpdesk",
        "address change link": "Confirm your new e-mail address for Helpdesk",
        "address changed notice": "Your e-mail address for Helpdesk was changed",
        "invitation": "Your invitation to Helpdesk",
        "receipt": f"[{ticket_services.Ticket.objects.get().reference}] Helpdesk received your request",
    }


def test_site_names_with_quotes_commas_line_breaks_and_accents_inject_no_header(settings):
    """A site name 'Café "Nord", Inc.\\r\\nBcc: x@evil.example' and an accented sender name (quoted, as
    an address's display name must be) go out as encoded words: every header line is ASCII, no Bcc
    appears, and a client reads the names back as typed."""
    settings.DEFAULT_FROM_EMAIL = '"Assistance Café \\"Nord\\", Inc." <aide@example.fr>'
    site_configuration_update(changes={"site_name": 'Café "Nord", Inc.\r\nBcc: x@evil.example'}, actor=None)
    for kind, message in every_mail().items():
        raw = message.message().as_bytes()
        head = raw.split(b"\n\n", 1)[0]
        head.decode("ascii")  # encoded words only
        parsed = message_from_bytes(raw, policy=policy.default)
        assert parsed["Bcc"] is None and "\n" not in str(parsed["Subject"]), kind
        assert parsed["From"].addresses[0].display_name == 'Assistance Café "Nord", Inc.', kind
        assert parsed["From"].addresses[0].addr_spec == "aide@example.fr", kind
        assert 'Café "Nord", Inc. Bcc: x@evil.example' in parsed["Subject"], kind


def test_a_visitors_subject_with_line_breaks_never_reaches_the_receipt():
    """The receipt of a request sent without signing in names it by its reference, never by the subject
    the visitor typed (to a confirmed address too), so a subject posted with CR/LF or a Bcc line splits
    no header and sends no words of the visitor's by the site's mail."""
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    verified = make_customer(email="carla@example.org", email_verified_at=timezone.now())
    ticket = ticket_services.ticket_submit_anonymous(
        email=verified.email, name="Carla", subject="Help\r\nBcc: x@evil.example", description="x"
    )
    ticket_tasks.send_submission_receipt.call(ticket.pk, portal_url="https://h/p", reset_url="https://h/r")
    (receipt,) = mail.outbox
    assert message_from_bytes(receipt.message().as_bytes(), policy=policy.default)["Bcc"] is None
    assert receipt.subject == f"[{ticket.reference}] Helpdesk received your request"
    assert "Bcc" not in receipt.body and "evil" not in receipt.body


def test_no_html_escaping_artefacts_in_plain_text():
    sent = every_mail(inviter="Seán O'Brien & Co", organisation="Smith & Sons <UK>")
    site_body = sent["invitation"].body
    assert "Seán O'Brien & Co invites you" in site_body and "member of Smith & Sons <UK>" in site_body
    for kind, message in sent.items():
        assert not re.search(r"&(amp|lt|gt|quot|#x?[0-9a-f]+);", message.body + message.subject), kind


def test_links_go_to_site_url_whatever_host_the_request_named(client, settings, immediate_tasks):
    settings.SITE_URL = "https://help.example.com"
    settings.ALLOWED_HOSTS = ["help.example.com", ".evil.example"]
    make_customer(email="anna@example.org")
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(
            reverse("accounts:password_reset"), {"email": "anna@example.org"}, HTTP_HOST="x.evil.example"
        )
        client.post(
            reverse("tickets:portal_submit"),
            {
                "name": "Vi",
                "email": "vi@example.org",
                "subject": "Help",
                "description": "Please",
                "submission_key": str(uuid.uuid4()),
            },
            HTTP_HOST="x.evil.example",
        )
    assert len(mail.outbox) == 2
    for message in mail.outbox:
        links = LINK.findall(message.body)
        assert links and all(link.startswith("https://help.example.com/") for link in links), message.body


def test_link_lifetimes_are_stated_and_no_secret_is_mailed():
    sent = every_mail()
    for kind in ("password reset", "address confirmation", "address change link"):
        assert "expires after a day" in " ".join(sent[kind].body.split()), kind
    assert re.search(r"The invitation expires on \d+ \w+ \d{4}, \d\d:\d\d UTC\.", sent["invitation"].body)
    for kind, message in sent.items():
        assert TEST_PASSWORD not in message.body, kind
        addresses = set(re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", message.body))
        # Only the recipient's own addresses: the notice names old and new (that is what it is for).
        assert addresses <= {"anna@example.org", "bob@example.org", "new@example.org",
                             "anna.berg@example.net", "old.anna@example.org"}, kind  # fmt: skip
        assert "email" not in LINK.sub("", message.body).replace("e-mail", "").lower(), kind


def test_a_rolled_back_action_mails_nothing():
    """Invitations and address-change links are enqueued with on_commit: an action rolled back (a later
    step failing) leaves no task and sends no mail."""
    anna = make_customer(email="anna@example.org")
    invitation = InvitationFactory(email="new@example.org", created_by=make_administrator())
    with (
        TestCase.captureOnCommitCallbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        account_services.invitation_mail(invitation, actor=None, **SITE)
        account_services.user_email_change_request(
            anna, new_email="anna@example.net", password=TEST_PASSWORD, actor=anna, **SITE
        )
        raise RuntimeError("a later step fails")
    assert callbacks == [] and mail.outbox == []
    assert not DBTaskResult.objects.exists()


def test_a_mail_server_that_is_down_leaves_the_action_done_and_logs_it(client, monkeypatch, caplog):
    """The profile's address change, with the real (stored) task backend, answers as usual and keeps the
    request; the worker, refused by the mail server, logs a warning naming what it could not send and
    tries again later."""
    anna = make_customer(email="anna@example.org")
    client.force_login(anna)

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr("django.core.mail.message.EmailMessage.send", refuse)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            reverse("accounts:profile"),
            {"change_email": "1", "email": "anna@example.net", "password": TEST_PASSWORD},
        )
    assert response.status_code == 302 and EmailChangeRequest.objects.filter(user=anna).exists()
    (stored,) = DBTaskResult.objects.filter(task_path="accounts.tasks.send_email_change_mail")
    with caplog.at_level(logging.WARNING, logger="helpdesk.mail"):
        sent = account_tasks.send_email_change_mail.call(
            *stored.args_kwargs["args"], **stored.args_kwargs["kwargs"]
        )
    assert sent is False
    assert "Could not send an address change link; will try again" in caplog.text
    assert DBTaskResult.objects.filter(task_path="accounts.tasks.send_email_change_mail").count() == 2
