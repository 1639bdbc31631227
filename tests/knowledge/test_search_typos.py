"""KB search forgives typing slips: a word no published article holds nor begins with is read as the
closest word the articles do hold, and nothing about articles a visitor may not see comes out of it."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from knowledge.models import Article
from knowledge.search import MATCH_END, MATCH_START, close_lexemes, search_articles
from tests.factories import make_agent, make_article, make_customer

pytestmark = pytest.mark.django_db


def titles(text: str, user=None) -> list[str]:
    return [hit.article.title for hit in search_articles(user or AnonymousUser(), text)]


@pytest.fixture
def corpus():
    make_article("Delete your account", body="Deleting an account removes your tickets for good.")
    make_article("Change the accent colour", body="Pick an accent colour for your portal.")
    make_article("Printer troubleshooting", body="Clear a paper jam and restart the printer.")


@pytest.mark.parametrize(
    "text",
    [
        "how do I delete my acount",  # a letter dropped
        "how do I delete my accuont",  # two letters swapped
        "how do I delete my accountt",  # a letter doubled
        "how do I delete my accoumt",  # a letter replaced
    ],
)
def test_one_slip_in_a_word_still_finds_its_article_first(corpus, text):
    assert titles(text)[0] == "Delete your account"


def test_two_slips_in_a_long_word_are_forgiven_but_not_in_a_short_one(corpus):
    assert titles("printr troublshooting")[0] == "Printer troubleshooting"  # "troubleshoot": two slips
    assert titles("jmpa") == []  # "jam": two slips in a short word read as another word, not as "jam"


def test_a_word_the_articles_hold_is_never_corrected_to_a_neighbour(corpus):
    assert titles("accent") == ["Change the accent colour"]
    assert titles("account") == ["Delete your account"]


def test_a_word_the_articles_begin_with_is_a_prefix_not_a_slip(corpus):
    """Type-ahead: "accou" is the start of "account", not a slip of "accent"."""
    assert titles("accou") == ["Delete your account"]


def test_where_two_words_are_as_close_the_more_used_one_wins():
    make_article("Account basics", body="An account holds your tickets.")
    make_article("Account recovery", body="Recover an account you cannot open.")
    make_article("Accent colours", body="Colours of the portal.")
    visible = Article.objects.publicly_listed_to(AnonymousUser()).values("id")
    assert close_lexemes(["accunt"], visible) == {"accunt": "account"}  # "accent" is one slip away too


def test_the_snippet_marks_the_corrected_word(client, corpus):
    (hit,) = search_articles(AnonymousUser(), "printer jamm")
    assert f"{MATCH_START}jam{MATCH_END}" in hit.snippet
    page = client.get(reverse("knowledge:search"), {"q": "printer jamm"}).content.decode()
    assert "<mark>jam</mark>" in page


def test_a_correction_never_finds_an_internal_or_unpublished_article_for_a_visitor(client, corpus):
    make_article("Kubernetes runbook", body="Restart the kubernetes cluster.", visibility="internal")
    make_article("Quarantine steps", body="Quarantine the mailbox.", status="draft")
    assert titles("kubernetis runbok") == []
    assert titles("quarantne") == []
    page = client.get(reverse("knowledge:search"), {"q": "kubernetis runbok"}).content.decode()
    assert "Kubernetes" not in page and "kubernetes" not in page


def test_an_agent_finds_the_internal_article_through_a_slip(corpus):
    make_article("Kubernetes runbook", body="Restart the kubernetes cluster.", visibility="internal")
    assert titles("kubernetis runbok", make_agent()) == ["Kubernetes runbook"]


def test_a_question_without_slips_costs_no_extra_query(corpus):
    """A slip costs two: the candidates, and which of them the reader's articles hold."""
    search_articles(AnonymousUser(), "delete my account")  # warm the content types and the like
    with CaptureQueriesContext(connection) as clean:
        search_articles(AnonymousUser(), "delete my account")
    with CaptureQueriesContext(connection) as slipped:
        search_articles(AnonymousUser(), "delete my acount")
    assert len(slipped) == len(clean) + 2


def test_a_customers_slip_is_not_corrected_to_a_word_only_internal_articles_hold():
    """A customer types "acount" (one slip from the public article's "account"). Published internal
    articles use "amount" more often, equally one slip away: the correction must not pick a word the
    customer can never find (close_lexemes reads SearchTerm, which counts internal articles too), or
    the customer's search comes back empty while the public article was one slip away."""
    public = make_article(title="Close your account", body="Close your account from the profile page.")
    # Control: with public articles only, the slip is corrected to "account".
    assert [hit.article.pk for hit in search_articles(AnonymousUser(), "acount")] == [public.pk]
    for n in range(3):
        make_article(title=f"Refund amount rules {n}", body="The amount to refund.", visibility="internal")
    hits = search_articles(AnonymousUser(), "acount")
    assert [hit.article.pk for hit in hits] == [public.pk]
    # An agent, who reads the internal articles too, gets their more used word.
    assert all("amount" in hit.article.title for hit in search_articles(make_agent(), "acount"))


def test_a_word_only_internal_articles_hold_is_a_slip_to_a_customer():
    """An internal article quotes a customer's "acount": to a customer, who cannot read it, "acount" is
    still a word no article holds, corrected to the public article's "account" (what a customer finds
    must not depend on what internal articles say, nor tell whether one holds a word). An agent's
    search finds the internal article by the word as typed."""
    public = make_article(title="Close your account", body="Close your account from the profile page.")
    internal = make_article(
        title="Billing escalation notes",
        body="Customers who write acount in their mails: reply kindly.",
        visibility="internal",
    )
    assert [hit.article.pk for hit in search_articles(AnonymousUser(), "acount")] == [public.pk]
    assert [hit.article.pk for hit in search_articles(make_customer(), "acount")] == [public.pk]
    assert [hit.article.pk for hit in search_articles(make_agent(), "acount")] == [internal.pk]
