"""Browser: going Back to a page whose address htmx pushed (a queue page, filtered audit trail) shows the
whole page again, its heading, view lists and filters included."""

import pytest

from accounts.models import Team, User
from tests.e2e.conftest import signed_in
from tests.factories import make_ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TEAM_QUEUE = "/desk/?scope=teams&status=new&status=open&status=pending&status=on_hold"


@pytest.mark.usefixtures("demo")
def test_going_back_after_paging_the_queue_keeps_the_heading_and_the_view_list(page, live_server):
    """Paging the queue (the address pushed by htmx) and going Back shows the queue with its heading
    and its list of views, once each."""
    customer, support = User.objects.get(email="customer@example.com"), Team.objects.get(slug="support")
    for number in range(30):
        make_ticket(customer, team=support, subject=f"Laptop battery report {number}")
    signed_in(page, live_server, "agent@example.com")
    page.goto(live_server.url + TEAM_QUEUE)
    assert (page.locator("h1#queue-title").count(), page.locator("#view-lists").count()) == (1, 1)
    page.get_by_role("link", name="Next").first.click()
    page.wait_for_url("**page=2**")
    page.wait_for_load_state("networkidle")
    with page.expect_response(lambda response: "/desk/" in response.url):
        page.go_back()
    page.wait_for_load_state("networkidle")
    page.locator("h1#queue-title").wait_for()
    assert (page.locator("h1#queue-title").count(), page.locator("#view-lists").count()) == (1, 1)
    assert "page=2" not in page.url
