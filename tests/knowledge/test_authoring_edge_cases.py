"""Regressions found in review: the editor's excerpt, stale edits, restore messages, slugs, votes, saves
that change nothing."""

import re
from datetime import UTC, datetime
from html import unescape

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from audit.models import AuditEvent
from knowledge import services, views_manage
from knowledge.models import Article, ArticleFeedback
from tests.admin_pages import post_change
from tests.factories import TeamFactory, article_form_data, loaded, make_agent, make_article, make_supervisor

pytestmark = pytest.mark.django_db


def test_clearing_the_excerpt_in_the_editor_takes_the_start_of_the_body(client):
    editor = make_supervisor(TeamFactory())
    article = make_article(title="Excerpts", body="The first words of the article.")
    client.force_login(editor)
    response = client.post(
        reverse("knowledge:manage_edit", args=[article.slug]), article_form_data(article, excerpt="")
    )
    assert response.status_code == 302
    assert Article.objects.get(pk=article.pk).excerpt == "The first words of the article."


def test_editing_the_body_refreshes_an_automatic_excerpt_but_keeps_a_written_one(client):
    editor = make_supervisor(TeamFactory())
    automatic = make_article(title="Automatic", body="Old text.")
    written = make_article(title="Written", body="Old text.", excerpt="A summary I wrote.")
    client.force_login(editor)
    for article in (automatic, written):
        url = reverse("knowledge:manage_edit", args=[article.slug])
        assert client.post(url, article_form_data(article, body="New text.")).status_code == 302
    assert Article.objects.get(pk=automatic.pk).excerpt == "New text."
    assert Article.objects.get(pk=written.pk).excerpt == "A summary I wrote."


@pytest.mark.parametrize("invisible", [" \u200b\u2800\u200b ", "\u2060\ufeff"])
def test_an_excerpt_that_shows_nothing_takes_the_start_of_the_body(client, invisible):
    """Zero-width spaces (or a blank Braille pattern) would be a blank summary on the category page."""
    editor = make_supervisor(TeamFactory())
    client.force_login(editor)
    created = {"title": "Printer set-up", "body": "Open the printer's menu.", "visibility": "public"}
    assert client.post(reverse("knowledge:manage_new"), {**created, "excerpt": invisible}).status_code == 302
    article = Article.objects.get(title="Printer set-up")
    assert article.excerpt == "Open the printer's menu."
    written = make_article(title="Written", body="Old text.", excerpt="A summary I wrote.")
    url = reverse("knowledge:manage_edit", args=[written.slug])
    assert client.post(url, article_form_data(written, excerpt=invisible)).status_code == 302
    assert Article.objects.get(pk=written.pk).excerpt == "Old text."


def test_a_written_excerpt_is_stored_on_one_line_without_direction_overrides(client):
    """A one-line summary, stored as a title is: "Download \u202efdp.exe" would read "Download exe.pdf"."""
    editor = make_supervisor(TeamFactory())
    client.force_login(editor)
    created = {"title": "Downloads", "body": "Where files are.", "visibility": "public"}
    typed = {**created, "excerpt": "Download \u202efdp.exe\r\nnow"}
    assert client.post(reverse("knowledge:manage_new"), typed).status_code == 302
    assert Article.objects.get(title="Downloads").excerpt == "Download fdp.exe now"
    written = make_article(title="Written", body="Old text.", excerpt="A summary I wrote.")
    url = reverse("knowledge:manage_edit", args=[written.slug])
    assert client.post(url, article_form_data(written, excerpt="Two\r\nlines \u202eand")).status_code == 302
    assert Article.objects.get(pk=written.pk).excerpt == "Two lines and"


