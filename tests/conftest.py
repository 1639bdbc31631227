"""Shared pytest fixtures: the built-in roles in the test database, fast password hashing, a quick
force_login, an empty cache, a client signed in as a superuser, and rows a whole test module shares."""

import inspect
from collections import defaultdict
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection, connections, transaction
from django.db.models import Model
from django.http import HttpRequest
from django.test import Client, TransactionTestCase, override_settings
from django.utils import timezone

from tests.factories import make_administrator

pytest_plugins = ["tests.time_limit"]  # --stop-at

# The modules whose behaviour rests on the database server itself: settings and readiness, the ticket
# number sequence, row locks and races, the audit chain's lock, full-text search. Marked `database`, and
# run first in a pass with a time limit (`--stop-at`): CI's second pass, against the machine's
# PostgreSQL server through DATABASE_URL, runs as much of the suite as fits CI's 20 minutes, these
# always. (The index plans at volume, which take a minute, are the embedded server's: what a plan is on
# another server is a matter of speed there, not of behaviour.)
DATABASE_SERVER_MODULES = [
    "accounts/test_signup_race.py",
    "audit/test_audit.py",
    "audit/test_chain_and_masking_edges.py",
    "audit/test_keyed_chain.py",
    "helpdesk/test_health.py",
    "helpdesk/test_races_across_the_desk_portal_and_imports.py",
    "helpdesk/test_races_admin_and_sweeps.py",
    "helpdesk/test_settings.py",
    "knowledge/test_concurrent_and_stale_changes.py",
    "knowledge/test_search_snippets.py",
    "knowledge/test_search_terms.py",
    "knowledge/test_search_tokens_imports_and_votes.py",
    "knowledge/test_search_type_ahead.py",
    "knowledge/test_search_typos.py",
    "knowledge/test_search_words_counts_and_round_trips.py",
    "tickets/test_numbering.py",
    "tickets/test_races_and_rollbacks.py",
]


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    if missing := [name for name in DATABASE_SERVER_MODULES if not (here / name).exists()]:
        raise pytest.UsageError(f"DATABASE_SERVER_MODULES names modules that are gone: {missing}")
    marked = {str(here / name) for name in DATABASE_SERVER_MODULES}
    for item in items:
        if str(item.path) in marked:
            item.add_marker(pytest.mark.database)


def pytest_configure(config):
    # Static files straight from static/, so the suite needs no collectstatic. Set once for the whole
    # run, not per test: switched back and forth, a live server still answering a request of the test
    # before could build the manifest storage in between and leave it for the next test.
    django_settings.STORAGES = {
        **django_settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # And not from the collected ones `make run` leaves in staticfiles/: WhiteNoise reads that whole
    # folder each time a test client builds its middleware, which made the suite half as slow again.
    django_settings.STATIC_ROOT = Path(config.rootpath) / "build" / "no-collected-static"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    # Live-server threads must not keep connections open, or the test database cannot be dropped.
    for alias in connections:
        connections.settings[alias]["CONN_MAX_AGE"] = 0
    with django_db_blocker.unblock():
        call_command("loaddata", "roles", verbosity=0)
        migrated = copy_rows()

    # A transactional test leaves the database as migrations and the roles made it, put back from a copy
    # of those rows: Django's flush, the content types and permissions it makes again, then the roles
    # loaded again by the next test cost a second and a half a test.
    def put_back_migrated_rows(self) -> None:
        put_back(migrated)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TransactionTestCase, "_fixture_teardown", put_back_migrated_rows)
        yield


def all_tables() -> list[str]:
    return sorted(connection.introspection.django_table_names(only_existing=True, include_views=False))


def copy_rows() -> dict[str, bytes]:
    rows = {}
    with connection.cursor() as cursor:
        for table in all_tables():
            # COPY leaves generated columns out both ways: the database computes them again.
            with cursor.cursor.copy(f"COPY {connection.ops.quote_name(table)} TO STDOUT") as copy:
                data = b"".join(bytes(chunk) for chunk in copy)
            if data:
                rows[table] = data
    return rows


def put_back(rows: dict[str, bytes]) -> None:
    """Every table as `rows` holds it, the identity sequences past the ids, the user triggers (search
    terms counted per article) held off while the rows that they once wrote go back in."""
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:  # keys checked once all rows are in
        cursor.execute("SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal")
        triggered = [table for (table,) in cursor.fetchall()]
        for table in triggered:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        # DELETE, not TRUNCATE: truncating some ninety tables makes new files for each and their indexes
        # (0.3 s a test); the few hundred rows a test leaves go faster one by one.
        for table in all_tables():
            cursor.execute(f"DELETE FROM {quote(table)}")  # noqa: S608 (our own table names, quoted)
        for table, data in rows.items():
            with cursor.cursor.copy(f"COPY {quote(table)} FROM STDIN") as copy:
                copy.write(data)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # every row is in: check the keys, then ALTER
        for table in triggered:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        for statement in connection.ops.sequence_reset_sql(no_style(), apps.get_models()):
            cursor.execute(statement)
    ContentType.objects.clear_cache()  # ids as loaddata gave them, not as the last flush did


