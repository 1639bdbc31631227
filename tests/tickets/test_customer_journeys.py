"""What customers met on the way: a CSV saved by Excel on Windows, a log quoting a web page, an empty
filtered ticket list, and the time zones the profile offers."""

import io
import uuid
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.forms import ProfileForm
from tests.factories import make_customer, make_ticket
from tickets.models import Ticket

SUBMIT = reverse("tickets:portal_submit")


@pytest.mark.django_db
def test_csv_exported_by_excel_in_windows_1252_is_accepted_as_an_attachment(client):
    """Excel on Windows saves "CSV (comma delimited)" in Windows-1252. Such a file is refused with
    "export.csv is not an allowed type of file. Allowed: .csv, …", which contradicts itself: the
    customer attached a .csv. Plain text in a legacy encoding (no NUL bytes, no markup) is still text."""
    customer = make_customer()
    client.force_login(customer)
    export = "Name;City\nMüller;Köln\nJosé;Málaga\n".encode("cp1252")
    response = client.post(
        SUBMIT,
        {
            "subject": "Export has wrong names",
            "description": "See the attached export from Excel.",
            "submission_key": str(uuid.uuid4()),
            "attachments": [SimpleUploadedFile("export.csv", export, content_type="text/csv")],
        },
    )
    assert "is not an allowed type of file" not in response.content.decode(), (
        "a .csv file is refused as 'not an allowed type' while the message lists .csv as allowed"
    )
    assert response.status_code == 302
    ticket = Ticket.objects.get(subject="Export has wrong names")
    assert ticket.messages.get().attachments.get().filename == "export.csv"


@pytest.mark.django_db
def test_a_log_quoting_a_web_page_is_refused_saying_why_and_what_to_do(client):
    """A server log holding the HTML error page it served: .log is an allowed type, so "not an allowed
    type" would contradict the list it gives. The refusal names the markup and the way round it (a
    .zip), keeps what was typed, and the same file zipped is taken."""
    client.force_login(make_customer())
    log = b"12:00:01 GET /checkout 500\n<html><body><h1>Server Error</h1></body></html>\n"
    data = {"subject": "Checkout fails", "description": "Log attached.", "submission_key": str(uuid.uuid4())}
    response = client.post(SUBMIT, {**data, "attachments": [SimpleUploadedFile("server.log", log)]})
    assert response.status_code == 422
    page = response.content.decode()
    assert "server.log holds web-page markup" in page and "put it in a .zip" in page
    assert "not an allowed type" not in page and 'value="Checkout fails"' in page

    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("server.log", log)
    taken = client.post(
        SUBMIT, {**data, "attachments": [SimpleUploadedFile("server.zip", zipped.getvalue())]}
    )
    assert taken.status_code == 302
    assert (
        Ticket.objects.get(subject="Checkout fails").messages.get().attachments.get().filename == "server.zip"
    )


@pytest.mark.django_db
def test_empty_filtered_ticket_list_does_not_tell_a_customer_with_tickets_to_submit_one(client):
    """A customer whose only ticket is open picks Status: Solved and reads "No tickets here. When you
    submit a request, it appears here." — as if their requests were lost. The empty state should say that
    no ticket matches the filter (as it does for a search)."""
    customer = make_customer()
    make_ticket(customer, subject="Printer jam")
    client.force_login(customer)
    response = client.get(reverse("tickets:portal_list"), {"status": "solved"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "No tickets here" in html
    assert "When you submit a request, it appears here." not in html


def test_profile_time_zones_do_not_offer_inverted_posix_zones_or_legacy_aliases():
    """The profile's time-zone list has ~600 entries straight from the tz database, among them
    "Etc/GMT+5" (which is UTC-5: the POSIX sign is inverted, so a customer in UTC+5 who picks it sees
    every time 10 hours off), and retired aliases beside their current names ("Europe/Kiev" and
    "Europe/Kyiv", "Asia/Calcutta" and "Asia/Kolkata", "EST", "Zulu")."""
    offered = {value for value, _ in ProfileForm(initial={"timezone": "UTC"}).fields["timezone"].choices}
    assert "Europe/Kyiv" in offered and "Asia/Kolkata" in offered
    confusing = {"Etc/GMT+5", "Etc/GMT-5", "Europe/Kiev", "Asia/Calcutta", "EST", "Zulu", "US/Eastern"}
    assert offered.isdisjoint(confusing), sorted(offered & confusing)


def test_a_zone_chosen_before_stays_on_offer():
    offered = {
        value for value, _ in ProfileForm(initial={"timezone": "Europe/Kiev"}).fields["timezone"].choices
    }
    assert "Europe/Kiev" in offered and "Europe/Kyiv" in offered