def test_saving_from_a_stale_editor_page_is_refused_and_keeps_the_text(client):
    editor, other = make_supervisor(TeamFactory()), make_supervisor(TeamFactory())
    article = make_article(title="Shared", body="Original.")
    client.force_login(editor)
    url = reverse("knowledge:manage_edit", args=[article.slug])
    page = client.get(url).content.decode()
    assert 'name="loaded_at"' in page
    loaded_at = Article.objects.get(pk=article.pk).updated_at.isoformat()
    services.article_update(article, body="Someone else's change.", actor=other)
    response = client.post(url, article_form_data(article, body="My change.", loaded_at=loaded_at))
    assert response.status_code == 422
    assert services.STALE_ARTICLE in response.content.decode()
    assert "My change." in response.content.decode()
    assert Article.objects.get(pk=article.pk).body == "Someone else's change."
    fresh = Article.objects.get(pk=article.pk).updated_at.isoformat()
    assert client.post(url, article_form_data(article, body="My change.", loaded_at=fresh)).status_code == 302
    assert Article.objects.get(pk=article.pk).body == "My change."


def test_an_empty_post_to_the_editor_is_422_with_the_errors(client):
    client.force_login(make_agent(TeamFactory()))
    response = client.post(reverse("knowledge:manage_new"), {})
    assert response.status_code == 422 and "This field is required." in response.content.decode()


def test_restore_message_shows_the_time_in_the_users_time_zone(client):
    editor = make_supervisor(TeamFactory(), timezone="Asia/Tokyo")
    article = make_article(title="Versioned", body="First")
    revision = article.revisions.get()
    revision.created_at = datetime(2026, 1, 5, 23, 30, tzinfo=UTC)
    revision.save()
    services.article_update(article, body="Second", actor=editor)
    client.force_login(editor)
    response = client.post(
        reverse("knowledge:manage_restore", args=[article.slug, revision.pk]), loaded(article)
    )
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Restored the version of 6 Jan 2026, 08:30."
    ]


def test_a_new_article_on_an_old_address_keeps_its_own_redirect_after_a_rename(client):
    first = make_article(title="First", slug="shared-address")
    services.article_update(first, slug="first-moved", actor=None)
    second = make_article(title="Second", slug="shared-address")
    services.article_update(second, slug="second-moved", actor=None)
    response = client.get(reverse("knowledge:article", args=["shared-address"]))
    assert response.status_code == 301 and response["Location"].endswith("/kb/articles/second-moved/")


@pytest.mark.parametrize("helpful", ["", "maybe", None])
def test_a_vote_without_a_yes_or_no_is_refused(client, helpful):
    article = make_article()
    data = {} if helpful is None else {"helpful": helpful}
    response = client.post(reverse("knowledge:vote", args=[article.slug]), data)
    assert response.status_code == 400
    assert not ArticleFeedback.objects.exists()


def test_unpublished_articles_offer_no_vote_to_editors(client):
    client.force_login(make_supervisor(TeamFactory()))
    draft = make_article(title="Draft", status="draft")
    page = client.get(reverse("knowledge:article", args=[draft.slug])).content.decode()
    assert "Was this article helpful?" not in page


def test_restoring_a_revision_keeps_a_written_excerpt_and_refreshes_an_automatic_one(client):
    editor = make_supervisor(TeamFactory())
    written = make_article(title="Written", body="First text.")
    automatic = make_article(title="Automatic", body="First text.")
    client.force_login(editor)
    edit = reverse("knowledge:manage_edit", args=[written.slug])
    assert client.post(edit, article_form_data(written, excerpt="Hand-written summary")).status_code == 302
    for article in (Article.objects.get(pk=written.pk), automatic):
        url = reverse("knowledge:manage_edit", args=[article.slug])
        assert client.post(url, article_form_data(article, body="Second text.")).status_code == 302
        first = article.revisions.order_by("created_at", "pk").first()
        client.post(reverse("knowledge:manage_restore", args=[article.slug, first.pk]), loaded(article))
    # Revisions keep no excerpt: the one the editor wrote stays; one taken from the body follows it.
    restored = Article.objects.get(pk=written.pk)
    assert (restored.body, restored.excerpt) == ("First text.", "Hand-written summary")
    assert Article.objects.get(pk=automatic.pk).excerpt == "First text."


