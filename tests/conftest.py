"""Shared pytest fixtures: the built-in roles in the test database, fast password hashing, an empty cache,
a client signed in as a superuser."""

from datetime import UTC, datetime

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.management import call_command
from django.db import connections

from tests.factories import make_administrator


def pytest_configure(config):
    # Static files straight from static/, so the suite needs no collectstatic. Set once for the whole
    # run, not per test: switched back and forth, a live server still answering a request of the test
    # before could build the manifest storage in between and leave it for the next test.
    django_settings.STORAGES = {
        **django_settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    # Live-server threads must not keep connections open, or the test database cannot be dropped.
    for alias in connections:
        connections.settings[alias]["CONN_MAX_AGE"] = 0
    with django_db_blocker.unblock():
        call_command("loaddata", "roles", verbosity=0)


@pytest.fixture(autouse=True)
def test_settings(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    # Fast hashing; the demo fixture's PBKDF2 hashes still verify (Django tries every hasher).
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    # Cached queue counts must not leak from one test into the next.
    cache.clear()


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
