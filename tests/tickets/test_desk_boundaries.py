"""Desk boundaries: Next from the last ticket of the neighbours' window, bare digits searched as a
number and as words, a customer's answer merged in reopening a ticket pending on them."""

import pytest
from django.urls import reverse

from tests.conftest import made_once_per_module
from tests.factories import make_ticket
from tests.tickets.conftest import insert_tickets, make_desk
from tickets import services
from tickets.models import Ticket
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

_desk_rows, desk = made_once_per_module(make_desk, "desk")

QUEUE = reverse("tickets:desk_queue")


def test_the_500th_ticket_of_a_queue_has_a_next_one(client, desk):
    """The workspace's Next steps to the ticket after this one in the queue it was opened from. The
    500th ticket of a longer queue (the last row queue_neighbours reads in its first window) has one:
    Next must not vanish there, while it works for the 499th and the 501st."""
    Ticket.objects.all().delete()
    ids = insert_tickets(502, requester=desk["customer"], team=desk["support"], status="open")
    numbers = dict(Ticket.objects.filter(pk__in=ids).values_list("pk", "number"))
    ordered = [numbers[pk] for pk in ids]  # newest first: "Recently updated"
    client.force_login(desk["agent"])
    response = client.get(reverse("tickets:desk_ticket", args=[ordered[499]]), {"queue": "status=open"})
    assert response.status_code == 200
    assert (response.context["previous_number"], response.context["next_number"]) == (
        ordered[498],
        ordered[500],
    )


def test_searching_a_number_also_finds_tickets_that_mention_it(client, desk):
    """The queue's search is a full-text search plus an exact number match: typing "4711" finds ticket
    T-4711 if there is one, and also the tickets whose subject holds "4711" (an order or invoice number
    the customer quoted)."""
    customer, team = desk["customer"], desk["support"]
    quoted = make_ticket(customer, team=team, subject="Order 4711 arrived broken")
    client.force_login(desk["agent"])
    response = client.get(QUEUE, {"q": "4711"})
    assert response.status_code == 200
    assert quoted.reference in response.content.decode()


def test_merging_a_customer_message_into_a_pending_ticket_reopens_it(desk):
    """A customer's reply puts a ticket waiting on them (pending) back in the queue. Merging a newer
    customer message into a pending ticket is the same news: the target must not stay "Pending on
    customer" while the customer's latest message sits unanswered in its thread."""
    customer, team, supervisor = desk["customer"], desk["support"], desk["supervisor"]
    target = make_ticket(customer, team=team, subject="Printer broken")
    services.ticket_reply(target, body="Which model is it?", actor=supervisor, status_after=Status.PENDING)
    source = desk["ticket"]
    services.ticket_reply(source, body="It is the LaserJet 4000, still on fire", actor=customer)
    services.ticket_merge(source, into=target, actor=supervisor)
    target.refresh_from_db()
    assert target.status == Status.OPEN
