"""The queue's links, filters and caches at their edges: a queue page served at another address, tags
typed in any case, repeated parameters, the refresh's 304, merges and team moves, unusable filter
values, Previous/Next after an inline edit without JavaScript, cold-cache query budgets, bulk statuses."""

import re
from html import unescape

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from guardian.shortcuts import assign_perm

from accounts import rbac
from accounts.models import User
from helpdesk import counting
from tests.conftest import made_once_per_module
from tests.factories import (
    TeamFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tickets import selectors, services
from tickets.models import SavedView, Ticket, TicketActivity

pytestmark = pytest.mark.django_db

QUEUE = reverse("tickets:desk_queue")
BULK = reverse("tickets:desk_bulk")
FRAGMENT = {"HX-Request": "true", "HX-Target": "queue-table"}


def make_desk():
    support, billing = TeamFactory(name="Support"), TeamFactory(name="Billing")
    agent = make_agent(support, name="Alex Agent")
    colleague = make_agent(support, name="Casey Colleague")
    customer = make_customer(name="Carla Customer")
    ticket = make_ticket(customer, team=support, subject="Printer on fire")
    return {"agent": agent, "colleague": colleague, "customer": customer,
            "support": support, "billing": billing, "ticket": ticket}  # fmt: skip


_desk_rows, desk = made_once_per_module(make_desk, "desk")


def shown_total(response) -> str:
    return re.search(r"(\d+) tickets? · page", response.content.decode()).group(1)


# The 422 page of a refused "Save this view" is served at /desk/views/ (POST only): its relative
#    links, the table's 30-second refresh and the bulk form's "back" all point at /desk/views/ → 405.


def test_the_queue_shown_after_a_refused_saved_view_keeps_working(client, desk):
    for number in range(30):  # two pages
        make_ticket(desk["customer"], team=desk["support"], subject=f"Ticket {number}")
    agent = desk["agent"]
    SavedView.objects.create(owner=agent, name="New ones", query="status=new")
    client.force_login(agent)
    refused = client.post(
        reverse("tickets:desk_view_create"), {"name": "New ones", "query": "status=new", "team": ""}
    )
    assert refused.status_code == 422
    html = refused.content.decode()
    page_url = refused.wsgi_request.path  # what the browser's address bar shows: relative links resolve here
    back = unescape(re.search(r'name="back" value="([^"]*)"', html).group(1))
    refresh = unescape(re.search(r'id="queue-table"[^>]*hx-get="([^"]*)"', html).group(1))
    next_page = unescape(re.search(r'href="([^"]*)"[^>]*rel="next"', html).group(1))
    built_in = unescape(re.search(r'id="view-mine" href="([^"]*)"', html).group(1))

    def resolve(url: str) -> str:
        return page_url + url if url.startswith("?") else url

    # The 30-second refresh, the next page and the built-in views answer with the queue, not 405.
    for url in (refresh, next_page, built_in):
        assert client.get(resolve(url), headers=FRAGMENT if url == refresh else {}).status_code == 200, url
    # A bulk action taken from that page comes back to a queue, not to a 405.
    ticket = desk["ticket"]
    chosen = f"{ticket.pk}:{ticket.version}"
    done = client.post(BULK, {"tickets": chosen, "action": "assign_me", "back": back})
    assert client.get(done["Location"]).status_code == 200, done["Location"]


# Tags are stored in lower case with single spaces (services.clean_tag_names), but the queue's tag
#    filter compares the typed text exactly: "VIP" silently lists nothing although tickets carry "vip".


def test_the_tag_filter_finds_tags_however_they_are_typed(client, desk):
    ticket = desk["ticket"]
    services.ticket_set_tags(ticket, names=["VIP", "Big customer"], actor=desk["agent"])  # stored "vip"
    client.force_login(desk["agent"])
    for typed in ("VIP", "Big Customer", "big  customer"):
        response = client.get(QUEUE, {"tag": typed})
        assert [t.pk for t in response.context["queue"].tickets] == [ticket.pk], typed


# The cached total is keyed on the sorted (key, value) pairs, but the filter reads the last value of
#    a repeated key: "assignee=me&assignee=none" and "assignee=none&assignee=me" share one total.


def test_repeated_parameters_do_not_share_a_cached_total_with_another_filter(client, desk):
    agent = desk["agent"]
    mine = make_ticket(desk["customer"], team=desk["support"], subject="Mine")
    services.ticket_assign(mine, assignee=agent, actor=agent)
    make_ticket(desk["customer"], team=desk["support"], subject="Nobody's")  # 2 unassigned, 1 mine
    client.force_login(agent)
    unassigned = client.get(f"{QUEUE}?assignee=me&assignee=none")  # the filter reads "none"
    assert len(unassigned.context["queue"].tickets) == 2 and shown_total(unassigned) == "2"
    assigned = client.get(f"{QUEUE}?assignee=none&assignee=me")  # the filter reads "me": one row
    assert len(assigned.context["queue"].tickets) == 1
    assert shown_total(assigned) == "1"


# The 304 of the queue refresh carries none of the 200's caching headers; the session middleware
#    then stamps it "no-store" (and Vary: Cookie only). A 304 must repeat Cache-Control and Vary
#    (RFC 9110 §15.4.5); with no-store on the 304 the browser drops the entry it revalidated, so the next
#    refresh downloads the whole table again.


def test_the_304_of_the_queue_refresh_keeps_the_caching_headers_of_the_200(client, desk):
    client.force_login(desk["agent"])
    first = client.get(QUEUE, headers=FRAGMENT)
    again = client.get(QUEUE, headers={**FRAGMENT, "If-None-Match": first["ETag"]})
    assert again.status_code == 304
    assert "no-store" not in again["Cache-Control"]
    assert again["Cache-Control"] == first["Cache-Control"] == "private, no-cache"
    assert again["Vary"] == first["Vary"]


# A merge adds the source's tags to the target without any activity or audit entry saying so.


def test_a_merge_records_the_tags_it_adds_to_the_target(desk):
    source = make_ticket(desk["customer"], team=desk["support"], subject="Duplicate")
    services.ticket_set_tags(source, names=["printer"], actor=desk["agent"])
    into = desk["ticket"]
    services.ticket_merge(source, into=into, actor=make_administrator())
    assert list(into.tags.values_list("name", flat=True)) == ["printer"]
    recorded = TicketActivity.objects.filter(ticket=into).exclude(action=TicketActivity.Action.CREATED)
    assert any("printer" in repr((a.old_value, a.new_value)) for a in recorded), list(
        recorded.values_list("action", "field", "new_value")
    )


# "An assignee who does not work that team is unassigned" (README): someone who works the new team
#    through a team grant (work_team_queue, rbac.workable_team_ids) is unassigned too, because
#    services._works_team looks at memberships only.


def test_moving_a_ticket_keeps_an_assignee_who_works_the_new_team_through_a_grant(desk):
    granted = make_agent(desk["support"], name="Gus Granted")
    assign_perm("accounts.work_team_queue", granted, desk["billing"])
    granted = User.objects.get(pk=granted.pk)
    assert desk["billing"].pk in rbac.workable_team_ids(granted)
    ticket = desk["ticket"]
    services.ticket_assign(ticket, assignee=granted, actor=desk["agent"])
    services.ticket_update_fields(ticket, changes={"team": desk["billing"]}, actor=desk["agent"])
    ticket.refresh_from_db()
    assert ticket.assignee_id == granted.pk


# Every other unusable filter value is named on the page ("Some filters were not applied"); an
#    unusable assignee ("bob", "²", "-1") is dropped silently and the list widens to every assignee.


@pytest.mark.parametrize("value", ["bob", "-1", "²"])
def test_an_unusable_assignee_filter_is_named_not_silently_dropped(client, desk, value):
    client.force_login(desk["agent"])
    response = client.get(QUEUE, {"assignee": value})
    assert response.context["queue"].filterset.problems


# Without JavaScript, an inline edit that takes the ticket out of the queue it was opened from
#    (solving it from "My open tickets") loses Previous/Next; a reply doing the same keeps them
#    (_workspace_after_work). The inline forms post no previous/next and the redirect drops them.


def test_an_inline_edit_without_javascript_keeps_previous_and_next(client, desk):
    agent = desk["agent"]
    tickets = [make_ticket(desk["customer"], team=desk["support"], subject=f"T{i}") for i in range(3)]
    for ticket in tickets:
        services.ticket_assign(ticket, assignee=agent, actor=agent)
    client.force_login(agent)
    queue = "assignee=me&status=new&status=open&status=pending&status=on_hold&sort=-number"
    middle = Ticket.objects.get(pk=tickets[1].pk)
    page = client.get(reverse("tickets:desk_ticket", args=[middle.number]), {"queue": queue})
    assert (page.context["previous_number"], page.context["next_number"]) == (
        tickets[0].number,
        tickets[2].number,
    )
    # What the status form posts: its hidden inputs (queue, previous, next, version, field) and the choice.
    status_form = r'<form[^>]*/update/[^>]*>(?:(?!</form>).)*name="field" value="status".*?</form>'
    form = re.search(status_form, page.content.decode(), re.S).group(0)
    posted = {
        name: unescape(value)
        for name, value in re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', form)
    }
    solved = client.post(
        reverse("tickets:desk_update", args=[middle.number]), {**posted, "value": "resolved"}, follow=True
    )
    assert Ticket.objects.get(pk=middle.pk).status == "resolved"
    assert (solved.context["previous_number"], solved.context["next_number"]) == (
        tickets[0].number,
        tickets[2].number,
    )


# Query budget (queue ≤ 12, cold cache as in test_views_desk): an administrator's plain queue and
#    an agent's text search or organisation filter go over it.


@pytest.mark.parametrize(
    ("who", "query", "budget"),
    # A text search adds its people look-up and the walk of each visibility branch: 13 on a cold cache
    # (12 once its count is cached, tests/tickets/test_queue_scale.py).
    [("admin", "", 12), ("agent", "organization=ORG&status=new", 12), ("agent", "q=printer", 13)],
)
def test_the_queue_stays_within_its_query_budget_on_a_cold_cache(client, desk, who, query, budget):
    user = make_administrator() if who == "admin" else desk["agent"]
    for number in range(30):
        make_ticket(desk["customer"], team=desk["support"], subject=f"printer {number}")
    client.force_login(user)
    query = query.replace("ORG", str(desk["customer"].organization_id))
    cache.clear()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"{QUEUE}?{query}")
    assert response.status_code == 200 and response.context["queue"].tickets
    assert len(captured) <= budget, "\n".join(q["sql"][:120] for q in captured)


