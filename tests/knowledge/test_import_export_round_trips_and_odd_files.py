"""manage.py kb_import and kb_export: round trips, idempotent re-imports, odd inputs,
and what the commands say and exit with."""

import errno
import io
import json
import unicodedata
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditEvent
from knowledge import importing, services
from knowledge.importing import import_articles, parse_front_matter
from knowledge.models import Article, ArticleRevision, ArticleSlug, Category
from tests.factories import CategoryFactory, make_article
from tests.knowledge.conftest import jsonl, run_command

pytestmark = pytest.mark.django_db


def _import_with_skips(path) -> tuple[str, str]:
    """kb_import of a file with records it refuses: it imports the rest, and exits non-zero."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match=r"records? skipped"):
        call_command("kb_import", str(path), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _counts() -> tuple[int, int, int]:
    return Article.objects.count(), ArticleRevision.objects.count(), AuditEvent.objects.count()


FIELDS = ("slug", "title", "body", "excerpt", "tags", "status", "visibility", "category__slug",
          "category__parent__slug", "published_at")  # fmt: skip


# --- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["kb.jsonl", "kb-folder"])
def test_round_trip_into_a_fresh_database_keeps_bodies_byte_for_byte(tmp_path, name):
    """Export then import into an empty database reproduces every article exactly: CRLF line ends,
    trailing spaces inside the body (a markdown hard break), non-Latin text and emoji, front-matter-like
    lines in the body, internal drafts, the category tree and the tags."""
    parent = CategoryFactory(name="Network: VPN", slug="network", description="Nets", icon="🌐", position=3)
    child = CategoryFactory(name="Remote / home", slug="remote", parent=parent)
    bodies = [
        "Line one  \r\nLine two\r\n\r\n* item\r\n",
        "Пароль: сбросьте его.\n\n---\ntitle: not front matter\n---\n\n日本語 😀",  # noqa: RUF001
        "    indented code\n\ttab\nend",
        "\ufeffstarts with a BOM character",
    ]
    for number, body in enumerate(bodies):
        make_article(
            title=f"Article {number} “quoted”: ünïcode",
            body=body.rstrip(),
            category=[parent, child, None, child][number],
            tags="vpn, remote work, Ünïcode" if number % 2 else "",
            status=["draft", "review", "published", "archived"][number],
            visibility="internal" if number % 2 else "public",
        )
    before = list(Article.objects.order_by("slug").values_list(*FIELDS))
    tree = list(Category.objects.order_by("slug").values_list("slug", "name", "parent__slug", "icon",
                                                               "description", "position"))  # fmt: skip
    run_command("kb_export", str(tmp_path / name))
    Article.objects.all().delete()
    Category.objects.filter(parent__isnull=False).delete()
    Category.objects.all().delete()
    out, err = run_command("kb_import", str(tmp_path / name))
    assert err == "" and "4 created" in out
    assert list(Article.objects.order_by("slug").values_list(*FIELDS)) == before
    tree_after = Category.objects.order_by("slug").values_list(
        "slug", "name", "parent__slug", "icon", "description", "position"
    )
    assert list(tree_after) == tree


@pytest.mark.parametrize("name", ["kb.jsonl", "kb-folder"])
def test_importing_the_same_export_twice_writes_nothing_the_second_time(tmp_path, name):
    """A second import of the same file reports every record unchanged and adds no article, revision or
    audit event."""
    make_article(title="VPN", body="Connect.", tags="vpn", category=CategoryFactory(name="Net", slug="net"))
    make_article(title="Draft", body="Soon.", status="draft", visibility="internal")
    run_command("kb_export", str(tmp_path / name))
    Article.objects.all().delete()
    import_articles(tmp_path / name)
    counts = _counts()
    report = import_articles(tmp_path / name)
    assert (report.created, report.updated, report.skipped) == ([], [], [])
    assert sorted(report.unchanged) == ["draft", "vpn"]
    assert _counts() == counts


def test_reimporting_a_decomposed_unicode_record_reports_it_unchanged(tmp_path):
    """A file written on macOS spells "é" as "e" plus a combining accent (NFD). The article is stored
    composed (NFC); importing the very same file a second time must report it unchanged, not updated."""
    title = unicodedata.normalize("NFD", "Café résumé")
    body = unicodedata.normalize("NFD", "Crème brûlée recipe.")
    tags = unicodedata.normalize("NFD", "café, crème")
    source = jsonl(tmp_path / "kb.jsonl", {"slug": "cafe", "title": title, "body": body, "tags": tags})
    assert import_articles(source).created == ["cafe"]
    counts = _counts()
    report = import_articles(source)
    assert report.updated == [] and report.unchanged == ["cafe"]
    assert _counts() == counts


def test_a_hand_edited_export_imports_the_same_way_every_time(tmp_path):
    """Export to markdown, edit an article's body in a text editor, import it back: the second import
    of that same edited folder must change nothing (unchanged, no audit event), and the excerpt must
    not flip between the body's start and the stale excerpt line of the file."""
    article = make_article(title="Printer", body="Turn the printer off and on.")
    folder = tmp_path / "kb"
    run_command("kb_export", str(folder))
    file = folder / f"{article.slug}.md"
    head, _, _ = file.read_text("utf-8").partition("\n---\n\n")
    file.write_text(f"{head}\n---\n\nCall the help desk.\n", "utf-8")  # the body, the front matter as it was
    first = import_articles(folder)
    assert first.updated == [article.slug]
    after_first = Article.objects.get(pk=article.pk).excerpt
    events = AuditEvent.objects.count()
    second = import_articles(folder)
    assert second.updated == [] and second.unchanged == [article.slug]
    assert Article.objects.get(pk=article.pk).excerpt == after_first
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize(
    "tags",
    [
        "a" * 39 + " tail, vpn",  # one tag cut at 40 characters: "aaa…a "
        ", ".join(f"tag{number:05d}" for number in range(31)),  # the list cut at 300: ends in ", "
    ],
)
def test_exporting_and_reimporting_into_the_same_database_keeps_cut_tags_unchanged(tmp_path, tags):
    """Tags are cut when stored (40 characters a tag, 300 in all); when a cut lands just after a space
    or a comma, the stored tags must not keep it, or exporting and importing into the same database
    reports the article updated (an audit event) though nothing changed."""
    article = make_article(title="Tags", body="Body.", tags=tags)
    run_command("kb_export", str(tmp_path / "kb.jsonl"))
    events = AuditEvent.objects.count()
    report = import_articles(tmp_path / "kb.jsonl")
    assert report.unchanged == [article.slug], Article.objects.get(pk=article.pk).tags
    assert AuditEvent.objects.count() == events


