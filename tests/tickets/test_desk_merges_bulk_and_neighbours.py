"""Agent desk edges: merges that keep the work where the team reads it (never into a deleted ticket,
replies and notes on a merged one pointed to the target, the customer's unread message carried over),
bulk actions that say what they left alone and refuse mangled versions, neighbours deep in a long
queue, and a requester panel of tickets the agent can open."""

from datetime import timedelta

import pytest
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    TeamFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tests.tickets.conftest import fresh, insert_tickets, merge_url, notes, page_text, ws
from tickets import selectors, services
from tickets.filters import SORTS
from tickets.models import Ticket, TicketMessage
from tickets.views.desk import MERGE_STALE
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

QUEUE = reverse("tickets:desk_queue")
HTMX = {"HX-Request": "true"}


# Merging


def test_an_administrator_cannot_merge_a_ticket_into_a_deleted_one(client, desk):
    """A deleted ticket is gone for everyone but administrators (README). Merging a live conversation
    into one would make it vanish for the agents and the customer (the customer is sent to a ticket
    they cannot open): the merge must be refused, as a merge into a closed ticket is."""
    admin = make_administrator(name="Ada Admin")
    customer, source = desk["customer"], desk["ticket"]
    target = make_ticket(customer, team=desk["support"], subject="Spam duplicate")
    services.ticket_delete(target, actor=admin)
    client.force_login(admin)
    response = client.post(
        reverse("tickets:desk_merge", args=[source.number]), {"confirm": "merge", "into": target.reference}
    )
    source.refresh_from_db()
    assert source.merged_into_id is None, "the conversation was moved into a deleted ticket"
    assert response.status_code == 422
    # What it did: the agents of the team lost the whole thread.
    assert TicketMessage.objects.filter(ticket=source).exists()


@pytest.mark.parametrize("kind", ["reply", "note"])
def test_a_reply_or_note_on_a_merged_ticket_is_refused_pointing_at_the_target(client, desk, kind):
    """Like every other change on a merged ticket ("T-1 was merged into T-2: make the change there"), a
    reply or a note sent from its workspace is refused pointing at the ticket the conversation moved
    to: a note left on the emptied source would be read by nobody, and a reply must not claim that
    "the customer's next message opens a follow-up ticket" (a customer's goes to the target)."""
    source, customer = desk["ticket"], desk["customer"]
    into = make_ticket(customer, team=desk["support"], subject="Printer still on fire")
    services.ticket_merge(source, into=into, actor=desk["supervisor"])
    source.refresh_from_db()
    client.force_login(desk["agent"])
    response = client.post(
        reverse("tickets:desk_reply", args=[source.number]),
        {"kind": kind, "body": "Called the customer, toner is fine", "version": source.version},
    )
    assert response.status_code == 422
    text = page_text(response)
    assert f"{source.reference} was merged into {into.reference}: make the change there." in text
    assert services.CLOSED_TO_STAFF not in text
    assert not TicketMessage.objects.filter(body="Called the customer, toner is fine").exists()


def test_a_merge_refused_because_the_ticket_closed_meanwhile_says_why_outside_the_hidden_form(client, desk):
    """A colleague closes the ticket while the supervisor types a number into the merge box: the 422
    page hides the merge card of a closed ticket, so the reason is also flashed where it can be read.
    Before the fix it was only inside the hidden card: a page with no explanation."""
    source, supervisor = desk["ticket"], desk["supervisor"]
    target = make_ticket(desk["customer"], team=desk["support"], subject="Second")
    seen = source.version
    services.ticket_transition(fresh(source), status="closed", actor=supervisor)
    client.force_login(supervisor)
    response = client.post(merge_url(source), {"into": target.reference, "version": seen})
    assert response.status_code == 422 and fresh(source).merged_into_id is None
    assert MERGE_STALE in notes(response)
    assert 'aria-invalid="true"' not in response.content.decode()  # the hidden form would take the focus


@pytest.mark.parametrize("typed", ["", "   "])
def test_an_empty_merge_box_asks_for_a_number(client, desk, typed):
    """Merge with the box empty, or holding spaces (which pass the browser's `required`), asks for a
    number. Before the fix it said: There is no ticket “” that you can work."""
    client.force_login(desk["supervisor"])
    response = client.post(merge_url(desk["ticket"]), {"into": typed, "version": desk["ticket"].version})
    assert response.status_code == 422
    assert (
        response.context["merge_error"]
        == "Type the number of the ticket to merge this one into, for example T-1234."
    )


