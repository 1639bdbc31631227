"""Ticket attachments end to end: intake (size limit, type allow-list on content, markup in
text files), names in headers and pages, the download view (method, Range, caching, counting) and who
may download what (notes, deleted tickets, lost access)."""

import re
import uuid
from html import unescape
from urllib.parse import unquote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.conftest import made_once_per_module
from tests.factories import (
    GIF,
    PDF,
    PNG,
    TeamFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_ticket,
)
from tickets import services
from tickets.models import Attachment, Ticket, TicketMessage

pytestmark = pytest.mark.django_db

SUBMIT = reverse("tickets:portal_submit")


def dl(attachment) -> str:
    return reverse("tickets:attachment_download", args=[attachment.pk])


def submission(**extra) -> dict:
    key = str(uuid.uuid4())
    return {"subject": "Printer jam", "description": "Paper stuck", "submission_key": key, **extra}


def submit_with(client, *files, **extra):
    customer = make_customer()
    client.force_login(customer)
    response = client.post(SUBMIT, submission(attachments=list(files), **extra))
    return customer, response


def text(response) -> str:
    return unescape(response.content.decode())


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def disposition_name(header: str) -> str:
    match = re.search(r"filename\*=utf-8''(\S+)", header)
    if match:
        return unquote(match.group(1))
    match = re.search(r'filename="([^"]*)"', header)
    assert match, header
    return match.group(1)


def make_desk():
    support = TeamFactory(name="Support")
    agent = make_agent(support, name="Alex Agent")
    customer = make_customer(name="Carla Customer")
    ticket = make_ticket(customer, team=support, subject="Printer on fire")
    return {"agent": agent, "customer": customer, "support": support, "ticket": ticket}


_desk_rows, desk = made_once_per_module(make_desk, "desk")


# --- Network captures, developers' logs and sizes near the limit ---------------------------------


HAR = (
    b'{"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"},\n'
    b' "entries": [{"request": {"method": "GET", "url": "https://shop.example.com/checkout"},\n'
    b'  "response": {"status": 500, "content": {"mimeType": "text/html", "text":\n'
    b'  "<!DOCTYPE html>\\n<html lang=\\"en\\"><head><script src=\\"/app.js\\"></script></head>'
    b'<body>Internal error</body></html>"}}}]}}\n'
)


def test_a_har_capture_of_a_web_page_is_taken_as_the_allow_list_promises(client):
    """The allow-list names .har ("browser network captures ... served as plain text"), and a HAR file is
    the first thing Zendesk's or Freshdesk's agents ask a customer for when a web page misbehaves. But a
    HAR records the responses it captured, and the response of a web page is HTML: every real capture
    holds "<html" and "<script" in its JSON strings. The markup check (tickets/attachments.py
    TEXT_MARKUP, applied in detect_content_type to every TEXT_EXTENSIONS file) refuses it with "holds
    web-page markup", so .har is on the list but practically no HAR is ever taken. The file is served as
    text/plain, nosniff, attachment and under a sandbox CSP, so the markup in it is inert: it should be
    taken (and served inert), or at the least .har should not be offered."""
    _, response = submit_with(client, SimpleUploadedFile("checkout.har", HAR))
    assert response.status_code == 302, re.findall(r"checkout\.har[^<]*", text(response))
    attachment = Attachment.objects.get()
    download = client.get(dl(attachment))
    assert download["Content-Type"].startswith("text/plain")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Disposition"].startswith("attachment;")


