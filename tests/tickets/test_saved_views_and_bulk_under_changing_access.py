"""Saved views under hostile queries and changing team membership; bulk actions with
invisible, duplicated, stale and out-of-reach tickets, and their audit trail."""

import re

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils.text import slugify

from accounts.models import Organization, Skill, Team, TeamMember
from audit.models import AuditEvent
from knowledge.models import Article, Category
from tests.admin_pages import changelist_url
from tests.factories import (
    OrganizationFactory,
    SavedViewFactory,
    TeamFactory,
    TicketFormFactory,
    make_agent,
    make_article,
    make_ticket,
)
from tests.tickets.conftest import fresh, insert_tickets, notes, page_text
from tickets import selectors, services
from tickets.models import SavedView, Tag, Ticket, TicketActivity, TicketForm
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

QUEUE = reverse("tickets:desk_queue")
BULK = reverse("tickets:desk_bulk")
CREATE_VIEW = reverse("tickets:desk_view_create")


def delete_url(view):
    return reverse("tickets:desk_view_delete", args=[view.pk])


def ticket_events(ticket):
    kind = ContentType.objects.get_for_model(Ticket)
    return AuditEvent.objects.filter(object_type=kind, object_id=str(ticket.pk))


# --- Saved views: hostile queries --------------------------------------------------------------------


def test_view_with_nul_byte_in_query_is_saved_or_refused_and_opens_without_error(client, desk):
    client.force_login(desk["agent"])
    response = client.post(CREATE_VIEW, {"name": "Nul", "query": "q=a%00b&status=open&tag=%00"})
    assert response.status_code in (302, 422)
    view = SavedView.objects.filter(owner=desk["agent"], name="Nul").first()
    if view is not None:
        assert client.get(f"{QUEUE}?{view.query}").status_code == 200


def test_view_name_with_nul_byte_is_refused_not_a_500(client, desk):
    client.force_login(desk["agent"])
    response = client.post(CREATE_VIEW, {"name": "bad\x00name", "query": "status=open"})
    assert response.status_code == 422
    assert not SavedView.objects.filter(owner=desk["agent"]).exists()


def test_view_with_enormous_query_or_name_is_refused_with_a_reason(client, desk):
    client.force_login(desk["agent"])
    response = client.post(CREATE_VIEW, {"name": "Big", "query": "q=" + "x" * 20000})
    assert response.status_code == 422
    assert "too long" in page_text(response)
    response = client.post(CREATE_VIEW, {"name": "N" * 5000, "query": "status=open"})
    assert response.status_code == 422
    assert not SavedView.objects.filter(owner=desk["agent"]).exists()


def test_view_with_sort_outside_allow_list_and_repeated_keys_opens_sorted_by_default(client, desk):
    client.force_login(desk["agent"])
    query = "sort=requester__password&status=open&status=open&status=new&unknown=1&assignee=me&assignee=none"
    response = client.post(CREATE_VIEW, {"name": "Odd", "query": query})
    assert response.status_code == 302
    view = SavedView.objects.get(owner=desk["agent"], name="Odd")
    assert "unknown" not in view.query
    opened = client.get(f"{QUEUE}?{view.query}")
    assert opened.status_code == 200
    assert opened.context["queue"].sort == selectors.sort_key(None)


def test_view_naming_a_team_the_agent_does_not_work_leaks_no_ticket(client, desk):
    secret = make_ticket(desk["customer"], team=desk["billing"], subject="Billing secret")
    client.force_login(desk["agent"])
    response = client.post(CREATE_VIEW, {"name": "Theirs", "query": f"team={desk['billing'].pk}"})
    view = SavedView.objects.filter(owner=desk["agent"], name="Theirs").first()
    query = view.query if view else f"team={desk['billing'].pk}"
    assert response.status_code in (302, 422)
    opened = client.get(f"{QUEUE}?{query}")
    assert opened.status_code == 200
    assert secret.subject not in page_text(opened)


def test_sharing_a_view_with_a_team_the_agent_is_not_in_is_refused(client, desk):
    client.force_login(desk["agent"])
    response = client.post(
        CREATE_VIEW, {"name": "Share", "query": "status=open", "team": str(desk["billing"].pk)}
    )
    assert response.status_code == 422
    assert not SavedView.objects.filter(owner=desk["agent"]).exists()
    with pytest.raises(services.TicketError):
        services.saved_view_create(name="Direct", query="", team=desk["billing"], actor=desk["agent"])


