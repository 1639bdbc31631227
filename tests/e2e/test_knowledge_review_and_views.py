"""Browser: a supervisor asks for changes to an article in review (the note form works without a line of
our JavaScript and passes axe), and reloading an article counts one view."""

import pytest
from django.urls import reverse

from accounts.models import User
from knowledge import services
from knowledge.models import Article
from tests.e2e.conftest import signed_in
from tests.e2e.test_accessibility import problems_here

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.usefixtures("demo")
def test_a_supervisor_sends_an_article_in_review_back_with_a_note(page, live_server):
    author = User.objects.get(email="agent@example.com")
    article = services.article_create(title="Printer jams on tray 2", body="Open tray 2.", actor=author)
    services.article_submit_for_review(article, actor=author)
    signed_in(page, live_server, "supervisor@example.com")
    page.goto(live_server.url + reverse("knowledge:manage_edit", args=[article.slug]))
    page.get_by_text("Request changes…").click()
    page.get_by_label("What should change? (optional)").fill("Say which lever opens the tray.")
    assert problems_here(page, "editor, request changes open") == []
    page.get_by_role("button", name="Request changes", exact=True).click()
    page.get_by_text("“Printer jams on tray 2” sent back to its author as a draft").wait_for()
    assert Article.objects.get(pk=article.pk).status == "draft"


@pytest.mark.usefixtures("demo")
def test_reloading_an_article_counts_one_view(page, live_server):
    article = Article.objects.filter(visibility="public", status="published").first()
    url = live_server.url + reverse("knowledge:article", args=[article.slug])
    viewed = reverse("knowledge:viewed", args=[article.slug])
    for _ in range(3):
        with page.expect_response(lambda response: response.url.endswith(viewed)) as answer:
            page.goto(url)
        assert answer.value.status == 204
    assert Article.objects.get(pk=article.pk).views == article.views + 1
