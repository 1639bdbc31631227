"""Uploads: HTML, SVG, scripts and files whose content does not match their name are refused wherever
files can be attached (portal submission, portal reply, desk composer); what is accepted comes back
only as an inert download (attachment disposition, nosniff, sandboxing CSP)."""

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.factories import TeamFactory, make_agent, make_customer, make_ticket
from tickets.models import Attachment, Ticket, TicketMessage

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
HOSTILE = [
    ("page.html", b"<html><script>alert(1)</script></html>"),
    ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
    ("notes.txt", b"<script>alert(1)</script>"),
    ("run.sh", b"#!/bin/sh\nrm -rf /"),
    ("app.js", b"fetch('/desk/').then(r => r.text())"),
    ("fake.png", b"<html>not an image</html>"),
    ("image.pdf", PNG),
]


@pytest.mark.parametrize(("name", "content"), HOSTILE)
def test_portal_submission_refuses(client, name, content):
    client.force_login(make_customer())
    data = {"subject": "Help", "description": "x", "submission_key": str(uuid.uuid4()),
            "attachments": [SimpleUploadedFile(name, content)]}  # fmt: skip
    response = client.post(reverse("tickets:portal_submit"), data)
    assert response.status_code == 422
    assert "attachments" in response.context["form"].errors
    assert not Ticket.objects.exists() and not Attachment.objects.exists()


@pytest.mark.parametrize(("name", "content"), HOSTILE)
def test_portal_reply_refuses(client, name, content):
    customer = make_customer()
    ticket = make_ticket(customer)
    client.force_login(customer)
    response = client.post(
        reverse("tickets:portal_reply", args=[ticket.number]),
        {"body": "see file", "attachments": [SimpleUploadedFile(name, content)]},
    )
    assert response.status_code == 422
    assert TicketMessage.objects.filter(ticket=ticket).count() == 1 and not Attachment.objects.exists()


@pytest.mark.parametrize(("name", "content"), HOSTILE)
def test_desk_composer_refuses(client, name, content):
    team = TeamFactory()
    ticket = make_ticket(make_customer(), team=team)
    client.force_login(make_agent(team))
    response = client.post(
        reverse("tickets:desk_reply", args=[ticket.number]),
        {"kind": "note", "body": "see file", "attachments": [SimpleUploadedFile(name, content)]},
    )
    assert response.status_code == 422
    assert TicketMessage.objects.filter(ticket=ticket).count() == 1 and not Attachment.objects.exists()


def test_too_large_upload_is_refused_with_the_limit(client, settings):
    settings.ATTACHMENT_MAX_BYTES = 1000
    client.force_login(make_customer())
    data = {"subject": "Help", "description": "x", "submission_key": str(uuid.uuid4()),
            "attachments": [SimpleUploadedFile("big.txt", b"a" * 2000)]}  # fmt: skip
    response = client.post(reverse("tickets:portal_submit"), data)
    assert response.status_code == 422
    assert "big.txt is 2.0\xa0KB; files may be at most 1000\xa0bytes." in response.content.decode()


def test_download_is_an_inert_attachment(client):
    customer = make_customer()
    make_ticket(customer, uploads=[SimpleUploadedFile('we"ird<name>.txt', b"hello")])
    client.force_login(customer)
    attachment = Attachment.objects.get()
    response = client.get(reverse("tickets:attachment_download", args=[attachment.pk]))
    assert response["Content-Disposition"].startswith("attachment;")
    assert "<" not in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"].startswith("text/plain")
    assert "sandbox" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content) == b"hello"
    attachment.refresh_from_db()
    assert attachment.download_count == 1
