"""The agent desk queue (/desk/), saved views and bulk actions with hostile or odd input: nothing leaks,
nothing breaks, and a refused form shows the queue it came from as it was."""

import re

import pytest
from django.urls import reverse
from guardian.shortcuts import assign_perm

from accounts.models import TeamMember
from tests.factories import (
    OrganizationFactory,
    SavedViewFactory,
    make_administrator,
    make_customer,
    make_ticket,
)
from tests.tickets.conftest import notes, page_text
from tickets import selectors, services
from tickets.models import SavedView, Ticket
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

QUEUE = reverse("tickets:desk_queue")
BULK = reverse("tickets:desk_bulk")
CREATE_VIEW = reverse("tickets:desk_view_create")
FRAGMENT = {"HX-Request": "true", "HX-Target": "queue-table"}


@pytest.fixture
def desk(desk):
    """The shared desk, plus a ticket of the Billing team the agent does not work."""
    desk["secret"] = make_ticket(desk["customer"], team=desk["billing"], subject="Secret billing matter")
    return desk


def subjects(response) -> set[str]:
    return {ticket.subject for ticket in response.context["queue"].tickets}


def selected_option(html: str, select_id: str) -> str | None:
    select = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', html, re.S).group(1)
    chosen = re.search(r'<option value="([^"]*)" selected>', select)
    return chosen.group(1) if chosen else None


def input_value(html: str, input_id: str) -> str:
    tag = re.search(rf'<input id="{input_id}"[^>]*>', html).group(0)
    value = re.search(r'value="([^"]*)"', tag)
    return value.group(1) if value else ""


# --- Filters: hostile query strings --------------------------------------------------------------


@pytest.mark.parametrize(
    "q",
    ["&", "|", "!", ":*", "<->", '"', "\\", "'a' & 'b'", "(", "a:*", '"unterminated', "x" * 10_000, "a\x00b"],
)
def test_odd_searches_answer_the_page_and_never_show_another_teams_ticket(client, desk, q):
    """Search text with tsquery operators, quotes, backslashes, NUL or 10k characters answers 200 (page
    and htmx fragment) and lists only tickets the agent works."""
    client.force_login(desk["agent"])
    for headers in ({}, FRAGMENT):
        response = client.get(QUEUE, {"q": q}, headers=headers)
        assert response.status_code == 200
        assert "Secret billing matter" not in subjects(response)


@pytest.mark.parametrize("number", ["0", "-1", "999999", "abc", "", "99999999999999999999999", "\x00"])
def test_any_page_number_answers_a_page_of_the_queue(client, desk, number):
    """page=0, -1, huge, non-numeric or NUL never errors: the first or last page is shown."""
    client.force_login(desk["agent"])
    response = client.get(QUEUE, {"page": number})
    assert response.status_code == 200
    assert subjects(response) == {"Printer on fire"}


def test_a_team_the_agent_does_not_work_reveals_nothing_of_it(client, desk):
    """team=<another team> is refused and named; neither the rows nor the total include that team's
    tickets."""
    client.force_login(desk["agent"])
    response = client.get(QUEUE, {"team": desk["billing"].pk})
    assert response.status_code == 200
    assert subjects(response) == {"Printer on fire"}
    assert response.context["queue"].page.paginator.count == 1
    assert "Some filters were not applied" in page_text(response)


# --- The filter form on a page served after a refused POST --------------------------------------


def test_a_refused_saved_view_shows_the_filters_it_was_saved_from(client, desk):
    """A "Save this view" refused (name taken) shows the queue it was saved from: the filter form must show
    the team, organisation and date filters that the table is filtered by, or the next Apply drops
    them silently (it reads request.GET, which is empty for this POST)."""
    organization = desk["customer"].organization
    SavedViewFactory(owner=desk["agent"], name="Fires")
    query = f"team={desk['support'].pk}&organization={organization.pk}&created_after=2020-01-01"
    client.force_login(desk["agent"])
    response = client.post(CREATE_VIEW, {"name": "Fires", "query": query})
    assert response.status_code == 422
    html = page_text(response)
    assert subjects(response) == {"Printer on fire"}  # the table is filtered by the saved query
    shown = {
        "team": selected_option(html, "queue-team"),
        "organization": selected_option(html, "queue-organization"),
        "created_after": input_value(html, "queue-created-after"),
    }
    assert shown == {"team": str(desk["support"].pk), "organization": str(organization.pk),
                     "created_after": "2020-01-01"}  # fmt: skip