def test_a_newer_export_after_a_rename_updates_the_article_instead_of_copying_it(tmp_path):
    """Knowledge base B was loaded from an export of A. On A an article is renamed (its old address
    kept as an old slug), and A is exported and imported into B again: B must end with one article,
    at the new address, the old one redirecting - not the old article plus a copy."""
    make_article(title="Reset your password", body="Open the sign-in page.", slug="reset-password")
    run_command("kb_export", str(tmp_path / "first.jsonl"))
    article = Article.objects.get()
    services.article_update(article, slug="password-reset", actor=None)
    run_command("kb_export", str(tmp_path / "second.jsonl"))
    Article.objects.all().delete()
    import_articles(tmp_path / "first.jsonl")  # B as loaded before the rename
    report = import_articles(tmp_path / "second.jsonl")
    assert report.created == [], report
    assert list(Article.objects.values_list("slug", flat=True)) == ["password-reset"]
    assert list(ArticleSlug.objects.values_list("slug", flat=True)) == ["reset-password"]


# --- odd inputs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("tags", ["[vpn, null]", '["vpn", null]', '["vpn", ~]'])
def test_front_matter_list_with_null_does_not_become_the_tag_none(tmp_path, tags):
    """YAML `tags: [vpn, null]` holds one tag and a null: the null must not be stored as a tag
    "none" or "null" (a JSON Lines record with a null tag is refused with a reason, never stored so)."""
    (tmp_path / "a.md").write_text(f"---\ntitle: VPN\ntags: {tags}\n---\n\nConnect.\n", "utf-8")
    report = import_articles(tmp_path)
    stored = Article.objects.get().tag_list if report.created else []
    assert not {"none", "null", "~"} & set(stored), stored


