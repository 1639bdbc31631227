"""Fixtures for the admin and site-wide tests."""

import pytest

from tests.factories import make_administrator


@pytest.fixture
def superuser_client(client):
    client.force_login(make_administrator(is_superuser=True))
    return client
