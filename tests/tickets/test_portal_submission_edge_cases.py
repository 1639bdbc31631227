"""Portal submission under odd input: every custom field type, attachments by content, anonymous
visitors, duplicates and the 422 refill."""

import io
import re
import threading
import uuid
import zipfile

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from helpdesk.services import site_configuration_update
from tests.factories import PNG, TicketFormFactory, make_customer
from tickets.models import Attachment, Ticket

pytestmark = pytest.mark.django_db

SUBMIT = reverse("tickets:portal_submit")
EVERY_TYPE = [
    {"name": "order", "label": "Order", "type": "text", "required": True},
    {"name": "story", "label": "Story", "type": "textarea"},
    {"name": "plan", "label": "Plan", "type": "select", "choices": ["Basic", "Pro"], "required": True},
    {"name": "areas", "label": "Areas", "type": "multi_select", "choices": ["Mail", "Web", "VPN"]},
    {"name": "urgent", "label": "Urgent", "type": "checkbox"},
    {"name": "seats", "label": "Seats", "type": "number"},
    {"name": "since", "label": "Since", "type": "date"},
    {"name": "contact", "label": "Contact", "type": "email"},
]


def submission(**extra) -> dict:
    return {
        "subject": "Printer jam",
        "description": "Paper stuck",
        "submission_key": str(uuid.uuid4()),
        **extra,
    }


