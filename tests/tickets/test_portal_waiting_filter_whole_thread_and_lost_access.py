"""The customer portal after submission: "my tickets" filtered to those waiting for the customer, a reply
sent while reading the whole conversation, files of people who lost access, internal files after a merge,
stale "mark as solved" clicks, replies to a ticket closed meanwhile, and odd list parameters."""

import re
import uuid
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.conftest import made_once_per_module
from tests.factories import (
    OrganizationFactory,
    TeamFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_ticket,
)
from tests.tickets.conftest import portal_detail_url, portal_reply_url, portal_status_url
from tickets import services
from tickets.models import Attachment, Ticket, TicketMessage
from tickets.selectors import THREAD_WINDOW
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

LIST = reverse("tickets:portal_list")


def fresh(ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def text(response) -> str:
    return unescape(response.content.decode())


def posted(body: str) -> dict:
    return {"body": body, "submission_key": str(uuid.uuid4())}


def make_support():
    team = TeamFactory(name="Support")
    return {"team": team, "agent": make_agent(team, name="Alex Agent")}


_support_rows, support = made_once_per_module(make_support, "support")


# --- Filters and the whole thread ----------------------------------------------------------------------


def test_my_tickets_can_be_filtered_to_those_waiting_for_my_reply(client, support):
    """A customer with several requests wants the ones support is waiting on them for. The status
    filter offers only Open / Solved / All, and Open mixes "waiting for your reply" with those support
    is working. Zendesk's request list filters "Awaiting your reply" (Freshdesk: "Awaiting your
    reply"/pending). Expected: a status option that lists only tickets waiting on the customer."""
    customer = make_customer()
    waiting = make_ticket(customer, team=support["team"], subject="Need your logs")
    working = make_ticket(customer, team=support["team"], subject="Being worked on")
    services.ticket_reply(
        waiting, body="Please send logs", actor=support["agent"], status_after=Status.PENDING
    )
    client.force_login(customer)
    page = text(client.get(LIST))
    select = re.search(r'<select id="filter-status" name="status">(.*?)</select>', page, re.S).group(1)
    options = {label: value for value, label in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)<', select)}
    choice = next((value for label, value in options.items() if "your reply" in label.lower()), None)
    assert choice is not None, f"status filter offers only {list(options)}"
    listed = text(client.get(LIST, {"status": choice}))
    assert waiting.reference in listed and working.reference not in listed


def test_replying_from_the_whole_thread_keeps_the_whole_thread_on_screen(client, support):
    """A customer opens a long conversation, clicks "Show N earlier messages" (?thread=all) to read an
    old answer, and replies with htmx (the page's default). The conversation swapped back in is the
    shortened window: the earlier messages they were reading vanish behind the link again, because the
    composer posts to the reply URL without ?thread=all and the view never asks what was shown.
    Expected: the fragment after a reply shows the thread the page showed (carry `thread=all`)."""
    customer = make_customer()
    ticket = make_ticket(customer, team=support["team"], description="First words")
    for number in range(THREAD_WINDOW + 2):
        services.ticket_reply(fresh(ticket), body=f"Message number {number:03d}", actor=support["agent"])
    client.force_login(customer)
    page = text(client.get(portal_detail_url(ticket), {"thread": "all"}))
    assert "Message number 000" in page
    action = re.search(r'<form method="post" action="([^"]+)"[^>]*class="card composer"', page).group(1)
    response = client.post(action, posted("My answer"), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "My answer" in text(response)
    assert "Message number 000" in text(response)


# --- Access, merges, stale clicks and odd lists --------------------------------------------------------


def test_a_colleague_and_a_demoted_manager_cannot_download_a_file_they_once_could(client, support):
    acme = OrganizationFactory()
    manager, colleague, author = make_customer(acme, manager=True), make_customer(acme), make_customer(acme)
    ticket = make_ticket(author, team=support["team"], uploads=[SimpleUploadedFile("log.txt", b"boot ok")])
    attachment = Attachment.objects.get()
    url = reverse("tickets:attachment_download", args=[attachment.pk])
    client.force_login(manager)
    assert client.get(url).status_code == 200
    type(manager).objects.filter(pk=manager.pk).update(is_organization_manager=False)
    assert client.get(url).status_code == 404
    client.force_login(colleague)
    assert client.get(url).status_code == 404
    assert client.get(portal_detail_url(ticket)).status_code == 404


def test_internal_note_files_never_reach_the_customer_even_after_a_merge(client, support):
    customer = make_customer()
    source = make_ticket(customer, team=support["team"], subject="Duplicate")
    target = make_ticket(customer, team=support["team"], subject="Main")
    services.ticket_add_note(
        source, body="secret-note", actor=support["agent"], uploads=[SimpleUploadedFile("n.txt", b"secret")]
    )
    services.ticket_merge(fresh(source), into=fresh(target), actor=make_administrator())
    note_file = Attachment.objects.get(filename="n.txt")
    client.force_login(customer)
    assert "secret-note" not in text(client.get(portal_detail_url(target)))
    assert client.get(reverse("tickets:attachment_download", args=[note_file.pk])).status_code == 404


def test_a_stale_mark_as_solved_after_support_answered_is_refused(client, support):
    customer = make_customer()
    ticket = make_ticket(customer, team=support["team"])
    client.force_login(customer)
    page = text(client.get(portal_detail_url(ticket)))
    seen = re.search(r'name="seen" value="(\d+)"', page).group(1)
    services.ticket_add_note(fresh(ticket), body="note only", actor=support["agent"])
    services.ticket_reply(fresh(ticket), body="Try turning it off and on", actor=support["agent"])
    client.post(portal_status_url(ticket), {"status": "resolved", "seen": seen})
    assert fresh(ticket).status != Status.RESOLVED


def test_a_reply_typed_while_support_closed_the_ticket_opens_a_follow_up(client, support):
    customer = make_customer()
    ticket = make_ticket(customer, team=support["team"])
    client.force_login(customer)
    client.get(portal_detail_url(ticket))
    services.ticket_transition(fresh(ticket), status=Status.CLOSED, actor=support["agent"])
    response = client.post(portal_reply_url(ticket), posted("Still broken"), follow=True)
    follow_up = Ticket.objects.get(follow_up_of=ticket)
    assert follow_up.messages.get().body == "Still broken"
    assert ticket.reference in text(response)


def test_odd_list_parameters_and_a_deleted_ticket(client, support):
    customer = make_customer()
    ticket = make_ticket(customer, team=support["team"])
    gone = make_ticket(customer, team=support["team"], subject="Spam")
    services.ticket_delete(gone, actor=make_administrator())
    client.force_login(customer)
    for params in ({"q": "\x00"}, {"q": "T-" + "9" * 30}, {"page": "0"}, {"status": "closed"}, {"q": "%_"}):
        response = client.get(LIST, params)
        assert response.status_code == 200, params
    assert gone.reference not in text(client.get(LIST, {"status": "all"}))
    assert client.get(portal_detail_url(gone)).status_code == 404
    assert client.post(portal_reply_url(gone), posted("hello")).status_code == 404
    assert not TicketMessage.objects.filter(body="hello").exists()
    assert ticket.reference in text(client.get(LIST))
