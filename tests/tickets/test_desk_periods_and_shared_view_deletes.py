"""The desk's period filters ("Created in", "Updated in", "Solved in") and "Recently solved" as a period,
across time zones, saving, paging, refresh and hostile values; and shared views that the team's
supervisors and administrators may delete, with the audit trail of one deleted."""

import zoneinfo
from datetime import UTC, datetime, time, timedelta
from html import unescape

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from guardian.shortcuts import assign_perm

from accounts import roles
from accounts.models import TeamMember
from audit.models import AuditEvent
from tests.conftest import made_once_per_module
from tests.factories import (
    SavedViewFactory,
    TeamFactory,
    TeamMemberFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tests.tickets.conftest import make_desk
from tickets import selectors
from tickets import services as ticket_services
from tickets.models import SavedView, Ticket
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

_desk_rows, desk = made_once_per_module(make_desk, "desk")

QUEUE = reverse("tickets:desk_queue")
CREATE_VIEW = reverse("tickets:desk_view_create")
FRAGMENT = {"HX-Request": "true", "HX-Target": "queue-table"}


def subjects(response) -> set[str]:
    return {ticket.subject for ticket in response.context["queue"].tickets}


def recently_solved_query() -> str:
    return next(view for view in selectors.built_in_views() if view.slug == "solved").query


def delete_url(view) -> str:
    return reverse("tickets:desk_view_delete", args=[view.pk])


def solve(ticket, agent, at: datetime) -> None:
    ticket_services.ticket_transition(ticket, status=Status.RESOLVED, actor=agent)
    Ticket.objects.filter(pk=ticket.pk).update(resolved_at=at, updated_at=at)


# --- the audit trail of a deleted shared view ----------------------------------------------------------


def test_a_deleted_team_view_does_not_show_its_events_to_the_supervisor_of_the_owners_new_team(client, desk):
    """Casey shared "Acme escalations" with Support, then moved to Billing. Billing's supervisor does not
    read that view's events (a view shared with another team is that team's: its name may name a
    customer of theirs), and still does not once Support's supervisor has deleted it and its team is no
    longer known from the row."""
    casey, support, billing = desk["colleague"], desk["support"], desk["billing"]
    client.force_login(casey)
    client.post(CREATE_VIEW, {"name": "Acme escalations", "query": "status=open", "team": support.pk})
    view = SavedView.objects.get(name="Acme escalations")
    TeamMember.objects.filter(team=support, user=casey).delete()
    TeamMemberFactory(team=billing, user=casey)
    billing_supervisor = make_supervisor(billing, name="Bill Boss")

    def seen_by_billing() -> set[str]:
        events = AuditEvent.objects.visible_to(billing_supervisor).filter(object_id=str(view.pk))
        return set(events.filter(object_type__model="savedview").values_list("action", flat=True))

    assert seen_by_billing() == set()  # before: Support's view, not Billing's
    client.force_login(desk["supervisor"])
    client.post(delete_url(view), follow=True)  # (its message read here, not on the next page)
    assert not SavedView.objects.filter(pk=view.pk).exists()
    # After: still Support's view's history, not Billing's.
    client.force_login(billing_supervisor)
    page = unescape(client.get(reverse("audit:event_list")).content.decode())
    assert "Acme escalations" not in page
    assert seen_by_billing() == set()


# --- who may delete a shared view: the button and the service agree ------------------------------------


def _shown_delete(client, view) -> bool:
    return f'formaction="{delete_url(view)}"' in client.get(QUEUE).content.decode()


def test_the_delete_button_is_shown_to_exactly_the_people_the_service_lets_delete(client, desk):
    """for a view Casey shared with Support, the Delete button shows for Casey, Support's
    supervisor, an administrator and a Support lead, and not for a teammate, an agent granted Support's
    queue explicitly, Billing's supervisor or a customer; each of those gets 404 and the view stays."""
    from accounts import rbac

    support = desk["support"]
    shared = SavedViewFactory(owner=desk["colleague"], team=support, name="Casey's shared")
    granted = make_agent(desk["billing"], name="Granted Gail")
    assign_perm(rbac.WORK_TEAM_QUEUE, granted, support)
    lead = make_agent(support, team_role=TeamMember.Role.LEAD, name="Lee Lead")
    allowed = [desk["colleague"], desk["supervisor"], make_administrator(name="Ada Admin"), lead]
    refused = [desk["agent"], granted, make_supervisor(desk["billing"], name="Other Boss")]
    for user in allowed:
        client.force_login(user)
        assert _shown_delete(client, shared), user
    for user in refused:
        client.force_login(user)
        shown = client.get(QUEUE).content.decode()
        assert f'formaction="{delete_url(shared)}"' not in shown, user
        assert client.post(delete_url(shared)).status_code == 404, user
    client.force_login(make_customer())
    assert client.post(delete_url(shared)).status_code == 404
    assert SavedView.objects.filter(pk=shared.pk).exists()
    # A private view stays its owner's alone: an administrator is refused too.
    private = SavedViewFactory(owner=desk["colleague"], name="Casey's own")
    client.force_login(allowed[2])
    assert client.post(delete_url(private)).status_code == 404
    assert SavedView.objects.filter(pk=private.pk).exists()
    # The granted agent does see the view (it is shared with a queue they work), just not its button.
    client.force_login(granted)
    assert f'id="saved-view-{shared.pk}"' in client.get(QUEUE).content.decode()


def test_a_temporary_supervisor_role_deletes_team_views_only_while_it_lasts(client, clock, desk):
    """an agent made Supervisor until tomorrow (a plain member of Support) may delete Support's
    shared views today; once the role has ended, the button is gone and the delete answers 404."""
    from accounts import services as account_services

    temp = make_agent(desk["support"], name="Tem Porary")
    account_services.role_assign(
        temp, roles.SUPERVISOR, expires_at=datetime.now(UTC) + timedelta(days=1), actor=None
    )
    shared = SavedViewFactory(owner=desk["colleague"], team=desk["support"], name="Shared one")
    client.force_login(temp)
    assert _shown_delete(client, shared)
    clock.shift(timedelta(days=2))
    cache.clear()
    assert not _shown_delete(client, shared)
    assert client.post(delete_url(shared)).status_code == 404
    assert SavedView.objects.filter(pk=shared.pk).exists()


def test_a_view_shared_with_a_team_since_closed_can_still_be_tidied_by_its_supervisor(client, desk):
    """Support closed down (inactive); its supervisor still sees and may delete the views shared
    with it, and the audit event names owner and team."""
    shared = SavedViewFactory(owner=desk["colleague"], team=desk["support"], name="Old queue")
    type(desk["support"]).objects.filter(pk=desk["support"].pk).update(is_active=False)
    client.force_login(desk["supervisor"])
    assert _shown_delete(client, shared)
    response = client.post(delete_url(shared), follow=True)
    assert "Deleted the view “Old queue”." in unescape(response.content.decode())
    event = AuditEvent.objects.get(action="delete", object_id=str(shared.pk))
    assert event.actor == desk["supervisor"]
    assert event.changes["team"][0] == "Support" and event.changes["owner"][0] == str(desk["colleague"])


def test_deletion_is_judged_on_the_row_as_it_is_now(client, desk):
    """the supervisor's delete, read while the view was shared, meets it un-shared by its owner
    (the row is locked and judged again): refused, view kept, nothing recorded. The owner's delete that
    got there first leaves the supervisor's second one a "deleted already", with one audit event."""
    shared = SavedViewFactory(owner=desk["colleague"], team=desk["support"], name="Racing")
    stale = SavedView.objects.get(pk=shared.pk)
    SavedView.objects.filter(pk=shared.pk).update(team=None)
    with pytest.raises(ticket_services.TicketNotAllowed):
        ticket_services.saved_view_delete(stale, actor=desk["supervisor"])
    assert SavedView.objects.filter(pk=shared.pk).exists()
    assert not AuditEvent.objects.filter(action="delete", object_id=str(shared.pk)).exists()

    SavedView.objects.filter(pk=shared.pk).update(team=desk["support"])
    stale = SavedView.objects.get(pk=shared.pk)
    assert ticket_services.saved_view_delete(shared, actor=desk["colleague"]) is True
    assert ticket_services.saved_view_delete(stale, actor=desk["supervisor"]) is False
    assert AuditEvent.objects.filter(action="delete", object_id=str(shared.pk)).count() == 1


def test_the_queue_costs_as_many_queries_with_one_or_ten_deletable_views(client, desk):
    """deciding each view's Delete button costs no query per view (a supervisor's list)."""

    def cost() -> int:
        cache.clear()
        with CaptureQueriesContext(connection) as queries:
            client.get(QUEUE)
        return len(queries)

    SavedViewFactory(owner=desk["colleague"], team=desk["support"], name="Shared 0")
    client.force_login(desk["supervisor"])
    one = cost()
    for n in range(1, 10):
        SavedViewFactory(owner=desk["colleague"], team=desk["support"], name=f"Shared {n}")
    assert cost() == one


# --- periods: "Recently solved" counted as its link lists -----------------------------------------------


@pytest.mark.parametrize(
    ("zone", "now"),
    [
        # Chile's clocks skip midnight (00:00 -> 01:00) on 6 September 2026: the first day of the period.
        ("America/Santiago", datetime(2026, 9, 13, 12, 0, tzinfo=UTC)),
        # ... and repeat 23:00 on 4 April 2026 (midnight of the 5th comes once, after).
        ("America/Santiago", datetime(2026, 4, 12, 3, 30, tzinfo=UTC)),
        ("Europe/Berlin", datetime(2026, 11, 1, 0, 30, tzinfo=UTC)),
        ("Pacific/Kiritimati", datetime(2026, 12, 5, 10, 30, tzinfo=UTC)),
        ("Pacific/Pago_Pago", datetime(2026, 12, 5, 10, 30, tzinfo=UTC)),
    ],
)
def test_recently_solved_counts_what_its_link_lists_at_the_edge_of_its_first_day(client, clock, zone, now):
    """in zones with midnight skipped or repeated and at the date line, a ticket solved at the
    first instant of the period's first day is both counted and listed; one a minute before, neither."""
    team = TeamFactory()
    agent = make_agent(team)
    agent.timezone = zone
    agent.save(update_fields=["timezone"])
    clock.move_to(now, tick=False)
    tz = zoneinfo.ZoneInfo(zone)
    first_day = now.astimezone(tz).date() - timedelta(days=selectors.RECENTLY_SOLVED_DAYS)
    edge = datetime.combine(first_day, time.min, tzinfo=tz)
    # The real first instant of that day: the earliest UTC minute whose local date is first_day.
    probe = edge - timedelta(hours=3)
    while probe.astimezone(tz).date() < first_day:
        probe += timedelta(minutes=1)
    assert probe == edge
    customer = make_customer()
    solve(make_ticket(customer, team=team, subject="At the edge"), agent, edge)
    solve(make_ticket(customer, team=team, subject="A minute before"), agent, edge - timedelta(minutes=1))
    client.force_login(agent)
    page = client.get(QUEUE + "?" + recently_solved_query())
    assert subjects(page) == {"At the edge"}
    assert page.context["counts"]["solved"] == 1


def test_recently_solved_widened_to_thirty_days_lists_what_was_solved_twenty_days_ago(client, desk):
    """Opened from "Recently solved" and widened with "Solved in: the last 30 days", the list holds a
    ticket solved (and so last updated) twenty days ago: no hidden "Updated in: 7 days" keeps it to a
    week."""
    solve(desk["ticket"], desk["agent"], datetime.now(UTC) - timedelta(days=20))
    client.force_login(desk["agent"])
    query = recently_solved_query()
    assert "updated_within" not in query
    assert subjects(client.get(QUEUE + "?" + query)) == set()
    widened = query.replace("solved_within=7", "solved_within=30")
    assert subjects(client.get(QUEUE + "?" + widened)) == {"Printer on fire"}


def test_a_view_saved_from_recently_solved_before_it_was_a_period_becomes_the_period(desk):
    """The migration turns a view saved from the old "Recently solved" link (its week's first day as two
    from-dates) into the period the link now is, and leaves any other query as it was."""
    import importlib

    from django.apps import apps

    old = SavedViewFactory(
        owner=desk["agent"],
        name="My solved",
        query="status=resolved&status=closed&updated_after=2026-11-29&solved_after=2026-11-29",
    )
    chosen = SavedViewFactory(
        owner=desk["agent"],
        name="Solved since the audit",
        query="status=resolved&status=closed&updated_after=2026-11-01&solved_after=2026-11-29",
    )
    importlib.import_module("tickets.migrations.0023_recently_solved_saved_as_a_period").to_period(apps, None)
    assert SavedView.objects.get(pk=old.pk).query == recently_solved_query()
    assert SavedView.objects.get(pk=chosen.pk).query == chosen.query


def test_recently_solved_moves_at_the_readers_midnight(client, clock):
    """a ticket solved 7 days ago in the morning leaves the list and the count together at the
    reader's midnight, not at UTC's, and the count under the list follows within the refresh."""
    team = TeamFactory()
    agent = make_agent(team)
    agent.timezone = "Asia/Tokyo"
    agent.save(update_fields=["timezone"])
    clock.move_to(datetime(2026, 12, 12, 14, 59, tzinfo=UTC), tick=False)  # 23:59 in Tokyo on the 12th
    solve(make_ticket(make_customer(), team=team, subject="Solved the 5th"), agent,
          datetime(2026, 12, 5, 1, 0, tzinfo=UTC))  # 10:00 in Tokyo on the 5th  # fmt: skip
    client.force_login(agent)
    url = QUEUE + "?" + recently_solved_query()
    page = client.get(url)
    assert subjects(page) == {"Solved the 5th"} and page.context["counts"]["solved"] == 1
    clock.move_to(datetime(2026, 12, 12, 15, 1, tzinfo=UTC), tick=False)  # 00:01 on the 13th
    page = client.get(url)
    assert subjects(page) == set() and page.context["counts"]["solved"] == 0
    clock.shift(timedelta(seconds=31))
    assert client.get(url).context["queue"].page.paginator.count == 0


# --- periods: saving, marking, hostile values, paging, refresh, the bulk form's way back ------------------


def test_a_view_saved_with_a_period_keeps_it_and_is_marked_and_named_when_opened(client, desk):
    """ "Save this view" on a queue filtered by periods keeps the period keys (and drops the page
    and unknown keys); opening it marks its link aria-current and names it in the title and heading."""
    client.force_login(desk["agent"])
    posted = "status=resolved&solved_within=30&created_within=0&updated_within=1&page=3&evil=1"
    response = client.post(CREATE_VIEW, {"name": "Solved this month", "query": posted})
    view = SavedView.objects.get(name="Solved this month")
    assert view.query == "status=resolved&solved_within=30&created_within=0&updated_within=1"
    assert response.status_code == 302 and response["Location"].endswith("?" + view.query)
    page = client.get(response["Location"])
    html = page.content.decode()
    assert (
        f'id="saved-view-{view.pk}" href="{QUEUE}?{view.query.replace("&", "&amp;")}" aria-current="page"'
        in html
    )
    assert "<title>Solved this month · Queue" in html and ">Solved this month</h1>" in html
    assert '<option value="30" selected>The last 30 days</option>' in html
    assert '<option value="0" selected>Today</option>' in html


def test_a_view_saved_with_a_built_in_views_question_leaves_one_link_marked(client, desk):
    """Saved from "Recently solved" as it is, a view asks the built-in one's question: opening either
    marks one link (the built-in view's, listed first) and the page is named once, not two links
    "current" at the same time (a screen reader would announce both)."""
    client.force_login(desk["agent"])
    solved = next(view for view in selectors.built_in_views() if view.slug == "solved")
    for name in ("My solved", "Solved, again"):
        ticket_services.saved_view_create(name=name, query=solved.query, team=None, actor=desk["agent"])
    html = client.get(f"{QUEUE}?{solved.query}").content.decode()
    views = html[html.index('<div id="view-lists"') : html.index('id="saved-view-delete-form"')]
    assert views.count('aria-current="page"') == 1
    assert 'aria-current="page" data-view="solved"' in views
    assert f"<title>{solved.name} · Queue" in html


@pytest.mark.parametrize(
    "value", ["5", "\u0667", "\uff17", "99999999999999999999999999", "-0", " 7", "7.0", "1e1", "\u0037\u0338"]
)
def test_a_hostile_period_is_said_and_not_applied(client, desk, value):
    """a period the menu does not offer (other digits, a huge number, a sign, spaces) answers 200,
    names the problem and does not narrow the list; the menu then reads "Any time"."""
    client.force_login(desk["agent"])
    everything = subjects(client.get(QUEUE))
    page = client.get(QUEUE, {"created_within": value})
    assert page.status_code == 200
    assert any(problem.startswith("Created in:") for problem in page.context["queue"].filterset.problems)
    assert subjects(page) == everything
    assert (
        " selected>" not in page.content.decode().split('id="queue-created-within"')[1].split("</select>")[0]
    )


def test_a_period_given_twice_is_read_as_its_last_value_everywhere(client, clock, desk):
    """?solved_within=0&solved_within=30 filters by the last (as every repeated key does), and
    its menu and the count under the list say the same."""
    customer = desk["customer"]
    old = make_ticket(customer, team=desk["support"], subject="Solved 10 days ago")
    solve(old, desk["agent"], datetime.now(UTC) - timedelta(days=10))
    client.force_login(desk["agent"])
    page = client.get(QUEUE + "?solved_within=0&solved_within=30")
    assert subjects(page) == {"Solved 10 days ago"} and page.context["queue"].page.paginator.count == 1
    assert '<option value="30" selected>' in page.content.decode()
    assert subjects(client.get(QUEUE + "?solved_within=30&solved_within=0")) == set()


def test_a_period_and_from_to_days_both_apply(client, clock, desk):
    """ "Solved in: the last 30 days" with "Solved from/to" lists what both allow."""
    now = datetime.now(UTC)
    for days in (2, 12, 40):
        ticket = make_ticket(desk["customer"], team=desk["support"], subject=f"Solved {days} days ago")
        solve(ticket, desk["agent"], now - timedelta(days=days))
    client.force_login(desk["agent"])
    today = now.date()
    params = {"solved_within": "30", "solved_after": (today - timedelta(days=60)).isoformat(),
              "solved_before": (today - timedelta(days=5)).isoformat()}  # fmt: skip
    assert subjects(client.get(QUEUE, params)) == {"Solved 12 days ago"}


def test_a_period_is_kept_by_sorting_paging_and_the_refresh_which_answers_304(client, desk):
    """a period survives the sort and the pages, the 30-second refresh of its fragment answers 304
    while nothing changed and 200 once a ticket is solved into it."""
    from tests.tickets.conftest import insert_tickets

    ids = insert_tickets(30, requester=desk["customer"], team=desk["support"], status="resolved")
    # Solved (and so updated) now: "an hour ago" was yesterday in the first hour of the day.
    now = datetime.now(UTC)
    Ticket.objects.filter(pk__in=ids).update(resolved_at=now, updated_at=now)
    client.force_login(desk["agent"])
    first = client.get(QUEUE, {"solved_within": "0", "sort": "-created"})
    assert len(first.context["queue"].tickets) == 25
    html = unescape(first.content.decode())
    assert f"{QUEUE}?solved_within=0&sort=-created&page=2" in html
    second = client.get(QUEUE, {"solved_within": "0", "sort": "-created", "page": "2"})
    assert len(second.context["queue"].tickets) == 5
    assert second.context["current_view"] is None
    refresh = client.get(QUEUE, {"solved_within": "0"}, headers=FRAGMENT)
    etag = refresh["ETag"]
    again = client.get(QUEUE, {"solved_within": "0"}, headers={**FRAGMENT, "If-None-Match": etag})
    assert again.status_code == 304
    solve(desk["ticket"], desk["agent"], datetime.now(UTC))
    cache.clear()  # the refresh's counts may lag 30 s by design
    changed = client.get(QUEUE, {"solved_within": "0"}, headers={**FRAGMENT, "If-None-Match": etag})
    assert changed.status_code == 200 and changed["ETag"] != etag


def test_a_bulk_action_goes_back_to_the_queue_with_its_period(client, desk):
    """a bulk action sent from "Recently solved" comes back to it, period and all."""
    solve(desk["ticket"], desk["agent"], datetime.now(UTC))
    client.force_login(desk["agent"])
    back = QUEUE + "?" + recently_solved_query()
    page = client.get(back)
    assert f'name="back" value="{back.replace("&", "&amp;")}"' in page.content.decode()
    response = client.post(
        reverse("tickets:desk_bulk"),
        {"tickets": [str(desk["ticket"].pk)], "action": "priority:high", "back": back},
    )
    assert response.status_code == 302 and response["Location"] == back


def test_an_agent_keeps_and_a_team_is_shared_a_bounded_number_of_views(client, desk):
    """The queue lists every view an agent may open, at each refresh too: an agent's 101st view is refused
    with the reason, the name and team kept as typed (422), and so is a view shared with a team that has
    its 100 already; a private one may still be saved, and a deleted one makes room."""
    agent, support = desk["agent"], desk["support"]
    SavedView.objects.bulk_create(
        SavedView(owner=agent, name=f"Mine {n}", query="status=open")
        for n in range(ticket_services.SAVED_VIEWS_MAX)
    )
    client.force_login(agent)
    refused = client.post(CREATE_VIEW, {"name": "One too many", "query": "status=pending"})
    assert refused.status_code == 422
    assert ticket_services.SAVED_VIEWS_FULL in unescape(refused.content.decode())
    assert 'value="One too many"' in refused.content.decode()
    SavedView.objects.filter(owner=agent, name="Mine 0").delete()
    assert client.post(CREATE_VIEW, {"name": "One too many", "query": "status=pending"}).status_code == 302

    colleague, sharers = desk["colleague"], [make_agent(support) for _ in range(3)]
    SavedView.objects.bulk_create(
        SavedView(owner=sharers[n % 3], team=support, name=f"Shared {n}", query="status=open")
        for n in range(ticket_services.SAVED_VIEWS_MAX - 1)
    )
    client.force_login(colleague)
    assert (
        client.post(CREATE_VIEW, {"name": "The hundredth", "query": "", "team": support.pk}).status_code
        == 302
    )
    refused = client.post(CREATE_VIEW, {"name": "Shared again", "query": "", "team": support.pk})
    assert refused.status_code == 422
    assert ticket_services.TEAM_VIEWS_FULL.format(team=support) in unescape(refused.content.decode())
    assert client.post(CREATE_VIEW, {"name": "Shared again", "query": ""}).status_code == 302
