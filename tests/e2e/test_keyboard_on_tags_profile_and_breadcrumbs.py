"""Browser: keyboard-only use and accessibility of the workspace's
inline tags edit (with and without JavaScript), the queue's tag filter, the profile's 'Change e-mail
address' section and the mailed link's confirm page, a closed ticket's read-only properties and the portal
ticket page's breadcrumb for an organisation manager.

Every page is watched for console errors, uncaught exceptions and CSP violations."""

# ruff: noqa: RUF001, RUF002 (full-width letters on purpose)

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from accounts import services as account_services
from accounts.models import Team, User
from tests.e2e.conftest import DEMO_PASSWORD, signed_in
from tests.e2e.test_accessibility import FOCUS_RING, contrast_on_white, problems_here
from tests.factories import make_ticket
from tickets import services
from tickets.models import Ticket, TicketActivity
from tickets.workflow import Status

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Chrome logs every XHR answered 4xx as "Failed to load resource"; the workspace answers a refused edit
# with 409/422 on purpose (and swaps the answer in), so those lines are the browser's, not the page's.
EXPECTED_REFUSAL = re.compile(r"Failed to load resource: the server responded with a status of (409|422)")


def watch(page) -> list[str]:
    """Console errors, uncaught exceptions and CSP violations the page logs from now on."""
    problems: list[str] = []

    def console(message):
        refused = message.type == "error" or "Content Security Policy" in message.text
        if refused and not EXPECTED_REFUSAL.search(message.text):
            problems.append(f"console {message.type}: {message.text}")

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    return problems


def new_page(browser, *, javascript: bool = True):
    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, page, watch(page)


def focus_is_visible(page) -> dict:
    """The focused element, whether it matches :focus-visible, and its ring's contrast on white."""
    ring = page.evaluate(FOCUS_RING)
    ring["focus_visible"] = page.evaluate("document.activeElement.matches(':focus-visible')")
    ring["key"] = page.evaluate("document.activeElement.id || document.activeElement.name || ''")
    ring["contrast"] = contrast_on_white(ring["outline"] + " " + ring["shadow"]) if ring["outline"] else 0
    return ring


def tab_until(page, predicate_js: str, presses: int = 80) -> list[dict]:
    """Press Tab until the focused element satisfies `predicate_js` (a function of the element); the
    stops passed on the way (with their focus rings). Fails when the focus never gets there."""
    stops = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        stops.append(focus_is_visible(page))
        if page.evaluate(f"({predicate_js})(document.activeElement)"):
            return stops
    raise AssertionError(
        f"never reached {predicate_js} in {presses} Tab presses: {[s['html'] for s in stops[-5:]]}"
    )


def support_ticket(subject: str, **fields) -> Ticket:
    customer = User.objects.get(email="customer@example.com")
    return make_ticket(customer, subject=subject, team=Team.objects.get(slug="support"), **fields)


def tag_names(ticket: Ticket) -> list[str]:
    return sorted(Ticket.objects.get(pk=ticket.pk).tags.values_list("name", flat=True))


# --- (1) the workspace's inline tags edit ---------------------------------------------------------------


@pytest.mark.usefixtures("demo")
def test_tags_typed_with_odd_spellings_saved_with_enter_twice_quickly_with_javascript(browser, live_server):
    """An agent types 'VIP, Straße, ＶＩＰ' into the tags box (the letters a and r must not fire the
    single-key shortcuts), saves with Enter and presses Enter again at once: one change is made (vip and
    straße, the full-width VIP being the same tag), no refusal is shown, the status region says 'Saved.',
    and the focus stays in the ticket panel, visible."""
    ticket = support_ticket("Invoice in the wrong currency")
    context, page, problems = new_page(browser)
    try:
        signed_in(page, live_server, "agent@example.com")
        page.goto(f"{live_server.url}/desk/tickets/{ticket.number}/")
        tab_until(page, "(e) => e.id === 'edit-tags'")
        page.keyboard.type("VIP, Straße, ＶＩＰ")
        assert Ticket.objects.get(pk=ticket.pk).assignee_id is None, "'a' in Straße took the ticket"
        with page.expect_response(lambda r: r.request.method == "POST") as first:
            page.keyboard.press("Enter")
            page.keyboard.press("Enter")
        assert first.value.status == 200
        page.wait_for_load_state("networkidle")
        expect(page.locator("#properties-status")).to_have_text("Saved.")
        assert page.locator("#properties .form-errors").count() == 0
        assert tag_names(ticket) == ["straße", "vip"]
        assert TicketActivity.objects.filter(ticket=ticket, action=TicketActivity.Action.TAGS).count() == 1
        expect(page.locator("#edit-tags")).to_have_value("straße, vip")
        assert page.evaluate("document.getElementById('properties').contains(document.activeElement)")
        assert page.evaluate("document.activeElement !== document.body")
    finally:
        context.close()
    assert problems == [], problems


