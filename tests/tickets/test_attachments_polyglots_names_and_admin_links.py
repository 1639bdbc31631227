"""Attachments and downloads: the type allow-list checked on content (polyglots, markup in text), file
names, the download view's headers and visibility, held files, limits, storage and sweeps."""

import os
import re
import uuid
from datetime import timedelta
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from tests.conftest import made_once_per_module
from tests.factories import GIF, PDF, PNG, OrganizationFactory, make_administrator, make_customer, make_ticket
from tests.tickets import conftest as tickets_conftest
from tests.tickets.conftest import held_boxes, make_desk, reply_url, submission
from tickets import attachments, services
from tickets.attachments import SCAN_CHUNK, safe_filename
from tickets.models import Attachment, HeldUpload, Ticket

pytestmark = pytest.mark.django_db

_desk_rows, desk = made_once_per_module(make_desk, "desk")
desk = tickets_conftest.desk  # the tickets tests' fixture: two teams, their agents, a ticket

SUBMIT = reverse("tickets:portal_submit")


def dl(attachment) -> str:
    return reverse("tickets:attachment_download", args=[attachment.pk])


def text(response) -> str:
    return unescape(response.content.decode())


def submit(client, *files, **extra):
    customer = make_customer()
    client.force_login(customer)
    return customer, client.post(SUBMIT, submission(attachments=list(files), **extra))


# --- Type allow-list on content ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "page",
    [
        b"<svg onload=alert(document.domain)>",
        b"<img src=x onerror=alert(document.domain)>",
    ],
    ids=["svg-onload", "img-onerror"],
)
def test_a_gif_that_is_also_an_html_page_is_refused_whatever_the_tag(client, page):
    """A GIF with a page behind its signature (a polyglot) is refused: `GIF + <script>` is (BINARY_MARKUP),
    and so are `GIF + <svg onload=…>` and `GIF + <img onerror=…>`, which run script just as well when
    read as HTML (before the fix they were taken as image/gif)."""
    assert_gif_with_script_is_refused(client)  # the behaviour the module promises
    _, response = submit(client, SimpleUploadedFile("cat.gif", GIF + page), subject="Polyglot")
    assert response.status_code == 422, "a GIF that is also an HTML page was accepted"
    assert not Attachment.objects.filter(filename="cat.gif").exists()


def assert_gif_with_script_is_refused(client):
    _, response = submit(client, SimpleUploadedFile("dog.gif", GIF + b"<script>alert(1)</script>"))
    assert response.status_code == 422


@pytest.mark.parametrize(
    "markup",
    [
        b"Hover <b/onmouseover=alert(document.cookie)>here</b>",
        b"Click <a/href=javascript:alert(document.cookie)>here</a>",
        b'Click <a href="java\tscript:alert(document.cookie)">here</a>',
    ],
    ids=["slash-before-handler", "slash-before-javascript-link", "tab-inside-javascript-scheme"],
)
def test_markup_a_browser_acts_on_is_refused_in_a_text_file_however_it_is_spaced(client, markup):
    """TEXT_MARKUP is meant to refuse "an event handler, a javascript: link" anywhere in a .txt. Browsers
    accept `/` where a space separates a tag from its attributes, and drop tabs inside a URL scheme, so
    these are the same handler and link as `<b onmouseover=…>`, and refused as it is (before the fix
    they were taken as text/plain)."""
    _, refused = submit(client, SimpleUploadedFile("spaced.txt", b"Hover <b onmouseover=alert(1)>x</b>"))
    assert refused.status_code == 422  # the spaced spelling is refused
    _, response = submit(client, SimpleUploadedFile("notes.txt", markup), subject="Markup")
    assert response.status_code == 422, f"{markup!r} was taken as plain text"


