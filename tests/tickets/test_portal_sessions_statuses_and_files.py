"""Customer portal: a session ending on an organisation's form, on-hold shown as open, follow-up
subjects, repeated files, changed forms, odd numbers and ids, organisation managers."""

import re
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from helpdesk.services import site_configuration_update
from tests.factories import (
    PNG,
    OrganizationFactory,
    TicketFormFactory,
    make_customer,
    make_ticket,
)
from tests.tickets.conftest import page_text, submission
from tests.tickets.conftest import portal_detail_url as detail
from tickets.models import Attachment, Ticket
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

SUBMIT = reverse("tickets:portal_submit")
LIST = reverse("tickets:portal_list")


def _set_status(ticket, status):
    Ticket.objects.filter(pk=ticket.pk).update(status=status)
    ticket.refresh_from_db()
    return ticket


# --- submission ---------------------------------------------------------------------------------


def test_a_session_ending_on_an_organisations_form_asks_to_sign_in_when_visitors_may_submit(
    client,
):
    """Anonymous submission is on. A customer fills in their organisation's private form; their session
    ends meanwhile. The form still exists and is theirs: the page must not claim the form is "no longer
    available" (Zendesk/osTicket would ask them to sign in again), nor turn their request into a
    general one filed as a visitor."""
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    organization = OrganizationFactory()
    customer = make_customer(organization)
    TicketFormFactory(slug="acme-orders", organization=organization)
    url = reverse("tickets:portal_submit_form", args=["acme-orders"])
    client.force_login(customer)
    page = client.get(url).content.decode()
    owner = re.search(r'name="drafted_by" value="([^"]+)"', page).group(1)
    client.logout()
    response = client.post(
        url,
        submission(cf_order_number="ORD-777", cf_product="Pro", drafted_by=owner),
    )
    body = page_text(response)
    assert response.status_code == 422
    assert "no longer available" not in body
    assert Ticket.objects.count() == 0


def test_the_same_file_chosen_twice_in_one_submission_is_attached_once(client):
    """A customer picks the same screenshot twice in the file dialog: the ticket carries it once."""
    client.force_login(make_customer())
    response = client.post(
        SUBMIT,
        submission(attachments=[SimpleUploadedFile("shot.png", PNG), SimpleUploadedFile("shot.png", PNG)]),
    )
    assert response.status_code == 302
    assert Attachment.objects.count() == 1


def test_a_field_made_required_after_the_customer_opened_the_form_is_asked_for_not_500(client):
    """An admin adds a required field while a customer types: the submission comes back 422 naming the
    new field, with everything typed kept."""
    client.force_login(make_customer())
    form = TicketFormFactory(slug="orders")
    url = reverse("tickets:portal_submit_form", args=["orders"])
    assert client.get(url).status_code == 200
    form.schema = [
        *form.schema,
        {"name": "serial", "label": "Serial number", "type": "text", "required": True},
    ]
    form.save()
    response = client.post(url, submission(cf_order_number="A-1", description="Kept text"))
    body = page_text(response)
    assert response.status_code == 422
    assert "Serial number" in body and "Kept text" in body and 'value="A-1"' in body
    assert Ticket.objects.count() == 0


# --- list and labels ----------------------------------------------------------------------------


def test_on_hold_is_not_revealed_to_the_customer(client):
    """On hold is an internal status (waiting on a third party); like Zendesk, the customer sees their
    ticket as open in their list and on its page, never "On hold"."""
    customer = make_customer()
    ticket = _set_status(make_ticket(customer), Status.ON_HOLD)
    client.force_login(customer)
    listing, page = page_text(client.get(LIST)), page_text(client.get(detail(ticket)))
    assert ticket.reference in listing
    assert "On hold" not in listing
    assert "On hold" not in page


def test_search_with_a_percent_sign_is_taken_literally(client):
    """Searching "100%" finds the ticket about 100% CPU, not every ticket starting with 100."""
    customer = make_customer()
    make_ticket(customer, subject="CPU at 100% all day")
    make_ticket(customer, subject="Invoice 1002 is wrong")
    client.force_login(customer)
    body = page_text(client.get(LIST, {"q": "100%"}))
    assert "CPU at 100% all day" in body
    assert "Invoice 1002 is wrong" not in body


def test_paging_keeps_the_search(client):
    """With 25 matches the second page of a search still lists only matches."""
    customer = make_customer()
    for n in range(25):
        make_ticket(customer, subject=f"Printer issue {n}")
    make_ticket(customer, subject="Unrelated billing")
    client.force_login(customer)
    first = page_text(client.get(LIST, {"q": "printer"}))
    assert "page=2" in first and "q=printer" in first
    second = page_text(client.get(LIST, {"q": "printer", "page": 2}))
    assert "Unrelated billing" not in second
    assert second.count("Printer issue") == 5


