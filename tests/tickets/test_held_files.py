"""Files sent with a form that comes back (invalid, stale, refused) are kept for their sender, offered
ticked, and sent with the corrected form: nothing chosen is lost, and nobody else can send them."""

import os
import time
from datetime import timedelta
from html import unescape

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from helpdesk.services import site_configuration_update
from tests.factories import PNG, TeamFactory, make_agent, make_customer, make_ticket
from tests.tickets.conftest import held_boxes, submission
from tickets import attachments
from tickets.attachments import HELD_ELSEWHERE, HELD_EXPIRED, HELD_GONE, TOO_MANY
from tickets.forms import FILES_BEYOND_LIMIT, FILES_NOT_KEPT, NAMES_SHOWN
from tickets.models import Attachment, HeldUpload, Ticket, TicketMessage

pytestmark = pytest.mark.django_db

SUBMIT = reverse("tickets:portal_submit")


def stored(attachment: Attachment) -> bytes:
    with attachment.file.open("rb") as handle:
        return handle.read()


def test_a_submission_that_comes_back_keeps_its_good_files_and_sends_them_next_time(client):
    customer = make_customer()
    client.force_login(customer)
    files = [SimpleUploadedFile("shot.png", PNG), SimpleUploadedFile("page.html", b"<script>x</script>")]
    response = client.post(SUBMIT, submission(subject="", attachments=files))
    page = unescape(response.content.decode())
    assert response.status_code == 422
    assert "page.html is not an allowed type of file" in page, "the refused file is named"
    boxes = held_boxes(response)
    assert list(boxes) == ["shot.png (56 bytes)"] and boxes["shot.png (56 bytes)"][1], "kept and ticked"
    held = HeldUpload.objects.get()
    assert held.held_for == customer

    token = boxes["shot.png (56 bytes)"][0]
    response = client.post(SUBMIT, submission(held=[token]))
    assert response.status_code == 302
    attachment = Attachment.objects.get()
    assert attachment.owner.ticket == Ticket.objects.get()
    assert (attachment.filename, attachment.content_type, attachment.size) == ("shot.png", "image/png", 56)
    assert stored(attachment) == PNG and attachment.file.name == held.file.name, "handed over, not copied"
    assert not HeldUpload.objects.exists()


def test_kept_files_go_with_new_ones_and_an_unticked_one_stays_behind(client):
    client.force_login(make_customer())
    first = client.post(
        SUBMIT,
        submission(
            subject="", attachments=[SimpleUploadedFile("a.txt", b"one"), SimpleUploadedFile("b.txt", b"two")]
        ),
    )
    boxes = held_boxes(first)
    # Only a.txt stays ticked; a new file comes along; the form fails again (no description).
    second = client.post(
        SUBMIT,
        submission(
            description="",
            held=[boxes["a.txt (3 bytes)"][0]],
            attachments=[SimpleUploadedFile("c.txt", b"three")],
        ),
    )
    assert second.status_code == 422
    assert sorted(held_boxes(second)) == ["a.txt (3 bytes)", "c.txt (5 bytes)"]
    tokens = [token for token, _ in held_boxes(second).values()]
    assert client.post(SUBMIT, submission(held=tokens)).status_code == 302
    assert sorted(Attachment.objects.values_list("filename", flat=True)) == ["a.txt", "c.txt"]
    assert list(HeldUpload.objects.values_list("filename", flat=True)) == ["b.txt"], "left for the sweep"


def test_a_kept_file_is_sent_once_and_a_second_form_naming_it_is_told(client):
    client.force_login(make_customer())
    token = held_boxes(
        client.post(SUBMIT, submission(subject="", attachments=[SimpleUploadedFile("a.txt", b"x")]))
    )
    token = token["a.txt (1 byte)"][0]
    assert client.post(SUBMIT, submission(held=[token])).status_code == 302
    again = client.post(SUBMIT, submission(subject="Another", held=[token]))
    assert again.status_code == 422
    assert HELD_GONE.format(name="a.txt") in unescape(again.content.decode())
    assert Ticket.objects.count() == 1 and Attachment.objects.count() == 1


def test_another_account_cannot_send_a_file_kept_for_someone_else(client):
    owner, other = make_customer(), make_customer()
    client.force_login(owner)
    boxes = held_boxes(
        client.post(
            SUBMIT, submission(subject="", attachments=[SimpleUploadedFile("pay.pdf", b"%PDF-1.4 x")])
        )
    )
    token = boxes["pay.pdf (10 bytes)"][0]
    client.force_login(other)
    response = client.post(SUBMIT, submission(held=[token]))
    assert response.status_code == 422 and HELD_ELSEWHERE.format(name="pay.pdf") in unescape(
        response.content.decode()
    )
    assert not Attachment.objects.exists() and not Ticket.objects.exists(), "not theirs"
    assert HeldUpload.objects.get().held_for == owner


