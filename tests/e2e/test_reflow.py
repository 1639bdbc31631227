"""Reflow (WCAG 2.2 1.4.10), resize text (1.4.4), text spacing (1.4.12) and target size (2.5.8) on a
320 CSS px wide screen (a phone, or 1280 px at 400 % zoom), which the axe checks do not cover: every
main page of each role fits the width as served and with the text-spacing overrides, nothing clipped, no
crowded small target, and nothing pinned over what it should scroll past."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import User
from knowledge.models import Article
from tests.e2e.conftest import signed_in
from tests.factories import PNG, make_article
from tickets.models import TicketForm

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NARROW = {"width": 320, "height": 640}

TEXT_SPACING = """
* { line-height: 1.5 !important; letter-spacing: .12em !important; word-spacing: .16em !important; }
p { margin-bottom: 2em !important; }
"""

MEASURE = (Path(__file__).parent / "reflow_measure.js").read_text()


def measure(page, spacing: bool = False) -> dict:
    if spacing:
        # Through the CSSOM, which the page's CSP (style-src 'self') allows, as a user stylesheet would.
        page.evaluate(
            "(css) => { const sheet = new CSSStyleSheet(); sheet.replaceSync(css);"
            " document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet]; }",
            TEXT_SPACING,
        )
    return page.evaluate(MEASURE)


def survey(page, url: str | None = None, *, spacing: bool = False) -> dict:
    if url:
        page.goto(url)
    return measure(page, spacing=spacing)


def reflow_problems(page, live_server, paths: list[str]) -> list[str]:
    """Each page at 320 px, as served and with the text-spacing overrides: wider than the window, text
    clipped by an overflow, or a small target crowded by another (inline links in text excepted; a check
    box inside its label counts as the label)."""
    found = []
    for path in paths:
        for spacing in (False, True):
            result = survey(page, live_server.url + path, spacing=spacing)
            where = f"{path}{' with text spacing' if spacing else ''}"
            if result["width"] > result["viewport"] + 1:
                found.append(f"{where}: {result['width']} px wide in {result['viewport']}: {result['wide']}")
            found += [f"{where}: {clip}" for clip in result["clipped"]]
            found += [
                f"{where}: small target {small}" for small in result["small"]
                if "(inline)" not in small and "label.chip > input" not in small
            ]  # fmt: skip
    return found


def long_ticket(customer, agent):
    from tickets import services

    ticket = services.ticket_create(
        requester=customer, subject="Printer on the second floor prints blank pages since the update",
        description="It started on Monday.\n\n" + "The printer feeds the paper but nothing comes out. " * 8,
        actor=customer, uploads=[SimpleUploadedFile("screenshot-of-the-printer-error-dialog.png", PNG)],
    )  # fmt: skip
    for n in range(6):
        services.ticket_reply(
            ticket, body=f"Reply {n}: " + "Have you tried turning it off and on? " * 5, actor=agent
        )
        services.ticket_reply(
            ticket, body=f"Answer {n}: " + "Yes, and it still prints blank pages. " * 5, actor=customer
        )
    services.ticket_add_note(ticket, body="Internal: call the vendor.", actor=agent)
    return ticket


@pytest.mark.usefixtures("demo")
def test_visitor_pages_reflow_at_320_px(page, live_server):
    """Home, KB home, an article, KB search, sign-in and sign-up fit 320 px, as served and with
    the text-spacing overrides, nothing clipped, no crowded small targets."""
    page.set_viewport_size(NARROW)
    article = Article.objects.filter(visibility="public", status="published").first()
    found = reflow_problems(page, live_server, [
        reverse("home"), reverse("knowledge:home"), reverse("knowledge:article", args=[article.slug]),
        reverse("knowledge:search") + "?q=password", reverse("accounts:login"), reverse("accounts:signup"),
        reverse("accounts:password_reset"),
    ])  # fmt: skip
    assert found == [], "\n".join(found)


@pytest.mark.usefixtures("demo")
def test_customer_and_agent_pages_without_a_file_field_reflow_at_320_px(page, live_server):
    """The portal list, profile and sessions, the queue (its table scrolls in its own box), the
    KB manage list and editor, the 2FA page and the audit trail fit 320 px with and without text
    spacing, nothing clipped."""
    page.set_viewport_size(NARROW)
    signed_in(page, live_server, "customer@example.com")
    found = reflow_problems(page, live_server, [reverse("tickets:portal_list"), reverse("accounts:profile")])
    page.context.clear_cookies()
    signed_in(page, live_server, "supervisor@example.com")
    found += reflow_problems(page, live_server, [
        reverse("tickets:desk_queue"), reverse("tickets:desk_queue") + "?q=printer&status=open&priority=high",
        reverse("knowledge:manage_list"), reverse("knowledge:manage_new"), reverse("accounts:two_factor"),
        reverse("accounts:profile"), reverse("audit:event_list"),
    ])  # fmt: skip
    assert found == [], "\n".join(found)


def test_pages_with_a_file_field_keep_to_320_px_with_text_spacing(page, live_server, demo):
    """At 320 px with the text-spacing overrides (letter-spacing .12em, word-spacing .16em), the new-ticket
    form with its errors, the ticket page with its reply form and the workspace stay 320 px wide: the
    browser's file input, whose own width grows with the spacing, is held to its column."""
    page.set_viewport_size(NARROW)
    customer = User.objects.get(email="customer@example.com")
    agent = User.objects.get(email="agent@example.com")
    ticket = long_ticket(customer, agent)
    form = TicketForm.objects.filter(is_active=True).exclude(schema=[]).first()
    url = live_server.url
    wide = []

    def check(where: str) -> None:
        plain = measure(page)
        assert plain["width"] <= 321, f"{where} is {plain['width']} px wide even without text spacing"
        spaced = measure(page, spacing=True)
        files = page.evaluate(
            "() => [...document.querySelectorAll('input[type=file]')].map((i) => "
            "`${i.id}: ${Math.round(i.getBoundingClientRect().width)} px in ${i.parentElement.clientWidth}`)"
        )
        if spaced["width"] > 321:
            wide.append(
                f"{where}: page {spaced['width']} px wide at 320; file inputs {files}; {spaced['wide'][:3]}"
            )

    signed_in(page, live_server, customer.email)
    page.goto(url + reverse("tickets:portal_submit_form", args=[form.slug]))
    page.evaluate("document.querySelectorAll('form').forEach((f) => { f.noValidate = true; })")
    page.get_by_role("button", name="Submit request", exact=True).click()
    page.wait_for_load_state()
    assert page.locator(".form-errors, .errors").count() > 0
    check("new ticket form with errors")
    page.goto(url + reverse("tickets:portal_detail", args=[ticket.number]))
    check("portal ticket page")
    page.context.clear_cookies()
    signed_in(page, live_server, agent.email)
    page.goto(url + reverse("tickets:desk_ticket", args=[ticket.number]))
    check("desk workspace")
    assert wide == [], "\n".join(wide)


