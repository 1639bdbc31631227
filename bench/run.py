"""Page benchmarks at volume: median and p95 latency and SQL queries per page, in-process and over HTTP.

    .venv/bin/python bench/run.py --tickets 1000000 [--requests 50] [--wrk 60] [--json bench/results/1m.json]

Uses the database bench/generate.py made for that many tickets (bench_<N>; generated first if it is
missing). Each page is timed with Django's test client in this process (server time, with the SQL
query count) and then over real HTTP against gunicorn (2 sync workers on 127.0.0.1, started here),
after a warm-up. --wrk SECONDS then points wrk (50 connections) at the queue and ticket pages.
Not part of `make test`.
"""

import argparse
import gc
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

WARM_UP = 5
KB_QUESTION = "how do i delete my facebook account"


def percentiles(timings: list[float]) -> tuple[float, float]:
    return statistics.median(timings), statistics.quantiles(timings, n=20)[18]


def bench_pages(setup: dict) -> list[tuple]:
    """(name, who, method, path, POST data maker) for every page measured."""
    return [
        ("queue, default", "agent", "GET", "/desk/", None),
        ("queue, filtered+sorted", "agent", "GET",
         "/desk/?status=open&status=pending&priority=high&priority=urgent&sort=priority", None),
        ("queue, text search", "agent", "GET", "/desk/?q=printer", None),
        ("workspace, ~5 messages", "agent", "GET", f"/desk/tickets/{setup['small']}/", None),
        (f"workspace, {setup['big_messages']} messages", "agent", "GET", f"/desk/tickets/{setup['big']}/",
         None),
        ("customer my tickets", "customer", "GET", "/portal/tickets/?status=all", None),
        ("customer submits (POST)", "customer", "POST", "/portal/tickets/new/",
         lambda n: {"subject": f"Bench {n}", "description": f"The printer is out of toner again ({n}).",
                    "submission_key": f"{time.time_ns() + n:032x}"}),
        ("KB search", "customer", "GET", "/kb/search/?" + urlencode({"q": KB_QUESTION}), None),
        ("KB article", "customer", "GET", f"/kb/articles/{setup['article']}/", None),
        ("KB home", "customer", "GET", "/kb/", None),
    ]  # fmt: skip


def prepare() -> dict:
    import generate
    from django.db.models import Count, F
    from django.db.models.functions import Abs

    from accounts.models import User
    from knowledge.models import Article
    from tickets.models import Ticket

    agent = User.objects.get(email="agent0@bench.example")
    customer = User.objects.get(email="customer1@bench.example")
    visible = Ticket.objects.visible_to(agent).filter(
        team__slug="team-0", number__gt=generate.BIG_THREAD_EVERY
    )
    sizes = visible.annotate(size=Count("messages"), distance=Abs(F("size") - 5))
    small = sizes.order_by("distance", "-updated_at")[0]  # the most recent ticket with ~5 messages
    big = Ticket.objects.visible_to(agent).annotate(size=Count("messages")).order_by("-size")[0]
    article = Article.objects.published().filter(visibility="public", slug__startswith="how").first()
    article = article or Article.objects.published().filter(visibility="public").first()
    # As the WSGI entry point does once the application is loaded (helpdesk/wsgi.py).
    gc.collect()
    gc.freeze()
    return {
        "agent": agent,
        "customer": customer,
        "small": small.number,
        "big": big.number,
        "big_messages": big.size,
        "article": article.slug,
    }


def use_in_process(database: str) -> None:
    """Point Django at the benchmark database and set it up for the test client."""
    import generate
    from django.conf import settings

    generate.use_database(database)
    # No setup_test_environment(): its instrumented template rendering would inflate every timing.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.RATE_LIMITS_ENABLED = False  # as for gunicorn below: one user, many requests a minute
    # In-process pages need no collected static manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def run_in_process(setup: dict, requests: int) -> dict[str, dict]:
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    clients = {"agent": Client(), "customer": Client()}
    clients["agent"].force_login(setup["agent"])
    clients["customer"].force_login(setup["customer"])
    setup["cookies"] = {who: client.cookies["sessionid"].value for who, client in clients.items()}
    results = {}
    for name, who, _, path, data in bench_pages(setup):
        client, timings, sql_timings, cpu_timings, queries = clients[who], [], [], [], 0
        for number in range(requests + WARM_UP):
            with CaptureQueriesContext(connection) as captured:
                begin, cpu_begin = time.perf_counter(), time.process_time()
                response = client.post(path, data(number)) if data else client.get(path)
                took = (time.perf_counter() - begin) * 1000
                cpu = (time.process_time() - cpu_begin) * 1000
            assert response.status_code in (200, 302), (name, response.status_code)
            if number >= WARM_UP:
                timings.append(took)
                # This process's CPU time: unlike the wall clock, it does not grow while a noisy
                # neighbour holds the core, so it compares code changes on a shared VM.
                cpu_timings.append(cpu)
                # Time spent waiting for PostgreSQL (execution and fetching), the rest is Python.
                sql_timings.append(sum(float(query["time"]) for query in captured.captured_queries) * 1000)
                queries = len(captured.captured_queries)
            reset_queries()
        p50, p95 = percentiles(timings)
        sql_p50, cpu_p50 = statistics.median(sql_timings), statistics.median(cpu_timings)
        results[name] = {
            "p50_ms": round(p50, 1),
            "p95_ms": round(p95, 1),
            "sql_p50_ms": round(sql_p50, 1),
            "cpu_p50_ms": round(cpu_p50, 1),
            "queries": queries,
        }
        print(
            f"  in-process {name:28} {p50:7.1f} {p95:7.1f} {sql_p50:7.1f} {cpu_p50:7.1f} {queries:4d}",
            flush=True,
        )
    return results