# --- Saved views: membership changes ------------------------------------------------------------------


def test_a_teammate_who_leaves_the_team_no_longer_sees_or_deletes_the_shared_view(client, desk):
    view = SavedViewFactory(owner=desk["agent"], name="Team view", team=desk["support"])
    colleague = desk["colleague"]
    assert view in selectors.saved_views(colleague)
    TeamMember.objects.filter(user=colleague, team=desk["support"]).delete()
    colleague = type(colleague).objects.get(pk=colleague.pk)
    assert view not in selectors.saved_views(colleague)
    client.force_login(colleague)
    assert "Team view" not in page_text(client.get(QUEUE))
    assert client.post(delete_url(view)).status_code == 404
    assert SavedView.objects.filter(pk=view.pk).exists()


def test_a_teammate_cannot_delete_a_view_they_did_not_create(client, desk):
    view = SavedViewFactory(owner=desk["agent"], name="Team view", team=desk["support"])
    client.force_login(desk["colleague"])
    assert client.post(delete_url(view)).status_code == 404
    assert SavedView.objects.filter(pk=view.pk).exists()


def test_deleting_the_team_makes_the_shared_view_private_to_its_owner(client, desk):
    short_lived = TeamFactory(name="Tiger team")
    owner = make_agent(desk["support"], short_lived, name="Owner")
    mate = make_agent(short_lived, name="Mate")
    view = SavedViewFactory(owner=owner, name="Tiger", team=short_lived)
    assert view in selectors.saved_views(mate)
    short_lived.delete()
    assert fresh_view(view).team_id is None
    assert view in selectors.saved_views(owner)
    assert view not in selectors.saved_views(type(mate).objects.get(pk=mate.pk))
    client.force_login(owner)
    assert client.post(delete_url(view)).status_code == 302
    assert not SavedView.objects.filter(pk=view.pk).exists()


def fresh_view(view):
    return SavedView.objects.get(pk=view.pk)


def test_built_in_counts_follow_the_agents_team_memberships(client, desk):
    """Counts of "Unassigned in my teams" and "All open in my teams" equal the lists' totals before and
    after the agent joins another team and leaves their own."""
    agent = desk["agent"]
    make_ticket(desk["customer"], team=desk["billing"], subject="B1")
    make_ticket(desk["customer"], team=desk["billing"], subject="B2")
    client.force_login(agent)

    def counts_and_lists():
        page = client.get(QUEUE)
        counts = page.context["counts"]
        views = {view.slug: view for view in page.context["built_in_views"]}
        totals = {
            slug: client.get(f"{QUEUE}?{views[slug].query}").context["queue"].page.paginator.count
            for slug in ("unassigned", "team-open")
        }
        return {slug: counts[slug.replace("-", "_")] for slug in totals}, totals

    counts, totals = counts_and_lists()
    assert counts == totals == {"unassigned": 1, "team-open": 1}
    TeamMember.objects.create(user=agent, team=desk["billing"])
    counts, totals = counts_and_lists()
    assert counts == totals == {"unassigned": 3, "team-open": 3}
    TeamMember.objects.filter(user=agent, team=desk["support"]).delete()
    counts, totals = counts_and_lists()
    assert counts == totals == {"unassigned": 2, "team-open": 2}


# --- Bulk actions --------------------------------------------------------------------------------------


def test_bulk_with_an_invisible_ticket_says_the_same_as_for_a_missing_one(client, desk):
    """An id of another team's ticket and an id of no ticket at all read alike, and neither changes."""
    secret = make_ticket(desk["customer"], team=desk["billing"], subject="Billing secret")
    client.force_login(desk["agent"])
    ours = desk["ticket"]
    hidden = client.post(BULK, {"tickets": [str(ours.pk), str(secret.pk)], "action": "priority:high"})
    missing = client.post(BULK, {"tickets": [str(ours.pk), "99999999"], "action": "priority:low"})
    said_hidden = [n for n in notes(hidden) if "Updated" not in n]
    said_missing = [n for n in notes(missing) if "Updated" not in n]
    assert said_hidden == said_missing
    assert fresh(secret).priority == secret.priority
    assert secret.reference not in " ".join(notes(hidden))
    assert not ticket_events(secret).filter(action__startswith="ticket.priority").exists()