@pytest.mark.usefixtures("demo")
def test_a_tag_that_shows_nothing_is_refused_announced_and_kept_with_javascript(browser, live_server):
    """A tag of a zero-width space (pasted from a chat) is refused: the refusal is in a role=alert, the
    focus lands on the tags box (marked invalid, described by the error), the text typed stays, and the
    ticket's tags are as they were."""
    ticket = support_ticket("Login loop on the portal")
    services.ticket_set_tags(ticket, names=["billing"], actor=User.objects.get(email="agent@example.com"))
    context, page, problems = new_page(browser)
    try:
        signed_in(page, live_server, "agent@example.com")
        page.goto(f"{live_server.url}/desk/tickets/{ticket.number}/")
        tab_until(page, "(e) => e.id === 'edit-tags'")
        page.keyboard.press("End")
        page.keyboard.type(", vip, \u200b")
        with page.expect_response(lambda r: r.request.method == "POST") as sent:
            page.keyboard.press("Enter")
        assert sent.value.status == 422
        alert = page.locator("#properties [role=alert]")
        alert.wait_for()
        tags = page.locator("#edit-tags")
        expect(tags).to_be_focused()
        expect(tags).to_have_attribute("aria-invalid", "true")
        expect(tags).to_have_attribute("aria-describedby", "edit-error")
        expect(tags).to_have_value("billing, vip, \u200b")
        ring = focus_is_visible(page)
        assert ring["outline"] and ring["contrast"] >= 3, ring
        assert tag_names(ticket) == ["billing"]
        assert page.locator("#properties-status").inner_text().strip() != "Saved."
    finally:
        context.close()
    assert problems == [], problems


@pytest.mark.usefixtures("demo")
def test_the_refusal_of_a_tag_that_shows_nothing_says_what_is_wrong(browser, live_server):
    """The agent sees 'billing, vip, ' in the box (the third tag is a zero-width space, invisible): the
    message should say that a tag shows nothing / is empty (e.g. 'a tag shows no letters: remove it').
    Instead it says 'Tags are at most 50 characters: letters, digits, spaces, - and _.', which every tag
    they can see satisfies, so they cannot tell what to fix."""
    ticket = support_ticket("Printer shows an invisible tag")
    context, page, problems = new_page(browser)
    try:
        signed_in(page, live_server, "agent@example.com")
        page.goto(f"{live_server.url}/desk/tickets/{ticket.number}/")
        page.locator("#edit-tags").fill("billing, vip, \u200b")
        with page.expect_response(lambda r: r.request.method == "POST"):
            page.locator("#edit-tags").press("Enter")
        text = page.locator("#edit-error").inner_text()
        assert re.search(r"invisible|shows? nothing|empty|blank|no (letters|text)", text, re.I), text
    finally:
        context.close()
    assert problems == [], problems


@pytest.mark.usefixtures("demo")
def test_tags_edit_without_javascript_saves_enter_pressed_twice_once_and_refuses_with_focus(
    browser, live_server
):
    """Without JavaScript: Enter pressed twice saves the tags once and the page says 'Saved.' (the second
    post is answered as the first, not blamed on a colleague); then a tag that shows nothing comes back as
    the page (422) with the error in a role=alert, the focus on the tags box and the text as typed."""
    ticket = support_ticket("Scanner offline")
    context, page, problems = new_page(browser, javascript=False)
    try:
        signed_in(page, live_server, "agent@example.com")
        page.goto(f"{live_server.url}/desk/tickets/{ticket.number}/")
        page.locator("#edit-tags").focus()
        page.keyboard.type("VIP, Straße")
        page.keyboard.press("Enter")
        page.keyboard.press("Enter")
        page.wait_for_load_state()
        page.get_by_text("Saved.", exact=True).first.wait_for()
        assert page.locator("#edit-error").count() == 0, page.locator("#edit-error").inner_text()
        assert tag_names(ticket) == ["straße", "vip"]
        assert TicketActivity.objects.filter(ticket=ticket, action=TicketActivity.Action.TAGS).count() == 1

        page.locator("#edit-tags").focus()
        page.keyboard.press("End")
        page.keyboard.type(", \u200b")
        with page.expect_response(lambda r: r.request.method == "POST") as sent:
            page.keyboard.press("Enter")
        assert sent.value.status == 422
        page.wait_for_load_state()
        expect(page.locator("#edit-error")).to_have_attribute("role", "alert")
        tags = page.locator("#edit-tags")
        expect(tags).to_be_focused()
        expect(tags).to_have_value("straße, vip, \u200b")
        expect(tags).to_have_attribute("aria-describedby", "edit-error")
        assert tag_names(ticket) == ["straße", "vip"]
    finally:
        context.close()
    assert problems == [], problems