def profile_page(setup: dict, name: str, requests: int) -> None:
    """Where one page's server time goes: cProfile over `requests` requests after the warm-up."""
    import cProfile
    import pstats

    from django.test import Client

    matches = [page for page in bench_pages(setup) if page[0].startswith(name)]
    if not matches:
        sys.exit(f"no page named {name!r}: " + ", ".join(page[0] for page in bench_pages(setup)))
    title, who, _, path, data = matches[0]
    client = Client()
    client.force_login(setup[who])

    def request(number: int):
        return client.post(path, data(number)) if data else client.get(path)

    for number in range(WARM_UP):
        request(number)
    profiler = cProfile.Profile()
    begin = time.perf_counter()
    profiler.enable()
    for number in range(requests):
        request(WARM_UP + number)
    profiler.disable()
    print(f"{title}: {(time.perf_counter() - begin) * 1000 / requests:.1f} ms per request under cProfile")
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(25)


class Gunicorn:
    """gunicorn serving the benchmark database: 2 sync workers on 127.0.0.1."""

    def __init__(self, port: int) -> None:
        from django.db import connection

        self.port = port
        settings = connection.settings_dict
        connection.ensure_connection()  # the embedded server is up, so its socket is known
        user = quote(settings.get("USER") or "postgres", safe="")
        password = f":{quote(settings['PASSWORD'], safe='')}" if settings.get("PASSWORD") else ""
        port = f":{settings['PORT']}" if settings.get("PORT") else ""
        # A socket directory travels as ?host=, which django-environ hands to psycopg unchanged.
        host = urlencode({"host": settings["HOST"]}) if settings["HOST"].startswith("/") else ""
        address = "" if host else settings["HOST"]
        url = f"postgres://{user}{password}@{address}{port}/{settings['NAME']}" + (f"?{host}" if host else "")
        self.env = {
            **os.environ,
            "DATABASE_URL": url,
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
            # One user posts 50 tickets a minute here; production limits would (rightly) refuse that.
            "RATE_LIMITS_ENABLED": "0",
        }

    def __enter__(self) -> "Gunicorn":
        python = sys.executable
        subprocess.run([python, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
                       cwd=ROOT, env=self.env, check=True)  # fmt: skip
        self.process = subprocess.Popen(
            [python, "-m", "gunicorn", "helpdesk.wsgi", "--workers", "2", "--bind", f"127.0.0.1:{self.port}",
             "--log-level", "warning", "--timeout", "60"],
            cwd=ROOT, env=self.env,
        )  # fmt: skip
        for _ in range(100):
            try:
                if self.get("/healthz", "")[0] == 200:
                    return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)

    def request(self, method: str, path: str, cookie: str, body: dict | None = None, extra=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Cookie": cookie, **(extra or {})}
        encoded = None
        if body is not None:
            encoded = urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, encoded, headers)
        response = connection.getresponse()
        content = response.read()
        connection.close()
        return response.status, content

    def get(self, path: str, cookie: str):
        return self.request("GET", path, cookie)


def run_http(server: Gunicorn, setup: dict, requests: int) -> dict[str, dict]:
    results = {}
    for name, who, method, path, data in bench_pages(setup):
        cookie = f"sessionid={setup['cookies'][who]}"
        if method == "POST":
            token = "bench" + "x" * 27  # CSRF: a cookie and the same (unmasked) value in the form
            cookie += f"; csrftoken={token}"
        timings = []
        for number in range(requests + WARM_UP):
            begin = time.perf_counter()
            if method == "POST":
                status, _ = server.request(
                    "POST", path, cookie, {**data(number), "csrfmiddlewaretoken": token},
                    {"Referer": f"http://127.0.0.1:{server.port}{path}"},
                )  # fmt: skip
            else:
                status, _ = server.get(path, cookie)
            took = (time.perf_counter() - begin) * 1000
            assert status in (200, 302), (name, status)
            if number >= WARM_UP:
                timings.append(took)
        p50, p95 = percentiles(timings)
        results[name] = {"p50_ms": round(p50, 1), "p95_ms": round(p95, 1)}
        print(f"  http       {name:28} {p50:7.1f} {p95:7.1f}", flush=True)
    return results


