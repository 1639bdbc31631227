"""kb_export then kb_import into an empty database gives the same knowledge base (the category tree,
old addresses); an unchanged record imports as unchanged; a long question keeps its telling word."""

import json

import pytest
from django.core.management import call_command

from knowledge.importing import import_articles
from knowledge.models import Article, Category
from tests.factories import CategoryFactory, make_article

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["export.jsonl", "export-folder"])
def test_round_trip_keeps_category_nesting(tmp_path, name):
    """Export then import into an empty database gives the same articles, including where their
    category sits in the tree: a subcategory comes back under its parent."""
    billing = CategoryFactory(name="Billing", slug="billing")
    invoices = CategoryFactory(name="Invoices", slug="invoices", parent=billing)
    make_article(title="Download an invoice", category=invoices)
    call_command("kb_export", str(tmp_path / name), verbosity=0)
    Article.objects.all().delete()
    Category.objects.filter(parent__isnull=False).delete()
    Category.objects.all().delete()
    report = import_articles(tmp_path / name)
    assert report.skipped == []
    category = Article.objects.get(title="Download an invoice").category
    assert category.slug == "invoices"
    assert category.parent is not None and category.parent.slug == "billing"


def test_a_long_question_keeps_its_key_word_whatever_its_place_in_the_alphabet():
    """A natural-language question searches with its words: when it holds more than MAX_TERMS distinct
    words, the ones dropped must not be chosen by alphabetical order (the only word that names the
    topic, "zoom", must not be thrown away because twelve other words sort before it)."""
    from django.contrib.auth.models import AnonymousUser

    from knowledge.search import search_articles

    make_article(title="Zoom meetings will not start", body="Update the app, then sign in again.")
    question = (
        "after applying big calendar changes daily every evening, frankly good hardware "
        "issues just keep leaving zoom broken"
    )
    titles = [hit.article.title for hit in search_articles(AnonymousUser(), question)]
    assert titles == ["Zoom meetings will not start"]


@pytest.mark.parametrize("name", ["export.jsonl", "export-folder"])
def test_round_trip_keeps_old_slugs_redirecting(client, tmp_path, name):
    """Slugs are stable: a renamed article's old address keeps redirecting. Export then import into an
    empty database must give the same articles, old addresses included, or every link published
    before the rename breaks after a move to a new server."""
    from knowledge import services

    article = make_article(title="Reset your password", slug="reset-password")
    services.article_update(article, actor=None, slug="password-reset")
    assert client.get("/kb/articles/reset-password/").status_code == 301

    call_command("kb_export", str(tmp_path / name), verbosity=0)
    Article.objects.all().delete()
    assert import_articles(tmp_path / name).created == ["password-reset"]

    response = client.get("/kb/articles/reset-password/")
    assert response.status_code == 301
    assert response["Location"] == "/kb/articles/password-reset/"


def test_reimporting_an_unchanged_record_with_a_title_of_the_longest_length_is_unchanged(tmp_path):
    """Import is idempotent by slug: importing the same JSON Lines file twice reports the record as
    unchanged the second time, writing nothing (no revision, no change to the title). A title of 200
    characters, spaced oddly, is stored whole; one character more and the record is skipped with its
    reason rather than cut."""
    source = tmp_path / "articles.jsonl"
    longer = tmp_path / "longer.jsonl"
    longer.write_text(
        json.dumps({"slug": "long", "title": "a" * 201, "body": "Text."}) + "\n", encoding="utf-8"
    )
    reason = "the title has 201 characters; at most 200 are kept, so shorten it rather than lose its end"
    assert import_articles(longer).skipped == [("line 1", reason)]
    title = "a" * 180 + "   and the rest  of it "
    source.write_text(json.dumps({"slug": "long", "title": title, "body": "Text."}) + "\n", encoding="utf-8")
    assert import_articles(source).created == ["long"]
    stored = Article.objects.get(slug="long")
    report = import_articles(source)
    assert report.unchanged == ["long"] and report.updated == []
    after = Article.objects.get(slug="long")
    assert after.title == stored.title and after.revisions.count() == stored.revisions.count()
    assert stored.title == "a" * 180 + " and the rest of it"


