"""Text cut to a length (an excerpt, a follow-up's subject, a refused value quoted back) is cut between
what reads as characters, never inside an accented letter, an emoji with its skin tone, a family of
emoji or a flag."""

import pytest

from helpdesk.display import cut
from knowledge.models import Article
from tests.factories import make_article

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # man, woman, girl: one emoji
FLAG = "\U0001f1e9\U0001f1ea"  # D and E regional indicators: the German flag


@pytest.mark.parametrize(
    "text, length, kept",
    [
        ("abc", 2, "ab"),
        ("abc", 5, "abc"),
        ("xe\u0301", 2, "x"),  # e and its accent
        (f"a{FAMILY}", 3, "a"),
        (f"a{FAMILY}b", 6, f"a{FAMILY}"),
        (f"x{FLAG}", 2, "x"),
        (f"x{FLAG}{FLAG}", 4, f"x{FLAG}"),
        ("x\U0001f44d\U0001f3fd", 2, "x"),  # thumbs up, medium skin tone
        ("x\u2764\ufe0f", 2, "x"),  # heart and its emoji variation
    ],
)
def test_text_is_cut_between_what_reads_as_characters(text, length, kept):
    assert cut(text, length) == kept


@pytest.mark.django_db
@pytest.mark.parametrize("ending", [FLAG, FAMILY])
def test_an_automatic_excerpt_ends_on_a_whole_emoji(ending):
    article = make_article(title="Long", body="a" * 296 + ending + " and more words after it")
    excerpt = Article.objects.get(pk=article.pk).excerpt
    assert excerpt == "a" * 296 + "…"
