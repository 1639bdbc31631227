"""The customer portal driven by the keyboard only (submit form, ticket page, list, skip link,
keyboard traps, focus rings). Playwright on the system Chromium, with the e2e fixtures."""

import pytest
from django.urls import reverse

from accounts.models import Team, User
from tests.e2e.conftest import signed_in
from tests.e2e.test_accessibility import focus_stops
from tests.factories import make_ticket
from tickets.models import Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ACTIVE = """() => { const e = document.activeElement;
  return e ? {tag: e.tagName, id: e.id, name: e.getAttribute('name') || '',
              text: (e.textContent || '').trim().slice(0, 60)} : null; }"""


def focused(page) -> dict:
    return page.evaluate(ACTIVE)


def press_until(page, predicate, limit: int = 40) -> dict:
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = focused(page)
        if predicate(now):
            return now
    raise AssertionError("the wanted stop was not reached by Tab")


def customer_ticket(subject: str) -> Ticket:
    customer = User.objects.get(email="customer@example.com")
    return make_ticket(customer, subject=subject, team=Team.objects.get(slug="support"))


@pytest.mark.usefixtures("demo")
def test_skip_link_is_the_first_stop_and_moves_focus_to_main(page, live_server):
    signed_in(page, live_server, "customer@example.com")
    page.goto(live_server.url + reverse("tickets:portal_list"))
    page.keyboard.press("Tab")
    first = focused(page)
    assert first["tag"] == "A" and "Skip to" in first["text"], first
    page.keyboard.press("Enter")
    assert focused(page)["id"] == "main"
    # The next Tab continues inside <main>, not back in the header.
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.getElementById('main').contains(document.activeElement)")


@pytest.mark.usefixtures("demo")
def test_submit_form_tab_order_and_kb_suggestions_by_keyboard(page, live_server):
    """Tab runs through the form top to bottom; typing a subject brings suggestions into an aria-live
    region without taking the focus, and the next Tab reaches the first suggestion."""
    signed_in(page, live_server, "customer@example.com")
    page.goto(live_server.url + reverse("tickets:portal_submit_form", args=["access-request"]))
    stops = page.evaluate(
        """() => Array.from(document.querySelector('form[data-submit-once]')
             .querySelectorAll('input:not([type=hidden]), select, textarea, button'))
             .map(e => e.getBoundingClientRect().top)"""
    )
    assert stops == sorted(stops), stops  # DOM (Tab) order is the visual order
    press_until(page, lambda now: now["name"] == "subject")
    with page.expect_response(lambda response: "/kb/suggest/" in response.url):
        page.keyboard.type("VPN")
    page.locator("#suggestions a").first.wait_for()
    assert focused(page)["name"] == "subject"
    assert page.locator("#suggestions").get_attribute("aria-live") == "polite"
    page.keyboard.press("Tab")
    assert "VPN" in focused(page)["text"], focused(page)


@pytest.mark.usefixtures("demo")
def test_refused_submission_focuses_the_problem_keeps_values_and_files(page, live_server):
    """Sent by keyboard with the description missing: the focus goes to the first invalid field, the
    summary's link moves the focus to its field, and the subject, the custom answers and the chosen
    file are all still there (a file ticked as kept), as Zendesk's and Freshdesk's forms keep them."""
    signed_in(page, live_server, "customer@example.com")
    page.goto(live_server.url + reverse("tickets:portal_submit_form", args=["access-request"]))
    page.get_by_label("Subject").fill("Need VPN for laptop")
    page.get_by_label("System").select_option("VPN")
    page.get_by_label("Approver's e-mail").fill("boss@acme.example")
    page.get_by_label("Attachments").set_input_files(
        files=[{"name": "err.txt", "mimeType": "text/plain", "buffer": b"error 809"}]
    )
    page.get_by_role("button", name="Submit request").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.locator(".form-errors").wait_for()
    now = focused(page)
    assert now["name"] == "description" or "form-errors" in page.evaluate(
        "() => document.activeElement.className"
    ), now
    assert page.get_by_label("Subject").input_value() == "Need VPN for laptop"
    assert page.get_by_label("System").input_value() == "VPN"
    assert page.get_by_label("Approver's e-mail").input_value() == "boss@acme.example"
    kept = page.get_by_role("checkbox", name="err.txt")
    assert kept.count() == 1 and kept.is_checked()
    # The summary's link, followed by keyboard, lands the focus in its field.
    page.get_by_label("Subject").focus()
    link = page.locator(".form-errors a").first
    link.focus()
    page.keyboard.press("Enter")
    assert focused(page)["name"] == "description", focused(page)
    assert not Ticket.objects.filter(subject="Need VPN for laptop").exists()


