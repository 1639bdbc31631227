"""A queue filter that cannot be applied says so, and a bad value among good ones is dropped alone."""

from html import unescape

import pytest
from django.urls import reverse

from tests.factories import TeamFactory, make_agent, make_customer, make_ticket
from tickets import services
from tickets.models import Ticket
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

QUEUE = reverse("tickets:desk_queue")
NOT_APPLIED = "Some filters were not applied"


@pytest.fixture
def agent():
    support, billing = TeamFactory(name="Support"), TeamFactory(name="Billing")
    agent = make_agent(support)
    customer = make_customer()
    make_ticket(customer, team=support, subject="Open one")
    pending = make_ticket(customer, team=support, subject="Pending one")
    services.ticket_transition(pending, status=Status.PENDING, actor=None)
    agent.billing = billing
    return agent


def subjects(response) -> set[str]:
    return {ticket.subject for ticket in response.context["queue"].tickets}


def test_an_unknown_status_among_known_ones_is_dropped_alone(client, agent):
    client.force_login(agent)
    response = client.get(QUEUE, {"status": ["new", "bogus"]})
    assert subjects(response) == {"Open one"}
    page = unescape(response.content.decode())
    assert NOT_APPLIED in page and "Status “bogus” is not one of the choices." in page


@pytest.mark.parametrize(
    "params",
    [
        {"created_after": "2024-13-45"},
        {"requester": "abc"},
        {"tag": "x" * 51},
        {"team": "billing"},
    ],
)
def test_a_filter_that_cannot_be_applied_is_named_on_the_page(client, agent, params):
    if params.get("team") == "billing":
        params = {"team": str(agent.billing.pk)}  # a team the agent does not work
    client.force_login(agent)
    response = client.get(QUEUE, params)
    assert response.status_code == 200
    assert NOT_APPLIED in unescape(response.content.decode())
    assert "Requester: <strong>" not in response.content.decode()


def test_good_filters_say_nothing(client, agent):
    client.force_login(agent)
    response = client.get(QUEUE, {"status": ["open", "pending"], "tag": "printer"})
    assert NOT_APPLIED not in unescape(response.content.decode())


@pytest.mark.parametrize("typed", ["T-{number}", "#{number}", "#T-{number}", "{number}"])
def test_a_reference_in_the_search_box_goes_to_that_ticket(client, agent, typed):
    ticket = Ticket.objects.get(subject="Pending one")
    client.force_login(agent)
    response = client.get(QUEUE, {"q": typed.format(number=ticket.number)})
    assert subjects(response) == {"Pending one"}


def test_a_reversed_date_range_is_named_not_taken_for_a_period_without_tickets(client, agent):
    """From the 10th to the 1st lists nothing at all, which reads as "no tickets in that period": it is
    named, as the audit viewer names it, and not applied."""
    from helpdesk.dates import REVERSED

    client.force_login(agent)
    response = client.get(QUEUE, {"created_after": "2026-03-10", "created_before": "2026-03-01"})
    page = unescape(response.content.decode())
    assert NOT_APPLIED in page and REVERSED in page
    assert subjects(response) == {"Open one", "Pending one"}
    same_day = client.get(QUEUE, {"created_after": "2026-03-10", "created_before": "2026-03-10"})
    assert REVERSED not in unescape(same_day.content.decode())
