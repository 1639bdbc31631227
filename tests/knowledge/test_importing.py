"""kb_import and kb_export: idempotent re-imports, status changes, bad records, and exact round trips."""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from knowledge import importing, services
from knowledge.importing import EXPORT_MARKER, export_articles, import_articles, parse_front_matter
from knowledge.models import Article, Category
from tests.factories import CategoryFactory, TeamFactory, make_article, make_supervisor
from tests.knowledge.conftest import jsonl

pytestmark = pytest.mark.django_db


def _record(**fields) -> dict:
    return {"slug": "vpn-help", "title": "VPN help", "body": "Connect first.", **fields}


def test_reimport_with_only_the_tags_changed_updates_the_tags(tmp_path):
    source = tmp_path / "articles.jsonl"
    jsonl(source, _record(tags=["vpn"]))
    import_articles(source)
    jsonl(source, _record(tags=["vpn", "remote"]))
    report = import_articles(source)
    assert report.updated == ["vpn-help"] and report.unchanged == []
    assert Article.objects.get(slug="vpn-help").tag_list == ["vpn", "remote"]


def test_tags_that_clean_to_the_stored_ones_are_unchanged(tmp_path):
    source = tmp_path / "articles.jsonl"
    jsonl(source, _record(tags="vpn, remote"))
    import_articles(source)
    jsonl(source, _record(tags="VPN,  remote , vpn"))
    assert import_articles(source).unchanged == ["vpn-help"]


def test_a_changed_status_goes_through_the_workflow_and_counts_as_updated(tmp_path):
    source = tmp_path / "articles.jsonl"
    jsonl(source, _record(status="draft"))
    import_articles(source)
    jsonl(source, _record(status="published"))
    assert import_articles(source).updated == ["vpn-help"]
    article = Article.objects.get(slug="vpn-help")
    assert article.status == "published" and article.published_at is not None
    assert article.revisions.count() == 1, "publishing keeps a revision, as article_publish does"
    jsonl(source, _record(status="archived"))
    assert import_articles(source).updated == ["vpn-help"]
    assert Article.objects.get(slug="vpn-help").status == "archived"
    assert import_articles(source).unchanged == ["vpn-help"]


def test_a_record_without_a_status_keeps_the_articles_status(tmp_path):
    make_article(title="VPN help", body="Connect first.", slug="vpn-help", status="draft")
    source = tmp_path / "articles.jsonl"
    jsonl(source, _record())
    assert import_articles(source, default_status="published").unchanged == ["vpn-help"]
    assert Article.objects.get(slug="vpn-help").status == "draft"


def test_a_status_no_service_reaches_is_skipped_and_nothing_of_the_record_applies(tmp_path):
    make_article(title="VPN help", body="Connect first.", slug="vpn-help", status="published")
    source = tmp_path / "articles.jsonl"
    jsonl(source, _record(body="Changed text.", category="Network", status="draft"))
    report = import_articles(source)
    assert report.skipped == [("line 1", importing.NO_TRANSITION.format(old="published", new="draft"))]
    article = Article.objects.get(slug="vpn-help")
    assert (article.status, article.body) == ("published", "Connect first.")
    assert not Category.objects.exists(), "the record's savepoint was rolled back"


def test_a_line_that_is_not_utf8_is_skipped_and_the_next_lines_import(tmp_path):
    source = tmp_path / "articles.jsonl"
    good = json.dumps(_record()).encode()
    later = json.dumps(_record(slug="later", title="Later")).encode()
    source.write_bytes(good + b"\n" + b'{"title": "Caf\xe9", "body": "x"}\n' + later + b"\n")
    report = import_articles(source)
    assert report.created == ["vpn-help", "later"]
    assert report.skipped == [("line 2", importing.NOT_UTF8.format(byte=0xE9, offset=14))]


