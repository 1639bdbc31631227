"""Portal list, ticket page, replies and follow-ups under odd input, and outsiders everywhere."""

from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from helpdesk.services import site_configuration_update
from tests.factories import TeamFactory, make_agent, make_customer, make_ticket
from tickets import services
from tickets.models import Attachment, Ticket
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

LIST = reverse("tickets:portal_list")


@pytest.mark.parametrize("query", ["²", "T-²", "T-99999999999999999999999", "١٢", "\u00bd"])
def test_my_tickets_search_with_odd_digits_answers_200(client, query):
    customer = make_customer()
    make_ticket(customer, subject="Printer jam")
    client.force_login(customer)
    response = client.get(LIST, {"q": query, "status": "all"})
    assert response.status_code == 200
    assert "Nothing matches" in response.content.decode()


@pytest.mark.parametrize("page", ["0", "-1", "abc", "99999", "1.5", ""])
def test_my_tickets_page_numbers_out_of_range_answer_a_page(client, page):
    customer = make_customer()
    for number in range(21):
        make_ticket(customer, subject=f"Issue {number}")
    client.force_login(customer)
    response = client.get(LIST, {"page": page})
    assert response.status_code == 200
    assert response.content.decode().count("<tr>") in (2, 21)


def test_status_change_with_an_odd_version_answers_a_redirect(client):
    customer = make_customer()
    ticket = make_ticket(customer)
    client.force_login(customer)
    response = client.post(
        reverse("tickets:portal_status", args=[ticket.number]), {"status": "resolved", "version": "²"}
    )
    assert response.status_code == 302


def test_htmx_reply_on_a_closed_ticket_sends_the_browser_to_the_follow_up(client):
    customer = make_customer()
    ticket = make_ticket(customer)
    services.ticket_transition(ticket, status=Status.CLOSED, actor=None)
    client.force_login(customer)
    response = client.post(
        reverse("tickets:portal_reply", args=[ticket.number]),
        {"body": "It is broken again", "attachments": [SimpleUploadedFile("log.txt", b"boom")]},
        headers={"HX-Request": "true"},
    )
    follow_up = Ticket.objects.get(follow_up_of=ticket)
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("tickets:portal_detail", args=[follow_up.number])
    assert follow_up.requester == customer and follow_up.messages.get().attachments.count() == 1
    page = client.get(response["HX-Redirect"]).content.decode()
    assert f"your message opened {follow_up.reference}" in page


def test_plain_reply_on_a_closed_ticket_redirects_to_the_follow_up(client):
    customer = make_customer()
    ticket = make_ticket(customer)
    services.ticket_transition(ticket, status=Status.CLOSED, actor=None)
    client.force_login(customer)
    response = client.post(reverse("tickets:portal_reply", args=[ticket.number]), {"body": "Again"})
    follow_up = Ticket.objects.get(follow_up_of=ticket)
    assert response.status_code == 302
    assert response["Location"] == reverse("tickets:portal_detail", args=[follow_up.number])
    assert Ticket.objects.get(pk=ticket.pk).status == Status.CLOSED


@pytest.mark.parametrize("status", [Status.PENDING, Status.RESOLVED])
def test_reply_with_a_file_on_a_waiting_or_solved_ticket_reopens_it(client, status):
    customer, team = make_customer(), TeamFactory()
    ticket = make_ticket(customer, team=team)
    services.ticket_transition(ticket, status=status, actor=make_agent(team))
    client.force_login(customer)
    response = client.post(
        reverse("tickets:portal_reply", args=[ticket.number]),
        {"body": "Still broken", "attachments": [SimpleUploadedFile("again.txt", b"boom")]},
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN and ticket.resolved_at is None
    assert Attachment.objects.filter(filename="again.txt").exists()


def test_outsiders_get_404_on_every_ticket_url(client):
    team = TeamFactory()
    owner = make_customer()
    ticket = make_ticket(owner, team=team, uploads=[SimpleUploadedFile("a.txt", b"secret")])
    attachment = Attachment.objects.get()
    colleague = make_customer(owner.organization)
    stranger_manager = make_customer(manager=True)
    for outsider in (colleague, stranger_manager):
        client.force_login(outsider)
        assert client.get(reverse("tickets:portal_detail", args=[ticket.number])).status_code == 404
        assert (
            client.post(reverse("tickets:portal_reply", args=[ticket.number]), {"body": "x"}).status_code
            == 404
        )
        status_url = reverse("tickets:portal_status", args=[ticket.number])
        assert client.post(status_url, {"status": "resolved"}).status_code == 404
        assert client.get(reverse("tickets:attachment_download", args=[attachment.pk])).status_code == 404
        listing = client.get(LIST, {"status": "all", "scope": "organization", "q": ticket.reference})
        assert reverse("tickets:portal_detail", args=[ticket.number]) not in listing.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).status == Status.NEW and ticket.messages.count() == 1


def test_organisation_manager_sees_and_answers_a_colleagues_ticket(client):
    member = make_customer()
    manager = make_customer(member.organization, manager=True)
    ticket = make_ticket(member, subject="Colleague's printer")
    client.force_login(manager)
    assert ticket.reference not in client.get(LIST).content.decode()
    listing = client.get(LIST, {"scope": "organization"}).content.decode()
    assert ticket.reference in listing and "Colleague&#x27;s printer" in listing
    assert client.get(reverse("tickets:portal_detail", args=[ticket.number])).status_code == 200
    client.post(reverse("tickets:portal_reply", args=[ticket.number]), {"body": "On it"})
    assert ticket.messages.count() == 2


def test_internal_notes_and_their_files_stay_out_of_the_portal(client):
    team = TeamFactory()
    customer, agent = make_customer(), make_agent(team)
    ticket = make_ticket(customer, team=team)
    services.ticket_add_note(
        ticket, body="Customer is grumpy", actor=agent, uploads=[SimpleUploadedFile("n.txt", b"note")]
    )
    client.force_login(customer)
    page = client.get(reverse("tickets:portal_detail", args=[ticket.number])).content.decode()
    assert "grumpy" not in page and "n.txt" not in page
    note_file = Attachment.objects.get(filename="n.txt")
    assert client.get(reverse("tickets:attachment_download", args=[note_file.pk])).status_code == 404


def test_anonymous_submission_switched_off_meanwhile_answers_422_not_500(client, monkeypatch):
    site_configuration_update(changes={"anonymous_submission": False}, actor=None)
    # The page was read while anonymous submission was still on (another process's cached copy).
    monkeypatch.setattr(
        "tickets.views.portal.site_configuration", lambda request: SimpleNamespace(anonymous_submission=True)
    )
    response = client.post(
        reverse("tickets:portal_submit"),
        {
            "subject": "Hi",
            "description": "x",
            "submission_key": "8a4c0f5e-0c6b-4df5-9f58-2c1a3c6f0e11",
            "name": "Visitor",
            "email": "v@example.org",
        },
    )
    assert response.status_code == 422
    assert services.ANONYMOUS_CLOSED in response.content.decode()
    assert not Ticket.objects.exists()
