"""The agent desk's saved views (hostile queries, names in any case, sharing), built-in counts, bulk
actions (unreadable ids, repeats before the limit), the 30 s refresh's 304s, Previous/Next, paging and the
requester panel."""

import re

import pytest
from django.urls import reverse

from accounts.models import TeamMember
from tests.conftest import made_once_per_module
from tests.factories import (
    SavedViewFactory,
    TeamFactory,
    make_administrator,
    make_ticket,
)
from tests.tickets.conftest import fresh, insert_tickets, make_desk, notes, page_text
from tickets import selectors, services
from tickets.models import SavedView, Tag, Ticket
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

_desk_rows, desk = made_once_per_module(make_desk, "desk")

QUEUE = reverse("tickets:desk_queue")
BULK = reverse("tickets:desk_bulk")
CREATE_VIEW = reverse("tickets:desk_view_create")
FRAGMENT = {"HX-Request": "true", "HX-Target": "queue-table"}


def ADMIN():
    return make_administrator()


def refresh(client, url, etag):
    return client.get(url, headers={**FRAGMENT, "If-None-Match": etag})


# --- Saved views -----------------------------------------------------------------------------------


def test_a_saved_view_keeps_only_filter_keys_from_a_hostile_query(client, desk):
    """Saving a view whose query holds ORM look-ups, a page number and junk keeps only the filters."""
    client.force_login(desk["agent"])
    query = "requester__password__startswith=a&status=open&page=7&queue=x&__class__=1&sort=priority"
    response = client.post(CREATE_VIEW, {"name": "Hostile", "query": query})
    assert response.status_code == 302
    view = SavedView.objects.get(owner=desk["agent"], name="Hostile")
    assert view.query == "status=open&sort=priority"


def test_a_saved_view_name_differing_only_in_case_is_a_duplicate(client, desk):
    """ "Urgent" and "urgent" are the same view name to a person reading the sidebar: the second is
    refused like an exact duplicate (Zendesk/Zammad views lists read case-insensitively)."""
    SavedViewFactory(owner=desk["agent"], name="Urgent")
    client.force_login(desk["agent"])
    response = client.post(CREATE_VIEW, {"name": "urgent", "query": "status=new"})
    assert response.status_code == 422
    assert SavedView.objects.filter(owner=desk["agent"]).count() == 1


def test_a_shared_view_is_listed_for_teammates_but_only_its_owner_may_delete_it(client, desk):
    """A view shared with Support shows for a teammate (without a Delete button), not for Billing, and
    a teammate's delete answers 404 and keeps it."""
    view = SavedViewFactory(owner=desk["agent"], name="Support VIPs", team=desk["support"], query="tag=vip")
    client.force_login(desk["colleague"])
    page = client.get(QUEUE)
    assert "Support VIPs" in page_text(page)
    assert f'id="saved-view-{view.pk}-delete"' not in page.content.decode()
    assert client.post(reverse("tickets:desk_view_delete", args=[view.pk])).status_code == 404
    assert SavedView.objects.filter(pk=view.pk).exists()
    client.force_login(desk["biller"])
    assert "Support VIPs" not in page_text(client.get(QUEUE))


def test_deleting_a_saved_view_by_get_changes_nothing(client, desk):
    """No state change on GET: a link or prefetch to the delete address leaves the view."""
    view = SavedViewFactory(owner=desk["agent"], name="Keep")
    client.force_login(desk["agent"])
    response = client.get(reverse("tickets:desk_view_delete", args=[view.pk]))
    assert response.status_code == 405
    assert SavedView.objects.filter(pk=view.pk).exists()


def test_a_long_hostile_query_whose_filters_fit_can_be_saved(client, desk):
    """Only the kept filters count towards the length limit: junk keys stripped by the form must not make
    a short view "too long to save"."""
    client.force_login(desk["agent"])
    query = "status=open&" + "&".join(f"junk{n}=" + "x" * 40 for n in range(30))
    response = client.post(CREATE_VIEW, {"name": "Short really", "query": query})
    assert response.status_code == 302
    assert SavedView.objects.get(owner=desk["agent"], name="Short really").query == "status=open"


# --- Built-in views' counts ------------------------------------------------------------------------