@pytest.mark.parametrize(
    ("name", "line"),
    [
        # GCC's own diagnostic for a missing declaration of sqrt().
        ("build.log", b"main.c:3:14: note: include '<math.h>' or provide a declaration of 'sqrt'\n"),
        # A Java/C# generic of Object, in an ordinary exception message.
        ("server.log", b"ERROR Mapper - cannot deserialise field 'items' of type List<Object>\n"),
        # react-router's own error, as copied from the browser console.
        ("console.txt", b"Uncaught Error: Invariant failed: You should not use <Link> outside a <Router>\n"),
    ],
)
def test_a_developers_log_quoting_a_header_a_generic_or_a_component_is_text(client, name, line):
    """tickets/attachments.py says of its markup check: 'A log quoting "List<String>" or "a < b" is
    text.' But TEXT_MARKUP's first alternative lists bare tag names (math, object, link, form, meta,
    style, base, ...) followed only by a word boundary, so the most ordinary lines of a developer's log
    match it: GCC's "include '<math.h>'" note, a generic "List<Object>", react-router's "You should not
    use <Link> outside a <Router>". The customer is told the log "holds web-page markup (such as <html>,
    <script> or <svg>)" and must zip it. None of this is a tag a browser acts on, and the file would be
    served as inert text/plain anyway; Zendesk and Freshdesk take such logs as they are."""
    _, response = submit_with(client, SimpleUploadedFile(name, b"2024-05-01 10:00:00 starting\n" + line))
    refusals = re.findall(r"holds web-page markup[^<]*|does not look[^<]*", text(response))
    assert response.status_code == 302, refusals
    assert Attachment.objects.get().filename == name


def test_a_file_just_over_the_limit_is_told_a_size_that_is_not_the_limit(client):
    """At the default limit (10 MB), a file of 10 MB and a few kilobytes is refused with its size and the
    limit told apart (in bytes where both would read "10.0 MB"), so that the message does not contradict
    itself and the customer sees by how much the file is over."""
    size = 10 * 1024 * 1024 + 12 * 1024
    content = PDF + b"%" + b"a" * (size - len(PDF) - 1)
    _, response = submit_with(client, SimpleUploadedFile("big.pdf", content), subject="Keep me")
    assert response.status_code == 422
    page = text(response)
    message = re.search(r"big\.pdf is ([^;]+); files may be at most ([^.<]+(?:\.\d+)?[^.<]*)\.", page)
    assert message, re.findall(r"big\.pdf[^<]*", page)
    told_size, told_limit = message.group(1), message.group(2)
    assert told_size != told_limit, message.group(0)
    assert 'value="Keep me"' in page


# --- Intake, names, the download view and who may download -----------------------------------------


def test_exactly_ten_megabytes_is_taken_and_one_byte_more_is_refused_with_text_kept(client):
    limit = 10 * 1024 * 1024
    exact = PDF + b"%" + b"a" * (limit - len(PDF) - 1)
    _, response = submit_with(client, SimpleUploadedFile("exact.pdf", exact))
    assert response.status_code == 302
    assert Attachment.objects.get().size == limit
    _, response = submit_with(client, SimpleUploadedFile("over.pdf", exact + b"a"), subject="Keep me 42")
    assert response.status_code == 422
    page = text(response)
    assert "over.pdf is" in page and 'value="Keep me 42"' in page
    assert Attachment.objects.count() == 1


def test_a_txt_with_script_is_never_served_as_html(client):
    """Refused at intake (the product's choice); if it were taken it would still be inert."""
    script = SimpleUploadedFile("x.txt", b"hi <script>alert(1)</script>")
    _, response = submit_with(client, script, subject="S1")
    assert response.status_code == 422
    assert 'value="S1"' in text(response)
    assert not Attachment.objects.exists()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("photo.png", b"<html><script>alert(1)</script></html>"),
        ("photo.png", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
        ("cat.gif", GIF + b"<script>alert(1)</script>"),
        ("cat.gif", b"GIF89a=1;alert(document.domain)//" + GIF[6:] + b"<img src=x onerror=alert(1)>"),
    ],
)
def test_images_holding_html_svg_or_script_are_refused_with_422(client, name, content):
    _, response = submit_with(client, SimpleUploadedFile(name, content), subject="Keep 9")
    assert response.status_code == 422
    assert 'value="Keep 9"' in text(response)
    assert not Attachment.objects.exists()


