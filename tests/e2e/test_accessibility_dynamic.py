"""Accessibility and keyboard behaviour that axe's static rules cannot see: live regions that exist
before they speak, focus after htmx swaps, auto-updating content that can be stopped and leaves an
unchanged table alone, focus never hidden behind sticky parts, skip links, the shortcut dialog; plus the
error pages' structure.

The error pages are checked statically with the Django test client."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import Team, User
from knowledge.models import Article
from tests.e2e.conftest import signed_in
from tests.factories import make_ticket
from tickets.models import Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ACTIVE = "() => { const e = document.activeElement; return e ? e.outerHTML.slice(0, 120) : null; }"
MARK_LIVE_REGIONS = """() => document.querySelectorAll('[role=status], [role=alert], [aria-live]')
    .forEach((region) => { region.dataset.presentBefore = 'yes'; })"""
LIVE_TEXTS = """() => Array.from(document.querySelectorAll('[role=status], [role=alert], [aria-live]'))
    .filter((region) => region.getAttribute('aria-live') !== 'off')
    .map((region) => [region.dataset.presentBefore || 'new', region.textContent.trim()])"""


# --- Status messages (WCAG 4.1.3) ---------------------------------------------------------------


@pytest.mark.usefixtures("demo")
def test_helpful_vote_result_is_announced_by_a_live_region_that_was_already_on_the_page(page, live_server):
    """WCAG 4.1.3 Status Messages: after "Was this article helpful? Yes", htmx swaps the whole #vote
    section (outerHTML) and the thanks arrive inside a brand-new <p role="status">. A live region
    inserted together with its text is often not announced (the project says so itself beside the
    queue, workspace, portal and KB search status regions, which are kept on the page and filled in);
    the focus also jumps to the "Not helpful" button, whose description is only "Changed your mind?".
    The thanks must land in a live region that existed before the vote."""
    article = Article.objects.filter(visibility="public", status="published").first()
    page.goto(f"{live_server.url}{reverse('knowledge:article', args=[article.slug])}")
    page.evaluate(MARK_LIVE_REGIONS)
    page.get_by_role("button", name="Yes").focus()
    with page.expect_response(lambda response: response.request.method == "POST" and "vote" in response.url):
        page.keyboard.press("Enter")
    page.get_by_role("region", name="Feedback").get_by_text("Thanks for your feedback").wait_for()
    regions = page.evaluate(LIVE_TEXTS)
    announced_by_kept_region = [
        text for present, text in regions if present == "yes" and "Thanks for your feedback" in text
    ]
    assert announced_by_kept_region, f"the thanks are only in live regions created by the swap: {regions}"


# --- Auto-updating content (WCAG 2.2.2) --------------------------------------------------------


@pytest.mark.usefixtures("demo")
def test_idle_queue_refresh_does_not_replace_an_unchanged_table(page, live_server):
    """WCAG 2.2.2 Pause, Stop, Hide (and a screen reader's reading position): the queue table refreshes
    itself every 30 s. Nothing changed, the view answers the browser's revalidation (If-None-Match)
    with 304, but the XHR that htmx sees is a 200 with the cached body, so htmx replaces the whole
    #queue-table (and the views list) with identical markup every 30 seconds. A screen-reader user
    reading the table in browse mode (focus not in the table, so desk.js does not hold the refresh back)
    loses their place twice a minute. An unchanged answer must leave the DOM alone."""
    page.clock.install()
    signed_in(page, live_server, "agent@example.com")
    page.goto(f"{live_server.url}{reverse('tickets:desk_queue')}")
    page.evaluate("document.activeElement.blur()")  # e.g. a screen reader's virtual cursor in the table
    conditional = []

    def refresh():
        with page.expect_response(lambda response: "/desk/" in response.url) as refreshed:
            page.clock.run_for(31_000)
        refreshed.value.finished()
        conditional.append(refreshed.value.request.all_headers().get("if-none-match"))
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(200)

    refresh()  # the first refresh fills the browser's cache for the fragment
    page.evaluate("""() => {
        document.getElementById('queue-table').dataset.original = 'yes';
        document.querySelector('[data-ticket-row]').dataset.original = 'yes';
    }""")
    refresh()  # nothing changed since: the browser revalidates, the view answers 304
    kept = page.evaluate("""() => [
        document.getElementById('queue-table').dataset.original || 'replaced',
        document.querySelector('[data-ticket-row]').dataset.original || 'replaced',
    ]""")
    assert conditional[-1], f"the second refresh was not a revalidation: {conditional}"
    assert kept == ["yes", "yes"], f"an unchanged refresh replaced the table and its rows: {kept}"


@pytest.mark.usefixtures("demo")
def test_queue_offers_a_way_to_stop_the_automatic_refresh(page, live_server):
    """WCAG 2.2.2 Pause, Stop, Hide: auto-updating content shown beside other content needs a way to
    stop it. Unticking "Refresh the list every 30 seconds" stops the refresh, and the browser keeps
    the choice for the next visit."""
    page.clock.install()
    signed_in(page, live_server, "agent@example.com")
    page.goto(f"{live_server.url}{reverse('tickets:desk_queue')}")
    assert page.locator("#queue-table[hx-trigger*='every']").count() == 1  # it does refresh itself
    refreshes = []
    page.on("request", lambda request: refreshes.append(request.url) if "/desk/" in request.url else None)
    toggle = page.get_by_label("Refresh the list every 30 seconds")
    toggle.uncheck()
    page.clock.run_for(95_000)
    page.wait_for_timeout(200)
    assert refreshes == []
    page.reload()
    assert not page.get_by_label("Refresh the list every 30 seconds").is_checked()
    page.get_by_label("Refresh the list every 30 seconds").check()
    with page.expect_response(lambda response: "/desk/" in response.url):
        page.clock.run_for(31_000)


# --- Focus not obscured (WCAG 2.4.11) ----------------------------------------------------------


@pytest.mark.usefixtures("demo")
def test_focused_save_view_controls_are_not_hidden_by_the_sticky_views_sidebar(page, live_server):
    """WCAG 2.4.11 Focus Not Obscured: the desk's "Views" sidebar is position: sticky (top: 1rem) with no
    max-height. On a short window (1100 x 480 CSS px, e.g. a 1366 x 768 laptop at 125-150 % zoom) the
    sidebar with "Save this view" opened is taller than the window, stays pinned while the page scrolls,
    and the focused "Share with" and "Save view" controls end up entirely below the window: the browser
    scrolls the page to show them, the sticky box moves with it, and keyboard users cannot see them."""
    page.set_viewport_size({"width": 1100, "height": 480})
    signed_in(page, live_server, "supervisor@example.com")
    page.goto(f"{live_server.url}{reverse('tickets:desk_queue')}")
    page.locator(".desk-views summary").focus()
    page.keyboard.press("Enter")  # opens "Save this view"
    hidden = []
    for _ in range(3):  # View name, Share with, Save view
        page.keyboard.press("Tab")
        page.wait_for_timeout(50)
        spot = page.evaluate("""() => {
            const box = document.activeElement.getBoundingClientRect();
            return {html: document.activeElement.outerHTML.slice(0, 70), top: box.top, bottom: box.bottom,
                    height: window.innerHeight};
        }""")
        if spot["bottom"] <= 0 or spot["top"] >= spot["height"]:
            hidden.append(spot)
    assert hidden == [], f"focused controls entirely outside the window: {hidden}"


# --- Focus after htmx swaps (WCAG 2.4.3) -------------------------------------------------------


@pytest.mark.usefixtures("demo")
def test_refused_audit_filter_keeps_the_focus_in_the_filter_form(page, live_server):
    """WCAG 2.4.3 Focus Order / 3.3.1: a date the server cannot read (a five-digit year, which Chromium's
    date box accepts) answers 422 and htmx swaps the whole filter form out of band. The focus was on
    "Apply" (no id, so htmx cannot put it back) and app.js only restores focus inside the request's own
    target (#events), so the focus falls to <body>: a keyboard or screen-reader user is thrown to the
    top of the page instead of onto the field marked invalid."""
    signed_in(page, live_server, "supervisor@example.com")
    page.goto(f"{live_server.url}{reverse('audit:event_list')}")
    page.locator("#id_date_from").focus()
    page.keyboard.type("0101")
    page.keyboard.type("20255")  # a slip of the finger in the year
    if page.locator("#id_date_from").input_value() != "20255-01-01":  # locale-independent fallback
        page.evaluate("document.getElementById('id_date_from').value = '20255-01-01'")
    page.locator("#audit-filters").get_by_role("button", name="Apply").focus()
    with page.expect_response(lambda response: "date_from" in response.url) as answer:
        page.keyboard.press("Enter")
    assert answer.value.status == 422
    page.locator("#audit-filters .errors").wait_for()
    page.wait_for_timeout(200)
    focused = page.evaluate(ACTIVE)
    inside_form = page.evaluate("document.getElementById('audit-filters').contains(document.activeElement)")
    assert inside_form, f"after the refused filter the focus is on {focused}"


# --- Bypass blocks (WCAG 2.4.1) ----------------------------------------------------------------


@pytest.mark.usefixtures("demo")
def test_queue_skip_link_moves_the_focus_to_the_tickets(page, live_server):
    """WCAG 2.4.1 Bypass Blocks: the queue's "Skip to the tickets" link points at #queue-table, a <div>
    without tabindex, so activating it leaves document.activeElement on <body> (the page's own "Skip to
    main content" moves the focus, because <main> has tabindex="-1"). Assistive technology and browsers
    that do not follow the sequential-focus starting point stay before the filters."""
    signed_in(page, live_server, "agent@example.com")
    page.goto(f"{live_server.url}{reverse('tickets:desk_queue')}")
    page.locator(".desk-main .skip-link").focus()
    page.keyboard.press("Enter")
    page.wait_for_timeout(100)
    on_table = page.evaluate("document.getElementById('queue-table').contains(document.activeElement)")
    assert on_table, f"after the skip link the focus is on {page.evaluate(ACTIVE)}"


# --- Passing checks of behaviour no other test covers ------------------------------------------


@pytest.mark.usefixtures("demo")
def test_shortcut_help_dialog_takes_focus_closes_on_escape_and_returns_focus(page, live_server):
    """WCAG 2.1.2 / 2.4.3: "?" opens the shortcut help as a modal dialog named by its heading, focus moves
    into it, the letters do nothing while it is open, Escape closes it and the focus returns to the
    control that opened it."""
    signed_in(page, live_server, "agent@example.com")
    page.goto(f"{live_server.url}{reverse('tickets:desk_queue')}")
    opener = page.get_by_role("button", name="Keyboard shortcuts")
    opener.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    dialog.wait_for()
    assert page.evaluate("document.getElementById('shortcuts-help').contains(document.activeElement)")
    page.keyboard.press("j")  # no row gets selected behind the dialog
    assert page.locator("[data-ticket-row].selected").count() == 0
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.hasAttribute('data-help-open')"), page.evaluate(ACTIVE)


class _Structure(HTMLParser):
    def __init__(self):
        super().__init__()
        self.lang, self.mains, self.h1s, self.skip, self.main_id, self.title = None, 0, 0, None, None, ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.lang = attrs.get("lang")
        elif tag == "main" or attrs.get("role") == "main":
            self.mains += 1
            self.main_id = attrs.get("id")
        elif tag == "h1":
            self.h1s += 1
        elif tag == "a" and "skip-link" in (attrs.get("class") or "") and self.skip is None:
            self.skip = attrs.get("href")
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data


def test_error_pages_have_language_one_main_one_h1_a_working_skip_link_and_a_title(client, settings, clock):
    """WCAG 3.1.1, 1.3.1, 2.4.1, 2.4.2 on the error pages (404, 405, 403 CSRF, 429): html lang, exactly
    one main landmark and one h1, the skip link pointing at the main's id, and a page title."""
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "search": ("1/m", "1/m")}
    client.get(reverse("knowledge:search") + "?q=printer")
    answers = {
        404: client.get("/no-such-page/"),
        405: client.get(reverse("accounts:logout")),
        429: client.get(reverse("knowledge:search") + "?q=printer"),
    }
    from django.test import Client

    answers[403] = Client(enforce_csrf_checks=True).post(reverse("accounts:login"), {"username": "x"})
    problems = []
    for status, response in answers.items():
        assert response.status_code == status, (status, response.status_code)
        found = _Structure()
        found.feed(response.content.decode())
        if not found.lang:
            problems.append(f"{status}: no lang")
        if found.mains != 1 or found.h1s != 1:
            problems.append(f"{status}: {found.mains} main, {found.h1s} h1")
        if found.skip != f"#{found.main_id}":
            problems.append(f"{status}: skip link {found.skip} vs main id {found.main_id}")
        if not found.title.strip():
            problems.append(f"{status}: no title")
    assert problems == [], problems


def _ticket():
    customer = User.objects.get(email="customer@example.com")
    return make_ticket(customer, subject="Monitor flickers", team=Team.objects.get(slug="support"))


@pytest.mark.usefixtures("demo")
def test_inline_edit_refused_without_javascript_focuses_the_field(browser, live_server):
    """Without JavaScript a stale inline edit comes back as the page (409) with focus on the refused
    control, which points at the error (as the bulk bar and the KB note do with autofocus)."""
    context = browser.new_context(java_script_enabled=False)
    plain = context.new_page()
    try:
        ticket = _ticket()
        signed_in(plain, live_server, "agent@example.com")
        plain.goto(f"{live_server.url}/desk/tickets/{ticket.number}/")
        Ticket.objects.filter(pk=ticket.pk).update(version=ticket.version + 1)
        plain.get_by_label("Priority").select_option("high")
        with plain.expect_response(lambda r: r.request.method == "POST") as sent:
            plain.locator("#save-priority").click()
        assert sent.value.status == 409
        plain.wait_for_load_state()
        select = plain.locator("#edit-priority")
        expect(select).to_have_attribute("aria-describedby", "edit-error")
        expect(select).to_be_focused()
    finally:
        context.close()
