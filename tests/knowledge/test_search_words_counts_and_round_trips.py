"""The knowledge base as readers and editors meet it: single words and words half typed, odd questions,
counts that follow a change at once, related articles and breadcrumbs, revisions, old slugs, and a
markdown export that reads back unchanged."""

import json

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse

from knowledge import services
from knowledge.importing import export_articles, import_articles
from knowledge.models import Article
from knowledge.search import search_articles
from tests.factories import (
    CategoryFactory,
    TeamFactory,
    make_agent,
    make_article,
    make_customer,
    make_supervisor,
)

pytestmark = pytest.mark.django_db


def _titles(user, text):
    return {hit.article.title for hit in search_articles(user, text)}


# --- search -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "query"),
    [
        ("University email accounts", "university"),
        ("Terms you agreed to", "agreed"),
        ("Sharing a mailbox with others", "others"),
    ],
)
def test_a_word_from_the_title_alone_finds_the_article(title, query):
    """Searching one word of an article's title finds it, whatever the word's stem looks like."""
    make_article(title, body="Read this page before you write to us.")
    make_article("Unrelated page", body="Nothing to see.")
    assert _titles(AnonymousUser(), query) == {title}


@pytest.mark.parametrize(
    ("title", "typed"),
    [*(("Billing contacts", typed) for typed in ("bil", "bill", "billi", "billin", "billing")),
     *(("Configuration backups", typed) for typed in ("configura", "configurati", "configuratio"))],
)  # fmt: skip
def test_typing_a_word_letter_by_letter_keeps_finding_its_article(title, typed):
    """The type-ahead keeps showing the article while its title word is typed out, past its stem too."""
    make_article(title, body="Who receives the invoices.")
    make_article("Dark theme", body="Choose colours.")
    assert title in _titles(AnonymousUser(), typed)


@pytest.mark.parametrize(
    "query",
    ["'''", "___", "---", "&|!:*()<->", "\\\\", "a:* | b", "x" * 5000, "word " * 1000, "don't", "ǅemal"],
)
def test_odd_questions_are_answered_not_a_server_error(client, query):
    """Punctuation, tsquery syntax, and huge questions give a search page (full and htmx), never a 500."""
    make_article("Reset your password", body="Open the sign-in page.")
    url = reverse("knowledge:search")
    assert client.get(url, {"q": query}).status_code == 200
    assert client.get(url, {"q": query}, headers={"HX-Request": "true"}).status_code == 200
    assert client.get(reverse("knowledge:suggest"), {"subject": query}).status_code == 200


def test_search_and_suggestions_never_show_an_internal_title_to_a_customer(client):
    """A customer's search and ticket suggestions leave internal and archived articles out entirely."""
    make_article("Zebra printer setup", body="Plug the zebra printer in.")
    make_article("Zebra printer secret override", body="Zebra printer master code.", visibility="internal")
    make_article("Zebra printer old guide", body="Zebra printer archived text.", status="archived")
    client.force_login(make_customer())
    for url, params in (
        (reverse("knowledge:search"), {"q": "zebra printer"}),
        (reverse("knowledge:suggest"), {"subject": "zebra printer"}),
    ):
        page = client.get(url, params).content.decode()
        assert "Zebra printer setup" in page
        assert "secret override" not in page and "master code" not in page
        assert "old guide" not in page and "archived text" not in page


# --- home and category counts -------------------------------------------------------------------


@pytest.mark.parametrize("change", ["internal", "archive"])
def test_the_home_page_stops_counting_an_article_as_soon_as_customers_lose_it(client, change):
    """An article made internal or archived stops being counted (and its topic shown) to customers at once."""
    category = CategoryFactory(name="Merger plans", slug="merger-plans")
    article = make_article("Merger timeline", body="Dates.", category=category)
    assert "Merger plans" in client.get(reverse("knowledge:home")).content.decode()
    if change == "internal":
        services.article_update(article, visibility="internal", actor=None)
    else:
        services.article_archive(article, actor=None)
    page = client.get(reverse("knowledge:home")).content.decode()
    assert "Merger plans" not in page and "1 article" not in page


def test_a_subtopic_holding_only_a_newly_internal_article_is_no_longer_listed(client):
    """A subtopic whose only article just became internal is not listed on its parent's page for visitors."""
    parent = CategoryFactory(name="Accounts", slug="accounts")
    child = CategoryFactory(name="Layoff notices", slug="layoff-notices", parent=parent)
    make_article("Sign in", body="Use your email.", category=parent)
    hidden = make_article("Layoffs in May", body="Names.", category=child)
    assert "Layoff notices" in client.get(reverse("knowledge:category", args=["accounts"])).content.decode()
    services.article_update(hidden, visibility="internal", actor=None)
    assert (
        "Layoff notices" not in client.get(reverse("knowledge:category", args=["accounts"])).content.decode()
    )


# --- article page -------------------------------------------------------------------------------