def test_a_refused_bulk_action_shows_the_filters_of_the_queue_it_came_from(client, desk):
    """A bulk action refused as a whole (a tag action without a tag, 422) shows the queue named by `back`;
    its filter form must show that queue's team and date filters, as the table applies them."""
    ticket = desk["ticket"]
    back = f"{QUEUE}?team={desk['support'].pk}&updated_after=2020-01-01"
    client.force_login(desk["agent"])
    response = client.post(
        BULK, {"tickets": f"{ticket.pk}:{ticket.version}", "action": "add_tag", "value": "", "back": back}
    )
    assert response.status_code == 422
    html = page_text(response)
    shown = {
        "team": selected_option(html, "queue-team"),
        "updated_after": input_value(html, "queue-updated-after"),
    }
    assert shown == {"team": str(desk["support"].pk), "updated_after": "2020-01-01"}


def test_an_assignee_filter_outside_the_menu_stays_chosen(client, desk):
    """A queue filtered by an assignee who no longer works the agent's teams (a saved view of a colleague
    who moved to Billing) lists that person's tickets; the Assignee menu must keep them offered and
    selected (as the organisation menu does for a deactivated organisation), not read "Anyone" so that
    the next Apply drops the filter unnoticed."""
    colleague = desk["colleague"]
    services.ticket_assign(desk["ticket"], assignee=colleague, actor=None)
    TeamMember.objects.filter(user=colleague, team=desk["support"]).delete()
    TeamMember.objects.create(user=colleague, team=desk["billing"])
    client.force_login(desk["agent"])
    response = client.get(QUEUE, {"assignee": colleague.pk})
    assert subjects(response) == {"Printer on fire"}  # the filter is applied
    assert selected_option(page_text(response), "queue-assignee") == str(colleague.pk)


def test_an_assignee_filter_on_someone_holding_none_of_the_agents_tickets_names_nobody(client, desk):
    """The menu offers a chosen assignee from outside it only when they hold a ticket the agent sees (their
    name is on its row anyway): an id tried at random never shows whose it is."""
    stranger = make_customer(OrganizationFactory(name="Globex"), name="Gloria Globex-Private")
    client.force_login(desk["agent"])
    response = client.get(QUEUE, {"assignee": stranger.pk})
    assert response.status_code == 200 and "Gloria" not in page_text(response)


# --- Saved views ----------------------------------------------------------------------------------


def test_saved_views_refuse_a_taken_name_another_team_and_foreign_deletes(client, desk):
    """A second view of the same name, a view shared with a team the agent does not work, and deleting a
    colleague's (even shared) view by id are all refused; the colleague's view survives."""
    SavedViewFactory(owner=desk["agent"], name="Mine")
    theirs = SavedViewFactory(owner=desk["colleague"], name="Theirs", team=desk["support"])
    client.force_login(desk["agent"])
    assert client.post(CREATE_VIEW, {"name": " Mine ", "query": "status=new"}).status_code == 422
    shared = client.post(CREATE_VIEW, {"name": "B", "query": "", "team": desk["billing"].pk})
    assert shared.status_code == 422 and not SavedView.objects.filter(name="B").exists()
    assert client.post(reverse("tickets:desk_view_delete", args=[theirs.pk])).status_code == 404
    assert SavedView.objects.filter(pk=theirs.pk).exists()


# --- Bulk actions ---------------------------------------------------------------------------------


