"""The Django admin as administrators use it: services and rules hold, odd input and refused saves never
answer 500, and staff below Administrator stay within their rank (role rows on the user page too)."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts.models import RoleAssignment, User
from helpdesk.models import SiteConfiguration
from tests.admin_pages import change_url, changelist_url, delete_url, form_data, post_change
from tests.factories import (
    InvitationFactory,
    OrganizationFactory,
    SavedViewFactory,
    SkillFactory,
    TagFactory,
    TeamFactory,
    UserFactory,
    make_administrator,
    make_agent,
    make_article,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def shown_messages(response) -> list[str]:
    return [str(message) for message in response.wsgi_request._messages]


def _permissions(*codenames):
    return Permission.objects.filter(codename__in=codenames)


def _clerk_and_auditor():
    """A clerk ranked below Administrator who manages users and role assignments, and a person holding
    an "Auditor" role (audit trail access) the clerk could not give."""
    auditor = Group.objects.create(name="Auditor")
    auditor.permissions.add(*_permissions("view_auditevent"))
    clerk_role = Group.objects.create(name="People clerk")
    clerk_role.permissions.add(
        *_permissions("view_user", "change_user", "view_roleassignment", "add_roleassignment",
                      "change_roleassignment", "delete_roleassignment")
    )  # fmt: skip
    clerk = UserFactory(is_staff=True)
    account_services.role_assign(clerk, "People clerk", actor=None)
    target = UserFactory()
    account_services.role_assign(target, "Auditor", actor=None)
    return clerk, target, auditor


def test_editing_the_reason_of_a_suspension_whose_end_has_passed_is_not_a_server_error(superuser_client):
    """Changing only the reason of a suspension whose end has passed is a form error, not a 500."""
    user = make_customer()
    User.objects.filter(pk=user.pk).update(
        status=User.Status.SUSPENDED,
        suspended_until=timezone.now() - timedelta(hours=1),
        suspension_reason="Spam",
    )
    response = post_change(superuser_client, user, suspension_reason="Spam, again")
    assert response.status_code == 422
    assert account_services.SUSPENSION_ALREADY_ENDED in response.content.decode()
    assert User.objects.get(pk=user.pk).suspension_reason == "Spam"


def test_a_lower_ranked_clerk_cannot_revoke_a_role_they_could_not_give_from_the_user_page(client):
    """A role the clerk may not take away on its own page is not taken away by "Delete" on the user page."""
    clerk, target, auditor = _clerk_and_auditor()
    assignment = RoleAssignment.objects.get(user=target, role=auditor)
    client.force_login(clerk)
    assert client.post(delete_url(assignment), {"post": "yes"}).status_code == 403  # refused there

    page = client.get(change_url(target))
    assert page.status_code == 200
    client.post(change_url(target), form_data(page, **{"role_assignments-0-DELETE": "on"}))

    assert RoleAssignment.objects.filter(pk=assignment.pk).exists(), "the clerk revoked the Auditor role"


def test_a_lower_ranked_clerk_cannot_swap_away_a_role_they_could_not_give_on_the_user_page(client):
    """Switching a row to another role takes the old one away: refused where the clerk could not give it."""
    clerk, target, auditor = _clerk_and_auditor()
    harmless = Group.objects.create(name="Newsletter")
    client.force_login(clerk)

    page = client.get(change_url(target))
    client.post(change_url(target), form_data(page, **{"role_assignments-0-role": str(harmless.pk)}))

    assert RoleAssignment.objects.filter(user=target, role=auditor).exists(), (
        "the Auditor role was swapped away"
    )


def test_suspending_yourself_in_the_user_form_is_a_form_error_and_saves_nothing(superuser_client):
    """Suspending yourself is a form error: no "changed successfully", no other field saved."""
    me = User.objects.get(pk=superuser_client.session["_auth_user_id"])
    response = post_change(superuser_client, me, status=User.Status.SUSPENDED, name="Renamed")
    assert response.status_code == 422 and "You cannot suspend yourself." in response.content.decode()
    assert not any("changed successfully" in message for message in shown_messages(response))
    me.refresh_from_db()
    assert me.status == User.Status.ACTIVE and me.name != "Renamed"


def test_an_email_domain_another_organisation_claims_is_a_form_error(superuser_client):
    """Giving Globex Acme's domain is refused: with two claimants, sign-ups would join neither."""
    acme = OrganizationFactory(email_domains=["acme.example"])
    globex = OrganizationFactory(email_domains=["globex.example"])
    response = post_change(superuser_client, globex, email_domains='["globex.example", "ACME.example"]')
    assert response.status_code == 422, "the clashing domain was saved"
    globex.refresh_from_db()
    assert "acme.example" not in globex.email_domains
    assert account_services.organization_for_address("new.person@acme.example") == acme