# The bulk menu offers "Status: New", which the workflow never allows (no status goes back to
#     New): every ticket comes back refused.


def test_the_bulk_menu_offers_only_statuses_a_ticket_can_be_set_to(client, desk):
    client.force_login(desk["agent"])
    html = client.get(QUEUE).content.decode()
    assert 'value="status:new"' not in html


def test_the_assignee_menus_offer_an_agent_who_works_the_team_through_a_grant(client, desk):
    granted = make_agent(desk["billing"], name="Gus Granted")
    assign_perm("accounts.work_team_queue", granted, desk["support"])
    client.force_login(desk["agent"])
    page = client.get(reverse("tickets:desk_ticket", args=[desk["ticket"].number])).content.decode()
    assert "Gus Granted" in page
    services.ticket_assign(desk["ticket"], assignee=User.objects.get(pk=granted.pk), actor=desk["agent"])
    assert Ticket.objects.get(pk=desk["ticket"].pk).assignee_id == granted.pk


def test_the_timeline_names_a_field_only_where_the_action_does_not(client, desk):
    ticket = desk["ticket"]
    services.ticket_transition(ticket, status="pending", actor=desk["agent"])
    services.ticket_update_fields(ticket, changes={"subject": "Printer on fire again"}, actor=None)
    client.force_login(desk["agent"])
    page = client.get(reverse("tickets:desk_ticket", args=[ticket.number])).content.decode()
    timeline = re.sub(r"\s+", " ", re.search(r'<ol class="timeline".*?</ol>', page, re.S).group(0))
    assert "status changed <span" in timeline and "status changed: status" not in timeline
    assert "fields changed: subject" in timeline


