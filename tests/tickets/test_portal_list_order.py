"""A requester's "My tickets" moves a ticket up, and shows it "Updated", only for a change they can see:
internal notes and triage neither reorder their list nor tell them when staff worked on it."""

import pytest
from django.urls import reverse

from tests.factories import (
    TeamFactory,
    TicketFormFactory,
    make_agent,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tickets import services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

LIST = reverse("tickets:portal_list")


@pytest.fixture
def world(time_machine):
    time_machine.move_to("2026-11-02 09:00Z", tick=False)
    team = TeamFactory()
    agent = make_agent(team)
    supervisor = make_supervisor(team)
    customer = make_customer(manager=True)
    form = TicketFormFactory(schema=[{"name": "order", "label": "Order", "type": "text"}])
    older = make_ticket(customer, team=team, subject="Older request", form=form)
    time_machine.move_to("2026-11-02 10:00Z", tick=False)
    newer = make_ticket(customer, team=team, subject="Newer request")
    time_machine.move_to("2026-11-03 12:00Z", tick=False)
    return {"agent": agent, "supervisor": supervisor, "customer": customer, "older": older, "newer": newer}


def listed_first(client, **query) -> str:
    page = client.get(LIST, query).content.decode()
    return "Older request" if page.find("Older request") < page.find("Newer request") else "Newer request"


def test_internal_notes_and_triage_leave_the_list_as_it_was(client, world):
    agent, older = world["agent"], world["older"]
    client.force_login(world["customer"])
    services.ticket_add_note(older, body="Customer is difficult, go slow", actor=agent)
    older = services.ticket_update_fields(older, changes={"priority": "high"}, actor=agent)
    older = services.ticket_assign(older, assignee=agent, actor=agent)
    services.ticket_set_tags(older, add=["vip"], actor=agent)
    for scope in ("mine", "organization"):
        assert listed_first(client, scope=scope) == "Newer request", scope
    page = client.get(LIST).content.decode()
    assert "3 Nov 2026" not in page  # no "Updated" tells when staff worked on it
    assert Ticket.objects.get(pk=older.pk).updated_at > Ticket.objects.get(pk=older.pk).public_updated_at


@pytest.mark.parametrize(
    "change",
    [
        lambda ticket, agent: services.ticket_reply(ticket, body="Here is the fix.", actor=agent),
        lambda ticket, agent: services.ticket_transition(ticket, status="pending", actor=agent),
        lambda ticket, agent: services.ticket_update_fields(
            ticket, changes={"subject": "Renamed"}, actor=agent
        ),
        lambda ticket, agent: services.ticket_update_fields(
            ticket, changes={"custom_fields": {"order": "A-2"}}, actor=agent
        ),
    ],
    ids=["public reply", "status", "subject", "form answers"],
)
def test_a_change_the_requester_can_see_moves_the_ticket_up(client, world, change):
    change(world["older"], world["supervisor"])
    client.force_login(world["customer"])
    page = client.get(LIST).content.decode()
    assert "3 Nov 2026, 12:00" in page
    moved = Ticket.objects.get(pk=world["older"].pk)
    assert moved.public_updated_at == moved.updated_at
    assert page.find(moved.subject) < page.find("Newer request")


def test_the_requesters_own_reply_and_a_merge_into_the_ticket_move_it_up(client, world):
    customer, older, newer = world["customer"], world["older"], world["newer"]
    services.ticket_reply(older, body="Any news?", actor=customer)
    client.force_login(customer)
    assert listed_first(client) == "Older request"
    services.ticket_merge(older, into=newer, actor=world["supervisor"])  # the thread grows: news on both
    assert Ticket.objects.get(pk=newer.pk).public_updated_at == Ticket.objects.get(pk=newer.pk).updated_at


def test_a_new_ticket_starts_with_one_moment_for_every_date():
    ticket = make_ticket(make_customer())
    assert (
        ticket.created_at == ticket.updated_at == ticket.public_updated_at == ticket.last_customer_message_at
    )


def test_a_customer_without_tickets_is_told_how_the_list_fills_not_offered_all_tickets(client):
    client.force_login(make_customer())
    page = client.get(LIST).content.decode()
    assert "When you submit a request, it appears here." in page and "Show all tickets" not in page


def test_a_customer_whose_tickets_are_all_solved_is_offered_all_tickets(client, world):
    customer = world["customer"]
    for ticket in (world["older"], world["newer"]):
        services.ticket_transition(ticket, status="resolved", actor=world["supervisor"])
    client.force_login(customer)
    page = client.get(LIST).content.decode()
    assert "No open tickets." in page and "Show all tickets" in page
