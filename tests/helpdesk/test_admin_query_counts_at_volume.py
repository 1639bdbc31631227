"""The Django admin under volume. Every registered ModelAdmin's changelist (each `?o=` sort, its search
box, its list filters), change pages, the autocomplete endpoints and the "delete selected" confirmation
of most models cost the same number of SQL queries with a few rows as with many (DESIGN.md §3.7: no
N+1), and answer 200 at volume. Not yet so (a query per row, kept out of here): the delete confirmations
of users, teams, role assignments and tags, and django-guardian's object-permission pages.

Each test builds FEW rows, measures, grows to MANY rows, measures again. Not duplicated here:
tests/helpdesk/test_query_budgets.py (plain changelists of 14 models, the team and user change pages'
inlines) and tests/helpdesk/test_admin_at_scale.py (SQL shapes of the big tables)."""

import re

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

import audit
from accounts import services as account_services
from accounts.models import Invitation, Organization, RoleAssignment, Skill, Team, TeamMember, User
from audit.models import AuditEvent, SystemLogEntry
from helpdesk.models import PeriodicTaskRun
from knowledge import services as knowledge_services
from knowledge.models import Article, ArticleRevision, Category
from tests.admin_pages import change_url, changelist_url, delete_url
from tests.factories import (
    CategoryFactory,
    InvitationFactory,
    OrganizationFactory,
    RoleAssignmentFactory,
    SavedViewFactory,
    SkillFactory,
    TagFactory,
    TeamFactory,
    TeamMemberFactory,
    TicketFormFactory,
    UserFactory,
    make_administrator,
    make_agent,
    make_article,
    make_customer,
    make_ticket,
)
from tickets import services
from tickets.models import Attachment, SavedView, Tag, Ticket, TicketForm, TicketMessage

pytestmark = pytest.mark.django_db

FEW, MANY = 3, 8  # growth from 3 to 8 rows shows a query per row as well as 40 would
CONFIGURATION_READ = re.compile(r'SELECT "helpdesk_siteconfiguration"\."id"')


# --------------------------------------------------------------------------------------------- helpers


def measured(client, url: str, data: dict | None = None, *, warm: bool = False) -> tuple[int, list[str]]:
    """The status and the SQL of one request (GET, or POST with `data`), after one warm-up request unless
    the page was requested before (`warm`)."""
    send = client.post if data is not None else client.get
    if not warm:
        send(url, data) if data is not None else send(url)
    with CaptureQueriesContext(connection) as captured:
        response = send(url, data) if data is not None else send(url)
    sql = [query["sql"] for query in captured if not CONFIGURATION_READ.match(query["sql"])]
    return response.status_code, sql


def shown(sql: list[str]) -> str:
    return "\n".join(statement[:200] for statement in sql)


def repeated(sql: list[str], times: int) -> list[str]:
    """The statements (literal values blanked) run at least `times` times: the usual face of an N+1."""
    counts: dict[str, int] = {}
    for statement in sql:
        key = re.sub(r"\b\d+\b|'[^']*'", "?", statement)[:220]
        counts[key] = counts.get(key, 0) + 1
    return [f"{count}x {key}" for key, count in counts.items() if count >= times]


class World:
    def __init__(self, client) -> None:
        self.admin = make_administrator(is_superuser=True)
        client.force_login(self.admin)
        client.get(reverse("admin:index"))
        self.client = client
        self.team = TeamFactory(name="Support")
        self.agent = make_agent(self.team)
        self.organization = OrganizationFactory(name="Acme")
        self.ticket = make_ticket(make_customer(self.organization), team=self.team, subject="Main ticket")
        self.category = CategoryFactory(name="Widgets")
        self.article = make_article(title="Main article", category=self.category)
        self.grown = 0


@pytest.fixture
def world(client):
    return World(client)


def upload(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"x", content_type="text/plain")


# Builders: each adds `count` rows of its model, with the related rows its list and pages show.
def grow_users(world: World, count: int) -> None:
    for _ in range(count):
        person = make_customer(OrganizationFactory())
        account_services.role_assign(person, "Agent", actor=None)
        TeamMemberFactory(team=world.team, user=person)


