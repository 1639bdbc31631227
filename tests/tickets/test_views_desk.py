"""Agent desk: outsiders, filters and the sort allow-list, bulk actions, saved views, 304 refresh,
stale edits, the workspace composer and query budgets; forms outside the part htmx swaps stay current."""

import re
from html import unescape

import pytest
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.conftest import made_once_per_module
from tests.factories import (
    TeamFactory,
    TeamMemberFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tickets import selectors, services
from tickets.models import SavedView, Ticket, TicketMessage
from tickets.selectors import THREAD_WINDOW
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

QUEUE = reverse("tickets:desk_queue")


def make_desk():
    support, billing = TeamFactory(name="Support"), TeamFactory(name="Billing")
    agent = make_agent(support, name="Alex Agent", email="alex@example.org")
    colleague = make_agent(support, name="Casey Colleague")
    outsider = make_agent(billing, name="Olly Outsider")
    customer = make_customer(name="Carla Customer", email="carla@acme.example")
    tickets = {
        "printer": make_ticket(customer, team=support, subject="Printer on fire"),
        "vpn": make_ticket(customer, team=support, subject="VPN keeps dropping"),
        "invoice": make_ticket(customer, team=billing, subject="Invoice twice"),
    }
    return {"agent": agent, "colleague": colleague, "outsider": outsider, "customer": customer,
            "support": support, "billing": billing, **tickets}  # fmt: skip


_desk_rows, desk = made_once_per_module(make_desk, "desk")


def listed(response) -> set[str]:
    return {ticket.subject for ticket in response.context["queue"].tickets}


def test_customers_and_visitors_find_no_desk(client, desk):
    assert client.get(QUEUE).status_code == 302
    client.force_login(desk["customer"])
    assert client.get(QUEUE).status_code == 404
    assert client.get(reverse("tickets:desk_ticket", args=[desk["printer"].number])).status_code == 404


def test_agent_of_another_team_gets_404_and_changes_nothing(client, desk):
    client.force_login(desk["outsider"])
    number = desk["printer"].number
    assert client.get(reverse("tickets:desk_ticket", args=[number])).status_code == 404
    update = client.post(
        reverse("tickets:desk_update", args=[number]), {"field": "priority", "value": "urgent"}
    )
    reply = client.post(reverse("tickets:desk_reply", args=[number]), {"kind": "note", "body": "x"})
    bulk = client.post(reverse("tickets:desk_bulk"), {"tickets": [desk["printer"].pk], "action": "assign_me"})
    assert (update.status_code, reply.status_code) == (404, 404)
    assert bulk.status_code == 302
    ticket = Ticket.objects.get(pk=desk["printer"].pk)
    assert (ticket.priority, ticket.assignee) == ("medium", None)
    assert not TicketMessage.objects.filter(body="x").exists()
    assert listed(client.get(QUEUE)) == {"Invoice twice"}


def test_queue_shows_the_agents_teams_only(client, desk):
    client.force_login(desk["agent"])
    response = client.get(QUEUE)
    assert listed(response) == {"Printer on fire", "VPN keeps dropping"}
    assert "{#" not in response.content.decode()
    assert "Tickets, sorted by recently updated</caption>" in response.content.decode()


def test_queue_row_shows_every_column_and_links_back_to_the_queue(client, desk):
    printer = desk["printer"]
    services.ticket_assign(printer, assignee=desk["colleague"], actor=desk["agent"])
    client.force_login(desk["agent"])
    page = client.get(QUEUE, {"status": "open", "q": "Printer"}).content.decode()
    [row] = [row.split("</tr>")[0] for row in page.split("<tr data-ticket-row")[1:]]
    workspace = reverse("tickets:desk_ticket", args=[printer.number])
    assert f'data-href="{workspace}?queue=status%3Dopen%26q%3DPrinter"' in row
    assert (
        f'<a href="{workspace}?queue=status%3Dopen%26q%3DPrinter" data-ticket-link>{printer.reference}</a>'
        in row
    )
    cells = [cell.split("</td>")[0] for cell in re.split(r"<td(?: class=\"(?:text|name)-cell\")?>", row)[2:]]
    unread = 'New customer reply">●<span class="visually-hidden"> New reply</span></span> '
    assert cells[1].endswith(unread + '<span dir="auto">Printer on fire</span>')
    assert cells[1].startswith('<span class="unread"')
    assert cells[2:] == [
        "Carla Customer", printer.organization.name, '<span class="badge badge-open">Open</span>',
        '<span class="badge badge-medium">Medium</span>', "Support", "Casey Colleague", cells[-1],
    ]  # fmt: skip
    assert cells[-1].startswith('<time datetime="')


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "requester__password"},
        {"requester__password__startswith": "a"},
        {"sort": "-requester__password", "order_by": "password", "status__in": "x"},
        {"assignee": "'; DROP TABLE tickets_ticket; --"},
        {"team": "not-a-number", "created_after": "yesterday", "page": "999"},
    ],
)
def test_unknown_filter_and_sort_keys_change_nothing(client, desk, params):
    client.force_login(desk["agent"])
    default = client.get(QUEUE)
    response = client.get(QUEUE, params)
    assert response.status_code == 200
    assert [t.pk for t in response.context["queue"].tickets] == [
        t.pk for t in default.context["queue"].tickets
    ]


def test_filters_status_assignee_and_search(client, desk):
    services.ticket_assign(desk["printer"], assignee=desk["agent"], actor=desk["agent"])
    services.ticket_transition(desk["vpn"], status=Status.PENDING, actor=desk["agent"])
    client.force_login(desk["agent"])
    assert listed(client.get(QUEUE, {"assignee": "me"})) == {"Printer on fire"}
    assert listed(client.get(QUEUE, {"assignee": "none"})) == {"VPN keeps dropping"}
    assert listed(client.get(QUEUE, {"status": ["pending", "on_hold"]})) == {"VPN keeps dropping"}
    assert listed(client.get(QUEUE, {"q": "printer"})) == {"Printer on fire"}
    assert listed(client.get(QUEUE, {"q": desk["vpn"].reference})) == {"VPN keeps dropping"}
    assert listed(client.get(QUEUE, {"q": "carla@acme"})) == {"Printer on fire", "VPN keeps dropping"}
    assert listed(client.get(QUEUE, {"q": "fire -printer"})) == set()


