"""The queue at volume: the same number of queries for 100 and 100,000 tickets, and index scans for
every query the default and built-in views run (checked with EXPLAIN after ANALYZE)."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.conftest import rows_for_the_module
from tests.factories import OrganizationFactory, TeamFactory, make_agent, make_customer, make_ticket
from tickets.selectors import built_in_views, queue_queryset

pytestmark = pytest.mark.django_db


def bulk_insert_tickets(count: int, *, requester, team, assignee=None) -> None:
    """Rows straight into the table with generate_series: realistic volume in seconds, mostly closed."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO tickets_ticket (
                subject, description, requester_id, organization_id, team_id, assignee_id, priority, status,
                channel, custom_fields, escalation_level, is_deleted, created_at, updated_at, version)
            SELECT 'Bulk ticket ' || n, 'Body ' || n, %s, %s, %s,
                   CASE WHEN n %% 50 = 0 THEN %s::bigint END,
                   (ARRAY['low','medium','high','urgent'])[1 + n %% 4],
                   CASE WHEN n %% 100 = 0 THEN 'open' WHEN n %% 100 = 1 THEN 'pending' ELSE 'closed' END,
                   'web', '{}'::jsonb, 0, false,
                   now() - (n || ' minutes')::interval, now() - (n || ' minutes')::interval, 1
            FROM generate_series(1, %s) AS n
            """,
            [requester.pk, requester.organization_id, team.pk, assignee.pk if assignee else None, count],
        )
        cursor.execute("ANALYZE tickets_ticket")


@pytest.fixture
def queue_world(db):
    team = TeamFactory()
    return team, make_agent(team), make_customer()


def queue_page_at_the_budget(client, django_assert_max_num_queries, agent):
    """The default queue with nothing cached (its counts computed), and the queries it took."""
    client.force_login(agent)
    cache.clear()
    with django_assert_max_num_queries(12), CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("tickets:desk_queue"))
    page = response.context["queue"].page
    assert len(page.object_list) == 25
    return page, len(queries)


def test_queue_query_count_does_not_grow_with_the_table(client, django_assert_max_num_queries, queue_world):
    """At 100 tickets the exact count; at 100,000 (below) an estimate past 10,000, in as many queries."""
    team, agent, customer = queue_world
    bulk_insert_tickets(100, requester=customer, team=team, assignee=agent)
    page, _ = queue_page_at_the_budget(client, django_assert_max_num_queries, agent)
    assert (page.paginator.count, page.paginator.count_is_estimate) == (100, False)


def test_text_search_walks_each_visibility_branch_and_lists_what_the_single_query_lists(
    db, client, django_assert_max_num_queries
):
    from guardian.shortcuts import assign_perm

    from accounts import rbac
    from tickets.models import Ticket
    from tickets.selectors import BranchWalk, ticket_queue_page

    support, billing, other = TeamFactory(), TeamFactory(), TeamFactory()
    agent = make_agent(support, billing)
    customer, stranger = make_customer(), make_customer(OrganizationFactory())
    # Equal updated_at across the teams (the same minute offsets), so ties are broken by id.
    bulk_insert_tickets(60, requester=customer, team=support, assignee=agent)
    bulk_insert_tickets(40, requester=customer, team=billing)
    bulk_insert_tickets(200, requester=stranger, team=other, assignee=agent)  # 4 assigned to the agent
    granted = make_ticket(stranger, team=other, subject="Bulk ticket granted")
    assign_perm("tickets.view_ticket", agent, granted)
    assign_perm(rbac.VIEW_ORGANIZATION_TICKETS, agent, stranger.organization)
    Ticket.objects.filter(team=support, subject="Bulk ticket 7").update(is_deleted=True)
    agent = type(agent).objects.get(pk=agent.pk)

    for query in (
        "q=bulk",
        "q=bulk&sort=-updated",
        "q=bulk&status=open",
        "q=ticket&page=3",
        "q=bulk&page=13",
    ):
        params = QueryDict(query)
        page = ticket_queue_page(agent, params)
        assert isinstance(page.page.paginator.object_list, BranchWalk)
        _, single, _ = queue_queryset(agent, params)
        start = (page.page.number - 1) * 25
        expected = list(single.values_list("number", flat=True)[start : start + 25])
        assert expected, query
        assert [ticket.number for ticket in page.tickets] == expected, query

    client.force_login(agent)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("tickets:desk_queue"), {"q": "bulk"})
    assert len(response.context["queue"].page.object_list) == 25


@pytest.mark.parametrize("query", ["Carla", "acme", "carla acme printer", "T-1 carla"])
def test_text_search_that_matches_people_and_organisations_keeps_the_budget(
    db, client, django_assert_max_num_queries, query
):
    team = TeamFactory()
    agent = make_agent(team)
    carla = make_customer(OrganizationFactory(name="Acme"), name="Carla Customer", email="carla@acme.example")
    for n in range(30):
        make_ticket(carla, team=team, subject=f"Printer {n}")
    client.force_login(agent)
    with django_assert_max_num_queries(12):  # a cold cache: the counts are computed, not read
        response = client.get(reverse("tickets:desk_queue"), {"q": query, "sort": "-priority"})
    assert response.status_code == 200


# Last in the module: the rows at volume stay until the module ends.


@pytest.fixture(scope="module")
def world_at_volume(django_db_setup, django_db_blocker, tmp_path_factory):
    """100,000 tickets of one team, mostly closed, and one the text search finds, made once for the module
    (the rows take seconds)."""
    with rows_for_the_module(django_db_blocker, tmp_path_factory.mktemp("media")):
        team = TeamFactory()
        agent, customer = make_agent(team), make_customer()
        bulk_insert_tickets(100_000, requester=customer, team=team, assignee=agent)
        make_ticket(customer, team=team, subject="Printer on fire")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE tickets_ticket")
        yield team, agent, customer


def test_queue_query_count_at_volume_is_the_count_at_100_tickets(
    client, django_assert_max_num_queries, world_at_volume
):
    _, agent, _ = world_at_volume
    page, at_volume = queue_page_at_the_budget(client, django_assert_max_num_queries, agent)
    assert (page.paginator.count, page.paginator.count_is_estimate) == (10_001, True)

    # The same agent and page with the table cut to 100 tickets (rolled back after the test).
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM tickets_ticket WHERE subject LIKE 'Bulk ticket %%' AND id NOT IN"
            " (SELECT id FROM tickets_ticket WHERE subject LIKE 'Bulk ticket %%' ORDER BY id LIMIT 99)"
        )
    page, at_100 = queue_page_at_the_budget(client, django_assert_max_num_queries, agent)
    assert (page.paginator.count, page.paginator.count_is_estimate) == (100, False)
    assert at_100 == at_volume


def plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_default_views_use_indexes_at_volume(world_at_volume):
    _, agent, _ = world_at_volume
    for query in ["assignee=me&status=new&status=open&status=pending&status=on_hold", "status=pending", "",
                  "q=fire"]:  # fmt: skip
        _, tickets, _ = queue_queryset(agent, QueryDict(query))
        explained = plan(tickets[:25])
        assert "Seq Scan on tickets_ticket" not in explained, f"{query}:\n{explained}"


def test_every_query_of_the_built_in_views_uses_indexes_at_volume(client, world_at_volume):
    """Each view's page as the agent opens it, nothing cached: the list, its capped count, the views'
    counts beside it, explained one by one."""
    _, agent, _ = world_at_volume
    client.force_login(agent)
    views = ["", "q=fire", *(view.query for view in built_in_views())]
    assert len(views) == 7
    for query in views:
        cache.clear()
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("tickets:desk_queue") + "?" + query)
        assert response.status_code == 200
        statements = [captured["sql"] for captured in queries]
        on_tickets = [sql for sql in statements if sql.startswith("SELECT") and "tickets_ticket" in sql]
        assert len(on_tickets) >= 3, query  # the list, its count and the views' counts at least
        for sql in on_tickets:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN " + sql)
                lines = [row[0] for row in cursor.fetchall()]
            # A scan under the count's cap stops at 10,001 matching rows: with every ticket here in the
            # agent's team, reading the table's first rows is the cheapest count there is.
            capped = [n + 1 for n, line in enumerate(lines) if "Limit" in line and "rows=10001" in line]
            full_scans = [
                n for n, line in enumerate(lines) if "Seq Scan on tickets_ticket" in line and n not in capped
            ]
            assert full_scans == [], f"{query}:\n{sql}\n" + "\n".join(lines)