def grow_organizations(world: World, count: int) -> None:
    for _ in range(count):
        organization = OrganizationFactory()
        UserFactory(organization=organization)
        UserFactory(organization=organization)


def grow_teams(world: World, count: int) -> None:
    for _ in range(count):
        team = TeamFactory()
        TeamMemberFactory(team=team)
        TeamMemberFactory(team=team)


def grow_team_members(world: World, count: int) -> None:
    for _ in range(count):
        TeamMemberFactory(team=TeamFactory(), user=UserFactory(organization=OrganizationFactory()))


def grow_skills(world: World, count: int) -> None:
    for _ in range(count):
        SkillFactory().agents.add(UserFactory(), UserFactory())


def grow_role_assignments(world: World, count: int) -> None:
    for _ in range(count):
        RoleAssignmentFactory(granted_by=UserFactory())


def grow_invitations(world: World, count: int) -> None:
    for _ in range(count):
        InvitationFactory(created_by=UserFactory(), email="someone@example.org")


def grow_roles(world: World, count: int) -> None:
    permissions = list(Permission.objects.all()[:3])
    for _ in range(count):
        world.grown += 1
        Group.objects.create(name=f"Role {world.grown}").permissions.add(*permissions)


def grow_access_attempts(world: World, count: int) -> None:
    for _ in range(count):
        world.grown += 1
        AccessAttempt.objects.create(
            username=f"who{world.grown}@example.org", ip_address="10.0.0.1", user_agent="pytest",
            http_accept="*/*", path_info="/accounts/login/", get_data="", post_data="",
            failures_since_start=1,
        )  # fmt: skip


def grow_audit_events(world: World, count: int) -> None:
    for _ in range(count):
        audit.record("export", actor=UserFactory(), obj=TeamFactory())


def grow_log_entries(world: World, count: int) -> None:
    for _ in range(count):
        world.grown += 1
        SystemLogEntry.objects.create(level=40, logger="helpdesk", message=f"Trouble {world.grown}")


def grow_task_runs(world: World, count: int) -> None:
    for _ in range(count):
        world.grown += 1
        PeriodicTaskRun.objects.create(
            task=f"helpdesk.tasks.t{world.grown}", last_enqueued_at="2026-01-01T00:00Z"
        )


def grow_categories(world: World, count: int) -> None:
    for _ in range(count):
        CategoryFactory(parent=CategoryFactory())


def grow_articles(world: World, count: int) -> None:
    for _ in range(count):
        world.grown += 1
        article = make_article(title=f"Widget article {world.grown}", category=CategoryFactory(), tags="a, b")
        knowledge_services.article_update(article, body=f"Second body {world.grown}", actor=world.admin)


def grow_tickets(world: World, count: int) -> None:
    for _ in range(count):
        world.grown += 1
        customer = make_customer(OrganizationFactory())
        ticket = make_ticket(customer, team=world.team, subject=f"Widget {world.grown}")
        services.ticket_set_tags(ticket, names=[f"tag-{world.grown}", "common"], actor=world.admin)
        services.ticket_assign(ticket, assignee=world.agent, actor=world.admin)
        services.ticket_reply(ticket, body="Looking", actor=world.admin)


def grow_messages(world: World, count: int) -> None:
    for _ in range(count):
        world.grown += 1
        author = make_agent(world.team)
        services.ticket_reply(world.ticket, body=f"Reply {world.grown}", actor=author)


def grow_forms(world: World, count: int) -> None:
    for _ in range(count):
        TicketFormFactory(organization=OrganizationFactory(), default_team=TeamFactory())


def grow_tags(world: World, count: int) -> None:
    for _ in range(count):
        world.grown += 1
        TagFactory(name=f"tag-x{world.grown}")
    services.ticket_set_tags(world.ticket, add=[f"tag-x{world.grown}"], actor=world.admin)


def grow_attachments(world: World, count: int) -> None:
    for _ in range(count):
        world.grown += 1
        author = make_agent(world.team)
        services.ticket_reply(
            world.ticket, body="File", actor=author, uploads=[upload(f"f{world.grown}.txt")]
        )


