"""Browser: a customer moves their account to a new e-mail address from the profile with the keyboard
(a wrong password first), then opens the mailed link."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from accounts import services
from accounts.models import User
from tests.e2e.conftest import DEMO_PASSWORD
from tests.e2e.conftest import signed_in as browser_signed_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.usefixtures("demo", "immediate_tasks")
def test_browser_customer_changes_the_address_with_the_keyboard_then_opens_the_link(page, live_server):
    browser_signed_in(page, live_server, "customer@example.com")
    page.goto(f"{live_server.url}/accounts/profile/")
    section = page.get_by_role("region", name="Change e-mail address")
    new_email = section.get_by_label("New e-mail address")
    password = section.get_by_label("Your password")
    # Labels: each field is named by its label and described by its help text.
    expect(new_email).to_have_attribute("type", "email")
    expect(new_email).to_have_attribute("aria-describedby", re.compile("email-change-email_helptext"))
    expect(password).to_have_attribute("type", "password")
    expect(password).to_have_attribute("autocomplete", "current-password")
    assert page.get_by_label("New e-mail address").count() == 1
    assert page.get_by_label("Your password").count() == 1

    new_email.focus()
    page.keyboard.type("customer.new@example.com")
    page.keyboard.press("Tab")
    expect(password).to_be_focused()
    page.keyboard.type("not-the-password")
    page.keyboard.press("Enter")
    # Refused: the error is beside the password, the address stays, and the focus is on the problem.
    section.get_by_text(services.PASSWORD_INCORRECT, exact=True).wait_for()  # beside the field
    expect(section.get_by_label("New e-mail address")).to_have_value("customer.new@example.com")
    expect(section.get_by_label("Your password")).to_be_focused()
    expect(section.get_by_label("Your password")).to_have_value("")
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    page.get_by_text("We sent a link to customer.new@example.com").wait_for()

    (message,) = [m for m in mail.outbox if m.to == ["customer.new@example.com"]]
    link = re.search(r"https?://[^/\s]+(/accounts/change-email/\S+/)", message.body).group(1)
    page.goto(f"{live_server.url}{link}")
    button = page.get_by_role("button", name="Change my address")
    button.focus()
    page.keyboard.press("Enter")
    page.get_by_text("Your e-mail address is now customer.new@example.com").wait_for()
    assert User.objects.get(email="customer.new@example.com").name
    assert not User.objects.filter(email="customer@example.com").exists()
