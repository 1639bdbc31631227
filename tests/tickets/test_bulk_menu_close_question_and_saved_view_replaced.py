"""The agent desk queue: a bulk menu that starts on "Choose an action…", the bulk close's question naming
only what it closes, a saved view replaced under its name; bulk actions on mixed, stale, repeated and
empty selections, saved views of others and of deleted teams, odd filters plain and through htmx."""

import re
from html import unescape

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from tests.conftest import made_once_per_module
from tests.factories import SavedViewFactory, TeamFactory, make_administrator, make_ticket
from tests.tickets.conftest import fresh, make_desk, notes, page_text
from tickets import services
from tickets.models import SavedView, Tag
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

_desk_rows, desk = made_once_per_module(make_desk, "desk")

QUEUE = reverse("tickets:desk_queue")
BULK = reverse("tickets:desk_bulk")
CREATE_VIEW = reverse("tickets:desk_view_create")
FRAGMENT = {"HX-Request": "true", "HX-Target": "queue-table"}


def chosen(*tickets) -> list[str]:
    """What the queue's check boxes post for `tickets` as the page showed them."""
    return [f"{ticket.pk}:{ticket.version}" for ticket in tickets]


def bulk_menu(html: str) -> str:
    return re.search(r'<select id="bulk-action".*?</select>', html, re.S).group(0)


def option_values(select_html: str) -> list[str]:
    return re.findall(r'<option value="([^"]*)"', select_html)


def default_option(select_html: str) -> str:
    """What a browser submits for a <select> nobody touched: the selected option, else the first."""
    selected = re.search(r'<option value="([^"]*)"[^>]*\sselected', select_html)
    return selected.group(1) if selected else option_values(select_html)[0]


def bulk_error(response) -> str:
    found = re.search(r'id="bulk-error"[^>]*>([^<]*)<', response.content.decode())
    return unescape(found.group(1)) if found else ""


# --- The menu, the close question, a view replaced ----------------------------------------------------


def test_the_bulk_menu_left_untouched_changes_nothing(client, desk):
    """An agent ticks a ticket, types "vip" in the bulk Tag box and presses "Apply to selected" without
    opening the action menu (the plain-HTML form, or a hurried click). The menu has no "Choose an
    action…" placeholder on a fresh page, so the browser sends its first option, "Assign to me": the
    ticket is taken from the team's unassigned queue and the tag is not added. (For an agent without
    the assign permission the first option is "Status: Open", a mass status change.) Expected, as
    Zendesk's bulk edit where every field starts at "-" (no change): the menu starts on a placeholder
    that changes nothing and the server answers "choose an action"."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    menu = bulk_menu(client.get(QUEUE).content.decode())
    sent = default_option(menu)
    client.post(BULK, {"tickets": chosen(ticket), "action": sent, "value": "vip", "back": QUEUE})
    after = fresh(ticket)
    assert after.assignee_id is None, f"the untouched menu sent {sent!r} and took the ticket"
    assert after.version == ticket.version


def test_an_empty_bulk_action_asks_for_one_in_words(client, desk):
    """After a refused bulk action the menu shows "Choose an action…" (value ""), chosen. The agent ticks
    tickets and presses Apply again without choosing: the page says "Unknown action ''." — a Python
    repr of an empty string, in the words of the code, not of the page. Expected: "Choose an action
    first." (or the like), with no quotes of nothing."""
    client.force_login(desk["agent"])
    response = client.post(BULK, {"tickets": chosen(desk["ticket"]), "action": "", "back": QUEUE})
    assert response.status_code == 422
    message = bulk_error(response)
    assert message and "''" not in message and "Unknown action" not in message, message


