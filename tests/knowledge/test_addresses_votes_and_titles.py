"""An internal article made public takes the address it stands at; a person who voted from their account
and again as a visitor before signing in is counted once; a title must show something."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts import roles
from knowledge import services
from knowledge.models import Article, ArticleSlug
from tests.factories import TeamFactory, make_agent, make_article, make_customer

pytestmark = pytest.mark.django_db


def test_an_internal_article_made_public_takes_the_old_address_it_stands_at(client):
    """ "alpha" led to a renamed public article; an internal one published at "alpha" leaves it so for
    customers until it is made public: from then on "alpha" is its address, and renaming it leaves
    "alpha" leading to it, not back to the other article."""
    first = make_article("Alpha", body="The first article.")
    services.article_update(first, slug="alpha-guide", actor=None)
    second = make_article("Alpha again", body="The second article.", slug="alpha", visibility="internal")
    assert client.get("/kb/articles/alpha/")["Location"].endswith("/kb/articles/alpha-guide/")
    services.article_update(second, visibility="public", actor=None)
    assert client.get("/kb/articles/alpha/").context["article"].pk == second.pk
    services.article_update(Article.objects.get(pk=second.pk), slug="alpha-two", actor=None)
    response = client.get("/kb/articles/alpha/")
    assert response.status_code == 301 and response["Location"].endswith("/kb/articles/alpha-two/")
    assert ArticleSlug.objects.get(slug="alpha").article_id == second.pk


def test_a_visitors_vote_before_signing_in_to_an_account_that_voted_is_not_counted_twice(client, settings):
    settings.RATE_LIMITS_ENABLED = False
    article = make_article("Reset your password", body="Open the sign-in page.")
    customer = make_customer()
    services.article_vote(article, helpful=False, user=customer)
    url = reverse("knowledge:vote", args=[article.slug])
    client.post(url, {"helpful": "yes"})  # in another browser, not signed in
    client.force_login(customer)
    client.post(url, {"helpful": "no"})
    article.refresh_from_db()
    assert (article.helpful_count, article.not_helpful_count) == (0, 1)


@pytest.mark.parametrize("title", ["\u200b\u200b", " \u2060 "])
def test_a_title_of_only_invisible_characters_is_refused_in_the_editor_and_the_service(client, title):
    """As ticket subjects: an empty heading and links with no name on the category and search pages."""
    client.force_login(make_agent(TeamFactory(), role=roles.SUPERVISOR))
    data = {"title": title, "body": "Restart the printer.", "visibility": "public", "category": ""}
    response = client.post(reverse("knowledge:manage_new"), data)
    assert response.status_code == 422 and "This field is required." in response.content.decode()
    assert not Article.objects.exists()
    article = make_article("Printer", body="Restart it.")
    with pytest.raises(ValidationError):
        services.article_update(article, title=title, actor=None)
    with pytest.raises(ValidationError):
        make_article(title, body="Restart it.")
