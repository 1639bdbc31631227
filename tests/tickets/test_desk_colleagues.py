"""The desk while colleagues work the same tickets: an inline edit refused as stale shows their change
and leaves the composer's version alone, a bulk action refuses tickets changed since the queue was
read, and the queue's counts follow the agent's own changes at once."""

import re

import pytest
from django.urls import reverse

from tests.conftest import made_once_per_module
from tests.factories import TeamFactory, make_agent, make_customer, make_ticket
from tests.tickets.conftest import seen_text
from tickets import services
from tickets.models import Ticket, TicketMessage

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true", "HX-Target": "properties"}
QUEUE = reverse("tickets:desk_queue")
BULK = reverse("tickets:desk_bulk")


def make_team():
    support = TeamFactory(name="Support")
    return {
        "agent": make_agent(support, name="Alex Agent"),
        "colleague": make_agent(support, name="Casey Colleague"),
        "ticket": make_ticket(make_customer(), team=support, subject="Printer on fire"),
    }


_team_rows, team = made_once_per_module(make_team, "team")


def composer_version(html: str) -> str | None:
    found = re.search(r'<input type="hidden" name="version" id="composer-version" value="(\d+)"', html)
    return found.group(1) if found else None


def test_a_stale_inline_edit_shows_the_colleagues_reply_and_leaves_the_composer_stale(client, team):
    ticket, agent = team["ticket"], team["agent"]
    seen = ticket.version
    services.ticket_reply(ticket, body="Restart your router.", actor=team["colleague"])
    client.force_login(agent)
    url = reverse("tickets:desk_update", args=[ticket.number])
    response = client.post(url, {"field": "priority", "value": "high", "version": seen}, headers=HTMX)
    fragment = response.content.decode()
    assert response.status_code == 409
    # The thread the page shows now holds the colleague's reply...
    assert re.search(r'<ol class="thread" id="thread" hx-swap-oob="true">', fragment)
    assert "Restart your router." in fragment
    # ...and the composer keeps the version it was opened with, so a reply typed before is refused.
    assert composer_version(fragment) is None
    reply = client.post(
        reverse("tickets:desk_reply", args=[ticket.number]),
        {"kind": "reply", "body": "Try turning it off and on.", "version": seen},
    )
    assert reply.status_code == 422 and "Your message was not sent" in reply.content.decode()
    assert not TicketMessage.objects.filter(body="Try turning it off and on.").exists()


def test_a_saved_inline_edit_moves_the_composer_version_and_the_timeline_on(client, team):
    ticket, agent = team["ticket"], team["agent"]
    client.force_login(agent)
    url = reverse("tickets:desk_update", args=[ticket.number])
    response = client.post(
        url, {"field": "priority", "value": "high", "version": ticket.version}, headers=HTMX
    )
    fragment = response.content.decode()
    assert response.status_code == 200
    assert composer_version(fragment) == str(Ticket.objects.get(pk=ticket.pk).version)
    timeline = re.search(r'<ol class="timeline" id="timeline" hx-swap-oob="true">(.*?)</ol>', fragment, re.S)
    assert "priority changed" in timeline.group(1)


def test_a_bulk_action_refuses_tickets_changed_since_the_queue_was_read(client, team):
    ticket, agent = team["ticket"], team["agent"]
    client.force_login(agent)
    page = client.get(QUEUE).content.decode()
    chosen = re.search(r'name="tickets" value="(\d+:\d+)"', page).group(1)
    assert chosen == f"{ticket.pk}:{ticket.version}"
    # A colleague takes the ticket while the agent's queue is open.
    services.ticket_assign(ticket, assignee=team["colleague"], actor=team["colleague"])
    response = client.post(BULK, {"tickets": [chosen], "action": "assign_me"}, follow=True)
    assert services.BULK_STALE.format(ticket=ticket.reference) in response.content.decode().replace(
        "&#x27;", "'"
    )
    assert Ticket.objects.get(pk=ticket.pk).assignee == team["colleague"]
    # From a fresh queue it goes through.
    fresh = Ticket.objects.get(pk=ticket.pk)
    client.post(BULK, {"tickets": [f"{fresh.pk}:{fresh.version}"], "action": "assign_me"})
    assert Ticket.objects.get(pk=ticket.pk).assignee == agent


def test_the_queue_counts_follow_the_agents_own_change_at_once(client, team):
    ticket, agent = team["ticket"], team["agent"]
    client.force_login(agent)
    before = client.get(QUEUE).context["counts"]  # cached for a while from here on
    assert (before["mine"], before["unassigned"]) == (0, 1)
    client.post(BULK, {"tickets": [f"{ticket.pk}:{ticket.version}"], "action": "assign_me"})
    response = client.get(QUEUE)
    assert (response.context["counts"]["mine"], response.context["counts"]["unassigned"]) == (1, 0)


def test_the_timeline_shows_labels_not_stored_values(client, team):
    ticket, agent = team["ticket"], team["agent"]
    services.ticket_transition(ticket, status="pending", actor=agent)
    services.ticket_set_tags(ticket, names=["alpha", "beta"], actor=agent)
    services.ticket_reply(ticket, body="Done.", actor=agent)
    client.force_login(agent)
    page = client.get(reverse("tickets:desk_ticket", args=[ticket.number])).content.decode()
    timeline = re.search(r'<ol class="timeline" id="timeline">(.*?)</ol>', page, re.S).group(1)
    assert "New → Pending" in seen_text(timeline) and "— → alpha, beta" in seen_text(timeline)
    assert '<span aria-hidden="true">→</span><span class="visually-hidden">to</span>' in timeline
    assert "[" not in timeline and "{" not in timeline
    assert str(ticket.messages.latest("pk").uid) not in timeline