def test_bulk_close_confirmation_counts_only_the_tickets_it_closes(client, desk):
    """From "Recently solved" an agent ticks one resolved and one already closed ticket and chooses
    "Status: Closed". The confirmation asks "Close 2 tickets for good?" and lists both, though one is
    closed already and will be left as it is ("Already so"). Expected: the question counts and names
    only the tickets it will close (here 1), and says the other is closed already — a confirmation of
    an irreversible action must not overstate what it does."""
    resolved = make_ticket(desk["customer"], team=desk["support"], subject="Solved one")
    services.ticket_transition(resolved, status=Status.RESOLVED, actor=desk["agent"])
    closed = make_ticket(desk["customer"], team=desk["support"], subject="Closed one")
    services.ticket_transition(closed, status=Status.CLOSED, actor=desk["agent"])
    resolved, closed = fresh(resolved), fresh(closed)
    client.force_login(desk["agent"])
    data = {"tickets": chosen(resolved, closed), "action": "status:closed", "back": QUEUE}
    page = page_text(client.post(BULK, data))
    assert "Close 1 ticket for good?" in page, re.search(r"<h1[^>]*>([^<]*)", page).group(1)


def test_a_saved_view_is_replaced_under_its_name(client, desk):
    """An agent opens their view "Urgent" (status=open), adds priority High and saves it again under the
    same name, to update it. Refused: "You already have a view called “Urgent”.", and there is no edit
    form or URL for a saved view (tickets/urls.py: create and delete only). Updating a view that is
    shared with the team means deleting it (it vanishes from every teammate's sidebar) and creating it
    again. Expected, as Zendesk/Freshdesk/Zammad views: the owner (and a supervisor, for a team view)
    edits a view's name, filters and sharing in place."""
    view = SavedViewFactory(owner=desk["agent"], name="Urgent", query="status=open", team=desk["support"])
    client.force_login(desk["agent"])
    data = {"name": "Urgent", "query": "status=open&priority=high", "team": desk["support"].pk}
    refused = client.post(CREATE_VIEW, data)
    assert refused.status_code == 422
    assert "Replace “Urgent” with these filters" in page_text(refused)
    response = client.post(CREATE_VIEW, data | {"replace": "1"})
    assert response.status_code == 302, response.status_code
    view.refresh_from_db()
    assert view.query == "status=open&priority=high" and view.team == desk["support"]
    assert SavedView.objects.filter(owner=desk["agent"]).count() == 1
    event = AuditEvent.objects.filter(action="update", object_id=str(view.pk)).get()
    assert event.changes["query"] == ["status=open", "status=open&priority=high"]


# --- Mixed selections, views and odd filters ----------------------------------------------------------


def test_mixed_selection_changes_the_allowed_and_reports_the_rest(client, desk):
    """Visible + stale + other team's + vanished + duplicate + unreadable: only the allowed one changes."""
    ok = desk["ticket"]
    stale = make_ticket(desk["customer"], team=desk["support"], subject="Stale")
    old = fresh(stale)
    services.ticket_update_fields(stale, changes={"priority": "high"}, actor=desk["colleague"])
    billing = make_ticket(desk["customer"], team=desk["billing"], subject="Billing's")
    gone = make_ticket(desk["customer"], team=desk["support"], subject="Deleted")
    services.ticket_delete(gone, actor=make_administrator())
    client.force_login(desk["agent"])
    values = [*chosen(ok, old, billing, gone), *chosen(ok), "abc"]
    response = client.post(BULK, {"tickets": values, "action": "add_tag", "value": "VIP", "back": QUEUE})
    assert response.status_code == 302 and response["Location"] == QUEUE
    said = " ".join(notes(response))
    assert f"Updated 1 ticket: {ok.reference}" in said
    assert services.BULK_STALE.format(ticket=stale.reference) in said
    assert "3 selected tickets are no longer in your queues" in said
    assert billing.reference not in said and gone.reference not in said
    assert list(Tag.objects.filter(tickets__isnull=False).values_list("tickets__subject", flat=True)) == [
        "Printer on fire"
    ]


