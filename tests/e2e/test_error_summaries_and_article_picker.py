"""The error summary's links above refused forms and the desk's "Link a knowledge-base article" picker,
in a real browser (Playwright with the fixtures of
tests/e2e/conftest.py; axe's WCAG 2.1 A/AA rules as tests/e2e/test_accessibility.py runs them; the text
contrast check of tests/e2e/test_accessibility_of_accounts_and_refusals.py)."""

import pytest
from django.urls import reverse

from accounts.models import Team, User
from knowledge.models import Article
from tests.e2e.conftest import signed_in
from tests.e2e.test_accessibility import problems_here
from tests.e2e.test_accessibility_of_accounts_and_refusals import LOW_CONTRAST
from tests.factories import TicketFormFactory, make_ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

EVERY_KIND = [
    {"name": "order", "label": "Order reference", "type": "text", "required": True},
    {"name": "areas", "label": "Areas", "type": "multi_select", "choices": ["Mail", "Web"], "required": True},
    {"name": "terms", "label": "I accept the terms", "type": "checkbox", "required": True},
    {"name": "since", "label": "Since", "type": "date", "required": True},
]

LANDED = """() => { const e = document.activeElement; const s = getComputedStyle(e);
    return {tag: e.tagName.toLowerCase(), type: e.type || null, id: e.id, ring: e.matches(':focus-visible')
            && s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2}; }"""


def summary(page):
    """The error summary: announced (role=alert) and free of axe findings; its links (href, text)."""
    box = page.locator(".form-errors")
    box.wait_for()
    assert box.get_attribute("role") == "alert"
    links = box.locator("a").evaluate_all("(as) => as.map((a) => [a.getAttribute('href'), a.textContent])")
    return links


def tab_to(page, href: str, presses: int = 150) -> None:
    """Tab from the top of the page until the summary's link to `href` has the focus."""
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate(
            "(h) => !!document.activeElement"
            " && document.activeElement.matches(`.form-errors a[href='${h}']`)",
            href,
        ):
            return
    raise AssertionError(f"Tab never reached the summary's link to {href}")


def follow_each_link(page) -> dict[str, dict]:
    """Each link of the summary, by its text: Tab to it, press Enter; where the focus lands."""
    landed = {}
    for href, label in summary(page):
        tab_to(page, href)
        page.keyboard.press("Enter")
        page.wait_for_timeout(50)
        landed[label] = {"href": href, **page.evaluate(LANDED)}
    return landed


def on_a_field(where: dict) -> bool:
    return where["tag"] in ("input", "select", "textarea") and where["ring"]


def refuse(page, button: str) -> None:
    """Send the form past the browser's own checks; the page of errors comes back."""
    page.evaluate("document.querySelectorAll('form').forEach((form) => { form.noValidate = true; })")
    page.get_by_role("button", name=button, exact=True).click()
    page.locator(".form-errors").wait_for()


def _custom_form_refused(page, live_server):
    form = TicketFormFactory(schema=EVERY_KIND, default_team=Team.objects.get(slug="support"))
    signed_in(page, live_server, "customer@example.com")
    page.goto(live_server.url + reverse("tickets:portal_submit_form", args=[form.slug]))
    refuse(page, "Submit request")


# --- (1) The error summary's links --------------------------------------------------------------------


@pytest.mark.usefixtures("demo")
def test_summary_link_to_a_multi_select_custom_field_moves_focus_into_it(page, live_server):
    """A customer refused for an unanswered "Areas" (checkboxes) follows the summary's "Areas" link by
    keyboard and lands on its first checkbox, ring shown. Before the fix the link pointed at #id_cf_areas,
    the checkboxes' wrapping <div>, which takes no focus: Enter left the focus on <body>."""
    _custom_form_refused(page, live_server)
    landed = follow_each_link(page)
    assert on_a_field(landed["Areas"]) and landed["Areas"]["id"] == "id_cf_areas_0", landed["Areas"]