def test_cancel_on_the_merge_confirmation_goes_back_into_the_queue(client, desk):
    """From the default queue (?queue=), Cancel on the confirmation page leads back to the workspace in
    that queue, Previous and Next kept, as a merge or a refusal does. Before the fix it led to the bare
    workspace address, without them."""
    source = desk["ticket"]
    target = make_ticket(desk["customer"], team=desk["support"], subject="Second")
    make_ticket(desk["customer"], team=desk["support"], subject="Third")
    client.force_login(desk["supervisor"])
    assert "← Previous" in page_text(client.get(ws(source) + "?queue="))
    confirm = client.post(
        merge_url(source), {"into": target.reference, "version": source.version, "queue": ""}
    )
    assert confirm.status_code == 200
    cancel = confirm.context["back"]
    assert cancel == ws(source) + "?queue="
    assert "← Previous" in page_text(client.get(cancel))


def test_a_merge_shows_the_customers_unread_message_to_the_targets_assignee(desk):
    """The target's assignee has read their ticket; the customer then wrote on the duplicate. After
    the duplicate is merged in, that customer message is in the target's thread and must show as
    unread to its assignee (the queue's unread marker), as it would had it been written there."""
    customer, agent = desk["customer"], desk["agent"]
    into = make_ticket(customer, team=desk["support"], subject="Printer still on fire")
    services.ticket_assign(into, assignee=agent, actor=agent, seen=True)
    assert not Ticket.objects.get(pk=into.pk).unread_by_assignee
    source = desk["ticket"]
    services.ticket_reply(source, body="It is smoking again!", actor=customer)
    services.ticket_merge(source, into=Ticket.objects.get(pk=into.pk), actor=desk["supervisor"])
    into.refresh_from_db()
    assert into.messages.filter(body="It is smoking again!").exists()
    assert into.unread_by_assignee, "the customer's newest message reads as already seen"


# Bulk actions


def test_a_bulk_action_on_more_than_500_tickets_says_how_many_it_left_alone(client, desk):
    """A bulk action works on at most 500 tickets; past that it says how many it left unchanged
    ("say so, never drop them quietly") rather than skipping the rest without a word."""
    agent = desk["agent"]
    already_open = insert_tickets(500, requester=desk["customer"], team=desk["support"], status="open")
    last = desk["ticket"]  # new
    client.force_login(agent)
    chosen = [str(pk) for pk in already_open] + [f"{last.pk}:{last.version}"]
    response = client.post(
        reverse("tickets:desk_bulk"), {"tickets": chosen, "action": "status:open", "back": QUEUE}
    )
    shown = notes(response)
    last.refresh_from_db()
    assert last.status == Status.NEW
    assert "1 selected ticket beyond the first 500 was left unchanged: select at most 500 at a time." in shown


def test_a_bulk_row_with_a_mangled_version_is_refused_as_stale_not_applied_unchecked(client, desk):
    """Each queue row posts "pk:version" so that a ticket changed since the queue was read is refused.
    A version that does not read ("12:abc", "12:") must be refused as stale, as the workspace refuses
    a mangled version (tickets.forms.UNREADABLE_VERSION: "refused as stale, never skipped"); the bulk
    view drops it and applies the change without any check."""
    ticket = desk["ticket"]
    services.ticket_update_fields(ticket, changes={"priority": "low"}, actor=desk["colleague"])
    client.force_login(desk["agent"])
    response = client.post(
        reverse("tickets:desk_bulk"),
        {"tickets": [f"{ticket.pk}:abc"], "action": "priority:urgent", "back": QUEUE},
    )
    assert Ticket.objects.get(pk=ticket.pk).priority == "low", notes(response)
    assert any(services.BULK_STALE.format(ticket=ticket.reference) in note for note in notes(response))


# The workspace's requester panel


def test_the_requester_panel_lists_only_tickets_the_agent_can_open_in_the_desk(client, desk):
    """The "Other tickets" panel links each ticket to the desk. A ticket the requester filed with a
    team the agent does not work opens no workspace for the agent (404), so it must not be listed
    there, even when the agent can read it in the portal because they filed it themselves."""
    agent = desk["agent"]
    own_support = make_ticket(agent, team=desk["support"], subject="My laptop is slow")
    own_billing = make_ticket(agent, team=desk["billing"], subject="My expense claim")
    client.force_login(agent)
    page = client.get(reverse("tickets:desk_ticket", args=[own_support.number]))
    assert page.status_code == 200
    assert client.get(reverse("tickets:desk_ticket", args=[own_billing.number])).status_code == 404
    listed = [ticket.pk for ticket in page.context["workspace"].other_tickets]
    assert own_billing.pk not in listed, "the panel links to a ticket whose workspace is a 404"


def test_an_administrators_requester_panel_leaves_out_deleted_tickets(client, desk):
    """A deleted ticket is out of every queue for an administrator too, and out of this panel."""
    admin = make_administrator()
    gone = make_ticket(desk["customer"], team=desk["support"], subject="Spam")
    services.ticket_delete(gone, actor=admin)
    client.force_login(admin)
    page = client.get(reverse("tickets:desk_ticket", args=[desk["ticket"].number]))
    assert gone.pk not in [ticket.pk for ticket in page.context["workspace"].other_tickets]