def test_bulk_closing_with_invisible_ids_does_not_name_them_on_the_confirm_page(client, desk):
    secret = make_ticket(desk["customer"], team=desk["billing"], subject="Billing secret")
    client.force_login(desk["supervisor"])
    response = client.post(
        BULK, {"tickets": [str(desk["ticket"].pk), str(secret.pk)], "action": f"status:{Status.CLOSED}"}
    )
    assert response.status_code == 200
    text = page_text(response)
    assert secret.reference not in text and "Billing secret" not in text
    assert fresh(secret).status == secret.status


def test_bulk_stale_version_refuses_that_ticket_only(client, desk):
    ours, other = desk["ticket"], make_ticket(desk["customer"], team=desk["support"], subject="Other")
    stale_version = ours.version
    services.ticket_update_fields(ours, changes={"priority": "low"}, actor=desk["colleague"])
    client.force_login(desk["agent"])
    response = client.post(
        BULK,
        {
            "tickets": [f"{ours.pk}:{stale_version}", f"{other.pk}:{other.version}"],
            "action": "priority:urgent",
        },
    )
    said = notes(response)
    assert fresh(ours).priority == "low"
    assert fresh(other).priority == "urgent"
    assert any(ours.reference in line and "changed since" in line for line in said), said


def test_bulk_assign_to_an_agent_who_cannot_see_some_tickets_reports_each(client, desk):
    billing_ticket = make_ticket(desk["customer"], team=desk["billing"], subject="Shared one")
    both = make_agent(desk["support"], desk["billing"], name="Both teams")
    ours = desk["ticket"]
    client.force_login(both)
    response = client.post(
        BULK,
        {
            "tickets": [str(ours.pk), str(billing_ticket.pk)],
            "action": "assign",
            "value": str(desk["biller"].pk),
        },
    )
    said = notes(response)
    assert fresh(ours).assignee_id is None
    assert fresh(billing_ticket).assignee_id == desk["biller"].pk
    assert any(ours.reference in line and "not changed" in line for line in said), said


def test_bulk_forbidden_transition_is_refused_per_ticket_and_audited_per_ticket(client, desk):
    customer, support = desk["customer"], desk["support"]
    opened = [make_ticket(customer, team=support, subject=f"Open {n}") for n in range(3)]
    closed = make_ticket(customer, team=support, subject="Closed")
    services.ticket_transition(closed, status=Status.CLOSED, actor=None)
    before = {t.pk: ticket_events(t).count() for t in [*opened, closed]}
    client.force_login(desk["agent"])
    response = client.post(
        BULK, {"tickets": [str(t.pk) for t in [*opened, closed]], "action": f"status:{Status.PENDING}"}
    )
    said = notes(response)
    for ticket in opened:
        assert fresh(ticket).status == Status.PENDING
        assert ticket_events(ticket).count() == before[ticket.pk] + 1
        assert ticket.activities.filter(
            action=TicketActivity.Action.STATUS, new_value=Status.PENDING
        ).exists()
    assert fresh(closed).status == Status.CLOSED
    assert ticket_events(closed).count() == before[closed.pk]
    assert any(closed.reference in line and "not changed" in line for line in said), said


def test_bulk_duplicated_ids_change_and_audit_each_ticket_once(client, desk):
    ours = desk["ticket"]
    client.force_login(desk["agent"])
    before = ticket_events(ours).count()
    client.post(
        BULK,
        {
            "tickets": [f"{ours.pk}:{ours.version}", str(ours.pk), f"{ours.pk}:999"],
            "action": "add_tag",
            "value": "vip",
        },
    )
    assert ticket_events(ours).count() == before + 1
    assert fresh(ours).version == ours.version + 1


