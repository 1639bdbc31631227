"""Customer portal submission with odd input: custom-field numbers, NULs and markup, file names, types
and encodings, files chosen again after a refusal, and replies."""

import re
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.factories import PNG, TicketFormFactory, make_customer, make_ticket
from tests.tickets.conftest import page_text, submission
from tickets.attachments import download_disposition
from tickets.models import Attachment, Ticket

pytestmark = pytest.mark.django_db

SUBMIT = reverse("tickets:portal_submit")


def form_url(schema) -> str:
    form = TicketFormFactory(schema=schema)
    return reverse("tickets:portal_submit_form", args=[form.slug])


NUMBER = [{"name": "seats", "label": "Seats", "type": "number"}]


# --- custom fields ---------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["1e1000000", "-1e1000000", "9E+999999999"])
def test_number_with_a_huge_exponent_answers_422_and_keeps_what_was_typed(client, typed):
    """A number field given a number far too large to hold ("1e1000000") is refused like "1e40" is:
    422, the field says why, and the subject and description come back as typed (not a 500)."""
    client.force_login(make_customer())
    response = client.post(form_url(NUMBER), submission(cf_seats=typed, subject="Keep me"))
    assert response.status_code == 422
    assert "cf_seats" in response.context["form"].errors
    assert 'value="Keep me"' in response.content.decode()
    assert not Ticket.objects.exists()


@pytest.mark.parametrize("typed", ["1.0000000000000000000000000001", "1e-1000100"])
def test_number_with_more_places_than_allowed_is_refused_not_rounded(client, typed):
    """A number field (default: at most 6 decimal places) refuses a number with more places, however
    many: 1.0000000000000000000000000001 is not stored as 1, nor 1e-1000100 as 0, numbers other than
    the one typed (0.0000001 is refused; only the count of places differs)."""
    client.force_login(make_customer())
    response = client.post(form_url(NUMBER), submission(cf_seats=typed))
    assert response.status_code == 422, Ticket.objects.get().custom_fields
    assert "cf_seats" in response.context["form"].errors


@pytest.mark.parametrize("typed", ["1234567890", "123456789012345"])
def test_whole_number_of_up_to_15_digits_is_taken(client, typed):
    """A number field keeps 15 significant digits exactly (schema._form_field: max_digits=15), so a
    whole number of 10 to 15 digits typed into a field with no decimal places set (an amount in cents,
    an order number) is stored; it is not refused with "no more than 9 digits before the decimal
    point" because 6 of the 15 digits are reserved for decimals the number does not have."""
    client.force_login(make_customer())
    response = client.post(form_url(NUMBER), submission(cf_seats=typed))
    assert response.status_code == 302, response.context["form"].errors.get("cf_seats")
    assert Ticket.objects.get().custom_fields == {"seats": int(typed)}


@pytest.mark.parametrize(
    ("kind", "typed"),
    [("text", "A\x00B"), ("textarea", "line\x00two"), ("email", "a\x00@example.org")],
)
def test_nul_in_a_custom_text_field_answers_422(client, kind, typed):
    """PostgreSQL's jsonb cannot hold \\u0000: a NUL typed into a custom field is a 422 naming the field."""
    client.force_login(make_customer())
    url = form_url([{"name": "note", "label": "Note", "type": kind}])
    response = client.post(url, submission(cf_note=typed))
    assert response.status_code == 422
    assert "cf_note" in response.context["form"].errors


def test_select_choice_with_markup_is_escaped(client):
    """A select choice holding HTML is shown as text, on the form and on the ticket page."""
    customer = make_customer()
    client.force_login(customer)
    url = form_url([{"name": "plan", "label": "Plan", "type": "select", "choices": ["<b>Pro</b>", "A & B"]}])
    page = client.get(url).content.decode()
    assert "<b>Pro</b>" not in page and "&lt;b&gt;Pro&lt;/b&gt;" in page
    response = client.post(url, submission(cf_plan="<b>Pro</b>"))
    assert response.status_code == 302
    detail = client.get(response["Location"]).content.decode()
    assert "<b>Pro</b>" not in detail and "&lt;b&gt;Pro&lt;/b&gt;" in detail


