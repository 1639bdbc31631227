# ruff: noqa: E501  (the page measurements are JavaScript)
"""The site on a phone (375x812, device scale 2, touch, mobile viewport; wider phones, 390 to 430 px, have
more room, and tests/e2e/test_reflow.py holds every page to 320 px).

What a phone adds to the 320 px reflow checks of tests/e2e/test_reflow.py: touch targets (WCAG 2.2
SC 2.5.8), form controls under 16 px (iOS Safari zooms the page into them on focus), fixed or sticky
boxes over the focused control (SC 2.4.11), wide tables, and the primary action in reach."""

from pathlib import Path

import pytest
from django.urls import reverse

from accounts.models import User
from knowledge.models import Article
from tests.e2e import conftest as e2e
from tests.e2e.conftest import signed_in
from tests.e2e.test_reflow import long_ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONES = {
    "375x812": {"width": 375, "height": 812},
}

REFLOW_MEASURE = (Path(e2e.__file__).parent / "reflow_measure.js").read_text()

# Phone-specific facts about the page as it is on screen.
PHONE_MEASURE = r"""
() => {
  const vw = innerWidth;
  const describe = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    if (el.classList.length) s += '.' + [...el.classList].join('.');
    const name = el.getAttribute('name');
    if (name) s += `[name=${name}]`;
    return s;
  };
  const visible = (el) => { const r = el.getBoundingClientRect(); const st = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && st.visibility !== 'hidden'; };
  const hidden = (el) => el.closest('.visually-hidden, [hidden], dialog:not([open]), details:not([open]) > :not(summary)');
  const scrollsX = (el) => { for (let e = el.parentElement; e && e !== document.documentElement; e = e.parentElement) {
    const o = getComputedStyle(e).overflowX; if (o === 'auto' || o === 'scroll') return true; } return false; };
  const all = [...document.body.querySelectorAll('*')].filter((el) => !hidden(el) && visible(el));
  // Outside the window sideways, outside any scroll box.
  const outside = [];
  for (const el of all) {
    const r = el.getBoundingClientRect();
    if ((r.right > vw + 1 + scrollX || r.left < -1 - scrollX) && !scrollsX(el))
      if (!outside.some((o) => o.el.contains(el))) outside.push({el, l: Math.round(r.left), r: Math.round(r.right)});
  }
  // Text fields under 16 px: iOS Safari zooms into them.
  const textTypes = ['text', 'email', 'password', 'search', 'number', 'date', 'url', 'tel', 'time',
    'datetime-local', 'month', 'week', ''];
  const small_fonts = [...document.querySelectorAll('input, select, textarea')]
    .filter((el) => !hidden(el) && visible(el))
    .filter((el) => el.tagName !== 'INPUT' || textTypes.includes((el.getAttribute('type') || '').toLowerCase()))
    .map((el) => [el, parseFloat(getComputedStyle(el).fontSize)])
    .filter(([, size]) => size < 16)
    .map(([el, size]) => `${describe(el)} ${size}px`);
  // Every target under 24x24, spaced or not.
  const targets = [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button]')]
    .filter((el) => !hidden(el) && visible(el) && !el.closest('.skip-link'));
  const under24 = targets.map((el) => [el, el.getBoundingClientRect()])
    .filter(([, r]) => r.width < 24 || r.height < 24)
    .map(([el, r]) => `${describe(el)} "${(el.innerText || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 30)}" ${Math.round(r.width)}x${Math.round(r.height)}`);
  // Fixed and sticky boxes.
  const pinned = all.filter((el) => ['fixed', 'sticky'].includes(getComputedStyle(el).position))
    .map((el) => `${describe(el)} ${getComputedStyle(el).position}`);
  // Boxes that scroll sideways: reachable by keyboard and named?
  const focusable = 'a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), select, textarea, [tabindex]:not([tabindex="-1"])';
  const scrollers = all.filter((el) => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX) && el.scrollWidth > el.clientWidth + 1)
    .map((el) => ({
      box: describe(el), scroll: el.scrollWidth, client: el.clientWidth,
      tabindex: el.getAttribute('tabindex'), role: el.getAttribute('role'),
      label: el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || '',
      caption: el.querySelector('caption') ? el.querySelector('caption').innerText || el.querySelector('caption').textContent.trim() : '',
      focusables: el.querySelectorAll(focusable).length,
    }));
  // WCAG 2.2 SC 2.5.8: a target under 24x24 passes if a 24 px circle on its centre meets no other target
  // and no other undersized target's circle. A check box inside its label is the label's target; links
  // inside running text are excepted; what is not rendered (a closed <details>) is no target.
  const shown = (el) => (!el.checkVisibility || el.checkVisibility({visibilityProperty: true})) && !hidden(el) && visible(el);
  const tgt = [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary, label:has(input)')]
    .filter((el) => shown(el) && !el.closest('.skip-link') && !(el.tagName === 'INPUT' && el.closest('label')));
  const boxes = tgt.map((el) => el.getBoundingClientRect());
  const crowded = [];
  tgt.forEach((el, i) => {
    const r = boxes[i];
    if (r.width >= 24 && r.height >= 24) return;
    const parent = el.parentElement;
    if (getComputedStyle(el).display === 'inline' && el.tagName === 'A' && parent &&
        parent.innerText.trim().length > el.innerText.trim().length + 2) return;
    const cx = r.left + r.width / 2, cy = r.top + r.height / 2;
    const near = [];
    tgt.forEach((other, j) => {
      if (j === i || other.contains(el) || el.contains(other)) return;
      const o = boxes[j];
      const dx = Math.max(o.left - cx, 0, cx - o.right), dy = Math.max(o.top - cy, 0, cy - o.bottom);
      const small = o.width < 24 || o.height < 24;
      if (Math.hypot(dx, dy) < 12 || (small && Math.hypot(o.left + o.width / 2 - cx, o.top + o.height / 2 - cy) < 24))
        near.push(describe(other));
    });
    if (near.length) crowded.push(`${describe(el)} "${(el.innerText || '').trim().slice(0, 25)}" ${Math.round(r.width)}x${Math.round(r.height)} near ${near.slice(0, 2).join(', ')}`);
  });
  return {
    crowded,
    width: document.documentElement.scrollWidth, viewport: vw, height: document.documentElement.scrollHeight,
    outside: outside.map((o) => `${describe(o.el)} ${o.l}..${o.r}`).slice(0, 12),
    small_fonts, under24, pinned, scrollers,
  };
}
"""


