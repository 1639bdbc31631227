"""The customer portal after submission: my tickets, the ticket page (status words, who wrote), replying,
solving and reopening (a ticket merged meanwhile), the anonymous receipt, the portal home, and no state
change on GET or HEAD."""

import re
import uuid
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from helpdesk.services import site_configuration_update
from tests.factories import (
    TEST_PASSWORD,
    OrganizationFactory,
    TeamFactory,
    TicketFormFactory,
    make_agent,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tests.tickets.conftest import notes, page_text, submission
from tests.tickets.conftest import portal_detail_url as detail
from tickets import services
from tickets.models import Ticket, TicketActivity, TicketMessage
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

LIST = reverse("tickets:portal_list")
SUBMITTED = reverse("tickets:portal_submitted")


def seen_on(page: str) -> str:
    """The `seen` value the page's status buttons send."""
    return re.search(r'name="seen" value="(\d*)"', page).group(1)


# --- Failing: defects ------------------------------------------------------------------------------


def test_a_stale_mark_as_solved_on_a_ticket_merged_meanwhile_says_where_it_went(client):
    """A customer whose page still shows their ticket open clicks "Mark as solved" after support merged it
    into another of their tickets. They never saw it closed: the refusal should tell them it was merged
    and name the ticket the conversation continues on (as the page itself does once reloaded), not
    "A ticket cannot go from Closed to Resolved"."""
    team = TeamFactory()
    supervisor = make_supervisor(team)
    customer = make_customer()
    home = make_ticket(customer, team=team, subject="Printer broken")
    duplicate = make_ticket(customer, team=team, subject="Printer still broken")
    client.force_login(customer)
    seen = seen_on(page_text(client.get(detail(duplicate))))
    services.ticket_merge(duplicate, into=home, actor=supervisor)

    response = client.post(
        reverse("tickets:portal_status", args=[duplicate.number]), {"status": "resolved", "seen": seen}
    )

    said = " ".join(notes(response))
    assert home.reference in said, f"the customer is told: {said!r}"
    assert "Closed to Resolved" not in said


def test_an_agent_without_a_name_is_not_shown_to_customers_by_their_email_address(client):
    """The thread names who wrote each message. An agent account without a name (the name is optional)
    must not put the agent's own e-mail address in front of customers: staff addresses are internal."""
    team = TeamFactory()
    agent = make_agent(team, name="", email="night.shift.7@corp.example")
    customer = make_customer()
    ticket = make_ticket(customer, team=team)
    services.ticket_reply(ticket, body="We are on it.", actor=agent)
    client.force_login(customer)

    page = page_text(client.get(detail(ticket)))

    assert "We are on it." in page
    assert "night.shift.7@corp.example" not in page


def test_the_anonymous_receipt_is_not_shown_to_the_next_person_who_signs_in(client):
    """A visitor's receipt lives in their session at a fixed address. When someone else then signs in
    on the same browser (a shared computer), /portal/tickets/submitted/ must no longer show the
    visitor's request (its reference and the form's message): it is not theirs."""
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    response = client.post(
        reverse("tickets:portal_submit"), submission(email="visitor@example.net", name="Vera Visitor")
    )
    assert response.status_code == 302 and response["Location"] == SUBMITTED
    ticket = Ticket.objects.get()
    assert ticket.reference in page_text(client.get(SUBMITTED))
    colleague = make_customer()
    signed_in = client.post(
        reverse("accounts:login"), {"username": colleague.email, "password": TEST_PASSWORD}
    )
    assert signed_in.status_code == 302

    response = client.get(SUBMITTED)

    assert ticket.reference not in page_text(response)


def test_a_reply_of_only_invisible_characters_is_refused_like_an_empty_one(client):
    """A reply made only of spaces is refused ("Write a message before sending"). One made only of
    zero-width spaces or byte-order marks (what a paste often leaves) reads exactly as empty: it must be
    refused too (422), not posted as a blank message that reopens the ticket and pings support."""
    customer = make_customer()
    ticket = make_ticket(customer)
    client.force_login(customer)
    url = reverse("tickets:portal_reply", args=[ticket.number])
    assert client.post(url, {"body": "  \n\t ", "submission_key": str(uuid.uuid4())}).status_code == 422

    response = client.post(url, {"body": "\u200b\ufeff\u200b", "submission_key": str(uuid.uuid4())})

    assert response.status_code == 422
    assert TicketMessage.objects.filter(ticket=ticket).count() == 1


def test_a_reply_or_a_new_ticket_whose_text_renders_to_nothing_is_refused(client):
    """ "#" or "&nbsp;" passes a check of the typed text and shows the support team an empty message."""
    customer = make_customer()
    ticket = make_ticket(customer)
    client.force_login(customer)
    reply = reverse("tickets:portal_reply", args=[ticket.number])
    assert client.post(reply, {"body": "# ", "submission_key": str(uuid.uuid4())}).status_code == 422
    submitted = client.post(
        reverse("tickets:portal_submit"),
        {"subject": "Printer", "description": "&nbsp;\n\n-", "submission_key": str(uuid.uuid4())},
    )
    assert submitted.status_code == 422 and "&amp;nbsp;" in submitted.content.decode()
    assert TicketMessage.objects.filter(ticket__requester=customer).count() == 1


def test_the_portal_does_not_tell_a_customer_their_ticket_waits_on_customer(client):
    """Status words in the portal are addressed to the customer. A ticket waiting for their answer is
    shown on their list and their ticket page in their words, not with the desk's label
    "Pending (waiting on customer)", which speaks of them in the third person."""
    team = TeamFactory()
    agent = make_agent(team)
    customer = make_customer()
    ticket = make_ticket(customer, team=team)
    services.ticket_reply(ticket, body="Which model is it?", actor=agent, status_after=Status.PENDING)
    client.force_login(customer)

    pages = page_text(client.get(detail(ticket))) + page_text(client.get(LIST))

    assert "waiting on customer" not in pages.lower()


# --- Passing: behaviour pinned ---------------------------------------------------------------------


def test_reading_portal_pages_with_get_or_head_changes_nothing(client):
    """Viewing (GET) or checking (HEAD) the ticket, the list, the home and the submit page answers 200 and
    changes nothing: not the version, the times the desk and the list go by, the assignee's unread
    marker, the timeline or the audit trail."""
    team = TeamFactory()
    agent = make_agent(team)
    customer = make_customer()
    ticket = make_ticket(customer, team=team)
    services.ticket_assign(ticket, assignee=agent, actor=agent)
    services.ticket_reply(ticket, body="Hello", actor=agent)
    services.ticket_reply(Ticket.objects.get(pk=ticket.pk), body="Still broken", actor=customer)
    client.force_login(customer)

    def state():
        fresh = Ticket.objects.get(pk=ticket.pk)
        return (fresh.version, fresh.status, fresh.updated_at, fresh.public_updated_at,
                fresh.assignee_seen_at, fresh.last_customer_message_at, TicketActivity.objects.count(),
                AuditEvent.objects.count(), TicketMessage.objects.count())  # fmt: skip

    before = state()
    for method in (client.get, client.head):
        for url in (detail(ticket), LIST, f"{LIST}?status=all&page=2", "/", reverse("tickets:portal_submit")):
            assert method(url).status_code == 200, (method, url)
    assert state() == before


def test_a_customer_cannot_move_their_ticket_outside_solve_and_reopen(client):
    """The portal's status form takes only "solved" (while worked) and "reopen" (when solved): closing,
    pending, on hold, or a made-up status are refused with a message and leave the ticket as it was."""
    customer = make_customer()
    ticket = make_ticket(customer)
    client.force_login(customer)
    url = reverse("tickets:portal_status", args=[ticket.number])
    for target in ("closed", "pending", "on_hold", "open", "bogus"):
        response = client.post(url, {"status": target})
        assert response.status_code == 302
        assert Ticket.objects.get(pk=ticket.pk).status == Status.NEW, target
    client.post(url, {"status": "resolved"})
    assert Ticket.objects.get(pk=ticket.pk).status == Status.RESOLVED
    client.post(url, {"status": "open"})
    assert Ticket.objects.get(pk=ticket.pk).status == Status.OPEN


def test_list_times_are_in_the_customers_time_zone(client):
    """ "Updated" on My tickets is shown in the customer's own time zone."""
    customer = make_customer(timezone="Asia/Tokyo")
    ticket = make_ticket(customer)
    Ticket.objects.filter(pk=ticket.pk).update(public_updated_at=datetime(2026, 1, 1, 20, 0, tzinfo=UTC))
    client.force_login(customer)
    assert "2 Jan 2026, 05:00" in page_text(client.get(LIST))


def test_home_offers_active_forms_and_an_organisations_forms_to_its_members_only(client):
    """The portal home lists active forms only; a form given to an organisation appears for its members,
    never for another organisation's customers or visitors."""
    acme = OrganizationFactory()
    TicketFormFactory(title="Public form")
    TicketFormFactory(title="Retired form", is_active=False)
    TicketFormFactory(title="Acme-only form", organization=acme)
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    client.force_login(make_customer(acme))
    page = page_text(client.get("/"))
    assert "Public form" in page and "Acme-only form" in page and "Retired form" not in page
    for who in (make_customer(), None):
        if who is None:
            client.logout()
        else:
            client.force_login(who)
        page = page_text(client.get("/"))
        assert "Public form" in page and "Acme-only form" not in page and "Retired form" not in page
