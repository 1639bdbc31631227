"""Query-string input on the list pages (desk queue, saved views, portal list, KB search and
category pages, KB manage list and editor versions, audit viewer): paging, sorting and filter values,
hostile or stale, and the links each page builds from them."""

# ruff: noqa: F811 (the shared fixtures, imported)

import re
from html import unescape
from urllib.parse import urljoin

import pytest
from django.core.cache import cache
from django.urls import reverse

from accounts.models import Team, TeamMember
from knowledge import services as knowledge_services
from knowledge.models import ArticleRevision
from tests.factories import (
    CategoryFactory,
    SavedViewFactory,
    TeamFactory,
    loaded,
    make_administrator,
    make_agent,
    make_article,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tests.knowledge.conftest import author, editor  # noqa: F401 (shared fixtures)
from tests.tickets.conftest import desk, insert_tickets  # noqa: F401 (the shared desk fixture)

pytestmark = pytest.mark.django_db

QUEUE = reverse("tickets:desk_queue")


def text(response) -> str:
    return unescape(response.content.decode())


def select_html(html: str, select_id: str) -> str:
    return re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', html, re.S).group(1)


# --- a stale saved view, a refused page's links -----------------------------------------------------


def test_saved_view_of_an_assignee_who_left_the_team_says_which_filter_is_in_force(client, desk):
    """Expected: a saved view "Casey's tickets" (assignee=<Casey's id>) opened after Casey left the agent's
    teams, holding no ticket they can see, shows that the assignee filter is still in force: the Assignee
    menu keeps that choice selected (as it does for someone who still holds a visible ticket, or for an
    inactive organisation), or the page lists the filter among those it could not honour.
    Actual: the list is filtered by Casey's id (empty: "No tickets match") while the Assignee menu reads
    "Anyone" and no message is shown. The agent reads "nobody has any ticket" in a view that says it
    filters nothing; pressing Apply silently turns the view into "everything"."""
    colleague = desk["colleague"]
    view = SavedViewFactory(owner=desk["agent"], name="Casey's tickets", query=f"assignee={colleague.pk}")
    TeamMember.objects.filter(user=colleague).delete()  # Casey moved on; their tickets were handed over
    client.force_login(desk["agent"])
    response = client.get(f"{QUEUE}?{view.query}")
    assert response.status_code == 200
    html = text(response)
    assert "No tickets match" in html  # the filter is applied ...
    menu = select_html(html, "queue-assignee")
    kept_in_menu = f'value="{colleague.pk}" selected' in menu
    said = any("Assignee" in problem for problem in response.context["queue"].filterset.problems)
    # ... but neither the menu nor a message says so.
    assert kept_in_menu or said, f"Assignee menu shows no choice and no message: {menu!r}"


def test_older_versions_link_on_a_refused_back_to_draft_page_leads_to_the_versions(client, author, editor):
    """Expected: the editor page answered after a refused "send back to draft" (note too long, 422) has
    working "Older" / "Newer" links under "Published versions", as the page at /kb/manage/<slug>/edit/
    does. Actual: the page is served at the action's address (/kb/manage/<slug>/draft/) and the links
    are a bare "?versions=2#versions" ({% querystring %} relative to the current URL), so following one
    GETs the POST-only action view: 405, the reviewer's page is gone. An editor paging the versions to
    compare before asking for changes hits an error page."""
    article = knowledge_services.article_create(
        title="Reset the router", body="Hold the button.", actor=author
    )
    ArticleRevision.objects.bulk_create(
        ArticleRevision(article=article, title=f"Reset the router v{n}", body=f"Version {n}")
        for n in range(25)
    )
    article = knowledge_services.article_submit_for_review(article, actor=author)
    client.force_login(editor)
    action = reverse("knowledge:manage_action", args=[article.slug, "draft"])
    response = client.post(action, loaded(article) | {"note": "x" * (knowledge_services.NOTE_MAX_LENGTH + 1)})
    assert response.status_code == 422
    href = re.search(
        r'<a class="button button-small" href="([^"]*)" rel="next">Older</a>', text(response)
    ).group(1)
    followed = client.get(urljoin(f"http://testserver{action}", href))
    assert followed.status_code == 200, f"Older ({href!r} from {action}) answered {followed.status_code}"


# --- odd input on every list page ------------------------------------------------------------------


HOSTILE = [
    "page=0",
    "page=-1",
    "page=1.5",
    "page=abc",
    "page=99999999999999999999",
    "page=999",
    "page=1&page=2",
    "page=",
    "page=%00",
    "page=%ED%A0%80",
    "page=" + "9" * 10000,
    "page[]=1",
    "sort=",
    "sort=--number",
    "sort=number&sort=-number",
    "sort=%00",
    "sort=" + "x" * 10000,
    "q=%00",
    "q=%ED%A0%80",
    "q=" + "a" * 10000,
    "q=a&q=b",
    "status=%00",
    "status=draft&status=review",
    "team=x",
    "team=99999999999999999999",
    "team=%00",
    "tag=%00",
    "tag=" + "t" * 10000,
    "created_after=2024-13-45",
    "solved_before=9999-12-31",
    "created_within=x",
    "organization=x",
    "organization=99999999999999999999",
    "requester=x",
    "requester=99999999999999999999",
    "assignee=%00",
    "assignee=99999999999999999999",
    "date_from=2024-13-45",
    "date_to=9999-12-31",
    "actor=%00",
    "object=T-" + "9" * 290,
    "object_type=99999999999999999999",
    "before=x",
    "after=-5",
    "after=99999999999999999999",
    "before=0",
    "versions=abc",
    "scope=%00",
]


def test_hostile_query_strings_never_answer_a_server_error(client, settings):
    """Every list page, as page and as htmx fragment, answers 200, 404 or 422 for odd paging, sorting and
    filter values (NUL, lone surrogates, 10,000 characters, repeats, wrong types): never a 500."""
    team = TeamFactory(name="Support")
    customer = make_customer(manager=True)
    for n in range(3):
        make_ticket(customer, team=team, subject=f"Printer {n}")
    category = CategoryFactory()
    make_article(category=category)
    pages = {
        make_administrator(): [
            QUEUE, reverse("knowledge:search"), reverse("knowledge:category", args=[category.slug]),
            reverse("knowledge:other_articles"), reverse("knowledge:manage_list"),
            reverse("audit:event_list"), reverse("accounts:profile"),
        ],
        customer: [reverse("tickets:portal_list"), reverse("knowledge:category", args=[category.slug])],
    }  # fmt: skip
    bad = []
    for user, addresses in pages.items():
        client.force_login(user)
        for url in addresses:
            for query in HOSTILE:
                for headers in ({}, {"HX-Request": "true", "HX-Target": "queue-table"}):
                    cache.clear()  # the search's rate limit is not what is probed
                    code = client.get(f"{url}?{query}", headers=headers).status_code
                    if code not in (200, 404, 422):
                        bad.append((url, query[:40], code))
    assert not bad


def test_saved_view_with_a_deleted_team_opens_and_says_the_team_filter_was_not_applied(client, desk):
    """A saved view filtering by a team deleted since opens (200), still named, and says the team filter
    was not applied rather than failing or quietly listing everything."""
    gone = TeamFactory(name="Closed desk")
    TeamMember.objects.create(user=desk["agent"], team=gone)
    view = SavedViewFactory(
        owner=desk["agent"], name="Closed desk work", query=f"team={gone.pk}&sort=-number"
    )
    Team.objects.filter(pk=gone.pk).delete()
    client.force_login(desk["agent"])
    response = client.get(f"{QUEUE}?{view.query}")
    assert response.status_code == 200
    html = text(response)
    assert "Some filters were not applied" in html and "Team:" in html
    assert response.context["current_view"].pk == view.pk


def test_queue_paging_links_keep_filters_and_never_pile_up_page(client, desk):
    """Next/Previous keep every filter and carry one page parameter, on the page and in the fragment,
    even when the address held page twice."""
    insert_tickets(60, requester=desk["customer"], team=desk["support"])
    client.force_login(desk["agent"])
    for headers in ({}, {"HX-Request": "true", "HX-Target": "queue-table"}):
        html = text(client.get(f"{QUEUE}?status=open&page=2&page=2&sort=-number", headers=headers))
        links = re.findall(r'href="([^"]*)" hx-get="[^"]*"[^>]*rel="(?:next|prev)"', html)
        assert len(links) == 2
        for link in links:
            assert link.count("page=") == 1 and "status=open" in link and "sort=-number" in link


def test_audit_older_link_keeps_the_filters(client):
    """The audit viewer's Older link keeps the filters in force and names one cursor."""
    administrator = make_administrator()
    team = TeamFactory(name="Support")
    customer = make_customer()
    for n in range(60):
        make_ticket(customer, team=team, subject=f"Audit {n}")
    client.force_login(administrator)
    html = text(client.get(reverse("audit:event_list"), {"category": "business"}))
    older = re.search(r'href="([^"]*)" rel="next">Older', html).group(1)
    assert "category=business" in older and older.count("before=") == 1 and "after=" not in older


def test_manage_list_status_links_keep_the_search_and_drop_the_page(client):
    """KB manage list: the status buttons keep the title search and start again at page 1."""
    agent = make_agent(TeamFactory())
    for n in range(55):
        make_article(title=f"Printer guide {n}")
    client.force_login(agent)
    html = text(client.get(reverse("knowledge:manage_list"), {"q": "printer", "page": "2"}))
    review = re.search(r'href="([^"]*)"[^>]*>Review queue</a>', html).group(1)
    assert "q=printer" in review and "page=" not in review and "status=review" in review


def test_portal_list_past_the_end_shows_the_last_page_with_its_count(client):
    """Portal "My tickets": a page past the end shows the last page, and the total matches the rows."""
    customer = make_customer()
    team = TeamFactory()
    for n in range(23):
        make_ticket(customer, team=team, subject=f"Mine {n}")
    client.force_login(customer)
    response = client.get(reverse("tickets:portal_list"), {"status": "all", "page": "99999999999999999999"})
    page = response.context["page"]
    assert response.status_code == 200 and page.number == 2 and len(page.object_list) == 3
    assert "Page 2 of 2 · 23 in all" in text(response)


def test_supervisor_audit_count_matches_the_rows(client):
    """For a supervisor (whose events are counted by parts), the count shown equals the events listed."""
    team = TeamFactory(name="Support")
    supervisor = make_supervisor(team)
    customer = make_customer()
    for n in range(4):
        make_ticket(customer, team=team, subject=f"Seen {n}")
    make_ticket(customer, team=TeamFactory(name="Other"), subject="Unseen")
    client.force_login(supervisor)
    response = client.get(reverse("audit:event_list"))
    page = response.context["page"]
    assert page.count == len(page.events) > 0
