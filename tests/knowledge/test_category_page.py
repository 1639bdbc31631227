"""The category page: pages of articles, a query budget that does not grow with the articles, and no topic
for visitors that holds nothing they may read."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import CategoryFactory, TeamFactory, make_agent, make_article, make_customer

pytestmark = pytest.mark.django_db

# The page's articles and their count; a visitor's page also counts the articles per topic (two
# queries, cached for a minute) to hide subtopics with nothing for them; an agent's page loads the
# session, user and roles instead.
QUERIES = {"anonymous": 7, "agent": 8}


@pytest.mark.parametrize("reader", ["anonymous", "agent"])
@pytest.mark.parametrize("count", [2, 20])
def test_category_page_query_count_is_constant(client, django_assert_max_num_queries, reader, count):
    parent = CategoryFactory(name="Accounts", slug="accounts")
    category = CategoryFactory(name="Passwords", slug="passwords", parent=parent)
    CategoryFactory(name="Two-factor", slug="two-factor", parent=category)
    for number in range(count):
        make_article(title=f"Password help {number}", category=category, tags="password, sign-in")
    if reader == "agent":
        client.force_login(make_agent(TeamFactory()))
    with django_assert_max_num_queries(QUERIES[reader]):
        response = client.get(reverse("knowledge:category", args=[category.slug]))
    assert response.status_code == 200 and response.content.decode().count("Password help") == count


def test_a_big_category_is_listed_a_page_at_a_time(client):
    category = CategoryFactory(name="Passwords", slug="passwords")
    for number in range(35):
        make_article(title=f"Password help {number:02}", category=category)
    url = reverse("knowledge:category", args=[category.slug])
    first = client.get(url).content.decode()
    assert first.count("Password help") == 30 and "Page 1 of 2 · 35 in all" in first
    second = client.get(url, {"page": 2}).content.decode()
    assert second.count("Password help") == 5 and "Password help 34" in second
    assert client.get(url, {"page": "abc"}).status_code == 200  # an odd page number shows the first


@pytest.fixture
def categories():
    """A topic of internal articles only, one whose public articles are all in a subtopic, and one
    holding only a draft."""
    internal = CategoryFactory(name="Internal procedures", slug="internal-procedures")
    make_article(title="Escalation runbook", category=internal, visibility="internal")
    billing = CategoryFactory(name="Billing", slug="billing")
    refunds = CategoryFactory(name="Refunds", slug="refunds", parent=billing)
    CategoryFactory(name="Staff refunds", slug="staff-refunds", parent=billing)
    make_article(title="Ask for a refund", category=refunds)
    make_article(title="Refund runbook", category=billing.children.get(slug="staff-refunds"),
                 visibility="internal")  # fmt: skip
    drafts = CategoryFactory(name="Coming soon", slug="coming-soon")
    make_article(title="Unreleased", category=drafts, status="draft")
    return {"internal": internal, "billing": billing, "drafts": drafts}


@pytest.mark.parametrize("reader", ["anonymous", "customer"])
def test_visitors_see_no_topic_that_holds_nothing_for_them(client, categories, reader):
    if reader == "customer":
        client.force_login(make_customer())
    home = client.get(reverse("knowledge:home")).content.decode()
    assert "Internal procedures" not in home and "Coming soon" not in home
    assert "Billing" in home and "1 article<" in home
    for slug in ("internal-procedures", "coming-soon", "staff-refunds"):
        assert client.get(reverse("knowledge:category", args=[slug])).status_code == 404
    billing = client.get(reverse("knowledge:category", args=["billing"]))
    assert billing.status_code == 200  # its subtopic's article is theirs to read
    assert "Refunds" in billing.content.decode() and "Staff refunds" not in billing.content.decode()


def test_agents_still_see_every_topic(client, categories):
    client.force_login(make_agent(TeamFactory()))
    home = client.get(reverse("knowledge:home")).content.decode()
    assert "Internal procedures" in home and "Coming soon" in home and "Billing" in home
    for slug in ("internal-procedures", "coming-soon", "staff-refunds", "billing"):
        assert client.get(reverse("knowledge:category", args=[slug])).status_code == 200
    assert "Staff refunds" in client.get(reverse("knowledge:category", args=["billing"])).content.decode()


def test_breadcrumbs_cost_the_same_three_or_eight_levels_deep(client):
    def queries(depth: int) -> tuple[int, int]:
        parent = None
        for _ in range(depth):
            parent = CategoryFactory(parent=parent)
        article = make_article(title=f"Deep article {depth}", category=parent)
        counts = []
        for url in (
            reverse("knowledge:article", args=[article.slug]),
            reverse("knowledge:category", args=[parent.slug]),
        ):
            client.get(url)  # session, caches
            with CaptureQueriesContext(connection) as captured:
                assert client.get(url).status_code == 200
            counts.append(len(captured))
        return tuple(counts)

    assert queries(3) == queries(8)


def test_articles_under_no_topic_are_reached_from_the_home_page_by_other_articles(client):
    """The home page's topics are categories: articles filed under none were reachable only by search
    or among the eight popular ones, and the page said "No articles yet." beside them."""
    for number in range(12):
        make_article(title=f"Loose note {number:02}")
    make_article(title="Loose but internal", visibility="internal")
    make_article(title="Loose draft", status="draft")
    home = client.get(reverse("knowledge:home")).content.decode()
    assert "No articles yet." not in home and "Other articles" in home and "12 articles" in home
    other = client.get(reverse("knowledge:other_articles"))
    shown = other.content.decode()
    assert other.status_code == 200 and shown.count("Loose note") == 12
    assert "Loose but internal" not in shown and "Loose draft" not in shown

    client.force_login(make_agent(TeamFactory()))
    assert "Loose but internal" in client.get(reverse("knowledge:other_articles")).content.decode()


def test_the_home_page_says_no_articles_only_when_there_are_none(client):
    assert "No articles yet." in client.get(reverse("knowledge:home")).content.decode()
    make_article(title="Filed", category=CategoryFactory(name="Billing", slug="billing"))
    home = client.get(reverse("knowledge:home")).content.decode()
    assert "No articles yet." not in home and "Other articles" not in home


def test_articles_stored_before_heading_ids_are_rendered_again_by_the_migration():
    from importlib import import_module

    from django.apps import apps

    from knowledge.models import Article

    migration = import_module("knowledge.migrations.0010_article_heading_ids_and_list_starts")
    steps = make_article(title="Steps", body="## Step two\n\n1. a\n\n```\nx\n```\n\n2. b")
    plain = make_article(title="Plain", body="Nothing to change.")
    underlined = make_article(title="Underlined", body="Setup\r\n=====\r\n\r\nText.")
    Article.objects.filter(pk=steps.pk).update(body_html="<h3>Step two</h3><ol><li>a</li></ol>")
    Article.objects.filter(pk=underlined.pk).update(body_html="<h2>Setup</h2><p>Text.</p>")
    plain_html = Article.objects.get(pk=plain.pk).body_html
    migration.render_again(apps, None)
    steps_html = Article.objects.get(pk=steps.pk).body_html
    assert '<h3 id="h-step-two">' in steps_html and '<ol start="2">' in steps_html
    assert Article.objects.get(pk=plain.pk).body_html == plain_html
    assert '<h2 id="h-setup">' in Article.objects.get(pk=underlined.pk).body_html
