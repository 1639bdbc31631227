"""The desk workspace's navigation and side panels: Previous/Next within the queue the agent
came from (the `queue` query parameter), the requester panel (other tickets, organisation, contact
details), the activity timeline, and the ticket number in the address."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Team
from tests.conftest import made_once_per_module
from tests.factories import (
    TicketFormFactory,
    make_administrator,
    make_ticket,
)
from tests.tickets.conftest import insert_tickets, make_desk, page_text, seen_text, ws
from tickets import services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

_desk_rows, desk = made_once_per_module(make_desk, "desk")

QUEUE = reverse("tickets:desk_queue")


def _numbered(desk, count: int, team=None, subject="Ticket") -> list[Ticket]:
    """`count` tickets of the desk's customer, numbers rising."""
    return [
        make_ticket(desk["customer"], team=team or desk["support"], subject=f"{subject} {n}")
        for n in range(count)
    ]


def _nav(response) -> tuple[int | None, int | None]:
    return response.context["previous_number"], response.context["next_number"]


def _nav_html(response) -> str:
    html = response.content.decode()
    match = re.search(r'<nav class="actions" aria-label="Queue navigation">(.*?)</nav>', html, re.S)
    return match.group(1) if match else ""


# Previous and Next with odd or hostile queues


@pytest.mark.parametrize(
    "queue",
    [
        "sort=requester__password",
        "sort=-requester__password&sort=number",
        "unknown=1&__class__=x&status=bogus",
        "page=999999999999999999999999999999",
        "page=-5&status=new",
        "organization=99999999999999999999",
        "team=abc&assignee=%27%3B--",
        "requester=1e9",
        "tag=" + "x" * 500,
        "created_after=0001-01-01&created_before=9999-12-31",
        "solved_within=100000",
        "q=" + "printer " * 300,
        "q=%22unclosed&q=-&q=OR",
        "q=T-99999999999999999999",
        "%ZZ=%%&&&==",
    ],
)
def test_hostile_queue_queries_never_break_the_workspace(client, desk, queue):
    """Whatever the `queue` parameter holds, the workspace opens (never a 500) and Previous/Next name
    only tickets of the queue the agent may open."""
    others = _numbered(desk, 3)
    client.force_login(desk["agent"])
    response = client.get(ws(desk["ticket"]), {"queue": queue})
    assert response.status_code == 200
    visible = {desk["ticket"].number, *(t.number for t in others)}
    for number in _nav(response):
        assert number is None or number in visible


def test_a_disallowed_sort_is_read_as_the_default_sort(client, desk):
    """sort=requester__password never reaches the ORM: the neighbours are the default order's."""
    a, b, c = _numbered(desk, 3)
    client.force_login(desk["agent"])
    default = _nav(client.get(ws(b), {"queue": ""}))
    hostile = _nav(client.get(ws(b), {"queue": "sort=requester__password"}))
    assert default == hostile == (c.number, a.number)


def test_next_on_the_last_row_of_a_page_goes_on_to_the_first_row_of_the_next_page(client, desk):
    """25 a page: Next from the 25th row is the 26th (page 2), Previous from the 26th is the 25th; the
    page number in the queue does not cut the walk."""
    insert_tickets(60, requester=desk["customer"], team=desk["support"])
    client.force_login(desk["agent"])
    first_page = client.get(QUEUE, {"sort": "-number"}).context["queue"].tickets
    second_page = client.get(QUEUE, {"sort": "-number", "page": 2}).context["queue"].tickets
    last_of_first, first_of_second = first_page[-1], second_page[0]
    response = client.get(ws(last_of_first), {"queue": "sort=-number"})
    assert _nav(response)[1] == first_of_second.number
    response = client.get(ws(first_of_second), {"queue": "sort=-number&page=2"})
    assert _nav(response)[0] == last_of_first.number


def test_first_and_last_tickets_of_the_queue_have_no_previous_or_next(client, desk):
    a, b = _numbered(desk, 2)
    client.force_login(desk["agent"])
    first = client.get(ws(desk["ticket"]), {"queue": "sort=-number"})
    last = client.get(ws(b), {"queue": "sort=-number"})
    assert _nav(first) == (None, a.number)
    assert _nav(last) == (a.number, None)
    assert "Previous" not in _nav_html(first) and "Next" not in _nav_html(last)