def test_related_articles_list_only_what_the_reader_may_open(client):
    """Related articles: customers get published public ones only; agents also internal, never drafts."""
    category = CategoryFactory()
    article = make_article("Main article", body="Main.", category=category)
    make_article("Public sibling", body="x", category=category)
    make_article("Internal sibling", body="x", category=category, visibility="internal")
    make_article("Draft sibling", body="x", category=category, status="draft")
    make_article("Archived sibling", body="x", category=category, status="archived")
    url = reverse("knowledge:article", args=[article.slug])
    client.force_login(make_customer())
    page = client.get(url).content.decode()
    assert "Public sibling" in page
    assert "Internal sibling" not in page and "Draft sibling" not in page and "Archived sibling" not in page
    client.force_login(make_agent(TeamFactory()))
    page = client.get(url).content.decode()
    assert "Public sibling" in page and "Internal sibling" in page
    assert "Draft sibling" not in page and "Archived sibling" not in page


def test_breadcrumbs_name_each_ancestor_in_order(client):
    """The article page's breadcrumbs go Knowledge base > top topic > subtopic > article."""
    top = CategoryFactory(name="Topmost topic", slug="topmost")
    sub = CategoryFactory(name="Middle topic", slug="middle", parent=top)
    article = make_article("Leaf article", body="x", category=sub)
    page = client.get(reverse("knowledge:article", args=[article.slug])).content.decode()
    crumbs = page[page.index('class="breadcrumbs"') : page.index("</nav>", page.index('class="breadcrumbs"'))]
    order = [
        crumbs.index(text) for text in ("Knowledge base", "Topmost topic", "Middle topic", "Leaf article")
    ]
    assert order == sorted(order)


# --- revisions and workflow ---------------------------------------------------------------------


def test_restoring_a_revision_of_an_archived_article_keeps_it_archived_and_off_the_site(client):
    """Restoring an old version of an archived article changes its text but does not republish it."""
    editor = make_supervisor()
    article = make_article("Version one", body="First text.")
    article = services.article_update(article, title="Version two", body="Second text.", actor=editor)
    services.article_archive(article, actor=editor)
    first = article.revisions.get(title="Version one")
    client.force_login(editor)
    article.refresh_from_db()
    response = client.post(
        reverse("knowledge:manage_restore", args=[article.slug, first.pk]),
        {"loaded_at": article.updated_at.isoformat()},
    )
    assert response.status_code == 302
    article.refresh_from_db()
    assert (article.title, article.body, article.status) == ("Version one", "First text.", "archived")
    client.logout()
    assert client.get(reverse("knowledge:article", args=[article.slug])).status_code == 404


def test_a_non_editor_agent_cannot_publish_or_verify_through_the_buttons(client):
    """An agent without publish/verify permissions posting the editor's buttons changes nothing."""
    agent = make_agent(TeamFactory())
    own = services.article_create(title="My answer", body="Text.", actor=agent)
    services.article_submit_for_review(own, actor=agent)
    published = make_article("Someone else's", body="Text.")
    client.force_login(agent)
    client.post(reverse("knowledge:manage_action", args=[own.slug, "publish"]))
    client.post(reverse("knowledge:manage_action", args=[published.slug, "verify"]))
    own.refresh_from_db()
    published.refresh_from_db()
    assert own.status == "review" and published.verified_at is None


# --- slugs --------------------------------------------------------------------------------------


def test_an_old_slug_keeps_redirecting_through_two_renames(client):
    """After two renames, both earlier addresses redirect to the current one."""
    article = make_article("First name")
    services.article_update(article, slug="second-name", actor=None)
    services.article_update(Article.objects.get(pk=article.pk), slug="third-name", actor=None)
    for old in ("first-name", "second-name"):
        response = client.get(reverse("knowledge:article", args=[old]))
        assert response.status_code == 301 and response["Location"].endswith("/kb/articles/third-name/")


def test_a_new_article_titled_like_another_articles_old_slug_gets_its_own_address(client):
    """A new article titled like another's old slug gets its own address; the old one still redirects."""
    article = make_article("Password help")
    services.article_update(article, slug="password-help-v2", actor=None)
    newcomer = make_article("Password help", body="Another text.")
    assert newcomer.slug not in ("password-help", "password-help-v2")
    response = client.get(reverse("knowledge:article", args=["password-help"]))
    assert response["Location"].endswith("/kb/articles/password-help-v2/")


# --- import / export ----------------------------------------------------------------------------


def test_a_markdown_export_imports_back_unchanged_when_the_body_starts_with_blank_lines(tmp_path):
    """Exporting to markdown and importing the folder back reports every article unchanged."""
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"slug": "spaced", "title": "Spaced", "body": "\n\nStarts lower."}) + "\n")
    import_articles(source)
    export_articles(tmp_path / "out", Article.objects.all())
    report = import_articles(tmp_path / "out")
    assert report.unchanged == ["spaced"] and not report.updated


def test_the_type_ahead_fragment_finds_an_article_by_a_whole_title_word(client):
    """The htmx type-ahead on /kb/search/ lists an article when a whole word of its title is typed."""
    make_article("University email accounts", body="Students sign in with their address.")
    fragment = client.get(
        reverse("knowledge:search"), {"q": "university"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "University email accounts" in fragment