def test_odd_front_matter_and_files_import_or_are_skipped_with_a_reason(tmp_path):
    """A folder with a BOM + CRLF file, quoted colons, comma-string tags, a numeric title, a date title,
    unknown keys, an unknown status, a file without front matter, an empty file, non-UTF-8 bytes,
    nested subfolders and non-.md files: the good ones import, each bad one is skipped with a reason,
    none stops the rest."""
    files = {
        "bom.md": '\ufeff---\r\ntitle: "Colon: inside"\r\ntags: vpn, Remote\r\n---\r\n\r\nBody\r\nline\r\n',
        "number.md": "---\ntitle: 42\nauthor: someone\nweird_key: [1, 2]\n---\n\nThe answer.\n",
        "date.md": "---\ntitle: 2024-05-31\n---\nRelease notes.\n",
        "status.md": "---\ntitle: Odd status\nstatus: hidden\n---\n\nX.\n",
        "nofront.md": "# Just a heading\n\nText.\n",
        "empty.md": "",
        "sub/deeper/nested.md": "---\ntitle: Nested\ncategory: Deep\n---\n\nNested body.\n",
        "readme.txt": "---\ntitle: Not markdown\n---\n\nIgnored.\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, "utf-8")
    (tmp_path / "latin.md").write_bytes(b"---\ntitle: Caf\xe9\n---\n\nx\n")
    (tmp_path / "huge.md").write_text("---\ntitle: Huge\n---\n\n" + "x" * 2_000_000 + "\n", "utf-8")
    out, err = _import_with_skips(tmp_path)
    imported = sorted(Article.objects.values_list("slug", flat=True))
    assert imported == ["bom", "date", "nested", "number"]
    bom = Article.objects.get(slug="bom")
    assert (bom.title, bom.body, bom.tag_list) == ("Colon: inside", "Body\r\nline", ["vpn", "remote"])
    assert Article.objects.get(slug="number").title == "42"
    assert Article.objects.get(slug="date").title == "2024-05-31"
    assert Article.objects.get(slug="nested").category.name == "Deep"
    # Longer than the editor takes: skipped with the reason, not imported to be unsavable there.
    assert "skipped huge.md: " in err and "at most 200,000 characters" in err
    for name in ("status.md", "nofront.md", "empty.md", "latin.md"):
        assert f"skipped {name}: " in err
    assert "unknown status 'hidden'" in err
    assert "readme" not in err and "4 created, 0 updated, 0 unchanged, 5 skipped" in out


def test_jsonl_oddities_are_skipped_with_reasons_and_the_rest_imports(tmp_path):
    """Blank lines are ignored; invalid JSON, non-object lines, a duplicate slug, a too-long excerpt and
    an unknown status are skipped with their line numbers; a title of only "???" or only emoji or CJK
    gets a stable slug; a title past 200 characters is skipped (cut, it would lose its end unsaid); tags
    differing in case are one tag."""
    source = tmp_path / "kb.jsonl"
    lines = [
        json.dumps({"title": "First", "body": "One.", "tags": ["VPN", "vpn", "Vpn "]}),
        "",
        "   ",
        "{not json",
        "[1, 2]",
        '"just a string"',
        json.dumps({"title": "first", "body": "Same slug."}),
        json.dumps({"title": "???", "body": "Questions."}),
        json.dumps({"title": "😀😀", "body": "Emoji."}),
        json.dumps({"title": "密码重置", "body": "CJK."}),
        json.dumps({"title": "L" * 260, "body": "Long."}),
        json.dumps({"title": "Excerpt", "body": "x", "excerpt": "e" * 301}),
        json.dumps({"title": "Status", "body": "x", "status": "deleted"}),
    ]
    source.write_text("\n".join(lines) + "\n", "utf-8")
    out, err = _import_with_skips(source)
    assert Article.objects.get(slug="first").tag_list == ["vpn"]
    assert "skipped line 11: the title has 260 characters; at most 200" in err
    assert not Article.objects.filter(title__startswith="LLL").exists()
    for number in (4, 5, 6, 7, 11, 12, 13):
        assert f"skipped line {number}: " in err
    assert "line 2" not in err and "line 3" not in err
    assert "4 created, 0 updated, 0 unchanged, 7 skipped" in out
    slugs = set(Article.objects.values_list("slug", flat=True))
    report = import_articles(source)
    assert report.created == [] and set(Article.objects.values_list("slug", flat=True)) == slugs


def test_a_category_path_written_with_a_slash_is_one_category_named_so(tmp_path):
    """A category "Billing/Invoices" in a hand-written file: imported consistently (the same category on
    every import), never a crash."""
    source = jsonl(tmp_path / "kb.jsonl", {"title": "A", "body": "x", "category": "Billing/Invoices"},
                    {"title": "B", "body": "y", "category": "billing/invoices"})  # fmt: skip
    assert import_articles(source).skipped == []
    assert import_articles(source).skipped == []
    assert Category.objects.count() == 1
    assert set(Article.objects.values_list("category__name", flat=True)) == {"Billing/Invoices"}


# --- status through the workflow -----------------------------------------------------------------


def test_status_changes_by_import_go_through_the_workflow_services(tmp_path):
    """An archived article republished by import gets a revision, keeps its first published_at and
    leaves an audit event of the status change; an article archived by import leaves one too."""
    article = make_article(title="VPN", body="Connect.", slug="vpn")
    published_at = article.published_at
    source = tmp_path / "kb.jsonl"
    jsonl(source, {"slug": "vpn", "title": "VPN", "body": "Connect.", "status": "archived"})
    events = AuditEvent.objects.count()
    assert import_articles(source).updated == ["vpn"]
    assert Article.objects.get().status == "archived" and AuditEvent.objects.count() == events + 1
    revisions = ArticleRevision.objects.count()
    jsonl(source, {"slug": "vpn", "title": "VPN", "body": "Connect.", "status": "Published"})
    assert import_articles(source).updated == ["vpn"]
    article.refresh_from_db()
    assert (article.status, article.published_at) == ("published", published_at)
    assert ArticleRevision.objects.count() == revisions + 1


def test_a_record_under_an_old_slug_updates_the_renamed_article(tmp_path):
    """A record naming an article by the slug it had before a rename updates that article (no copy at
    the old address), and importing it again is unchanged."""
    article = make_article(title="VPN", body="Connect.", slug="vpn")
    services.article_update(article, slug="vpn-setup", actor=None)
    source = jsonl(tmp_path / "kb.jsonl", {"slug": "vpn", "title": "VPN", "body": "Connect now."})
    assert import_articles(source).updated == ["vpn"]
    assert import_articles(source).unchanged == ["vpn"]
    assert list(Article.objects.values_list("slug", "body")) == [("vpn-setup", "Connect now.")]


# --- the commands --------------------------------------------------------------------------------


def test_kb_import_of_a_missing_path_is_a_command_error(tmp_path):
    """A path that does not exist is an error naming it (exit code 1 from manage.py), not a traceback."""
    with pytest.raises(CommandError, match="does not exist"):
        run_command("kb_import", str(tmp_path / "nowhere.jsonl"))


def test_kb_import_of_an_unreadable_file_is_a_command_error(tmp_path, monkeypatch):
    """A .jsonl file the command may not read (simulated: the tests run as root) is reported as a
    command error naming the file, like a missing one, not a PermissionError traceback."""
    source = jsonl(tmp_path / "kb.jsonl", {"title": "A", "body": "x"})
    real_open = Path.open

    def refusing_open(self, *args, **kwargs):
        if self == source:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refusing_open)
    with pytest.raises(CommandError):
        run_command("kb_import", str(source))


