"""Knowledge base: host names, addresses and versions found as written, archiving from the start, votes
of deleted accounts, minimal and out-of-order category records, non-text tags, and round trips."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.urls import reverse

from audit.models import AuditEvent
from knowledge import services
from knowledge.importing import NOT_A_TIME, import_articles
from knowledge.models import Article, ArticleRevision, Category
from knowledge.search import search_articles
from tests.factories import (
    CategoryFactory,
    make_agent,
    make_article,
    make_customer,
    make_supervisor,
)
from tests.knowledge.conftest import jsonl

pytestmark = pytest.mark.django_db


def _titles(user, query):
    return [hit.article.title for hit in search_articles(user, query)]


# --- search -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "query"),
    [
        ("Point your client at gw7.corp-example.net before you sign in.", "gw7.corp-example.net"),
        ("Write to helpdesk-team@acme-mail.org with the invoice number.", "helpdesk-team@acme-mail.org"),
        ("The crash was fixed in release 4.2.17 of the desktop client.", "4.2.17"),
        ("Delete the file settings.ini and start again.", "settings.ini"),
    ],
)
def test_a_host_name_email_version_or_file_name_is_found_as_written(body, query):
    """A reader who pastes a host name, address, version or file name that an article quotes finds it:
    PostgreSQL indexes "gw7.corp-example.net" as one token, and the search must not split the question
    where the index did not."""
    make_article("Remote gateway notes", body=body)
    make_article("Unrelated page", body="Choose the dark theme.")
    assert _titles(AnonymousUser(), query)[:1] == ["Remote gateway notes"]


@pytest.mark.parametrize(
    ("title", "query"),
    [
        ("Как сбросить пароль", "пароль"),
        ("Как сбросить пароль", "ПАРОЛЬ"),
        ("Κωδικός πρόσβασης", "κωδικός"),
        ("إعادة تعيين كلمة المرور", "المرور"),
        ("Как сбросить пароль", "паро"),
    ],
)
def test_non_latin_questions_find_their_article(title, query):
    """Questions in Cyrillic, Greek and Arabic find the article written in that script (whole words, any
    case, and a word half typed)."""
    make_article(title, body=title + ".")
    make_article("Unrelated page", body="Choose the dark theme.")
    assert _titles(AnonymousUser(), query) == [title]


# --- slugs --------------------------------------------------------------------------------------


def test_renaming_back_to_an_earlier_slug_serves_it_and_redirects_the_other(client):
    """A→B→A: the article answers at A again and B (now an old slug) redirects there."""
    article = make_article("Reset your password")
    original = article.slug
    article = services.article_update(article, slug="password-reset", actor=None)
    article = services.article_update(article, slug=original, actor=None)
    assert client.get(reverse("knowledge:article", args=[original])).status_code == 200
    response = client.get(reverse("knowledge:article", args=["password-reset"]))
    assert response.status_code == 301 and response["Location"].endswith(f"/{original}/")


# --- lifecycle and permissions ------------------------------------------------------------------


def test_an_agent_who_may_not_archive_cannot_create_an_article_already_archived():
    """Archiving needs the publish permission; creating an article straight into "archived" must not
    get around it (article_create checks only "published")."""
    agent = make_agent()
    with pytest.raises(PermissionDenied):
        services.article_create(title="Old notes", body="Text.", actor=agent, status="archived")


def test_archived_articles_and_their_titles_stay_out_of_customer_pages(client):
    """An archived article: 404 at its address, absent from search, related lists, the category page and
    the home page's popular list."""
    category = CategoryFactory(name="Printers", slug="printers")
    make_article("Printer jams", body="Open the tray.", category=category)
    make_article("Printer firmware secrets", body="Flash it.", category=category, status="archived")
    make_article("Printer internal escalation", body="Call L2.", category=category, visibility="internal")
    client.force_login(make_customer())
    pages = [
        client.get(reverse("knowledge:home")),
        client.get(reverse("knowledge:category", args=["printers"])),
        client.get(reverse("knowledge:article", args=["printer-jams"])),
        client.get(reverse("knowledge:search"), {"q": "printer"}),
    ]
    for page in pages:
        text = page.content.decode()
        assert page.status_code == 200
        assert "firmware secrets" not in text and "internal escalation" not in text


# --- votes ----------------------------------------------------------------------------------------


def test_a_deleted_voters_vote_no_longer_counts():
    """The counters are derived from the votes: when a voter's account is deleted, so is their vote,
    and the counters follow."""
    article = make_article()
    customer = make_customer()
    services.article_vote(article, helpful=True, user=customer)
    customer.delete()
    article.refresh_from_db()
    assert article.helpful_count == 0


# --- import / export --------------------------------------------------------------------------------


def test_a_minimal_category_record_imports(tmp_path):
    """A hand-written category record with a slug and a name (no description, icon or position) makes the
    category; the optional fields take their defaults."""
    source = tmp_path / "kb.jsonl"
    jsonl(
        source,
        {"kind": "category", "slug": "billing", "name": "Billing"},
        {"slug": "refunds", "title": "Refunds", "body": "Ask us.", "category_slug": "billing"},
    )
    report = import_articles(source)
    assert report.skipped == []
    assert Category.objects.get(slug="billing").name == "Billing"