# --- attachments ---------------------------------------------------------------------------------


def test_file_at_the_limit_is_taken_and_one_byte_more_is_refused(client, settings):
    """ATTACHMENT_MAX_BYTES is the largest size allowed: a file of exactly that size is stored, one byte
    more is refused with 422 naming the file."""
    settings.ATTACHMENT_MAX_BYTES = 1000
    client.force_login(make_customer())
    at_limit = SimpleUploadedFile("a.txt", b"a" * 1000)
    assert client.post(SUBMIT, submission(attachments=[at_limit])).status_code == 302
    over = SimpleUploadedFile("b.txt", b"b" * 1001)
    response = client.post(SUBMIT, submission(attachments=[over]))
    assert response.status_code == 422
    assert "b.txt is" in page_text(response)


def test_utf16_text_file_is_accepted_as_text(client):
    """A .txt saved as UTF-16 with a byte-order mark (Windows PowerShell's `>`, Notepad's and Excel's
    "Unicode text") is plain text and .txt is on the allow-list: it is attached, not refused as
    "not an allowed type of file" (a message that names .txt among the allowed types)."""
    client.force_login(make_customer())
    content = "\ufeffTimeCreated  Id  Message\r\n2026-01-01  4625  Logon failure\r\n".encode("utf-16-le")
    response = client.post(SUBMIT, submission(attachments=[SimpleUploadedFile("events.txt", content)]))
    assert response.status_code == 302, response.context["form"].errors.get("attachments")
    assert Attachment.objects.get().filename == "events.txt"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_text_file_holding_markup_is_refused(client, encoding):
    """Markup is looked for in the text a UTF-16 file holds, not in its bytes (which never match)."""
    client.force_login(make_customer())
    content = "\ufeffLog\r\n<script>alert(1)</script>\r\n".encode(encoding)
    response = client.post(SUBMIT, submission(attachments=[SimpleUploadedFile("events.txt", content)]))
    assert response.status_code == 422 and not Attachment.objects.exists()


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("C:\\Users\\me\\shot.png", "shot.png"),
        ("../../etc/shot.png", "shot.png"),
        ("invoice\u202egnp.png", "invoicegnp.png"),
        ("a" * 300 + ".png", "a" * 196 + ".png"),
    ],
)
def test_odd_file_names_are_cleaned(client, name, stored):
    """Paths, bidi overrides and overlong names are cleaned, keeping the extension."""
    client.force_login(make_customer())
    response = client.post(SUBMIT, submission(attachments=[SimpleUploadedFile(name, PNG)]))
    assert response.status_code == 302
    assert Attachment.objects.get().filename == stored


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("setup.exe", PNG),
        ("invoice.pdf", b"<!doctype html><script>alert(1)</script>"),
        ("invoice.pdf", b"%PDF-1.4\n<html><script>alert(1)</script></html>"),
        ("shot.png", PNG + b"<script>alert(1)</script>"),
    ],
)
def test_types_are_checked_on_content(client, name, content):
    """The allow-list looks at the bytes: a PNG named .exe, HTML named .pdf and polyglots are refused."""
    client.force_login(make_customer())
    response = client.post(SUBMIT, submission(attachments=[SimpleUploadedFile(name, content)]))
    assert response.status_code == 422
    assert not Attachment.objects.exists()


# --- replies -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["pending", "resolved"])
def test_customer_reply_reopens_pending_and_resolved(client, status):
    """A customer's reply to a ticket pending on them, or solved, puts it back to open."""
    customer = make_customer()
    ticket = make_ticket(customer)
    Ticket.objects.filter(pk=ticket.pk).update(status=status)
    client.force_login(customer)
    url = reverse("tickets:portal_reply", args=[ticket.number])
    response = client.post(url, {"body": "Still broken", "submission_key": str(uuid.uuid4())})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "open"
    assert ticket.resolved_at is None