def test_bulk_with_thousands_of_ids_is_bounded(client, desk, django_assert_max_num_queries):
    """Past the request's field limit the post is refused outright (400, nothing changed); below it, the
    first BULK_LIMIT are read in bounded queries and the rest reported as left unchanged."""
    client.force_login(desk["agent"])
    ours = desk["ticket"]
    flood = [str(ours.pk)] + [str(n) for n in range(10_000_000, 10_005_000)]
    assert client.post(BULK, {"tickets": flood, "action": "priority:high"}).status_code == 400
    assert fresh(ours).priority == ours.priority
    chosen = [str(ours.pk)] + [str(n) for n in range(10_000_000, 10_000_900)]
    with django_assert_max_num_queries(60):
        response = client.post(BULK, {"tickets": chosen, "action": "priority:high"})
    said = " ".join(notes(response))
    assert response.status_code == 302
    assert "left unchanged" in said
    assert fresh(ours).priority == "high"


def test_bulk_move_to_a_team_the_actor_does_not_work_says_the_tickets_left_their_queues(client, desk):
    """Moving tickets to a team the agent does not work takes them out of the agent's reach: the bulk
    action says so, naming them, as the single edit does (EDITED_OUT_OF_REACH)."""
    ours = desk["ticket"]
    services.ticket_assign(ours, assignee=desk["agent"], actor=desk["supervisor"])
    client.force_login(desk["agent"])
    response = client.post(BULK, {"tickets": [str(ours.pk)], "action": f"team:{desk['billing'].pk}"})
    said = " ".join(notes(response))
    moved = fresh(ours)
    assert moved.team_id == desk["billing"].pk
    assert moved.assignee_id is None  # the outsider no longer holds it
    assert not Ticket.objects.staff_visible_to(desk["agent"]).filter(pk=ours.pk).exists()
    assert (
        f"No longer in your queues after this change: {ours.reference} (now with team {desk['billing']})."
        in said
    )


def test_bulk_after_losing_the_team_changes_nothing(client, desk):
    ours = desk["ticket"]
    agent = desk["agent"]
    client.force_login(agent)
    TeamMember.objects.filter(user=agent).delete()
    response = client.post(BULK, {"tickets": [f"{ours.pk}:{ours.version}"], "action": "assign_me"})
    assert fresh(ours).assignee_id is None
    assert "no longer in your queues" in " ".join(notes(response))


def test_bulk_assign_to_a_suspended_agent_is_refused(client, desk):
    """The assignee menus offer active agents only; a posted id of a suspended colleague must not hand
    them tickets they cannot sign in to answer."""
    from accounts import services as account_services

    colleague = desk["colleague"]
    account_services.user_suspend(colleague, until=None, reason="Left", actor=desk["supervisor"])
    ours = desk["ticket"]
    client.force_login(desk["supervisor"])
    response = client.post(BULK, {"tickets": [str(ours.pk)], "action": "assign", "value": str(colleague.pk)})
    assert fresh(ours).assignee_id is None, notes(response)


def test_an_owner_who_leaves_the_team_keeps_the_view_and_can_delete_it(client, desk):
    view = SavedViewFactory(owner=desk["agent"], name="Team view", team=desk["support"])
    TeamMember.objects.filter(user=desk["agent"], team=desk["support"]).delete()
    client.force_login(desk["agent"])
    assert "Team view" in page_text(client.get(QUEUE))
    assert client.post(delete_url(view)).status_code == 302
    assert not SavedView.objects.filter(pk=view.pk).exists()
    kind = ContentType.objects.get_for_model(SavedView)
    assert AuditEvent.objects.filter(object_type=kind, object_id=str(view.pk), action="delete").exists()


def test_a_view_cannot_be_shared_with_a_deactivated_team(client, desk):
    """A team that no longer works tickets is not a place to share a new view with."""
    old = TeamFactory(name="Old team", is_active=False)
    agent = make_agent(desk["support"], old, name="Member of both")
    client.force_login(agent)
    response = client.post(CREATE_VIEW, {"name": "Old", "query": "status=open", "team": str(old.pk)})
    assert response.status_code == 422
    assert not SavedView.objects.filter(owner=agent).exists()


def test_the_share_with_menu_offers_only_teams_a_view_can_be_shared_with(client, desk):
    """An agent still in a team since closed is not offered it under "Share with" (choosing it was always
    refused); the queue's Team filter still lists it, for its old tickets."""
    closed = TeamFactory(name="Old team", is_active=False)
    client.force_login(make_agent(desk["support"], closed, name="Member of both"))
    page = page_text(client.get(QUEUE))

    def offered(select_id: str) -> list[str]:
        block = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', page, re.S).group(1)
        return re.findall(r"<option[^>]*>([^<]*)</option>", block)

    assert offered("view-team") == ["Only me", "Support"]
    assert "Old team" in offered("queue-team")