def test_built_in_counts_match_the_lists_with_merged_and_deleted_tickets(client, desk):
    """A ticket merged into another (closed, never solved) and a soft-deleted one count in no view the
    list does not show them in."""
    agent, customer, support = desk["agent"], desk["customer"], desk["support"]
    target = make_ticket(customer, team=support, subject="Target")
    source = make_ticket(customer, team=support, subject="Source")
    services.ticket_assign(source, assignee=agent, actor=None)
    services.ticket_assign(target, assignee=agent, actor=None)
    services.ticket_merge(fresh(source), into=fresh(target), actor=ADMIN())
    gone = make_ticket(customer, team=support, subject="Gone")
    services.ticket_assign(gone, assignee=agent, actor=None)
    services.ticket_delete(fresh(gone), actor=ADMIN())
    client.force_login(agent)
    counts = selectors.queue_counts(agent)
    names = {"mine": "mine", "unassigned": "unassigned", "team-open": "team_open",
             "pending": "pending", "solved": "solved"}  # fmt: skip
    for view in selectors.built_in_views():
        response = client.get(f"{QUEUE}?{view.query}")
        assert response.context["queue"].page.paginator.count == counts[names[view.slug]], view.slug
        listed = {t.subject for t in response.context["queue"].tickets}
        assert "Gone" not in listed
    assert counts["mine"] == 1


# --- Bulk actions ----------------------------------------------------------------------------------


def test_bulk_non_numeric_ids_are_reported_not_silently_dropped(client, desk):
    """A selection the desk cannot read ("abc") is reported like a missing ticket: the agent learns that
    not everything they posted was applied."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    response = client.post(BULK, {"tickets": ["abc", str(ticket.pk)], "action": "priority:high"})
    said = " ".join(notes(response))
    assert fresh(ticket).priority == "high"
    assert "1 selected ticket" in said, said


def test_bulk_duplicates_do_not_push_other_tickets_past_the_limit(client, desk):
    """The same ticket posted 500 times and another once are two tickets: both are changed and nothing
    is reported as left beyond the limit."""
    ticket = desk["ticket"]
    other = make_ticket(desk["customer"], team=desk["support"], subject="Other")
    client.force_login(desk["agent"])
    chosen = [str(ticket.pk)] * 500 + [str(other.pk)]
    response = client.post(BULK, {"tickets": chosen, "action": "priority:high"})
    said = " ".join(notes(response))
    assert fresh(other).priority == "high", said
    assert "left unchanged" not in said


def test_bulk_status_to_an_unknown_status_changes_nothing_and_says_why(client, desk):
    """action=status with a value that is not a status is refused once, before any ticket is touched: the
    queue comes back (422) with the reason by the value and the ticket still ticked."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    response = client.post(BULK, {"tickets": f"{ticket.pk}:{ticket.version}", "action": "status:sold"})
    assert response.status_code == 422
    assert "There is no status “sold”" in page_text(response)
    assert re.search(f'value="{ticket.pk}:{ticket.version}"[^>]* checked>', page_text(response))
    assert fresh(ticket).status == ticket.status


def test_bulk_priority_to_an_unknown_value_changes_nothing(client, desk):
    """action=priority with a value outside the choices changes no ticket, and the value is shown as
    text in the refusal."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    response = client.post(BULK, {"tickets": str(ticket.pk), "action": "priority:<b>max</b>"})
    assert response.status_code == 422
    assert "There is no priority “&lt;b&gt;max&lt;/b&gt;”" in response.content.decode()
    assert fresh(ticket).priority == ticket.priority


def test_bulk_move_to_an_inactive_team_is_refused(client, desk):
    """A deactivated team is not offered, and posting its id is refused per ticket."""
    closed_team = TeamFactory(name="Old team", is_active=False)
    ticket = desk["ticket"]
    client.force_login(desk["supervisor"])
    response = client.post(BULK, {"tickets": str(ticket.pk), "action": f"team:{closed_team.pk}"})
    assert fresh(ticket).team_id == desk["support"].pk, notes(response)


def test_bulk_mixed_allowed_and_refused_reports_each_refusal_with_its_ticket(client, desk):
    """Reopening a mix of a resolved and a closed ticket: the resolved one is reopened, the closed one is
    named with the reason; neither error names an invisible ticket."""
    customer, support = desk["customer"], desk["support"]
    solved = make_ticket(customer, team=support, subject="Solved")
    services.ticket_transition(solved, status=Status.RESOLVED, actor=None)
    closed = make_ticket(customer, team=support, subject="Closed")
    services.ticket_transition(closed, status=Status.CLOSED, actor=None)
    client.force_login(desk["agent"])
    response = client.post(BULK, {"tickets": [str(solved.pk), str(closed.pk)], "action": "status:open"})
    said = notes(response)
    assert fresh(solved).status == Status.OPEN
    assert fresh(closed).status == Status.CLOSED
    refused = [line for line in said if fresh(closed).reference in line and "not changed" in line]
    assert refused, said


# --- The 30-second refresh -------------------------------------------------------------------------


def test_refresh_is_not_304_after_a_ticket_leaves_the_view(client, desk):
    """A colleague pends a ticket listed in a status=open queue: it leaves the view, so the refresh must
    not answer 304."""
    ticket = desk["ticket"]
    services.ticket_transition(ticket, status=Status.OPEN, actor=None)
    client.force_login(desk["agent"])
    url = f"{QUEUE}?status=open"
    first = client.get(url, headers=FRAGMENT)
    assert refresh(client, url, first["ETag"]).status_code == 304
    services.ticket_transition(fresh(ticket), status=Status.PENDING, actor=desk["colleague"])
    assert refresh(client, url, first["ETag"]).status_code == 200


def test_refresh_is_not_304_after_a_tag_rename_in_a_tag_filtered_view(client, desk):
    """Renaming the tag a view filters on takes its tickets out of that view: no 304."""
    ticket = desk["ticket"]
    services.ticket_set_tags(ticket, add=["vip"], actor=None)
    client.force_login(desk["agent"])
    url = f"{QUEUE}?tag=vip"
    first = client.get(url, headers=FRAGMENT)
    assert desk["ticket"].subject in page_text(first)
    Tag.objects.filter(name="vip").update(name="gold")
    assert refresh(client, url, first["ETag"]).status_code == 200


def test_refresh_is_not_304_after_the_agent_leaves_the_team(client, desk):
    """The agent removed from Support: the refresh must not keep showing Support's tickets."""
    client.force_login(desk["agent"])
    first = client.get(QUEUE, headers=FRAGMENT)
    assert desk["ticket"].subject in page_text(first)
    TeamMember.objects.filter(user=desk["agent"], team=desk["support"]).delete()
    second = refresh(client, QUEUE, first["ETag"])
    assert second.status_code == 200
    assert desk["ticket"].subject not in page_text(second)