def test_a_nul_character_is_refused_with_a_reason_and_the_rest_import(tmp_path):
    source = tmp_path / "articles.jsonl"
    jsonl(
        source,
        _record(slug="nul-body", body="before\x00after"),
        _record(slug="nul-title", title="Nul\x00title"),
        _record(slug="nul-category", category="Net\x00work"),
        _record(),
    )
    report = import_articles(source)
    assert report.skipped == [
        ("line 1", importing.HAS_NUL.format(name="body")),
        ("line 2", importing.HAS_NUL.format(name="title")),
        ("line 3", importing.HAS_NUL.format(name="category")),
    ]
    assert report.created == ["vpn-help"]


def test_a_record_the_database_refuses_does_not_stop_or_poison_the_rest(tmp_path, monkeypatch):
    create = services.article_create

    def failing_create(**fields):
        article = create(**fields)
        if fields["title"] == "Refused":
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 / 0")  # an error that aborts the transaction
        return article

    monkeypatch.setattr(services, "article_create", failing_create)
    source = tmp_path / "articles.jsonl"
    jsonl(source, _record(slug="refused", title="Refused"), _record())
    report = import_articles(source)
    assert report.created == ["vpn-help"]
    assert report.skipped[0][0] == "line 1" and "division by zero" in report.skipped[0][1]
    assert list(Article.objects.values_list("slug", flat=True)) == ["vpn-help"]


def test_a_markdown_file_that_is_not_utf8_is_skipped_with_a_reason(tmp_path):
    (tmp_path / "latin1.md").write_bytes(b"---\ntitle: Caf\xe9\n---\nBody\n")
    (tmp_path / "fine.md").write_text("---\ntitle: Fine\n---\nBody\n", encoding="utf-8")
    report = import_articles(tmp_path)
    assert report.created == ["fine"]
    assert report.skipped == [("latin1.md", importing.NOT_UTF8.format(byte=0xE9, offset=14))]


def test_front_matter_reads_quoted_values_lists_and_windows_line_ends():
    meta, body = parse_front_matter(
        "---\r\ntitle: 'It''s: [not] a list'\r\ntags: [vpn, \"remote work\"]\r\n"
        'excerpt: "Say \\"hi\\""\r\n---\r\n\r\nLine one\r\nLine two\r\n'
    )
    assert meta == {"title": "It's: [not] a list", "tags": ["vpn", "remote work"], "excerpt": 'Say "hi"'}
    assert body == "Line one\r\nLine two"


TRICKY_TITLES = [
    '[Beta] "Quoted": #1 tip',
    "# Not a heading",
    '"Starts with a quote',
    "Ends with a quote'",
    "Colon: then more: text",
    "Café, naïve \u2028 line separator",
]


@pytest.mark.parametrize("name", ["export.jsonl", "export-folder"])
def test_export_then_import_into_an_empty_database_gives_the_same_articles(tmp_path, name):
    for number, title in enumerate(TRICKY_TITLES):
        make_article(
            title=title,
            body=f"Body {number}\n\n* a list\n\n---\n\nafter a rule",
            category=Category.objects.get_or_create(slug="network", defaults={"name": "Network: VPN"})[0],
            tags="vpn, remote work",
            status=["draft", "review", "published", "archived"][number % 4],
            visibility="internal" if number % 2 else "public",
            excerpt=f"Custom excerpt {number}: [see] #here" if number % 3 else "",
        )
    make_article(title="Plain", body="No category, no tags.")
    fields = ("slug", "title", "body", "category__name", "tags", "status", "visibility", "excerpt")
    before = list(Article.objects.order_by("slug").values_list(*fields))

    call_command("kb_export", str(tmp_path / name), verbosity=0)
    Article.objects.all().delete()
    Category.objects.all().delete()
    report = import_articles(tmp_path / name)

    assert report.skipped == [] and len(report.created) == len(before)
    assert list(Article.objects.order_by("slug").values_list(*fields)) == before
    assert import_articles(tmp_path / name).unchanged == sorted(slug for slug, *_ in before)


