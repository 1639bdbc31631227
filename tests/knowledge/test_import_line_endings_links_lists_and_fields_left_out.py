"""manage.py kb_import and kb_export: line endings that are no change, markdown files in any case, links
out of the folder, front matter that is not YAML, titles too long to keep whole, fields a record leaves
out, and round trips into an empty database."""

import io
import json
import os
from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from knowledge import services
from knowledge.models import Article, ArticleRevision, Category
from knowledge.search import search_articles
from tests.factories import CategoryFactory, TeamFactory, make_article, make_supervisor
from tests.knowledge.conftest import jsonl, run_command

pytestmark = pytest.mark.django_db


def md(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def import_quietly(path: Path) -> tuple[str, str, int]:
    """(stdout, stderr, exit code as the shell would see it) of kb_import."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("kb_import", str(path), stdout=out, stderr=err)
    except CommandError as error:
        return out.getvalue(), err.getvalue() + str(error), error.returncode
    return out.getvalue(), err.getvalue(), 0


# --- Line endings, file names, links, front matter, long titles, fields left out -------------------


def test_reimporting_the_same_text_with_crlf_line_endings_is_not_a_change(tmp_path):
    """A markdown folder kept in git is checked out with CRLF on Windows (core.autocrlf) and LF
    elsewhere. The words are the same, so importing it again must report the articles unchanged,
    as the editor does (knowledge/forms.body_as_stored treats CRLF vs LF as no edit, "or an
    imported article saved untouched counts as an edit: a revision, an audit event, its
    verification dropped"). The importer compares the body byte for byte, so the same file with
    other line endings is an "update" of every article: a new revision each, an audit event each,
    and an editor's verification silently dropped."""
    folder = tmp_path / "kb"
    text = "---\ntitle: Reset your password\n---\n\nOpen the sign-in page.\nChoose Forgot password.\n"
    md(folder, "reset-password.md", text)
    out, err, code = import_quietly(folder)
    assert code == 0, err
    article = Article.objects.get(slug="reset-password")
    editor = make_supervisor(TeamFactory())
    services.article_verify(article, actor=editor)
    revisions = article.revisions.count()

    md(folder, "reset-password.md", text.replace("\n", "\r\n"))
    out, err, code = import_quietly(folder)
    assert code == 0, err
    assert "0 updated, 1 unchanged" in out
    article.refresh_from_db()
    assert article.verified_at is not None, "verification dropped though no word changed"
    assert article.revisions.count() == revisions


def test_markdown_files_in_any_case_are_read_and_a_folder_without_any_is_an_error(tmp_path):
    """Files named "Guide.MD" or "faq.markdown" are markdown files as much as "guide.md": read. A folder
    with none at all (the wrong folder) is said to hold none, with a non-zero exit, not reported as
    "0 created, 0 updated, 0 unchanged, 0 skipped" that a script would take for a done import."""
    folder = tmp_path / "kb"
    md(folder, "Guide.MD", "---\ntitle: Guide\n---\n\nRead me.\n")
    md(folder, "faq.markdown", "---\ntitle: FAQ\n---\n\nQuestions.\n")
    out, err, code = import_quietly(folder)
    assert code == 0 and "2 created" in out, (out, err)
    assert set(Article.objects.values_list("slug", flat=True)) == {"Guide", "faq"}
    empty = tmp_path / "empty"
    md(empty, "notes.txt", "Not an article.")
    out, err, code = import_quietly(empty)
    assert code != 0 and "holds no markdown files (.md or .markdown" in err, (out, err)


def test_a_title_longer_than_the_limit_is_reported_not_silently_cut(tmp_path):
    """A title longer than an article's 200 characters cannot be stored whole. The editor refuses it
    with a message; kb_import cuts it at 200 characters without a word in its report, so the end
    of the title (often the part that tells two articles apart) is lost silently. Expected: the
    record skipped with a reason, or imported with a warning naming the record and the cut."""
    long_title = "How to configure " + "very " * 60 + "long settings on the printer"
    assert len(long_title) > 255
    path = jsonl(tmp_path / "a.jsonl", {"title": long_title, "body": "Body."})
    out, err, _code = import_quietly(path)
    stored = Article.objects.values_list("title", flat=True).first()
    assert stored == long_title or "title" in (out + err).lower(), (stored, out, err)


def test_export_to_an_upper_case_jsonl_name_writes_a_jsonl_file(tmp_path):
    """kb_export PATH writes JSON Lines when PATH names a .jsonl file. "KB.JSONL" is that same kind
    of name (kb_import reads it as JSON Lines), yet kb_export makes a folder called KB.JSONL full of
    markdown files, which a user asked for a file does not expect."""
    make_article(title="Printer setup", body="Plug it in.")
    target = tmp_path / "KB.JSONL"
    run_command("kb_export", str(target))
    assert target.is_file()


# --- Round trips, bad records and updates ------------------------------------------------------------


@pytest.mark.parametrize("name", ["export.jsonl", "export-folder"])
def test_round_trip_into_an_empty_database(tmp_path, name):
    billing = CategoryFactory(name="Billing", slug="billing")
    invoices = CategoryFactory(name="Invoices", slug="invoices", parent=billing)
    make_article(
        title="Download an invoice",
        body="# Steps\n\nOpen *Billing*.\n\n    code block",
        category=invoices,
        tags="billing, pdf",
        excerpt="How to get a PDF",
    )
    make_article(title="Internal: refunds", body="Ask finance.", visibility="internal", status="draft")
    make_article(title="Old VPN", body="Use the old client.", status="published")
    services.article_archive(Article.objects.get(title="Old VPN"), actor=None)
    make_article(title="Под заголовком 🔥", body="Текст.", status="review")
    fields = (
        "slug",
        "title",
        "body",
        "excerpt",
        "tags",
        "status",
        "visibility",
        "category__slug",
        "category__parent__slug",
        "published_at",
    )
    before = sorted(Article.objects.values_list(*fields))
    call_command("kb_export", str(tmp_path / name), verbosity=0)
    Article.objects.all().delete()
    Category.objects.filter(parent__isnull=False).delete()
    Category.objects.all().delete()
    out, err, code = import_quietly(tmp_path / name)
    assert code == 0, err
    assert sorted(Article.objects.values_list(*fields)) == before
    out, err, code = import_quietly(tmp_path / name)
    assert code == 0 and "0 created, 0 updated, 4 unchanged, 0 skipped" in out


def test_bad_records_are_skipped_with_reasons_and_the_rest_imported(tmp_path):
    path = tmp_path / "a.jsonl"
    lines = [
        "{not json",
        json.dumps({"body": "no title"}),
        json.dumps({"title": "Empty body", "body": "   "}),
        json.dumps({"title": "Numeric tags", "body": "x", "tags": 5}),
        json.dumps({"title": "Bad status", "body": "x", "status": "hidden"}),
        json.dumps({"title": "Comma tags", "body": "Body", "tags": "vpn, Remote ,vpn"}),
        json.dumps({"title": "!!!", "body": "Bangs"}),
        json.dumps({"title": "打印机", "body": "中文"}),
        json.dumps({"title": "Dup", "body": "one"}),
        json.dumps({"title": "Dup", "body": "two"}),
        json.dumps({"title": "Nested", "body": "x", "category": "A/B"}),
    ]
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n\xff\xfe\r\n")
    out, err, code = import_quietly(path)
    assert code == 1
    for line in (1, 2, 3, 4, 5, 10, 12):
        assert f"skipped line {line}:" in out + err or f"skipped line {line}:" in err, (line, err)
    assert (
        Article.objects.get(title="Comma tags").tags == "vpn, remote"
        or "vpn" in Article.objects.get(title="Comma tags").tags
    )
    assert Article.objects.get(title="!!!").slug.startswith("article-")
    assert Article.objects.get(title="打印机").slug.startswith("article-")
    assert Article.objects.get(title="Dup").body == "one"


def test_update_of_published_article_keeps_revision_audit_and_author(tmp_path):
    author = make_supervisor(TeamFactory())
    article = services.article_create(title="VPN", body="Old words.", actor=author, status="published")
    path = jsonl(tmp_path / "a.jsonl", {"slug": article.slug, "title": "VPN", "body": "New words."})
    events = AuditEvent.objects.count()
    out, _err, code = import_quietly(path)
    assert code == 0 and "1 updated" in out
    article.refresh_from_db()
    assert article.author == author and article.body == "New words."
    assert list(ArticleRevision.objects.filter(article=article).values_list("body", flat=True)) == [
        "New words.",
        "Old words.",
    ]
    assert AuditEvent.objects.count() > events


def test_imported_articles_are_searchable_at_once(tmp_path):
    path = jsonl(tmp_path / "a.jsonl", {"title": "Quokka printer jams", "body": "Open the tray."})
    import_quietly(path)
    assert [hit.article.title for hit in search_articles(AnonymousUser(), "quokka")] == [
        "Quokka printer jams"
    ]


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        call_command("kb_import", str(tmp_path / "nope"))


def test_markdown_bom_crlf_and_not_utf8(tmp_path):
    folder = tmp_path / "kb"
    md(
        folder,
        "a.md",
        "\ufeff---\r\ntitle: Windows file\r\ntags: [a, b]\r\nstatus: draft\r\n---\r\n\r\nLine one\r\n",
    )
    md(folder, "b.md", "---\ntitle: Café\n---\n\nx\n", encoding="latin-1")
    md(folder, "c.md", "---\ntitle: x\nno colon here\n---\n\nx\n")
    _out, err, code = import_quietly(folder)
    assert code == 1
    assert "skipped b.md: not valid UTF-8" in err and "skipped c.md:" in err
    article = Article.objects.get(slug="a")
    assert (article.title, article.tags, article.status) == ("Windows file", "a, b", "draft")


def test_a_symlink_to_a_file_outside_the_folder_is_not_imported(tmp_path):
    """A folder of articles often arrives as an archive from elsewhere (another helpdesk's export,
    a contractor's zip); unzip and tar recreate symbolic links. A link "notes.md" pointing outside
    the folder (to ~/.ssh/id_rsa.md, /etc/..., the server's .env renamed) must not become an
    article: it is skipped with a reason, as other importers refuse entries that resolve outside
    their root. kb_import follows the link and, with the default status, publishes the file's
    contents on the public knowledge base."""
    outside = tmp_path / "private"
    md(outside, "secret.md", "---\ntitle: Server secrets\n---\n\nDB_PASSWORD=hunter2\n")
    folder = tmp_path / "kb"
    md(folder, "ok.md", "---\ntitle: Fine\n---\n\nFine.\n")
    os.symlink(outside / "secret.md", folder / "notes.md")
    out, err, _code = import_quietly(folder)
    assert Article.objects.filter(title="Fine").exists()
    assert not Article.objects.filter(body__contains="hunter2").exists(), (out, err)


def test_front_matter_that_is_not_valid_yaml_is_reported_not_stored_garbled(tmp_path):
    """Front matter is YAML. A list left unclosed ("tags: [vpn, remote") is an error any YAML reader
    (Jekyll, Hugo, Zendesk's importers) reports; kb_import's own reader stores it as the tags
    "[vpn" and "remote" without a word, so the knowledge base gets a tag "[vpn" nobody typed.
    Expected: the file skipped with a reason naming the bad front matter."""
    folder = tmp_path / "kb"
    md(folder, "vpn.md", "---\ntitle: VPN\ntags: [vpn, remote\n---\n\nConnect.\n")
    out, err, _code = import_quietly(folder)
    article = Article.objects.filter(slug="vpn").first()
    assert article is None or "[" not in article.tags, (article.tags, out, err)


def test_a_record_that_leaves_out_category_and_tags_keeps_them(tmp_path):
    """A record that does not name a status, a visibility or an excerpt leaves the article's as they
    are (importing.py: "A record without a status leaves the article's as it is"). Category and
    tags are not treated alike: a JSON Lines record giving only slug, title and a corrected body
    takes the article out of its category and strips every tag, with no word in the report beyond
    "1 updated". A key that is absent should mean "unchanged", as for the other fields; only an
    explicit empty value ("category": null, "tags": []) should clear them."""
    billing = CategoryFactory(name="Billing", slug="billing")
    article = make_article(title="Invoices", body="Old.", category=billing, tags="pdf, billing")
    path = jsonl(tmp_path / "a.jsonl", {"slug": article.slug, "title": "Invoices", "body": "New."})
    _out, err, code = import_quietly(path)
    assert code == 0, err
    article.refresh_from_db()
    assert article.body == "New."
    assert (article.category_id, article.tags) == (billing.pk, "pdf, billing")


def test_status_back_to_draft_is_refused_with_a_reason_and_nothing_changes(tmp_path):
    article = make_article(title="VPN", body="Old words.")
    path = jsonl(
        tmp_path / "a.jsonl", {"slug": article.slug, "title": "VPN", "body": "New.", "status": "draft"}
    )
    _out, err, code = import_quietly(path)
    assert code == 1 and "cannot change from published to draft" in err
    article.refresh_from_db()
    assert (article.status, article.body) == ("published", "Old words.")


def test_tags_only_update_keeps_verification_and_create_is_audited(tmp_path):
    path = jsonl(tmp_path / "a.jsonl", {"slug": "vpn", "title": "VPN", "body": "Connect.", "tags": "a"})
    import_quietly(path)
    article = Article.objects.get(slug="vpn")
    assert AuditEvent.objects.filter(action="create", object_id=str(article.pk)).exists()
    services.article_verify(article, actor=make_supervisor(TeamFactory()))
    jsonl(path, {"slug": "vpn", "title": "VPN", "body": "Connect.", "tags": ["a", "b"]})
    out, _err, code = import_quietly(path)
    assert code == 0 and "1 updated" in out
    article.refresh_from_db()
    assert article.tags == "a, b" and article.verified_at is not None and article.author is None