def test_refresh_is_not_304_after_a_second_customer_reply_on_an_unread_ticket(client, desk, clock):
    """A listed ticket already marked unread gets another customer reply in the same minute: something
    relevant changed (a new message), so the refresh answers 200, not 304."""
    ticket = desk["ticket"]
    services.ticket_assign(ticket, assignee=desk["agent"], actor=None)
    services.ticket_reply(fresh(ticket), body="First", actor=desk["customer"])
    client.force_login(desk["agent"])
    first = client.get(QUEUE, headers=FRAGMENT)
    clock.shift(1)
    services.ticket_reply(fresh(ticket), body="Second", actor=desk["customer"])
    assert refresh(client, QUEUE, first["ETag"]).status_code == 200


def test_refresh_is_not_304_when_a_colleague_assigns_the_agent_a_ticket_elsewhere(client, desk):
    """The agent watches "Pending on customer"; a colleague assigns them an open ticket. The refreshed
    fragment carries the views' live counts, so "My open tickets" must go up: no 304."""
    agent = desk["agent"]
    client.force_login(agent)
    url = f"{QUEUE}?status=pending"
    first = client.get(url, headers=FRAGMENT)
    assert refresh(client, url, first["ETag"]).status_code == 304
    services.ticket_assign(fresh(desk["ticket"]), assignee=agent, actor=desk["colleague"])
    second = refresh(client, url, first["ETag"])
    assert second.status_code == 200
    assert second.context["counts"]["mine"] == 1


def test_refresh_is_not_304_when_a_colleague_shares_a_view_with_the_team(client, desk):
    """A view newly shared with the agent's team appears on the next refresh."""
    client.force_login(desk["agent"])
    first = client.get(QUEUE, headers=FRAGMENT)
    SavedViewFactory(owner=desk["colleague"], name="Shared now", team=desk["support"])
    second = refresh(client, QUEUE, first["ETag"])
    assert second.status_code == 200 and "Shared now" in page_text(second)


# --- Previous / Next -------------------------------------------------------------------------------


def _neighbours(response):
    return response.context["previous_number"], response.context["next_number"]


def test_previous_and_next_keep_filters_and_sort_and_stop_at_the_ends(client, desk):
    """In a tag-filtered queue sorted by number (low to high), Previous/Next follow that order, skip a
    ticket without the tag, and the first and last tickets have no Previous / Next."""
    customer, support = desk["customer"], desk["support"]
    tickets = [make_ticket(customer, team=support, subject=f"T{n}") for n in range(4)]
    for ticket in (tickets[0], tickets[2], tickets[3]):
        services.ticket_set_tags(ticket, add=["vip"], actor=None)
    client.force_login(desk["agent"])
    queue = "tag=vip&sort=-number"

    def url(ticket):
        return reverse("tickets:desk_ticket", args=[ticket.number]) + f"?queue={queue.replace('&', '%26')}"

    assert _neighbours(client.get(url(tickets[0]))) == (None, tickets[2].number)
    assert _neighbours(client.get(url(tickets[2]))) == (tickets[0].number, tickets[3].number)
    assert _neighbours(client.get(url(tickets[3]))) == (tickets[2].number, None)