def test_bulk_on_tickets_the_agent_cannot_see_reports_them_without_naming_them(client, desk):
    """Ids of tickets of another team (or none at all) are counted as "no longer in your queues", never
    named, never changed; duplicates of a visible id count once."""
    secret, ticket = desk["secret"], desk["ticket"]
    client.force_login(desk["agent"])
    chosen = [f"{secret.pk}:{secret.version}", str(ticket.pk), str(ticket.pk), "999999999"]
    response = client.post(BULK, {"tickets": chosen, "action": "priority:high"})
    said = " ".join(notes(response))
    assert "2 selected tickets are no longer in your queues" in said
    assert secret.reference not in said and "Secret" not in said
    assert Ticket.objects.get(pk=secret.pk).priority == secret.priority
    assert Ticket.objects.get(pk=ticket.pk).priority == "high"


def test_bulk_assign_to_an_arbitrary_user_id_does_not_reveal_who_that_is(client, desk):
    """Bulk "assign:<id>" with the id of a person the agent has no business knowing (a customer of another
    organisation, with no ticket the agent works) is refused without printing that person's name: any
    agent could otherwise read every account's name by trying ids."""
    stranger = make_customer(OrganizationFactory(name="Globex"), name="Gloria Globex-Private")
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    response = client.post(BULK, {"tickets": str(ticket.pk), "action": f"assign:{stranger.pk}"})
    assert response.status_code == 422
    said = page_text(response)
    assert services.ASSIGNEE_GONE in said  # refused, with a reason
    assert "Gloria" not in said


# --- The refresh's ETag ---------------------------------------------------------------------------


def test_the_refresh_etag_changes_when_an_assignee_changes_or_the_customer_replies(client, desk):
    """An unchanged queue answers 304 to its own ETag; a new assignee or a customer's reply on a listed
    ticket makes the refresh answer 200 with a new ETag."""
    client.force_login(desk["agent"])
    first = client.get(QUEUE, headers=FRAGMENT)
    assert client.get(QUEUE, headers={**FRAGMENT, "If-None-Match": first["ETag"]}).status_code == 304
    services.ticket_assign(desk["ticket"], assignee=desk["colleague"], actor=None)
    second = client.get(QUEUE, headers={**FRAGMENT, "If-None-Match": first["ETag"]})
    assert second.status_code == 200 and second["ETag"] != first["ETag"]
    ticket = Ticket.objects.get(pk=desk["ticket"].pk)
    services.ticket_reply(ticket, body="Still burning", actor=desk["customer"])
    third = client.get(QUEUE, headers={**FRAGMENT, "If-None-Match": second["ETag"]})
    assert third.status_code == 200


# --- Built-in views' counts and Previous/Next ---------------------------------------------------


@pytest.mark.parametrize("who", ["agent", "admin"])
def test_every_built_in_views_count_is_the_total_of_the_list_it_opens(client, desk, who):
    """Each built-in view's live count equals the total the queue shows when its link is opened (with a
    ticket granted from another team, one assigned from another team, and a deleted one about)."""
    agent, support, customer = desk["agent"], desk["support"], desk["customer"]
    granted = make_ticket(customer, team=desk["billing"], subject="Granted")
    services.ticket_transition(granted, status=Status.PENDING, actor=None)
    assign_perm("tickets.view_ticket", agent, granted)
    Ticket.objects.filter(pk=desk["secret"].pk).update(assignee=agent)
    gone = make_ticket(customer, team=support, subject="Deleted")
    Ticket.objects.filter(pk=gone.pk).update(is_deleted=True)
    if who == "admin":
        agent = make_administrator()
        TeamMember.objects.create(user=agent, team=support)
    mine = make_ticket(customer, team=support, subject="Mine")
    services.ticket_assign(mine, assignee=agent, actor=None)
    pending = make_ticket(customer, team=support, subject="Pending")
    services.ticket_transition(pending, status=Status.PENDING, actor=None)
    solved = make_ticket(customer, team=support, subject="Solved")
    services.ticket_transition(solved, status=Status.RESOLVED, actor=None)
    agent = type(agent).objects.get(pk=agent.pk)
    client.force_login(agent)
    counts = selectors.queue_counts(agent)
    names = {"mine": "mine", "unassigned": "unassigned", "team-open": "team_open",
             "pending": "pending", "solved": "solved"}  # fmt: skip
    for view in selectors.built_in_views():
        response = client.get(f"{QUEUE}?{view.query}")
        assert response.context["queue"].page.paginator.count == counts[names[view.slug]], view.slug
