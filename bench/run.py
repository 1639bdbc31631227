"""In-process page benchmarks at volume: median and p95 server time and SQL queries per page.

    .venv/bin/python bench/run.py --tickets 100000 [--requests 50] [--json bench/results/run.json]

Creates a throw-away database, fills it with SQL (organisations, 5,000 customers, 200 agents in 20
teams, N tickets with skewed statuses and 1-3 messages each, a few 200-message threads, KB
articles), then times each page with Django's test client after a warm-up. Not part of `make test`.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

FILL = [
    # customers, spread over 50 organisations
    """INSERT INTO accounts_organization (name, slug, email_domains, settings, is_active, created_at)
       SELECT 'Org ' || n, 'org-' || n, '[]', '{}', true, now() FROM generate_series(1, 50) n""",
    """INSERT INTO accounts_user (password, email, name, status, suspension_reason, timezone,
           is_organization_manager, is_staff, is_superuser, date_joined, organization_id)
       SELECT '!', 'customer' || n || '@bench.example', 'Customer ' || n, 'active', '', 'UTC', n %% 100 = 0,
              false, false, now(), (SELECT min(id) FROM accounts_organization) + n %% 50
       FROM generate_series(1, 5000) n""",
    # tickets: mostly closed, a few thousand open, spread over teams and customers
    """INSERT INTO tickets_ticket (subject, description, requester_id, organization_id, team_id,
           assignee_id, priority, status, channel, custom_fields, escalation_level, is_deleted, created_at,
           updated_at, version)
       SELECT (ARRAY['Printer','VPN','Invoice','Password','Laptop','Scanner','E-mail','Calendar'])[1 + n %% 8]
                || ' problem number ' || n,
              'Body ' || n, c.id, c.organization_id, t.id,
              CASE WHEN n %% 3 = 0 THEN NULL ELSE %(agent)s END,
              (ARRAY['low','medium','high','urgent'])[1 + n %% 4],
              CASE WHEN n %% 200 = 0 THEN 'open' WHEN n %% 200 = 1 THEN 'pending' WHEN n %% 200 = 2 THEN 'new'
                   WHEN n %% 200 = 3 THEN 'resolved' ELSE 'closed' END,
              'web', '{}', 0, false, now() - (n || ' minutes')::interval,
              now() - (n || ' minutes')::interval, 1
       FROM generate_series(1, %(tickets)s) n
       JOIN LATERAL (SELECT id, organization_id FROM accounts_user WHERE email = 'customer' || (1 + n %% 5000)
                     || '@bench.example') c ON true
       JOIN LATERAL (SELECT id FROM accounts_team ORDER BY id OFFSET n %% 20 LIMIT 1) t ON true""",
    """INSERT INTO tickets_ticketmessage (uid, ticket_id, author_id, is_internal, from_staff, body, body_html,
           created_at)
       SELECT gen_random_uuid(), t.id, t.requester_id, false, false, 'Message ' || k || ' of ticket ' || t.id,
              '<p>Message ' || k || '</p>', t.created_at + (k || ' minutes')::interval
       FROM tickets_ticket t, generate_series(1, 1 + (SELECT 0) + (t.id %% 3)::int) k""",
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    # No setup_test_environment(): its instrumented template rendering would inflate every timing.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Pages are timed in-process: static URLs need no collected manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    test_database = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        from django.core.management import call_command

        from accounts import roles
        from accounts import services as account_services
        from accounts.models import Team, TeamMember, User
        from tickets import services as ticket_services
        from tickets.models import Ticket

        call_command("loaddata", "roles", verbosity=0)
        started = time.perf_counter()
        teams = [Team.objects.create(name=f"Team {n}", slug=f"team-{n}") for n in range(20)]
        agents = []
        for n in range(200):
            agent = User.objects.create_user(f"agent{n}@bench.example", "bench", name=f"Agent {n}")
            account_services.role_assign(agent, roles.AGENT, actor=None)
            TeamMember.objects.create(team=teams[n % 20], user=agent)
            agents.append(agent)
        with connection.cursor() as cursor:
            for statement in FILL:
                cursor.execute(statement, {"tickets": args.tickets, "agent": agents[0].pk})
            cursor.execute("ANALYZE")
        customer = User.objects.get(email="customer1@bench.example")
        customer.set_password("bench")
        customer.save()
        account_services.role_assign(customer, roles.CUSTOMER, actor=None)
        open_in_team = Ticket.objects.filter(team=teams[0], status__in=["new", "open", "pending"])
        small = open_in_team.order_by("-updated_at").first()
        big = open_in_team.order_by("-updated_at")[1]
        for number in range(100):
            ticket_services.ticket_reply(big, body=f"Reply {number}", actor=agents[0])
            ticket_services.ticket_add_note(big, body=f"Note {number}", actor=agents[0])
        call_command("kb_import", str(ROOT.parent / "shared" / "data" / "stackfaq" / "articles.jsonl"),
                     verbosity=0)  # fmt: skip
        elapsed = time.perf_counter() - started
        tickets = Ticket.objects.count()
        print(f"loaded {tickets} tickets in {elapsed:.0f} s ({tickets / elapsed:,.0f} rows/s)")

        agent_client, customer_client = Client(), Client()
        agent_client.force_login(agents[0])
        customer_client.force_login(customer)
        pages = [
            ("queue, default", agent_client, "get", "/desk/", None),
            ("queue, filtered+sorted", agent_client, "get",
             "/desk/?status=open&status=pending&priority=high&sort=priority", None),
            ("queue, text search", agent_client, "get", "/desk/?q=printer", None),
            ("workspace, ~3 messages", agent_client, "get", f"/desk/tickets/{small.number}/", None),
            ("workspace, 200+ messages", agent_client, "get", f"/desk/tickets/{big.number}/", None),
            ("customer my tickets", customer_client, "get", "/portal/tickets/?status=all", None),
            ("customer submits (POST)", customer_client, "post", "/portal/tickets/new/",
             lambda n: {"subject": f"Bench {n}", "description": "Body", "submission_key": f"{n:032x}"}),
            ("KB search", customer_client, "get", "/kb/search/?q=how+do+i+delete+my+facebook+account", None),
            ("KB article", customer_client, "get", "/kb/", None),
        ]  # fmt: skip
        results = []
        print(f"{'page':28} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
        for name, client, method, url, data in pages:
            timings, queries = [], 0
            for number in range(args.requests + 5):
                payload = data(number + 1) if data else None
                with CaptureQueriesContext(connection) as captured:
                    begin = time.perf_counter()
                    response = (
                        getattr(client, method)(url, payload) if payload else getattr(client, method)(url)
                    )
                    took = (time.perf_counter() - begin) * 1000
                assert response.status_code in (200, 302), (name, response.status_code)
                if number >= 5:  # warm-up
                    timings.append(took)
                    queries = len(captured.captured_queries)
                reset_queries()
            p50 = statistics.median(timings)
            p95 = statistics.quantiles(timings, n=20)[18]
            results.append(
                {"page": name, "p50_ms": round(p50, 1), "p95_ms": round(p95, 1), "queries": queries}
            )
            print(f"{name:28} {p50:8.1f} {p95:8.1f} {queries:8d}")
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"tickets": tickets, "results": results}, indent=2))
    finally:
        connection.creation.destroy_test_db(test_database, verbosity=0)


if __name__ == "__main__":
    main()