@pytest.mark.usefixtures("demo")
def test_summary_links_of_the_portal_form_land_on_text_checkbox_and_date(page, live_server):
    """On the same refused form the summary is role=alert and axe-clean, and Subject, the
    description, a text field, the required checkbox and the date each take the focus from their link,
    with a visible ring."""
    _custom_form_refused(page, live_server)
    assert problems_here(page, "submit form refused") == []
    landed = follow_each_link(page)
    for label, field in [("Subject", "id_subject"), ("How can we help?", "id_description"),
                         ("Order reference", "id_cf_order"), ("I accept the terms", "id_cf_terms"),
                         ("Since", "id_cf_since")]:  # fmt: skip
        assert on_a_field(landed[label]) and landed[label]["id"] == field, (label, landed[label])


@pytest.mark.usefixtures("demo")
def test_links_inside_the_error_summary_have_enough_contrast(page, live_server):
    """The summary's links (primary blue on the pale red summary) and its text reach 4.5:1, and
    a focused link shows the two-colour ring."""
    _custom_form_refused(page, live_server)
    low = [text for text in page.evaluate(LOW_CONTRAST) if "form-errors" in text or 'href="#id_' in text]
    assert low == []
    tab_to(page, "#id_subject")
    ring = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.boxShadow]; }"
    )
    assert ring[0] == "solid" and "rgb(11, 12, 12)" in ring[1], ring


def _desk_page(page, live_server):
    customer = User.objects.get(email="customer@example.com")
    ticket = make_ticket(customer, team=Team.objects.get(slug="support"))
    signed_in(page, live_server, "agent@example.com")
    page.goto(live_server.url + reverse("tickets:desk_ticket", args=[ticket.number]))
    return ticket


@pytest.mark.usefixtures("demo")
def test_desk_composer_send_as_link_points_at_an_element_of_the_page(page, live_server):
    """The composer refused for its "Send as" choice (none ticked: tests/e2e/test_composer_on_closed_
    tickets.py makes the same refusal) lists "Send as" in the summary. An agent following that link
    lands on the Public reply radio. Before the fix the link was #id_kind, while the page writes the radios
    out as #kind-reply and #kind-note: no element had that id, and Enter did nothing."""
    _desk_page(page, live_server)
    page.locator("#composer textarea").fill("Customer phoned.")
    page.evaluate("document.querySelectorAll('input[name=kind]').forEach((r) => { r.checked = false; })")
    refuse(page, "Send reply")
    links = dict((label, href) for href, label in summary(page))
    assert "Send as" in links, links
    assert page.locator(links["Send as"]).count() == 1, f"{links['Send as']} is not on the page"
    landed = follow_each_link(page)
    assert landed["Send as"]["id"] in ("kind-reply", "kind-note"), landed["Send as"]


@pytest.mark.usefixtures("demo")
def test_article_picker_is_shown_and_works_from_the_keyboard(page, live_server):
    """With JavaScript the picker is shown; by keyboard an agent opens it, types, Tabs to a
    result, presses Enter, and the article's markdown link lands in the reply box (focused); axe is
    clean with the results shown."""
    article = Article.objects.filter(visibility="public", status="published").first()
    _desk_page(page, live_server)
    picker = page.locator("details.article-picker")
    assert picker.is_visible()
    page.locator("details.article-picker summary").focus()
    page.keyboard.press("Enter")
    assert picker.get_attribute("open") is not None
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "picker-q"
    page.keyboard.type(article.title.split()[0])
    page.locator("#article-picker button").first.wait_for()
    assert problems_here(page, "picker with results") == []
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.matches('#article-picker button')")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "id_body"
    assert "](http" in page.locator("#id_body").input_value()


@pytest.mark.usefixtures("demo")
def test_enter_in_the_article_search_does_not_send_the_reply(page, live_server):
    """An agent who typed a reply, then searches articles and presses Enter in the search box
    (as one does to search), expects results, not the half-written reply sent."""
    ticket = _desk_page(page, live_server)
    page.locator("#composer textarea").fill("Half-written answer")
    page.locator("details.article-picker summary").click()
    page.locator("#picker-q").fill("password")
    posts = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    page.locator("#picker-q").press("Enter")
    page.wait_for_timeout(800)
    assert [url for url in posts if "/reply/" in url] == []
    assert not ticket.messages.filter(body="Half-written answer").exists()
    assert page.locator("#composer textarea").input_value() == "Half-written answer"
