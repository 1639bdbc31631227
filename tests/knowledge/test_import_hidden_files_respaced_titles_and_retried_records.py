"""manage.py kb_import / kb_export round trips, idempotence, odd inputs and the report."""

import io
import json
import os

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditEvent
from knowledge.importing import import_articles, parse_front_matter
from knowledge.models import Article, ArticleSlug, Category
from tests.factories import CategoryFactory, make_article
from tests.knowledge.conftest import jsonl, run_command

pytestmark = pytest.mark.django_db


# --- reports, hidden files, retried records -------------------------------------------------------


@pytest.mark.parametrize("title", ["Reset  your password", "Reset\tyour password", "Reset your\npassword"])
def test_reimporting_a_title_with_doubled_whitespace_reports_it_unchanged(tmp_path, title):
    """Importing the very same JSON Lines file twice must report the record 'unchanged' the second time
    (the promise: idempotent by slug, 'skipped/unchanged'). Instead a title with two spaces, a tab or a
    line break (stored single-spaced by one_line) is compared raw against the stored one, so every
    re-import reports it 'updated' although nothing was written: a cron job syncing a knowledge base
    reports phantom updates forever, and the counts do not match what happened."""
    source = jsonl(tmp_path / "kb.jsonl", {"slug": "reset", "title": title, "body": "Open the page."})
    assert import_articles(source).created == ["reset"]
    events = AuditEvent.objects.count()
    again = import_articles(source)
    assert AuditEvent.objects.count() == events  # nothing was written ...
    assert (again.updated, again.unchanged) == ([], ["reset"])  # ... yet it says "updated"


def test_reimporting_a_multi_line_excerpt_reports_it_unchanged(tmp_path):
    """An excerpt written over two lines (or with doubled spaces) is stored on one line. Importing the
    same file again must say 'unchanged'; instead it says 'updated' every time, with nothing written."""
    record = {"slug": "vpn", "title": "VPN", "body": "Connect.", "excerpt": "How to connect\nfrom home."}
    source = jsonl(tmp_path / "kb.jsonl", record)
    assert import_articles(source).created == ["vpn"]
    assert Article.objects.get(slug="vpn").excerpt == "How to connect from home."
    events = AuditEvent.objects.count()
    again = import_articles(source)
    assert AuditEvent.objects.count() == events
    assert (again.updated, again.unchanged) == ([], ["vpn"])


def test_a_markdown_folder_with_a_hidden_trash_folder_does_not_import_deleted_notes(tmp_path):
    """Hidden files and folders (.trash of an Obsidian vault, .git, .github issue templates, macOS
    '._name.md' resource forks) are not content: a user importing a folder of notes expects only the
    visible .md files. Instead rglob('*.md') walks into them: deleted notes come back as published
    articles and a GitHub issue template becomes a public KB article."""
    (tmp_path / "intro.md").write_text("---\ntitle: Intro\n---\n\nWelcome.\n", "utf-8")
    (tmp_path / ".trash").mkdir()
    (tmp_path / ".trash" / "old-secret.md").write_text("---\ntitle: Old secret\n---\n\nDeleted.\n", "utf-8")
    (tmp_path / ".github" / "ISSUE_TEMPLATE").mkdir(parents=True)
    (tmp_path / ".github" / "ISSUE_TEMPLATE" / "bug.md").write_text(
        "---\ntitle: Bug report\n---\n\nDescribe the bug.\n", "utf-8"
    )
    (tmp_path / ".draft.md").write_text("---\ntitle: Hidden draft\n---\n\nNot yet.\n", "utf-8")
    report = import_articles(tmp_path)
    assert sorted(Article.objects.values_list("slug", flat=True)) == ["intro"], report


def test_a_macos_resource_fork_file_does_not_fail_the_import(tmp_path):
    """A folder zipped on macOS carries '._intro.md' beside 'intro.md' (binary AppleDouble data).
    Expected: ignored like any hidden file, the import succeeds. Instead it is read as an article, is
    skipped as 'not valid UTF-8' and kb_import exits with an error, so a cron job reports a failure for
    a perfectly good export."""
    (tmp_path / "intro.md").write_text("---\ntitle: Intro\n---\n\nWelcome.\n", "utf-8")
    (tmp_path / "._intro.md").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \xff\xfe")
    out, err = run_command("kb_import", str(tmp_path))
    assert "1 created" in out and err == ""


def test_a_corrected_record_after_a_refused_one_with_the_same_slug_is_imported(tmp_path):
    """A bad record never stops the import, and the reason given must be what happened. When line 1
    is refused (its body is too long) and line 2 is a good record for the same slug, line 2 should be
    imported (nothing was made from line 1). Instead line 2 is skipped as 'names the same article as
    line 1 of this import', although line 1 made no article: nothing is imported, and the reason is
    wrong."""
    source = jsonl(
        tmp_path / "kb.jsonl",
        {"slug": "vpn", "title": "VPN", "body": "x" * 200_001},
        {"slug": "vpn", "title": "VPN", "body": "Connect with the app."},
    )
    report = import_articles(source)
    assert report.created == ["vpn"], report.skipped


