"""Browser: a customer submits a ticket with a custom field and a file, follows it and replies;
an agent's internal note never reaches the customer's pages."""

import pytest

from accounts.models import User
from tests.e2e.conftest import signed_in
from tickets import services
from tickets.models import Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.usefixtures("demo")
def test_customer_submits_follows_and_replies_without_seeing_internal_notes(page, live_server):
    signed_in(page, live_server, "customer@example.com")

    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Access request").click()
    page.get_by_label("Subject").fill("VPN access for the new laptop")
    page.get_by_label("How can we help?").fill("I need **VPN** access on my new laptop.")
    page.get_by_label("System").select_option("VPN")
    page.get_by_label("Approver's e-mail").fill("boss@acme.example")
    page.get_by_label("Attachments").set_input_files(
        files=[{"name": "vpn-error.txt", "mimeType": "text/plain", "buffer": b"error 809"}]
    )
    page.get_by_role("button", name="Submit request").click()

    page.get_by_role("heading", name="VPN access for the new laptop").wait_for()
    ticket = Ticket.objects.get(subject="VPN access for the new laptop")
    assert ticket.custom_fields["system"] == "VPN"
    assert page.get_by_role("link", name="vpn-error.txt").is_visible()
    assert page.get_by_text("boss@acme.example").is_visible()

    agent = User.objects.get(email="agent@example.com")
    services.ticket_add_note(ticket, body="Secret: approver is on holiday", actor=agent)
    services.ticket_reply(ticket, body="Could you tell us the laptop's serial number?", actor=agent)

    page.get_by_role("link", name="My tickets").first.click()
    page.get_by_role("link", name=ticket.reference).click()
    page.get_by_text("Could you tell us the laptop's serial number?").wait_for()
    assert page.get_by_text("Secret: approver is on holiday").count() == 0

    page.get_by_label("Your reply").fill("The serial number is ABC-123.")
    page.get_by_role("button", name="Send").click()
    page.locator(".message-card", has_text="The serial number is ABC-123.").wait_for()
    assert ticket.messages.filter(body="The serial number is ABC-123.").exists()
    assert page.get_by_label("Your reply").input_value() == ""
    assert "Secret" not in page.content()