def run_wrk(server: Gunicorn, setup: dict, seconds: int, connections: int = 50) -> dict:
    paths = " ".join(["/desk/", f"/desk/tickets/{setup['small']}/", f"/desk/tickets/{setup['big']}/"])
    env = {**os.environ, "WRK_PATHS": paths, "WRK_COOKIE": f"sessionid={setup['cookies']['agent']}"}
    output = subprocess.run(
        ["wrk", "--threads", "2", "--connections", str(connections), "--duration", f"{seconds}s",
         "--timeout", "20s", "--script", str(ROOT / "bench" / "wrk_pages.lua"),
         f"http://127.0.0.1:{server.port}/desk/"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    print(output)
    figures = dict(re.findall(r"^(\w+) ([\d.]+)$", output, re.MULTILINE))
    result = {key: float(value) for key, value in figures.items()}
    result |= {"connections": connections, "paths": paths}
    result["requests_per_second"] = round(result["requests"] / result["seconds"], 1)
    return result


def measured_on() -> dict[str, str]:
    """What a table of these numbers must name: when, which code, which machine, which PostgreSQL."""
    import platform

    from django.db import connection

    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, check=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor() or "unknown",
    ) if Path("/proc/cpuinfo").exists() else platform.processor() or "unknown"  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": commit,
        "cpu": f"{cpu} x {os.cpu_count()}",
        "python": platform.python_version(),
        "postgresql": postgres,
    }


def explain_queue_views(setup: dict) -> list[str]:
    """Each query the default queue, its text search and the five built-in views run for `agent0`,
    nothing cached, under EXPLAIN: its scans of tickets_ticket printed, and the views (if any) that read
    the whole table. A scan under the count's cap (Limit 10001) stops at the cap: not a full read."""
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tickets.selectors import built_in_views

    client = Client()
    client.force_login(setup["agent"])
    views = [("default", ""), ("text search", "q=printer")]
    views += [(view.name, view.query) for view in built_in_views()]
    full_reads = []
    for name, query in views:
        cache.clear()
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/desk/?" + query).status_code == 200, name
        statements = [q["sql"] for q in captured.captured_queries]
        on_tickets = [sql for sql in statements if sql.startswith("SELECT") and "tickets_ticket" in sql]
        print(f"{name} ({len(on_tickets)} queries on tickets_ticket)")
        for sql in on_tickets:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN " + sql)
                lines = [row[0] for row in cursor.fetchall()]
            capped = {n + 1 for n, line in enumerate(lines) if "Limit" in line and "rows=10001" in line}
            # The ticket table's scans and the bitmap index scans under them (ours are named ticket_…).
            for n, line in enumerate(lines):
                if "Scan" in line and ("tickets_ticket" in line or "Index Scan on ticket" in line):
                    print("   ", line.strip().removeprefix("->  ").split("  (cost")[0])
                    if "Seq Scan on tickets_ticket" in line and n not in capped:
                        full_reads.append(name)
    print("every view reads tickets through indexes" if not full_reads else f"full reads: {full_reads}")
    return full_reads


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--database", help="default: bench_<tickets>")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--no-http", action="store_true", help="in-process timings only")
    parser.add_argument("--wrk", type=int, default=0, metavar="SECONDS", help="50-client wrk run")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--explain", action="store_true", help="print the plans of the queue's views' queries instead"
    )
    parser.add_argument(
        "--profile", metavar="PAGE", help="cProfile one page (a name from the table, or its start) instead"
    )
    args = parser.parse_args()

    import django

    # whitenoise looks for collected files, which gunicorn gets later; in-process pages need none.
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    django.setup()
    import generate
    from django.conf import settings
    from django.core.management import call_command

    database = args.database or f"bench_{args.tickets}"
    if not generate.database_exists(database):
        generate.generate(args.tickets, database)
    static_storage = settings.STORAGES["staticfiles"]
    use_in_process(database)
    # A database generated by older code gains the migrations made since (a few columns; no data).
    call_command("migrate", verbosity=0, interactive=False)

    from tickets.models import Ticket

    setup = prepare()
    if args.profile:
        profile_page(setup, args.profile, args.requests)
        return
    if args.explain:
        sys.exit(1 if explain_queue_views(setup) else 0)
    tickets = Ticket.objects.count()
    print(
        f"{database}: {tickets:,} tickets; page, p50 ms, p95 ms (in-process also SQL and CPU p50 ms), queries"
    )
    on = measured_on()
    print(", ".join(f"{key} {value}" for key, value in on.items()))
    report = {"database": database, "tickets": tickets, "requests": args.requests, "warm_up": WARM_UP, **on}
    report["in_process"] = run_in_process(setup, args.requests)
    if not args.no_http or args.wrk:
        settings.STORAGES = {**settings.STORAGES, "staticfiles": static_storage}
        with Gunicorn(args.port) as server:
            if not args.no_http:
                report["http"] = run_http(server, setup, args.requests)
            if args.wrk:
                if not shutil.which("wrk"):
                    sys.exit("wrk is not installed (apt-get install wrk)")
                report["wrk"] = run_wrk(server, setup, args.wrk)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