def test_next_after_a_reply_goes_on_to_the_ticket_that_followed_not_back(client):
    """A reply moves the ticket to the top of "Recently updated": Next stays the ticket that followed
    it on the page the reply was sent from, not the one before it, handled a moment ago."""
    team = TeamFactory()
    agent, customer = make_agent(team), make_customer()
    oldest, middle, newest = (
        make_ticket(customer, team=team, subject=name) for name in ("Old", "Mid", "New")
    )
    client.force_login(agent)
    page = client.get(reverse("tickets:desk_ticket", args=[middle.number]), {"queue": ""})
    assert (page.context["previous_number"], page.context["next_number"]) == (newest.number, oldest.number)
    reply = {"kind": "reply", "body": "On it.", "version": middle.version, "queue": "",
             "previous": newest.number, "next": oldest.number}  # fmt: skip
    response = client.post(reverse("tickets:desk_reply", args=[middle.number]), reply, follow=True)
    assert (response.context["previous_number"], response.context["next_number"]) == (
        newest.number,
        oldest.number,
    )


def signed_in_to_a_capped_queue(client, monkeypatch) -> None:
    """An agent signed in to a queue of 11 tickets, 2 a page, whose count is capped at 3."""
    monkeypatch.setattr(counting, "COUNT_CAP", 3)  # as 10,000 of a million tickets
    monkeypatch.setattr(selectors, "QUEUE_PAGE_SIZE", 2)
    team = TeamFactory()
    agent, customer = make_agent(team), make_customer()
    for number in range(11):
        make_ticket(customer, team=team, subject=f"Ticket {number}")
    client.force_login(agent)


