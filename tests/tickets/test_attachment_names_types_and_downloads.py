"""File attachments on ticket messages (portal submission, portal reply, desk composer)
and their download view. Filenames, Content-Disposition, size and count limits, content sniffing,
download counting, Range/HEAD, visibility of notes' files, deleted tickets, held files."""

import io
import re
import uuid
import zipfile
from html import unescape
from urllib.parse import unquote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.factories import (
    GIF,
    PDF,
    PNG,
    OrganizationFactory,
    make_administrator,
    make_customer,
    make_ticket,
)
from tests.tickets.conftest import fresh, held_boxes, reply_url
from tickets import services
from tickets.attachments import download_disposition, safe_filename
from tickets.models import Attachment, HeldUpload, Ticket, TicketMessage

pytestmark = pytest.mark.django_db

SUBMIT = reverse("tickets:portal_submit")


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "hello")
    return buffer.getvalue()


def submission(**extra) -> dict:
    return {
        "subject": "Printer jam",
        "description": "Paper stuck",
        "submission_key": str(uuid.uuid4()),
        **extra,
    }


def dl(attachment) -> str:
    return reverse("tickets:attachment_download", args=[attachment.pk])


def disposition_name(header: str) -> str:
    match = re.search(r"filename\*=utf-8''(\S+)", header)
    if match:
        return unquote(match.group(1))
    match = re.search(r'filename="((?:[^"\\]|\\.)*)"', header)
    assert match, header
    return match.group(1)


def text(response) -> str:
    return unescape(response.content.decode())


def submit_with(client, *files, **extra):
    customer = make_customer()
    client.force_login(customer)
    response = client.post(SUBMIT, submission(attachments=list(files), **extra))
    return customer, response


# Filenames


@pytest.mark.parametrize(
    ("uploaded", "expected"),
    [
        ("../../x.pdf", "x.pdf"),
        ("C:\\Users\\bob\\x.pdf", "x.pdf"),
        ("..\\..\\x.pdf", "x.pdf"),
        ("/etc/x.pdf", "x.pdf"),
        ("a;b=c.pdf", "a;b=c.pdf"),
        ("it's.pdf", "it's.pdf"),
        ("invoice\u202egpj.pdf", "invoicegpj.pdf"),
        ("zero\u200bwidth.pdf", "zerowidth.pdf"),
        ("tab\there.pdf", "tabhere.pdf"),
    ],
)
def test_names_through_the_portal_lose_paths_and_control_characters(client, uploaded, expected):
    _, response = submit_with(client, SimpleUploadedFile(uploaded, PDF))
    assert response.status_code == 302, text(response)[:2000]
    attachment = Attachment.objects.get()
    assert attachment.filename == expected
    answer = client.get(dl(attachment))
    assert answer.status_code == 200
    header = answer["Content-Disposition"]
    assert header.startswith("attachment;") and "\r" not in header and "\n" not in header
    assert disposition_name(header) == expected


@pytest.mark.parametrize(
    "uploaded",
    ["a\x00b.pdf", "a\rb.pdf", "a\nb.pdf", 'q"uo"te.pdf', "x" * 300 + ".pdf", "日本語" * 100 + ".pdf"],
)
def test_hostile_names_through_the_service_give_a_one_line_header(client, desk, uploaded):
    note = services.ticket_add_note(
        desk["ticket"], body="Files", actor=desk["agent"], uploads=[SimpleUploadedFile(uploaded, PDF)]
    )
    attachment = Attachment.objects.get(owner_id=note.pk)
    assert len(attachment.filename) <= 200 and attachment.filename.endswith(".pdf")
    assert "\x00" not in attachment.filename and '"' not in attachment.filename
    client.force_login(desk["agent"])
    response = client.get(dl(attachment))
    assert response.status_code == 200
    header = response["Content-Disposition"]
    assert "\r" not in header and "\n" not in header and "\x00" not in header
    assert disposition_name(header) == attachment.filename