def test_markup_that_straddles_the_scan_chunks_is_found_as_it_is_in_a_small_file(client):
    """_holds() reads in chunks that overlap, so a match that straddles two chunks is found too: the same
    `<b onclick … =alert(1)>` refused in a small .txt is refused across the 1 MB chunk boundary of a
    larger one (before the fix the 512-byte overlap was shorter than a match with its white space)."""
    markup = b"<b onclick" + b" " * 1000 + b"=alert(1)>x</b>"
    _, small = submit(client, SimpleUploadedFile("small.txt", b"hello\n" + markup))
    assert small.status_code == 422  # found in one chunk
    padding = b"a" * (SCAN_CHUNK - 600)
    big = padding + markup + b"\nend\n"
    assert len(big) < 10 * 1024 * 1024
    _, response = submit(client, SimpleUploadedFile("big.txt", big), subject="Big")
    assert response.status_code == 422, "markup across the chunk boundary was not found"


@pytest.mark.parametrize(
    ("name", "content"),
    [("shot.pdf", PNG), ("report.png", PDF), ("movie.gif", PDF), ("page.txt", b"<!DOCTYPE html><p>x")],
)
def test_content_that_is_not_what_its_name_says_is_refused_with_the_text_kept(client, name, content):
    """A PNG named .pdf, a PDF named .png, an HTML page named .txt come back 422, named, with the
    subject typed still there, and nothing is stored."""
    _, response = submit(client, SimpleUploadedFile(name, content), subject="Kept subject")
    assert response.status_code == 422
    page = text(response)
    assert name in page and 'value="Kept subject"' in page
    assert not Ticket.objects.exists() and not Attachment.objects.exists()


def test_every_refused_file_is_named_even_when_another_one_is_empty(client):
    """Several files go at once; one is empty, another an HTML page. Both are named at once. Before the
    fix AttachmentsForm.clean skipped the type checks once the field had an error, so the page only said
    the empty one was empty, and the HTML file was silently gone."""
    _, response = submit(
        client,
        SimpleUploadedFile("empty.txt", b""),
        SimpleUploadedFile("page.html", b"<html><script>alert(1)</script></html>"),
        SimpleUploadedFile("fine.png", PNG),
        subject="Two problems",
    )
    assert response.status_code == 422
    page = text(response)
    assert "empty.txt" in page
    assert len(held_boxes(response)) == 1  # fine.png is kept, ticked
    assert "page.html" in page, "the refused HTML file is dropped without a word"


def test_an_oversized_file_beside_an_empty_one_is_named_with_the_limit(client, settings):
    """Likewise, with an empty file in the sending, a file over the size limit is named as too large."""
    settings.ATTACHMENT_MAX_BYTES = 100
    _, response = submit(
        client, SimpleUploadedFile("empty.txt", b""), SimpleUploadedFile("huge.txt", b"a" * 101)
    )
    assert response.status_code == 422
    assert "huge.txt is 101" in text(response), "the too-large file is not named"


# --- Names -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["CON.txt", "com1.pdf"])
def test_windows_reserved_names_are_not_handed_back_as_they_are(name):
    """Safe_filename is what a download is named. On Windows, CON, NUL, AUX, PRN, COM1-9 and LPT1-9 (with
    any extension) are devices, not files: a name kept as `CON.txt` cannot be saved as such (or writes
    to the device): it is handed back as `_CON.txt`."""
    cleaned = safe_filename(name)
    stem = cleaned.split(".")[0].upper()
    assert stem not in {"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(1, 10)),
                        *(f"LPT{n}" for n in range(1, 10))}, cleaned  # fmt: skip


@pytest.mark.parametrize(
    ("uploaded", "expected"),
    [
        ("invoice\u202efdp.exe", None),  # RTL override: "invoiceexe.pdf" on screen, an .exe really
        ("folder/../../secret.pdf", "secret.pdf"),
        ("a\x00b.pdf", "ab.pdf"),
        ("...pdf", "attachment.pdf"),
        ("report.pdf\u00a0", "report.pdf"),
        ("x" * 400 + ".pdf", "x" * 196 + ".pdf"),
    ],
)
def test_names_are_cleaned_before_the_type_is_read(client, uploaded, expected):
    """The RTL-override spoof is read by its real extension (refused as not allowed), paths,
    NUL, hidden-file dots and trailing spaces go, a long name keeps its extension."""
    _, response = submit(client, SimpleUploadedFile(uploaded, PDF))
    if expected is None:
        assert response.status_code == 422 and "not an allowed type" in text(response)
        return
    assert response.status_code == 302, text(response)[:500]
    assert Attachment.objects.get().filename == expected