def test_paging_past_a_capped_count_moves_forward(client, monkeypatch):
    """Past an estimated total, each page is the one asked for (its Next comes from its own rows); it
    read the last page by the estimate instead, so Next led back and the rest was out of reach."""
    signed_in_to_a_capped_queue(client, monkeypatch)
    shown = []
    for number in range(1, 8):
        page = client.get(QUEUE, {"page": number}).context["queue"].page
        assert page.paginator.count_is_estimate
        shown.append((page.number, len(page.object_list), page.has_next()))
    assert shown == [
        (1, 2, True),
        (2, 2, True),
        (3, 2, True),
        (4, 2, True),
        (5, 2, True),
        (6, 1, False),
        (6, 1, False),  # one past the end: the page before it, which is the last
    ]


@pytest.mark.parametrize("asked", [9, 999999])
def test_a_page_far_past_the_end_of_a_capped_queue_is_its_last_page(client, monkeypatch, asked):
    """A stale or typed ?page= far past the end of a queue longer than the cap: its last page, counted
    then, not an empty table saying that no ticket matches."""
    signed_in_to_a_capped_queue(client, monkeypatch)
    response = client.get(QUEUE, {"page": asked})
    page = response.context["queue"].page
    assert (page.number, len(page.object_list), page.has_next()) == (6, 1, False)
    assert "No tickets match" not in response.content.decode()


def test_the_assignee_filter_offers_an_agent_who_left_while_they_hold_the_teams_open_tickets(client):
    """An agent leaves their team still assigned an open ticket: the supervisor finds what they hold from the
    Assignee filter (their name is on the row already), not by typing their id into the address; the
    bulk "Assign to" menu still offers only the team's agents, and a closed ticket's holder is not listed."""
    support = TeamFactory(name="Field support")
    supervisor = make_supervisor(support)
    leaver, retired = make_agent(support, name="Lee Leaver"), make_agent(support, name="Rita Retired")
    held = make_ticket(make_customer(), team=support, subject="VPN drops")
    services.ticket_assign(held, assignee=leaver, actor=supervisor)
    done = make_ticket(make_customer(), team=support, subject="Old one")
    services.ticket_assign(done, assignee=retired, actor=supervisor)
    services.ticket_transition(Ticket.objects.get(pk=done.pk), status="closed", actor=supervisor)
    support.memberships.filter(user__in=[leaver, retired]).delete()
    client.force_login(supervisor)
    response = client.get(reverse("tickets:desk_queue"))
    assert (leaver.pk, "Lee Leaver (not in your teams)") in response.context["filter_agents"]
    assert leaver.pk not in dict(response.context["agents"])
    assert retired.pk not in dict(response.context["filter_agents"])
    listed = client.get(reverse("tickets:desk_queue"), {"assignee": leaver.pk}).context["queue"].tickets
    assert [ticket.subject for ticket in listed] == ["VPN drops"]