def signed_in_session(client: Client, user, backend: str | None = None) -> None:
    """Client.force_login as the suite runs it: a session of `user` written in one INSERT, and last_login
    set. Django's runs the whole sign-in (a new session key, the audit event, axes' access log, the
    second-factor check): a third of what a test's request cost, in thousands of tests that only need
    someone signed in. The tests of signing in go through the sign-in form; an account with a second
    factor, or a client with a session, still signs in Django's way (which refuses the one without its
    device, accounts.signals, and carries the other's data over)."""
    from accounts import two_factor

    # A client with a session already (a visitor who voted, then signs in) keeps its data, as Django's
    # sign-in keeps it under a new key.
    if django_settings.SESSION_COOKIE_NAME in client.cookies or two_factor.is_enabled(user):
        return DJANGO_LOGIN(client, user, backend)
    session = import_module(django_settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = user._meta.pk.value_to_string(user)
    session[BACKEND_SESSION_KEY] = backend or client._get_backend()
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save(must_create=True)
    user.last_login = timezone.now()
    type(user)._default_manager.filter(pk=user.pk).update(last_login=user.last_login)
    request = HttpRequest()
    request.session = session
    client._set_login_cookies(request)


DJANGO_LOGIN = Client._login


@pytest.fixture(scope="session", autouse=True)
def quick_sign_in():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Client, "_login", signed_in_session)
        yield


# Fast hashing; the demo fixture's PBKDF2 hashes still verify (Django tries every hasher).
FAST_PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]


@pytest.fixture(autouse=True)
def test_settings(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS
    # Cached queue counts must not leak from one test into the next.
    cache.clear()


@contextmanager
def rows_for_the_module(django_db_blocker, media_root):
    """For a module- or class-scoped fixture: what is made inside stays for every test of the module (or
    class), each test's own transaction nesting in this one (a savepoint, rolled back after the test as
    usual), and all of it is rolled back when the module is done. Files go to `media_root`; a test that
    reads them sets MEDIA_ROOT to it. Building a world once instead of once per test took minutes off the
    suite."""
    with (
        django_db_blocker.unblock(),
        override_settings(MEDIA_ROOT=str(media_root), PASSWORD_HASHERS=FAST_PASSWORD_HASHERS),
        transaction.atomic(),
    ):
        # Made before any test's own set-up (test_settings) clears the cache: what the module before
        # cached (the site configuration, with a default team rolled back since) must not be read here.
        cache.clear()
        yield
        transaction.set_rollback(True)


def made_once_per_module(build: Callable[[], dict[str, Any]], name: str):
    """The pair of fixtures that makes `build`'s rows once per test module and hands each test its own
    copy, read afresh. Bound in the module, `_desk_rows, desk = made_once_per_module(make_desk, "desk")`
    stands for a function-scoped `desk`. `build` returns a dict of model instances (other values are
    handed over as they are). Every test gets new instances, so an attribute it sets or a membership
    cached on a user never reaches the next test, and what it writes rolls back with its own transaction,
    as with a world made per test; but the rows are there for the module's other tests too, and were made
    before any test moved the clock. A desk of teams, people and a ticket takes some 150 queries to make
    and one a model to read again. A transactional test cannot use it (the live server would not see rows
    of a transaction still open)."""

    @pytest.fixture(scope="module", name=f"_{name}_rows")
    def rows(django_db_setup, django_db_blocker, tmp_path_factory):
        with rows_for_the_module(django_db_blocker, tmp_path_factory.mktemp("media")):
            made = build()
            yield {key: (type(value), value.pk) if isinstance(value, Model) else (None, value)
                   for key, value in made.items()}  # fmt: skip

    def fresh(request, db, **rows):
        if "transactional_db" in request.fixturenames or "live_server" in request.fixturenames:
            raise pytest.UsageError(f"{name} is made once per module: it cannot serve a transactional test")
        (made,) = rows.values()
        by_model = defaultdict(list)
        for model, value in made.values():
            if model is not None:
                by_model[model].append(value)
        read = {model: model._base_manager.in_bulk(pks) for model, pks in by_model.items()}
        return {key: value if model is None else read[model][value] for key, (model, value) in made.items()}

    # The rows' fixture is named in the signature, so pytest makes it (module scope) before the test's
    # own transaction begins; asked for inside the test, it would be rolled back with the first test.
    parameter = inspect.Parameter
    fresh.__signature__ = inspect.Signature([
        parameter("request", parameter.POSITIONAL_OR_KEYWORD),
        parameter("db", parameter.POSITIONAL_OR_KEYWORD),
        parameter(f"_{name}_rows", parameter.KEYWORD_ONLY),
    ])  # fmt: skip
    return rows, pytest.fixture(name=name)(fresh)


@pytest.fixture
def clock(time_machine):
    """A clock frozen at the real current time, to be moved with clock.shift() or clock.move_to()."""
    time_machine.move_to(datetime.now(UTC), tick=False)
    return time_machine


@pytest.fixture
def immediate_tasks(settings):
    """Background tasks (the password reset mail) run as they are enqueued, as a worker would run them,
    so a test can read what they sent; the suite otherwise stores them (the project's DatabaseBackend)."""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    return settings


@pytest.fixture
def superuser_client(client):
    client.force_login(make_administrator(is_superuser=True))
    return client


def notes(response) -> list[str]:
    """The messages (django.contrib.messages) the response's request left for the next page."""
    from django.contrib.messages import get_messages

    return [str(message) for message in get_messages(response.wsgi_request)]


def manage(capsys, *args: str) -> tuple[int, str, str]:
    """The command as an operator types it (manage.py's own entry point, in this process): its exit
    status and what it printed on stdout and stderr."""
    from django.core.management import ManagementUtility

    capsys.readouterr()
    try:
        ManagementUtility(["manage.py", *args]).execute()
    except SystemExit as exit:
        status = exit.code if isinstance(exit.code, int) else 1
    else:
        status = 0
    captured = capsys.readouterr()
    return status, captured.out, captured.err
