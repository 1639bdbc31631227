"""In a real browser: the desk queue's period selects ("Created in", "Updated in", "Solved in")
and "Recently solved" as a period: keyboard, labels, axe, the htmx swap and the address it pushes,
saving a view, "Recently solved", the page without JavaScript, and the 30-second refresh."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Team, User
from tests.e2e.conftest import DEMO_PASSWORD, signed_in
from tests.e2e.test_accessibility import FOCUS_RING, contrast_on_white, problems_here
from tests.factories import make_ticket
from tickets import services as ticket_services
from tickets.models import SavedView, Ticket
from tickets.workflow import Status

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PERIODS = ("Created in", "Updated in", "Solved in")


def aged(subject: str, *, days: int, solved_days: int | None = None) -> Ticket:
    """A Support ticket of customer@example.com created (and last updated) `days` ago, resolved
    `solved_days` ago when given."""
    customer = User.objects.get(email="customer@example.com")
    support = Team.objects.get(slug="support")
    ticket = make_ticket(customer, subject=subject, team=support)
    when = timezone.now() - timedelta(days=days)
    fields = {"created_at": when, "updated_at": when}
    if solved_days is not None:
        agent = User.objects.get(email="agent@example.com")
        ticket_services.ticket_transition(ticket, status=Status.RESOLVED, actor=agent)
        solved = timezone.now() - timedelta(days=solved_days)
        fields |= {"status": Status.RESOLVED, "resolved_at": solved, "updated_at": max(solved, when)}
    Ticket.objects.filter(pk=ticket.pk).update(**fields)
    return Ticket.objects.get(pk=ticket.pk)


def rows(page):
    return page.locator("[data-ticket-row]")


def row_of(page, subject: str):
    return page.locator("[data-ticket-row]", has_text=subject)


def settle(page) -> None:
    page.wait_for_load_state("networkidle")


@pytest.mark.usefixtures("demo")
def test_period_selects_are_reached_by_tab_labelled_and_show_a_focus_ring(page, live_server):
    """from the Tag field, Tab reaches "Created in", its two dates, "Updated in", ..., "Solved in"
    in reading order; each select is named by its label and shows a focus ring of 3:1 on white."""
    signed_in(page, live_server, "agent@example.com").goto(f"{live_server.url}/desk/")
    page.locator("#queue-tag").focus()
    expected = [
        "queue-created-within", "queue-created-after", "queue-created-before",
        "queue-updated-within", "queue-updated-after", "queue-updated-before",
        "queue-solved-within", "queue-solved-after", "queue-solved-before", "queue-sort",
    ]  # fmt: skip
    reached, weak = [], []
    for _ in range(40):  # a date input takes a Tab stop for each of its parts
        page.keyboard.press("Tab")
        stop = page.evaluate("document.activeElement.id")
        if not reached or reached[-1] != stop:
            reached.append(stop)
        ring = page.evaluate(FOCUS_RING)
        if not ring["outline"] or contrast_on_white(ring["outline"] + " " + ring["shadow"]) < 3:
            weak.append(ring)
        if stop == expected[-1]:
            break
    assert reached == expected
    assert weak == []
    for label in PERIODS:
        select = page.get_by_label(label, exact=True)
        expect(select).to_have_count(1)
        assert select.evaluate("element => element.tagName") == "SELECT"
        # "Any time" first, then the periods.
        assert select.locator("option").all_inner_texts()[0] == "Any time"


@pytest.mark.usefixtures("demo")
def test_no_axe_findings_with_periods_chosen_on_the_page_and_after_a_swap(page, live_server):
    """with periods chosen (loaded, then changed through the htmx swap), axe finds nothing on the
    queue page."""
    aged("Old router", days=40)
    signed_in(page, live_server, "agent@example.com")
    page.goto(f"{live_server.url}/desk/?created_within=30&updated_within=90&solved_within=7")
    found = problems_here(page, "periods loaded")
    page.get_by_label("Solved in", exact=True).select_option(label="The last year")
    page.wait_for_url(re.compile(r"solved_within=365"))
    settle(page)
    found += problems_here(page, "period changed")
    assert found == [], "\n".join(found)


@pytest.mark.usefixtures("demo")
def test_changing_a_period_swaps_the_table_keeps_the_choices_and_pushes_the_address(page, live_server):
    """choosing "Created in: The last 7 days" then "Updated in: Today" with the keyboard filters the
    table in place (htmx), keeps both selects as chosen and the focus on the select, and pushes an
    address that holds both."""
    aged("Printer from last month", days=20)
    aged("Scanner from three days ago", days=3)
    aged("Fax from today", days=0)
    signed_in(page, live_server, "agent@example.com").goto(f"{live_server.url}/desk/")
    expect(row_of(page, "Printer from last month")).to_have_count(1)
    page.evaluate("window.notReloaded = true")

    page.get_by_label("Created in", exact=True).select_option("7")
    page.wait_for_url(re.compile(r"created_within=7"))
    expect(row_of(page, "Printer from last month")).to_have_count(0)
    expect(row_of(page, "Scanner from three days ago")).to_have_count(1)

    updated = page.get_by_label("Updated in", exact=True)
    updated.focus()
    updated.select_option("0")
    page.wait_for_url(re.compile(r"updated_within=0"))
    expect(row_of(page, "Scanner from three days ago")).to_have_count(0)
    expect(row_of(page, "Fax from today")).to_have_count(1)
    settle(page)

    assert page.evaluate("window.notReloaded") is True  # swapped, not a new page
    expect(page.get_by_label("Created in", exact=True)).to_have_value("7")
    expect(updated).to_have_value("0")
    expect(page.get_by_label("Solved in", exact=True)).to_have_value("")
    assert page.evaluate("document.activeElement.id") == "queue-updated-within"
    assert "created_within=7" in page.url and "updated_within=0" in page.url
    expect(page.locator("#queue-status")).to_have_text(re.compile(r"\d+ tickets?\."))


@pytest.mark.usefixtures("demo")
def test_a_view_saved_after_choosing_a_period_keeps_it_and_is_marked_when_opened(page, live_server):
    """choosing "Solved in: The last 30 days" (htmx), then "Save this view", stores the period;
    the page it lands on, and the view opened again from its link, show it chosen and the view marked
    as the current one, named in the heading."""
    aged("Router solved last week", days=12, solved_days=10)
    aged("Router solved last year", days=300, solved_days=200)
    signed_in(page, live_server, "agent@example.com").goto(f"{live_server.url}/desk/")
    page.get_by_label("Solved in", exact=True).select_option("30")
    page.wait_for_url(re.compile(r"solved_within=30"))
    settle(page)

    page.get_by_text("Save this view").click()
    page.get_by_label("View name").fill("Solved this month")
    page.get_by_role("button", name="Save view").click()
    page.get_by_text("Saved the view “Solved this month”.").wait_for()
    view = SavedView.objects.get(name="Solved this month")
    assert "solved_within=30" in view.query

    link = page.locator(f"#saved-view-{view.pk}")
    expect(link).to_have_attribute("aria-current", "page")
    expect(page.get_by_label("Solved in", exact=True)).to_have_value("30")
    expect(page.locator("h1#queue-title")).to_have_text("Solved this month")

    page.get_by_role("link", name="Reset").click()
    page.wait_for_url(f"{live_server.url}/desk/")
    expect(link).not_to_have_attribute("aria-current", "page")
    link.click()
    page.wait_for_url(re.compile(r"solved_within=30"))
    expect(link).to_have_attribute("aria-current", "page")
    expect(page.get_by_label("Solved in", exact=True)).to_have_value("30")
    expect(page.locator("h1#queue-title")).to_have_text("Solved this month")
    expect(row_of(page, "Router solved last week")).to_have_count(1)
    expect(row_of(page, "Router solved last year")).to_have_count(0)


@pytest.mark.usefixtures("demo")
def test_recently_solved_marks_its_view_and_shows_solved_in_the_last_7_days(page, live_server):
    """the "Recently solved" link lists what was solved in the last 7 days, is marked as the
    current view and names the heading, with "Solved in: The last 7 days" selected and Resolved and
    Closed ticked; the count beside it matches the rows."""
    aged("Mouse solved two days ago", days=5, solved_days=2)
    aged("Mouse solved a month ago", days=40, solved_days=30)
    signed_in(page, live_server, "agent@example.com").goto(f"{live_server.url}/desk/")
    link = page.locator("#view-solved")
    link.click()
    page.wait_for_url(re.compile(r"solved_within=7"))
    expect(link).to_have_attribute("aria-current", "page")
    expect(page.locator("h1#queue-title")).to_have_text("Recently solved")
    solved_in = page.get_by_label("Solved in", exact=True)
    expect(solved_in).to_have_value("7")
    assert solved_in.evaluate("select => select.selectedOptions[0].textContent") == "The last 7 days"
    for label in ("Created in", "Updated in"):
        expect(page.get_by_label(label, exact=True)).to_have_value("")
    status = page.get_by_role("group", name="Status")
    expect(status.get_by_label("Resolved")).to_be_checked()
    expect(status.get_by_label("Closed")).to_be_checked()
    expect(row_of(page, "Mouse solved two days ago")).to_have_count(1)
    expect(row_of(page, "Mouse solved a month ago")).to_have_count(0)
    count = int(link.locator(".count").inner_text())
    assert count == rows(page).count()


@pytest.mark.usefixtures("demo")
def test_without_javascript_apply_applies_the_periods(browser, live_server):
    """without JavaScript, choosing periods and pressing Apply loads the filtered queue with the
    periods chosen; "Recently solved" opens with "Solved in: The last 7 days" chosen."""
    aged("Desk lamp from last month", days=20)
    aged("Desk chair from yesterday", days=1)
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("E-mail address").fill("agent@example.com")
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("button", name="Sign out").wait_for()
        page.goto(f"{live_server.url}/desk/")
        page.get_by_label("Created in", exact=True).select_option("7")
        page.get_by_label("Updated in", exact=True).select_option("30")
        assert "created_within" not in page.url  # nothing happens until Apply
        page.get_by_role("button", name="Apply", exact=True).click()
        page.wait_for_url(re.compile(r"created_within=7"))
        assert "updated_within=30" in page.url
        expect(page.get_by_label("Created in", exact=True)).to_have_value("7")
        expect(page.get_by_label("Updated in", exact=True)).to_have_value("30")
        expect(row_of(page, "Desk lamp from last month")).to_have_count(0)
        expect(row_of(page, "Desk chair from yesterday")).to_have_count(1)

        page.locator("#view-solved").click()
        page.wait_for_url(re.compile(r"solved_within=7"))
        expect(page.get_by_label("Solved in", exact=True)).to_have_value("7")
        expect(page.locator("#view-solved")).to_have_attribute("aria-current", "page")
    finally:
        context.close()


@pytest.mark.usefixtures("demo")
def test_the_30_second_refresh_keeps_the_periods(page, live_server):
    """the 30-second refresh after periods were chosen (htmx) asks for the same periods: a ticket
    created since, inside the period, appears; one outside stays out; the selects keep their values and
    the address is unchanged."""
    aged("Monitor from last month", days=20)
    page.clock.install()
    signed_in(page, live_server, "agent@example.com").goto(f"{live_server.url}/desk/")
    page.get_by_label("Created in", exact=True).select_option("7")
    page.wait_for_url(re.compile(r"created_within=7"))
    page.get_by_label("Solved in", exact=True).select_option("")  # still Any time, sent empty
    settle(page)
    address = page.url
    page.evaluate("document.activeElement.blur()")
    aged("Keyboard from today", days=0)
    with page.expect_request(
        lambda request: "/desk/" in request.url and request.headers.get("hx-trigger") == "queue-table"
    ) as asked:
        page.clock.run_for(31_000)
    assert "created_within=7" in asked.value.url
    expect(row_of(page, "Keyboard from today")).to_have_count(1)
    expect(row_of(page, "Monitor from last month")).to_have_count(0)
    expect(page.get_by_label("Created in", exact=True)).to_have_value("7")
    assert page.url == address