def test_views_teammates_shared_under_one_name_name_their_owners(client, desk):
    """Two views named "Urgent" shared with Support by two colleagues of one first name read apart in a
    third member's list: each names who shared it in full. Before the fix both read "Urgent Support"."""
    namesake = make_agent(desk["support"], name="Casey Morgan")
    SavedViewFactory(owner=desk["colleague"], name="Urgent", team=desk["support"], query="priority=urgent")
    SavedViewFactory(owner=namesake, name="Urgent", team=desk["support"], query="status=new")
    client.force_login(desk["agent"])
    links = re.findall(r'<a id="saved-view-\d+"[^>]*>(.*?)</a>', page_text(client.get(QUEUE)), re.S)
    shown = sorted(" ".join(re.sub(r"<[^>]+>", " ", link).split()) for link in links)
    assert shown == [
        "Urgent Support · Casey Colleague",
        "Urgent Support · Casey Morgan",
    ]


def test_deleting_a_view_a_second_time_says_it_was_deleted_already(client, desk):
    """Delete sent twice (a second click without JavaScript, Back and Delete again): the second answer,
    the page the browser shows, says the view was deleted already. Before the fix it was a 404 page; a
    colleague's view is still a 404."""
    view = SavedViewFactory(owner=desk["agent"], name="Fires")
    client.force_login(desk["agent"])
    assert client.post(delete_url(view)).status_code == 302
    again = client.post(delete_url(view), follow=True)
    assert again.status_code == 200 and "That view was deleted already." in notes(again)
    theirs = SavedViewFactory(owner=desk["colleague"], name="Theirs", team=desk["support"])
    assert client.post(delete_url(theirs)).status_code == 404
    assert SavedView.objects.filter(pk=theirs.pk).exists()


def _ticked(tickets) -> list[str]:
    return [f"{ticket.pk}:{ticket.version}" for ticket in tickets]


def _errors(response) -> list[str]:
    return [str(message) for message in response.wsgi_request._messages if message.level_tag == "error"]


@pytest.mark.parametrize("gone", ["team closed down", "agent suspended"])
def test_a_bulk_value_gone_since_the_menu_was_read_is_refused_once_with_the_tickets_still_ticked(
    client, desk, gone
):
    """Before the fix each ticket was refused on its own ("Returns no longer works tickets" three times)
    and the agent was redirected with their ticks lost."""
    tickets = [make_ticket(desk["customer"], team=desk["support"]) for _ in range(3)]
    colleague = desk["colleague"]
    if gone == "team closed down":
        action = f"team:{TeamFactory(name='Returns', is_active=False).pk}"
        reason = services.TEAM_INACTIVE.format(team="Returns")
    else:
        action = f"assign:{colleague.pk}"
        reason = services.ASSIGNEE_GONE
        colleague.status = colleague.Status.SUSPENDED
        colleague.save()
    client.force_login(desk["agent"])
    response = client.post(BULK, {"tickets": _ticked(tickets), "action": action})
    assert response.status_code == 422
    assert response.context["bulk_chosen"] == frozenset(_ticked(tickets))
    assert reason in page_text(response)
    assert Ticket.objects.filter(pk__in=[ticket.pk for ticket in tickets], version=1).count() == 3
    # The refusal is the menu's: it is marked and focused, chooses nothing (Apply would otherwise fall
    # back to "Assign to me"), and the tag box is left alone, not given the team's or agent's id.
    html = response.content.decode()
    menu = re.search(r'<select id="bulk-action"[^>]*>\s*<option[^>]*>[^<]*', html).group(0)
    assert 'aria-invalid="true"' in menu and "autofocus" in menu
    assert menu.endswith('<option value="" selected>Choose an action…')
    box = re.search(r'<input id="bulk-value"[^>]*>', html).group(0)
    assert "aria-invalid" not in box and "value=" not in box


