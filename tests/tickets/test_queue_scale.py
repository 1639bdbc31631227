"""The queue at volume: the same number of queries for 100 and 100,000 tickets, and index scans for
the default views (checked with EXPLAIN after ANALYZE)."""

import pytest
from django.db import connection
from django.http import QueryDict
from django.urls import reverse

from tests.factories import TeamFactory, make_agent, make_customer, make_ticket
from tickets.selectors import queue_queryset


def bulk_insert_tickets(count: int, *, requester, team, assignee=None) -> None:
    """Rows straight into the table with generate_series: realistic volume in seconds, mostly closed."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO tickets_ticket (
                subject, description, requester_id, organization_id, team_id, assignee_id, priority, status,
                channel, custom_fields, escalation_level, is_deleted, created_at, updated_at, version)
            SELECT 'Bulk ticket ' || n, 'Body ' || n, %s, %s, %s,
                   CASE WHEN n %% 50 = 0 THEN %s END,
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


@pytest.mark.parametrize("volume", [100, 100_000])
def test_queue_query_count_does_not_grow_with_the_table(
    client, django_assert_max_num_queries, queue_world, volume
):
    team, agent, customer = queue_world
    bulk_insert_tickets(volume, requester=customer, team=team, assignee=agent)
    client.force_login(agent)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("tickets:desk_queue"))
    page = response.context["queue"].page
    assert len(page.object_list) == 25
    assert page.paginator.count == min(volume, 10_001)
    assert page.paginator.count_is_estimate == (volume > 10_000)


def plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize(
    "query",
    ["assignee=me&status=new&status=open&status=pending&status=on_hold", "status=pending", "", "q=fire"],
)
def test_default_views_use_indexes_at_volume(queue_world, query):
    team, agent, customer = queue_world
    bulk_insert_tickets(100_000, requester=customer, team=team, assignee=agent)
    make_ticket(customer, team=team, subject="Printer on fire")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tickets_ticket")
    _, tickets, _ = queue_queryset(agent, QueryDict(query))
    explained = plan(tickets[:25])
    assert "Seq Scan on tickets_ticket" not in explained, explained