# The built-in views' totals and the tickets of no team


def _view(slug: str) -> str:
    query = next(view for view in selectors.built_in_views() if view.slug == slug).query
    return f"{reverse('tickets:desk_queue')}?{query}"


def test_the_total_under_a_list_agrees_with_its_rows_when_a_colleague_changed_it(client, desk):
    """The total is cached for 30 s (the agent's own changes clear it), but the rows are read fresh: a
    ticket a colleague hands over shows in the list, its count beside it and the total under it at once,
    on the last page exactly and on any other as at least what the pages so far hold."""
    agent = desk["agent"]
    services.ticket_assign(desk["ticket"], assignee=agent, actor=agent)
    client.force_login(agent)
    before = client.get(_view("mine"))
    assert before.context["queue"].page.paginator.count == 1
    second = make_ticket(desk["customer"], team=desk["support"], subject="Handed over")
    services.ticket_assign(second, assignee=agent, actor=desk["colleague"])
    after = client.get(_view("mine"))
    assert len(after.context["queue"].tickets) == after.context["counts"]["mine"] == 2
    assert after.context["queue"].page.paginator.count == 2
    assert "2 tickets · page 1" in page_text(after)
    ids = insert_tickets(60, requester=desk["customer"], team=desk["support"])
    Ticket.objects.filter(pk__in=ids).update(assignee=agent)
    first_page = client.get(_view("mine"))
    assert first_page.context["queue"].page.paginator.count >= 26
    assert first_page.context["queue"].page.has_next()
    last = client.get(_view("mine"), {"page": 3})
    assert last.context["queue"].page.paginator.count == 62


def test_next_from_a_page_whose_total_grew_leads_to_the_next_page_not_back_to_the_first(client, desk):
    """Page 2 read after the cached total went stale raises the total; it is kept, so its Next (page 3)
    is read as asked, not sent back to page 1 by the old total."""
    agent = desk["agent"]
    services.ticket_assign(desk["ticket"], assignee=agent, actor=agent)
    client.force_login(agent)
    assert client.get(_view("mine")).context["queue"].page.paginator.count == 1
    ids = insert_tickets(60, requester=desk["customer"], team=desk["support"])
    Ticket.objects.filter(pk__in=ids).update(assignee=agent)
    second = client.get(_view("mine"), {"page": 2}).context["queue"]
    assert second.page.number == 2 and second.page.has_next()
    third = client.get(_view("mine"), {"page": 3}).context["queue"]
    assert third.page.number == 3 and len(third.tickets) == 11
    assert not {t.pk for t in third.tickets} & {t.pk for t in second.tickets}


def test_an_administrators_team_views_hold_the_tickets_of_no_team_that_wait_for_them(client, desk):
    """Without a form's or a default team a ticket lands in no team and waits for an administrator:
    their "Unassigned in my teams" and "All open in my teams" list and count it; an agent's do not."""
    waiting = make_ticket(desk["customer"], subject="Waiting for an administrator")
    assert waiting.team_id is None
    client.force_login(make_administrator())
    for slug, count in (("unassigned", "unassigned"), ("team-open", "team_open")):
        page = client.get(_view(slug))
        listed = [ticket.number for ticket in page.context["queue"].tickets]
        assert waiting.number in listed and desk["ticket"].number in listed
        assert page.context["counts"][count] == len(listed) == 2
    client.force_login(desk["agent"])
    page = client.get(_view("unassigned"))
    assert [ticket.number for ticket in page.context["queue"].tickets] == [desk["ticket"].number]
    assert page.context["counts"]["unassigned"] == 1


# Next and previous within the queue


def test_next_and_previous_work_deep_in_a_long_queue(client, desk):
    """Opened from page 30 of a long queue, the workspace's Previous and Next still step through that
    queue: the neighbours must not disappear because the ticket lies past the first 500 rows."""
    ids = insert_tickets(800, requester=desk["customer"], team=desk["support"], status="open")
    numbers = dict(Ticket.objects.filter(pk__in=ids).values_list("pk", "number"))
    # Newest first ("Recently updated"): the inserted rows are n minutes old, in the order inserted.
    ordered = [numbers[pk] for pk in ids]
    position = 700  # page 29 of 25-row pages (the same test at 100 passes)
    deep = ordered[position]
    client.force_login(desk["agent"])
    response = client.get(reverse("tickets:desk_ticket", args=[deep]), {"queue": "status=open"})
    assert response.status_code == 200
    assert (response.context["previous_number"], response.context["next_number"]) == (
        ordered[position - 1],
        ordered[position + 1],
    )