def test_previous_and_next_never_point_at_a_deleted_ticket(client, desk):
    """A soft-deleted ticket between two listed ones is skipped."""
    customer, support = desk["customer"], desk["support"]
    a, b, c = (make_ticket(customer, team=support, subject=s) for s in "ABC")
    services.ticket_delete(fresh(b), actor=ADMIN())
    client.force_login(desk["agent"])
    response = client.get(reverse("tickets:desk_ticket", args=[a.number]) + "?queue=sort%3D-number")
    assert _neighbours(response)[1] == c.number


# --- Paging ----------------------------------------------------------------------------------------


def test_a_page_past_the_end_shows_the_last_page_with_its_filters_kept(client, desk):
    """page=999 of a filtered list shows its last page, and Previous keeps the filter."""
    from tests.tickets.conftest import insert_tickets

    insert_tickets(30, requester=desk["customer"], team=desk["support"], status="open")
    client.force_login(desk["agent"])
    response = client.get(f"{QUEUE}?status=open&page=999")
    page = response.context["queue"].page
    assert page.number == 2 and len(page.object_list) == 5
    html = response.content.decode()
    prev = re.search(r'href="([^"]+)"[^>]*rel="prev"', html).group(1)
    assert "status=open" in prev and "page=1" in prev


# --- Requester panel -------------------------------------------------------------------------------


def test_the_requester_panel_hides_deleted_and_other_teams_tickets(client, desk):
    """The requester's other tickets: ones of the agent's teams only; deleted and Billing ones never,
    not even by subject."""
    customer = desk["customer"]
    make_ticket(customer, team=desk["billing"], subject="Billing secret")
    gone = make_ticket(customer, team=desk["support"], subject="Deleted one")
    services.ticket_delete(fresh(gone), actor=ADMIN())
    visible = make_ticket(customer, team=desk["support"], subject="Visible sibling")
    client.force_login(desk["agent"])
    response = client.get(reverse("tickets:desk_ticket", args=[desk["ticket"].number]))
    text = page_text(response)
    assert "Visible sibling" in text
    assert "Billing secret" not in text and "Deleted one" not in text
    assert [t.pk for t in response.context["workspace"].other_tickets] == [visible.pk]


# --- Paging after the rows changed, and within a view -----------------------------------------------


def test_a_page_past_the_end_after_a_colleague_emptied_pages_shows_the_last_real_page(client, desk):
    """The agent is on page 3 of 60 open tickets (the total is cached for 30 s); a colleague solves 40 of
    them. The refresh of page 3 must show the tickets that remain (the last page that has rows), not an
    empty "No tickets match" without any way to page back."""
    ids = insert_tickets(60, requester=desk["customer"], team=desk["support"], status="open")
    client.force_login(desk["agent"])
    url = f"{QUEUE}?status=open&page=3"
    first = client.get(url)
    assert len(first.context["queue"].tickets) == 10
    for ticket in Ticket.objects.filter(pk__in=ids[:40]):  # a colleague solves them, one by one
        services.ticket_transition(ticket, status=Status.RESOLVED, actor=desk["colleague"])
    for headers in ({}, FRAGMENT):
        response = client.get(url, headers=headers)
        assert response.status_code == 200
        assert len(response.context["queue"].tickets) == 20, response.context["queue"].page.number
        assert "No tickets match" not in page_text(response)


def test_paging_within_a_saved_view_keeps_it_named_and_marked(client, desk):
    """Page 2 of a saved view is still that view: its name stays the page's heading and its link stays
    marked, as on page 1 (the view's name vanishing on Next reads as having left the view)."""
    insert_tickets(30, requester=desk["customer"], team=desk["support"], status="open")
    view = SavedViewFactory(owner=desk["agent"], name="Open ones", query="status=open")
    client.force_login(desk["agent"])
    first = client.get(f"{QUEUE}?{view.query}")
    assert first.context["current_view"].name == "Open ones"
    html = first.content.decode()
    next_link = re.search(r'href="([^"]+)"[^>]*rel="next"', html).group(1).replace("&amp;", "&")
    second = client.get(next_link)
    assert second.context["queue"].page.number == 2
    assert second.context["current_view"].name == "Open ones"
    assert re.search(
        rf'<a id="saved-view-{view.pk}" href="[^"]+" aria-current="page"', second.content.decode()
    )


def test_paging_within_a_built_in_view_keeps_it_named(client, desk):
    insert_tickets(30, requester=desk["customer"], team=desk["support"], status="open")
    client.force_login(desk["agent"])
    view = next(v for v in selectors.built_in_views() if v.slug == "team-open")
    second = client.get(f"{QUEUE}?{view.query}&page=2")
    assert second.context["queue"].page.number == 2
    assert second.context["current_view"].name == "All open in my teams"