def test_a_category_record_before_its_parent_still_lands_under_it_or_is_reported(tmp_path):
    """A category record naming a parent that comes later in the file is not silently put at the top of
    the tree: it ends under its parent, or the report says why not."""
    source = tmp_path / "kb.jsonl"
    child = {"kind": "category", "slug": "invoices", "name": "Invoices", "parent_slug": "billing",
             "description": "", "icon": "", "position": 0}  # fmt: skip
    parent = {"kind": "category", "slug": "billing", "name": "Billing", "parent_slug": None,
              "description": "", "icon": "", "position": 0}  # fmt: skip
    jsonl(source, child, parent)
    report = import_articles(source)
    invoices = Category.objects.get(slug="invoices")
    assert (invoices.parent is not None and invoices.parent.slug == "billing") or report.skipped


@pytest.mark.parametrize("name", ["kb.jsonl", "kb-folder"])
def test_import_export_import_changes_nothing(tmp_path, name):
    """Importing an export of what was imported writes nothing: no update, no revision, no audit event,
    no new updated_at, for every status and visibility and a categorised tree."""
    billing = CategoryFactory(name="Billing", slug="billing", description="Money", icon="💶", position=2)
    invoices = CategoryFactory(name="Invoices", slug="invoices", parent=billing)
    make_article("Refunds", body="# Refunds\n\nAsk **us**.", category=invoices, tags="money, refund")
    make_article("Internal notes", body="Call L2.", visibility="internal", category=billing)
    make_article("Draft thing", body="Soon.", status="draft", excerpt="Written excerpt")
    archived = make_article("Old thing", body="Gone.")
    services.article_archive(archived, actor=None)
    review = make_article("Review thing", body="Check me.", status="draft")
    services.article_submit_for_review(review, actor=None)
    renamed = make_article("Renamed", body="Moved.")
    services.article_update(renamed, slug="renamed-now", actor=None)
    path = tmp_path / name
    call_command("kb_export", str(path), verbosity=0)
    stamps = dict(Article.objects.values_list("slug", "updated_at"))
    revisions, events = ArticleRevision.objects.count(), AuditEvent.objects.count()
    report = import_articles(path)
    assert report.created == [] and report.updated == [] and report.skipped == []
    assert report.categories_created == [] and report.categories_updated == []
    assert dict(Article.objects.values_list("slug", "updated_at")) == stamps
    assert ArticleRevision.objects.count() == revisions and AuditEvent.objects.count() == events


def test_tags_that_are_not_text_are_refused_with_a_reason_not_stored_as_python_text(tmp_path):
    """A record whose tags are an object, or a list holding numbers or nulls, is skipped with a reason
    (as old_slugs are); it must not become a tag reading "{'a': 1}" or "None"."""
    source = tmp_path / "kb.jsonl"
    jsonl(
        source,
        {"title": "One", "body": "First."},
        {"title": "Three", "body": "Third.", "tags": {"a": 1}},
        {"title": "Four", "body": "Fourth.", "tags": [1, None]},
        {"title": "Five", "body": "Fifth."},
    )
    report = import_articles(source)
    assert sorted(report.created) == ["five", "one"]
    assert [where for where, _ in report.skipped] == ["line 2", "line 3"]


# --- editor pages -------------------------------------------------------------------------------


def test_the_review_queue_shows_an_editor_every_article_in_review_and_nothing_else(client):
    """/kb/manage/?status=review lists every author's articles awaiting review, and only those."""
    one, two = make_agent(), make_agent()
    first = services.article_create(title="Alpha waiting", body="A.", actor=one)
    services.article_submit_for_review(first, actor=one)
    second = services.article_create(title="Beta waiting", body="B.", actor=two)
    services.article_submit_for_review(second, actor=two)
    services.article_create(title="Gamma drafting", body="C.", actor=two)
    make_article("Delta published")
    client.force_login(make_supervisor())
    page = client.get(reverse("knowledge:manage_list"), {"status": "review"}).content.decode()
    assert "Alpha waiting" in page and "Beta waiting" in page
    assert "Gamma drafting" not in page and "Delta published" not in page


@pytest.mark.parametrize("form", ["jsonl", "folder"])
def test_an_articles_dates_survive_an_export_and_an_import_into_another_knowledge_base(tmp_path, form):
    """Moved to a new site by kb_export and kb_import, an article keeps when it was published and last
    updated: readers are not told a years-old answer is news. An update by a later import keeps the
    article's own dates."""
    from knowledge.importing import export_articles

    article = make_article("Reset your password", body="Use the link.")
    published, updated = datetime(2021, 3, 4, 9, 30, tzinfo=UTC), datetime(2023, 7, 8, 16, 0, tzinfo=UTC)
    # Its words last changed in 2023; archived and published again since (its updated_at, today).
    Article.objects.filter(pk=article.pk).update(published_at=published, content_updated_at=updated)
    target = tmp_path / ("kb.jsonl" if form == "jsonl" else "kb")
    export_articles(target, Article.objects.all())
    Article.objects.all().delete()
    assert import_articles(target).created == ["reset-your-password"]
    moved = Article.objects.get(slug="reset-your-password")
    assert (moved.published_at, moved.updated_at, moved.last_updated) == (published, updated, updated)
    assert import_articles(target).unchanged == ["reset-your-password"]


def test_a_date_that_is_not_a_past_time_is_refused_with_a_reason(tmp_path):
    source = tmp_path / "kb.jsonl"
    jsonl(
        source,
        {"title": "Later", "body": "Text.", "published_at": "2999-01-01T00:00:00+00:00"},
        {"title": "Garbled", "body": "Text.", "updated_at": "last tuesday"},
    )
    report = import_articles(source)
    assert report.created == []
    assert [reason for _, reason in report.skipped] == [
        NOT_A_TIME.format(name="published_at"),
        NOT_A_TIME.format(name="updated_at"),
    ]