def test_kb_export_warns_of_markdown_files_in_subfolders_that_kb_import_would_read(tmp_path):
    """kb_export warns of .md files in its folder that it did not write, because kb_import would read
    them too. kb_import reads subfolders as well, so a stray file in a subfolder must be named too."""
    make_article(title="VPN", body="Connect.")
    folder = tmp_path / "kb"
    (folder / "old").mkdir(parents=True)
    (folder / "old" / "stray.md").write_text("---\ntitle: Stray\n---\n\nOld.\n", "utf-8")
    _, err = run_command("kb_export", str(folder))
    assert "stray.md" in err


def test_kb_export_includes_internal_and_draft_articles_and_overwrites_its_own_files(tmp_path):
    """The export holds every article (internal, draft, review, archived), and exporting again into
    the same folder rewrites its files in place with the current text."""
    make_article(title="Internal draft", body="Secret.", status="draft", visibility="internal")
    article = make_article(title="Public", body="Old.")
    folder = tmp_path / "kb"
    out, _ = run_command("kb_export", str(folder))
    assert "Exported 2 articles" in out
    assert (folder / "internal-draft.md").exists()
    services.article_update(article, body="New.", actor=None)
    run_command("kb_export", str(folder))
    _, body = parse_front_matter((folder / "public.md").read_text("utf-8"))
    assert body == "New."
    records = [json.loads(line) for line in (folder / importing.CATEGORIES_FILE).read_text().splitlines()]
    assert records == []