CLS = """() => new Promise((done) => { let total = 0; const shifts = [];
  new PerformanceObserver((list) => { for (const e of list.getEntries()) if (!e.hadRecentInput) { total += e.value;
    shifts.push(e.sources.map((s) => s.node ? (s.node.id || s.node.className || s.node.nodeName) : '?').join(',')); } })
    .observe({type: 'layout-shift', buffered: true});
  setTimeout(() => done({total: Math.round(total * 1000) / 1000, shifts: shifts.slice(0, 5)}), 300); })"""


@pytest.fixture(params=list(PHONES))
def phone(request, browser):
    """A phone: the size of the parameter, device scale 2, touch and a mobile viewport (the page's
    meta viewport honoured). Fails if the page broke its Content-Security-Policy, as e2e.page does."""
    context = browser.new_context(
        viewport=PHONES[request.param], device_scale_factor=2, has_touch=True, is_mobile=True
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    yield page
    context.close()
    assert violations == [], violations


def signed_in_on(page, live_server, email):
    page.context.clear_cookies()
    return signed_in(page, live_server, email)


def measure(page) -> dict:
    phone = page.evaluate(PHONE_MEASURE)
    phone["clipped"] = page.evaluate(REFLOW_MEASURE)["clipped"]
    phone["cls"] = page.evaluate(CLS)
    return phone


def problems(page, where: str) -> list[str]:
    """What a phone shows wrong on the page as it is now."""
    m = measure(page)
    found = []
    if m["width"] > m["viewport"]:
        found.append(f"{where}: the page is {m['width']} px wide in {m['viewport']}: {m['outside']}")
    found += [f"{where}: outside the window sideways: {o}" for o in m["outside"]]
    found += [f"{where}: form control under 16 px (iOS zooms): {f}" for f in m["small_fonts"]]
    found += [f"{where}: crowded small target: {c}" for c in m["crowded"]]
    found += [f"{where}: clipped: {c}" for c in m["clipped"]]
    found += [f"{where}: fixed/sticky: {p}" for p in m["pinned"]]
    if m["cls"]["total"] > 0.01:
        found.append(f"{where}: layout shift {m['cls']}")
    return found


AXE_SCROLL = {
    "runOnly": {"type": "rule", "values": ["scrollable-region-focusable"]},
    "resultTypes": ["violations"],
}


def focus_walk(page, presses: int) -> list[str]:
    """Tab through the page from the top: each focused control is on screen and on top (no fixed or
    sticky box over it, WCAG 2.4.11)."""
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    hidden = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        state = page.evaluate("""() => { const e = document.activeElement; if (!e || e === document.body) return null;
          const r = e.getBoundingClientRect(); if (!r.width && !r.height) return null;
          const x = Math.min(innerWidth - 1, Math.max(0, r.left + Math.min(r.width, 20) / 2));
          const y = r.top + r.height / 2;
          const onScreen = r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth;
          const at = onScreen ? document.elementFromPoint(x, Math.min(innerHeight - 1, Math.max(0, y))) : null;
          const label = e.labels && e.labels[0];
          const onTop = !!at && (e.contains(at) || at.contains(e) || (label && label.contains(at)) || at.closest('label') === e.closest('label'));
          return {what: (e.id || e.name || e.tagName) + ' ' + (e.innerText || '').trim().slice(0, 20), onScreen, onTop,
                  at: at ? (at.id || at.className || at.tagName) : null}; }""")
        if state and not (state["onScreen"] and state["onTop"]):
            hidden.append(str(state))
    return hidden


def test_visitor_and_customer_pages_fit_a_phone(phone, live_server, demo):
    """Home, KB home, search and an article, sign-in, sign-up, the submit form (default, with custom
    fields, and its 422 refill), My tickets (own and organisation's), a ticket page with its composer and
    the profile: no sideways scrolling of the page, nothing outside the window or clipped, every text
    field at 16 px or more, no crowded small target (2.5.8), nothing fixed or sticky, no layout shift."""
    customer = User.objects.get(email="customer@example.com")
    agent = User.objects.get(email="agent@example.com")
    ticket = long_ticket(customer, agent)
    article = Article.objects.filter(visibility="public", status="published").first()
    url = live_server.url
    found = []
    for path in [reverse("home"), reverse("knowledge:home"), reverse("knowledge:search") + "?q=password",
                 reverse("knowledge:article", args=[article.slug]), reverse("accounts:login"),
                 reverse("accounts:signup")]:  # fmt: skip
        phone.goto(url + path)
        found += problems(phone, path)
    signed_in_on(phone, live_server, customer.email)
    for path in [reverse("tickets:portal_submit"), reverse("tickets:portal_submit_form", args=["billing-question"]),
                 reverse("tickets:portal_submit_form", args=["access-request"]), reverse("tickets:portal_list"),
                 reverse("tickets:portal_list") + "?scope=organization&status=all",
                 reverse("tickets:portal_detail", args=[ticket.number]), reverse("accounts:profile")]:  # fmt: skip
        phone.goto(url + path)
        found += problems(phone, path)
    phone.goto(url + reverse("tickets:portal_submit_form", args=["billing-question"]))
    with phone.expect_navigation() as sent:  # the 422 page loaded, not only its response received
        phone.get_by_role("button", name="Submit request", exact=True).tap()
    assert sent.value.status == 422
    found += problems(phone, "billing form refilled (422)")
    # The first field to correct has the focus, on screen.
    assert phone.evaluate(
        "() => { const r = document.activeElement.getBoundingClientRect();"
        " return document.activeElement.matches('input, textarea, select') && r.top >= 0 && r.bottom <= innerHeight; }"
    )
    assert found == [], "\n".join(found)


def test_agent_and_supervisor_pages_fit_a_phone(phone, live_server, demo):
    """The queue (filters as served and set), a ticket workspace, the audit trail: page width, clipping,
    16 px controls, crowded targets, nothing fixed or sticky (the views card is static below 960 px)."""
    customer = User.objects.get(email="customer@example.com")
    agent = User.objects.get(email="agent@example.com")
    ticket = long_ticket(customer, agent)
    url = live_server.url
    found = []
    signed_in_on(phone, live_server, "supervisor@example.com")
    for path in [reverse("tickets:desk_queue"),
                 reverse("tickets:desk_queue") + f"?q=printer&status=open&priority=high&requester={customer.pk}",
                 reverse("tickets:desk_ticket", args=[ticket.number]), reverse("audit:event_list")]:  # fmt: skip
        phone.goto(url + path)
        found += problems(phone, path)
    assert found == [], "\n".join(found)


def test_tabbing_never_hides_the_focus_on_a_phone(phone, live_server, demo):
    """Tabbing through the submit form, the queue and the workspace, each focused control is on screen
    and nothing covers it (2.4.11)."""
    customer = User.objects.get(email="customer@example.com")
    agent = User.objects.get(email="agent@example.com")
    ticket = long_ticket(customer, agent)
    url = live_server.url
    signed_in_on(phone, live_server, customer.email)
    phone.goto(url + reverse("tickets:portal_submit_form", args=["billing-question"]))
    hidden = focus_walk(phone, 25)
    signed_in_on(phone, live_server, agent.email)
    phone.goto(url + reverse("tickets:desk_queue"))
    hidden += focus_walk(phone, 60)
    phone.goto(url + reverse("tickets:desk_ticket", args=[ticket.number]))
    hidden += focus_walk(phone, 60)
    assert hidden == [], hidden


def test_workspace_inline_edit_and_reply_by_touch(phone, live_server, demo):
    """On a phone an agent sets the priority with its inline Save and sends a reply by tapping: both go
    through and the page stays phone-wide."""
    customer = User.objects.get(email="customer@example.com")
    agent = User.objects.get(email="agent@example.com")
    ticket = long_ticket(customer, agent)
    signed_in_on(phone, live_server, agent.email)
    phone.goto(live_server.url + reverse("tickets:desk_ticket", args=[ticket.number]))
    phone.locator("#edit-priority").select_option("urgent")
    phone.locator("#save-priority").tap()
    phone.locator("#properties-status").filter(has_text="Saved").wait_for()
    phone.locator("#composer textarea").tap()
    phone.locator("#composer textarea").fill("Sent from a phone.")
    phone.locator("#composer .composer-send").tap()
    phone.locator("#thread").get_by_text("Sent from a phone.").wait_for()
    ticket.refresh_from_db()
    assert ticket.priority == "urgent"
    assert phone.evaluate("document.documentElement.scrollWidth") <= phone.viewport_size["width"]


# ---------------------------------------------------------------- defects


def test_wide_tables_without_links_are_keyboard_scrollable_on_a_phone(phone, live_server, demo):
    """On a phone the audit trail's table (887 px in a 341 px box at 375) and the profile's "Where you are
    signed in" table (365 px in 307) scroll sideways inside `.table-wrap`, which holds no link or button:
    a keyboard user (an iPad/iPhone with a keyboard, switch access) focuses the box, named by its table's
    caption, and scrolls it (WCAG 2.1.1; axe's scrollable-region-focusable). The other axe tests run at
    desktop width, where these tables fit."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    found = []
    signed_in_on(phone, live_server, "supervisor@example.com")
    for path in (reverse("audit:event_list"), reverse("accounts:profile")):
        phone.goto(live_server.url + path)
        for rule in axe.run(phone, options=AXE_SCROLL).response["violations"]:
            found += [f"{path}: {rule['id']}: {node['html']}" for node in rule["nodes"]]
    assert found == [], "\n".join(found)


def test_kb_editor_body_is_16_px_so_ios_does_not_zoom_into_it(phone, live_server, demo):
    """An agent writing an article on an iPhone expects the page to stay as it is when they tap the
    body; iOS Safari zooms into any text field under 16 px (the editor's monospaced body was 14.4 px)."""
    signed_in_on(phone, live_server, "supervisor@example.com")
    phone.goto(live_server.url + reverse("knowledge:manage_new"))
    small = measure(phone)["small_fonts"]
    assert small == [], small


def test_queue_refresh_keeps_a_sideways_scrolled_table_where_it_was(phone, live_server, demo):
    """On a phone the queue's ten columns scroll sideways in their box (969 px in 341 at 375): an agent
    swipes to Status, Assignee and Updated. When the 30-second refresh brings a change, the swapped table
    stays scrolled where they were reading, instead of jumping back to Number and Subject."""
    from tickets.models import Ticket

    signed_in_on(phone, live_server, "agent@example.com")
    phone.clock.install()
    phone.goto(live_server.url + reverse("tickets:desk_queue"))
    box = "document.querySelector('#queue-table .table-wrap')"
    phone.evaluate(f"{box}.scrollLeft = 400")
    assert phone.evaluate(f"{box}.scrollLeft") > 0
    ticket = Ticket.objects.order_by("-updated_at").first()
    Ticket.objects.filter(pk=ticket.pk).update(subject=ticket.subject + " (changed)")
    with phone.expect_response(lambda response: "/desk/" in response.url):
        phone.clock.run_for(31_000)
    phone.get_by_text("(changed)").wait_for()
    assert phone.evaluate(f"{box}.scrollLeft") > 0, "the refresh scrolled the table back to its first column"


def test_suggested_articles_appear_under_the_subject_on_a_phone(phone, live_server, demo):
    """A customer types a subject on a phone: the articles that may answer it appear right under the
    subject, where the keyboard leaves them in sight, before the description they were about to write.
    Beside the form they sat below the whole form, a screen or two down, and nobody saw them."""
    signed_in_on(phone, live_server, "customer@example.com")
    phone.goto(live_server.url + reverse("tickets:portal_submit"))
    subject = phone.get_by_label("Subject")
    subject.tap()
    subject.press_sequentially("VPN fails with error 809", delay=20)
    suggestion = phone.locator("#suggestions a", has_text="Cannot connect to the VPN from home")
    suggestion.wait_for()
    subject_box = subject.bounding_box()
    suggestion_box = suggestion.bounding_box()
    description_box = phone.get_by_label("How can we help?").bounding_box()
    assert subject_box["y"] + subject_box["height"] <= suggestion_box["y"] < description_box["y"]
    # In sight above a phone keyboard (about the lower 40 % of the screen) with the subject on screen.
    assert (
        suggestion_box["y"] + suggestion_box["height"] - subject_box["y"] < phone.viewport_size["height"] / 2
    )
    # They push the description down, in answer to the typing (a layout shift CLS forgives only within
    # half a second of a key, which the 400 ms pause before asking and a busy machine may pass).
    found = [p for p in problems(phone, "submit form with suggestions") if "layout shift" not in p]
    assert found == [], found


def test_the_queue_folds_its_further_filters_on_a_phone(phone, live_server, demo):
    """On a phone the queue's eighteen filters came before the table, which started some 2,700 px down
    (three and a half screens of dates and menus to scroll past to the first ticket). Past search, status,
    priority and assignee they fold under "More filters", which opens by a tap; a queue filtered by one
    of them opens with them shown and says how many are set."""
    signed_in_on(phone, live_server, "agent@example.com")
    phone.goto(live_server.url + reverse("tickets:desk_queue"))
    assert phone.locator("#queue-q").is_visible()
    assert phone.locator("#queue-assignee").is_visible()
    assert not phone.locator("#queue-team").is_visible()
    first_row = phone.locator("#queue-table tbody tr").first.bounding_box()
    assert first_row["y"] < 2 * phone.viewport_size["height"], first_row
    phone.get_by_text("More filters").tap()
    phone.locator("#queue-tag").fill("vpn")
    with phone.expect_response(lambda response: "tag=vpn" in response.url):
        phone.locator("#queue-tag").press("Enter")
    phone.goto(live_server.url + reverse("tickets:desk_queue") + "?tag=vpn&sort=number")
    assert phone.locator("#queue-tag").is_visible()
    assert phone.locator(".more-filters > summary").inner_text() == "More filters (2 set)"
    assert problems(phone, "queue with more filters set") == []
