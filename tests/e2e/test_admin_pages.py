"""Browser: the admin works under the Content-Security-Policy."""

import pytest

from accounts.models import Team

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.usefixtures("demo")
def test_admin_pages_load_without_policy_violations(page, live_server):
    page.goto(f"{live_server.url}/admin/")  # the admin sends visitors to the site's own sign-in
    page.get_by_label("E-mail address").fill("admin@example.com")
    page.get_by_label("Password").fill("helpdesk-demo")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Site administration").wait_for()
    support = Team.objects.get(slug="support").pk
    for path in ("/admin/tickets/ticket/", "/admin/tickets/ticketform/add/", "/admin/accounts/user/add/",
                 f"/admin/accounts/team/{support}/change/", "/admin/knowledge/article/",
                 f"/admin/accounts/team/{support}/permissions/"):  # fmt: skip
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("load")
    page.locator("#user-permissions").wait_for()  # django-guardian's page, without its inline <style>
    page.goto(f"{live_server.url}/desk/")
    page.get_by_role("heading", name="Queue").wait_for()