def test_a_name_cleaned_to_nothing_is_called_attachment():
    assert safe_filename("") == "attachment"
    assert safe_filename("...") == "attachment"
    assert safe_filename('"<>|') == "attachment"
    assert safe_filename("../") == "attachment"


@pytest.mark.parametrize(
    ("name", "ascii_part"),
    [
        ("café.txt", "cafe.txt"),
        ("100% done.txt", "100_ done.txt"),
        ("报告.pdf", "__.pdf"),
        ("emoji 😀.txt", "emoji _.txt"),
    ],
)
def test_content_disposition_is_rfc_6266_with_an_ascii_fallback(name, ascii_part):
    header = download_disposition(name)
    assert header.isascii()
    assert f'filename="{ascii_part}"' in header
    star = re.search(r"filename\*=utf-8''([A-Za-z0-9!#$&+.^_`|~%-]+)$", header)
    assert star, header
    assert unquote(star.group(1)) == name


def test_an_ascii_name_with_a_backslash_or_percent_is_not_misread():
    """A ``filename="…"`` with a backslash is an escape to RFC 6266 readers; a percent would be decoded by
    some browsers: either way, the exact name goes in filename*."""
    header = download_disposition("50%off.txt")
    assert "%" not in re.search(r'filename="([^"]*)"', header).group(1)
    assert unquote(re.search(r"filename\*=utf-8''(\S+)", header).group(1)) == "50%off.txt"


def test_the_filename_is_escaped_on_the_ticket_page(client):
    customer = make_customer()
    make_ticket(customer, uploads=[SimpleUploadedFile("a&b 'c' <i>.txt", b"hello")])
    client.force_login(customer)
    ticket = Ticket.objects.get()
    page = client.get(reverse("tickets:portal_detail", args=[ticket.number])).content.decode()
    assert "<i>" not in page
    assert "a&amp;b" in page


# Empty, size and count limits


def test_a_zero_byte_file_is_refused_by_name_and_the_text_is_kept(client):
    _, response = submit_with(client, SimpleUploadedFile("empty.txt", b""), subject="Keep me")
    assert response.status_code == 422
    page = text(response)
    assert "empty.txt" in page and 'value="Keep me"' in page
    assert not Ticket.objects.exists() and not Attachment.objects.exists()


def test_a_file_exactly_at_the_limit_is_taken_and_one_byte_more_is_not(client, settings):
    settings.ATTACHMENT_MAX_BYTES = 1000
    _, response = submit_with(client, SimpleUploadedFile("exact.txt", b"a" * 1000))
    assert response.status_code == 302
    assert Attachment.objects.get().size == 1000
    _, response = submit_with(client, SimpleUploadedFile("over.txt", b"a" * 1001), subject="Over")
    assert response.status_code == 422
    assert "over.txt is 1001\xa0bytes; files may be at most 1000\xa0bytes." in text(response)
    assert Attachment.objects.count() == 1


def post_files_from_the_desk(client, desk, count: int):
    client.force_login(desk["agent"])
    files = [SimpleUploadedFile(f"f{n}.txt", f"file {n}".encode()) for n in range(count)]
    return client.post(
        reply_url(desk["ticket"]),
        {"kind": "note", "body": "many", "submission_key": str(uuid.uuid4()), "attachments": files},
    )


def test_ten_files_at_once_are_taken_from_the_desk_composer(client, desk):
    response = post_files_from_the_desk(client, desk, 10)
    assert response.status_code in (200, 302), text(response)[:2000]
    assert Attachment.objects.count() == 10


def test_eleven_files_at_once_are_refused_with_the_limit_and_nothing_made(client, desk):
    response = post_files_from_the_desk(client, desk, 11)
    assert response.status_code == 422
    assert "at most 10" in text(response)
    assert not Attachment.objects.exists()
    assert TicketMessage.objects.filter(ticket=desk["ticket"]).count() == 1


