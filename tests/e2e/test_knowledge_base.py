"""Browser: a visitor searches the knowledge base, opens an article and votes; a customer typing a
ticket subject sees a suggested article."""

import pytest

from knowledge.models import Article
from tests.e2e.conftest import signed_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.usefixtures("demo")
def test_visitor_searches_opens_and_votes(page, live_server):
    page.goto(f"{live_server.url}/kb/")
    page.get_by_label("Search the knowledge base").fill(
        "how do I reset my password when the email never arrives"
    )
    first = page.locator("#results .result a").first
    first.wait_for()
    assert first.inner_text() == "Reset your password when the e-mail never arrives"
    first.click()
    page.get_by_role("heading", name="Reset your password when the e-mail never arrives").wait_for()
    page.get_by_role("button", name="Yes").click()
    page.get_by_role("region", name="Feedback").get_by_text("Thanks for your feedback").wait_for()
    assert page.get_by_role("status").filter(has_text="Thanks for your feedback").count() == 1
    article = Article.objects.get(slug="reset-your-password-when-the-e-mail-never-arrives")
    assert article.helpful_count == 1


@pytest.mark.usefixtures("demo")
def test_customer_typing_a_subject_sees_a_suggested_article(page, live_server):
    signed_in(page, live_server, "customer@example.com")
    page.goto(f"{live_server.url}/portal/tickets/new/")
    page.get_by_label("Subject").press_sequentially("VPN fails with error 809", delay=20)
    suggestion = page.locator("#suggestions a", has_text="Cannot connect to the VPN from home")
    suggestion.wait_for()
    assert "from=ticket" in suggestion.get_attribute("href")