def test_kb_export_does_not_write_through_a_symlink_out_of_its_folder(tmp_path):
    """An article's file in the export folder that is a symbolic link (left there by someone with
    access to the folder) is replaced by the export, not written through: a file outside the folder
    must keep its contents."""
    make_article(title="VPN", body="Connect.", slug="vpn")
    outside = tmp_path / "outside.conf"
    outside.write_text("precious settings\n", "utf-8")
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "vpn.md").symlink_to(outside)
    run_command("kb_export", str(folder))
    assert outside.read_text("utf-8") == "precious settings\n"


def test_a_jsonl_export_that_fails_half_way_keeps_the_previous_export(tmp_path, monkeypatch):
    """Written beside the target and renamed over it once complete: the disk full or the database gone
    while the articles are read leaves the good export in place and no temporary file behind."""
    make_article("First article", "Body one.", slug="first")
    make_article("Second article", "Body two.", slug="second")
    target = tmp_path / "kb.jsonl"
    run_command("kb_export", str(target))
    good = target.read_text(encoding="utf-8")
    as_record, calls = importing._as_record, []

    def failing(article, tree):
        calls.append(article.slug)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return as_record(article, tree)

    monkeypatch.setattr(importing, "_as_record", failing)
    with pytest.raises(CommandError, match="Cannot write"):
        run_command("kb_export", str(target))
    assert target.read_text(encoding="utf-8") == good
    assert [path.name for path in tmp_path.iterdir()] == ["kb.jsonl"]


def test_an_import_that_skips_records_exits_non_zero_after_importing_the_rest(tmp_path):
    """`kb_import x && ...` or a cron job must not read a partial import (or one of the wrong file) as
    done: the good records are imported, the bad ones listed, and the command fails."""
    source = tmp_path / "kb.jsonl"
    good = json.dumps({"slug": "good", "title": "Good", "body": "Body."})
    source.write_text(f'not json\n{{"slug": "x"}}\n{good}\n', encoding="utf-8")
    out, err = _import_with_skips(source)
    assert "1 created, 0 updated, 0 unchanged, 2 skipped" in out
    assert err.count("skipped line") == 2
    assert list(Article.objects.values_list("slug", flat=True)) == ["good"]


def test_a_draft_imported_again_with_a_new_title_stays_at_the_records_address(tmp_path):
    """Imports name their articles by address: a draft's does not follow the title there, so the next
    import of the same file finds it where it left it."""
    source = tmp_path / "articles.jsonl"
    record = {"slug": "vpn-draft", "title": "VPN draft", "body": "Steps.", "status": "draft"}
    source.write_text(json.dumps(record) + "\n")
    import_articles(source)
    source.write_text(json.dumps({**record, "title": "Connect to the VPN"}) + "\n")
    assert import_articles(source).updated and Article.objects.get().slug == "vpn-draft"
    assert not import_articles(source).updated and Article.objects.count() == 1