@pytest.mark.parametrize("position", [520, 799])
def test_neighbours_deep_in_a_queue_sorted_on_several_keys(client, desk, position):
    """Sorted by priority (then updated, then id), with many tickets of one priority: the neighbours
    past the first 500 rows are the ones the list shows, and the last ticket has no next one."""
    ids = insert_tickets(800, requester=desk["customer"], team=desk["support"], status="open")
    Ticket.objects.filter(pk__in=ids[::3]).update(priority="high")
    agent = desk["agent"]
    _, queue, _ = selectors.queue_queryset(agent, QueryDict("status=open&sort=priority"))
    ordered = list(queue.values_list("number", flat=True))
    client.force_login(agent)
    response = client.get(
        reverse("tickets:desk_ticket", args=[ordered[position]]), {"queue": "status=open&sort=priority"}
    )
    following = ordered[position + 1] if position + 1 < len(ordered) else None
    assert (response.context["previous_number"], response.context["next_number"]) == (
        ordered[position - 1],
        following,
    )


def test_deep_in_a_queue_the_neighbours_the_work_was_sent_from_stay(desk):
    """After work on a ticket deep in the queue, Next goes on to the ticket that followed it then,
    as it does near the top (queue_neighbours' `were`), and one gone from the queue is dropped."""
    ids = insert_tickets(800, requester=desk["customer"], team=desk["support"], status="open")
    numbers = dict(Ticket.objects.filter(pk__in=ids).values_list("pk", "number"))
    ordered = [numbers[pk] for pk in ids]
    ticket = Ticket.objects.get(number=ordered[700])
    Ticket.objects.filter(number=ordered[699]).update(status="closed")
    params = QueryDict("status=open")
    found = selectors.queue_neighbours(desk["agent"], params, ticket, were=(ordered[699], ordered[650]))
    assert found == (ordered[698], ordered[650])


# The unread marker


def test_a_colleague_marking_the_ticket_read_does_not_clear_the_assignees_marker(client, desk):
    """The unread marker belongs to the assignee: a colleague opening the ticket (whose page would
    post "seen") must not clear it for the assignee."""
    ticket, agent = desk["ticket"], desk["agent"]
    services.ticket_assign(ticket, assignee=agent, actor=agent, seen=True)
    services.ticket_reply(ticket, body="Any news?", actor=desk["customer"])
    client.force_login(desk["colleague"])
    client.post(reverse("tickets:desk_seen", args=[ticket.number]), headers=HTMX)
    assert Ticket.objects.get(pk=ticket.pk).unread_by_assignee


@pytest.mark.parametrize("sort", list(SORTS))
def test_neighbours_past_the_window_match_the_list_for_every_sort(sort):
    """queue_neighbours with a small window takes the keyset path (_neighbours_deeper) for tickets past
    it: the neighbours must be those of the list itself, for every sort, with ties on the sort value."""
    team = TeamFactory()
    agent = make_agent(team)
    customer = make_customer()
    now = timezone.now()
    for n in range(8):
        ticket = make_ticket(customer, team=team, subject=f"T {n}")
        Ticket.objects.filter(pk=ticket.pk).update(
            updated_at=now - timedelta(minutes=n // 3),
            created_at=now - timedelta(minutes=n // 2),
            priority=["low", "high", "medium"][n % 3],
        )
    params = QueryDict(f"sort={sort}")
    _, queue, _ = selectors.queue_queryset(agent, params)
    ordered = list(queue.values_list("number", flat=True))
    assert len(ordered) == 8
    for index in range(3, 8):
        ticket = Ticket.objects.get(number=ordered[index])
        expected = (ordered[index - 1], ordered[index + 1] if index + 1 < 8 else None)
        assert selectors.queue_neighbours(agent, params, ticket, window=3) == expected, index


def test_bulk_changes_leave_closed_tickets_as_they_closed_and_say_so(client):
    """Closed is final: a bulk priority, team or tag change over open and closed tickets changes the
    open ones and names the closed ones it left, as a stale or refused ticket is named."""
    support = TeamFactory(name="Support")
    supervisor = make_supervisor(support)
    customer = make_customer()
    open_one = make_ticket(customer, team=support, subject="Still open")
    closed = make_ticket(customer, team=support, subject="Done and closed")
    services.ticket_transition(closed, status=Status.CLOSED, actor=supervisor)
    client.force_login(supervisor)
    response = client.post(
        reverse("tickets:desk_bulk"),
        {"action": "priority", "value": "urgent", "tickets": [open_one.pk, closed.pk]},
        follow=True,
    )
    shown = response.content.decode()
    assert Ticket.objects.get(pk=open_one.pk).priority == "urgent"
    assert Ticket.objects.get(pk=closed.pk).priority == "medium"
    assert closed.reference in shown and "final" in shown