def test_the_same_file_twice_is_attached_once_but_same_bytes_under_two_names_twice(client):
    _, response = submit_with(
        client,
        SimpleUploadedFile("a.txt", b"same"),
        SimpleUploadedFile("a.txt", b"same"),
        SimpleUploadedFile("b.txt", b"same"),
    )
    assert response.status_code == 302
    assert sorted(Attachment.objects.values_list("filename", flat=True)) == ["a.txt", "b.txt"]


# Content sniffing


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("scan.png", PDF),  # a PDF named .png
        ("photo.gif", GIF + b"<script>alert(1)</script>"),  # a polyglot
        ("doc.pdf", PDF + b"<html><body onload=alert(1)>"),
        ("pic.txt", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
        ("page.txt", b"<!DOCTYPE html><p>hi"),
        ("data.csv", b"a,b\n<iframe src=//evil>\n"),
        ("notes.md", b"<a href='javascript:alert(1)'>x</a>"),
        ("notes.txt", b"\xff\xfe" + "<script>alert(1)</script>".encode("utf-16-le")),
        ("notes.log", b"<img src=x onerror=alert(1)>"),
        # A javascript: link as browsers still read it: letters as character references, a tab named,
        # a control character before the scheme (before the fix, each was taken as plain text).
        ("ref.txt", b'<a href="&#106;avascript:alert(1)">x</a>'),
        ("hex.txt", b'<a href="&#x6A;avascript:alert(1)">x</a>'),
        ("padded.txt", b'<a href="&#0000106&#0000097vascript&#58;alert(1)">x</a>'),
        ("colon.md", b'<a href="javascript&colon;alert(1)">x</a>'),
        ("tab.csv", b'a,<a href="java&Tab;script:alert(1)">x</a>'),
        ("control.log", b'<a href="\x01javascript:alert(1)">x</a>'),
        # Any number of leading zeros, control characters and tab references, as browsers take them,
        # over the 1 MiB chunks the scan reads (before the fix, more than eight got through).
        ("zeros.txt", b'<a href="&#0000000000106;avascript:alert(1)">x</a>'),
        ("controls.txt", b'<a href="' + b"\x01" * 2_500_000 + b'javascript:alert(1)">x</a>'),
        ("tabs.txt", b'<a href="java' + b"&#9;" * 700_000 + b'script:alert(1)">x</a>'),
        ("padded.md", b'<a href="&#' + b"0" * 2_500_000 + b'106;avascript:alert(1)">x</a>'),
        # Behind an image's or a PDF's signature: a handler or a link in any plain tag, not only the
        # tags listed (before the fix, these three were taken as an image and a PDF).
        ("focus.gif", GIF + b"<input autofocus onfocus=alert(1)>"),
        ("link.png", PNG + b"<a href=javascript:alert(1)>click</a>"),
        ("start.pdf", PDF + b"<marquee onstart=alert(1)>x</marquee>"),
        ("setup.exe", b"MZ\x90\x00" + b"\x00" * 60),
        ("nameless", b"just text"),
        ("app.jar", zip_bytes()),
    ],
)
def test_content_that_is_not_what_it_says_is_refused_with_422(client, name, content):
    _, response = submit_with(client, SimpleUploadedFile(name, content))
    assert response.status_code == 422
    assert "attachments" in response.context["form"].errors or response.context["form"].non_field_errors()
    assert not Ticket.objects.exists() and not Attachment.objects.exists()


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("log.txt", b"List<String> a < b && c > d", "text/plain"),
        # Prose about the scheme, and an image's metadata, whose tags are namespaced.
        ("howto.md", b"Never paste javascript: links; <b>really</b> &#106; is j.", "text/plain"),
        ("meta.png", PNG + b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description onload="1"/>', "image/png"),
        ("table.csv", "Müller;Köln\n".encode("cp1252"), "text/csv"),
        (
            "report.docx",
            zip_bytes(),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("archive.zip", zip_bytes(), "application/zip"),
        ("Photo.PNG", PNG, "image/png"),
        ("anim.gif", GIF, "image/gif"),
    ],
)
def test_ordinary_files_are_taken_and_served_inert(client, name, content, content_type):
    _, response = submit_with(client, SimpleUploadedFile(name, content, content_type="text/html"))
    assert response.status_code == 302, text(response)[:2000]
    attachment = Attachment.objects.get()
    assert attachment.content_type == content_type  # what the bytes show, not what the browser said
    answer = client.get(dl(attachment))
    assert answer["Content-Type"].startswith(content_type)
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert answer["Content-Disposition"].startswith("attachment;")
    assert b"".join(answer.streaming_content) == content