def test_the_requester_filter_takes_a_whole_id_only(client, desk):
    """?requester=<id> lists that requester's tickets; "<id>.5" is no id and filters nothing (it was read
    as a decimal and cut to the id)."""
    other = make_ticket(make_customer(), team=desk["support"], subject="Someone else's")
    client.force_login(desk["agent"])
    requester = desk["customer"].pk
    assert listed(client.get(QUEUE, {"requester": requester})) == {"Printer on fire", "VPN keeps dropping"}
    everything = {"Printer on fire", "VPN keeps dropping", other.subject}
    assert listed(client.get(QUEUE, {"requester": f"{requester}.5"})) == everything
    assert listed(client.get(QUEUE, {"requester": "abc"})) == everything


def test_sort_orders_from_the_allow_list(client, desk):
    services.ticket_update_fields(desk["vpn"], changes={"priority": "urgent"}, actor=desk["agent"])
    client.force_login(desk["agent"])
    by_priority = client.get(QUEUE, {"sort": "priority"}).context["queue"].tickets
    assert by_priority[0].subject == "VPN keeps dropping"
    oldest = client.get(QUEUE, {"sort": "-number"}).context["queue"].tickets
    assert oldest[0].subject == "Printer on fire"


def test_built_in_view_counts(client, desk):
    services.ticket_assign(desk["printer"], assignee=desk["agent"], actor=desk["agent"])
    services.ticket_transition(desk["vpn"], status=Status.PENDING, actor=desk["agent"])
    client.force_login(desk["agent"])
    counts = client.get(QUEUE).context["counts"]
    assert counts == {"mine": 1, "unassigned": 1, "team_open": 2, "pending": 1, "solved": 0}


def test_a_deleted_ticket_is_out_of_an_administrators_queue_and_counts_but_opens_by_its_number(client, desk):
    """Deleted (spam), a ticket is work for nobody: not listed, counted or stepped onto in any queue, an
    administrator's included; they still open it by its number (read-only, "restore it in the admin")."""
    administrator = make_administrator()
    services.ticket_delete(desk["vpn"], actor=administrator)
    client.force_login(administrator)
    queue = client.get(QUEUE, {"status": ["new", "open"]})
    assert listed(queue) == {"Printer on fire", "Invoice twice"}
    assert queue.context["counts"]["unassigned"] == queue.context["queue"].page.paginator.count == 2
    workspace = client.get(reverse("tickets:desk_ticket", args=[desk["vpn"].number]))
    assert workspace.status_code == 200 and "Restore it in the admin" in unescape(workspace.content.decode())


def test_the_page_title_names_the_view_on_screen_and_follows_the_filters(client, desk):
    client.force_login(desk["agent"])
    mine = next(view for view in selectors.built_in_views() if view.slug == "mine")
    page = client.get(f"{QUEUE}?{mine.query}").content.decode()
    assert "<title>My open tickets · Queue · " in page and '<h1 id="queue-title">My open tickets</h1>' in page
    assert '<a class="skip-link" href="#queue-table">Skip to the tickets</a>' in page  # past the filters
    assert "<title>Queue · " in client.get(f"{QUEUE}?q=printer").content.decode()
    fragment = client.get(f"{QUEUE}?{mine.query}", headers={"HX-Request": "true", "HX-Target": "queue-table"})
    body = fragment.content.decode().lstrip()
    assert body.startswith("<title>My open tickets · Queue · ")  # htmx takes a <title> at the top
    assert '<h1 id="queue-title" hx-swap-oob="true">My open tickets</h1>' in body


def test_recently_solved_counts_what_its_link_lists(client, desk):
    from datetime import datetime, time, timedelta

    from django.utils import timezone

    from tickets.models import Ticket
    from tickets.selectors import RECENTLY_SOLVED_DAYS, built_in_views

    first_day = timezone.localdate() - timedelta(days=RECENTLY_SOLVED_DAYS)
    for ticket, moment in (
        (desk["printer"], datetime.combine(first_day, time(0, 30))),  # in: early on the first day
        (desk["vpn"], datetime.combine(first_day - timedelta(days=1), time(23, 30))),  # out: the day before
    ):
        services.ticket_transition(ticket, status=Status.RESOLVED, actor=desk["agent"])
        Ticket.objects.filter(pk=ticket.pk).update(updated_at=timezone.make_aware(moment))
    client.force_login(desk["agent"])
    solved = next(view for view in built_in_views() if view.slug == "solved")
    listed = client.get(QUEUE + "?" + solved.query).context["queue"].tickets
    assert [ticket.subject for ticket in listed] == ["Printer on fire"]
    assert client.get(QUEUE).context["counts"]["solved"] == 1
    # The same date fields in the filter form, to the day.
    before = first_day.isoformat()
    assert listed_subjects(client, {"updated_before": (first_day - timedelta(days=1)).isoformat()}) == [
        "VPN keeps dropping"
    ]
    assert listed_subjects(client, {"updated_after": before, "updated_before": before}) == ["Printer on fire"]
    assert "Printer on fire" not in listed_subjects(client, {"created_before": "2000-01-01"})


def test_a_period_the_menu_does_not_offer_is_said_and_not_applied(client, desk):
    """ "Solved in" takes the periods its menu offers: ?solved_within=5 (or a word) is named on the page as
    not applied, and the list is not narrowed by a guess."""
    client.force_login(desk["agent"])
    for value in ("5", "week", "-7"):
        page = client.get(QUEUE, {"solved_within": value})
        assert any(problem.startswith("Solved in:") for problem in page.context["queue"].filterset.problems)
        assert len(page.context["queue"].tickets) == len(client.get(QUEUE).context["queue"].tickets) > 0


def listed_subjects(client, params: dict) -> list[str]:
    return [ticket.subject for ticket in client.get(QUEUE, params).context["queue"].tickets]


def test_bulk_action_reports_refused_tickets_and_applies_the_rest(client, desk):
    closed = make_ticket(desk["customer"], team=desk["support"], subject="Old")
    Ticket.objects.filter(pk=closed.pk).update(status=Status.CLOSED)
    client.force_login(desk["agent"])
    response = client.post(
        reverse("tickets:desk_bulk"),
        {
            "tickets": [desk["printer"].pk, desk["vpn"].pk, closed.pk],
            "action": "status:pending",
            "back": QUEUE,
        },
    )
    assert response.status_code == 302
    notes = [str(message) for message in get_messages(response.wsgi_request)]
    assert any(desk["printer"].reference in note and "Updated 2" in note for note in notes)
    assert any(
        f"{closed.reference} was not changed: A ticket cannot go from Closed to Pending" in n for n in notes
    )
    statuses = dict(Ticket.objects.values_list("subject", "status"))
    assert statuses["Printer on fire"] == statuses["VPN keeps dropping"] == Status.PENDING
    assert statuses["Old"] == Status.CLOSED


