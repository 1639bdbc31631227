"""Browser: accessibility (axe-core WCAG 2.1 A/AA, keyboard, focus, contrast) of states the other
accessibility tests do not reach: a deleted ticket's read-only workspace (no merge form), a ticket with
more than 100 changes (the link lands on the first change not shown), the timeline's arrows read as
words, custom fields kept from before a type change, the portal's on-hold ticket, the messages after a
deleted view and a refused bulk action, the 429/500 pages and two admin forms."""

import pytest
from django.db.models import F
from django.urls import reverse

from accounts.models import Team, User
from tests.e2e.conftest import signed_in
from tests.e2e.test_accessibility import focus_stops, problems_here, violations
from tests.factories import SavedViewFactory, make_ticket
from tickets import services as ticket_services
from tickets.models import Ticket, TicketActivity, TicketForm
from tickets.selectors import TIMELINE_LENGTH

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ACTIVE = "() => document.activeElement.outerHTML.slice(0, 120)"


def _support_ticket(subject: str) -> Ticket:
    customer = User.objects.get(email="customer@example.com")
    return make_ticket(customer, subject=subject, team=Team.objects.get(slug="support"))


def _deleted_ticket() -> Ticket:
    ticket = _support_ticket("Spam about cheap watches")
    ticket_services.ticket_delete(ticket, actor=User.objects.get(email="admin@example.com"))
    return ticket


def _ticket_with_many_changes(extra: int = 5) -> Ticket:
    ticket = _support_ticket("Priority keeps changing")
    TicketActivity.objects.bulk_create(
        TicketActivity(ticket=ticket, action="priority", field="priority", old_value="low", new_value="high")
        for _ in range(TIMELINE_LENGTH + extra)
    )
    return ticket


def _kept_values_ticket() -> Ticket:
    """A select whose stored answer was removed from its choices, and a check box that was a text field."""
    form = TicketForm.objects.create(slug="kept", title="Device details", is_active=True, schema=[
        {"name": "product", "label": "Product", "type": "select", "choices": ["Basic", "Pro"]},
        {"name": "urgent", "label": "Urgent", "type": "checkbox"},
    ])  # fmt: skip
    ticket = _support_ticket("Kept values")
    Ticket.objects.filter(pk=ticket.pk).update(
        form=form, custom_fields={"product": "Legacy", "urgent": "sometimes"}
    )
    return ticket


def keyboard_cycle(page, url: str, presses: int = 120) -> list[str]:
    """Tab from the top until the focus leaves the page: the stops, or fails on a keyboard trap."""
    page.goto(url)
    stops = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        here = page.evaluate(ACTIVE)
        if here.startswith("<body"):
            return stops
        stops.append(here)
    raise AssertionError(f"{url}: the focus never left the page in {presses} Tab presses: {stops[-5:]}")


# --- Defects -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("demo")
def test_deleted_ticket_workspace_offers_no_merge_form(page, live_server):
    """A deleted ticket's workspace is read-only for the administrator (the composer gives way to "restore
    it in the admin", the properties are a list), yet the Merge form stays: "Merge into ticket" and
    "Merge" are Tab stops on the read-only page, and the service always refuses them (MERGE_DELETED).
    A keyboard or screen-reader user meets a form that can only fail; a read-only page offers none."""
    ticket = _deleted_ticket()
    signed_in(page, live_server, "admin@example.com")
    url = live_server.url + reverse("tickets:desk_ticket", args=[ticket.number])
    stops = keyboard_cycle(page, url)
    assert page.get_by_text("This ticket was deleted").is_visible()  # the read-only state
    assert page.locator("#composer textarea").count() == 0
    in_main = [stop for stop in stops if "merge" in stop.lower()]
    assert page.locator("#merge").count() == 0 or not page.locator("#merge").is_visible(), in_main