def test_agents_see_a_published_article_read_only_and_the_server_still_refuses_a_save(client):
    author = make_agent(TeamFactory())
    article = services.article_create(title="Printing", body="Old.", status="draft", actor=author)
    services.article_update(article, body="Second.", actor=None)  # a draft edit keeps no revision
    services.article_publish(article, actor=None)
    client.force_login(author)
    url = reverse("knowledge:manage_edit", args=[article.slug])
    page = client.get(url).content.decode()
    assert "Read only: you may not change this article." in page
    assert ">Save</button>" not in page and ">Preview</button>" not in page
    assert "Restore this version" not in page
    assert re.search(r'<textarea name="body"[^>]* readonly', page)
    assert re.search(r'<select name="visibility"[^>]* disabled', page)
    response = client.post(url, article_form_data(article, body="Agent's change."))
    assert response.status_code == 422 and "Agent&#x27;s change." in response.content.decode()
    assert services.NOT_YOUR_DRAFT in response.content.decode()
    assert Article.objects.get(pk=article.pk).body == "Second."
    draft = services.article_create(title="Mine", body="Text.", status="draft", actor=author)
    page = client.get(reverse("knowledge:manage_edit", args=[draft.slug])).content.decode()
    assert ">Save</button>" in page and "Read only" not in page and "readonly" not in page


def test_preview_without_javascript_shows_the_text_as_typed_and_saves_nothing(client):
    editor = make_supervisor(TeamFactory())
    article = make_article(title="Preview me", body="Old text.")
    client.force_login(editor)
    url = reverse("knowledge:manage_edit", args=[article.slug])
    page = client.get(url).content.decode()
    # A real submit button, so the browser posts the form here when htmx is not running.
    assert re.search(r'<button type="submit" name="preview" value="1"[^>]*hx-post=', page)
    loaded_at = Article.objects.get(pk=article.pk).updated_at.isoformat()
    services.article_update(article, tags="meanwhile", actor=editor)  # someone else saves meanwhile
    data = article_form_data(article, title="", body="New **bold** text.", loaded_at=loaded_at, preview="1")
    response = client.post(url, data)
    page = response.content.decode()
    assert response.status_code == 200
    assert '<div id="preview" class="message-body" aria-live="polite"><p>New <strong>bold</strong>' in page
    assert "New **bold** text.</textarea>" in page and "This field is required." not in page
    # The page keeps the time the editor was opened: the next save is still checked against it.
    assert f'name="loaded_at" value="{loaded_at}"' in page
    stored = Article.objects.get(pk=article.pk)
    assert (stored.title, stored.body, stored.revisions.count()) == ("Preview me", "Old text.", 1)
    new = client.post(reverse("knowledge:manage_new"), {"title": "Fresh", "body": "*Hi*", "preview": "1"})
    assert new.status_code == 200 and "<em>Hi</em>" in new.content.decode()
    assert not Article.objects.filter(title="Fresh").exists()


def _written(article: Article) -> tuple[int, int]:
    """How many revisions the article has and how many audit events name it."""
    from audit.models import AuditEvent

    events = AuditEvent.objects.filter(object_id=str(article.pk), object_repr=article.title)
    return article.revisions.count(), events.count()


def test_saving_a_published_article_unchanged_writes_nothing():
    editor = make_supervisor(TeamFactory())
    article = make_article(title="Unchanged", body="Same text.", tags="vpn, remote", excerpt="Mine.")
    before, updated_at = _written(article), Article.objects.get(pk=article.pk).updated_at
    same = {name: getattr(article, name) for name in ("title", "body", "excerpt", "visibility", "slug")}
    services.article_update(article, actor=editor, category=None, tags="VPN,  remote", **same)
    assert _written(article) == before
    stored = Article.objects.get(pk=article.pk)
    assert (stored.updated_at, stored.updated_by) == (updated_at, None)
    services.article_update(article, actor=editor, body="New text.")
    assert _written(article) == (before[0] + 1, before[1] + 1)


def test_the_editor_says_nothing_changed_when_nothing_did(client):
    editor = make_supervisor(TeamFactory())
    article = make_article(title="Unchanged", body="Same text.")
    before = _written(article)
    client.force_login(editor)
    url = reverse("knowledge:manage_edit", args=[article.slug])
    loaded_at = Article.objects.get(pk=article.pk).updated_at.isoformat()
    response = client.post(url, article_form_data(article, loaded_at=loaded_at))
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [views_manage.NOTHING_CHANGED]
    assert _written(article) == before
    assert views_manage.NOTHING_CHANGED in client.get(url).content.decode()  # shown once, then gone
    response = client.post(url, article_form_data(article, body="Other text.", loaded_at=loaded_at))
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Saved “Unchanged”."]