def test_a_zip_named_as_a_pdf_is_told_it_is_not_a_pdf(client):
    """A user who attaches a ZIP archive that was renamed report.pdf expects to be told the file does not
    look like a PDF. Instead the form says "report.pdf is not an allowed type of file. Allowed: …, .pdf,
    …", contradicting itself, since .pdf is in the list it shows."""
    _, response = submit_with(client, SimpleUploadedFile("report.pdf", zip_bytes()))
    assert response.status_code == 422
    page = text(response)
    assert "report.pdf does not look like a .pdf file." in page, re.findall(r"report\.pdf[^<]*", page)


def test_a_zip_named_txt_is_told_it_is_not_text(client):
    """Same as above for a .txt: "notes.txt is not an allowed type of file. Allowed: … .txt …"."""
    _, response = submit_with(client, SimpleUploadedFile("notes.txt", zip_bytes()))
    assert response.status_code == 422
    page = text(response)
    assert "notes.txt does not look like a .txt file." in page, re.findall(r"notes\.txt[^<]*", page)


# Download: method, counting, Range, caching


def test_head_serves_headers_without_counting(client):
    customer = make_customer()
    make_ticket(customer, uploads=[SimpleUploadedFile("a.txt", b"hello")])
    attachment = Attachment.objects.get()
    client.force_login(customer)
    response = client.head(dl(attachment))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert fresh_attachment(attachment).download_count == 0
    client.get(dl(attachment))
    client.get(dl(attachment))
    assert fresh_attachment(attachment).download_count == 2


def fresh_attachment(attachment) -> Attachment:
    return Attachment.objects.get(pk=attachment.pk)