def zip_bytes(*members: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member in members:
            archive.writestr(member, "<x/>")
    return buffer.getvalue()


@pytest.fixture
def every_type_url():
    TicketFormFactory(slug="everything", schema=EVERY_TYPE)
    return reverse("tickets:portal_submit_form", args=["everything"])


def test_every_field_type_is_stored_as_json(client, every_type_url):
    client.force_login(make_customer())
    data = submission(
        cf_order="A-1",
        cf_story="Long",
        cf_plan="Pro",
        cf_areas=["Mail", "VPN"],
        cf_urgent="on",
        cf_seats="12.50",
        cf_since="2026-01-31",
        cf_contact="boss@example.org",
    )
    response = client.post(every_type_url, data)
    assert response.status_code == 302
    assert Ticket.objects.get().custom_fields == {
        "order": "A-1",
        "story": "Long",
        "plan": "Pro",
        "areas": ["Mail", "VPN"],
        "urgent": True,
        "seats": 12.5,
        "since": "2026-01-31",
        "contact": "boss@example.org",
    }
    page = client.get(response["Location"]).content.decode()
    assert "Mail, VPN" in page and "31 Jan 2026" in page


def test_every_bad_custom_value_answers_422_and_everything_typed_comes_back(client, every_type_url):
    client.force_login(make_customer())
    data = submission(
        description="Typed with care",
        cf_order="",
        cf_story="My story",
        cf_plan="Enterprise",
        cf_areas=["Mail", "Fax"],
        cf_urgent="on",
        cf_seats="1e40",
        cf_since="2026-02-30",
        cf_contact="not-an-address",
    )
    response = client.post(every_type_url, data)
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert set(errors) == {"cf_order", "cf_plan", "cf_areas", "cf_seats", "cf_since", "cf_contact"}
    body = response.content.decode()
    assert "Typed with care" in body and "My story" in body
    assert 'value="1e40"' in body and 'value="2026-02-30"' in body and 'value="not-an-address"' in body
    assert 'value="Mail" aria-invalid="true" id="id_cf_areas_0" checked>' in body
    assert '<input type="checkbox" name="cf_urgent" id="id_cf_urgent" checked>' in body
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("archive.zip", zip_bytes("notes.txt"), "application/zip"),
        (
            "budget.xlsx",
            zip_bytes("[Content_Types].xml", "xl/workbook.xml"),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        (
            "slides.pptx",
            zip_bytes("[Content_Types].xml", "ppt/presentation.xml"),
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
        ("letter.odt", zip_bytes("mimetype", "content.xml"), "application/vnd.oasis.opendocument.text"),
        ("sheet.ods", zip_bytes("mimetype", "content.xml"), "application/vnd.oasis.opendocument.spreadsheet"),
        ("talk.odp", zip_bytes("mimetype", "content.xml"), "application/vnd.oasis.opendocument.presentation"),
        (
            "letter.docx",
            zip_bytes("[Content_Types].xml", "word/document.xml"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
    ],
)
def test_zip_based_files_are_accepted_under_their_own_type(client, name, content, content_type):
    client.force_login(make_customer())
    response = client.post(SUBMIT, submission(attachments=[SimpleUploadedFile(name, content)]))
    assert response.status_code == 302, response.context["form"].errors
    assert Attachment.objects.get().content_type == content_type


def test_a_zip_under_a_name_that_is_no_zip_container_is_refused(client):
    client.force_login(make_customer())
    response = client.post(SUBMIT, submission(attachments=[SimpleUploadedFile("setup.exe", zip_bytes("a"))]))
    assert response.status_code == 422 and not Attachment.objects.exists()
    error = response.content.decode()
    assert "setup.exe is not an allowed type of file. Allowed: " in error and ".docx" in error
    assert "does not look like" not in error


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("app.log", b'{"level": "error", "message": "disk full"}\n'),
        ("mail.txt", b"From: Jo <jo@example.org>\nSubject: invoice\n\nHello\n"),
        ("export.csv", b"\xef\xbb\xbfName;Amount\r\nJo;12\r\n"),
    ],
)
def test_plain_text_files_that_look_like_something_else_are_accepted_as_text(client, name, content):
    client.force_login(make_customer())
    response = client.post(SUBMIT, submission(attachments=[SimpleUploadedFile(name, content)]))
    assert response.status_code == 302, response.context["form"].errors
    assert Attachment.objects.get().content_type.startswith("text/")


def test_several_files_are_kept_and_an_empty_one_is_refused(client):
    client.force_login(make_customer())
    files = [SimpleUploadedFile("a.png", PNG), SimpleUploadedFile("b.txt", b"hello")]
    assert client.post(SUBMIT, submission(attachments=files)).status_code == 302
    assert Attachment.objects.count() == 2
    response = client.post(SUBMIT, submission(attachments=[SimpleUploadedFile("empty.txt", b"")]))
    assert response.status_code == 422
    assert "The submitted file is empty." in response.content.decode()
    assert Ticket.objects.count() == 1


def test_too_many_files_answer_422_with_the_limit(client):
    client.force_login(make_customer())
    files = [SimpleUploadedFile(f"{n}.txt", b"x") for n in range(11)]
    response = client.post(SUBMIT, submission(attachments=files))
    assert response.status_code == 422
    assert "Attach at most 10 files at a time." in response.content.decode()
    assert not Ticket.objects.exists()


def test_anonymous_email_longer_than_an_account_allows_answers_422(client):
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    address = "a" * 60 + "@" + ".".join(["b" * 60] * 4) + ".org"
    assert 254 < len(address) <= 320
    response = client.post(SUBMIT, submission(name="Visitor", email=address))
    assert response.status_code == 422
    assert "email" in response.context["form"].errors
    assert not Ticket.objects.exists()


@pytest.mark.usefixtures("immediate_tasks")  # the receipt is a task
def test_anonymous_double_submission_sends_one_receipt(client, django_capture_on_commit_callbacks):
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    data = submission(name="Visitor", email="visitor@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(SUBMIT, data)
        client.post(SUBMIT, data)
    assert Ticket.objects.count() == 1
    assert len(mail.outbox) == 1


@pytest.mark.usefixtures("immediate_tasks")  # the receipt is a task
@pytest.mark.django_db(transaction=True)
def test_anonymous_submissions_at_the_same_moment_send_one_receipt(settings):
    """Three requests with one key at once (a double click without JavaScript, a retry): each used to
    ask whether the key was known before any had committed, and each sent a receipt."""
    settings.RATE_LIMITS_ENABLED = False
    call_command("loaddata", "roles", verbosity=0)  # a transactional test starts from an empty database
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    data = submission(name="Visitor", email="visitor@example.org")
    start = threading.Barrier(3)
    statuses: list[int] = []

    def post() -> None:
        try:
            start.wait()
            statuses.append(Client().post(SUBMIT, data).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [302, 302, 302]
    assert Ticket.objects.count() == 1
    assert len(mail.outbox) == 1


def test_anonymous_visitor_sees_only_public_forms(client):
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    owner = make_customer()
    TicketFormFactory(slug="acme-only", title="Acme only", organization=owner.organization)
    TicketFormFactory(slug="public", title="Public form")
    page = client.get(SUBMIT).content.decode()
    assert "Public form" in page and "Acme only" not in page
    opened = client.get(reverse("tickets:portal_submit_form", args=["acme-only"]))
    assert opened.status_code == 302 and opened["Location"].startswith(reverse("accounts:login"))
    sent = client.post(reverse("tickets:portal_submit_form", args=["acme-only"]), submission())
    assert sent.status_code == 422 and "Acme only" not in sent.content.decode()
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(("name", "kept"), [("r" * 216 + ".txt", "r" * 196 + ".txt"), ("a.txt", "a.txt")])
def test_a_long_file_name_is_shortened_before_its_extension(client, name, kept):
    client.force_login(make_customer())
    upload = SimpleUploadedFile(name, b"plain words\n", content_type="text/plain")
    response = client.post(SUBMIT, submission(attachments=[upload]))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Attachment.objects.get().filename == kept


@pytest.mark.parametrize("key", ["not-a-key", ""])
def test_a_key_that_does_not_read_is_explained_and_replaced(client, key):
    client.force_login(make_customer())
    response = client.post(SUBMIT, submission(submission_key=key))
    page = response.content.decode()
    assert response.status_code == 422
    assert "This form could not be read in full. Check what you wrote below and send it again." in page
    assert "Please correct the fields marked below." not in page and 'value="Printer jam"' in page
    fresh = re.search(r'name="submission_key" value="([^"]+)"', page).group(1)
    assert client.post(SUBMIT, submission(submission_key=fresh)).status_code == 302


def test_an_empty_post_is_a_422_that_marks_the_required_fields(client):
    client.force_login(make_customer())
    response = client.post(SUBMIT, {})
    assert response.status_code == 422
    assert response.content.decode().count('aria-invalid="true"') >= 2  # subject and description
    assert Ticket.objects.count() == 0