# --- The download ------------------------------------------------------------------------------------


def test_a_download_is_inert_and_named_with_rfc_5987(client):
    """Attachment disposition with an ASCII fallback and the exact filename*, nosniff, sandboxing
    CSP, no-store; HEAD counts nothing, GET counts once."""
    customer = make_customer()
    make_ticket(customer, uploads=[SimpleUploadedFile("Résumé 2024.pdf", PDF)])
    attachment = Attachment.objects.get()
    client.force_login(customer)
    head = client.head(dl(attachment))
    assert head.status_code == 200
    response = client.get(dl(attachment))
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Disposition"] == (
        "attachment; filename=\"Resume 2024.pdf\"; filename*=utf-8''R%C3%A9sum%C3%A9%202024.pdf"
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert "no-store" in response["Cache-Control"]
    assert Attachment.objects.get().download_count == 1


def test_stored_files_are_not_reachable_under_media(client):
    """Files are stored under random names and MEDIA_URL serves nothing."""
    customer = make_customer()
    make_ticket(customer, uploads=[SimpleUploadedFile("a.pdf", PDF)])
    attachment = Attachment.objects.get()
    assert re.fullmatch(r"attachments/\d{4}/\d{2}/[0-9a-f]{32}", attachment.file.name)
    client.force_login(customer)
    assert client.get("/media/" + attachment.file.name).status_code == 404