def test_bulk_close_asks_once_more_naming_the_tickets_then_closes_them(client, desk):
    client.force_login(desk["agent"])
    chosen = [f"{desk['printer'].pk}:{desk['printer'].version}", str(desk["vpn"].pk)]
    data = {"tickets": chosen, "action": "status:closed", "back": f"{QUEUE}?sort=number"}
    page = client.post(reverse("tickets:desk_bulk"), data)
    assert page.status_code == 200
    html = unescape(page.content.decode())
    assert "Close 2 tickets for good?" in html and "Printer on fire" in html and "VPN keeps dropping" in html
    assert not Ticket.objects.filter(status=Status.CLOSED).exists()  # nothing happens before the answer
    # The confirmation posts the same choice (versions included) and comes back to the same queue.
    confirm = re.search(r'<form method="post" action="[^"]*desk/bulk/".*?</form>', html, re.S).group(0)
    assert re.findall(r'name="tickets" value="([^"]+)"', confirm) == chosen
    assert f'name="back" value="{QUEUE}?sort=number"' in confirm
    response = client.post(reverse("tickets:desk_bulk"), {**data, "confirm": "close"})
    assert response.status_code == 302 and response["Location"] == f"{QUEUE}?sort=number"
    assert set(Ticket.objects.filter(status=Status.CLOSED).values_list("subject", flat=True)) == {
        "Printer on fire", "VPN keeps dropping"
    }  # fmt: skip


def test_bulk_close_of_nothing_visible_asks_nothing(client, desk):
    client.force_login(desk["outsider"])  # the Support tickets are not theirs
    data = {"tickets": [desk["printer"].pk], "action": "status:closed", "back": QUEUE}
    response = client.post(reverse("tickets:desk_bulk"), data)
    assert response.status_code == 302
    assert Ticket.objects.get(pk=desk["printer"].pk).status != Status.CLOSED


def test_bulk_assign_and_tags(client, desk):
    client.force_login(desk["agent"])
    ids = [desk["printer"].pk, desk["vpn"].pk]
    client.post(reverse("tickets:desk_bulk"), {"tickets": ids, "action": "assign_me"})
    client.post(reverse("tickets:desk_bulk"), {"tickets": ids, "action": "add_tag", "value": "Outage"})
    for ticket in Ticket.objects.filter(pk__in=ids):
        assert ticket.assignee == desk["agent"]
        assert list(ticket.tags.values_list("name", flat=True)) == ["outage"]
    client.post(reverse("tickets:desk_bulk"), {"tickets": ids, "action": "remove_tag", "value": "outage"})
    assert not Ticket.objects.filter(pk__in=ids, tags__name="outage").exists()


def test_bulk_assign_to_a_named_agent_reports_whom_the_agent_cannot_reach(client, desk):
    # Visible to the agent because it is assigned to them, but outside the colleague's team.
    billing_ticket = make_ticket(desk["customer"], team=desk["billing"], subject="Refund")
    Ticket.objects.filter(pk=billing_ticket.pk).update(assignee=desk["agent"])
    client.force_login(desk["agent"])
    page = client.get(QUEUE).content.decode()
    assert f'<option value="assign:{desk["colleague"].pk}">Assign to Casey Colleague</option>' in page
    assert f'value="assign:{desk["outsider"].pk}"' not in page  # not in the agent's teams
    response = client.post(
        reverse("tickets:desk_bulk"),
        {"tickets": [desk["printer"].pk, billing_ticket.pk], "action": f"assign:{desk['colleague'].pk}"},
    )
    notes = [str(message) for message in get_messages(response.wsgi_request)]
    assert any(f"Updated 1 ticket: {desk['printer'].reference}" in note for note in notes)
    assert any(f"{billing_ticket.reference} was not changed" in note for note in notes)
    assignees = dict(Ticket.objects.values_list("subject", "assignee"))
    assert assignees["Printer on fire"] == desk["colleague"].pk
    assert assignees["Refund"] == desk["agent"].pk


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("carla@ACME", True),  # e-mail prefix, any case
        ("Carla", True),  # a word of the name
        ("cust", True),  # the start of a word
        ("carla cus", True),  # every word, each by its start
        ("arla", False),  # not the start of a word
        ("carla nobody", False),
        ("'); --", False),  # punctuation alone reaches no query
        ("carla:* | cust!", True),  # query syntax is only text
    ],
)
def test_search_finds_requesters_by_email_prefix_and_name_word_prefixes(client, desk, typed, found):
    client.force_login(desk["agent"])
    expected = {"Printer on fire", "VPN keeps dropping"} if found else set()
    assert listed(client.get(QUEUE, {"q": typed})) == expected


@pytest.mark.parametrize("typed", ["cafe", "CAFÉ", "jose nunez", "Núñez", "JOSÉ", "creme brulee"])
def test_search_ignores_accents_in_subjects_and_names_either_way(client, desk, typed):
    """Typed without accents or with them, on a keyboard that has them or not: "cafe" finds "Café" and
    "Núñez" finds "Nunez", in subjects and requesters' names alike (letters that are not a letter plus
    an accent, such as ß, stay as they are)."""
    jose = make_customer(name="José Nunez", email="jn@example.org")
    make_ticket(jose, team=desk["support"], subject="Crème brûlée machine")
    make_ticket(desk["customer"], team=desk["support"], subject="Café machine broken")
    client.force_login(desk["agent"])
    expected = {
        "cafe": {"Café machine broken"},
        "CAFÉ": {"Café machine broken"},
        "jose nunez": {"Crème brûlée machine"},
        "Núñez": {"Crème brûlée machine"},
        "JOSÉ": {"Crème brûlée machine"},
        "creme brulee": {"Crème brûlée machine"},
    }[typed]
    assert listed(client.get(QUEUE, {"q": typed})) == expected