def test_empty_selection_asks_for_a_ticket_and_changes_nothing(client, desk):
    client.force_login(desk["agent"])
    for action in ("assign_me", "status:closed", "add_tag"):
        response = client.post(BULK, {"action": action, "value": "x", "back": f"{QUEUE}?sort=number"})
        assert response.status_code == 302 and response["Location"] == f"{QUEUE}?sort=number"
        assert notes(response) == ["Select at least one ticket first."]
    assert fresh(desk["ticket"]).version == desk["ticket"].version


def test_hostile_back_goes_to_the_queue(client, desk):
    client.force_login(desk["agent"])
    for back in ("https://evil.example/", "//evil.example/", "desk", "/accounts/logout/"):
        response = client.post(BULK, {"tickets": chosen(desk["ticket"]), "action": "assign_me", "back": back})
        assert response["Location"] == QUEUE


def test_refused_value_keeps_the_ticks_and_the_filters(client, desk):
    client.force_login(desk["agent"])
    back = f"{QUEUE}?status=new&sort=number"
    data = {"tickets": chosen(desk["ticket"]), "action": "add_tag", "value": "no/slash", "back": back}
    response = client.post(BULK, data)
    assert response.status_code == 422
    html = response.content.decode()
    ticked = f'value="{chosen(desk["ticket"])[0]}" form="bulk-form"'
    assert f'{ticked} aria-label="Select {desk["ticket"].reference}" checked' in html
    assert 'value="no/slash"' in html and f'name="back" value="{back.replace("&", "&amp;")}"' in html


@pytest.mark.parametrize(
    "query",
    ["page=999999999999999999999", "page=-3", "sort=priority&page=2&status=open", "team=abc", "q=%00",
     "assignee=me&assignee=none", "sort=requester__password", "requester__password__startswith=a"],
)  # fmt: skip
def test_odd_filters_and_pages_answer_200_plain_and_htmx(client, desk, query):
    client.force_login(desk["agent"])
    for headers in ({}, FRAGMENT):
        assert client.get(f"{QUEUE}?{query}", headers=headers).status_code == 200


def test_refresh_answers_304_and_not_after_a_bulk_change(client, desk):
    client.force_login(desk["agent"])
    first = client.get(QUEUE, headers=FRAGMENT)
    again = client.get(QUEUE, headers={**FRAGMENT, "If-None-Match": first["ETag"]})
    assert again.status_code == 304
    client.post(BULK, {"tickets": chosen(desk["ticket"]), "action": "priority:urgent", "back": QUEUE})
    assert client.get(QUEUE, headers={**FRAGMENT, "If-None-Match": first["ETag"]}).status_code == 200


def test_a_view_naming_a_deleted_team_says_its_filter_was_not_applied(client, desk):
    gone = TeamFactory(name="Gone")
    view = SavedView.objects.create(owner=desk["agent"], name="Gone team", query=f"team={gone.pk}")
    gone.delete()
    client.force_login(desk["agent"])
    page = page_text(client.get(f"{QUEUE}?{view.query}"))
    assert "Some filters were not applied" in page


def test_a_teammate_cannot_delete_a_shared_view_but_its_supervisor_can(client, desk):
    view = SavedViewFactory(owner=desk["agent"], name="Team view", team=desk["support"])
    client.force_login(desk["colleague"])
    assert client.post(reverse("tickets:desk_view_delete", args=[view.pk])).status_code == 404
    client.force_login(desk["supervisor"])
    assert client.post(reverse("tickets:desk_view_delete", args=[view.pk])).status_code == 302
    assert not SavedView.objects.filter(pk=view.pk).exists()


def test_a_private_view_is_invisible_and_undeletable_for_others(client, desk):
    view = SavedViewFactory(owner=desk["agent"], name="Private corner")
    client.force_login(desk["supervisor"])
    assert "Private corner" not in page_text(client.get(QUEUE))
    assert client.post(reverse("tickets:desk_view_delete", args=[view.pk])).status_code == 404
    assert SavedView.objects.filter(pk=view.pk).exists()