def grow_saved_views(world: World, count: int) -> None:
    for _ in range(count):
        SavedViewFactory(owner=UserFactory(), team=TeamFactory())


CHANGELISTS = {
    User: grow_users,
    Organization: grow_organizations,
    Team: grow_teams,
    TeamMember: grow_team_members,
    Skill: grow_skills,
    RoleAssignment: grow_role_assignments,
    Invitation: grow_invitations,
    Group: grow_roles,
    AccessAttempt: grow_access_attempts,
    AuditEvent: grow_audit_events,
    SystemLogEntry: grow_log_entries,
    PeriodicTaskRun: grow_task_runs,
    Category: grow_categories,
    Article: grow_articles,
    Ticket: grow_tickets,
    TicketMessage: grow_messages,
    TicketForm: grow_forms,
    Tag: grow_tags,
    Attachment: grow_attachments,
    SavedView: grow_saved_views,
}

SEARCH_TERMS = {
    User: "person",
    Organization: "organ",
    Team: "team",
    TeamMember: "person",
    Skill: "skill",
    RoleAssignment: "person",
    Invitation: "someone",
    Group: "role",
    AccessAttempt: "10.0.0.1",
    AuditEvent: "export",
    SystemLogEntry: "trouble",
    Category: "category",
    Article: "widget",
    Ticket: "widget",
    TicketMessage: "person",
    TicketForm: "form",
    Tag: "tag",
    Attachment: "f",
    SavedView: "view",
}


def list_variants(model) -> list[str]:
    """The changelist, sorted on each column (one way: the other runs the same queries) and searched."""
    from django.contrib import admin

    model_admin = admin.site._registry[model]
    base = changelist_url(model)
    urls = [base]
    for index in range(1, len(model_admin.list_display) + 1):
        urls.append(f"{base}?o={index}")
    if model in SEARCH_TERMS and model_admin.search_fields:
        urls.append(f"{base}?q={SEARCH_TERMS[model]}")
    return urls


def filter_links(page: str, base: str) -> list[str]:
    """The sidebar filter links of a changelist page (their first few of each)."""
    links = sorted(set(re.findall(r'href="(\?[^"#]+)"', page)))
    links = [link.replace("&amp;", "&") for link in links if "o=" not in link and "p=" not in link]
    return [base + link for link in links[:25]]


def compare(world, urls: list[str], grow, per_url_limit: int = 0) -> list[str]:
    """Measure every url with FEW rows, grow to MANY, measure again: the urls whose count grew."""
    few = {}
    for url in urls:
        status, sql = measured(world.client, url)
        assert status == 200, (url, status)
        few[url] = sql
    grow(world, MANY - FEW)
    grown = []
    for url in urls:
        status, sql = measured(world.client, url, warm=True)
        assert status == 200, (url, status)
        if len(sql) > len(few[url]) + per_url_limit:
            grown.append(
                f"{url}: {len(few[url])} -> {len(sql)} queries\n    " + "\n    ".join(repeated(sql, 5))
            )
    return grown


# ------------------------------------------------------------------------------------------ changelists


@pytest.mark.parametrize("model", list(CHANGELISTS), ids=lambda model: model._meta.label)
def test_changelist_sorted_on_each_column_and_searched_costs_the_same_for_few_or_many_rows(world, model):
    """An administrator sorting a list by any column, or searching it, with 8 rows costs what it
    costs with 3: no column reads a related row (or runs a check) per row shown."""
    grow = CHANGELISTS[model]
    grow(world, FEW)
    grown = compare(world, list_variants(model), grow)
    assert not grown, "\n".join(grown)


@pytest.mark.parametrize(
    "model",
    [
        model
        for model in CHANGELISTS
        if model not in (PeriodicTaskRun, Group, Skill, Category, Tag, Attachment)
    ],
    ids=lambda model: model._meta.label,
)
def test_changelist_list_filters_cost_the_same_for_few_or_many_rows(world, model):
    """Every list filter choice in the sidebar answers 200 with 8 rows as with 3, at the same cost."""
    grow = CHANGELISTS[model]
    grow(world, FEW)
    page = world.client.get(changelist_url(model)).content.decode()
    urls = filter_links(page, changelist_url(model))
    assert urls, "the list has filters"
    grown = compare(world, urls, grow)
    assert not grown, "\n".join(grown)