def test_restoring_the_current_version_says_nothing_changed(client):
    editor = make_supervisor(TeamFactory())
    article = make_article(title="Versioned", body="Only text.")
    client.force_login(editor)
    revision = article.revisions.get()
    response = client.post(
        reverse("knowledge:manage_restore", args=[article.slug, revision.pk]), loaded(article)
    )
    assert [str(m) for m in get_messages(response.wsgi_request)] == [views_manage.NOTHING_CHANGED]
    assert article.revisions.count() == 1


def test_the_browsers_line_breaks_alone_are_no_change(client):
    article = make_article(title="Imported", body="Line one\nLine two\n")  # as an import stores it
    client.force_login(make_supervisor(TeamFactory()))
    url = reverse("knowledge:manage_edit", args=[article.slug])
    response = client.post(url, article_form_data(article, body="Line one\r\nLine two\r\n"))
    assert [str(m) for m in get_messages(response.wsgi_request)] == [views_manage.NOTHING_CHANGED]
    assert Article.objects.get(pk=article.pk).body == "Line one\nLine two\n"
    assert article.revisions.count() == 1


def test_the_editor_at_an_old_address_follows_the_rename(client):
    """A bookmark or a review-queue link to the editor from before a rename finds the article; a save
    posted from a page opened before the rename is not redirected (its text would be lost) nor a 404:
    it reaches the article and is refused as out of date, with what was typed on the page."""
    editor = make_supervisor()
    article = make_article(title="Alpha", slug="alpha", body="Old text")
    opened = article.updated_at.isoformat()
    services.article_update(article, actor=editor, slug="beta")
    client.force_login(editor)
    response = client.get(reverse("knowledge:manage_edit", args=["alpha"]), {"tab": "revisions"})
    assert response.status_code == 302 and response["Location"] == "/kb/manage/beta/edit/?tab=revisions"
    posted = {
        "title": "Alpha",
        "body": "Text typed before the rename",
        "visibility": "public",
        "loaded_at": opened,
    }
    response = client.post(reverse("knowledge:manage_edit", args=["alpha"]), posted)
    assert response.status_code == 422
    assert services.STALE_ARTICLE in response.content.decode()
    assert "Text typed before the rename" in response.content.decode()
    assert Article.objects.get(pk=article.pk).body == "Old text"
    assert client.get(reverse("knowledge:manage_edit", args=["gamma"])).status_code == 404
    assert client.post(reverse("knowledge:manage_edit", args=["gamma"]), posted).status_code == 404


def test_an_old_address_keeps_the_query_string_so_a_suggestion_still_counts(client):
    article = make_article(title="Alpha", slug="alpha")
    services.article_update(article, actor=None, slug="beta")
    response = client.get(reverse("knowledge:article", args=["alpha"]), {"from": "ticket"})
    assert response.status_code == 301 and response["Location"] == "/kb/articles/beta/?from=ticket"


def editor(client):
    client.force_login(make_supervisor(TeamFactory()))
    return client


def edit_url(article) -> str:
    return reverse("knowledge:manage_edit", args=[article.slug])


@pytest.mark.parametrize("action", ["remove", "DELETE", "PUBLISH", "x" * 300, "publish.json"])
def test_an_action_address_that_names_no_action_is_not_found(client, action):
    article = make_article(title="Kept as it was", status="draft")
    response = editor(client).post(
        reverse("knowledge:manage_action", args=[article.slug, action]), loaded(article)
    )
    assert response.status_code == 404
    assert Article.objects.get(pk=article.pk).status == "draft"


def test_a_long_body_imported_with_lf_line_breaks_saves_back_from_the_browser(client):
    """Browsers send each line break as CRLF: 160,000 characters in 80,000 lines arrived as 240,000 and
    were refused by a 200,000 limit counted on the posted text."""
    body = "line\n" * 32_000
    article = make_article(title="Long import", body=body)
    posted = article_form_data(article, body=body.replace("\n", "\r\n"), title="Long import, renamed")
    assert editor(client).post(edit_url(article), posted).status_code == 302
    assert Article.objects.get(pk=article.pk).title == "Long import, renamed"