def test_reply_to_closed_ticket_opens_follow_up_with_files(client):
    """Replying to a closed ticket opens a linked follow-up that carries the message and its files."""
    customer = make_customer()
    ticket = make_ticket(customer)
    Ticket.objects.filter(pk=ticket.pk).update(status="closed")
    client.force_login(customer)
    url = reverse("tickets:portal_reply", args=[ticket.number])
    data = {"body": "Again", "submission_key": str(uuid.uuid4())}
    data["attachments"] = [SimpleUploadedFile("a.png", PNG)]
    response = client.post(url, data)
    follow_up = Ticket.objects.get(follow_up_of=ticket)
    assert response["Location"] == reverse("tickets:portal_detail", args=[follow_up.number])
    message = follow_up.messages.get()
    assert message.body == "Again"
    assert Attachment.objects.get().owner == message


# --- refill, files chosen again, downloads -------------------------------------------------------


EVERY = [
    {"name": "note", "label": "Note", "type": "text"},
    {"name": "areas", "label": "Areas", "type": "multi_select", "choices": ["Mail", "Web"]},
    {"name": "plan", "label": "Plan", "type": "select", "choices": ["Basic", "Pro"]},
    {"name": "agree", "label": "Agree", "type": "checkbox"},
    {"name": "seats", "label": "Seats", "type": "number"},
    {"name": "since", "label": "Since", "type": "date"},
    {"name": "contact", "label": "Contact", "type": "email"},
]


def test_a_422_refills_every_custom_field(client):
    """A form refused for its subject comes back with every custom answer as typed."""
    client.force_login(make_customer())
    data = submission(
        subject="",
        cf_note="n1",
        cf_areas=["Web"],
        cf_plan="Pro",
        cf_agree="on",
        cf_seats="12.5",
        cf_since="2026-01-31",
        cf_contact="boss@b\u00fccher.de",
    )
    response = client.post(form_url(EVERY), data)
    assert response.status_code == 422
    form = response.context["form"]
    shown = {name: form[name].value() for name in data if name.startswith("cf_")}
    assert shown == {k: v for k, v in data.items() if k.startswith("cf_")} | {"cf_agree": True}


def test_a_kept_file_chosen_again_is_attached_once(client):
    """A form that came back keeps its file, ticked ("Files you chose before"), and the browser empties
    the file input: a customer who chooses the same file again (same name, same bytes, same sha256)
    gets it once on the ticket, not twice."""
    client.force_login(make_customer())
    response = client.post(SUBMIT, submission(subject="", attachments=[SimpleUploadedFile("shot.png", PNG)]))
    assert response.status_code == 422
    tokens = re.findall(r'name="held" value="([^"]+)"', response.content.decode())
    assert len(tokens) == 1
    again = submission(held=tokens, attachments=[SimpleUploadedFile("shot.png", PNG)])
    assert client.post(SUBMIT, again).status_code == 302
    assert list(Attachment.objects.values_list("filename", flat=True)) == ["shot.png"]


def test_download_is_an_attachment_with_nosniff_and_hidden_from_others(client):
    """The requester downloads the file as an attachment (nosniff, its cleaned non-ASCII name, with a
    plain ASCII name first for clients that do not read filename*); a customer of another organisation
    gets 404."""
    customer = make_customer()
    client.force_login(customer)
    name = "Caf\u00e9 \u202eshot.png"
    client.post(SUBMIT, submission(attachments=[SimpleUploadedFile(name, PNG)]))
    attachment = Attachment.objects.get()
    url = reverse("tickets:attachment_download", args=[attachment.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Disposition"] == (
        "attachment; filename=\"Cafe shot.png\"; filename*=utf-8''Caf%C3%A9%20shot.png"
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == PNG
    client.force_login(make_customer())
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    ("name", "disposition"),
    [
        ("report.pdf", 'attachment; filename="report.pdf"'),
        ("\u6587\u4ef6.pdf", "attachment; filename=\"__.pdf\"; filename*=utf-8''%E6%96%87%E4%BB%B6.pdf"),
        ("50% off.txt", "attachment; filename=\"50_ off.txt\"; filename*=utf-8''50%25%20off.txt"),
    ],
)
def test_download_names_keep_their_extension_in_the_ascii_fallback(name, disposition):
    """An ASCII name is sent as it is; any other keeps its extension in the plain fallback, so a client
    that ignores filename* still saves a file of the right type."""
    assert download_disposition(name) == disposition
