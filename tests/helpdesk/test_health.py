"""/healthz and /readyz."""

import pytest
from django.db import connections
from django.db.backends.postgresql.base import DatabaseWrapper
from django.urls import reverse

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