def test_neighbours_skip_other_teams_tickets_and_name_none_of_them(client, desk):
    """A queue of everything of one organisation holds another team's tickets between the agent's: Next
    goes past them, and neither the link nor the page names their number or subject."""
    mine_before = desk["ticket"]
    hidden = make_ticket(desk["customer"], team=desk["billing"], subject="Secret billing matter")
    mine_after = make_ticket(desk["customer"], team=desk["support"], subject="Visible one")
    client.force_login(desk["agent"])
    queue = f"organization={desk['customer'].organization_id}&sort=-number"
    response = client.get(ws(mine_before), {"queue": queue})
    assert _nav(response) == (None, mine_after.number)
    text = page_text(response)
    assert "Secret billing matter" not in text
    assert f"/desk/tickets/{hidden.number}/" not in text


def test_neighbours_posted_back_after_work_cannot_name_an_invisible_ticket(client, desk):
    """The previous/next carried over a piece of work come from the page, i.e. from the client: a
    number of another team's ticket typed there is never linked."""
    hidden = make_ticket(desk["customer"], team=desk["billing"], subject="Secret billing matter")
    deleted = make_ticket(desk["customer"], team=desk["support"], subject="Deleted one")
    services.ticket_delete(deleted, actor=make_administrator())
    client.force_login(desk["agent"])
    response = client.get(
        ws(desk["ticket"]), {"queue": "", "previous": str(hidden.number), "next": str(deleted.number)}
    )
    assert response.status_code == 200
    assert _nav(response) == (None, None)
    assert f"/desk/tickets/{hidden.number}/" not in response.content.decode()


def test_neighbours_follow_a_text_search(client, desk):
    """`queue=q=...`: Next and Previous walk the search's matches only."""
    a = make_ticket(desk["customer"], team=desk["support"], subject="Scanner jammed")
    make_ticket(desk["customer"], team=desk["support"], subject="Unrelated matter")
    b = make_ticket(desk["customer"], team=desk["support"], subject="Scanner smoking")
    client.force_login(desk["agent"])
    response = client.get(ws(a), {"queue": "q=scanner&sort=-number"})
    assert _nav(response) == (None, b.number)


def test_a_saved_view_deleted_since_still_walks_its_filters(client, desk):
    """The queue travels as its query, not as the view's id: deleting the view leaves Next working."""
    agent = desk["agent"]
    view = services.saved_view_create(
        name="Urgent", query="priority=urgent&sort=-number", team=None, actor=agent
    )
    a, b = _numbered(desk, 2)
    Ticket.objects.filter(pk__in=[a.pk, b.pk]).update(priority="urgent")
    services.saved_view_delete(view, actor=agent)
    client.force_login(agent)
    response = client.get(ws(a), {"queue": view.query})
    assert response.status_code == 200
    assert _nav(response) == (None, b.number)


def test_queue_with_thousands_of_fields_is_refused_not_a_500(client, desk):
    """A queue query of more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS is refused (400), not a crash."""
    client.force_login(desk["agent"])
    response = client.get(ws(desk["ticket"]), {"queue": "&".join(f"k{n}=1" for n in range(2000))})
    assert response.status_code in (200, 400)


# The requester panel


def test_requester_panel_lists_only_tickets_the_agent_may_open(client, desk):
    """Not another team's, not a soft-deleted one, not the ticket itself."""
    own = make_ticket(desk["customer"], team=desk["support"], subject="Another support one")
    make_ticket(desk["customer"], team=desk["billing"], subject="Secret billing matter")
    gone = make_ticket(desk["customer"], team=desk["support"], subject="Spam deleted")
    services.ticket_delete(gone, actor=make_administrator())
    client.force_login(desk["agent"])
    response = client.get(ws(desk["ticket"]))
    listed = [t.pk for t in response.context["workspace"].other_tickets]
    assert listed == [own.pk]
    text = page_text(response)
    assert "Secret billing matter" not in text and "Spam deleted" not in text


