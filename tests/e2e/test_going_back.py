"""Browser: going Back to a page whose address htmx pushed (a queue page, filtered audit trail) shows the
whole page again, its heading, view lists and filters included."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Team, User
from tests.e2e.conftest import signed_in
from tests.factories import make_ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TEAM_QUEUE = "/desk/?scope=teams&status=new&status=open&status=pending&status=on_hold"


@pytest.mark.usefixtures("demo")
def test_going_back_after_paging_the_queue_keeps_the_heading_and_the_view_list(page, live_server):
    """Paging the queue (the address pushed by htmx) and going Back shows the queue with its heading
    and its list of views, once each."""
    customer, support = User.objects.get(email="customer@example.com"), Team.objects.get(slug="support")
    for number in range(30):
        make_ticket(customer, team=support, subject=f"Laptop battery report {number}")
    signed_in(page, live_server, "agent@example.com")
    page.goto(live_server.url + TEAM_QUEUE)
    assert (page.locator("h1#queue-title").count(), page.locator("#view-lists").count()) == (1, 1)
    page.get_by_role("link", name="Next").first.click()
    page.wait_for_url("**page=2**")
    page.wait_for_load_state("networkidle")
    with page.expect_response(lambda response: "/desk/" in response.url):
        page.go_back()
    page.wait_for_load_state("networkidle")
    page.locator("h1#queue-title").wait_for()
    assert (page.locator("h1#queue-title").count(), page.locator("#view-lists").count()) == (1, 1)
    assert "page=2" not in page.url


COUNT_KEYDOWN_LISTENERS = """(() => {
  window.deskKeydownListeners = 0;
  const add = Document.prototype.addEventListener;
  Document.prototype.addEventListener = function (type, ...rest) {
    if (type === "keydown") window.deskKeydownListeners += 1;
    return add.call(this, type, ...rest);
  };
})()"""


@pytest.mark.usefixtures("demo")
def test_after_going_back_within_the_queue_the_shortcuts_still_work(page, live_server):
    """Back to an address htmx pushed puts a new page body in place: the shortcuts, the help dialog and
    the row selection work on it as on a page loaded afresh (once each)."""
    for n in range(3):
        make_ticket(
            User.objects.get(email="customer@example.com"),
            team=Team.objects.get(slug="support"),
            subject=f"Heater {n} clicks",
        )
    signed_in(page, live_server, "agent@example.com")
    page.add_init_script(COUNT_KEYDOWN_LISTENERS)
    page.goto(f"{live_server.url}/desk/?q=Heater")
    assert page.evaluate("window.deskKeydownListeners") == 1
    page.get_by_label("Sort by").select_option("priority")
    page.wait_for_url(re.compile(r"sort=priority"))
    page.wait_for_load_state("networkidle")
    page.evaluate("document.activeElement.blur()")
    page.go_back()
    page.wait_for_url(lambda url: "sort=priority" not in url)
    page.wait_for_load_state("networkidle")
    expect(page.get_by_label("Sort by")).not_to_have_value("priority")
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("j")
    rows = page.locator("[data-ticket-row]")
    expect(rows.nth(0)).to_have_class(re.compile(r"\bselected\b"))
    expect(page.locator("[data-ticket-row].selected")).to_have_count(1)
    page.keyboard.press("x")  # ticks the selected row, once
    expect(rows.nth(0).locator("input[name=tickets]")).to_be_checked()
    assert page.evaluate("window.deskKeydownListeners") == 1, "desk.js ran again on the restored body"
    page.keyboard.press("?")
    expect(page.locator("#shortcuts-help")).to_be_visible()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(page.locator("#shortcuts-help")).to_be_visible()
    # The settings desk.js shows are shown on the page put back too.
    expect(page.get_by_label("Use these single-key shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_label("Refresh the list every 30 seconds (kept in this browser)")).to_be_visible()


@pytest.mark.usefixtures("demo")
def test_without_javascript_the_desk_offers_no_control_that_does_nothing(browser, live_server):
    """Pages work without JavaScript: a button that only a script makes work (the shortcuts' help, which
    describes shortcuts that need the script too) should not be offered when scripts are off."""
    ticket = make_ticket(
        User.objects.get(email="customer@example.com"),
        team=Team.objects.get(slug="support"),
        subject="No script here",
    )
    context = browser.new_context(java_script_enabled=False)
    page = signed_in(context.new_page(), live_server, "agent@example.com")
    for path in ("/desk/", f"/desk/tickets/{ticket.number}/"):
        page.goto(live_server.url + path)
        page.get_by_role("heading", level=1).first.wait_for()
        expect(page.locator("[data-help-open]")).to_be_hidden()
    context.close()
