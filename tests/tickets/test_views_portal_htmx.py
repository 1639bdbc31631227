"""Portal ticket page with htmx: a reply swaps the conversation, and the status buttons above it follow
the ticket's new version and status, so "Mark as solved" is not refused as coming from a stale page."""

import re

import pytest
from django.urls import reverse

from tests.factories import TeamFactory, make_agent, make_customer, make_ticket
from tickets import services
from tickets.models import Ticket
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def seen_inputs(html: str) -> list[str]:
    """The values of the status forms' "last message seen" inputs, in page order."""
    actions = re.search(r'<div class="actions" id="ticket-actions"[^>]*>(.*?)</div>', html, re.S)
    return re.findall(r'name="seen" value="(\d+)"', actions.group(1)) if actions else []


def test_an_htmx_reply_gives_the_status_buttons_the_new_last_message(client):
    customer = make_customer()
    ticket = make_ticket(customer, team=TeamFactory())
    client.force_login(customer)
    page = client.get(reverse("tickets:portal_detail", args=[ticket.number])).content.decode()
    first = ticket.messages.get()
    assert seen_inputs(page) == [str(first.pk)]
    assert "hx-swap-oob" not in page

    reply = reverse("tickets:portal_reply", args=[ticket.number])
    response = client.post(reply, {"body": "Still burning"}, headers=HTMX)
    latest = ticket.messages.latest("pk")
    fragment = response.content.decode()
    assert response.status_code == 200 and latest.pk > first.pk
    assert re.search(r'<div class="actions" id="ticket-actions" hx-swap-oob="true">', fragment)
    assert seen_inputs(fragment) == [str(latest.pk)]
    assert re.search(r'<dd id="ticket-status" hx-swap-oob="true">', fragment)

    # The button the customer now sees works without reloading the page.
    status = reverse("tickets:portal_status", args=[ticket.number])
    client.post(status, {"status": "resolved", "seen": latest.pk})
    assert Ticket.objects.get(pk=ticket.pk).status == Status.RESOLVED


def test_an_htmx_reply_that_reopens_the_ticket_swaps_reopen_for_mark_as_solved(client):
    team = TeamFactory()
    customer, agent = make_customer(), make_agent(team)
    ticket = make_ticket(customer, team=team)
    services.ticket_reply(ticket, body="Unplug it.", status_after=Status.RESOLVED, actor=agent)
    client.force_login(customer)
    page = client.get(reverse("tickets:portal_detail", args=[ticket.number])).content.decode()
    assert "Reopen" in page
    reply = reverse("tickets:portal_reply", args=[ticket.number])
    response = client.post(reply, {"body": "It works again."}, headers=HTMX)
    ticket = Ticket.objects.get(pk=ticket.pk)
    assert ticket.status == Status.OPEN  # a customer's reply reopens a solved ticket
    actions = re.search(r'id="ticket-actions".*?</div>', response.content.decode(), re.S).group(0)
    assert "Mark as solved" in actions and "Reopen" not in actions
    assert seen_inputs(response.content.decode()) == [str(ticket.messages.latest("pk").pk)]


def test_signing_out_towards_the_sign_in_page_is_not_taken_for_a_session_that_ended(client):
    """Signing out on purpose, sent on to sign in (as the address-confirmation page does on a shared
    computer), keeps its own next and says nothing about a lost message."""
    client.force_login(make_customer())
    onward = reverse("accounts:login") + "?next=/kb/"
    response = client.post(reverse("accounts:logout"), {"next": onward})
    assert response["Location"] == onward
    assert "session has ended" not in client.get(onward).content.decode()


def test_a_reply_sent_after_the_session_ended_leads_back_to_the_ticket_after_sign_in(client):
    ticket = make_ticket(make_customer())
    page = reverse("tickets:portal_detail", args=[ticket.number])
    reply = reverse("tickets:portal_reply", args=[ticket.number])
    login = reverse("accounts:login")

    plain = client.post(reply, {"body": "Typed"}, headers={"Referer": f"http://testserver{page}"})
    assert plain.status_code == 302 and plain["Location"] == f"{login}?next={page.replace('/', '%2F')}"
    htmx = client.post(
        reply, {"body": "Typed"}, headers={**HTMX, "HX-Current-URL": f"http://testserver{page}"}
    )
    assert htmx["HX-Redirect"] == f"{login}?next={page.replace('/', '%2F')}"
    assert "Sign in" not in htmx.content.decode(), "no sign-in page to swap into the thread"
    assert "session has ended" in client.get(htmx["HX-Redirect"]).content.decode()
    elsewhere = client.post(reply, {"body": "Typed"}, headers={"Referer": "https://evil.example/portal/"})
    assert elsewhere["Location"] == login
    assert not ticket.messages.filter(body="Typed").exists()


def test_an_htmx_reply_says_it_was_sent_where_screen_readers_hear_it(client):
    customer = make_customer()
    ticket = make_ticket(customer, team=TeamFactory())
    client.force_login(customer)
    reply = reverse("tickets:portal_reply", args=[ticket.number])
    fragment = client.post(reply, {"body": "Thanks!"}, headers=HTMX).content.decode()
    assert '<p class="message message-success">Your reply was sent.</p>' in fragment  # seen
    # ... and heard: filled into the page's own status region, not a region swapped in with its text
    assert '<p id="reply-status" hx-swap-oob="innerHTML">Your reply was sent.</p>' in fragment
    assert fragment.count('role="status"') == 0
    page = client.get(reverse("tickets:portal_detail", args=[ticket.number])).content.decode()
    assert "Your reply was sent." not in page
    assert '<p id="reply-status" class="visually-hidden" role="status"></p>' in page
