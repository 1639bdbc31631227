"""Every link in the main navigation leads somewhere for every demo role: no dead ends."""

import re

import pytest
from django.core.management import call_command

from accounts.models import User
from tests.conftest import rows_for_the_module
from tests.helpdesk.test_fixtures import DEMO_ACCOUNTS

NAV = re.compile(r'<nav[^>]*aria-label="Main"[^>]*>(.*?)</nav>', re.S)
LINK = re.compile(r'<a [^>]*href="([^"]+)"')


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker, tmp_path_factory):
    """The roles and the demo, loaded once for the module (each test's own changes roll back)."""
    with rows_for_the_module(django_db_blocker, tmp_path_factory.mktemp("media")):
        call_command("loaddata", "roles", "demo", verbosity=0)
        yield


@pytest.mark.django_db
@pytest.mark.usefixtures("demo")
@pytest.mark.parametrize("email", [None, *DEMO_ACCOUNTS])
def test_every_navigation_link_answers(client, email):
    if email:
        client.force_login(User.objects.get(email=email))
    home = client.get("/")
    links = LINK.findall(NAV.search(home.content.decode()).group(1))
    assert len(links) >= 3
    for href in links:
        response = client.get(href)
        assert response.status_code == 200, (email, href, response.status_code)


@pytest.mark.django_db
def test_favicon_ico_leads_to_the_site_icon(client):
    """The admin's pages name no icon, so browsers ask for /favicon.ico: it must not be a 404. Nor a
    permanent redirect, which browsers keep for good: to the icon's hashed address of one build, a 404
    once the icon changes. A day's caching instead."""
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].endswith(".svg") and "favicon" in response["Location"]
    assert "max-age=86400" in response["Cache-Control"]
