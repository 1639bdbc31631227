"""The category page: pages of articles, and a query budget that does not grow with the articles."""

import pytest
from django.urls import reverse

from tests.factories import CategoryFactory, TeamFactory, make_agent, make_article

pytestmark = pytest.mark.django_db

# The page's articles and their count; an agent's page also loads the session, user and roles.
QUERIES = {"anonymous": 5, "agent": 8}


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