# --- (2) the queue's tag filter ----------------------------------------------------------------------------


@pytest.mark.usefixtures("demo")
def test_queue_tag_filter_typed_in_full_width_letters_finds_the_tag(browser, live_server):
    """An agent with a Japanese IME types 'ＶＩＰ' into the queue's Tag filter and presses Enter: the
    tickets tagged vip are listed (and only they), the box keeps what was typed."""
    agent = User.objects.get(email="agent@example.com")
    tagged = support_ticket("Fullwidth tagged ticket")
    support_ticket("Fullwidth untagged ticket")
    services.ticket_set_tags(tagged, names=["vip"], actor=agent)
    context, page, problems = new_page(browser)
    try:
        signed_in(page, live_server, agent.email)
        page.goto(f"{live_server.url}/desk/?q=Fullwidth")
        page.get_by_label("Tag", exact=True).first.focus()
        page.keyboard.type("ＶＩＰ")
        with page.expect_response(lambda r: "tag=" in r.url):
            page.keyboard.press("Enter")
        page.locator("[data-ticket-row]", has_text="Fullwidth untagged ticket").wait_for(state="detached")
        rows = page.locator("[data-ticket-row]")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("Fullwidth tagged ticket")
        expect(page.locator("#queue-tag")).to_have_value("ＶＩＰ")
    finally:
        context.close()
    assert problems == [], problems


@pytest.mark.usefixtures("demo")
def test_queue_tag_filter_takes_a_50_letter_tag_typed_decomposed(browser, live_server):
    """Commit c4c0a84 made the filter check the tag's length as spelled, so that 50 accented letters typed
    decomposed (e + combining acute, as some IMEs and pasted macOS text give) find their tag. In the
    browser the box still has maxlength="50", which counts the 100 code points typed and cuts the text in
    half: the filter then looks for a 25-letter tag and finds nothing."""
    agent = User.objects.get(email="agent@example.com")
    ticket = support_ticket("Decomposed tag ticket")
    services.ticket_set_tags(ticket, names=["\u00e9" * 50], actor=agent)
    context, page, problems = new_page(browser)
    try:
        signed_in(page, live_server, agent.email)
        page.goto(f"{live_server.url}/desk/?q=Decomposed")
        page.locator("#queue-tag").focus()
        page.keyboard.insert_text("e\u0301" * 50)
        typed = page.locator("#queue-tag").input_value()
        with page.expect_response(lambda r: "tag=" in r.url):
            page.keyboard.press("Enter")
        page.wait_for_load_state("networkidle")
        assert len(typed) == 100, f"the box kept {len(typed)} of the 100 code points typed"
        expect(page.locator("[data-ticket-row]", has_text="Decomposed tag ticket")).to_have_count(1)
    finally:
        context.close()
    assert problems == [], problems


# --- (3) the profile's 'Change e-mail address' section and the mailed link's confirm page -----------------


PROFILE_ORDER = [
    "id_name", "id_timezone", "save_profile",
    "id_old_password", "id_new_password1", "id_new_password2", "change_password",
    "email-change-email", "email-change-password", "change_email",
]  # fmt: skip