def test_a_supervisor_with_admin_access_reaches_only_tickets_and_articles(client):
    """A Supervisor with is_staff is refused every admin page but tickets and articles; deletes nothing."""
    team = TeamFactory()
    supervisor = make_supervisor(team, is_staff=True)
    make_ticket(make_customer(), team=team)
    make_article()
    InvitationFactory()
    SkillFactory()
    SavedViewFactory()
    TagFactory()
    SiteConfiguration.objects.get_current()
    client.force_login(supervisor)
    reachable = set()
    for model in admin.site._registry:
        opts = model._meta
        urls = [changelist_url(model)]
        if (instance := model._default_manager.first()) is not None:
            urls += [change_url(instance), delete_url(instance)]
        for url in urls:
            response = client.get(url)
            assert response.status_code in (200, 302, 403), (url, response.status_code)
            if response.status_code == 200:
                reachable.add(opts.label)
            if url.endswith("/delete/"):
                assert response.status_code != 200, url
    assert reachable == {"tickets.Ticket", "knowledge.Article"}


def test_a_supervisors_ticket_changelist_costs_the_same_for_few_or_many_rows(client):
    """A supervisor's admin ticket list (cut to their teams) costs a constant number of queries."""
    team = TeamFactory()
    client.force_login(make_supervisor(team, is_staff=True))
    url = changelist_url(Ticket)
    for _ in range(2):
        make_ticket(make_customer(), team=team)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for _ in range(10):
        make_ticket(make_customer(), team=team)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert len(response.context["cl"].result_list) == 12
    assert len(many.captured_queries) <= len(few.captured_queries)


def test_the_site_configuration_cannot_be_added_twice_or_deleted(superuser_client):
    """The singleton's add page, delete page and bulk delete are all refused, and the row stays."""
    SiteConfiguration.objects.get_current()
    add = reverse("admin:helpdesk_siteconfiguration_add")
    assert superuser_client.get(add).status_code == 403
    assert superuser_client.post(add, {"site_name": "Second"}).status_code == 403
    delete = reverse("admin:helpdesk_siteconfiguration_delete", args=[SiteConfiguration.SINGLETON_PK])
    assert superuser_client.post(delete, {"post": "yes"}).status_code == 403
    bulk = {"action": "delete_selected", "_selected_action": [SiteConfiguration.SINGLETON_PK], "post": "yes"}
    superuser_client.post(changelist_url(SiteConfiguration), bulk)
    assert SiteConfiguration.objects.count() == 1


def test_admin_posts_without_a_csrf_token_are_refused_and_change_nothing():
    """An admin change form and bulk action posted without a CSRF token: 403, nothing changed."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_administrator(is_superuser=True))
    customer = make_customer(name="Before")
    team = TeamFactory(name="Kept")
    response = client.post(change_url(team), {"name": "Renamed", "slug": team.slug})
    assert response.status_code == 403
    bulk = {"action": "suspend_users", "_selected_action": [customer.pk]}
    assert client.post(changelist_url(User), bulk).status_code == 403
    team.refresh_from_db()
    customer.refresh_from_db()
    assert (team.name, customer.status) == ("Kept", User.Status.ACTIVE)


ODD_SEARCHES = [{"q": "x" * 10_000}, {"q": "9" * 40}, {"q": "abc"}, {"q": "%_\\"}, {"q": "\x00"}]


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda model: model._meta.label)
def test_every_changelist_answers_odd_searches_without_a_server_error(superuser_client, model):
    """Every admin list (messages by exact number, attachments, saved views...) takes odd searches."""
    team = TeamFactory()
    make_ticket(make_customer(), team=team)
    make_agent(team)
    for query in ODD_SEARCHES:
        response = superuser_client.get(changelist_url(model), query)
        assert response.status_code in (200, 302), (model, response.status_code)