def test_the_same_refusal_on_many_tickets_is_said_once_with_its_count(client, desk):
    """Forty closed tickets ticked with two open ones, set to urgent: one alert naming the forty (the
    first twenty and how many more), not forty alerts of the same reason read out one by one."""
    closed = insert_tickets(40, requester=desk["customer"], team=desk["support"], status="closed")
    still_open = insert_tickets(2, requester=desk["customer"], team=desk["support"])
    chosen = list(Ticket.objects.filter(pk__in=closed + still_open).order_by("number"))
    client.force_login(desk["agent"])
    response = client.post(BULK, {"tickets": _ticked(chosen), "action": "priority:urgent"})
    assert Ticket.objects.filter(pk__in=still_open, priority="urgent").count() == 2
    first = [ticket.reference for ticket in chosen if ticket.pk in closed][:20]
    assert _errors(response) == [
        f"40 tickets were not changed ({', '.join(first)} and 20 more). Each is closed, and a closed ticket "
        "is final: its assignee, priority, team, tags and fields stay as they were. A note can still be "
        "added; a customer's reply opens a follow-up."
    ]
    # One ticket refused: its reason as it is.
    lone = Ticket.objects.get(pk=closed[0])
    response = client.post(BULK, {"tickets": _ticked([lone]), "action": "priority:low"})
    reason = services.CLOSED_FINAL.format(ticket=lone.reference)
    assert _errors(response)[-1] == f"{lone.reference} was not changed: {reason}"


# --- Names in alphabetical order ----------------------------------------------------------------------

READING_ORDER = ["apple", "Banana", "Écoles", "zebra", "Zulu"]


def test_saved_views_are_listed_as_an_alphabet_reads_whatever_their_case_or_accents(client, desk):
    """Not in byte order (every capital before every small letter, an accented initial after z)."""
    for name in ("zebra", "Banana", "apple", "Écoles", "Zulu"):
        SavedViewFactory(owner=desk["agent"], name=name)
    client.force_login(desk["agent"])
    assert [view.name for view in client.get(QUEUE).context["saved_views"]] == READING_ORDER


@pytest.mark.parametrize(
    ("model", "field", "make"),
    [
        (Team, "name", lambda name: TeamFactory(name=name)),
        (Organization, "name", lambda name: OrganizationFactory(name=name)),
        (Tag, "name", lambda name: Tag.objects.create(name=name.lower())),
        (Category, "name", lambda name: Category.objects.create(name=name, slug=slugify(name))),
        (TicketForm, "title", lambda name: TicketFormFactory(title=name)),
        (Skill, "name", lambda name: Skill.objects.create(name=name, slug=slugify(name))),
        (Article, "title", lambda name: make_article(title=name)),
    ],
)
def test_names_in_menus_sort_as_an_alphabet_reads(model, field, make):
    """Menus and admin lists sort names by helpdesk.accents.alphabetical, on any collation."""
    for name in ("zebra", "Banana", "apple", "Écoles", "Zulu"):
        make(name)
    expected = [name.lower() for name in READING_ORDER] if model is Tag else READING_ORDER
    names = model.objects.filter(**{f"{field}__in": expected})  # in the order of the model's Meta
    assert list(names.values_list(field, flat=True)) == expected


def test_the_assignee_menus_list_agents_as_an_alphabet_reads():
    team = TeamFactory()
    for name in ("zebra", "Banana", "apple", "Écoles", "Zulu"):
        make_agent(team, name=name)
    assert [agent.name for agent in selectors.agents_in_teams([team.pk])] == READING_ORDER


@pytest.mark.parametrize(
    ("model", "column", "make"),
    [
        (Team, "name", lambda name: TeamFactory(name=name)),
        (Article, "title", lambda name: make_article(title=name)),
    ],
)
def test_an_admin_list_sorted_by_its_name_column_keeps_the_alphabets_order(
    superuser_client, model, column, make
):
    """Clicked, the name column sorts as the list does by default (helpdesk.admin.ChangeList)."""
    for name in ("zebra", "Banana", "apple", "Écoles", "Zulu"):
        make(name)
    url = changelist_url(model)
    default = superuser_client.get(url)
    index = list(default.context["cl"].list_display).index(column)
    for order in (str(index), f"-{index}"):
        listed = [
            getattr(row, column) for row in superuser_client.get(url, {"o": order}).context["cl"].result_list
        ]
        assert listed == (READING_ORDER if order == str(index) else READING_ORDER[::-1])
