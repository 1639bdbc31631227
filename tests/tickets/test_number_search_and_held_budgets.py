"""Budgets of the new paths: a bare-number queue search looks the number up in its index at volume
(plan shapes, no timings), and kept files are held and handed over in queries whatever their number."""

import re
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.conftest import rows_for_the_module
from tests.factories import TeamFactory, make_administrator, make_agent, make_customer, make_ticket
from tests.tickets.conftest import held_boxes
from tickets.selectors import queue_queryset

pytestmark = pytest.mark.django_db

REMOVED = re.compile(r"Rows Removed by Filter: (\d+)")


def analysed(sql: str, params=None) -> str:
    """EXPLAIN ANALYZE without timings: the plan and the rows each node read and threw away."""
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def insert_tickets(count: int, *, requester, team, assignee) -> None:
    """As tests/tickets/test_queue_scale.bulk_insert_tickets, with subjects like the bench's (words, no
    digits), so the statistics of search_vector are the same whatever rows ANALYZE samples."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO tickets_ticket (
                subject, description, requester_id, organization_id, team_id, assignee_id, priority, status,
                channel, custom_fields, escalation_level, is_deleted, created_at, updated_at, version)
            SELECT (ARRAY['Printer jam', 'Cannot sign in', 'Invoice wrong', 'VPN drops'])[1 + n %% 4],
                   'Body', %s, %s, %s, CASE WHEN n %% 50 = 0 THEN %s::bigint END,
                   (ARRAY['low','medium','high','urgent'])[1 + n %% 4],
                   CASE WHEN n %% 100 = 0 THEN 'open' WHEN n %% 100 = 1 THEN 'pending' ELSE 'closed' END,
                   'web', '{}'::jsonb, 0, false,
                   now() - (n || ' minutes')::interval, now() - (n || ' minutes')::interval, 1
            FROM generate_series(1, %s) AS n
            """,
            [requester.pk, requester.organization_id, team.pk, assignee.pk, count],
        )


def _reply(client, url, ticket, **data):
    ticket.refresh_from_db()
    posted = {"kind": "reply", "version": ticket.version, "submission_key": str(uuid.uuid4()), **data}
    with CaptureQueriesContext(connection) as captured:
        response = client.post(url, posted)
    return response, len(captured)


def _desk(client):
    team = TeamFactory()
    agent = make_agent(team)
    ticket = make_ticket(make_customer(), team=team, subject="Printer on fire")
    client.force_login(agent)
    client.get(reverse("tickets:desk_ticket", args=[ticket.number]))  # warm caches
    return ticket, reverse("tickets:desk_reply", args=[ticket.number])


def _files(prefix: str, count: int) -> list:
    return [SimpleUploadedFile(f"{prefix}{i}.txt", b"hello") for i in range(count)]


def test_a_refused_reply_holds_its_files_in_a_fixed_number_of_queries(client):
    """A desk reply that comes back (422, here an empty body) keeps its files (uploads_hold): the
    HeldUpload rows are written together (bulk_create), so one file or eight cost the same queries."""
    ticket, url = _desk(client)
    _reply(client, url, ticket, body="", attachments=_files("w", 1))  # warm the page's caches
    one = _reply(client, url, ticket, body="", attachments=_files("a", 1))
    eight = _reply(client, url, ticket, body="", attachments=_files("b", 8))
    assert one[0].status_code == eight[0].status_code == 422
    assert eight[1] <= one[1], f"1 file: {one[1]} queries, 8 files: {eight[1]}"


def test_sending_kept_files_costs_no_more_per_file_than_sending_new_ones(client):
    """Sending a reply with files kept from a refused sending hands the HeldUpload rows over to
    attachments: the rows already exist, so the hand-over is at most as dear per file as storing a new
    upload (one INSERT each today), not a DELETE plus an INSERT per file."""
    ticket, url = _desk(client)
    _reply(client, url, ticket, body="first answer")  # the first answer opens the ticket: not measured
    costs = {}
    for count in (1, 8):
        refused, _ = _reply(client, url, ticket, body="", attachments=_files(f"k{count}-", count))
        tokens = [token for token, _ in held_boxes(refused).values()]
        assert len(tokens) == count
        sent, costs[("held", count)] = _reply(client, url, ticket, body=f"kept {count}", held=tokens)
        assert sent.status_code == 302
        sent, costs[("new", count)] = _reply(
            client, url, ticket, body=f"new {count}", attachments=_files(f"n{count}-", count)
        )
        assert sent.status_code == 302
    per_held = costs[("held", 8)] - costs[("held", 1)]
    per_new = costs[("new", 8)] - costs[("new", 1)]
    assert per_held <= per_new, costs


