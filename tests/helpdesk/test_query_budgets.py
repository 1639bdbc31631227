"""Query budgets (DESIGN.md §3.7): a page or a POST costs the same number of queries whatever the number
of rows it shows or changes (the bulk action a fixed number per ticket): the admin's inlines with
autocomplete fields, the inline tag edit, and every page and main POST that had no budget of its own."""

import re

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from accounts import services as account_services
from accounts.models import Skill, Team, TeamMember
from audit.models import AuditEvent, SystemLogEntry
from helpdesk.models import PeriodicTaskRun
from knowledge import services as knowledge_services
from knowledge.models import Article
from tests.admin_pages import change_url, changelist_url
from tests.factories import (
    CategoryFactory,
    OrganizationFactory,
    SavedViewFactory,
    SkillFactory,
    TeamFactory,
    TeamMemberFactory,
    TicketFormFactory,
    make_administrator,
    make_agent,
    make_article,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tickets import services
from tickets.models import SavedView, Tag, Ticket, TicketMessage

pytestmark = pytest.mark.django_db

FEW, MANY = 2, 12
CONFIGURATION_READ = re.compile(r'SELECT "helpdesk_siteconfiguration"\."id"')


def queries(client, method: str, url: str, data=None, **extra) -> tuple[int, list[str]]:
    """The status and the SQL of one request, a streamed body read to its end."""
    with CaptureQueriesContext(connection) as captured:
        response = getattr(client, method)(url, data or {}, **extra)
        if response.streaming:
            b"".join(response.streaming_content)
    # The site configuration is read again once its 5-second cache expires, whatever the page: not part
    # of the page's cost, and a slow set-up would otherwise make the count depend on the clock.
    sql = [query["sql"] for query in captured if not CONFIGURATION_READ.match(query["sql"])]
    return response.status_code, sql


def shown(sql: list[str]) -> str:
    return "\n".join(statement[:160] for statement in sql)


@pytest.fixture
def superuser_client(client):
    client.force_login(make_administrator(is_superuser=True))
    client.get(reverse("admin:index"))  # warm the content-type and configuration caches
    return client


TEAM_CHANGE_QUERIES = 9


@pytest.mark.parametrize("members", [FEW, MANY])
def test_team_change_page_costs_the_same_for_few_or_many_members(superuser_client, members):
    """/admin/accounts/team/<id>/change/: each member row's autocomplete is labelled from the user loaded
    with the rows (LoadedAutocompleteSelect), where Django's widget reads each row's user again."""
    team = TeamFactory()
    for _ in range(members):
        TeamMemberFactory(team=team)
    url = change_url(team)
    superuser_client.get(url)
    status, sql = queries(superuser_client, "get", url)
    assert status == 200
    assert len(sql) <= TEAM_CHANGE_QUERIES, shown(sql)


USER_CHANGE_QUERIES = 14


@pytest.mark.parametrize("roles", [1, 12])
def test_user_change_page_costs_the_same_for_few_or_many_roles(superuser_client, roles):
    """/admin/accounts/user/<id>/change/: each role assignment's autocomplete is labelled from the role
    loaded with the rows, not read again per row."""
    user = make_customer()
    for number in range(roles):
        Group.objects.create(name=f"Night shift {number}")
        account_services.role_assign(user, f"Night shift {number}", actor=None)
    url = change_url(user)
    superuser_client.get(url)
    status, sql = queries(superuser_client, "get", url)
    assert status == 200
    assert len(sql) <= USER_CHANGE_QUERIES, shown(sql)


TAG_EDIT_QUERIES = 31


@pytest.mark.parametrize("tags", [FEW, MANY])
def test_inline_tag_edit_costs_the_same_for_few_or_many_tags(tags):
    """The workspace's inline tag edit (htmx), one tag added to a ticket that has `tags` already: the tags
    are found, created and set in a fixed number of queries (ticket_set_tags), not one per tag kept; the
    bulk "add tag" runs the same service per ticket."""
    team = TeamFactory()
    agent = make_agent(team)
    ticket = make_ticket(make_customer(), team=team)
    names = [f"tag-{number}" for number in range(tags)]
    services.ticket_set_tags(ticket, names=names, actor=agent)
    client = signed_in(agent)
    data = {
        "field": "tags",
        "value": ", ".join([*names, "one-more"]),
        "version": Ticket.objects.get(pk=ticket.pk).version,
    }
    status, sql = queries(
        client,
        "post",
        reverse("tickets:desk_update", args=[ticket.number]),
        data,
        headers={"HX-Request": "true"},
    )
    assert status == 200
    assert len(sql) <= TAG_EDIT_QUERIES, shown(sql)


def make_helpdesk() -> dict:
    """A team with an agent, a supervisor and Acme's manager; `grow(n)` adds n of every row the pages list."""
    team = TeamFactory(name="Support")
    acme = OrganizationFactory(name="Acme")
    people = {
        "team": team,
        "agent": make_agent(team),
        "supervisor": make_supervisor(team),
        "administrator": make_administrator(),
        "manager": make_customer(acme, manager=True),
        "category": CategoryFactory(name="Widgets", slug="widgets"),
        "form": TicketFormFactory(slug="billing", default_team=team),
    }
    people["ticket"] = make_ticket(people["manager"], team=team, subject="The main ticket")
    people["article"] = make_article(title="Main widget article", category=people["category"], tags="widget")
    return people


@pytest.fixture
def helpdesk():
    return make_helpdesk()


def grow(world: dict, count: int) -> list[Ticket]:
    team, agent, manager = world["team"], world["agent"], world["manager"]
    tickets = []
    start = world.setdefault("grown", 0)
    world["grown"] += count
    for number in range(start, start + count):
        colleague = make_customer(manager.organization)
        ticket = make_ticket(
            colleague,
            team=team,
            subject=f"Widget ticket {number}",
            form=world["form"],
            custom_fields={"order_number": f"A{number}", "product": "Pro"},
            uploads=[SimpleUploadedFile(f"{number}.txt", b"x")],
        )
        services.ticket_set_tags(ticket, names=[f"tag-{number}", "common"], actor=agent)
        tickets.append(ticket)
        # The main ticket's thread and timeline, by many authors, with files.
        author = make_agent(team)
        main = world["ticket"]
        services.ticket_reply(main, body=f"Reply {number}", actor=author,
                              uploads=[SimpleUploadedFile(f"r{number}.txt", b"x")])  # fmt: skip
        services.ticket_add_note(main, body=f"Note {number}", actor=author)
        services.ticket_reply(main, body=f"Customer {number}", actor=manager)
        services.ticket_set_tags(main, add=[f"main-{number}"], actor=author)
        SavedViewFactory(owner=agent, team=team if number % 2 else None, name=f"View {number}")
        make_article(title=f"Widget article {number}", category=world["category"], tags="widget, help")
        TicketFormFactory()
        knowledge_services.article_update(
            Article.objects.get(pk=world["article"].pk),
            body=f"Widget body {number}",
            actor=world["supervisor"],
        )
        TeamMemberFactory(team=team)
        SkillFactory()
        Group.objects.create(name=f"Role {number}")
        SystemLogEntry.objects.create(level=40, logger="helpdesk", message=f"Trouble {number}")
        PeriodicTaskRun.objects.create(task=f"helpdesk.tasks.t{number}", last_enqueued_at="2026-01-01T00:00Z")
        AccessAttempt.objects.create(username=f"who{number}@example.org", ip_address="10.0.0.1",
                                     user_agent="pytest", http_accept="*/*", path_info="/accounts/login/",
                                     get_data="", post_data="", failures_since_start=1)  # fmt: skip
    return tickets


def signed_in(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    client.get(reverse("home"))  # warm the content-type and configuration caches
    return client


@pytest.mark.parametrize("count", [FEW, MANY])
def test_bulk_close_confirmation_costs_the_same_for_few_or_many_tickets(helpdesk, count):
    tickets = grow(helpdesk, count)
    client = signed_in(helpdesk["supervisor"])
    chosen = [f"{ticket.pk}:{Ticket.objects.get(pk=ticket.pk).version}" for ticket in tickets]
    status, sql = queries(
        client, "post", reverse("tickets:desk_bulk"), {"tickets": chosen, "action": "status:closed"}
    )
    assert status == 200
    assert len(sql) <= 7, shown(sql)


BULK_FIXED, BULK_PER_TICKET = 8, 11  # + which changed tickets left the actor's queues


@pytest.mark.parametrize("count", [FEW, MANY])
def test_bulk_action_costs_a_fixed_number_of_queries_per_ticket(helpdesk, count):
    """Each ticket goes through the single-ticket service in its own transaction (DESIGN §3.1): the
    lock, the visibility check, the update, the activity and the audit event; nothing per ticket beyond."""
    tickets = grow(helpdesk, count)
    client = signed_in(helpdesk["agent"])
    chosen = [f"{ticket.pk}:{Ticket.objects.get(pk=ticket.pk).version}" for ticket in tickets]
    status, sql = queries(
        client, "post", reverse("tickets:desk_bulk"), {"tickets": chosen, "action": "priority:urgent"}
    )
    assert status == 302
    assert len(sql) <= BULK_FIXED + BULK_PER_TICKET * count, shown(sql)


CHANGELISTS_WITHOUT_A_BUDGET = [
    Team, TeamMember, Skill, Group, AuditEvent, SystemLogEntry, PeriodicTaskRun, AccessAttempt,
    Ticket, TicketMessage, Tag, SavedView, Article, DBTaskResult,
]  # fmt: skip


CHANGELIST_MANY = 12


def test_admin_changelists_cost_the_same_for_few_or_many_rows(helpdesk):
    """Every changelist without a budget of its own, measured on one world grown once (growing one per
    changelist took half a minute of the suite)."""
    client = signed_in(make_administrator(is_superuser=True))

    def costs() -> dict[str, list]:
        measured = {}
        for model in CHANGELISTS_WITHOUT_A_BUDGET:
            url = changelist_url(model)
            client.get(url)  # what a first visit caches
            status, sql = queries(client, "get", url)
            assert status == 200, model._meta.label
            measured[model._meta.label] = sql
        return measured

    grow(helpdesk, FEW)
    few = costs()
    grow(helpdesk, CHANGELIST_MANY - FEW)  # one page of rows: past it the admin adds a second count
    many = costs()
    grew = {label: shown(sql) for label, sql in many.items() if len(sql) > len(few[label])}
    assert grew == {}