def test_requester_panel_is_bounded_with_a_link_and_constant_in_queries(client, desk):
    """A requester with 5,000 tickets: a handful shown and a link to all of them, in as many queries as
    for a requester with one other ticket."""
    make_ticket(desk["customer"], team=desk["support"], subject="Just one more")
    client.force_login(desk["agent"])
    client.get(ws(desk["ticket"]))  # caches warmed
    with CaptureQueriesContext(connection) as few:
        client.get(ws(desk["ticket"]))
    insert_tickets(5000, requester=desk["customer"], team=desk["support"])
    with CaptureQueriesContext(connection) as many:
        response = client.get(ws(desk["ticket"]))
    assert len(many) == len(few)
    assert 1 <= len(response.context["workspace"].other_tickets) <= 20
    assert f"{QUEUE}?requester={desk['customer'].pk}" in response.content.decode()


def test_all_their_tickets_link_lists_only_visible_tickets(client, desk):
    make_ticket(desk["customer"], team=desk["support"], subject="Another support one")
    make_ticket(desk["customer"], team=desk["billing"], subject="Secret billing matter")
    client.force_login(desk["agent"])
    response = client.get(QUEUE, {"requester": desk["customer"].pk})
    assert response.status_code == 200
    subjects = {t.subject for t in response.context["queue"].tickets}
    assert subjects == {"Printer on fire", "Another support one"}


def test_organisation_links_to_a_queue_filtered_by_it(client, desk):
    organization = desk["customer"].organization
    client.force_login(desk["agent"])
    html = client.get(ws(desk["ticket"])).content.decode()
    link = f"{QUEUE}?organization={organization.pk}"
    assert f'href="{link}"' in html
    listed = client.get(link).context["queue"].tickets
    assert [t.pk for t in listed] == [desk["ticket"].pk]


# The activity timeline


def test_timeline_names_changes_readably_and_escapes_values(client, desk):
    """Custom fields by label, tags, an assignment by nobody (System), a merge: readable words, and
    values escaped."""
    form = TicketFormFactory(
        schema=[{"name": "order_number", "label": "Order number", "type": "text", "required": False}]
    )
    customer = desk["customer"]
    ticket = make_ticket(customer, team=desk["support"], form=form, custom_fields={"order_number": "A1"})
    agent = desk["agent"]
    services.ticket_update_fields(
        ticket, changes={"custom_fields": {"order_number": "<script>alert(1)</script>"}}, actor=agent
    )
    services.ticket_set_tags(ticket, names=["vip", "printer"], actor=agent)
    services.ticket_assign(ticket, assignee=agent, actor=None)
    services.ticket_merge(desk["ticket"], into=ticket, actor=desk["supervisor"])
    client.force_login(agent)
    response = client.get(ws(ticket))
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html
    timeline = seen_text(re.search(r'<ol class="timeline".*?</ol>', html, re.S).group(0))
    assert "custom fields changed Order number: A1 → Order number: <script>alert(1)</script>" in timeline
    assert "tags changed — → printer, vip" in timeline
    assert "System assignee changed — → Alex Agent" in timeline
    assert f"merged: from {desk['ticket'].reference} (1 message)" in timeline
    assert "order_number" not in timeline and "merged_from" not in timeline


def test_the_timeline_of_a_merged_ticket_does_not_name_a_target_the_agent_cannot_open(client, desk):
    """Support's T-1 was merged (by an administrator) into the same customer's ticket with Billing.
    The workspace does not name it to a Support agent ("merged into a ticket outside your queues"), the
    Activity timeline neither (selectors._hide_references_out_of_reach): its reference would tell of a
    ticket in another team's queue. An administrator, who may open it, reads its reference."""
    source = desk["ticket"]
    target = make_ticket(desk["customer"], team=desk["billing"], subject="Secret billing matter")
    services.ticket_merge(source, into=target, actor=make_administrator())
    client.force_login(desk["agent"])
    response = client.get(ws(source))
    assert response.status_code == 200
    text = page_text(response)
    assert "outside your queues" in text
    assert target.reference not in text
    client.force_login(make_administrator())
    assert target.reference in page_text(client.get(ws(source)))