# ----------------------------------------------------------------------------------------- change pages


def parent_with_children(kind: str):
    """(make the parent, add `count` children to it): the children its change page shows."""

    def team(world):
        return TeamFactory()

    def add_members(world, team, count):
        for _ in range(count):
            TeamMemberFactory(team=team, user=UserFactory(organization=OrganizationFactory()))

    def user(world):
        return make_customer(world.organization)

    def add_roles(world, person, count):
        for _ in range(count):
            world.grown += 1
            Group.objects.create(name=f"Shift {world.grown}")
            account_services.role_assign(person, f"Shift {world.grown}", actor=world.admin)
            TeamMemberFactory(team=TeamFactory(), user=person)

    def article(world):
        return make_article(title="Revised a lot", category=world.category)

    def archived_article(world):  # only an archived article is the admin's to delete
        return knowledge_services.article_archive(article(world), actor=world.admin)

    def add_kept_versions(world, article_, count):  # as the article kept them while it was published
        for _ in range(count):
            world.grown += 1
            ArticleRevision.objects.create(article=article_, title=article_.title, body=f"Body {world.grown}")

    def add_revisions(world, article_, count):
        for _ in range(count):
            world.grown += 1
            knowledge_services.article_update(
                Article.objects.get(pk=article_.pk), body=f"Body {world.grown}", actor=make_administrator()
            )

    def ticket(world):
        return make_ticket(make_customer(world.organization), team=world.team)

    def add_thread(world, ticket_, count):
        for _ in range(count):
            world.grown += 1
            author = make_agent(world.team)
            services.ticket_reply(
                ticket_, body=f"Reply {world.grown}", actor=author, uploads=[upload("a.txt")]
            )
            services.ticket_add_note(ticket_, body=f"Note {world.grown}", actor=author)
            services.ticket_set_tags(ticket_, add=[f"t-{world.grown}"], actor=author)

    def organization(world):
        return OrganizationFactory()

    def add_people(world, organization_, count):
        for _ in range(count):
            make_customer(organization_)
            InvitationFactory(organization=organization_)
            TicketFormFactory(organization=organization_)

    def skill(world):
        return SkillFactory()

    def add_agents(world, skill_, count):
        for _ in range(count):
            skill_.agents.add(make_agent(TeamFactory()))

    def role(world):
        return Group.objects.create(name="Night shift")

    def add_permissions(world, role_, count):
        role_.permissions.add(*Permission.objects.exclude(group=role_)[:count])
        for _ in range(count):
            account_services.role_assign(UserFactory(), role_.name, actor=None)

    def tag(world):
        return TagFactory(name="busy")

    def add_tagged(world, tag_, count):
        for _ in range(count):
            make_ticket(make_customer(world.organization)).tags.add(tag_)

    def category(world):
        return CategoryFactory(name="Parent")

    def add_children(world, category_, count):
        for _ in range(count):
            CategoryFactory(parent=category_)
            make_article(title="In it", category=CategoryFactory(parent=category_))

    def form(world):
        return TicketFormFactory()

    def add_teams(world, form_, count):
        for _ in range(count):
            TeamFactory()
            OrganizationFactory()

    def message(world):
        return TicketMessage.objects.filter(ticket=world.ticket).first()

    def add_siblings(world, message_, count):
        for _ in range(count):
            services.ticket_reply(world.ticket, body="more", actor=world.admin, uploads=[upload("b.txt")])

    def invitation(world):
        return InvitationFactory(organization=world.organization, created_by=world.admin)

    def add_organizations(world, invitation_, count):
        for _ in range(count):
            make_customer(OrganizationFactory())

    def event(world):
        audit.record("export", actor=world.admin, obj=world.ticket)
        return AuditEvent.objects.filter(action="export").first()

    def add_events(world, event_, count):
        for _ in range(count):
            audit.record("export", actor=UserFactory(), obj=world.ticket)

    def saved_view(world):
        return SavedViewFactory(owner=world.agent, team=world.team)

    def add_views(world, view_, count):
        for _ in range(count):
            SavedViewFactory(owner=world.agent, team=TeamFactory())

    def attachment(world):
        services.ticket_reply(world.ticket, body="file", actor=world.admin, uploads=[upload("c.txt")])
        return Attachment.objects.order_by("-pk").first()

    return {
        "team+members": (team, add_members),
        "user+roles+memberships": (user, add_roles),
        "article+revisions": (article, add_revisions),
        "archived article+revisions": (archived_article, add_kept_versions),
        "ticket+messages+notes+tags": (ticket, add_thread),
        "organization+members+invitations+forms": (organization, add_people),
        "skill+agents": (skill, add_agents),
        "role+permissions+holders": (role, add_permissions),
        "tag+tickets": (tag, add_tagged),
        "category+children": (category, add_children),
        "ticketform+teams": (form, add_teams),
        "message+siblings": (message, add_siblings),
        "invitation+organizations": (invitation, add_organizations),
        "auditevent+events": (event, add_events),
        "savedview+views": (saved_view, add_views),
        "attachment+messages": (attachment, add_siblings),
    }[kind]


