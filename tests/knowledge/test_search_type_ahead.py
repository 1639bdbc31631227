"""The last word of a search matches as a prefix (type-ahead), but only when it is long enough to mean
something: a letter or a stop word would match nearly every article."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse

from knowledge.search import search_articles
from tests.factories import CategoryFactory, make_article

pytestmark = pytest.mark.django_db


@pytest.fixture
def corpus():
    make_article("Ask for a refund", body="Write to billing with the order number.")
    make_article("Refund policy", body="Refunds within thirty days.")
    make_article("Add a shared mailbox", body="Open the admin centre and add an address.")
    make_article("Archive old tickets", body="Agents archive answered tickets.")
    make_article("Theme settings", body="Choose the dark theme.")


def _titles(text: str) -> set[str]:
    return {hit.article.title for hit in search_articles(AnonymousUser(), text)}


@pytest.mark.parametrize("text", ["refund a", "refund ad", "refund the", "refund AND", "refund it's"])
def test_a_short_or_stop_word_last_word_is_no_prefix(corpus, text):
    assert _titles(text) == _titles("refund") == {"Ask for a refund", "Refund policy"}


def test_the_search_page_lists_the_same_for_a_trailing_letter(client, corpus):
    page = client.get(reverse("knowledge:search"), {"q": "refund a"}).content.decode()
    assert "Refund policy" in page and "Add a shared mailbox" not in page


@pytest.mark.parametrize(("text", "expected"), [
    ("shared mailb", {"Add a shared mailbox"}),
    ("refu", {"Ask for a refund", "Refund policy"}),
    ("arch", {"Archive old tickets"}),
    ("dar", {"Theme settings"}),
])  # fmt: skip
def test_a_longer_partial_last_word_still_matches_as_a_prefix(corpus, text, expected):
    assert _titles(text) == expected


@pytest.mark.parametrize("text", ["a", "ad", "the", "and the"])
def test_a_search_of_only_short_or_stop_words_finds_nothing(corpus, text):
    assert _titles(text) == set()


def test_type_ahead_says_how_many_it_found_and_retitles_the_search_page_only(client, corpus):
    search = reverse("knowledge:search")
    home = client.get(reverse("knowledge:home")).content.decode()
    assert '<p id="kb-search-status" class="visually-hidden" role="status"></p>' in home
    for page, retitled in ((search, True), (reverse("knowledge:home"), False)):
        headers = {"HX-Request": "true", "HX-Current-URL": f"http://testserver{page}"}
        fragment = client.get(search, {"q": "refund"}, headers=headers).content.decode()
        assert '<p id="kb-search-status" hx-swap-oob="innerHTML">2 articles found.</p>' in fragment
        assert ("<title>“refund” \u2013 Search" in fragment) is retitled  # the KB home's address stays
        assert "aria-live" not in fragment  # the list itself is not read out on every keystroke


def test_topic_article_and_other_articles_pages_carry_the_type_ahead_box(client, corpus):
    topic = CategoryFactory(name="Billing")
    make_article("Pay by invoice", body="Ask billing for an invoice.", category=topic)
    for page in (
        reverse("knowledge:category", args=[topic.slug]),
        reverse("knowledge:article", args=["pay-by-invoice"]),
        reverse("knowledge:other_articles"),
    ):
        html = client.get(page).content.decode()
        assert html.count('role="search"') == 1, page
        assert f'hx-get="{reverse("knowledge:search")}"' in html and 'hx-target="#results"' in html, page
        assert '<div id="results"></div>' in html, page
        headers = {"HX-Request": "true", "HX-Current-URL": f"http://testserver{page}"}
        fragment = client.get(reverse("knowledge:search"), {"q": "refund"}, headers=headers).content.decode()
        assert "Refund policy" in fragment and "Pay by invoice" not in fragment
        assert "<title>" not in fragment  # the page typed on keeps its title and address