@pytest.mark.usefixtures("demo")
def test_profile_change_email_section_in_tab_order_labelled_and_refused_accessibly(browser, live_server):
    """The profile's forms are reached with Tab in reading order (details, password, e-mail address), each
    stop with a visible focus ring; the new section is a region headed 'Change e-mail address' under the
    page's one h1; every label on the page is unique. A bad address sent with Enter comes back (422) with
    an error summary in a role=alert inside that section, the focus on the address, which is marked
    invalid, described by its error and keeps what was typed; axe finds nothing."""
    context, page, problems = new_page(browser)
    try:
        signed_in(page, live_server, "customer@example.com")
        page.goto(f"{live_server.url}/accounts/profile/")
        expect(page.get_by_role("heading", level=1)).to_have_count(1)
        section = page.get_by_role("region", name="Change e-mail address")
        expect(section.get_by_role("heading", level=2, name="Change e-mail address")).to_have_count(1)
        labels = page.evaluate(
            "[...document.querySelectorAll('label')]"
            ".map((l) => l.textContent.replace(/[*\\s]+/g, ' ').trim())"
        )
        assert len(labels) == len(set(labels)), labels

        stops = tab_until(page, "(e) => e.name === 'change_email'")
        order = [stop["key"] for stop in stops]
        assert [key for key in order if key in PROFILE_ORDER] == PROFILE_ORDER, order
        weak = [stop for stop in stops if not stop["outline"] or stop["contrast"] < 3]
        assert weak == [], weak

        new_email = section.get_by_label("New e-mail address")
        new_email.focus()
        page.keyboard.type("anna@")
        page.keyboard.press("Tab")
        page.keyboard.type(DEMO_PASSWORD)
        with page.expect_response(lambda r: r.request.method == "POST") as sent:
            page.keyboard.press("Enter")
        assert sent.value.status == 422
        page.wait_for_load_state()
        section = page.get_by_role("region", name="Change e-mail address")
        expect(section.get_by_role("alert")).to_have_count(1)
        new_email = section.get_by_label("New e-mail address")
        expect(new_email).to_be_focused()
        expect(new_email).to_have_value("anna@")
        expect(new_email).to_have_attribute("aria-invalid", "true")
        described = (new_email.get_attribute("aria-describedby") or "").split()
        assert "email-change-email_error" in described, described
        assert page.locator(".form-errors").count() == 1  # the other forms are not blamed
        assert problems_here(page, "profile after a refused e-mail change") == []
    finally:
        context.close()
    assert problems == [], problems


@pytest.mark.usefixtures("demo", "immediate_tasks")
def test_mailed_link_confirm_page_button_reached_by_tab_with_a_visible_ring_and_no_trap(browser, live_server):
    """The confirm page of the mailed link: Tab reaches 'Change my address' with a visible focus ring (and
    Tab goes on past it out of the page: no trap), axe finds nothing, Enter makes the change. Signed in to
    another account, the 'Sign out, then sign in' button is reached the same way."""
    customer = User.objects.get(email="customer2@example.com")
    account_services.user_email_change_request(
        customer, new_email="chris.new@example.com", password=DEMO_PASSWORD, actor=customer,
        domain="testserver", use_https=False,
    )  # fmt: skip
    (message,) = [m for m in mail.outbox if m.to == ["chris.new@example.com"]]
    link = re.search(r"https?://[^/\s]+(/accounts/change-email/\S+/)", message.body).group(1)

    context, page, problems = new_page(browser)
    try:
        signed_in(page, live_server, "customer@example.com")  # another account first
        page.goto(live_server.url + link)
        stops = tab_until(page, "(e) => /Sign out, then sign in/.test(e.textContent)")
        assert stops[-1]["outline"] and stops[-1]["contrast"] >= 3, stops[-1]
        assert problems_here(page, "confirm page, another account") == []
        page.keyboard.press("Enter")
        page.get_by_label("E-mail address").fill("customer2@example.com")
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("button", name="Change my address").wait_for()
        assert "/accounts/change-email/" in page.url
        stops = tab_until(page, "(e) => e.textContent.trim() === 'Change my address'")
        ring = stops[-1]
        assert ring["focus_visible"] and ring["outline"] and ring["contrast"] >= 3, ring
        assert problems_here(page, "confirm page") == []
        for _ in range(40):  # on past the button, out of the page or round to its start
            page.keyboard.press("Tab")
            if page.evaluate(
                "document.activeElement === document.body || document.activeElement.matches('.skip-link')"
            ):
                break
        else:
            raise AssertionError("the focus never left the confirm page: a keyboard trap")
        page.get_by_role("button", name="Change my address").focus()
        page.keyboard.press("Enter")
        page.get_by_text("Your e-mail address is now chris.new@example.com").wait_for()
    finally:
        context.close()
    assert problems == [], problems


# --- (4) a closed ticket's read-only properties ------------------------------------------------------------


FOCUSABLE_IN = """(selector) => [...document.querySelectorAll(
    selector + ' :is(a[href], button, input, select, textarea, [tabindex])')]
  .filter((e) => e.type !== 'hidden' && !e.closest('[hidden]') && e.tabIndex >= 0
    && e.getClientRects().length)
  .map((e) => e.outerHTML.slice(0, 120))"""