def test_the_export_keeps_visibility_and_excerpt(tmp_path):
    article = make_article(title="Staff only", visibility="internal", excerpt="For agents.")
    export_articles(tmp_path / "out.jsonl", [article])
    record = json.loads((tmp_path / "out.jsonl").read_text(encoding="utf-8"))
    assert (record["visibility"], record["excerpt"]) == ("internal", "For agents.")
    export_articles(tmp_path / "md", [article])
    meta, _ = parse_front_matter((tmp_path / "md" / f"{article.slug}.md").read_text(encoding="utf-8"))
    assert (meta["visibility"], meta["excerpt"]) == ("internal", "For agents.")


@pytest.mark.parametrize("name", ["export.jsonl", "export-folder"])
def test_articles_come_back_to_their_own_category_when_names_repeat(tmp_path, name):
    office = CategoryFactory(name="Network", slug="office-network")
    home = CategoryFactory(name="Network", slug="home-network")
    make_article(title="Office VPN", category=office)
    make_article(title="Home router", category=home)
    call_command("kb_export", str(tmp_path / name), verbosity=0)
    Article.objects.all().delete()
    import_articles(tmp_path / name)
    assert Article.objects.get(title="Office VPN").category == office
    assert Article.objects.get(title="Home router").category == home
    assert Category.objects.count() == 2


def test_a_record_without_a_category_slug_finds_the_category_by_its_name(tmp_path):
    passwords = CategoryFactory(name="Passwords", slug="pw")
    source = tmp_path / "articles.jsonl"
    jsonl(source, _record(category="passwords"))
    import_articles(source)
    assert Article.objects.get(slug="vpn-help").category == passwords and Category.objects.count() == 1


def test_an_export_older_than_a_rename_updates_the_renamed_article(tmp_path):
    article = make_article(title="Reset your password", body="Old text")
    old_slug = article.slug
    services.article_update(article, slug="password-reset", actor=None)
    jsonl(tmp_path / "old.jsonl", _record(slug=old_slug, title="Reset your password", body="New text"))
    report = import_articles(tmp_path / "old.jsonl")
    assert (len(report.created), len(report.updated)) == (0, 1)
    article.refresh_from_db()
    assert (article.slug, article.body) == ("password-reset", "New text")
    assert Article.objects.count() == 1


def test_status_and_visibility_are_read_whatever_their_case(tmp_path):
    jsonl(
        tmp_path / "a.jsonl",
        _record(slug="vpn", title="VPN", body="x", status="Draft", visibility="Internal"),
    )
    report = import_articles(tmp_path / "a.jsonl")
    assert not report.skipped
    article = Article.objects.get(slug="vpn")
    assert (article.status, article.visibility) == ("draft", "internal")


def test_a_lone_surrogate_is_refused_with_a_reason_and_the_rest_import(tmp_path, capsys):
    source = tmp_path / "articles.jsonl"
    # json.dumps writes a lone surrogate as the escape \udfff, which json.loads reads back as one.
    jsonl(
        source,
        {"title": "x", "body": "\udfff"},
        _record(slug="bad-title", title="Caf\ud800"),
        _record(slug="bad-category", category="Net\udc00work"),
        _record(slug="bad-excerpt", excerpt="\udfff"),
        _record(slug="bad-tags", tags=["vpn", "re\udfffmote"]),
        _record(),
    )
    with pytest.raises(CommandError, match=r"5 records skipped"):
        call_command("kb_import", str(source))
    output = capsys.readouterr()
    assert output.err.splitlines() == [
        "skipped line 1: " + importing.HAS_SURROGATE.format(name="body", code=0xDFFF),
        "skipped line 2: " + importing.HAS_SURROGATE.format(name="title", code=0xD800),
        "skipped line 3: " + importing.HAS_SURROGATE.format(name="category", code=0xDC00),
        "skipped line 4: " + importing.HAS_SURROGATE.format(name="excerpt", code=0xDFFF),
        "skipped line 5: " + importing.HAS_SURROGATE.format(name="tags", code=0xDFFF),
    ]
    assert "1 created, 0 updated, 0 unchanged, 5 skipped" in output.out
    assert list(Article.objects.values_list("slug", flat=True)) == ["vpn-help"]
    assert not Category.objects.exists()


