"""Browser: accessibility details a screen-reader or keyboard user meets: a refused inline edit points
at its error, the queue says what a filter found, headings start with the page's h1, titles match the
headings, and a required check box shows its marker."""

import pytest
from django.urls import reverse

from accounts.models import User
from tests.e2e.conftest import signed_in
from tickets.models import Ticket, TicketForm

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.usefixtures("demo")
def test_workspace_inline_edit_error_is_tied_to_its_field(page, live_server):
    """A refused inline edit (tags too long) keeps the focus in the tags box, marked invalid and
    described by the error, so a screen reader on it hears the problem."""
    agent = User.objects.get(email="agent@example.com")
    ticket = Ticket.objects.visible_to(agent).exclude(status="closed").first()
    signed_in(page, live_server, agent.email)
    page.goto(live_server.url + reverse("tickets:desk_ticket", args=[ticket.number]))
    page.locator("#edit-tags").fill("x" * 60)
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        page.locator("#edit-tags").press("Enter")
    assert answer.value.status == 422
    page.locator("#properties .form-errors").wait_for()
    tags = page.locator("#edit-tags")
    assert tags.get_attribute("aria-invalid") == "true"
    described = (tags.get_attribute("aria-describedby") or "").split()
    texts = [page.locator(f"#{ident}").inner_text() for ident in described]
    assert any("at most 50 characters" in text for text in texts), texts


@pytest.mark.usefixtures("demo")
def test_queue_headings_start_with_the_page_h1(page, live_server):
    """The desk queue's first heading is the sidebar's h2 "Views"; the h1 "Queue" comes after it."""
    signed_in(page, live_server, "agent@example.com")
    page.goto(live_server.url + reverse("tickets:desk_queue"))
    levels = page.evaluate(
        "() => Array.from(document.querySelectorAll('main h1, main h2, main h3')).map(h => h.tagName)"
    )
    assert levels[0] == "H1", levels


@pytest.mark.usefixtures("demo")
def test_organisation_tickets_page_title_matches_its_heading(page, live_server):
    """ "My organisation's tickets" is titled "My tickets", the same as the customer's own list."""
    signed_in(page, live_server, "customer@example.com")
    page.goto(live_server.url + reverse("tickets:portal_list") + "?scope=organization")
    heading = page.locator("h1").inner_text()
    assert heading == "My organisation's tickets"
    assert page.title().startswith(heading), page.title()


@pytest.mark.usefixtures("demo")
def test_required_checkbox_shows_the_required_marker(page, live_server):
    """Every required field's label carries the red asterisk, except a required check box: sighted users
    cannot tell that it must be ticked until the form is refused."""
    TicketForm.objects.create(
        slug="terms", title="Terms", is_active=True,
        schema=[{"name": "agree", "label": "I accept the terms", "type": "checkbox", "required": True}],
    )  # fmt: skip
    signed_in(page, live_server, "customer@example.com")
    page.goto(live_server.url + reverse("tickets:portal_submit_form", args=["terms"]))
    assert page.locator("label[for=id_cf_agree] .required").count() == 1
    assert page.locator("label[for=id_subject] .required").count() == 1


@pytest.mark.usefixtures("demo")
def test_queue_filter_result_is_announced(page, live_server):
    """Filtering swaps the table with htmx and keeps the focus on the filter; a status region says how
    many tickets now match. It is the page's own region, filled in (one swapped in whole, text and
    all, often goes unannounced)."""
    signed_in(page, live_server, "agent@example.com")
    page.goto(live_server.url + reverse("tickets:desk_queue"))
    page.evaluate("() => { document.getElementById('queue-status').dataset.kept = 'yes'; }")
    chip = page.locator("input[name=status][value=pending]")
    chip.focus()
    with page.expect_response(lambda response: "status=pending" in response.url):
        page.keyboard.press("Space")
    page.wait_for_timeout(300)
    live = page.evaluate(
        """() => Array.from(document.querySelectorAll('[role=status], [aria-live]'))
             .filter(e => e.getAttribute('aria-live') !== 'off').map(e => e.textContent)"""
    )
    assert any("ticket" in text for text in live), live
    status = page.locator("#queue-status")
    assert status.get_attribute("data-kept") == "yes" and status.get_attribute("role") == "status"
    assert "ticket" in status.text_content()


WORDS_THAT_DO_NOT_FIT = """(selector) => Array.from(document.querySelectorAll(selector)).flatMap((dd) => {
    const probe = document.createElement('span');
    probe.style.cssText = 'position: absolute; visibility: hidden; white-space: nowrap';
    probe.style.font = getComputedStyle(dd).font;
    document.body.append(probe);
    const cut = dd.textContent.split(/\\s+/).filter(Boolean).filter((word) => {
        probe.textContent = word;
        return probe.getBoundingClientRect().width > dd.clientWidth + 0.5;
    });
    probe.remove();
    return cut;
})"""