@pytest.mark.usefixtures("demo")
def test_reply_by_keyboard_keeps_focus_and_announces_it(page, live_server):
    ticket = customer_ticket("Printer jams on page two")
    signed_in(page, live_server, "customer@example.com")
    page.goto(live_server.url + reverse("tickets:portal_detail", args=[ticket.number]))
    press_until(page, lambda now: now["name"] == "body", limit=60)
    page.keyboard.type("It jams with thick paper only.")
    page.keyboard.press("Tab")  # the file input
    press_until(page, lambda now: now["id"] == "reply-send")
    with page.expect_response(lambda response: "/reply/" in response.url):
        page.keyboard.press("Enter")
    page.locator(".message-card", has_text="It jams with thick paper only.").wait_for()
    page.wait_for_timeout(200)
    now = focused(page)
    assert now and now["tag"] != "BODY", now
    assert page.locator("#reply-status").text_content().strip() == "Your reply was sent."
    assert page.locator("#reply-status").get_attribute("role") == "status"
    assert ticket.messages.filter(body="It jams with thick paper only.").exists()


@pytest.mark.usefixtures("demo")
def test_mark_as_solved_by_keyboard_leaves_the_focus_on_the_result(page, live_server):
    """Pressing "Mark as solved" with the keyboard reloads the page with "… is marked as solved." in a
    role=status region that was there at load, which screen readers do not read by itself: the focus
    lands on that confirmation (static/js/app.js, as on a refusal), not on <body> at the top."""
    ticket = customer_ticket("Monitor flickers again")
    signed_in(page, live_server, "customer@example.com")
    page.goto(live_server.url + reverse("tickets:portal_detail", args=[ticket.number]))
    press_until(page, lambda now: now["text"] == "Mark as solved")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.get_by_text(f"{ticket.reference} is marked as solved.").wait_for()
    assert Ticket.objects.get(pk=ticket.pk).status == "resolved"
    now = focused(page)
    assert now["tag"] != "BODY", (
        f"after Mark as solved the focus is on {now}; the confirmation is not announced"
    )


@pytest.mark.usefixtures("demo")
def test_portal_list_filtered_by_keyboard_says_what_it_now_shows(page, live_server):
    """The filters work by keyboard (Tab to Status, arrow to "Solved", Tab to Apply, Enter), and the
    reloaded page says what it lists in its title ("My tickets: Solved"), which a screen reader reads
    when the page loads."""
    solved = customer_ticket("Old keyboard is broken")
    solved.status = "resolved"
    solved.save(update_fields=["status"])
    customer_ticket("Mouse wheel squeaks")
    signed_in(page, live_server, "customer@example.com")
    page.goto(live_server.url + reverse("tickets:portal_list"))
    title_before = page.title()
    press_until(page, lambda now: now["id"] == "filter-status")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert page.locator("#filter-status").input_value() == "solved"
    press_until(page, lambda now: now["text"] == "Apply")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "status=solved" in page.url
    assert page.get_by_role("link", name=solved.reference).is_visible()
    assert page.get_by_text("Mouse wheel squeaks").count() == 0
    said = page.evaluate(
        """() => Array.from(document.querySelectorAll('[role=status], [aria-live]'))
             .map(e => e.textContent.trim()).filter(Boolean)"""
    )
    assert page.title() != title_before or any("ticket" in text.lower() for text in said), (
        page.title(),
        said,
    )


@pytest.mark.usefixtures("demo")
def test_no_keyboard_trap_and_visible_focus_on_portal_pages(page, live_server):
    ticket = customer_ticket("Headset crackles")
    signed_in(page, live_server, "customer@example.com")
    url = live_server.url
    weak = []
    for path in (
        reverse("tickets:portal_list"),
        reverse("tickets:portal_submit_form", args=["access-request"]),
        reverse("tickets:portal_detail", args=[ticket.number]),
    ):
        weak += focus_stops(page, url + path, 80, whole_page=True)
    assert weak == [], "\n".join(weak)
