"""Browser: an agent filters the queue, takes a ticket, replies and solves it with the keyboard only;
the customer then sees the reply."""

import pytest
from django.core.management import call_command

from accounts.models import Team, User
from tests.factories import make_ticket
from tickets.models import Ticket
from tickets.workflow import Status

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in(page, live_server, email: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill("helpdesk-demo")
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Sign out").wait_for()


def test_agent_solves_a_ticket_with_the_keyboard_and_the_customer_sees_the_reply(browser, live_server):
    call_command("loaddata", "roles", "demo", verbosity=0)
    customer = User.objects.get(email="customer@example.com")
    ticket = make_ticket(
        customer, subject="Scanner makes a grinding noise", team=Team.objects.get(slug="support")
    )

    agent_page = browser.new_context().new_page()
    agent_page.set_default_timeout(10_000)
    sign_in(agent_page, live_server, "agent@example.com")
    agent_page.goto(f"{live_server.url}/desk/")

    agent_page.keyboard.press("/")
    agent_page.keyboard.type("grinding")
    agent_page.keyboard.press("Enter")
    agent_page.locator("[data-ticket-row]", has_text="Scanner makes a grinding noise").wait_for()
    agent_page.locator("[data-ticket-row]").nth(1).wait_for(state="detached")
    agent_page.keyboard.press("Escape")
    agent_page.keyboard.press("j")
    agent_page.keyboard.press("o")
    agent_page.get_by_role("heading", name="Scanner makes a grinding noise").wait_for()

    agent_page.keyboard.press("a")
    agent_page.locator("#properties dd", has_text="Alex Agent").wait_for()
    assert Ticket.objects.get(pk=ticket.pk).assignee.email == "agent@example.com"

    agent_page.keyboard.press("r")
    agent_page.keyboard.type("Please clean the rollers; that stops the noise.")
    agent_page.keyboard.press("Tab")  # attachments
    agent_page.keyboard.press("Tab")  # "then set status"
    agent_page.keyboard.type("Resolved")
    agent_page.keyboard.press("Tab")  # Send
    agent_page.keyboard.press("Enter")
    agent_page.get_by_text("Reply sent on").wait_for()

    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED
    assert ticket.messages.filter(
        body="Please clean the rollers; that stops the noise.", from_staff=True
    ).exists()

    customer_page = browser.new_context().new_page()
    customer_page.set_default_timeout(10_000)
    sign_in(customer_page, live_server, "customer@example.com")
    customer_page.goto(f"{live_server.url}/portal/tickets/{ticket.number}/")
    customer_page.get_by_text("Please clean the rollers; that stops the noise.").wait_for()
    assert customer_page.get_by_text("Resolved").first.is_visible()