def test_a_lone_surrogate_in_front_matter_is_refused_with_a_reason_and_the_rest_import(tmp_path):
    (tmp_path / "a-title.md").write_text('---\ntitle: "Caf\\udfff"\n---\nBody\n', encoding="utf-8")
    (tmp_path / "b-category.md").write_text(
        '---\ntitle: Fine\ncategory: "\\ud800"\n---\nBody\n', encoding="utf-8"
    )
    (tmp_path / "c-later.md").write_text("---\ntitle: Later\n---\nBody\n", encoding="utf-8")
    report = import_articles(tmp_path)
    assert report.skipped == [
        ("a-title.md", importing.HAS_SURROGATE.format(name="title", code=0xDFFF)),
        ("b-category.md", importing.HAS_SURROGATE.format(name="category", code=0xD800)),
    ]
    assert report.created == ["c-later"]


def test_a_slug_as_the_site_wrote_it_finds_its_article_again(tmp_path):
    """Slugs made before titles were cut cleanly ("word-word-"), or chosen in the admin
    ("Reset_Password"), are valid addresses: an export of them imports back onto the same articles."""
    ends_in_hyphen = make_article(title="Ends in a hyphen", body="Body.")
    Article.objects.filter(pk=ends_in_hyphen.pk).update(slug="word-word-")
    chosen = make_article(title="Reset your password", body="Body.")
    services.article_update(chosen, slug="Reset_Password", actor=None)
    for out in (tmp_path / "export.jsonl", tmp_path / "folder"):
        call_command("kb_export", str(out), verbosity=0)
        report = import_articles(out)
        assert report.created == []
        assert sorted(Article.objects.values_list("slug", flat=True)) == ["Reset_Password", "word-word-"]


def test_a_long_title_makes_a_slug_without_a_trailing_hyphen():
    title = " ".join(["word"] * 39)  # slugify gives 194 characters; cut at 180 it would end in "-"
    article = make_article(title=title, body="Body.")
    assert len(article.slug) <= 180 and not article.slug.endswith("-")
    again = services.article_create(title=title, body="Again.", actor=None)
    assert again.slug == f"{article.slug}-2"


def test_json_nested_past_pythons_limit_skips_that_record_only(tmp_path):
    source = tmp_path / "articles.jsonl"
    source.write_text(
        json.dumps({"title": "Fine", "body": "Fine."}) + "\n"
        + '{"title": "Deep", "body": ' + "[" * 100_000 + "]" * 100_000 + "}\n"
        + json.dumps({"title": "Also fine", "body": "Fine."}) + "\n"
    )  # fmt: skip
    report = import_articles(source)
    assert sorted(report.created) == ["also-fine", "fine"]
    assert report.skipped == [("line 2", "invalid JSON: nested too deeply")]
    folder = tmp_path / "md"
    folder.mkdir()
    (folder / "deep.md").write_text(
        "---\ntitle: Deep\ntags: " + "[" * 100_000 + "]" * 100_000 + "\n---\nBody.\n"
    )
    assert import_articles(folder).created == ["deep"]  # the odd tags line is read as text


@pytest.mark.parametrize("name", ["Articles", "Search", "Manage", "Suggest"])
def test_a_category_named_like_a_kb_page_gets_a_slug_of_its_own(tmp_path, name):
    """ "Search" is a fine category name, but /kb/search/ is the search page: the new category gets
    another slug, the article is imported, and importing again finds the same category."""
    source = tmp_path / "articles.jsonl"
    jsonl(source, {"title": "Why does search find nothing", "body": "Check the spelling.", "category": name})
    assert import_articles(source).skipped == []
    assert import_articles(source).skipped == []
    category = Article.objects.get().category
    assert (category.name, category.slug) == (name, f"{name.lower()}-category")
    assert Category.objects.count() == 1