@pytest.mark.usefixtures("demo")
def test_closed_ticket_properties_offer_no_controls_and_tabbing_leaves_the_page(browser, live_server):
    """A closed ticket's properties are final: the panel offers no focusable control (no Save, no select,
    no disabled-looking button that does nothing), the merge form is gone, the 'a' shortcut takes nothing,
    every Tab stop on the page shows its ring and the focus leaves the page (no trap)."""
    agent = User.objects.get(email="agent@example.com")
    ticket = support_ticket("Closed for good")
    services.ticket_set_tags(ticket, names=["vip"], actor=agent)
    # Closed by the System, so it stays unassigned (an agent who closes it is made its assignee).
    services.ticket_transition(ticket, status=Status.CLOSED, actor=None)
    context, page, problems = new_page(browser)
    try:
        signed_in(page, live_server, agent.email)
        page.goto(f"{live_server.url}/desk/tickets/{ticket.number}/")
        expect(page.locator("#properties")).to_contain_text("vip")
        assert page.evaluate(FOCUSABLE_IN, "#properties") == []
        assert page.evaluate(FOCUSABLE_IN, "#merge") == []
        page.evaluate("document.activeElement.blur()")
        page.keyboard.press("a")
        page.wait_for_load_state("networkidle")
        assert Ticket.objects.get(pk=ticket.pk).assignee_id is None
        weak = []
        for _ in range(120):
            page.keyboard.press("Tab")
            ring = focus_is_visible(page)
            if ring["html"].startswith("<body"):
                break
            if page.evaluate("document.getElementById('properties').contains(document.activeElement)"):
                weak.append(f"a stop in the read-only properties: {ring['html']}")
            if not ring["outline"] or ring["contrast"] < 3:
                weak.append(f"weak ring: {ring}")
        else:
            weak.append("the focus never left the page in 120 Tab presses")
        assert weak == [], weak
    finally:
        context.close()
    assert problems == [], problems


# --- (5) the portal ticket page's breadcrumb for an organisation manager -----------------------------------


def _colleague_ticket(subject: str) -> Ticket:
    colleague = User.objects.get(email="customer2@example.com")
    return make_ticket(colleague, subject=subject, team=Team.objects.get(slug="support"))


@pytest.mark.usefixtures("demo")
def test_manager_reaches_the_breadcrumb_by_keyboard_and_it_lists_the_colleagues_ticket(browser, live_server):
    """A manager on a colleague's open ticket Tabs to the breadcrumb 'My organisation's tickets' (a visible
    ring), presses Enter and lands on the organisation's list, where the ticket is listed."""
    ticket = _colleague_ticket("Colleague's open ticket")
    context, page, problems = new_page(browser)
    try:
        signed_in(page, live_server, "customer@example.com")
        page.goto(f"{live_server.url}/portal/tickets/{ticket.number}/")
        stops = tab_until(page, '(e) => e.textContent.trim() === "My organisation\'s tickets"')
        assert stops[-1]["outline"] and stops[-1]["contrast"] >= 3, stops[-1]
        with page.expect_navigation():
            page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=1)).to_have_text("My organisation's tickets")
        expect(page.get_by_role("link", name=ticket.reference)).to_have_count(1)
    finally:
        context.close()
    assert problems == [], problems


@pytest.mark.usefixtures("demo")
def test_manager_breadcrumb_on_a_colleagues_solved_ticket_leads_where_it_is_listed(browser, live_server):
    """Commit c0aef3a leads a manager reading a colleague's ticket 'back to My organisation's tickets,
    where it is listed'. For a colleague's solved (resolved) ticket the link goes to ?scope=organization,
    whose default filter shows open tickets only: the ticket the manager came from is not in the list."""
    agent = User.objects.get(email="agent@example.com")
    ticket = _colleague_ticket("Colleague's solved ticket")
    services.ticket_transition(ticket, status=Status.RESOLVED, actor=agent)
    context, page, problems = new_page(browser)
    try:
        signed_in(page, live_server, "customer@example.com")
        page.goto(f"{live_server.url}/portal/tickets/{ticket.number}/")
        page.get_by_role("link", name="My organisation's tickets").focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=1)).to_have_text("My organisation's tickets")
        assert page.get_by_role("link", name=ticket.reference).count() == 1, page.url
    finally:
        context.close()
    assert problems == [], problems