# --- URLs with odd numbers ----------------------------------------------------------------------


def test_an_attachment_id_beyond_the_database_range_answers_404(client):
    """A hand-edited download URL with a huge id answers 404, not a server error."""
    client.force_login(make_customer())
    response = client.get("/portal/attachments/99999999999999999999999/")
    assert response.status_code == 404


def test_a_ticket_number_of_18_digits_answers_404(client):
    client.force_login(make_customer())
    assert client.get("/portal/tickets/999999999999999999/").status_code == 404
    assert client.get("/portal/tickets/T-999999999999999999/reply/").status_code in (404, 405)


# --- replies and status -------------------------------------------------------------------------


def test_a_managers_reply_on_a_colleagues_pending_ticket_reopens_it(client):
    """An organisation manager answers for a colleague on a ticket waiting on the customer: it goes back
    to the agents' queue as open."""
    organization = OrganizationFactory()
    colleague, manager = make_customer(organization), make_customer(organization, manager=True)
    ticket = _set_status(make_ticket(colleague), Status.PENDING)
    client.force_login(manager)
    response = client.post(
        reverse("tickets:portal_reply", args=[ticket.number]),
        {"body": "Here is the info", "submission_key": str(uuid.uuid4())},
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN


# --- organisations and leaks --------------------------------------------------------------------


def test_a_demoted_manager_cannot_download_a_colleagues_file(client):
    """The manager flag removed, the colleague's attachment URL answers 404."""
    organization = OrganizationFactory()
    colleague, manager = make_customer(organization), make_customer(organization, manager=True)
    make_ticket(colleague, uploads=[SimpleUploadedFile("secret.png", PNG)])
    attachment = Attachment.objects.get()
    url = reverse("tickets:attachment_download", args=[attachment.pk])
    client.force_login(manager)
    assert client.get(url).status_code == 200
    manager.is_organization_manager = False
    manager.save()
    assert client.get(url).status_code == 404


def test_the_organisation_list_does_not_include_another_organisations_tickets_of_a_requester_who_moved(
    client,
):
    """A customer moves from Acme to Globex and opens a new ticket there: Acme's manager does not see the
    Globex ticket, Globex's manager does."""
    acme, globex = OrganizationFactory(), OrganizationFactory()
    mover = make_customer(acme)
    acme_manager, globex_manager = make_customer(acme, manager=True), make_customer(globex, manager=True)
    mover.organization = globex
    mover.save()
    ticket = make_ticket(mover, subject="Globex laptop")
    client.force_login(acme_manager)
    assert client.get(detail(ticket)).status_code == 404
    assert "Globex laptop" not in page_text(client.get(LIST, {"scope": "organization", "status": "all"}))
    client.force_login(globex_manager)
    assert "Globex laptop" in page_text(client.get(LIST, {"scope": "organization", "status": "all"}))


def test_a_follow_up_of_a_follow_up_is_not_titled_follow_up_twice(client):
    """A customer writes on a closed follow-up: the new ticket reads "Follow-up: Printer on fire", as
    Zendesk's follow-ups keep the original subject, not "Follow-up: Follow-up: Printer on fire"."""
    customer = make_customer()
    first = _set_status(make_ticket(customer, subject="Printer on fire"), Status.CLOSED)
    client.force_login(customer)
    client.post(
        reverse("tickets:portal_reply", args=[first.number]),
        {"body": "It is burning again", "submission_key": str(uuid.uuid4())},
    )
    second = _set_status(Ticket.objects.get(follow_up_of=first), Status.CLOSED)
    client.post(
        reverse("tickets:portal_reply", args=[second.number]),
        {"body": "And again", "submission_key": str(uuid.uuid4())},
    )
    third = Ticket.objects.get(follow_up_of=second)
    assert third.subject == "Follow-up: Printer on fire"


def test_the_same_file_chosen_twice_in_one_reply_is_attached_once(client):
    """A reply with the same log chosen twice carries it once."""
    customer = make_customer()
    ticket = make_ticket(customer)
    client.force_login(customer)
    response = client.post(
        reverse("tickets:portal_reply", args=[ticket.number]),
        {
            "body": "Logs attached",
            "submission_key": str(uuid.uuid4()),
            "attachments": [
                SimpleUploadedFile("app.log", b"line 1\n"),
                SimpleUploadedFile("app.log", b"line 1\n"),
            ],
        },
    )
    assert response.status_code == 302
    assert Attachment.objects.count() == 1
