"""Browser fixtures: Playwright driving the system Chromium (Debian package `chromium`)."""

import os
import shutil

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection, transaction

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser():
    if CHROMIUM is None:
        pytest.skip(
            "Chromium not found: install it with `sudo apt-get install chromium` to run browser tests."
        )
    # Playwright's sync API runs an event loop in this thread; the database calls the tests make
    # around it are synchronous and safe.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh page; the test fails if the page broke the Content-Security-Policy."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)  # fmt: skip
    yield page
    context.close()
    assert violations == [], violations


# The rows `loaddata roles demo` left, per table, in this test process (see `demo`).
_demo_rows: dict[str, bytes] = {}


@pytest.fixture
def demo(transactional_db):
    """The roles and demo fixtures, as `make run` loads them: with loaddata the first time in a test
    process, then put back from a copy of the rows that made (loaddata's 2,500 queries took 3 s a test)."""
    if _demo_rows:
        _put_back(_demo_rows)
    else:
        call_command("loaddata", "roles", "demo", verbosity=0)
        _demo_rows.update(_copy_rows())


def _tables() -> list[str]:
    return sorted(connection.introspection.django_table_names(only_existing=True, include_views=False))


def _copy_rows() -> dict[str, bytes]:
    rows = {}
    with connection.cursor() as cursor:
        for table in _tables():
            # COPY leaves generated columns out both ways: the database computes them again.
            with cursor.cursor.copy(f"COPY {connection.ops.quote_name(table)} TO STDOUT") as copy:
                data = b"".join(bytes(chunk) for chunk in copy)
            if data:
                rows[table] = data
    return rows


def _put_back(rows: dict[str, bytes]) -> None:
    """Every table as `rows` holds it, the identity sequences past the ids, the user triggers (search
    terms counted per article) held off while the rows that they once wrote go back in."""
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:  # keys checked once all rows are in
        cursor.execute("TRUNCATE " + ", ".join(quote(table) for table in _tables()))
        cursor.execute("SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal")
        triggered = [table for (table,) in cursor.fetchall()]
        for table in triggered:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        for table, data in rows.items():
            with cursor.cursor.copy(f"COPY {quote(table)} FROM STDIN") as copy:
                copy.write(data)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # every row is in: check the keys, then ALTER
        for table in triggered:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        for statement in connection.ops.sequence_reset_sql(no_style(), apps.get_models()):
            cursor.execute(statement)
    ContentType.objects.clear_cache()  # ids as loaddata gave them, not as the last flush did


DEMO_PASSWORD = "helpdesk-demo"


def sign_in(page, live_server, email: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def signed_in(page, live_server, email: str):
    """`page`, signed in as `email` with the demo password, once the header shows the account."""
    sign_in(page, live_server, email)
    page.get_by_role("button", name="Sign out").wait_for()
    return page