def test_a_visitors_kept_file_is_not_an_accounts(client):
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    visitor = {"name": "Vi", "email": "vi@example.com"}
    boxes = held_boxes(
        client.post(
            SUBMIT, submission(subject="", attachments=[SimpleUploadedFile("a.txt", b"x")], **visitor)
        )
    )
    token = boxes["a.txt (1 byte)"][0]
    assert HeldUpload.objects.get().held_for is None
    customer = Client()
    customer.force_login(make_customer())
    customer.post(SUBMIT, submission(held=[token]))
    assert not Attachment.objects.exists()
    # Nor another visitor's, who copied the token: the visitor's browser session is part of it.
    Client().post(SUBMIT, submission(held=[token], name="Mallory", email="mallory@example.com"))
    assert not Attachment.objects.exists()
    assert client.post(SUBMIT, submission(held=[token], **visitor)).status_code == 302
    assert Attachment.objects.get().filename == "a.txt"


def test_an_altered_token_is_no_file(client):
    client.force_login(make_customer())
    boxes = held_boxes(
        client.post(SUBMIT, submission(subject="", attachments=[SimpleUploadedFile("a.txt", b"x")]))
    )
    token = boxes["a.txt (1 byte)"][0]
    assert client.post(SUBMIT, submission(held=[token[:-2] + "xx", "junk"])).status_code == 302
    assert not Attachment.objects.exists()


def test_kept_files_wait_a_day_then_the_form_says_to_choose_them_again(
    client, clock, django_capture_on_commit_callbacks
):
    client.force_login(make_customer())
    boxes = held_boxes(
        client.post(SUBMIT, submission(subject="", attachments=[SimpleUploadedFile("a.txt", b"x")]))
    )
    held = HeldUpload.objects.get()
    storage = held.file.storage
    assert attachments.held_remove() == 0
    clock.shift(attachments.HOLD_FOR + timedelta(minutes=1))
    response = client.post(SUBMIT, submission(held=[boxes["a.txt (1 byte)"][0]]))
    assert response.status_code == 422 and HELD_EXPIRED in unescape(response.content.decode())
    assert not Ticket.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):  # the files go once the rows' removal commits
        assert attachments.held_remove() == 1
    assert not HeldUpload.objects.exists() and not storage.exists(held.file.name)


def test_the_orphan_sweep_leaves_kept_files_alone(client, clock):
    client.force_login(make_customer())
    client.post(SUBMIT, submission(subject="", attachments=[SimpleUploadedFile("a.txt", b"x")]))
    held = HeldUpload.objects.get()
    clock.shift(attachments.ORPHAN_GRACE + timedelta(minutes=5))
    assert attachments.orphans_remove() == []
    assert held.file.storage.exists(held.file.name)


def test_kept_and_new_files_together_count_towards_the_limit(client):
    client.force_login(make_customer())
    files = [SimpleUploadedFile(f"f{n}.txt", b"x") for n in range(attachments.MAX_FILES)]
    boxes = held_boxes(client.post(SUBMIT, submission(subject="", attachments=files)))
    assert len(boxes) == attachments.MAX_FILES
    tokens = [token for token, _ in boxes.values()]
    response = client.post(
        SUBMIT, submission(held=tokens, attachments=[SimpleUploadedFile("one-more.txt", b"x")])
    )
    assert response.status_code == 422
    assert TOO_MANY.format(limit=attachments.MAX_FILES) in unescape(response.content.decode())
    assert len(held_boxes(response)) == attachments.MAX_FILES, "no more kept than a form may send"


def test_the_files_past_the_limit_are_named_and_a_refused_one_takes_no_room(client):
    """Twelve files chosen, one of them a page the portal refuses: the refused one says why, the first
    ten good ones are kept and the eleventh good one is named as not kept, so the customer knows which
    to choose again."""
    client.force_login(make_customer())
    files = [SimpleUploadedFile("page.html", b"<script>x</script>")]
    files += [SimpleUploadedFile(f"f{n:02}.txt", b"x") for n in range(attachments.MAX_FILES + 1)]
    response = client.post(SUBMIT, submission(attachments=files))
    page = unescape(response.content.decode())
    assert response.status_code == 422
    assert "page.html is not an allowed type of file" in page
    assert [label.split(" ")[0] for label in held_boxes(response)] == [f"f{n:02}.txt" for n in range(10)]
    assert FILES_BEYOND_LIMIT.format(limit=attachments.MAX_FILES, names="f10.txt") in page