def test_categories_made_by_article_records_are_counted_in_the_report(tmp_path):
    """A hand-written file naming a category the knowledge base does not have makes that category (and
    audits it). The summary prints 'categories: N created' for category records; the ones article records
    make are left out, so the report says nothing of the new categories the import added."""
    source = jsonl(
        tmp_path / "kb.jsonl",
        {"slug": "vpn", "title": "VPN", "body": "Connect.", "category": "Network"},
    )
    out, _ = run_command("kb_import", str(source))
    assert Category.objects.filter(name="Network").exists()
    assert "categories: 1 created" in out, out


# --- round trips and odd files ---------------------------------------------------------------------


KEPT = ("slug", "title", "body", "excerpt", "tags", "status", "visibility", "category__slug",
        "category__parent__slug")  # fmt: skip


@pytest.mark.parametrize("name", ["kb.jsonl", "kb-folder"])
def test_round_trip_bodies_tree_tags_and_second_import_unchanged(tmp_path, name):
    root_a = CategoryFactory(name="Setup", slug="setup-a")
    root_b = CategoryFactory(name="Billing", slug="billing")
    same_a = CategoryFactory(name="Windows", slug="windows-setup", parent=root_a)
    same_b = CategoryFactory(name="Windows", slug="windows-billing", parent=root_b)
    deep = CategoryFactory(name="Deep", slug="deep", parent=same_b)
    bodies = {
        "crlf": "Line one  \r\nLine two\twith tab\r\n\r\n    code block",
        "indent": "    indented code\n\tand tab\ntrailing  \nend",
        "dashes": "Intro\n\n---\ntitle: fake\n---\n\nmore",
    }
    make_article(title='Title: with "quotes" and --- dashes', slug="crlf", body=bodies["crlf"],
                 category=same_a, tags='say "hi", c#, it\'s')  # fmt: skip
    make_article(title="Indent", slug="indent", body=bodies["indent"], category=same_b, status="archived",
                 visibility="internal", excerpt="Hand written.")  # fmt: skip
    a = make_article(title="Dashes", slug="dashes", body=bodies["dashes"], category=deep, status="draft")
    from knowledge import services

    services.article_update(a, actor=None, slug="dashes-new")
    before = sorted(Article.objects.values_list(*KEPT))
    call_command("kb_export", str(tmp_path / name), verbosity=0)
    Article.objects.all().delete()
    for category in (deep, same_a, same_b, root_a, root_b):
        category.delete()
    report = import_articles(tmp_path / name)
    assert report.skipped == []
    after = sorted(Article.objects.values_list(*KEPT))
    assert after == before
    assert ArticleSlug.objects.filter(slug="dashes").exists()
    events = AuditEvent.objects.count()
    again = import_articles(tmp_path / name)
    assert again.updated == [] and sorted(again.unchanged) == sorted(s for s, *_ in before)
    assert AuditEvent.objects.count() == events


def test_front_matter_edge_cases():
    assert parse_front_matter("---\ntitle: a: b\n---\n\nx\n") == ({"title": "a: b"}, "x")
    assert parse_front_matter('---\ntitle: "a --- b"\n---\nx') == ({"title": "a --- b"}, "x")
    assert parse_front_matter("---\ntags:\n  - a\n  - 'b,c'\n---\nx")[0] == {"tags": ["a", "b,c"]}
    assert parse_front_matter("---\r\ntitle: x\r\n---\r\n\r\nbody\r\n") == ({"title": "x"}, "body")
    assert parse_front_matter("---\n---\nbody\n") == ({}, "body")
    with pytest.raises(ValueError, match="never ends"):
        parse_front_matter("---\ntitle: x\n\nbody\n")


def test_jsonl_oddities_and_exit_code(tmp_path):
    source = tmp_path / "kb.jsonl"
    source.write_bytes(
        b"\n".join(
            [
                json.dumps({"title": "One", "body": "1"}).encode(),
                b"",
                b"[1]",
                json.dumps({"title": "Two", "body": 2}).encode(),
                json.dumps({"title": "Tri", "body": "3", "tags": 5}).encode(),
                json.dumps({"title": 4, "body": "four"}).encode(),  # last line, no newline
            ]
        )
    )
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):
        call_command("kb_import", str(source), stdout=out, stderr=err)
    assert "2 created, 0 updated, 0 unchanged, 3 skipped" in out.getvalue()
    assert "line 3" in err.getvalue() and "line 4" in err.getvalue() and "line 5" in err.getvalue()
    assert set(Article.objects.values_list("title", flat=True)) == {"One", "4"}


def test_import_audits_creates_and_status_changes(tmp_path):
    source = jsonl(tmp_path / "kb.jsonl", {"slug": "a", "title": "A", "body": "x", "status": "draft"})
    import_articles(source)
    article = Article.objects.get(slug="a")
    assert AuditEvent.objects.filter(object_id=str(article.pk), action="create").exists()
    jsonl(source, {"slug": "a", "title": "A", "body": "x", "status": "published"})
    assert import_articles(source).updated == ["a"]
    assert Article.objects.get(slug="a").status == "published"


def test_symlinked_file_and_non_markdown_files(tmp_path):
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "a.md").write_text("---\ntitle: A\n---\n\nx\n", "utf-8")
    (folder / "notes.txt").write_text("---\ntitle: T\n---\n\nx\n", "utf-8")
    os.symlink(folder / "missing.md", folder / "dangling.md")
    report = import_articles(folder)
    assert report.created == ["a"] and [s for s, _ in report.skipped] == ["dangling.md"]