def test_queue_filters_by_a_named_assignee_organisation_and_requester(client, desk):
    services.ticket_assign(desk["vpn"], assignee=desk["colleague"], actor=desk["agent"])
    other = make_customer(name="Otto Other", email="otto@globex.example")
    globex_ticket = make_ticket(other, team=desk["support"], subject="Globex printer")
    client.force_login(desk["agent"])
    page = client.get(QUEUE).content.decode()
    assert f'<option value="{desk["colleague"].pk}">Casey Colleague</option>' in page
    assert '<label for="queue-organization">Organisation</label>' in page

    assert listed(client.get(QUEUE, {"assignee": desk["colleague"].pk})) == {"VPN keeps dropping"}
    organization = desk["customer"].organization
    by_organization = listed(client.get(QUEUE, {"organization": organization.pk}))
    assert by_organization == {"Printer on fire", "VPN keeps dropping"}

    response = client.get(QUEUE, {"requester": other.pk, "status": "new"})
    assert listed(response) == {globex_ticket.subject}
    page = response.content.decode()
    assert "Requester: <strong>Otto Other</strong>" in page
    assert '<a href="/desk/?status=new">Remove' in page


def test_bulk_move_to_another_team_hands_the_ticket_over(client, desk):
    """Triage: a Support agent moves a billing question to Billing, a team they do not work. Their own
    assignment goes (they are not in Billing), so it lands in Billing's unassigned queue."""
    services.ticket_assign(desk["printer"], assignee=desk["agent"], actor=desk["agent"])
    client.force_login(desk["agent"])
    page = client.get(reverse("tickets:desk_queue")).content.decode()
    assert f'value="team:{desk["billing"].pk}"' in page
    printer = Ticket.objects.get(pk=desk["printer"].pk)
    response = client.post(
        reverse("tickets:desk_bulk"),
        {"tickets": [f"{printer.pk}:{printer.version}"], "action": f"team:{desk['billing'].pk}"},
    )
    notes = [str(message) for message in get_messages(response.wsgi_request)]
    assert notes == [
        f"Updated 1 ticket: {printer.reference}.",
        f"No longer in your queues after this change: {printer.reference} (now with team Billing).",
    ]
    moved = Ticket.objects.get(pk=printer.pk)
    assert (moved.team, moved.assignee) == (desk["billing"], None)
    assert client.get(reverse("tickets:desk_ticket", args=[moved.number])).status_code == 404
    client.force_login(desk["outsider"])  # Billing's agent finds it unassigned in their teams
    assert "Printer on fire" in listed(client.get(reverse("tickets:desk_queue"), {"assignee": "none"}))


def test_saved_views_are_private_unless_shared_with_a_team(client, desk):
    client.force_login(desk["agent"])
    client.post(reverse("tickets:desk_view_create"), {"name": "Mine", "query": "assignee=me&sort=priority"})
    client.post(
        reverse("tickets:desk_view_create"),
        {
            "name": "Team fires",
            "query": "q=fire&evil__field=1",
            "team": desk["support"].pk,
        },
    )
    shared = SavedView.objects.get(name="Team fires")
    assert shared.query == "q=fire", "only known filter keys are kept"
    names = lambda user: set(SavedView.objects.visible_to(user).values_list("name", flat=True))  # noqa: E731
    assert names(desk["agent"]) == {"Mine", "Team fires"}
    assert names(desk["colleague"]) == {"Team fires"}
    assert names(desk["outsider"]) == set()
    client.force_login(desk["colleague"])
    response = client.post(reverse("tickets:desk_view_delete", args=[shared.pk]))
    assert response.status_code == 404 and SavedView.objects.filter(pk=shared.pk).exists()