def test_a_body_that_grows_past_the_limit_when_composed_is_refused_before_it_is_stored(client):
    """U+0958 composes to two characters: 150,000 typed would be stored as 300,000, past the limit, and
    every later save of the article refused."""
    response = editor(client).post(
        reverse("knowledge:manage_new"),
        {"title": "Grows", "body": "\u0958" * 150_000, "visibility": "public", "tags": "", "excerpt": ""},
    )
    assert response.status_code == 422 and "at most 200,000 characters" in unescape(response.content.decode())
    assert not Article.objects.filter(title="Grows").exists()


def test_an_editor_save_without_its_pages_loaded_at_is_refused_as_stale(client):
    """A page cached from before or a hand-made post without loaded_at skipped the check and overwrote
    a colleague's change."""
    article = make_article(title="Original")
    services.article_update(article, actor=None, body="A colleague's newer text.")
    response = editor(client).post(edit_url(article), article_form_data(article, loaded_at="", body="Mine"))
    assert response.status_code == 422 and services.STALE_ARTICLE in response.content.decode()
    assert Article.objects.get(pk=article.pk).body == "A colleague's newer text."


def test_a_tag_of_only_a_zero_width_space_is_not_kept():
    article = make_article(title="Tagged", tags="\u200b, real, \u2800")
    assert article.tags == "real"


def test_a_draft_retitled_in_the_editor_takes_the_new_titles_address_and_the_old_one_leads_there(client):
    """Until it is first published a draft's address follows its title: the words of a working title
    ("Acme outage workaround") do not stay in the address readers will see."""
    author = make_agent(TeamFactory())
    draft = services.article_create(actor=author, title="Acme outage workaround", body="Steps.")
    make_article(title="Reset your token")  # the new title's address is another article's
    client.force_login(author)
    edit = reverse("knowledge:manage_edit", args=[draft.slug])
    response = client.post(edit, article_form_data(draft, title="Reset your token"))
    assert response.status_code == 302 and response["Location"] == "/kb/manage/reset-your-token-2/edit/"
    assert Article.objects.get(pk=draft.pk).slug == "reset-your-token-2"
    assert client.get(edit)["Location"] == "/kb/manage/reset-your-token-2/edit/"  # a bookmark still works


def test_a_published_article_keeps_its_address_when_retitled_and_so_does_one_published_before():
    editor = make_supervisor(TeamFactory())
    published = make_article(title="Printer setup")
    archived = make_article(title="Old VPN")
    services.article_archive(archived, actor=editor)
    again = services.article_return_to_draft(Article.objects.get(pk=archived.pk), actor=editor)
    for article, title in ((published, "Set up a printer"), (again, "The old VPN client")):
        slug = article.slug
        services.article_update(Article.objects.get(pk=article.pk), actor=editor, title=title)
        assert Article.objects.get(pk=article.pk).slug == slug


def test_a_draft_keeps_the_address_the_admin_shows_beside_its_title(superuser_client):
    """The admin's change form shows the address: a title changed there leaves it as it stands."""
    draft = services.article_create(actor=None, title="First title", body="Body.", slug="chosen-address")
    assert post_change(superuser_client, draft, title="Second title").status_code == 302
    assert Article.objects.get(pk=draft.pk).title == "Second title"
    assert Article.objects.get(pk=draft.pk).slug == "chosen-address"


def test_a_drafts_address_that_followed_its_title_is_in_the_audit_event():
    draft = services.article_create(actor=None, title="Acme outage workaround", body="Steps.")
    services.article_update(Article.objects.get(pk=draft.pk), actor=None, title="Reset your token")
    event = AuditEvent.objects.filter(action="update", object_id=str(draft.pk)).latest("sequence")
    assert event.changes["slug"] == ["acme-outage-workaround", "reset-your-token"]
    assert event.changes["title"] == ["Acme outage workaround", "Reset your token"]
