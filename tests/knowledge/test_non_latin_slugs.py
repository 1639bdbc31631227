"""Titles that slugify() cannot spell in ASCII (Cyrillic, Japanese, …) still get a usable, stable slug:
in the editor and in kb_import, whose re-imports find the article again by it."""

# Cyrillic letters that look Latin are what these tests are about.
# ruff: noqa: RUF001

import json
import re

import pytest
from django.urls import reverse

from knowledge.importing import export_articles, import_articles
from knowledge.models import Article, Category
from knowledge.slugs import slug_for
from tests.factories import TeamFactory, make_agent

pytestmark = pytest.mark.django_db

GENERATED = re.compile(r"article-[0-9a-f]{12}")


def test_latin_titles_keep_the_slugs_they_always_had():
    # Existing articles and files were imported under these: a new slug would import a copy.
    assert slug_for("VPN help") == "vpn-help"
    assert slug_for("Café menu: prices") == "cafe-menu-prices"
    assert slug_for("x" * 250) == "x" * 200


def test_a_title_slugify_cannot_spell_gets_a_stable_ascii_slug():
    slug = slug_for("Сброс пароля")
    assert GENERATED.fullmatch(slug)
    assert slug_for("  сброс   ПАРОЛЯ ") == slug, "the same title as slugify() sees it: case and spaces"
    assert slug_for("パスワードを忘れた") not in (slug, "article")
    assert slug_for("Категория", prefix="category").startswith("category-")


def test_the_editor_gives_each_non_latin_title_its_own_address(client):
    client.force_login(make_agent(TeamFactory()))
    for title in ("Сброс пароля", "Настройка почты", "Сброс пароля"):
        response = client.post(reverse("knowledge:manage_new"), {
            "title": title, "body": "Текст.", "visibility": "public",
        })  # fmt: skip
        assert response.status_code == 302
    first, second, again = Article.objects.order_by("pk").values_list("slug", flat=True)
    assert GENERATED.fullmatch(first) and GENERATED.fullmatch(second) and first != second
    assert again == f"{first}-2"
    assert client.get(reverse("knowledge:manage_edit", args=[second])).status_code == 200


def test_a_non_latin_record_without_a_slug_imports_and_reimports_unchanged(tmp_path):
    source = tmp_path / "articles.jsonl"
    records = [
        {"title": "Сброс пароля", "body": "Откройте страницу входа.", "category": "Учётная запись"},
        {"title": "パスワードを忘れた", "body": "サインインページを開きます。"},
    ]
    source.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records), "utf-8")
    report = import_articles(source)
    assert report.skipped == [] and len(report.created) == 2
    assert all(GENERATED.fullmatch(slug) for slug in report.created)
    article = Article.objects.get(title="Сброс пароля")
    assert article.slug == slug_for("Сброс пароля")
    assert article.category.name == "Учётная запись" and article.category.slug.startswith("category-")
    again = import_articles(source)
    assert again.unchanged == report.created and again.created == again.skipped == []
    assert Article.objects.count() == 2 and Category.objects.count() == 1


def test_an_exported_non_latin_article_imports_back_onto_itself(tmp_path):
    source = tmp_path / "articles.jsonl"
    source.write_text(json.dumps({"title": "Пароль", "body": "Текст."}, ensure_ascii=False) + "\n", "utf-8")
    import_articles(source)
    exported = tmp_path / "export"
    export_articles(exported, Article.objects.all())
    assert import_articles(exported).unchanged == [slug_for("Пароль")]
    assert Article.objects.count() == 1


def test_a_markdown_file_with_a_non_latin_name_imports(tmp_path):
    (tmp_path / "пароль.md").write_text("---\ntitle: Пароль\n---\nТекст.\n", encoding="utf-8")
    report = import_articles(tmp_path)
    assert report.skipped == [] and report.created == [slug_for("пароль")]
    assert import_articles(tmp_path).unchanged == report.created
