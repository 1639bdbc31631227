"""Every link in the main navigation leads somewhere for every demo role, and for roles an administrator
has narrowed: no dead ends."""

import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.urls import reverse

from accounts import roles
from accounts.models import User
from tests.conftest import rows_for_the_module
from tests.factories import TeamFactory, make_agent, make_user_with_role
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


def nav_links(client) -> list[str]:
    return LINK.findall(NAV.search(client.get("/").content.decode()).group(1))


@pytest.mark.django_db
def test_an_agent_whose_role_lost_the_queue_is_offered_their_requests_not_the_desk(client):
    """Taking view_support_queue from the Agent role closes the desk (and the article pages): the nav
    offers "My tickets" instead of two links that answer 404."""
    agent = make_agent(TeamFactory())
    Group.objects.get(name=roles.AGENT).permissions.remove(
        Permission.objects.get(codename="view_support_queue")
    )
    client.force_login(agent)
    links = nav_links(client)
    assert "/desk/" not in links and reverse("knowledge:manage_list") not in links
    assert "/portal/tickets/" in links and client.get("/portal/tickets/").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("is_staff", [False, True])
def test_administration_is_offered_exactly_to_who_may_enter_it(client, is_staff):
    """The Administrator role without admin access (is_staff, set apart in the admin) opens no admin."""
    administrator = make_user_with_role(roles.ADMINISTRATOR, is_staff=is_staff)
    client.force_login(administrator)
    assert (reverse("admin:index") in nav_links(client)) is is_staff
    assert client.get(reverse("admin:index")).status_code == (200 if is_staff else 302)


@pytest.mark.django_db
def test_favicon_ico_leads_to_the_site_icon(client):
    """The admin's pages name no icon, so browsers ask for /favicon.ico: it must not be a 404. Nor a
    permanent redirect, which browsers keep for good: to the icon's hashed address of one build, a 404
    once the icon changes. A day's caching instead."""
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].endswith(".svg") and "favicon" in response["Location"]
    assert "max-age=86400" in response["Cache-Control"]