def test_a_folder_named_like_a_file_is_walked_and_a_dangling_link_is_skipped_with_the_reason(tmp_path):
    article = "---\ntitle: {title}\n---\n\nBody of {title}.\n"
    (tmp_path / "drafts.md").mkdir()
    (tmp_path / "drafts.md" / "inner.md").write_text(article.format(title="Inner"))
    (tmp_path / "good.md").write_text(article.format(title="Good"))
    (tmp_path / "gone.md").symlink_to(tmp_path / "nowhere.md")
    report = import_articles(tmp_path)
    assert sorted(report.created) == ["good", "inner"]
    assert report.skipped == [("gone.md", "cannot be read: No such file or directory")]


def test_front_matter_reads_yaml_block_lists_and_nulls(tmp_path):
    """Files written for static-site generators import: tags as "- item" lines under their key, and a
    category of null or ~ meaning none (not a category named "null")."""
    for name, category in (("a.md", "null"), ("b.md", "~")):
        head = f'title: VPN {name}\ncategory: {category}\ntags:\n  - vpn\n  - "remote work"'
        (tmp_path / name).write_text(f"---\n{head}\n---\n\nConnect.\n", encoding="utf-8")
    report = import_articles(tmp_path)
    assert report.skipped == [] and len(report.created) == 2
    assert {tuple(article.tag_list) for article in Article.objects.all()} == {("vpn", "remote work")}
    assert not Category.objects.exists()
    assert set(Article.objects.values_list("category", flat=True)) == {None}


def test_category_parents_named_without_slugs_place_the_category_under_them(tmp_path):
    """category_parents by name alone (a file written by hand) files the category under them, made if
    missing, root first; a second record naming the same path finds the same categories."""
    source = tmp_path / "articles.jsonl"
    jsonl(
        source,
        _record(category="Invoices", category_parents=["Billing"]),
        _record(slug="refunds", title="Refunds", category="Invoices", category_parents=["billing"]),
    )
    assert import_articles(source).skipped == []
    invoices = Category.objects.get(name="Invoices")
    assert invoices.parent.name == "Billing" and invoices.parent.parent is None
    assert Category.objects.count() == 2
    assert set(Article.objects.values_list("category", flat=True)) == {invoices.pk}


def test_exporting_again_into_the_same_folder_removes_the_files_of_articles_gone_since(tmp_path):
    """A second export into an export's folder leaves the folder as the database is now: the files of a
    deleted and a renamed article go, so importing the folder brings neither back. A folder holding .md
    files no export wrote keeps them, and the command says so."""
    stays, renamed, deleted = (make_article(title=title) for title in ("Stays", "Old name", "Soon deleted"))
    folder = tmp_path / "kb"
    call_command("kb_export", str(folder), stdout=io.StringIO())
    services.article_update(renamed, title="New name", slug="new-name", actor=make_supervisor(TeamFactory()))
    Article.objects.filter(pk=deleted.pk).delete()
    out = io.StringIO()
    call_command("kb_export", str(folder), stdout=out)
    assert sorted(file.name for file in folder.glob("*.md")) == sorted([f"{stays.slug}.md", "new-name.md"])
    assert "Removed 2 files" in out.getvalue()
    Article.objects.all().delete()
    import_articles(folder)
    assert sorted(Article.objects.values_list("title", flat=True)) == ["New name", "Stays"]

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.md").write_text("---\ntitle: Mine\n---\n\nKeep me.\n", encoding="utf-8")
    err = io.StringIO()
    call_command("kb_export", str(mine), stdout=io.StringIO(), stderr=err)
    assert (mine / "notes.md").exists() and "notes.md" in err.getvalue()