@pytest.mark.parametrize("name", ["export.jsonl", "export-folder"])
def test_round_trip_rebuilds_a_three_level_tree_with_its_names(tmp_path, name):
    """Categories with no article of their own on the way down come back too, with their names."""
    products = CategoryFactory(name="Products", slug="products")
    printers = CategoryFactory(name="Printers & scanners", slug="printers", parent=products)
    laser = CategoryFactory(name="Laser", slug="laser", parent=printers)
    make_article(title="Replace the toner", category=laser)
    call_command("kb_export", str(tmp_path / name), verbosity=0)
    Article.objects.all().delete()
    Category.objects.filter(slug="laser").delete()
    Category.objects.filter(slug="printers").delete()
    Category.objects.all().delete()
    assert import_articles(tmp_path / name).created == ["replace-the-toner"]
    laser = Article.objects.get().category
    assert (laser.slug, laser.parent.slug, laser.parent.name, laser.parent.parent.slug) == (
        "laser",
        "printers",
        "Printers & scanners",
        "products",
    )


def test_a_record_whose_old_slugs_are_no_list_is_skipped_with_the_reason(tmp_path):
    source = tmp_path / "articles.jsonl"
    record = {"slug": "a", "title": "A", "body": "Text.", "old_slugs": "b"}
    source.write_text(json.dumps(record) + "\n", encoding="utf-8")
    report = import_articles(source)
    assert report.created == [] and "old_slugs must be a list of text" in report.skipped[0][1]


def test_an_old_slug_in_use_by_another_article_stays_with_it(client, tmp_path):
    """A record's old address that another article holds now is left to that article."""
    make_article(title="Other", slug="reset-password")
    source = tmp_path / "articles.jsonl"
    record = {"slug": "password-reset", "title": "Reset", "body": "Text.", "old_slugs": ["reset-password"]}
    source.write_text(json.dumps(record) + "\n", encoding="utf-8")
    assert import_articles(source).created == ["password-reset"]
    assert client.get("/kb/articles/reset-password/").status_code == 200


@pytest.mark.parametrize("name", ["export.jsonl", "export-folder"])
def test_round_trip_keeps_the_categories_cards_and_the_empty_ones(tmp_path, name):
    """The topic cards on /kb/ come back as they were: each category's description, icon and order, and a
    category no article uses yet (part of the tree all the same). Importing again changes nothing."""
    billing = CategoryFactory(name="Billing", slug="billing", description="Invoices and refunds", icon="💳",
                              position=2)  # fmt: skip
    CategoryFactory(name="Refunds", slug="refunds", parent=billing, description="Money back", position=1)
    CategoryFactory(name="Network", slug="network", description="VPN and Wi-Fi", icon="📶", position=1)
    make_article(title="Download an invoice", category=billing)
    expected = sorted(
        Category.objects.values_list("slug", "parent__slug", "name", "description", "icon", "position")
    )
    call_command("kb_export", str(tmp_path / name), verbosity=0)
    Article.objects.all().delete()
    Category.objects.filter(parent__isnull=False).delete()
    Category.objects.all().delete()
    report = import_articles(tmp_path / name)
    assert report.skipped == [] and sorted(report.categories_created) == ["billing", "network", "refunds"]
    fields = ("slug", "parent__slug", "name", "description", "icon", "position")
    assert sorted(Category.objects.values_list(*fields)) == expected
    again = import_articles(tmp_path / name)
    assert again.categories_created == again.categories_updated == [] and again.unchanged


def test_a_bad_category_record_is_skipped_with_the_reason_and_the_rest_imports(tmp_path):
    """A category record without a name, or with a position that is no whole number, is reported and
    skipped; the articles after it import."""
    source = tmp_path / "kb.jsonl"
    records = [
        {"kind": "category", "slug": "billing", "name": "", "description": "", "icon": "", "position": 0},
        {
            "kind": "category",
            "slug": "network",
            "name": "Network",
            "description": "",
            "icon": "",
            "position": "1",
        },
        {"slug": "vpn", "title": "VPN", "body": "Connect first."},
    ]
    source.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    report = import_articles(source)
    assert [where for where, _ in report.skipped] == ["line 1", "line 2"]
    assert report.created == ["vpn"] and not Category.objects.exists()