# Tickets whose people or team went away


def test_workspace_of_a_ticket_whose_team_was_deleted_renders(client, desk):
    admin = make_administrator(name="Ada Admin")
    ticket = desk["ticket"]
    services.ticket_update_fields(ticket, changes={"priority": "high"}, actor=desk["agent"])
    Team.objects.filter(pk=desk["support"].pk).delete()
    client.force_login(admin)
    response = client.get(ws(ticket), {"queue": f"team={desk['support'].pk}"})
    assert response.status_code == 200
    client.force_login(desk["agent"])
    assert client.get(ws(ticket)).status_code == 404


def test_workspace_of_an_anonymised_or_suspended_requester_renders(client, desk):
    customer = desk["customer"]
    customer.name = ""
    customer.email = "deleted-user-42@invalid"
    customer.status = customer.Status.SUSPENDED
    customer.suspended_until = timezone.now() + timedelta(days=3650)
    customer.save()
    customer.organization.is_active = False
    customer.organization.save()
    client.force_login(desk["agent"])
    response = client.get(ws(desk["ticket"]))
    assert response.status_code == 200
    assert "Suspended" in page_text(response)


def test_timeline_of_an_actor_removed_from_all_teams_renders(client, desk):
    colleague = desk["colleague"]
    services.ticket_update_fields(desk["ticket"], changes={"priority": "high"}, actor=colleague)
    type(colleague).objects.filter(pk=colleague.pk).update(status=colleague.Status.SUSPENDED)
    client.force_login(desk["agent"])
    response = client.get(ws(desk["ticket"]))
    assert response.status_code == 200
    assert "Casey Colleague" in page_text(response)


# The ticket number in the address


@pytest.mark.parametrize(
    "typed",
    ["-{n}", "{n}.0", "{n}x", "T{n}", "t--{n}", "9" * 18, "9" * 19, "9" * 40, "0" * 30 + "{n}", "%20{n}"],
)
def test_odd_ticket_numbers_in_the_address_answer_404(client, desk, typed):
    client.force_login(desk["agent"])
    path = f"/desk/tickets/{typed.format(n=desk['ticket'].number)}/"
    response = client.get(path)
    assert response.status_code == 404


@pytest.mark.parametrize("typed", ["T-{n}", "t-{n}", "00{n}", "T-000{n}"])
def test_reference_forms_of_the_number_open_the_ticket_or_redirect(client, desk, typed):
    """The number as a reference (T-42, t-42) or with leading zeros: the ticket, or a redirect to it;
    every form on the page posts to the canonical address."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    response = client.get(f"/desk/tickets/{typed.format(n=ticket.number)}/")
    assert response.status_code in (200, 301, 302)
    if response.status_code == 200:
        assert response.context["ticket"].pk == ticket.pk
        actions = re.findall(r'action="([^"]+)"', response.content.decode())
        assert all(f"/desk/tickets/{ticket.number}/" in a for a in actions if "/desk/tickets/" in a)


@pytest.mark.parametrize(
    "queue", ["status=new\r\nSet-Cookie: x=1", "//evil.example/", "https://evil.example/"]
)
def test_work_sent_with_a_hostile_queue_comes_back_on_site(client, desk, queue):
    """The queue a piece of work carries back (and the way back to the queue when the work takes the
    ticket out of reach) stays an on-site address with no header injected."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    data = {"field": "priority", "value": "high", "version": ticket.version, "queue": queue}
    response = client.post(reverse("tickets:desk_update", args=[ticket.number]), data)
    assert response.status_code == 302
    assert response["Location"].startswith(f"/desk/tickets/{ticket.number}/?queue=")
    assert "\n" not in response["Location"] and "Set-Cookie" not in response.headers
    moved = {"field": "team", "value": desk["billing"].pk, "version": ticket.version + 1, "queue": queue}
    response = client.post(reverse("tickets:desk_update", args=[ticket.number]), moved)
    assert response.status_code == 302
    assert response["Location"].startswith("/desk/?") and "\n" not in response["Location"]