def test_a_folder_of_files_past_the_limit_is_named_in_short(client):
    client.force_login(make_customer())
    count = attachments.MAX_FILES + NAMES_SHOWN + 5
    files = [SimpleUploadedFile(f"shot-{n:03}.txt", b"x") for n in range(count)]
    page = unescape(client.post(SUBMIT, submission(attachments=files)).content.decode())
    named = ", ".join(f"shot-{n:03}.txt" for n in range(10, 10 + NAMES_SHOWN))
    assert FILES_BEYOND_LIMIT.format(limit=attachments.MAX_FILES, names=f"{named}, and 5 more") in page


def test_a_portal_reply_that_comes_back_keeps_its_file_with_and_without_htmx(client):
    customer = make_customer()
    ticket = make_ticket(customer, team=TeamFactory())
    client.force_login(customer)
    url = reverse("tickets:portal_reply", args=[ticket.number])
    for headers in ({}, {"HX-Request": "true"}):
        response = client.post(
            url, {"body": " ", "attachments": [SimpleUploadedFile("log.txt", b"trace")]}, headers=headers
        )
        assert response.status_code == 422
        token = held_boxes(response)["log.txt (5 bytes)"][0]
    response = client.post(url, {"body": "Here it is", "held": [token]})
    assert response.status_code == 302
    message = TicketMessage.objects.get(body="Here it is")
    assert [attachment.filename for attachment in Attachment.objects.all()] == ["log.txt"]
    assert Attachment.objects.get().owner == message


def test_an_agents_stale_reply_keeps_its_file_for_the_reply_sent_again(client):
    support = TeamFactory()
    agent = make_agent(support)
    ticket = make_ticket(make_customer(), team=support)
    client.force_login(agent)
    url = reverse("tickets:desk_reply", args=[ticket.number])
    stale = {"kind": "reply", "body": "Try this", "version": ticket.version + 7}
    response = client.post(url, {**stale, "attachments": SimpleUploadedFile("fix.txt", b"steps")})
    assert response.status_code == 422
    token = held_boxes(response)["fix.txt (5 bytes)"][0]
    ticket.refresh_from_db()
    response = client.post(
        url, {"kind": "reply", "body": "Try this", "version": ticket.version, "held": token}
    )
    assert response.status_code == 302
    attachment = Attachment.objects.get()
    assert attachment.owner.body == "Try this" and stored(attachment) == b"steps"


def test_a_customers_session_that_ended_keeps_no_files_and_says_so(client):
    customer = make_customer()
    client.force_login(customer)
    client.logout()
    response = client.post(SUBMIT, submission(attachments=[SimpleUploadedFile("a.txt", b"x")]))
    assert response.status_code == 422
    assert "Files cannot wait over a sign-in" in unescape(response.content.decode())
    assert not HeldUpload.objects.exists()


def test_a_submission_refused_for_sending_too_often_still_offers_the_kept_files(client, settings, clock):
    """Refused for volume (429), a form keeps no new files (that would let the refused sender fill the
    disk) and says so, but the files kept before stay ticked for the next sending."""
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "ticket_submit": ("2/m", "2/m")}
    client.force_login(make_customer())
    boxes = held_boxes(
        client.post(SUBMIT, submission(subject="", attachments=[SimpleUploadedFile("a.txt", b"x")]))
    )
    token = boxes["a.txt (1 byte)"][0]
    for _ in range(2):  # two tickets sent within the minute (the refused sending above is not counted)
        assert client.post(SUBMIT, submission()).status_code == 302
    more = [SimpleUploadedFile("b.txt", b"y")]
    response = client.post(SUBMIT, submission(held=[token], attachments=more))
    assert response.status_code == 429
    assert list(held_boxes(response)) == ["a.txt (1 byte)"]
    assert FILES_NOT_KEPT in unescape(response.content.decode())
    assert list(HeldUpload.objects.values_list("filename", flat=True)) == ["a.txt"]


def test_the_orphan_sweep_goes_on_past_a_file_removed_while_it_runs(monkeypatch):
    """A file deleted between the folder's listing and its age check (a held file discarded, the hourly
    held-file sweep on another worker) is already gone: the sweep removes the other orphans."""
    storage = Attachment._meta.get_field("file").storage
    folder = f"attachments/{timezone.now():%Y/%m}"
    orphan = storage.save(f"{folder}/orphan", ContentFile(b"left by a rollback"))
    vanishing = storage.save(f"{folder}/vanishing", ContentFile(b"held, deleted meanwhile"))
    old = time.time() - 3 * 3600
    for name in (orphan, vanishing):
        os.utime(storage.path(name), (old, old))
    listdir = storage.listdir

    def listdir_then_another_worker_deletes(path):
        listing = listdir(path)
        if path == folder and storage.exists(vanishing):
            storage.delete(vanishing)
        return listing

    monkeypatch.setattr(storage, "listdir", listdir_then_another_worker_deletes)
    assert attachments.orphans_remove() == [orphan]
    assert not storage.exists(orphan)