CHANGE_PAGES = [
    "team+members", "user+roles+memberships", "article+revisions", "ticket+messages+notes+tags",
    "organization+members+invitations+forms", "skill+agents", "role+permissions+holders", "tag+tickets",
    "category+children", "ticketform+teams", "message+siblings", "invitation+organizations",
    "auditevent+events", "savedview+views", "attachment+messages",
]  # fmt: skip


@pytest.mark.parametrize("kind", CHANGE_PAGES)
def test_change_page_costs_the_same_for_few_or_many_related_rows(world, kind):
    """An object's change (or view) page with 8 related rows costs what it costs with 3."""
    make, add = parent_with_children(kind)
    parent = make(world)
    add(world, parent, FEW)
    url = change_url(parent)
    grown = compare(world, [url], lambda world_, count: add(world_, parent, count))
    assert not grown, "\n".join(grown)


@pytest.mark.parametrize(
    "kind",
    [
        "archived article+revisions",
        "organization+members+invitations+forms",
        "skill+agents",
        "category+children",
        "ticketform+teams",
        "invitation+organizations",
        "savedview+views",
    ],
)
def test_delete_page_of_one_object_costs_the_same_for_few_or_many_related_rows(world, kind):
    """The delete confirmation of one object listing (or refusing for) 8 related rows costs what it
    costs for 3."""
    make, add = parent_with_children(kind)
    parent = make(world)
    add(world, parent, FEW)
    url = delete_url(parent)
    grown = compare(world, [url], lambda world_, count: add(world_, parent, count))
    assert not grown, "\n".join(grown)


# --------------------------------------------------------------------------------- "delete selected"


DELETABLE = {
    User: lambda world, count: [
        (lambda person: (TeamMemberFactory(team=world.team, user=person), person)[1])(
            make_customer(world.organization)
        )
        for _ in range(count)
    ],
    Organization: lambda world, count: [OrganizationFactory() for _ in range(count)],
    Team: lambda world, count: [
        (lambda team: (TeamMemberFactory(team=team), TeamMemberFactory(team=team), team)[2])(TeamFactory())
        for _ in range(count)
    ],
    TeamMember: lambda world, count: [TeamMemberFactory(team=world.team) for _ in range(count)],
    Skill: lambda world, count: [
        (lambda skill: (skill.agents.add(UserFactory()), skill)[1])(SkillFactory()) for _ in range(count)
    ],
    RoleAssignment: lambda world, count: [RoleAssignmentFactory() for _ in range(count)],
    Invitation: lambda world, count: [
        InvitationFactory(organization=OrganizationFactory()) for _ in range(count)
    ],
    Group: lambda world, count: [
        Group.objects.create(name=f"Temp {index} {Group.objects.count()}") for index in range(count)
    ],
    Category: lambda world, count: [CategoryFactory() for _ in range(count)],
    Article: lambda world, count: [
        knowledge_services.article_update(
            make_article(title=f"Gone {Article.objects.count()}"), body="Changed", actor=world.admin
        )
        for _ in range(count)
    ],
    TicketForm: lambda world, count: [
        TicketFormFactory(organization=OrganizationFactory()) for _ in range(count)
    ],
    Tag: lambda world, count: [TagFactory() for _ in range(count)],
    SavedView: lambda world, count: [
        SavedViewFactory(owner=world.agent, team=TeamFactory()) for _ in range(count)
    ],
}
BULK_FEW, BULK_MANY = 3, 8