def test_a_search_of_bare_digits_names_the_ticket_with_that_number_above_the_list(client, db):
    """ "1042" lists T-1042 and the tickets that mention 1042, newest first: the ticket itself may be pages
    down, or filtered out, so the queue names it above the list, to those who work it."""
    team = TeamFactory()
    agent, customer = make_agent(team), make_customer()
    wanted = make_ticket(customer, team=team, subject="Printer on fire")
    number = wanted.number
    for item in range(30):
        make_ticket(customer, team=team, subject=f"Order {number} item {item}")
    named = f'Ticket number {number}: <a href="{reverse("tickets:desk_ticket", args=[number])}">'
    client.force_login(agent)
    queue = reverse("tickets:desk_queue")

    first_page = client.get(queue, {"q": str(number)})
    assert number not in [ticket.number for ticket in first_page.context["queue"].tickets]
    assert named in first_page.content.decode()
    assert named in client.get(queue, {"q": str(number), "status": "resolved"}).content.decode()
    assert named not in client.get(queue, {"q": f"T-{number}"}).content.decode()  # the list is the ticket
    assert "Ticket number" not in client.get(queue, {"q": str(number + 1000)}).content.decode()

    client.force_login(make_agent(TeamFactory()))
    assert "Ticket number" not in client.get(queue, {"q": str(number)}).content.decode()


# Last in the module: the rows at volume stay until the module ends.


@pytest.fixture(scope="module")
def volume(django_db_setup, django_db_blocker, tmp_path_factory):
    """~100k tickets over three teams; an agent working all three (and assigned some), an administrator.
    Made once for the module: the rows take seconds."""
    with rows_for_the_module(django_db_blocker, tmp_path_factory.mktemp("media")):
        teams = [TeamFactory() for _ in range(3)]
        agent = make_agent(*teams)
        customer = make_customer()
        for team in teams:
            insert_tickets(35_000, requester=customer, team=team, assignee=agent)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE tickets_ticket")
            cursor.execute("SELECT number FROM tickets_ticket ORDER BY updated_at LIMIT 1")  # the oldest
            [number] = cursor.fetchone()
        yield agent, make_administrator(), number


def test_bare_number_search_looks_the_number_up_in_its_index_at_volume(volume):
    """q=<digits> at 100k+ tickets, for an administrator and for an agent sorting by created or number: the
    ticket with that number is found through the number's unique index, ORed with the text index. It must
    not walk a sort index (updated_at, created_at, number) testing `number = N OR search_vector @@ 'N'` on
    every row, which reads the whole table when fewer than a page of tickets match (the usual case for a
    ticket number). One test over the three cases: the 100k rows take seconds to build."""
    agent, administrator, number = volume
    for user, query in [(administrator, ""), (agent, "&sort=created"), (agent, "&sort=-number")]:
        _, tickets, _ = queue_queryset(user, QueryDict(f"q={number}{query}"))
        sql, params = tickets[:25].query.sql_with_params()
        plan = analysed(sql, params)
        read_and_dropped = sum(int(n) for n in REMOVED.findall(plan))
        assert f"Index Cond: (number = {number})" in plan, f"{user} {query}\n{plan}"
        assert read_and_dropped < 1_000, f"{user} {query}\n{plan}"


def test_bare_number_search_page_reads_few_rows_at_volume(client, volume):
    """The desk queue page for q=<digits> (an agent of several teams, default sort, BranchWalk), and for
    an administrator: every ticket query reads a few rows, not each team's (or the table's) tickets."""
    agent, administrator, number = volume
    for user in (agent, administrator):
        client.force_login(user)
        client.get(reverse("tickets:desk_queue"))  # warm caches
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("tickets:desk_queue"), {"q": str(number)})
        assert response.status_code == 200
        assert number in [ticket.number for ticket in response.context["queue"].tickets]
        for item in captured:
            sql = item["sql"]
            if '"tickets_ticket"' not in sql or not sql.lstrip("(").startswith("SELECT"):
                continue
            plan = analysed(sql)
            dropped = sum(int(n) for n in REMOVED.findall(plan))
            assert dropped < 1_000, f"{user}: {sql[:300]}\n{plan}"
