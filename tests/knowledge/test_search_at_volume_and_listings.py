"""Search where a word is in thousands of articles (the title still counts, type-ahead still finds), the
ticket form's suggestions for a short subject, and what lists say: a topic whose articles are all in
its subtopics, internal articles marked wherever agents see them listed."""

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection

from knowledge.models import Article
from knowledge.search import CANDIDATE_BUDGET, CANDIDATE_LIMIT, search_articles
from tests.factories import CategoryFactory, TeamFactory, make_agent, make_article

pytestmark = pytest.mark.django_db

SEARCH = "/kb/search/"
SUGGEST = "/kb/suggest/"
HX = {"HX-Request": "true", "HX-Current-URL": "http://testserver/kb/search/"}


@pytest.fixture(autouse=True)
def no_rate_limits(settings):
    settings.RATE_LIMITS_ENABLED = False


def mentioning(word: str, count: int) -> None:
    """`count` published public articles with `word` once in their body, none in a title."""
    Article.objects.bulk_create(
        Article(title=f"Guide {n}", slug=f"guide-{n}", body=f"This guide mentions the {word} once ({n}).",
                body_html=f"<p>This guide mentions the {word} once ({n}).</p>", status="published")
        for n in range(count)
    )  # fmt: skip


def test_a_title_holding_a_word_thousands_of_articles_hold_still_ranks_first():
    """Past CANDIDATE_LIMIT articles holding "password" in passing, the article titled "Password" still
    comes first. Before the fix the candidates were the first CANDIDATE_LIMIT rows holding the word, in
    table order, ranked afterwards: the title match was left out."""
    mentioning("password", CANDIDATE_LIMIT + 600)
    target = make_article("Password", body="All about choosing one.")
    hits = search_articles(AnonymousUser(), "password")
    assert hits[0].article == target, [hit.article.title for hit in hits[:3]]


def test_type_ahead_of_a_common_words_start_finds_it():
    """ "passwo" typed where more than CANDIDATE_BUDGET articles hold "password": the type-ahead lists
    them, the one titled so first. Before the fix the common prefix was left out of the candidates and the
    unfinished word, the only other term, is in no article: "No articles match"."""
    mentioning("password", CANDIDATE_BUDGET + 100)
    target = make_article("Password", body="All about choosing one.")
    hits = search_articles(AnonymousUser(), "passwo")
    assert len(hits) == 10 and hits[0].article == target


def test_the_title_has_its_own_vector_kept_by_the_database():
    """The trigger that keeps the weighted vector keeps the title's too, on insert and on a rename."""
    article = make_article("Router reset", body="Hold the button.")

    def title_lexemes() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT tsvector_to_array(title_vector) FROM knowledge_article WHERE id = %s", [article.pk]
            )
            return sorted(cursor.fetchone()[0])

    assert title_lexemes() == ["reset", "router"]
    Article.objects.filter(pk=article.pk).update(title="Modem reboot")
    assert title_lexemes() == ["modem", "reboot"]


def test_a_three_letter_subject_is_suggested_its_article_and_a_prefix_is_not(client):
    """The subject "VPN" suggests the article titled so; "res" is the start of too many words to suggest
    "Reset your password", and says it found nothing only where it searched. Before the fix no subject
    under four characters was searched, and the form said "No matching articles yet" all the same."""
    make_article("VPN", body="Connect with the client.")
    make_article("Reset your password", body="Open the sign-in page.")
    page = client.get(SUGGEST, {"subject": "VPN"}, headers={"HX-Request": "true"}).content.decode()
    assert ">VPN<" in page and "No matching articles" not in page
    short = client.get(SUGGEST, {"subject": "res"}, headers={"HX-Request": "true"}).content.decode()
    assert "Reset your password" not in short
    assert (
        client.get(SUGGEST, {"subject": "vp"}, headers={"HX-Request": "true"}).content.decode().strip() == ""
    )


def test_a_topic_whose_articles_are_in_its_subtopics_does_not_say_it_holds_none(client):
    """Billing's one article is in its subtopic Refunds: Billing's page lists Refunds and says nothing of
    holding no articles. Before the fix it said "No articles in this topic yet." under the subtopic."""
    billing = CategoryFactory(name="Billing", slug="billing")
    refunds = CategoryFactory(name="Refunds", slug="refunds", parent=billing)
    make_article(title="Ask for a refund", category=refunds)
    page = client.get("/kb/billing/").content.decode()
    assert 'href="/kb/refunds/"' in page and "No articles in this topic yet" not in page
    empty = CategoryFactory(name="Invoices", slug="invoices")
    client.force_login(make_agent(TeamFactory()))  # agents are shown empty topics
    assert "No articles in this topic yet" in client.get(f"/kb/{empty.slug}/").content.decode()


def test_agents_see_internal_articles_marked_wherever_they_are_listed(client):
    """Search results, a topic's list, the popular list and related articles mark an internal article,
    as its own page does: an agent looking for a link to send a customer can tell which one the customer
    could not open. Before the fix only the article's page said so."""
    topic = CategoryFactory(name="Routers", slug="routers")
    make_article("Router reset for customers", body="Hold the button.", category=topic)
    make_article("Router reset runbook", body="Use the console.", category=topic, visibility="internal")
    client.force_login(make_agent(TeamFactory()))

    def marked(html: str) -> list[str]:
        return re.findall(r">([^<>]+)</a> <span class=\"badge badge-on_hold\">Internal</span>", html)

    results = re.search(
        r'<section id="results".*?</section>',
        client.get(SEARCH, {"q": "router reset"}).content.decode(),
        re.S,
    )
    assert marked(results.group(0)) == ["Router reset runbook"]
    assert marked(client.get("/kb/routers/").content.decode()) == ["Router reset runbook"]
    assert marked(client.get("/kb/").content.decode()) == ["Router reset runbook"]
    related = client.get("/kb/articles/router-reset-for-customers/").content.decode()
    assert marked(related) == ["Router reset runbook"]
    suggested = client.get(
        SUGGEST, {"subject": "router reset"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert re.findall(r"</a> <span class=\"badge badge-on_hold\">Internal</span>", suggested)