def test_unchanged_queue_fragment_answers_304(client, desk):
    client.force_login(desk["agent"])
    headers = {"HX-Request": "true", "HX-Target": "queue-table"}
    first = client.get(QUEUE, headers=headers)
    assert first.status_code == 200 and b"<html" not in first.content
    etag = first["ETag"]
    again = client.get(QUEUE, headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304
    # As the System: whether an agent may rename a ticket is not what this test is about.
    services.ticket_update_fields(desk["printer"], changes={"subject": "Printer fixed"}, actor=None)
    changed = client.get(QUEUE, headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200 and b"Printer fixed" in changed.content


def test_stale_inline_edit_is_refused_with_a_message(client, desk):
    ticket = desk["printer"]
    seen = ticket.version
    services.ticket_update_fields(ticket, changes={"priority": "high"}, actor=desk["colleague"])
    client.force_login(desk["agent"])
    url = reverse("tickets:desk_update", args=[ticket.number])
    response = client.post(
        url, {"field": "priority", "value": "low", "version": seen}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 409
    assert "Someone changed this ticket" in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).priority == "high"
    fresh = Ticket.objects.get(pk=ticket.pk).version
    response = client.post(
        url, {"field": "priority", "value": "low", "version": fresh}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and Ticket.objects.get(pk=ticket.pk).priority == "low"


def test_take_it_assigns_to_me_and_writes_activity(client, desk):
    client.force_login(desk["agent"])
    ticket = desk["printer"]
    client.post(
        reverse("tickets:desk_update", args=[ticket.number]), {"field": "take", "version": ticket.version}
    )
    ticket.refresh_from_db()
    assert ticket.assignee == desk["agent"]
    assert ticket.activities.filter(action="assignee").exists()


def test_workspace_reply_and_solve_then_customer_sees_reply(client, desk):
    client.force_login(desk["agent"])
    ticket = desk["printer"]
    response = client.post(
        reverse("tickets:desk_reply", args=[ticket.number]),
        {
            "kind": "reply",
            "body": "Unplug it, please.",
            "status_after": "resolved",
            "version": ticket.version,
        },
    )
    assert response.status_code == 302
    assert Ticket.objects.get(pk=ticket.pk).status == Status.RESOLVED
    client.post(
        reverse("tickets:desk_reply", args=[ticket.number]), {"kind": "note", "body": "Fire brigade called"}
    )
    client.force_login(desk["customer"])
    page = client.get(reverse("tickets:portal_detail", args=[ticket.number])).content.decode()
    assert "Unplug it, please." in page and "Fire brigade" not in page


def test_workspace_reply_with_empty_body_is_422_and_keeps_the_choice(client, desk):
    client.force_login(desk["agent"])
    ticket = desk["printer"]
    response = client.post(reverse("tickets:desk_reply", args=[ticket.number]), {"kind": "note", "body": ""})
    assert response.status_code == 422
    assert 'value="note" id="kind-note" checked' in response.content.decode()


def test_opening_as_assignee_clears_the_unread_marker(client, desk):
    ticket = desk["printer"]
    services.ticket_assign(ticket, assignee=desk["agent"], actor=desk["agent"])
    services.ticket_reply(ticket, body="Any news?", actor=desk["customer"])
    assert Ticket.objects.get(pk=ticket.pk).unread_by_assignee
    client.force_login(desk["agent"])
    page = client.get(reverse("tickets:desk_ticket", args=[ticket.number])).content.decode()
    assert 'hx-trigger="load"' in page and "Mark as read" in page  # htmx, or the <noscript> form
    assert Ticket.objects.get(pk=ticket.pk).unread_by_assignee  # opening (GET) changes nothing
    assert client.get(reverse("tickets:desk_seen", args=[ticket.number])).status_code == 405
    seen_url = reverse("tickets:desk_seen", args=[ticket.number])
    assert client.post(seen_url, headers={"HX-Request": "true"}).status_code == 204
    assert not Ticket.objects.get(pk=ticket.pk).unread_by_assignee
    page = client.get(reverse("tickets:desk_ticket", args=[ticket.number])).content.decode()
    assert 'hx-trigger="load"' not in page and "Mark as read" not in page


def test_mark_as_read_without_javascript_returns_to_the_ticket(client, desk):
    ticket = desk["printer"]
    services.ticket_assign(ticket, assignee=desk["agent"], actor=desk["agent"])
    services.ticket_reply(ticket, body="Any news?", actor=desk["customer"])
    client.force_login(desk["agent"])
    response = client.post(reverse("tickets:desk_seen", args=[ticket.number]))
    assert response.status_code == 302
    assert response["Location"] == reverse("tickets:desk_ticket", args=[ticket.number])
    assert not Ticket.objects.get(pk=ticket.pk).unread_by_assignee


def test_answering_as_assignee_clears_the_unread_marker_and_a_colleague_does_not(desk):
    ticket = desk["printer"]
    services.ticket_assign(ticket, assignee=desk["agent"], actor=desk["agent"])
    services.ticket_reply(ticket, body="Any news?", actor=desk["customer"])
    colleague = make_agent(ticket.team)
    services.ticket_reply(Ticket.objects.get(pk=ticket.pk), body="Looking into it.", actor=colleague)
    assert Ticket.objects.get(pk=ticket.pk).unread_by_assignee
    services.ticket_reply(Ticket.objects.get(pk=ticket.pk), body="Fixed.", actor=desk["agent"])
    assert not Ticket.objects.get(pk=ticket.pk).unread_by_assignee


def test_next_and_previous_follow_the_queue(client, desk):
    client.force_login(desk["agent"])
    queue = "sort=-number"
    response = client.get(reverse("tickets:desk_ticket", args=[desk["printer"].number]), {"queue": queue})
    assert response.context["previous_number"] is None
    assert response.context["next_number"] == desk["vpn"].number


def test_queue_query_count_is_the_same_for_5_and_50_rows(client):
    team = TeamFactory()
    agent = make_agent(team)
    customer = make_customer()  # of an organisation

    def add_tickets(count: int) -> None:
        for _ in range(count):
            ticket = make_ticket(customer, team=team)
            services.ticket_assign(ticket, assignee=agent, actor=agent)  # every column of the row filled

    def queue_queries() -> tuple[int, int]:
        cache.clear()  # a cold page: counts and menus computed, as at the first visit
        with CaptureQueriesContext(connection) as captured:
            response = client.get(QUEUE)
        return len(captured), len(response.context["queue"].tickets)

    client.force_login(agent)
    add_tickets(5)
    five = queue_queries()
    add_tickets(45)
    fifty = queue_queries()
    assert (five[1], fifty[1]) == (5, 25)
    assert five[0] == fifty[0] <= 12


@pytest.mark.parametrize("messages", [2, 60])
def test_workspace_query_count_is_constant_in_thread_length(client, django_assert_max_num_queries, messages):
    team = TeamFactory()
    agent = make_agent(team)
    customer = make_customer()
    ticket = make_ticket(customer, team=team)
    for number in range(messages // 2):
        services.ticket_reply(ticket, body=f"Reply {number}", actor=agent)
        services.ticket_add_note(ticket, body=f"Note {number}", actor=agent)
    client.force_login(agent)
    with django_assert_max_num_queries(15):
        response = client.get(reverse("tickets:desk_ticket", args=[ticket.number]))
    assert response.content.decode().count('class="message-card') == min(1 + messages, THREAD_WINDOW + 1)


def test_a_closed_tickets_read_only_properties_cost_one_query_more_only_for_its_follow_ups(client):
    """Closed, the page shows the properties as text: the team by the name its picker holds, not by
    loading the team (one query the open ticket's page does not make); its follow-ups are the one more."""
    team = TeamFactory(name="Closed desk")
    agent, supervisor = make_agent(team), make_supervisor(team)
    ticket = make_ticket(make_customer(), team=team)
    url = reverse("tickets:desk_ticket", args=[ticket.number])
    client.force_login(agent)

    def queries() -> int:
        client.get(url)  # the cached menus
        with CaptureQueriesContext(connection) as captured:
            page = client.get(url).content.decode()
        assert "<dt>Team</dt><dd>Closed desk</dd>" in page or 'id="edit-team"' in page
        return len(captured)

    open_page = queries()
    services.ticket_transition(ticket, status=Status.CLOSED, actor=supervisor)
    assert queries() == open_page + 1


def test_a_long_thread_opens_with_the_first_and_latest_messages(client, django_assert_max_num_queries):
    team = TeamFactory()
    agent = make_agent(team)
    ticket = make_ticket(make_customer(), team=team, description="The original question")
    for number in range(THREAD_WINDOW + 5):
        services.ticket_reply(ticket, body=f"Reply number {number}", actor=agent)
    client.force_login(agent)
    page = client.get(reverse("tickets:desk_ticket", args=[ticket.number])).content.decode()
    assert "The original question" in page and f"Reply number {THREAD_WINDOW + 4}" in page
    assert "Reply number 4<" not in page and "Reply number 5<" in page
    assert "Show 5 earlier messages" in page
    with django_assert_max_num_queries(15):
        full = client.get(reverse("tickets:desk_ticket", args=[ticket.number]), {"thread": "all"})
    body = full.content.decode()
    assert body.count('class="message-card') == THREAD_WINDOW + 6 and "earlier message" not in body


@pytest.mark.parametrize(
    "total, hidden", [(THREAD_WINDOW, 0), (THREAD_WINDOW + 1, 0), (THREAD_WINDOW + 2, 1)]
)
def test_the_thread_hides_only_what_lies_between_the_first_and_latest_messages(client, total, hidden):
    team = TeamFactory()
    agent = make_agent(team)
    ticket = make_ticket(make_customer(), team=team, description="First")
    for number in range(total - 1):
        services.ticket_reply(ticket, body=f"Reply {number}", actor=agent)
    client.force_login(agent)
    page = client.get(reverse("tickets:desk_ticket", args=[ticket.number]))
    assert page.context["workspace"].hidden_messages == hidden
    assert page.content.decode().count('class="message-card') == total - hidden
    assert ("earlier message" in page.content.decode()) == bool(hidden)


def test_custom_fields_are_edited_inline_and_validated(client, desk):
    from tests.factories import TicketFormFactory

    form = TicketFormFactory()
    ticket = make_ticket(
        desk["customer"], team=desk["support"], form=form, custom_fields={"order_number": "A-1"}
    )
    client.force_login(desk["agent"])
    url = reverse("tickets:desk_update", args=[ticket.number])
    bad = client.post(url, {"field": "custom_fields", "version": ticket.version, "cf-product": "Gold"},
                      headers={"HX-Request": "true"})  # fmt: skip
    assert bad.status_code == 422 and "Order number" in bad.content.decode()
    good = client.post(url, {"field": "custom_fields", "version": ticket.version, "cf-order_number": "B-2",
                             "cf-product": "Pro"}, headers={"HX-Request": "true"})  # fmt: skip
    assert good.status_code == 200
    ticket.refresh_from_db()
    assert ticket.custom_fields == {"order_number": "B-2", "product": "Pro"}
    assert ticket.activities.filter(action="custom_fields").exists()


def test_cached_view_counts_are_per_person_even_for_administrators():
    from tests.factories import make_administrator
    from tickets.selectors import queue_counts

    team = TeamFactory()
    first, second = make_administrator(), make_administrator()
    TeamMemberFactory(team=team, user=first, role="agent")
    ticket = make_ticket(make_customer(), team=team)
    services.ticket_assign(ticket, assignee=first, actor=first)
    assert queue_counts(first)["mine"] == 1
    assert queue_counts(second)["mine"] == 0  # not the first administrator's cached figure


def test_cached_queue_total_follows_a_change_of_access(client, desk):
    """The 30-second cache must not keep showing the total of the teams an agent had before."""

    client.force_login(desk["agent"])
    assert client.get(QUEUE).context["queue"].page.paginator.count == 2
    TeamMemberFactory(team=desk["billing"], user=desk["agent"], role="agent")
    assert client.get(QUEUE).context["queue"].page.paginator.count == 3


def test_assignee_picker_offers_the_teams_active_agents_and_the_current_assignee():
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import make_user_with_role
    from tickets.selectors import assignable_agents

    support, billing = TeamFactory(), TeamFactory()
    make_agent(support, name="Anna"), make_agent(support, name="Ben")
    make_agent(support, name="Sam Suspended", status="suspended")
    lapsed = make_user_with_role("Agent", expires_at=timezone.now() - timedelta(days=1), name="Lapsed")
    TeamMemberFactory(team=support, user=lapsed)
    make_agent(billing, name="Bea Billing")
    ticket = make_ticket(make_customer(), team=support)
    assert [user.name for user in assignable_agents(ticket)] == ["Anna", "Ben"]

    outsider = make_agent(billing, name="Otto")
    ticket.assignee = outsider
    assert [user.name for user in assignable_agents(ticket)] == ["Anna", "Ben", "Otto"]
    ticket.team = None
    assert [user.name for user in assignable_agents(ticket)] == ["Otto"]


def inputs(html: str, **attributes: str) -> list[dict[str, str]]:
    """The <input> tags of `html` whose attributes include `attributes`, each as its attributes."""
    found = []
    for tag in re.findall(r"<input\b[^>]*>", html):
        attrs = {name: unescape(value) for name, value in re.findall(r'([\w-]+)="([^"]*)"', tag)}
        attrs |= {name: "" for name in re.findall(r"\s([\w-]+)(?=[\s>])", tag) if name not in attrs}
        if all(attrs.get(name.replace("_", "-")) == value for name, value in attributes.items()):
            found.append(attrs)
    return found


def test_the_filtered_table_carries_its_filter_to_the_save_view_and_bulk_forms(client, desk):
    client.force_login(desk["agent"])
    headers = {"HX-Request": "true", "HX-Target": "queue-table"}
    fragment = client.get(QUEUE, {"q": "fire", "status": "new"}, headers=headers).content.decode()
    assert "<html" not in fragment
    [query] = inputs(fragment, name="query", form="save-view-form")
    assert query["value"] == "q=fire&status=new"
    [bulk_back] = inputs(fragment, name="back", form="bulk-form")
    assert bulk_back["value"] == f"{QUEUE}?q=fire&status=new"

    # The full page has them once each, with the forms they belong to.
    page = client.get(QUEUE, {"q": "fire"}).content.decode()
    assert [tag["form"] for tag in inputs(page, name="back")] == ["bulk-form"]
    assert 'id="save-view-form"' in page and 'id="bulk-form"' in page
    assert [tag["value"] for tag in inputs(page, name="query")] == ["q=fire"]

    # What the browser then posts: the filter on screen, not the one the page was loaded with.
    client.post(reverse("tickets:desk_view_create"), {"name": "Fires", "query": query["value"]})
    assert SavedView.objects.get(name="Fires").query == "q=fire&status=new"
    response = client.post(
        reverse("tickets:desk_bulk"),
        {"tickets": [desk["printer"].pk], "action": "priority:high", "back": bulk_back["value"]},
    )
    assert response["Location"] == f"{QUEUE}?q=fire&status=new"


def test_an_inline_edit_gives_the_composer_and_merge_forms_the_new_version(client, desk):
    supervisor = make_supervisor(desk["support"])
    ticket = desk["printer"]
    client.force_login(supervisor)
    page = client.get(reverse("tickets:desk_ticket", args=[ticket.number])).content.decode()
    [merge] = inputs(page, id="merge-version")
    assert merge["value"] == str(ticket.version) and "hx-swap-oob" not in merge
    assert 'id="merge"' in page and "hx-swap-oob" not in page

    url = reverse("tickets:desk_update", args=[ticket.number])
    response = client.post(
        url, {"field": "priority", "value": "high", "version": ticket.version}, headers={"HX-Request": "true"}
    )
    fresh = Ticket.objects.get(pk=ticket.pk).version
    assert response.status_code == 200 and fresh == ticket.version + 1
    fragment = response.content.decode()
    [composer] = inputs(fragment, id="composer-version", hx_swap_oob="true")
    assert composer["value"] == str(fresh)
    [merge] = inputs(fragment, id="merge-version")
    assert merge["value"] == str(fresh)
    assert re.search(r'<section id="merge" [^>]*hx-swap-oob="true"', fragment)

    # The merge form then works without a reload, as the composer does.
    target = make_ticket(desk["customer"], team=desk["support"], subject="Printer still on fire")
    merged = client.post(
        reverse("tickets:desk_merge", args=[ticket.number]),
        {"confirm": "merge", "into": target.reference, "version": fresh},
    )
    assert merged.status_code == 302 and Ticket.objects.get(pk=ticket.pk).merged_into_id == target.pk


def test_closing_inline_hides_the_merge_form_and_agents_without_the_permission_get_none(client, desk):
    ticket = desk["printer"]
    services.ticket_transition(ticket, status=Status.RESOLVED, actor=desk["agent"])
    ticket.refresh_from_db()
    client.force_login(make_supervisor(desk["support"]))
    url = reverse("tickets:desk_update", args=[ticket.number])
    response = client.post(
        url,
        {"field": "status", "value": "closed", "version": ticket.version, "confirm": "close"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert re.search(r'<section id="merge" [^>]*hidden', response.content.decode())

    client.force_login(desk["agent"])  # an agent may not merge: no form, nothing to swap
    other = desk["vpn"]
    url = reverse("tickets:desk_update", args=[other.number])
    edit = {"field": "priority", "value": "low", "version": other.version}
    response = client.post(url, edit, headers={"HX-Request": "true"})
    assert response.status_code == 200 and 'id="merge' not in response.content.decode()
    assert inputs(response.content.decode(), id="composer-version")[0]["value"] == str(other.version + 1)


def test_each_table_fragment_refreshes_the_views_beside_it(client, desk):
    client.force_login(desk["agent"])
    headers = {"HX-Request": "true", "HX-Target": "queue-table"}
    views = {view.slug: view for view in selectors.built_in_views()}
    fragment = client.get(f"{QUEUE}?{views['mine'].query}", headers=headers).content.decode()
    lists = fragment[fragment.index('<div id="view-lists" hx-swap-oob="true">') :]
    assert lists.count('aria-current="page"') == 1
    assert 'aria-current="page" data-view="mine"' in lists, "the view on screen is marked"

    def mine_count(response) -> str:
        return response.content.decode().split('data-view="mine"')[1].split("</a>")[0]

    pending = f"{QUEUE}?{views['pending'].query}"  # lists none of these tickets, before or after
    before = client.get(pending, headers=headers)
    assert '<span class="count">0</span>' in mine_count(before)
    services.ticket_assign(desk["printer"], assignee=desk["agent"], actor=None)
    cache.clear()  # the counts are cached for COUNT_CACHE_SECONDS: this is the refresh after that
    after = client.get(pending, headers={**headers, "If-None-Match": before["ETag"]})
    assert after.status_code == 200, "a changed count alone changes the fragment"
    assert '<span class="count">1</span>' in mine_count(after)


def test_the_timeline_leaves_replies_and_notes_to_the_thread(client, desk):
    ticket = desk["printer"]
    services.ticket_reply(ticket, body="Turn it off.", actor=desk["agent"])
    services.ticket_add_note(Ticket.objects.get(pk=ticket.pk), body="Third time.", actor=desk["agent"])
    services.ticket_update_fields(
        Ticket.objects.get(pk=ticket.pk), changes={"priority": "urgent"}, actor=desk["agent"]
    )
    client.force_login(desk["agent"])
    response = client.get(reverse("tickets:desk_ticket", args=[ticket.number]))
    timeline = [entry.action for entry in response.context["workspace"].activities]
    assert timeline == ["priority", "status", "created"]  # the reply opened the ticket: a status change
    assert ticket.activities.filter(action__in=["reply", "note"]).count() == 2  # still recorded


@pytest.mark.parametrize("params", [{}, {"tag": "insider-risk"}, {"q": "Salary"}, {"scope": "teams"}])
def test_a_ticket_the_agent_only_requested_stays_out_of_their_desk(client, desk, params):
    """It opens in the portal (the workspace answers 404); a desk row would show the other team's
    assignee and let its tags be guessed one filter at a time."""
    request = make_ticket(desk["outsider"], team=desk["support"], subject="Salary question")
    services.ticket_set_tags(request, names=["insider-risk"], actor=desk["agent"])
    client.force_login(desk["outsider"])
    assert "Salary question" not in listed(client.get(QUEUE, params))
    assert selectors.queue_counts(desk["outsider"])["team_open"] == 1  # the invoice, not the request
    bulk = client.post(reverse("tickets:desk_bulk"), {"tickets": [request.pk], "action": "assign_me"})
    assert bulk.status_code == 302
    assert Ticket.objects.get(pk=request.pk).assignee is None


def test_a_ticket_solved_after_the_count_was_cached_is_listed_at_once(client, desk):
    """The total may be 30 s old; the rows never are."""
    client.force_login(desk["agent"])
    solved = {"status": ["resolved", "closed"]}
    assert listed(client.get(QUEUE, solved)) == set()  # caches a total of 0
    services.ticket_transition(desk["printer"], status=Status.RESOLVED, actor=desk["agent"])
    assert listed(client.get(QUEUE, solved)) == {"Printer on fire"}


def test_the_next_page_is_read_even_when_the_cached_total_says_one_page(client, desk):
    client.force_login(desk["agent"])
    assert client.get(QUEUE).context["queue"].page.paginator.count == 2  # cached
    for number in range(selectors.QUEUE_PAGE_SIZE):
        make_ticket(desk["customer"], team=desk["support"], subject=f"Batch {number}")
    first = client.get(QUEUE).context["queue"].page
    assert len(first.object_list) == selectors.QUEUE_PAGE_SIZE and first.has_next()
    second = client.get(QUEUE, {"page": 2}).context["queue"].page
    assert second.number == 2 and len(second.object_list) == 2
    assert not second.has_next()
    # The last page by the count, which the pages read since have corrected to 27 (and kept).
    assert client.get(QUEUE, {"page": 10**30}).context["queue"].page.number == 2


def test_the_composer_of_a_closed_ticket_offers_an_internal_note_only(client, desk):
    Ticket.objects.filter(pk=desk["printer"].pk).update(status=Status.CLOSED)
    client.force_login(desk["agent"])
    page = client.get(reverse("tickets:desk_ticket", args=[desk["printer"].number])).content.decode()
    assert re.search(r'<input type="radio" name="kind" value="reply" id="kind-reply" disabled', page)
    assert re.search(r'value="note" id="kind-note" checked', page)
    assert "Closed tickets take no more public replies" in page


def test_bulk_action_names_the_selected_tickets_that_left_the_agents_queues(client, desk):
    client.force_login(desk["agent"])
    moved = desk["vpn"]
    Ticket.objects.filter(pk=moved.pk).update(team=desk["billing"])  # moved away after the queue was read
    response = client.post(
        reverse("tickets:desk_bulk"),
        {"tickets": [desk["printer"].pk, moved.pk], "action": "priority:high", "back": QUEUE},
        follow=True,
    )
    shown = [str(message) for message in get_messages(response.wsgi_request)]
    assert f"Updated 1 ticket: {desk['printer'].reference}." in shown
    assert "1 selected ticket is no longer in your queues and left unchanged." in shown
    assert Ticket.objects.get(pk=moved.pk).priority == "medium"


@pytest.mark.parametrize("htmx", [True, False])
def test_tags_typed_on_a_stale_page_come_back_as_typed(client, desk, htmx):
    ticket = desk["printer"]
    seen = ticket.version
    services.ticket_update_fields(ticket, changes={"priority": "high"}, actor=desk["colleague"])
    client.force_login(desk["agent"])
    response = client.post(
        reverse("tickets:desk_update", args=[ticket.number]),
        {"field": "tags", "value": "vip, refund-requested, escalated", "version": seen},
        headers={"HX-Request": "true"} if htmx else {},
    )
    page = unescape(response.content.decode())
    assert response.status_code == 409
    assert 'value="vip, refund-requested, escalated"' in page
    assert "the page now shows their change" in page and "Reload the page" not in page
    assert not Ticket.objects.get(pk=ticket.pk).tags.exists()


def test_next_and_previous_stay_after_a_reply_takes_the_ticket_out_of_the_view(client, desk):
    client.force_login(desk["agent"])
    extra = make_ticket(desk["customer"], team=desk["support"], subject="Mouse squeaks")
    view = "status=new"
    numbers = [t.number for t in client.get(QUEUE + "?" + view).context["queue"].tickets]
    middle = numbers[1]
    page = client.get(reverse("tickets:desk_ticket", args=[middle]), {"queue": view})
    shown = (page.context["previous_number"], page.context["next_number"])
    assert shown == (numbers[0], numbers[2])
    sent = client.post(
        reverse("tickets:desk_reply", args=[middle]),
        {"queue": view, "previous": shown[0], "next": shown[1], "kind": "reply", "body": "Fixed.",
         "status_after": "resolved", "version": page.context["ticket"].version},
        follow=True,
    )  # fmt: skip
    assert Ticket.objects.get(number=middle).status == Status.RESOLVED  # out of the "new" view
    assert (sent.context["previous_number"], sent.context["next_number"]) == shown
    assert extra.number in numbers


def test_bulk_action_reports_tickets_that_already_were_as_asked_apart_from_the_updated(client, desk):
    services.ticket_update_fields(desk["printer"], changes={"priority": "high"}, actor=desk["agent"])
    client.force_login(desk["agent"])
    response = client.post(
        reverse("tickets:desk_bulk"),
        {"tickets": [desk["printer"].pk, desk["vpn"].pk], "action": "priority:high", "back": QUEUE},
        follow=True,
    )
    shown = [str(message) for message in get_messages(response.wsgi_request)]
    assert f"Updated 1 ticket: {desk['vpn'].reference}." in shown
    assert f"Already so, left as they were: {desk['printer'].reference}." in shown


def test_a_reassigned_ticket_is_unread_for_the_new_assignee_until_they_take_it_in_front_of_them(client, desk):
    """What the last assignee read says nothing of what the next one has; taking it in the workspace,
    with the thread in front of them, is reading it."""
    ticket, agent = desk["printer"], desk["agent"]
    colleague = make_agent(ticket.team, name="Sid Second")
    services.ticket_assign(ticket, assignee=agent, actor=agent)
    services.ticket_reply(Ticket.objects.get(pk=ticket.pk), body="Still burning.", actor=desk["customer"])
    services.ticket_mark_seen(ticket, actor=agent)
    services.ticket_assign(Ticket.objects.get(pk=ticket.pk), assignee=colleague, actor=agent)
    assert Ticket.objects.get(pk=ticket.pk).unread_by_assignee
    client.force_login(colleague)
    assert "New reply" in client.get(reverse("tickets:desk_queue"), {"assignee": "me"}).content.decode()

    client.force_login(agent)
    update = reverse("tickets:desk_update", args=[ticket.number])
    client.post(update, {"field": "take", "version": Ticket.objects.get(pk=ticket.pk).version})
    taken = Ticket.objects.get(pk=ticket.pk)
    assert taken.assignee == agent and not taken.unread_by_assignee


def test_a_visitors_request_is_shown_created_by_its_requester_not_by_the_system(client, settings):
    """A request sent without signing in has no actor (a typed address proves no account), yet the
    timeline names who sent it, marked as not signed in, rather than "System"."""
    from helpdesk.services import site_configuration_update

    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    team = TeamFactory()
    site_configuration_update(changes={"default_team": team}, actor=None)
    ticket = services.ticket_submit_anonymous(
        email="vi@example.org", name="Vi Visitor", subject="Invoice", description="Wrong amount."
    )
    client.force_login(make_agent(team))
    page = unescape(client.get(reverse("tickets:desk_ticket", args=[ticket.number])).content.decode())
    timeline = page[page.index('id="timeline"') :]
    shown = r"<strong>Vi Visitor</strong> <span class=\"muted\">\(not signed in\)</span> created"
    assert re.search(shown, timeline)
    assert "<strong>System</strong> created" not in timeline


@pytest.mark.parametrize(
    ("query", "folded", "said"),
    [
        ({}, True, "More filters</summary>"),
        # The Sort menu has no empty choice: every Apply sends the default, which is no filter set.
        ({"status": "open", "sort": "updated", "team": ""}, True, "More filters</summary>"),
        ({"sort": "number"}, False, "(1 set)"),
        ({"tag": "vpn", "created_within": "7"}, False, "(2 set)"),
    ],
)
def test_more_filters_fold_unless_one_of_them_is_set(client, desk, query, folded, said):
    """A narrow screen folds the filters past search, status, priority and assignee (app.css shows them
    all on a wide one): open, and saying how many, when one of them is set."""
    client.force_login(desk["agent"])
    page = client.get(reverse("tickets:desk_queue"), query).content.decode()
    details = re.search(r'<details class="more-filters"[^>]*>\s*<summary>.*?</summary>', page, re.S).group(0)
    assert (" open" not in details) is folded, details
    assert said in details
