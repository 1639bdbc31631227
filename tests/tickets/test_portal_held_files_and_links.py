"""Kept files on the customer side: a double-clicked form with a kept file lands where the first did,
no files kept for visitors where visitors may send nothing, a kept file from another sign-in is named,
and what is kept per account is bounded; a made-up address-confirmation link tells nothing."""

import re
import uuid
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from helpdesk.services import site_configuration_update
from tests.factories import TeamFactory, make_customer, make_ticket
from tests.tickets.conftest import held_boxes, submission
from tickets.attachments import HELD_GONE
from tickets.models import Attachment, HeldUpload, Ticket, TicketMessage

pytestmark = pytest.mark.django_db

SUBMIT = reverse("tickets:portal_submit")


def held_tokens(response) -> list[str]:
    return [token for token, _ in held_boxes(response).values()]


def test_a_double_clicked_submission_with_a_kept_file_lands_on_the_first_ticket(client):
    """A submission sent twice (double click, retried request) lands on the ticket the first one made,
    as the view promises; with a kept (held) file the second sending must not come back at 422 saying
    the file is "no longer kept: choose it again" (which leads the customer to send a second ticket)."""
    client.force_login(make_customer())
    [token] = held_tokens(
        client.post(SUBMIT, submission(subject="", attachments=[SimpleUploadedFile("a.txt", b"x")]))
    )
    data = submission(held=[token])
    first = client.post(SUBMIT, data)
    assert first.status_code == 302
    again = client.post(SUBMIT, data)
    assert HELD_GONE.format(name="a.txt") not in unescape(again.content.decode())
    assert again.status_code == 302 and again["Location"] == first["Location"]
    assert Ticket.objects.count() == 1 and Attachment.objects.count() == 1


def test_a_double_clicked_reply_with_a_kept_file_stands_as_sent(client):
    """The same reply form sent twice is one message (submission_key): with a kept file the second
    sending must not come back at 422 telling the customer to choose the file again."""
    customer = make_customer()
    ticket = make_ticket(customer, team=TeamFactory())
    client.force_login(customer)
    url = reverse("tickets:portal_reply", args=[ticket.number])
    [token] = held_tokens(client.post(url, {"body": " ", "attachments": [SimpleUploadedFile("a.txt", b"x")]}))
    data = {"body": "Here it is", "held": [token], "submission_key": str(uuid.uuid4())}
    assert client.post(url, data).status_code == 302
    again = client.post(url, data)
    assert HELD_GONE.format(name="a.txt") not in unescape(again.content.decode())
    assert again.status_code == 302
    assert TicketMessage.objects.filter(body="Here it is").count() == 1 and Attachment.objects.count() == 1


def test_no_files_are_kept_for_visitors_when_anonymous_submission_is_off(client):
    """With anonymous submission switched off a visitor can never send a form, so nothing they post may
    be kept on the server: otherwise anyone on the internet makes the server store files (10 per
    request, a day each) on a site that takes no anonymous requests at all."""
    site_configuration_update(changes={"anonymous_submission": False}, actor=None)
    response = client.post(
        SUBMIT,
        submission(name="Vi", email="vi@example.com", attachments=[SimpleUploadedFile("a.txt", b"x")]),
    )
    assert response.status_code == 422
    assert not HeldUpload.objects.exists()


def test_a_kept_file_is_not_dropped_unsaid_when_the_session_ends(client):
    """A customer's kept file whose session ended (anonymous submission on, so the visitor form comes
    back) must not silently vanish: the page still offers it or says it is no longer kept."""
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    client.force_login(make_customer())
    [token] = held_tokens(
        client.post(SUBMIT, submission(subject="", attachments=[SimpleUploadedFile("a.txt", b"x")]))
    )
    client.logout()
    response = client.post(SUBMIT, submission(held=[token]))
    assert response.status_code == 422
    assert "a.txt" in unescape(response.content.decode())


def test_a_made_up_verification_link_tells_nothing_about_the_account_it_names(client):
    """A link with a made-up token must answer alike whatever account its uid names: "This address is
    confirmed already" for one (without a valid token) tells a stranger which user ids exist and have a
    confirmed address."""
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    from accounts import services as account_services

    verified = make_customer()
    account_services.user_email_verify(verified, actor=verified)
    unverified = make_customer()

    def page(user) -> str:
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        response = client.get(reverse("accounts:email_verify", args=[uid, "made-up-token"]))
        # Without the CSRF token, which differs on every page anyway.
        return re.sub(
            r'"X-CSRFToken": "[^"]+"|name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode()
        )

    assert "confirmed already" not in page(verified)
    assert page(verified) == page(unverified)


def test_refused_replies_cannot_make_the_server_keep_files_without_bound(
    client, django_capture_on_commit_callbacks
):
    """A client that ignores the kept files and sends new ones with every refused reply (no rate
    limit on replies) does not grow what is kept for it without limit: at most HOLD_LIMIT, the
    newest."""
    from tickets.attachments import HOLD_LIMIT, MAX_FILES

    customer = make_customer()
    ticket = make_ticket(customer, team=TeamFactory())
    client.force_login(customer)
    url = reverse("tickets:portal_reply", args=[ticket.number])
    for _ in range(5):
        files = [SimpleUploadedFile(f"f{n}.txt", b"x") for n in range(MAX_FILES)]
        with django_capture_on_commit_callbacks(
            execute=True
        ):  # files removed once their rows' removal commits
            assert client.post(url, {"body": " ", "attachments": files}).status_code == 422
    kept = HeldUpload.objects.filter(held_for=customer)
    assert kept.count() == HOLD_LIMIT
    storage = kept.first().file.storage
    assert len(storage.listdir(kept.first().file.name.rsplit("/", 1)[0])[1]) == HOLD_LIMIT, "files too"


def test_refused_submissions_of_a_visitor_keep_files_within_the_same_bound(
    client, django_capture_on_commit_callbacks
):
    """A visitor (no account) whose form comes back again and again, new files each time, has at most
    HOLD_LIMIT kept for their browser, the newest, as an account has; another visitor's are untouched."""
    from django.test import Client

    from tickets.attachments import HOLD_LIMIT, MAX_FILES

    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    Client().post(
        reverse("tickets:portal_submit"),
        submission(
            subject="",
            name="Other",
            email="other@example.org",
            attachments=[SimpleUploadedFile("o.txt", b"o")],
        ),
    )
    for round_ in range(HOLD_LIMIT // MAX_FILES + 2):
        files = [SimpleUploadedFile(f"r{round_}-{n}.txt", b"x") for n in range(MAX_FILES)]
        data = submission(subject="", name="Vera", email=f"v{round_}@example.org", attachments=files)
        with django_capture_on_commit_callbacks(execute=True):
            assert client.post(reverse("tickets:portal_submit"), data).status_code == 422
    mine = HeldUpload.objects.exclude(filename="o.txt")
    assert mine.count() == HOLD_LIMIT and len({held.held_for_visitor for held in mine}) == 1
    assert not mine.filter(filename__startswith="r0-").exists(), "the oldest went first"
    assert HeldUpload.objects.filter(filename="o.txt").exists()