def test_a_download_is_not_cached_and_never_answers_304_for_a_stale_copy(client):
    customer = make_customer()
    make_ticket(customer, uploads=[SimpleUploadedFile("a.txt", b"hello")])
    attachment = Attachment.objects.get()
    client.force_login(customer)
    response = client.get(
        dl(attachment), HTTP_IF_MODIFIED_SINCE="Wed, 21 Oct 2099 07:28:00 GMT", HTTP_IF_NONE_MATCH="*"
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_a_range_request_gets_the_range_or_the_whole_file_never_a_wrong_promise(client):
    customer = make_customer()
    make_ticket(customer, uploads=[SimpleUploadedFile("a.txt", b"0123456789")])
    attachment = Attachment.objects.get()
    client.force_login(customer)
    response = client.get(dl(attachment), HTTP_RANGE="bytes=2-4")
    body = b"".join(response.streaming_content)
    if response.status_code == 206:
        assert body == b"234" and response["Content-Range"] == "bytes 2-4/10"
    else:
        assert response.status_code == 200 and body == b"0123456789"
        assert response.get("Accept-Ranges", "none") == "none"
    bad = client.get(dl(attachment), HTTP_RANGE="bytes=999-1000")
    assert bad.status_code in (200, 416)


def test_posting_to_a_download_changes_nothing(client):
    customer = make_customer()
    make_ticket(customer, uploads=[SimpleUploadedFile("a.txt", b"hello")])
    attachment = Attachment.objects.get()
    client.force_login(customer)
    assert client.post(dl(attachment)).status_code == 405
    assert fresh_attachment(attachment).download_count == 0


def test_a_huge_or_missing_id_is_404(client):
    client.force_login(make_customer())
    assert client.get("/portal/attachments/99999999999999999999999/").status_code == 404
    assert client.get("/portal/attachments/0/").status_code == 404


def test_anonymous_download_goes_to_sign_in_and_counts_nothing(client):
    customer = make_customer()
    make_ticket(customer, uploads=[SimpleUploadedFile("a.txt", b"hello")])
    attachment = Attachment.objects.get()
    response = client.get(dl(attachment))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert fresh_attachment(attachment).download_count == 0


def test_a_file_missing_from_storage_is_404_not_500(client):
    customer = make_customer()
    make_ticket(customer, uploads=[SimpleUploadedFile("a.txt", b"hello")])
    attachment = Attachment.objects.get()
    attachment.file.storage.delete(attachment.file.name)
    client.force_login(customer)
    assert client.get(dl(attachment)).status_code == 404


# Visibility


def test_a_notes_file_is_hidden_from_the_organisation_manager_and_other_teams(client, desk):
    organization = OrganizationFactory()
    requester = make_customer(organization)
    manager = make_customer(organization, manager=True)
    ticket = make_ticket(requester, team=desk["support"])
    note = services.ticket_add_note(
        ticket, body="Internal", actor=desk["agent"], uploads=[SimpleUploadedFile("secret.txt", b"s")]
    )
    reply = services.ticket_reply(
        ticket, body="Public", actor=desk["agent"], uploads=[SimpleUploadedFile("public.txt", b"p")]
    )
    secret = Attachment.objects.get(owner_id=note.pk)
    public = Attachment.objects.get(owner_id=reply.pk)
    for who, can_secret, can_public in (
        (manager, False, True),
        (requester, False, True),
        (make_customer(), False, False),
        (make_customer(organization), False, False),  # a colleague, not a manager
        (desk["biller"], False, False),  # an agent of another team
        (desk["colleague"], True, True),
    ):
        client.force_login(who)
        assert (client.get(dl(secret)).status_code == 200) is can_secret, who
        assert (client.get(dl(public)).status_code == 200) is can_public, who
    assert fresh_attachment(secret).download_count == 1  # only the colleague's


def test_the_ticket_page_does_not_link_a_notes_file_for_the_customer(client, desk):
    services.ticket_add_note(
        desk["ticket"], body="Internal", actor=desk["agent"],
        uploads=[SimpleUploadedFile("secret-plan.txt", b"s")],
    )  # fmt: skip
    client.force_login(desk["customer"])
    page = client.get(reverse("tickets:portal_detail", args=[desk["ticket"].number])).content.decode()
    assert "secret-plan.txt" not in page
    secret = Attachment.objects.get()
    assert dl(secret) not in page


def test_a_deleted_tickets_files_are_gone_for_its_agent_but_not_the_administrator(client, desk):
    reply = services.ticket_reply(
        desk["ticket"], body="Here", actor=desk["agent"], uploads=[SimpleUploadedFile("p.txt", b"p")]
    )
    attachment = Attachment.objects.get(owner_id=reply.pk)
    administrator = make_administrator()
    services.ticket_delete(fresh(desk["ticket"]), actor=administrator)
    client.force_login(desk["agent"])
    assert client.get(dl(attachment)).status_code == 404
    client.force_login(administrator)
    assert client.get(dl(attachment)).status_code == 200


def test_a_suspended_customer_cannot_download(client):
    customer = make_customer()
    make_ticket(customer, uploads=[SimpleUploadedFile("a.txt", b"hello")])
    attachment = Attachment.objects.get()
    client.force_login(customer)
    type(customer).objects.filter(pk=customer.pk).update(status="suspended")
    assert client.get(dl(attachment)).status_code in (302, 404)


# Held files


def test_an_agent_cannot_attach_a_customers_held_file_through_the_desk(client, desk):
    customer = desk["customer"]
    client.force_login(customer)
    response = client.post(
        reverse("tickets:portal_reply", args=[desk["ticket"].number]),
        {"body": "", "submission_key": str(uuid.uuid4()), "attachments": [SimpleUploadedFile("c.pdf", PDF)]},
    )
    assert response.status_code == 422
    [(token, _)] = held_boxes(response).values()
    client.force_login(desk["agent"])
    response = client.post(
        reply_url(desk["ticket"]),
        {"kind": "note", "body": "taking it", "submission_key": str(uuid.uuid4()), "held": [token]},
    )
    assert not Attachment.objects.exists()
    assert HeldUpload.objects.get().held_for == customer


def test_a_reply_with_only_a_file_comes_back_with_the_file_kept(client):
    customer = make_customer()
    ticket = make_ticket(customer)
    client.force_login(customer)
    response = client.post(
        reverse("tickets:portal_reply", args=[ticket.number]),
        {"body": "", "submission_key": str(uuid.uuid4()), "attachments": [SimpleUploadedFile("c.pdf", PDF)]},
    )
    assert response.status_code == 422
    boxes = held_boxes(response)
    assert list(boxes) == [f"c.pdf ({len(PDF)} bytes)"] and all(ticked for _, ticked in boxes.values())
    [(token, _)] = boxes.values()
    response = client.post(
        reverse("tickets:portal_reply", args=[ticket.number]),
        {"body": "here it is", "submission_key": str(uuid.uuid4()), "held": [token]},
    )
    assert response.status_code == 302
    assert Attachment.objects.get().filename == "c.pdf" and not HeldUpload.objects.exists()


def test_a_garbage_held_token_is_ignored_not_500(client):
    customer = make_customer()
    client.force_login(customer)
    for token in ("", "x" * 5000, "1:2:3", "W1sxXQ:abc", "\x00"):
        response = client.post(SUBMIT, submission(held=[token]))
        assert response.status_code in (302, 422), token


def test_a_jpeg_saved_as_jfif_is_not_told_it_does_not_look_like_one(client):
    """Windows saves photos from the web as .jfif (a JPEG): taken as the JPEG it is, not told "photo.jfif
    does not look like a .jfif file", which is false and suggests the file is damaged."""
    jpeg = (
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
    )
    _, response = submit_with(client, SimpleUploadedFile("photo.jfif", jpeg))
    assert response.status_code == 302, re.findall(r"photo\.jfif[^<]*", text(response))
    assert Attachment.objects.get().content_type == "image/jpeg"


def test_a_pdf_named_only_dot_pdf_keeps_a_usable_name(client):
    """A file called ".pdf" keeps the extension that says what it is (and is no hidden file once saved)."""
    _, response = submit_with(client, SimpleUploadedFile(".pdf", PDF))
    assert response.status_code == 302
    assert Attachment.objects.get().filename == "attachment.pdf"


def test_nfd_names_from_macos_give_a_clean_ascii_fallback():
    name = "re\u0301sume\u0301.pdf"  # résumé in NFD, as macOS sends it
    header = download_disposition(safe_filename(name))
    assert 'filename="resume.pdf"' in header
    assert unquote(re.search(r"filename\*=utf-8''(\S+)", header).group(1)) == name


def test_a_download_answers_range_requests_as_a_resumable_download_would(client):
    """Probe (documented here, not a defect by itself): whether partial content is served."""
    customer = make_customer()
    make_ticket(customer, uploads=[SimpleUploadedFile("a.txt", b"0123456789")])
    attachment = Attachment.objects.get()
    client.force_login(customer)
    response = client.get(dl(attachment), HTTP_RANGE="bytes=2-4")
    assert response.status_code in (200, 206)
    assert fresh_attachment(attachment).download_count == 1
