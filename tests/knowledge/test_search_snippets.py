"""Search snippets are the article's text as its page shows it: no markdown syntax, and escaped once."""

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse

from knowledge.search import MATCH_END, MATCH_START, search_articles
from tests.factories import make_article

pytestmark = pytest.mark.django_db

BODY = """Open **Sign in → Forgotten your password?** on the [sign-in page](https://example.com/signin).

1. Wait *five* minutes
2. Look in the `Junk` folder

Codes such as `a < b && c > d` or <script>alert(1)</script> are shown as typed."""


def _snippet(query: str) -> str:
    """The snippet of the one article found, its matches written [[[so]]] for reading here."""
    (hit,) = search_articles(AnonymousUser(), query)
    return hit.snippet.replace(MATCH_START, "[[[").replace(MATCH_END, "]]]")


def test_snippets_show_the_text_without_markdown_syntax():
    make_article(title="Reset your password", body=BODY)
    snippet = _snippet("forgotten password junk folder")
    assert "Sign in → [[[Forgotten]]] your [[[password]]]? on the sign-in page" in snippet
    assert "Wait five minutes Look in the [[[Junk]]] [[[folder]]]" in snippet
    for syntax in ("**", "](", "https://", "1.", "2.", "`", "*five*"):
        assert syntax not in snippet, syntax


def test_snippets_decode_the_html_once_and_the_page_escapes_them_once(client):
    make_article(title="Comparison codes", body=BODY.split("\n\n")[-1])
    snippet = _snippet("codes typed")
    assert "a < b && c > d or <script>alert(1)</script> are shown as [[[typed]]]" in snippet
    page = client.get(reverse("knowledge:search"), {"q": "codes typed"}).content.decode()
    escaped = "a &lt; b &amp;&amp; c &gt; d or &lt;script&gt;alert(1)&lt;/script&gt; are shown as"
    assert f"{escaped} <mark>typed</mark>" in page
    assert "&amp;lt;" not in page and "<script>alert" not in page


@pytest.mark.parametrize(
    ("body", "query"),
    [
        ("To read a cell use matrix[row[col[0]]] in the spreadsheet formula.", "spreadsheet formula"),
        ("Write [[[ to open a block, then more words about wiki syntax.", "wiki syntax block"),
    ],
)
def test_brackets_in_the_article_stay_brackets_and_the_marks_pair_up(client, body, query):
    make_article(title="Notation", body=body)
    page = client.get(reverse("knowledge:search"), {"q": query}).content.decode()
    snippet = re.search(r'<p class="snippet">(.*?)</p>', page, re.S).group(1)
    shown = re.sub(r"</?mark>", "", snippet)
    assert shown in body and ("[[[" in shown or "[0]]]" in shown)  # ts_headline trims stop words off the ends
    assert snippet.count("<mark>") == snippet.count("</mark>") == len(query.split())


def test_bold_and_code_leave_no_space_before_the_punctuation_that_follows():
    make_article(
        title="Change your password",
        body="Open **Settings**, then use **Change password**. Enter the `code` we sent (it expires).",
    )
    snippet = _snippet("change password code")
    assert (
        "Open Settings, then use [[[Change]]] [[[password]]]. Enter the [[[code]]] we sent (it expires)."
        in snippet
    )
    assert " ." not in snippet and " ," not in snippet


def test_an_excerpt_cut_from_inside_the_article_says_so_at_either_end():
    filler = " ".join(f"Paragraph word{number} about routers and cables." for number in range(40))
    make_article(title="Long guide", body=f"{filler}\n\nThe voicemail greeting is recorded here.\n\n{filler}")
    snippet = _snippet("voicemail greeting")
    assert snippet.startswith("… ") and snippet.endswith(" …")
    make_article(title="Short one", body="Record the welcome message.")
    assert _snippet("welcome message") == "Record the [[[welcome]]] [[[message]]]."


def plain(snippet: str) -> str:
    return snippet.replace(MATCH_START, "").replace(MATCH_END, "")


def test_a_snippet_cut_before_the_end_says_so_even_when_the_article_repeats_its_last_words():
    """An article of repeated lines ("Thanks again." closes it and many lines before): the excerpt of
    the first 30 words does not reach the end of the article, so it must end with "…". _cut_marked
    looks for the excerpt's last four words in the article's last 120 characters; they are there (the
    article repeats them), so it decides that the excerpt reaches the end and drops the "…"."""
    body = "Reset your password on this page. " + "Thanks again. " * 60
    article = make_article(title="Passwords", body=body)
    [hit] = search_articles(AnonymousUser(), "password")
    assert hit.article.pk == article.pk
    shown = plain(hit.snippet)
    assert len(shown.split()) < len(body.split()), "the snippet is not the whole article"
    assert shown.endswith("…"), shown


def _long_body(middle: str) -> str:
    """An article far longer than ts_headline's window, `middle` deep inside it, paragraphs and lists
    around it (tags and entities the window may cut through)."""
    filler = "\n\n".join(
        f"Paragraph {n} talks about **printers** & <queues>, then:\n\n- trays\n- toner" for n in range(60)
    )
    return f"Start of the guide.\n\n{filler}\n\n{middle}\n\n{filler}\n\nEnd of the guide."


def test_a_long_articles_snippet_comes_from_around_its_first_match():
    """ts_headline reads a window of a long article: the excerpt still shows the match deep inside it,
    says it starts and ends inside the article, and holds no cut tag or entity."""
    make_article(title="Printer guide", body=_long_body("To calibrate the scanner, hold the blue button."))
    snippet = _snippet("calibrate scanner")
    assert "[[[calibrate]]] the [[[scanner]]]" in snippet
    assert snippet.startswith("… ") and snippet.endswith(" …")
    assert not re.search(r"</?(?:p|li|ul|strong)\b|/?(?:p|li|ul)>|&\w+;|\b(?:amp|lt|gt);", snippet), snippet


def test_a_long_article_matched_at_its_start_keeps_its_first_words():
    """A window that begins at the article's start cuts nothing off it: no "…" before the excerpt."""
    make_article(title="Scanner guide", body="Scanner setup comes first. " + _long_body("Nothing here."))
    snippet = _snippet("scanner setup")
    assert snippet.startswith("[[[Scanner]]] [[[setup]]] comes first."), snippet


def test_an_article_cannot_spell_its_own_highlight_marks_as_entities(client):
    """An article whose text holds the match markers spelled as entities ("&#xE000;") gets no highlight
    of its own making: the snippet marks only the words searched for, in pairs. Before the fix the
    entity was decoded into a marker after the markers were taken out."""
    definition = '[refund]: https://example.com/refund "&#xE000;Everything here is highlighted refund policy"'
    body = f"See [refund].\n\n{definition}"
    make_article(title="Refund policy", body=body)
    make_article(title="Refunds", body="&#xE000;Highlighted&#xE001; words and a refund policy.")
    page = client.get(reverse("knowledge:search"), {"q": "refund policy"}).content.decode()
    for snippet in re.findall(r'<p class="snippet">(.*?)</p>', page, re.S):
        marked = re.findall(r"<mark>(.*?)</mark>", snippet, re.S)
        assert snippet.count("<mark>") == snippet.count("</mark>"), snippet
        assert all(re.fullmatch(r"(?i)refunds?|policy", words.strip()) for words in marked), snippet