def test_the_admin_page_of_an_attachment_does_not_link_to_an_unserved_media_address(superuser_client):
    """An administrator opening an attachment in the admin reaches its file through the permission-checked
    download view. Before the fix the read-only `file` field rendered `<a href="/media/attachments/…">`:
    MEDIA_URL is served by nothing, and the link named the private storage path."""
    customer = make_customer()
    make_ticket(customer, uploads=[SimpleUploadedFile("a.pdf", PDF)])
    attachment = Attachment.objects.get()
    page = superuser_client.get(reverse("admin:tickets_attachment_change", args=[attachment.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert f'href="/media/{attachment.file.name}"' not in body, "links to an address nothing serves"
    assert f'href="{reverse("tickets:attachment_download", args=[attachment.pk])}"' in body


def test_a_notes_file_is_404_for_the_customer_and_another_team_but_not_after_a_merge_for_staff(client, desk):
    """A note's file stays hidden from the customer after the ticket is merged into another of
    theirs; the file follows the thread for the target's agents."""
    customer = desk["customer"]
    other = make_ticket(customer, team=desk["support"], subject="Same printer")
    note = services.ticket_add_note(
        desk["ticket"], body="Internal", actor=desk["agent"],
        uploads=[SimpleUploadedFile("secret.txt", b"s")],
    )  # fmt: skip
    secret = Attachment.objects.get(owner_id=note.pk)
    services.ticket_merge(desk["ticket"], into=other, actor=desk["supervisor"])
    client.force_login(customer)
    assert client.get(dl(secret)).status_code == 404
    client.force_login(desk["biller"])
    assert client.get(dl(secret)).status_code == 404
    client.force_login(desk["colleague"])
    assert client.get(dl(secret)).status_code == 200


def test_the_requester_keeps_their_files_after_leaving_the_organisation(client):
    """A customer moved out of their organisation still downloads the files of their own
    ticket; the organisation's manager still sees the organisation's ticket; the new one's does not."""
    acme, globex = OrganizationFactory(), OrganizationFactory()
    requester = make_customer(acme)
    acme_manager = make_customer(acme, manager=True)
    globex_manager = make_customer(globex, manager=True)
    make_ticket(requester, uploads=[SimpleUploadedFile("a.pdf", PDF)])
    attachment = Attachment.objects.get()
    type(requester).objects.filter(pk=requester.pk).update(organization=globex)
    for who, allowed in ((requester, True), (acme_manager, True), (globex_manager, False)):
        client.force_login(who)
        assert (client.get(dl(attachment)).status_code == 200) is allowed, who


def test_a_soft_deleted_tickets_files_stay_on_disk_and_the_orphan_sweep_keeps_them(client, desk):
    """A soft delete keeps rows and files; the sweep, run past the grace period, deletes only a
    file no row points at."""
    reply = services.ticket_reply(
        desk["ticket"], body="Here", actor=desk["agent"], uploads=[SimpleUploadedFile("p.pdf", PDF)]
    )
    attachment = Attachment.objects.get(owner_id=reply.pk)
    services.ticket_delete(Ticket.objects.get(pk=desk["ticket"].pk), actor=make_administrator())
    storage = attachment.file.storage
    folder = os.path.dirname(attachment.file.name)
    orphan = storage.save(f"{folder}/{uuid.uuid4().hex}", SimpleUploadedFile("x", b"x"))
    removed = attachments.orphans_remove(now=timezone.now() + timedelta(hours=2))
    assert removed == [orphan]
    assert storage.exists(attachment.file.name)


# --- Held files --------------------------------------------------------------------------------------


def test_a_held_file_cannot_be_sent_again_once_sent_nor_after_the_sweep(client):
    """A kept file goes with the corrected form once; a second form naming it is told; a kept
    file removed by the hourly task is told as no longer kept."""
    client.force_login(make_customer())
    refused = client.post(SUBMIT, submission(subject="", attachments=[SimpleUploadedFile("a.png", PNG)]))
    [(token, ticked)] = held_boxes(refused).values()
    assert ticked
    assert client.post(SUBMIT, submission(held=[token])).status_code == 302
    again = client.post(SUBMIT, submission(held=[token], subject="Again"))
    assert again.status_code == 422 and "a.png is no longer kept" in text(again)

    refused = client.post(SUBMIT, submission(subject="", attachments=[SimpleUploadedFile("b.png", PNG)]))
    [(token, _)] = held_boxes(refused).values()
    HeldUpload.objects.update(created_at=timezone.now() - timedelta(days=2))
    assert attachments.held_remove() == 1
    late = client.post(SUBMIT, submission(held=[token], subject="Late"))
    assert late.status_code == 422 and "b.png is no longer kept" in text(late)


def test_an_agent_cannot_send_a_colleagues_held_file(client, desk):
    """A held file's token posted by another agent attaches nothing."""
    client.force_login(desk["agent"])
    refused = client.post(
        reply_url(desk["ticket"]),
        {"kind": "reply", "body": "", "submission_key": str(uuid.uuid4()),
         "attachments": [SimpleUploadedFile("a.png", PNG)]},
    )  # fmt: skip
    assert refused.status_code == 422
    [(token, _)] = held_boxes(refused).values()
    client.force_login(desk["colleague"])
    client.post(
        reply_url(desk["ticket"]),
        {"kind": "note", "body": "mine now", "submission_key": str(uuid.uuid4()), "held": [token]},
    )
    assert not Attachment.objects.exists()
    assert HeldUpload.objects.get().held_for == desk["agent"]


def test_a_file_missing_from_storage_is_a_friendly_404_for_get_and_head_and_counts_nothing(client):
    """The stored file gone (a restore without media) answers the site's 404 page, not a 500, and
    no download is counted."""
    customer = make_customer()
    make_ticket(customer, uploads=[SimpleUploadedFile("a.pdf", PDF)])
    attachment = Attachment.objects.get()
    attachment.file.storage.delete(attachment.file.name)
    client.force_login(customer)
    response = client.get(dl(attachment))
    assert response.status_code == 404 and "Page not found" in text(response)
    assert client.head(dl(attachment)).status_code == 404
    assert Attachment.objects.get().download_count == 0