def test_a_crafted_marker_cannot_make_kb_export_delete_files_outside_its_folder(tmp_path):
    """The marker lists the files the last export wrote; a marker naming ../x.md, a subfolder's file or
    an absolute path makes kb_export delete nothing outside the folder's own top-level .md files."""
    make_article(title="Printer guide", body="Turn it off and on.")
    outside = tmp_path / "precious.md"
    outside.write_text("keep me", encoding="utf-8")
    folder = tmp_path / "kb"
    (folder / "sub").mkdir(parents=True)
    nested = folder / "sub" / "nested.md"
    nested.write_text("keep me too", encoding="utf-8")
    (folder / EXPORT_MARKER).write_text(
        "\n".join(["header", "../precious.md", "sub/nested.md", str(outside), "sub"]) + "\n", encoding="utf-8"
    )
    export_articles(folder, Article.objects.all())
    assert outside.exists() and nested.exists()


@pytest.mark.django_db(transaction=True)
def test_a_marker_that_is_not_utf8_names_no_file_and_the_export_goes_on(tmp_path):
    make_article(title="Printer guide", body="Turn it off and on.")
    folder = tmp_path / "kb"
    folder.mkdir()
    keep = folder / "notes.md"
    keep.write_text("someone's own notes", encoding="utf-8")
    (folder / EXPORT_MARKER).write_bytes(b"header\n\xff\xfenotes.md\n")
    report = export_articles(folder, Article.objects.all())
    assert report.count == 1 and keep.exists() and (folder / "printer-guide.md").exists()


def test_a_time_before_1900_is_refused_with_a_reason(tmp_path, client):
    """A published_at that falls before year 1 in UTC (0001-01-01T00:00+14:00) would be stored and then
    break every read of the article: it is skipped with the reason, and the next record imports."""
    source = tmp_path / "articles.jsonl"
    jsonl(source, _record(published_at="0001-01-01T00:00:00+14:00"), _record(slug="later", title="Later"))
    report = import_articles(source)
    assert report.created == ["later"]
    assert report.skipped == [("line 1", importing.NOT_A_TIME.format(name="published_at"))]


@pytest.mark.parametrize("title", [["Reset your password"], {"en": "Reset"}])
def test_a_title_that_is_not_text_is_refused_with_a_reason(tmp_path, title):
    """A title given as a list or an object is skipped with the reason, not stored as its Python spelling
    ("['Reset your password']"); a number reads as its digits."""
    source = tmp_path / "articles.jsonl"
    jsonl(source, _record(title=title), _record(slug="year", title=2024))
    report = import_articles(source)
    assert report.skipped == [("line 1", importing.NOT_TEXT.format(name="title"))]
    assert list(Article.objects.values_list("title", flat=True)) == ["2024"]


def test_a_body_longer_than_the_editor_takes_is_skipped_with_the_reason(tmp_path):
    """Imported, a 205,000-character text could never be saved back from the editor, not even a title fix:
    every way in shares the limit (services.body_length_problem)."""
    source = tmp_path / "articles.jsonl"
    jsonl(source, _record(body="x" * 205_000), _record(slug="short", title="Short"))
    report = import_articles(source)
    assert [slug for slug in Article.objects.values_list("slug", flat=True)] == ["short"]
    assert len(report.skipped) == 1 and "at most 200,000 characters" in report.skipped[0][1]


def test_a_text_stored_before_the_limit_keeps_its_article_editable(tmp_path):
    article = make_article(title="Legacy", body="Short for now.")
    Article.objects.filter(pk=article.pk).update(body="y" * 210_000)
    article.refresh_from_db()
    services.article_update(article, actor=None, title="Legacy, renamed", body=article.body)
    assert Article.objects.get(pk=article.pk).title == "Legacy, renamed"