def test_a_pdf_with_embedded_javascript_is_taken_and_only_ever_a_sandboxed_download(client):
    pdf = (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/OpenAction 2 0 R>>endobj\n"
        b"2 0 obj<</S/JavaScript/JS(app.alert\\(1\\))>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )
    _, response = submit_with(client, SimpleUploadedFile("form.pdf", pdf))
    assert response.status_code == 302
    download = client.get(dl(Attachment.objects.get()))
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in download["Content-Security-Policy"]
    assert body_of(download) == pdf


@pytest.mark.parametrize(
    ("uploaded", "shown"),
    [
        ('a"; filename="evil.exe.pdf', None),
        ("report\r\nSet-Cookie: x=1.pdf", None),
        ("a;b=c.pdf", "a;b=c.pdf"),
        ("invoice\u202efdp.txt", "invoicefdp.txt"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\bob\\x.pdf", "x.pdf"),
        ("...", None),
        ("résumé 履歴書.pdf", "résumé 履歴書.pdf"),
        ("x" * 400 + ".pdf", None),
    ],
)
def test_hostile_names_give_one_valid_attachment_header(client, uploaded, shown):
    content = b"hello" if uploaded.endswith(".txt") else PDF
    customer = make_customer()
    make_ticket(customer, uploads=[SimpleUploadedFile(uploaded, content)])
    attachment = Attachment.objects.get()
    client.force_login(customer)
    response = client.get(dl(attachment))
    assert response.status_code == 200
    header = response["Content-Disposition"]
    assert "\r" not in header and "\n" not in header and all(ord(ch) < 128 for ch in header)
    # One quoted ASCII name (no quote or backslash inside), then at most an RFC 5987 filename*.
    valid = r'attachment; filename="[^"\\]*"(; filename\*=utf-8\'\'[A-Za-z0-9%._~!*()\'-]+)?'
    assert re.fullmatch(valid, header), header
    assert "Set-Cookie" not in response.cookies
    name = disposition_name(header)
    assert "/" not in name and "\\" not in name and name.strip(".")
    assert len(name) <= 200
    if shown is not None:
        assert name == shown
    page = client.get(reverse("tickets:portal_detail", args=[attachment.owner.ticket.number]))
    assert "\u202e" not in page.content.decode()


def test_head_counts_nothing_and_range_is_no_500(client):
    customer = make_customer()
    make_ticket(customer, uploads=[SimpleUploadedFile("a.txt", b"0123456789")])
    attachment = Attachment.objects.get()
    client.force_login(customer)
    head = client.head(dl(attachment))
    assert head.status_code == 200 and head["Cache-Control"] == "private, no-store"
    assert Attachment.objects.get().download_count == 0
    ranged = client.get(dl(attachment), HTTP_RANGE="bytes=5-")
    assert ranged.status_code in (200, 206)
    assert client.get(dl(attachment), HTTP_RANGE="bytes=oops").status_code in (200, 416)
    assert 1 <= Attachment.objects.get().download_count <= 2


def test_the_customer_gets_404_for_a_notes_file_and_a_deleted_tickets_file(client, desk):
    ticket = desk["ticket"]
    services.ticket_add_note(
        ticket, body="secret", actor=desk["agent"], uploads=[SimpleUploadedFile("note.txt", b"internal")]
    )
    note_file = Attachment.objects.get(filename="note.txt")
    assert TicketMessage.objects.get(pk=note_file.owner_id).is_internal
    client.force_login(desk["customer"])
    assert client.get(dl(note_file)).status_code == 404
    client.force_login(desk["agent"])
    assert client.get(dl(note_file)).status_code == 200
    client.force_login(desk["customer"])
    make_ticket(desk["customer"], uploads=[SimpleUploadedFile("mine.txt", b"mine")])
    mine = Attachment.objects.get(filename="mine.txt")
    assert client.get(dl(mine)).status_code == 200
    Ticket.objects.filter(pk=mine.owner.ticket_id).update(is_deleted=True)
    assert client.get(dl(mine)).status_code == 404
    client.force_login(make_administrator())
    assert client.get(dl(mine)).status_code == 200


def test_a_refused_file_keeps_the_good_one_and_the_text(client):
    _, response = submit_with(
        client,
        SimpleUploadedFile("good.png", PNG),
        SimpleUploadedFile("bad.png", b"<html>"),
        subject="Typed subject 77",
    )
    assert response.status_code == 422
    page = text(response)
    assert 'value="Typed subject 77"' in page and "good.png" in page and "bad.png" in page
