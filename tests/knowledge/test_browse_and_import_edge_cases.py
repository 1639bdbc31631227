"""Regressions found in review: nested category counts, reserved category addresses, import edge cases."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from knowledge.importing import DUPLICATE_SLUG, import_articles
from knowledge.models import Article, Category
from tests.factories import CategoryFactory, TeamFactory, make_agent, make_article

pytestmark = pytest.mark.django_db


def test_home_counts_the_articles_of_subcategories(client):
    billing = CategoryFactory(name="Billing")
    invoices = CategoryFactory(name="Invoices", parent=billing)
    refunds = CategoryFactory(name="Refunds", parent=invoices)
    make_article(title="Read an invoice", category=invoices)
    make_article(title="Ask for a refund", category=refunds)
    make_article(title="Internal refund runbook", category=refunds, visibility="internal")
    make_article(title="Draft refund", category=refunds, status="draft")
    page = client.get(reverse("knowledge:home")).content.decode()
    assert "2 articles" in page
    client.force_login(make_agent(TeamFactory()))
    assert "3 articles" in client.get(reverse("knowledge:home")).content.decode()


def test_home_survives_a_category_cycle(client):
    first = CategoryFactory()
    second = CategoryFactory(parent=first)
    Category.objects.filter(pk=first.pk).update(parent=second)
    make_article(category=second)
    assert client.get(reverse("knowledge:home")).status_code == 200


@pytest.mark.parametrize("slug", ["search", "suggest", "manage", "articles"])
def test_a_category_cannot_take_an_address_of_the_knowledge_base_itself(slug):
    with pytest.raises(ValidationError):
        Category(name=slug.title(), slug=slug).full_clean()


def test_import_refuses_a_second_record_with_the_same_slug(tmp_path):
    jsonl = tmp_path / "articles.jsonl"
    records = [
        {"slug": "vpn", "title": "VPN setup", "body": "First."},
        {"slug": "vpn", "title": "VPN troubleshooting", "body": "Second."},
        {"title": "Same title", "body": "One."},
        {"title": "Same  Title!", "body": "Two."},
    ]
    jsonl.write_text("\n".join(json.dumps(record) for record in records), encoding="utf-8")
    report = import_articles(jsonl)
    assert report.created == ["vpn", "same-title"] and report.updated == []
    assert report.skipped == [
        ("line 2", DUPLICATE_SLUG.format(slug="vpn", first="line 1")),
        ("line 4", DUPLICATE_SLUG.format(slug="same-title", first="line 3")),
    ]
    assert Article.objects.get(slug="vpn").body == "First."


def test_import_refuses_two_markdown_files_with_the_same_slug(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "faq.md").write_text(f"---\ntitle: FAQ {folder}\n---\nBody {folder}\n")
    report = import_articles(tmp_path)
    assert report.created == ["faq"]
    assert report.skipped == [("b/faq.md", DUPLICATE_SLUG.format(slug="faq", first="a/faq.md"))]


def test_import_reads_a_single_markdown_file(tmp_path, capsys):
    path = tmp_path / "printer-setup.md"
    path.write_text("---\ntitle: Printer setup\nstatus: draft\n---\nPlug it in.\n", encoding="utf-8")
    call_command("kb_import", str(path))
    article = Article.objects.get(slug="printer-setup")
    assert (article.title, article.body, article.status) == ("Printer setup", "Plug it in.", "draft")
    assert "1 created" in capsys.readouterr().out


def test_import_names_a_reserved_category_address_instead_of_hiding_the_category(tmp_path):
    """A record that asks for the slug "search" is refused with the reason (a category named "Search"
    without a slug gets another one: test_importing)."""
    jsonl = tmp_path / "articles.jsonl"
    record = {"title": "Find things", "body": "Use the box.", "category": "Search", "category_slug": "search"}
    jsonl.write_text(json.dumps(record))
    report = import_articles(jsonl)
    assert report.created == [] and "is the address of a knowledge-base page" in report.skipped[0][1]
    assert not Category.objects.filter(slug="search").exists()


@pytest.mark.parametrize("target", ["missing-folder/out.jsonl", "a-file"])
def test_export_to_an_unusable_path_is_a_command_error(tmp_path, target):
    make_article()
    (tmp_path / "a-file").write_text("in the way")
    with pytest.raises(CommandError, match="Cannot write"):
        call_command("kb_export", str(tmp_path / target))


@pytest.mark.parametrize("headers", [{}, {"HTTP_HX_REQUEST": "true"}])
def test_search_page_and_its_type_ahead_fragment_vary_on_the_htmx_header(client, headers):
    make_article(title="Reset your password")
    response = client.get(reverse("knowledge:search"), {"q": "reset"}, **headers)
    assert "HX-Request" in response["Vary"]
    assert ("<html" in response.content.decode()) == (not headers)
