"""Browser: the admin works under the Content-Security-Policy."""

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.usefixtures("demo")
def test_admin_pages_load_without_policy_violations(page, live_server):
    page.goto(f"{live_server.url}/admin/")  # the admin sends visitors to the site's own sign-in
    page.get_by_label("E-mail address").fill("admin@example.com")
    page.get_by_label("Password").fill("helpdesk-demo")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Site administration").wait_for()
    for path in ("/admin/tickets/ticket/", "/admin/tickets/ticketform/add/", "/admin/accounts/user/add/",
                 "/admin/accounts/team/1/change/", "/admin/knowledge/article/"):  # fmt: skip
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("load")
    page.goto(f"{live_server.url}/desk/")
    page.get_by_role("heading", name="Queue").wait_for()
