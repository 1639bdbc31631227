"""/healthz and /readyz: the database answering, holding every migration, and not waited on for ever."""

import socket

import pytest
from django.db import connections
from django.db.backends.postgresql.base import DatabaseWrapper
from django.db.migrations.recorder import MigrationRecorder
from django.test import RequestFactory
from django.urls import reverse

from helpdesk import health
from helpdesk.health import database_ready


def test_healthz_answers_without_the_database(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_answers_200_when_the_database_answers(client):
    response = client.get(reverse("readyz"))
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["10.0.0.7:8000", "10.0.0.7", "localhost:8000", "[::1]:8000"])
def test_probes_inside_the_network_are_answered_whatever_host_they_name(client, settings, host):
    """A Kubernetes httpGet probe names the pod's address, a Docker health check localhost: neither is
    one of the site's ALLOWED_HOSTS, which still hold for every other page."""
    settings.ALLOWED_HOSTS = ["help.example.com"]
    for name in ("healthz", "readyz"):
        assert client.get(reverse(name), HTTP_HOST=host).status_code == 200
        assert client.head(reverse(name), HTTP_HOST=host).status_code == 200
        assert client.get(reverse(name), HTTP_HOST="help.example.com").status_code == 200
    assert client.get(reverse("home"), HTTP_HOST=host).status_code == 400
    refused = client.put(reverse("healthz"), HTTP_HOST="help.example.com")
    assert refused.status_code == 405 and refused["Allow"] == "GET, HEAD"


def unreachable_database() -> DatabaseWrapper:
    """A real PostgreSQL connection to a port where no server listens."""
    settings_dict = {
        **connections.settings["default"],
        "HOST": "127.0.0.1",
        "PORT": "1",
        "OPTIONS": {"connect_timeout": 2},
        "CONN_MAX_AGE": 0,
    }
    return DatabaseWrapper(settings_dict, alias="unreachable")


@pytest.mark.django_db
def test_database_ready_is_false_when_the_server_does_not_answer():
    unreachable = unreachable_database()
    try:
        assert database_ready(unreachable) is False
    finally:
        unreachable.close()


@pytest.mark.django_db
def test_readyz_answers_503_when_the_database_is_down(client, monkeypatch):
    unreachable = unreachable_database()
    monkeypatch.setattr("helpdesk.health.connections", {"default": unreachable})
    response = client.get(reverse("readyz"))
    assert response.status_code == 503
    assert response.json()["status"] == "not ready"


@pytest.mark.django_db
def test_probes_answer_over_plain_http_when_https_is_enforced(client, settings):
    """Load balancers and orchestrators probe over plain HTTP inside the network: with the production
    setting SECURE_SSL_REDIRECT a redirect would read as down. Every other page still redirects."""
    settings.SECURE_SSL_REDIRECT = True
    assert client.get(reverse("healthz")).status_code == 200
    assert client.get(reverse("readyz")).status_code == 200
    assert client.get("/kb/").status_code == 301


@pytest.mark.django_db
def test_readyz_answers_503_while_the_database_lacks_migrations_the_code_ships(client, monkeypatch):
    """New code up before `migrate` ran (or after it failed): its pages would fail on tables and columns
    not there yet. Before the fix /readyz ran only SELECT 1 and said "ready"."""
    monkeypatch.setattr(health, "_migrated", set())
    last = MigrationRecorder.Migration.objects.filter(app="tickets").order_by("-id").first()
    last.delete()  # one tickets migration behind the code (rolled back with the test)
    response = client.get(reverse("readyz"))
    assert response.status_code == 503
    assert response.json() == {"status": "not ready", "database": "ok", "migrations": "pending"}
    MigrationRecorder.Migration.objects.create(app=last.app, name=last.name)
    assert client.get(reverse("readyz")).status_code == 200
    assert health._migrated == {"default"}  # asked once it is so: not again


def test_the_database_connection_gives_up_on_a_server_that_never_answers(
    settings, monkeypatch, django_db_blocker
):
    """A server that takes the TCP connection and then stays silent (hung, a full pooler): connections
    give up after DATABASE_CONNECT_TIMEOUT seconds (5), so /readyz answers 503 instead of holding a
    worker for as long as the server stays silent (before the fix: for good, no timeout was set)."""
    assert settings.DATABASES["default"]["OPTIONS"]["connect_timeout"] == 5
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)  # the kernel completes the handshake; nothing ever answers PostgreSQL's greeting
    silent = DatabaseWrapper(
        {**connections.settings["default"], "HOST": "127.0.0.1", "PORT": str(server.getsockname()[1]),
         "CONN_MAX_AGE": 0, "OPTIONS": {"connect_timeout": 1}},
        alias="silent",
    )  # fmt: skip
    monkeypatch.setattr("helpdesk.health.connections", {"default": silent})
    try:
        with django_db_blocker.unblock():  # a connection of its own, to no database of the suite's
            response = health.readyz(RequestFactory().get("/readyz"))
    finally:
        silent.close()
        server.close()
    assert response.status_code == 503