COVERED = """() => {
  const e = document.activeElement; const r = e.getBoundingClientRect();
  const y = Math.max(0, Math.min(innerHeight - 1, r.top + r.height / 2));
  const at = document.elementFromPoint(r.left + r.width / 2, y);
  return {name: e.name || e.id || e.outerHTML.slice(0, 60), top: Math.round(r.top),
          covered: !!(at && at.closest('.desk-views') && !e.closest('.desk-views'))};
}"""


@pytest.mark.usefixtures("demo")
def test_the_queue_views_panel_does_not_stay_pinned_over_the_filters_on_a_narrow_screen(page, live_server):
    """At 320x640 the queue is one column: the "Views" card, then the filters, then the table. Scrolled
    down, the card has scrolled away rather than staying pinned over half the screen, and Shift+Tab back
    through the filters never puts the focused field under it (1.4.10, 2.4.11 Focus Not Obscured)."""
    page.set_viewport_size(NARROW)
    signed_in(page, live_server, "agent@example.com")
    page.goto(live_server.url + reverse("tickets:desk_queue"))
    page.locator(".more-filters > summary").click()  # folded on a narrow screen: all of them, opened
    page.locator("#queue-tag").scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, 600)")
    panel = page.evaluate(
        "() => { const r = document.querySelector('.desk-views').getBoundingClientRect();"
        " return [Math.round(r.top), Math.round(r.bottom), scrollY]; }"
    )
    page.get_by_role("button", name="Apply", exact=True).focus()
    hidden = []
    for _ in range(25):
        page.keyboard.press("Shift+Tab")
        state = page.evaluate(COVERED)
        if state["covered"] and not any(h.startswith(f"{state['name']} ") for h in hidden):
            hidden.append(f"{state['name']} at y={state['top']}")
    pinned = panel[0] >= 0 and panel[1] >= 100
    assert not pinned and hidden == [], (
        f"the Views card stays at y={panel[0]}..{panel[1]} of 640 after scrolling {panel[2]} px; "
        "focused filters hidden under it: " + ", ".join(hidden)
    )