@pytest.mark.usefixtures("demo")
def test_show_earlier_changes_leads_to_the_earlier_changes(page, live_server):
    """WCAG 2.4.3 / 2.4.4: the timeline lists the latest 100 changes, newest first, and ends with "Show
    earlier changes". The link goes to ?thread=all#timeline, the top of the whole timeline, so a keyboard
    or screen-reader user lands on the newest change again and must go through the 100 already read to
    reach the earlier ones (the thread's "Show N earlier messages" lands where the hidden ones start).
    The link's target must be the first change not shown before."""
    ticket = _ticket_with_many_changes()
    signed_in(page, live_server, "agent@example.com")
    page.goto(live_server.url + reverse("tickets:desk_ticket", args=[ticket.number]))
    assert page.locator("#timeline > li:not(.thread-gap)").count() == TIMELINE_LENGTH
    link = page.get_by_role("link", name="Show earlier changes")
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**thread=all**")
    page.wait_for_load_state()
    assert page.locator("#timeline > li").count() > TIMELINE_LENGTH  # the earlier changes are there
    position = page.evaluate("""() => {
        const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
        const items = Array.from(document.querySelectorAll('#timeline > li'));
        return target ? items.findIndex((item) => item === target || item.contains(target)) : -2;
    }""")
    assert position >= TIMELINE_LENGTH, (
        f"the link lands on {page.evaluate('location.hash')} (entry {position}), not on entry "
        f"{TIMELINE_LENGTH} where the earlier changes begin"
    )


@pytest.mark.usefixtures("demo")
def test_timeline_arrow_between_old_and_new_value_reads_as_words(page, live_server):
    """WCAG 1.3.1: the workspace timeline writes a change as "Low → High"; screen readers read the arrow
    as "right arrow". The audit trail writes the same thing as an aria-hidden arrow with a visually
    hidden "to"; the timeline must too."""
    ticket = _ticket_with_many_changes(extra=-99)  # one change: Low → High
    signed_in(page, live_server, "agent@example.com")
    page.goto(live_server.url + reverse("tickets:desk_ticket", args=[ticket.number]))
    spoken = page.evaluate("""() => Array.from(document.querySelectorAll('#timeline li .muted'))
        .map((span) => { const copy = span.cloneNode(true);
                         copy.querySelectorAll('[aria-hidden=true]').forEach((e) => e.remove());
                         return copy.textContent.trim(); })
        .filter((text) => text.includes('Low') && text.includes('High'))""")
    assert spoken, "no Low/High change in the timeline"
    assert all("→" not in text and " to " in text for text in spoken), spoken


# --- Passing checks of states no other test reaches --------------------------------------------


@pytest.mark.usefixtures("demo")
def test_workspace_states_pass_axe_and_keep_a_contrasting_focus_ring(page, live_server):
    """The deleted ticket's read-only workspace (administrator), a ticket with more than 100 changes and
    the page "Show earlier changes" opens, and a workspace with a kept select option and a check box
    shown as a Yes/No select: no axe violations, every Tab stop shows a ring of 3:1, no keyboard trap."""
    deleted, long, kept = _deleted_ticket(), _ticket_with_many_changes(), _kept_values_ticket()
    url = live_server.url
    signed_in(page, live_server, "admin@example.com")
    found = []
    for path in (reverse("tickets:desk_ticket", args=[deleted.number]),
                 reverse("tickets:desk_ticket", args=[long.number]),
                 reverse("tickets:desk_ticket", args=[long.number]) + "?thread=all#timeline",
                 reverse("tickets:desk_ticket", args=[kept.number])):  # fmt: skip
        found += violations(page, url + path)
        found += focus_stops(page, url + path, 120, whole_page=True)
    assert found == [], "\n".join(found)


@pytest.mark.usefixtures("demo")
def test_kept_custom_field_values_are_labelled_and_explained(page, live_server):
    """A select keeps a removed choice as "Legacy (no longer offered)", chosen; a check box whose stored
    value is not yes/no is a select named by its label, the kept value chosen, described by the help
    saying how to replace it; both are reached with Tab."""
    ticket = _kept_values_ticket()
    signed_in(page, live_server, "agent@example.com")
    url = live_server.url + reverse("tickets:desk_ticket", args=[ticket.number])
    stops = keyboard_cycle(page, url)
    product, urgent = page.get_by_label("Product", exact=True), page.get_by_label("Urgent", exact=True)
    assert product.locator("option:checked").inner_text() == "Legacy (no longer offered)"
    assert urgent.locator("option:checked").inner_text().startswith("sometimes (kept")
    help_id = urgent.get_attribute("aria-describedby")
    assert "choose Yes or No" in page.locator(f"#{help_id}").inner_text()
    assert any('id="id_cf-product"' in stop for stop in stops)
    assert any('id="id_cf-urgent"' in stop for stop in stops)


