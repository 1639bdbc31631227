"""Article views count once per article per browser session, so reloading cannot push an article up
"Popular articles", and a view already counted costs no query."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from knowledge import views
from knowledge.models import Article
from tests.factories import make_article

pytestmark = pytest.mark.django_db


def _viewed(client, target: Article, **data):
    return client.post(reverse("knowledge:viewed", args=[target.slug]), data)


def _views(article: Article) -> int:
    return Article.objects.values_list("views", flat=True).get(pk=article.pk)


def test_a_session_counts_one_view_per_article(client):
    article, other = make_article(title="Reset your password"), make_article(title="Change your name")
    for _ in range(3):
        assert _viewed(client, article, article=article.pk).status_code == 204
    _viewed(client, other, article=other.pk)
    assert (_views(article), _views(other)) == (1, 1)
    _viewed(Client(), article, article=article.pk)  # another visitor
    assert _views(article) == 2


def test_a_view_counted_already_costs_no_query_on_articles(client):
    article = make_article()
    _viewed(client, article, article=article.pk)
    with CaptureQueriesContext(connection) as queries:
        assert _viewed(client, article, article=article.pk).status_code == 204
    assert not [query["sql"] for query in queries if "knowledge_article" in query["sql"]]
    assert _views(article) == 1


def test_the_article_page_sends_its_id_with_the_view(client):
    article = make_article()
    page = client.get(reverse("knowledge:article", args=[article.slug])).content.decode()
    assert f'hx-vals=\'{{"article": "{article.pk}"}}\'' in page


def test_a_view_without_the_id_is_still_counted_once(client):
    # A page loaded before the id was sent, or a client that leaves it out.
    article = make_article()
    _viewed(client, article)
    _viewed(client, article)
    _viewed(client, article, article=article.pk)
    assert _views(article) == 1


def test_another_articles_id_counts_nothing(client):
    article, other = make_article(title="Reset your password"), make_article(title="Change your name")
    _viewed(client, article, article=other.pk)
    _viewed(client, article, article="not a number")
    assert (_views(article), _views(other)) == (1, 0)  # the id is refused; the slug alone counts once
    _viewed(client, other, article=other.pk)
    assert _views(other) == 1


def test_an_unpublished_article_counts_no_view_and_is_not_remembered(client):
    draft = make_article(status="draft")
    _viewed(client, draft, article=draft.pk)
    assert _views(draft) == 0
    assert views.VIEWED_SESSION_KEY not in client.session


def test_the_session_remembers_a_bounded_number_of_articles(client, monkeypatch):
    monkeypatch.setattr(views, "VIEWED_REMEMBERED", 3)
    articles = [make_article(title=f"Article {number}") for number in range(5)]
    for article in articles:
        _viewed(client, article, article=article.pk)
    assert client.session[views.VIEWED_SESSION_KEY] == [article.pk for article in articles[-3:]]
    _viewed(client, articles[0], article=articles[0].pk)  # forgotten, so counted again
    assert [_views(article) for article in articles] == [2, 1, 1, 1, 1]


def test_views_from_one_address_are_bounded_quietly(client, settings, clock):
    settings.RATE_LIMITS_ENABLED = True
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "article_view": ("3/m", "3/m")}
    article = make_article(title="Counted a bounded number of times")
    url = reverse("knowledge:viewed", args=[article.slug])
    for _ in range(5):
        client.cookies.clear()  # a script dropping its session: a new session every time
        assert client.post(url, {"article": article.pk}).status_code == 204
    article.refresh_from_db()
    assert article.views == 3