@pytest.mark.usefixtures("demo")
def test_the_queue_table_scrolls_in_its_own_box_by_keyboard(page, live_server):
    """At 320 px the queue's 10-column table scrolls inside `.table-wrap` (1.4.10 allows a data
    table two-dimensional scrolling), the page stays 320 px, and arrow keys from a ticket link scroll it."""
    page.set_viewport_size(NARROW)
    signed_in(page, live_server, "agent@example.com")
    page.goto(live_server.url + reverse("tickets:desk_queue"))
    wrap = page.evaluate(
        "() => { const w = document.querySelector('#queue-table .table-wrap');"
        " return [w.scrollWidth, w.clientWidth, getComputedStyle(w).overflowX]; }"
    )
    assert wrap[0] > wrap[1] and wrap[2] == "auto"
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 321
    page.locator("[data-ticket-link]").first.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('#queue-table .table-wrap').scrollLeft > 0")


def test_the_article_picker_summary_is_a_24_px_target_apart_from_the_note_chip(page, live_server, demo):
    """In the workspace composer "Link a knowledge-base article" (a <summary>) is a 24 px target set apart
    from the "Internal note" chip above it (2.5.8)."""
    page.set_viewport_size(NARROW)
    customer = User.objects.get(email="customer@example.com")
    agent = User.objects.get(email="agent@example.com")
    ticket = long_ticket(customer, agent)
    signed_in(page, live_server, agent.email)
    page.goto(live_server.url + reverse("tickets:desk_ticket", args=[ticket.number]))
    small = [s for s in measure(page)["small"] if "summary" in s]
    assert small == [], small


@pytest.mark.usefixtures("demo")
def test_the_navigation_wraps_and_stays_reachable_at_320_px(browser, live_server):
    """The header's menu does not collapse; at 320 px on a touch screen every item of an agent's
    and a customer's menu is on screen, at least 24 px tall, reached by Tab and opened by a tap."""
    context = browser.new_context(viewport=NARROW, has_touch=True, is_mobile=True)
    page = context.new_page()
    try:
        for email in ("agent@example.com", "customer@example.com"):
            context.clear_cookies()
            signed_in(page, live_server, email)
            items = page.evaluate(
                "() => [...document.querySelectorAll('.main-nav a, .main-nav button')].map((e) => {"
                " const r = e.getBoundingClientRect();"
                " return [e.innerText.trim(), r.left, r.right, r.height]; })"
            )
            assert items and all(
                left >= 0 and right <= 320 and height >= 24 for _, left, right, height in items
            ), items
            reached = []
            page.evaluate("document.activeElement && document.activeElement.blur()")
            for _ in range(len(items) + 3):
                page.keyboard.press("Tab")
                reached.append(page.evaluate("() => document.activeElement.innerText.trim()"))
            assert all(name in reached for name, *_ in items), (items, reached)
            page.get_by_role("link", name="Knowledge base").tap()
            page.wait_for_url("**/kb/")
    finally:
        context.close()


def test_a_wide_table_in_an_article_keeps_the_page_to_320_px(browser, live_server):
    """A markdown table of eight columns in an article, on a 320 px screen: its cells wrap (overflow-wrap
    inherited from .message-body) and the page does not scroll sideways."""
    header = "| " + " | ".join(f"Feature{n}column" for n in range(8)) + " |"
    rule = "|" + "---|" * 8
    row = "| " + " | ".join(f"included{n}value" for n in range(8)) + " |"
    article = make_article(title="Compare plans", body=f"Our plans compared.\n\n{header}\n{rule}\n{row}\n")
    context = browser.new_context(viewport=NARROW)
    page = context.new_page()
    try:
        page.goto(live_server.url + reverse("knowledge:article", args=[article.slug]))
        page_width = page.evaluate("document.documentElement.scrollWidth")
    finally:
        context.close()
    assert page_width <= 321, f"the article page is {page_width} px wide on a 320 px screen"