@pytest.mark.usefixtures("demo")
def test_portal_on_hold_ticket_and_desk_messages_pass_axe(page, live_server):
    """The portal list and detail with an on-hold ticket (shown as Open, its class too), the queue with
    "Deleted the view" and with three refused bulk results: no axe violations; the notice is in the
    page's status region, the refusals in an alert that has the focus when the page loads."""
    hold = _support_ticket("Waiting on the vendor")
    Ticket.objects.filter(pk=hold.pk).update(status="on_hold")
    url = live_server.url
    signed_in(page, live_server, "customer@example.com")
    found = violations(page, url + reverse("tickets:portal_list"))
    found += violations(page, url + reverse("tickets:portal_detail", args=[hold.number]))
    assert page.locator("#ticket-status .badge").inner_text() == "Open"
    assert page.locator("#ticket-status .badge-open").count() == 1
    page.context.clear_cookies()
    agent = User.objects.get(email="agent@example.com")
    SavedViewFactory(owner=agent, name="Printers", query="q=printer")
    signed_in(page, live_server, agent.email)
    page.goto(url + reverse("tickets:desk_queue"))
    page.get_by_role("button", name="Delete the view “Printers”").click()
    page.locator(".messages[role=status]").get_by_text("Deleted the view").wait_for()
    found += problems_here(page, "after deleting a view")
    boxes = page.locator("input[name=tickets]")
    values = [boxes.nth(i).get_attribute("value") for i in range(3)]
    for i in range(3):
        boxes.nth(i).check()
    Ticket.objects.filter(pk__in=[value.split(":")[0] for value in values]).update(version=F("version") + 1)
    page.locator("#bulk-action").select_option("priority:high")
    page.get_by_role("button", name="Apply to selected").click()
    page.wait_for_load_state()
    refusals = page.locator(".messages[role=alert] .message-error")
    assert refusals.count() == 1  # one reason, with its three tickets
    assert refusals.first.text_content().startswith("3 tickets were not changed")
    assert page.evaluate("document.activeElement.id") == "refusals"
    found += problems_here(page, "after a refused bulk action")
    assert found == [], "\n".join(found)


@pytest.mark.usefixtures("demo")
def test_error_pages_pass_axe_in_the_browser(page, live_server, settings, clock):
    """The 429 page (search rate limit) and the 500 page (served as Django's handler renders it) pass
    axe with their styles loaded; the 500 page's one link shows a contrasting focus ring."""
    from django.test import RequestFactory
    from django.views.defaults import server_error

    url = live_server.url
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "search": ("1/m", "1/m")}
    page.goto(url + reverse("knowledge:search") + "?q=printer")
    response = page.goto(url + reverse("knowledge:search") + "?q=printer")
    assert response.status == 429
    found = problems_here(page, "429")
    body = server_error(RequestFactory().get("/")).content.decode()
    page.route(url + "/boom/", lambda route: route.fulfill(status=500, body=body, content_type="text/html"))
    found += violations(page, url + "/boom/") + focus_stops(page, url + "/boom/", 5)
    assert found == [], "\n".join(found)


@pytest.mark.usefixtures("demo")
def test_admin_ticket_form_and_category_change_forms(page, live_server):
    """The Ticket form change form refused for a bad schema: axe clean, the schema box marked invalid and
    described by its help and its errors. The Category change form, slug read-only: axe clean."""
    signed_in(page, live_server, "admin@example.com")
    form = TicketForm.objects.order_by("pk").first()
    page.goto(f"{live_server.url}/admin/tickets/ticketform/{form.pk}/change/")
    page.locator("#id_schema").fill('[{"name": "x"}]')
    page.locator("input[name=_save]").click()
    page.locator(".errornote").wait_for()
    found = problems_here(page, "ticket form refused")
    schema = page.locator("#id_schema")
    assert schema.get_attribute("aria-invalid") == "true"
    assert "id_schema_error" in schema.get_attribute("aria-describedby")
    from knowledge.models import Category

    category = Category.objects.order_by("pk").first()
    found += violations(page, f"{live_server.url}/admin/knowledge/category/{category.pk}/change/")
    assert page.locator(".field-slug .readonly").inner_text() == category.slug
    assert found == [], "\n".join(found)


@pytest.mark.usefixtures("demo")
def test_admin_change_forms_with_inline_rows(page, live_server):
    """A team's members and a user's roles are edited in rows of a table: each cell's field is named (by
    its column), the delete box too, for someone who reaches them by keyboard or a screen reader."""
    from accounts.models import Team

    signed_in(page, live_server, "admin@example.com")
    team = Team.objects.get(slug="support")
    agent = User.objects.get(email="agent@example.com")
    found = violations(page, f"{live_server.url}/admin/accounts/team/{team.pk}/change/")
    found += violations(page, f"{live_server.url}/admin/accounts/user/{agent.pk}/change/")
    assert found == [], "\n".join(found)
