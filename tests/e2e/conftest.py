"""Browser fixtures: Playwright driving the system Chromium (Debian package `chromium`)."""

import os
import re
import shutil
from urllib.parse import urljoin

import pytest
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts import two_factor
from accounts.models import User
from tests.conftest import copy_rows, put_back

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
    process, then put back from a copy of the rows that made (loaddata's 2,500 queries took 3 s a test).
    The demo passwords are hashed again with the suite's fast hasher: the fixture's PBKDF2 hashes cost
    almost a second of CPU at each sign-in in the browser."""
    if _demo_rows:
        put_back(_demo_rows)
    else:
        call_command("loaddata", "roles", "demo", verbosity=0)
        User.objects.filter(password__startswith="pbkdf2").update(password=make_password(DEMO_PASSWORD))
        _demo_rows.update(copy_rows())


DEMO_PASSWORD = "helpdesk-demo"


def sign_in(page, live_server, email: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def signed_in(page, live_server, email: str):
    """`page`, signed in as `email`, on the page the sign-in leads to, once the header shows the account.
    The session is made as the test client's force_login makes it and handed to the browser as its
    cookie: sending the sign-in form, even from the page's own request context, took a third of a second
    a test. The form itself is driven in the browser by the sign-in tests (`sign_in`); accounts with
    two-factor sign-in still send it, for the second step."""
    user = User.objects.get(email__iexact=email)
    if two_factor.is_enabled(user):
        return _signed_in_by_the_form(page, live_server, email)
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    page.context.add_cookies([{"name": name, "value": client.cookies[name].value, "url": live_server.url}])
    page.goto(live_server.url + reverse("home"))
    page.get_by_role("button", name="Sign out").wait_for()
    return page


def _signed_in_by_the_form(page, live_server, email: str):
    login = f"{live_server.url}/accounts/login/"
    form = page.request.get(login)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text())
    assert token, f"no CSRF token on the sign-in page ({form.status})"
    landed = page.request.post(
        login,
        form={"csrfmiddlewaretoken": token[1], "username": email, "password": DEMO_PASSWORD},
        max_redirects=0,
    )
    assert landed.status == 302, f"signing in as {email} answered {landed.status}"
    page.goto(urljoin(login, landed.headers["location"]))
    page.get_by_role("button", name="Sign out").wait_for()
    return page