@pytest.mark.usefixtures("demo")
def test_details_in_a_side_column_keep_their_words_whole_on_a_desktop(page, live_server):
    """On a 1280 px screen the portal's details and the workspace's ticket panel sit in a column of about
    300 px: their values (names, e-mail addresses, form names, status badges) read whole, the labels
    above them, instead of broken mid-word beside a wide label."""
    page.set_viewport_size({"width": 1280, "height": 900})
    customer = User.objects.get(email="customer@example.com")
    ticket = Ticket.objects.visible_to(customer).filter(form__isnull=False).first()
    signed_in(page, live_server, customer.email)
    page.goto(live_server.url + reverse("tickets:portal_detail", args=[ticket.number]))
    assert page.evaluate(WORDS_THAT_DO_NOT_FIT, "aside .facts dd") == []
    page.context.clear_cookies()
    signed_in(page, live_server, "agent@example.com")
    pending = Ticket.objects.filter(status="pending", team__name="Support").first()
    page.goto(live_server.url + reverse("tickets:desk_ticket", args=[pending.number]))
    assert page.evaluate(WORDS_THAT_DO_NOT_FIT, ".workspace-side .facts dd") == []


LONG_PATH = "C:\\Users\\j.smith\\AppData\\Local\\Microsoft\\Outlook\\j.smith@example.org-mailbox.ost"
RESET_LINK = "https://login.example.org/reset/" + "a1b2c3d4" * 9


@pytest.mark.usefixtures("demo")
def test_a_long_unbroken_word_wraps_at_320_pixels_instead_of_widening_the_page(page, live_server):
    """400 % zoom is a 320 px wide page: a Windows path or a reset link in a subject, a message or an
    article ran the page 200 to 500 px wider than the screen, and every card beside it with it."""
    from knowledge import services as knowledge_services
    from tickets import services as ticket_services

    customer = User.objects.get(email="customer@example.com")
    ticket = ticket_services.ticket_create(
        requester=customer, subject=f"Outlook cannot open {LONG_PATH}",
        description=f"It says {LONG_PATH} is locked. The link {RESET_LINK} fails too.", actor=customer,
    )  # fmt: skip
    article = knowledge_services.article_create(
        title=f"Repairing {LONG_PATH}",
        body=f"Open {LONG_PATH}\n\n## {RESET_LINK}",
        actor=None,
        status="published",
    )
    page.set_viewport_size({"width": 320, "height": 640})
    signed_in(page, live_server, customer.email)
    for path in (
        reverse("tickets:portal_detail", args=[ticket.number]),
        reverse("knowledge:article", args=[article.slug]),
        reverse("knowledge:search") + "?q=Outlook+mailbox",
        reverse("knowledge:other_articles"),
    ):
        page.goto(live_server.url + path)
        width = page.evaluate("() => document.scrollingElement.scrollWidth")
        assert width <= 321, f"{path} is {width} px wide at 320"
    page.context.clear_cookies()
    signed_in(page, live_server, "supervisor@example.com")
    page.goto(live_server.url + reverse("tickets:desk_ticket", args=[ticket.number]))
    assert page.locator("h1").inner_text().endswith("mailbox.ost")
    assert page.evaluate("() => document.scrollingElement.scrollWidth") <= 321


def test_a_required_select_tells_screen_readers_it_is_required():
    """Django leaves `required` off a select whose first option has a value; the asterisk is hidden from
    screen readers, so the control says it (helpdesk.forms.AccessibleBoundField)."""
    from accounts.forms import ProfileForm

    form = ProfileForm(initial={"timezone": "UTC"})
    assert 'aria-required="true"' in str(form["timezone"])
    assert "required" in str(form["name"]) and "aria-required" not in str(form["name"])


CURRENT_MARKS = """() => [...document.querySelectorAll('.main-nav a, .view-list a')].map((link) => [
  link.getAttribute('aria-current') === 'page', getComputedStyle(link).textDecorationLine,
])"""


@pytest.mark.usefixtures("demo")
def test_the_current_page_and_view_keep_their_mark_in_forced_colours(page, live_server):
    """In forced colours (Windows High Contrast) the browser drops backgrounds and box shadows, the only
    marks of the current page in the navigation and of the open view: they are underlined instead."""
    page.emulate_media(forced_colors="active")
    signed_in(page, live_server, "agent@example.com")
    page.goto(live_server.url + reverse("tickets:desk_queue"))
    page.locator(".view-list a").first.click()
    page.locator('.view-list a[aria-current="page"]').wait_for()
    marks = page.evaluate(CURRENT_MARKS)
    current = {decoration for is_current, decoration in marks if is_current}
    assert len([1 for is_current, _ in marks if is_current]) == 2  # "Agent desk" and the open view
    assert current == {"underline"}
    assert "underline" not in {decoration for is_current, decoration in marks if not is_current}
