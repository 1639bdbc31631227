"""The category page: a query budget that does not grow with the articles it lists."""

import pytest
from django.urls import reverse

from tests.factories import CategoryFactory, TeamFactory, make_agent, make_article

pytestmark = pytest.mark.django_db

QUERIES = {"anonymous": 4, "agent": 7}  # an agent's page also loads the session, user and roles


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
