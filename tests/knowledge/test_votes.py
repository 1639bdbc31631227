"""Article votes: limited per IP so dropping the session cookie cannot stuff the counters, and
changeable from the article page with or without htmx."""

import hashlib

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from knowledge.models import Article, ArticleFeedback
from tests.factories import make_article, make_customer

pytestmark = pytest.mark.django_db


def counts(article: Article) -> tuple[int, int]:
    article.refresh_from_db()
    return article.helpful_count, article.not_helpful_count


def test_dropping_the_session_cookie_cannot_push_votes_past_the_ip_limit(settings, clock):
    settings.RATE_LIMITS_ENABLED = True
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "vote": ("3/h", "100/h")}
    article = make_article()
    client = Client(REMOTE_ADDR="203.0.113.41")
    url = reverse("knowledge:vote", args=[article.slug])
    codes = []
    for _ in range(5):
        client.cookies.pop(django_settings.SESSION_COOKIE_NAME, None)
        codes.append(client.post(url, {"helpful": "yes"}).status_code)
    assert codes == [302, 302, 302, 429, 429]
    assert counts(article) == (3, 0)


def test_a_signed_in_user_changes_their_vote_and_the_counters_follow(client):
    article = make_article()
    client.force_login(make_customer())
    url = reverse("knowledge:vote", args=[article.slug])
    client.post(url, {"helpful": "yes"})
    assert counts(article) == (1, 0)
    page = client.get(reverse("knowledge:article", args=[article.slug])).content.decode()
    assert "You found this helpful" in page and "Changed your mind?" in page
    assert 'name="helpful" value="no"' in page and "csrfmiddlewaretoken" in page
    client.post(url, {"helpful": "no"})
    assert counts(article) == (0, 1)
    page = client.get(reverse("knowledge:article", args=[article.slug])).content.decode()
    assert "You found this not helpful" in page and 'name="helpful" value="yes"' in page


def test_an_anonymous_session_changes_its_vote_with_htmx(client):
    article = make_article()
    url = reverse("knowledge:vote", args=[article.slug])
    fragment = client.post(url, {"helpful": "no"}, headers={"HX-Request": "true"}).content.decode()
    assert fragment.lstrip().startswith('<section id="vote"')
    assert "Changed your mind?" in fragment and 'name="helpful" value="yes"' in fragment
    assert counts(article) == (0, 1)
    client.post(url, {"helpful": "yes"}, headers={"HX-Request": "true"})
    assert counts(article) == (1, 0)


def test_a_changed_vote_from_the_ticket_form_still_counts_a_deflection(client):
    article = make_article(title="Printer jams")
    url = reverse("knowledge:vote", args=[article.slug])
    response = client.post(url, {"helpful": "no", "from": "ticket"})
    assert response["Location"].endswith("?from=ticket#vote")
    assert 'name="from" value="ticket"' in client.get(response["Location"]).content.decode()
    client.post(url, {"helpful": "yes", "from": "ticket"})
    article.refresh_from_db()
    assert (article.helpful_count, article.deflections) == (1, 1)


def test_a_visitor_vote_stores_a_digest_of_the_session_key_and_the_page_still_finds_it(client):
    article = make_article()
    client.post(reverse("knowledge:vote", args=[article.slug]), {"helpful": "yes"})
    session_key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    (stored,) = ArticleFeedback.objects.filter(article=article).values_list("session_key", flat=True)
    assert stored == hashlib.sha256(session_key.encode()).hexdigest() and session_key not in stored
    page = client.get(reverse("knowledge:article", args=[article.slug])).content.decode()
    assert "You found this helpful" in page


def test_helpful_again_on_the_article_page_keeps_the_deflection_and_turning_the_vote_drops_it(client):
    """A visitor finds the article helpful from the ticket form (a deflection), then presses "helpful"
    again on the article page: the same visitor saying the same thing, so the deflection stands. Turning
    the vote to "not helpful" takes it away."""
    article = make_article(title="Printer jams")
    url = reverse("knowledge:vote", args=[article.slug])
    client.post(url, {"helpful": "yes", "from": "ticket"})
    client.post(url, {"helpful": "yes"})
    article.refresh_from_db()
    assert (article.helpful_count, article.deflections) == (1, 1)
    client.post(url, {"helpful": "no"})
    article.refresh_from_db()
    assert (article.helpful_count, article.deflections) == (0, 0)
