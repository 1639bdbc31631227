"""Browser: an agent filters the queue, takes a ticket, replies and solves it with the keyboard only;
the customer then sees the reply."""

import pytest

from accounts.models import Team, User
from tests.e2e.conftest import signed_in
from tests.factories import make_ticket
from tickets.models import Ticket
from tickets.workflow import Status

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def signed_in_page(browser, live_server, email: str):
    page = browser.new_context().new_page()
    page.set_default_timeout(10_000)
    return signed_in(page, live_server, email)


@pytest.mark.usefixtures("demo")
def test_agent_solves_a_ticket_with_the_keyboard_and_the_customer_sees_the_reply(browser, live_server):
    customer = User.objects.get(email="customer@example.com")
    ticket = make_ticket(
        customer, subject="Scanner makes a grinding noise", team=Team.objects.get(slug="support")
    )

    agent_page = signed_in_page(browser, live_server, "agent@example.com")
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

    customer_page = signed_in_page(browser, live_server, "customer@example.com")
    customer_page.goto(f"{live_server.url}/portal/tickets/{ticket.number}/")
    customer_page.get_by_text("Please clean the rollers; that stops the noise.").wait_for()
    assert customer_page.get_by_text("Solved", exact=True).first.is_visible()  # the portal's word


@pytest.mark.usefixtures("demo")
def test_the_queue_refresh_leaves_the_focus_in_the_search_box_and_enter_asks_once(browser, live_server):
    page = browser.new_context().new_page()
    page.set_default_timeout(10_000)
    page.clock.install()
    signed_in(page, live_server, "agent@example.com")
    page.goto(f"{live_server.url}/desk/")
    page.keyboard.press("j")  # a row selected, the focus on its link
    page.get_by_label("Search").click()
    page.keyboard.type("print")
    with page.expect_response(lambda response: "/desk/" in response.url) as refreshed:
        page.clock.run_for(31_000)  # the table refreshes itself every 30 s
    refreshed.value.finished()
    page.locator("[data-ticket-row].selected").wait_for()
    assert page.evaluate("document.activeElement.id") == "queue-q"

    searches = []
    page.on("request", lambda request: "q=printer" in request.url and searches.append(request.url))
    page.keyboard.type("er")
    page.evaluate("window.stillThisPage = true")
    with page.expect_response(lambda response: "q=printer" in response.url):
        page.keyboard.press("Enter")
    page.wait_for_load_state("networkidle")
    sent = [url for url in searches if "q=printer" in url]
    assert len(sent) == 1, sent
    assert page.evaluate("window.stillThisPage === true"), "htmx swapped the table; no page load"


@pytest.mark.usefixtures("demo")
def test_an_idle_queue_keeps_refreshing_itself(browser, live_server):
    page = browser.new_context().new_page()
    page.set_default_timeout(10_000)
    page.clock.install()
    signed_in(page, live_server, "agent@example.com")
    page.goto(f"{live_server.url}/desk/")
    page.evaluate("document.activeElement.blur()")
    for _ in range(2):
        with page.expect_response(lambda response: "/desk/" in response.url) as refreshed:
            page.clock.run_for(31_000)
        refreshed.value.finished()
        page.wait_for_load_state("networkidle")
    assert not page.evaluate("document.getElementById('queue-table').contains(document.activeElement)")


@pytest.mark.usefixtures("demo")
def test_enter_on_a_button_does_what_the_button_does_after_j_selected_a_row(browser, live_server):
    customer = User.objects.get(email="customer@example.com")
    ticket = make_ticket(customer, subject="Toner everywhere", team=Team.objects.get(slug="support"))
    page = signed_in_page(browser, live_server, "agent@example.com")
    page.goto(f"{live_server.url}/desk/?q=Toner")
    page.keyboard.press("j")  # the row is selected, its link focused
    page.get_by_role("checkbox", name=f"Select {ticket.reference}").check()
    page.get_by_label("With the selected tickets").select_option(label="Priority: High")
    page.get_by_role("button", name="Apply to selected").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.get_by_text(f"Updated 1 ticket: {ticket.reference}.").wait_for()
    assert "/desk/tickets/" not in page.url
    assert Ticket.objects.get(pk=ticket.pk).priority == "high"


@pytest.mark.usefixtures("demo")
def test_select_all_and_x_tick_rows_and_a_bulk_close_asks_first(browser, live_server):
    customer = User.objects.get(email="customer@example.com")
    support = Team.objects.get(slug="support")
    for n in range(3):
        make_ticket(customer, subject=f"Fax {n} jammed", team=support)
    page = signed_in_page(browser, live_server, "agent@example.com")
    page.goto(f"{live_server.url}/desk/?q=Fax")
    select_all = page.get_by_role("checkbox", name="Select every ticket on this page")
    boxes = [page.locator("[data-ticket-row] input[name=tickets]").nth(row) for row in range(3)]  # as listed
    page.keyboard.press("j")
    page.keyboard.press("x")  # ticks the selected row
    assert [box.is_checked() for box in boxes] == [True, False, False]
    assert page.evaluate("document.querySelector('[data-select-all]').indeterminate")
    select_all.check()
    assert all(box.is_checked() for box in boxes)
    select_all.uncheck()
    assert not any(box.is_checked() for box in boxes)
    page.keyboard.press("j")
    page.keyboard.press("x")
    boxes[0].check()
    ticked = {box.get_attribute("value").partition(":")[0] for box in boxes[:2]}
    page.get_by_label("With the selected tickets").select_option(label="Status: Closed")
    page.get_by_role("button", name="Apply to selected").click()
    page.get_by_role("heading", name="Close 2 tickets for good?").wait_for()
    fax = Ticket.objects.filter(subject__startswith="Fax ")
    assert not fax.filter(status=Status.CLOSED).exists()
    page.get_by_role("button", name="Close 2 tickets").click()
    page.get_by_text("Updated 2 tickets").wait_for()
    closed = {str(pk) for pk in fax.filter(status=Status.CLOSED).values_list("pk", flat=True)}
    assert closed == ticked and len(closed) == 2


@pytest.mark.usefixtures("demo")
def test_single_key_shortcuts_can_be_turned_off_and_stay_off(browser, live_server):
    """WCAG 2.1.4: speech input and slips of the hand type letters; "a" must not take a ticket then."""
    ticket = make_ticket(
        User.objects.get(email="customer@example.com"),
        subject="Shortcut test",
        team=Team.objects.get(slug="support"),
    )
    page = signed_in_page(browser, live_server, "agent@example.com")
    page.goto(f"{live_server.url}/desk/tickets/{ticket.number}/")
    page.get_by_role("button", name="Keyboard shortcuts").click()
    page.get_by_label("Use these single-key shortcuts").uncheck()
    page.keyboard.press("Escape")
    page.reload()
    page.keyboard.press("a")
    page.keyboard.press("?")
    assert not page.locator("#shortcuts-help").is_visible()
    assert Ticket.objects.get(pk=ticket.pk).assignee_id is None
    page.get_by_role("button", name="Keyboard shortcuts").click()
    page.get_by_label("Use these single-key shortcuts").check()
    page.keyboard.press("Escape")
    page.keyboard.press("a")
    page.locator("#properties dd", has_text="Alex Agent").wait_for()