def delete_selected_counts(world, model) -> tuple[list[str], list[str]]:
    """The SQL of the "Delete selected" confirmation for BULK_FEW, then BULK_MANY ticked rows."""
    make = DELETABLE[model]
    counts = {}
    for count in (BULK_FEW, BULK_MANY):
        rows = make(world, count)
        data = {"action": "delete_selected", "_selected_action": [str(row.pk) for row in rows]}
        status, sql = measured(world.client, changelist_url(model), data)
        assert status == 200, (count, status)
        counts[count] = sql
    return counts[BULK_FEW], counts[BULK_MANY]


def assert_delete_selected_flat(world, model) -> None:
    few, many = delete_selected_counts(world, model)
    assert len(many) <= len(few), (
        f"{model._meta.label}: {len(few)} queries for {BULK_FEW} rows, {len(many)} for {BULK_MANY}\n"
        + "\n".join(repeated(many, 10))
    )


WITH_N_PLUS_ONE = (User, Team, RoleAssignment, Tag)  # each has its own test below, with what it does


@pytest.mark.parametrize(
    "model",
    [model for model in DELETABLE if model not in WITH_N_PLUS_ONE],
    ids=lambda model: model._meta.label,
)
def test_delete_selected_confirmation_costs_the_same_for_3_or_30_rows(world, model):
    """ "Delete selected" on 30 ticked rows shows its confirmation (what will go with them) in the
    queries it takes for 3: not a related-row read or a permission check per row listed."""
    assert_delete_selected_flat(world, model)


# ------------------------------------------------------------------------------------------ autocomplete


AUTOCOMPLETES = [
    ("tickets", "ticket", "assignee", grow_users),
    ("accounts", "teammember", "user", grow_users),
    ("accounts", "teammember", "team", grow_teams),
    ("accounts", "roleassignment", "user", grow_users),
    ("accounts", "roleassignment", "role", grow_roles),
]


@pytest.mark.parametrize(
    ("app", "model", "field", "grow"), AUTOCOMPLETES, ids=lambda v: getattr(v, "__name__", v)
)
@pytest.mark.parametrize("term", ["", "e"])
def test_autocomplete_costs_the_same_for_few_or_many_matches(world, app, model, field, grow, term):
    """The admin's autocomplete (a select2 search as the administrator types) answers 8 matches in
    the queries of 3."""
    grow(world, FEW)
    url = f"/admin/autocomplete/?app_label={app}&model_name={model}&field_name={field}&term={term}"
    grown = compare(world, [url], grow)
    assert not grown, "\n".join(grown)


def test_autocomplete_pages_past_the_first_answer_200(world):
    """Paging the autocomplete (select2 asks page 2 as one scrolls) answers 200 with results."""
    grow_users(world, 30)  # more than a page of 20
    url = "/admin/autocomplete/?app_label=accounts&model_name=teammember&field_name=user&term=&page=2"
    response = world.client.get(url)
    assert response.status_code == 200
    assert response.json()["results"]


# -------------------------------------------------------------------------- odd sort keys at volume


@pytest.mark.parametrize(
    "model", [User, Ticket, Article, Organization, Tag], ids=lambda model: model._meta.label
)
@pytest.mark.parametrize("order", ["99", "-99", "1.2", "x", "0", "1.1.1", "-", "2.-3"])
def test_odd_sort_keys_answer_the_list_not_a_server_error(world, model, order):
    """A hand-edited `?o=` (a column that does not exist, letters, repeats) gives the list, not a 500."""
    CHANGELISTS[model](world, FEW)
    response = world.client.get(changelist_url(model) + f"?o={order}")
    assert response.status_code in (200, 302), response.status_code
