"""The knowledge-base editor side (/kb/manage/…): authors and editors, the publishing workflow,
revisions and restores, verification, the markdown preview, the review queue, deleting and addresses."""

from html.parser import HTMLParser

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from knowledge import services
from knowledge.models import Article
from tests.factories import (
    TeamFactory,
    article_form_data,
    make_agent,
    make_article,
    make_customer,
    make_supervisor,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def author():
    return make_agent(TeamFactory())


@pytest.fixture
def editor():
    return make_supervisor(TeamFactory())


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _draft(author, title="Printer setup", body="Plug it in."):
    return services.article_create(title=title, body=body, actor=author)


def _edit_url(article):
    return reverse("knowledge:manage_edit", args=[article.slug])


def _action_url(article, action):
    return reverse("knowledge:manage_action", args=[article.slug, action])


def _snapshot(article):
    article.refresh_from_db()
    return (
        article.title, article.body, article.status, article.slug, article.verified_at,
        article.published_at, article.revisions.count(),
    )  # fmt: skip


# --- an author (an agent without editor permissions) crafting posts ---------------------------------------


@pytest.mark.parametrize("action", ["publish", "archive", "verify"])
def test_an_author_crafting_an_editors_action_on_their_own_draft_changes_nothing(client, author, action):
    draft = _draft(author)
    before = _snapshot(draft)
    client.force_login(author)
    response = client.post(_action_url(draft, action), {"loaded_at": draft.updated_at.isoformat()})
    assert response.status_code in (302, 403, 404)
    assert _snapshot(draft) == before
    if response.status_code == 302:
        assert any("editor" in message.lower() for message in _messages(response))


@pytest.mark.parametrize("action", ["archive", "verify", "delete", "draft"])
def test_an_author_crafting_actions_on_a_published_article_changes_nothing(client, author, action):
    article = make_article(title="Reset a password", body="Use the link.")
    before = _snapshot(article)
    client.force_login(author)
    response = client.post(
        _action_url(article, action), {"loaded_at": article.updated_at.isoformat(), "article": article.pk}
    )
    assert response.status_code in (302, 403, 404)
    assert _snapshot(article) == before
    assert Article.objects.filter(pk=article.pk).exists()


def test_an_author_cannot_restore_a_revision_by_posting(client, author, editor):
    article = make_article(title="Reset a password", body="Version one.")
    services.article_update(article, actor=editor, body="Version two.")
    first = article.revisions.order_by("created_at", "pk").first()
    before = _snapshot(article)
    client.force_login(author)
    response = client.post(
        reverse("knowledge:manage_restore", args=[article.slug, first.pk]),
        {"loaded_at": article.updated_at.isoformat()},
    )
    assert response.status_code in (302, 403, 404)
    assert _snapshot(article) == before


def test_an_author_cannot_open_or_save_someone_elses_draft(client, author):
    other = make_agent(TeamFactory())
    theirs = _draft(other, title="Their draft", body="Their words.")
    client.force_login(author)
    assert client.get(_edit_url(theirs)).status_code == 404
    response = client.post(_edit_url(theirs), article_form_data(theirs, body="Mine now."))
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.body == "Their words."


def test_an_author_cannot_save_over_their_own_published_article(client, author, editor):
    draft = _draft(author, title="Toner", body="Shake it.")
    services.article_publish(draft, actor=editor)
    draft.refresh_from_db()
    client.force_login(author)
    page = client.get(_edit_url(draft))
    assert page.status_code == 200 and "Read only" in page.content.decode()
    response = client.post(_edit_url(draft), article_form_data(draft, body="Changed by the author."))
    assert response.status_code in (403, 422)
    assert services.NOT_YOUR_DRAFT in response.content.decode()
    draft.refresh_from_db()
    assert draft.body == "Shake it."


def test_an_author_edits_their_own_draft(client, author):
    draft = _draft(author, title="Toner", body="Shake it.")
    client.force_login(author)
    response = client.post(_edit_url(draft), article_form_data(draft, body="Shake it gently."))
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.body == "Shake it gently."


# --- stale edits --------------------------------------------------------------------------------------


def test_the_second_of_two_editors_saving_is_refused_with_their_text_kept(editor):
    article = make_article(title="VPN", body="Connect first.")
    second_editor = make_supervisor(TeamFactory())
    first, second = Client(), Client()
    first.force_login(editor)
    second.force_login(second_editor)
    first_form = article_form_data(article, body="Connect with the new client.")
    second_form = article_form_data(article, body="My careful rewrite of the VPN steps.")
    assert first.post(_edit_url(article), first_form).status_code == 302
    response = second.post(_edit_url(article), second_form)
    assert response.status_code in (409, 422)
    page = response.content.decode()
    assert "Someone changed this article since you opened it" in page
    assert "My careful rewrite of the VPN steps." in page
    article.refresh_from_db()
    assert article.body == "Connect with the new client."


# --- revisions ------------------------------------------------------------------------------------------


def test_restoring_keeps_the_history_and_adds_a_revision(client, editor):
    article = make_article(title="Wi-Fi", body="Version one.")
    services.article_update(article, actor=editor, body="Version two.")
    article.refresh_from_db()
    first = article.revisions.order_by("created_at", "pk").first()
    client.force_login(editor)
    response = client.post(
        reverse("knowledge:manage_restore", args=[article.slug, first.pk]),
        {"loaded_at": article.updated_at.isoformat()},
    )
    assert response.status_code == 302
    article.refresh_from_db()
    assert article.body == "Version one."
    bodies = list(article.revisions.order_by("created_at", "pk").values_list("body", flat=True))
    assert bodies == ["Version one.", "Version two.", "Version one."]
    latest = article.revisions.first()
    assert latest.created_by == editor


def test_restoring_an_old_title_keeps_the_published_address(client, editor):
    article = make_article(title="Old title", body="Words.")
    services.article_update(article, actor=editor, title="New title")
    article.refresh_from_db()
    slug = article.slug
    other = make_article(title="Old title", body="Another article at the old words.")
    first = article.revisions.order_by("created_at", "pk").first()
    client.force_login(editor)
    response = client.post(
        reverse("knowledge:manage_restore", args=[article.slug, first.pk]),
        {"loaded_at": article.updated_at.isoformat()},
    )
    assert response.status_code == 302
    article.refresh_from_db()
    assert (article.title, article.slug) == ("Old title", slug)
    other.refresh_from_db()
    assert other.slug != slug


def test_revision_list_escapes_html_in_titles_and_bodies(client, editor):
    article = make_article(title="<script>alert('t')</script>", body="<img src=x onerror=alert(1)>")
    services.article_update(article, actor=editor, body="Safe now.")
    client.force_login(editor)
    page = client.get(_edit_url(article)).content.decode()
    assert "Published versions" in page
    assert "<script>alert('t')" not in page
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_revisions_are_not_shown_to_authors(client, author, editor):
    draft = _draft(author, title="Secret steps", body="Old secret password is hunter2.")
    services.article_publish(draft, actor=editor)
    services.article_update(draft, actor=editor, body="No secrets here.")
    client.force_login(author)
    page = client.get(_edit_url(draft)).content.decode()
    assert "hunter2" not in page


# --- the markdown preview --------------------------------------------------------------------------------


def test_the_preview_needs_post_and_a_csrf_token(author):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(author)
    url = reverse("knowledge:manage_preview")
    assert browser.get(url).status_code == 405
    assert browser.post(url, {"body": "Hello"}).status_code == 403


def test_the_preview_is_for_agents_only(client):
    client.force_login(make_customer())
    assert client.post(reverse("knowledge:manage_preview"), {"body": "Hi"}).status_code == 404


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "<javascript:alert(1)>",
        "[a]: javascript:alert(1)\n\n[a]",
        "![pixel](https://tracker.example/pixel.png)",
        "![pixel](//tracker.example/pixel.png)",
        '[x](https://a.example "t\\" onmouseover=alert(1)")',
    ],
)
def test_the_preview_is_sanitised(client, author, hostile):
    client.force_login(author)
    html = client.post(reverse("knowledge:manage_preview"), {"body": hostile}).content.decode()
    seen = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag, attrs):
            seen.append((tag, dict(attrs)))

    Tags().feed(html)
    assert {tag for tag, _ in seen} <= {"p", "a"}
    for _, attrs in seen:
        assert not any(name.startswith("on") or name in ("src", "style") for name in attrs)
        assert not (attrs.get("href") or "").lower().startswith(("javascript", "data", "vbscript"))


def test_a_preview_of_300000_characters_renders_the_first_200000(client, author):
    """The preview is cut where the save's limit is; how long the longest body takes to render is
    measured in bench/input_speed.py, not timed here."""
    client.force_login(author)
    response = client.post(reverse("knowledge:manage_preview"), {"body": "[" * 300_000})
    assert response.status_code == 200
    assert response.content.decode().count("[") == 200_000
    assert len(response.content) < 2_000_000


# --- articles that show nothing ----------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["\u200b", "&nbsp;", "##", "&#8203;\n\n&#8203;"])
def test_an_article_whose_text_shows_nothing_is_refused_by_the_editor(client, author, body):
    """A body that is blank once rendered (a zero-width space, `&nbsp;`, an empty "##" heading) is an
    empty article: readers would open a page with a title and nothing under it. The editor refuses it as
    it refuses a body of whitespace and a title of invisible characters (services.BODY_REQUIRED, read
    from the rendered text), as Zendesk and Freshdesk refuse an empty article body."""
    client.force_login(author)
    response = client.post(
        reverse("knowledge:manage_new"),
        {"title": "Looks empty", "body": body, "visibility": "public", "tags": "", "excerpt": ""},
    )
    assert response.status_code == 422
    assert not Article.objects.filter(title="Looks empty").exists()


def test_publishing_an_article_that_shows_nothing_is_refused(client, author, editor):
    """Publishing is the last gate before customers read the article: a draft whose text renders to
    nothing visible (here only a zero-width space, saved before the editor refused such text) does not
    go live as an empty page."""
    draft = services.article_create(title="Empty inside", body="Something.", actor=author)
    Article.objects.filter(pk=draft.pk).update(body="\u200b", body_html="<p>\u200b</p>")
    draft.refresh_from_db()
    client.force_login(editor)
    client.post(_action_url(draft, "publish"), {"loaded_at": draft.updated_at.isoformat()})
    draft.refresh_from_db()
    assert draft.status == Article.Status.DRAFT


def test_a_whitespace_body_is_refused(client, author):
    client.force_login(author)
    response = client.post(
        reverse("knowledge:manage_new"), {"title": "Blank", "body": "  \r\n \t ", "visibility": "public"}
    )
    assert response.status_code == 422
    assert not Article.objects.filter(title="Blank").exists()


# --- the review queue -------------------------------------------------------------------------------------


def test_the_review_queue_lists_only_articles_in_review(client, author, editor):
    in_review = _draft(author, title="Waiting for review", body="Please check.")
    services.article_submit_for_review(in_review, actor=author)
    _draft(author, title="Still a draft", body="Not yet.")
    make_article(title="Already live", body="Live.")
    client.force_login(editor)
    page = client.get(reverse("knowledge:manage_list"), {"status": "review"}).content.decode()
    assert "Waiting for review" in page
    assert "Still a draft" not in page and "Already live" not in page


def test_an_agent_does_not_see_colleagues_articles_in_review(client, author):
    colleague = make_agent(TeamFactory())
    theirs = _draft(colleague, title="Colleague's submission", body="Check me.")
    services.article_submit_for_review(theirs, actor=colleague)
    client.force_login(author)
    page = client.get(reverse("knowledge:manage_list"), {"status": "review"}).content.decode()
    assert "Colleague&#x27;s submission" not in page and "Colleague's submission" not in page
    assert client.get(_edit_url(theirs)).status_code == 404


# --- verification -----------------------------------------------------------------------------------------


def test_verification_goes_with_a_new_body_but_stays_with_new_tags(client, editor):
    article = make_article(title="Mail setup", body="Use IMAP.")
    services.article_verify(article, actor=editor)
    article.refresh_from_db()
    assert article.verified_at is not None
    client.force_login(editor)
    assert client.post(_edit_url(article), article_form_data(article, tags="mail, imap")).status_code == 302
    article.refresh_from_db()
    assert article.verified_at is not None
    assert (
        client.post(_edit_url(article), article_form_data(article, body="Use IMAP over TLS.")).status_code
        == 302
    )
    article.refresh_from_db()
    assert article.verified_at is None and article.verified_by is None


def test_an_author_cannot_verify(client, author, editor):
    draft = _draft(author, title="Mine", body="Words.")
    services.article_publish(draft, actor=editor)
    draft.refresh_from_db()
    client.force_login(author)
    client.post(_action_url(draft, "verify"), {"loaded_at": draft.updated_at.isoformat(), "verified_at": ""})
    draft.refresh_from_db()
    assert draft.verified_at is None


# --- archiving, republishing, deleting, addresses --------------------------------------------------------


def test_archiving_then_republishing_keeps_slug_views_and_first_date(client, editor):
    article = make_article(title="Keep me", body="Text.")
    Article.objects.filter(pk=article.pk).update(views=42)
    article.refresh_from_db()
    slug, published_at = article.slug, article.published_at
    client.force_login(editor)
    client.post(_action_url(article, "archive"), {"loaded_at": article.updated_at.isoformat()})
    article.refresh_from_db()
    assert article.status == Article.Status.ARCHIVED
    client.post(_action_url(article, "publish"), {"loaded_at": article.updated_at.isoformat()})
    article.refresh_from_db()
    assert (article.status, article.slug, article.views, article.published_at) == (
        "published",
        slug,
        42,
        published_at,
    )


def test_an_author_deletes_their_never_published_draft(client, author):
    draft = _draft(author, title="Scrap this", body="Nope.")
    client.force_login(author)
    response = client.post(
        _action_url(draft, "delete"), {"loaded_at": draft.updated_at.isoformat(), "article": draft.pk}
    )
    assert response.status_code == 302
    assert not Article.objects.filter(pk=draft.pk).exists()


def test_a_published_article_is_archived_not_deleted_even_by_an_editor(client, editor):
    article = make_article(title="Linked everywhere", body="Text.")
    client.force_login(editor)
    response = client.post(
        _action_url(article, "delete"), {"loaded_at": article.updated_at.isoformat(), "article": article.pk}
    )
    assert response.status_code == 302
    assert Article.objects.filter(pk=article.pk).exists()
    assert any("archived, not deleted" in message for message in _messages(response))


def test_a_draft_renamed_then_published_is_reached_at_its_old_address(client, author, editor):
    draft = _draft(author, title="Working title", body="Text.")
    old = draft.slug
    services.article_update(draft, actor=author, title="Final title")
    draft.refresh_from_db()
    assert draft.slug != old
    services.article_publish(draft, actor=editor)
    response = client.get(reverse("knowledge:article", args=[old]))
    assert response.status_code in (301, 302)
    assert response["Location"].endswith(reverse("knowledge:article", args=[draft.slug]))


def test_the_preview_of_an_article_within_the_limit_shows_its_end(client, author):
    """The editor accepts a body of up to 200,000 characters counted as stored, each line break one
    character (services.body_length_problem), while browsers post a textarea's line breaks as CRLF. The
    preview cuts the posted text where the save counts, so a valid article of many short lines (160,000
    characters stored, 240,000 posted) is previewed to its end."""
    body = "a\r\n" * 80_000 + "THE END OF THE ARTICLE"
    assert not services.body_length_problem(body)
    client.force_login(author)
    preview = client.post(reverse("knowledge:manage_preview"), {"body": body}).content.decode()
    assert "THE END OF THE ARTICLE" in preview


def test_the_preview_is_rate_limited(client, author):
    """Every preview renders up to 200,000 characters of markdown (a second or more of CPU for hostile
    text), on demand and saving nothing: rate limited as the other endpoints whose loops would hold the
    workers (search, the audit export), so that one agent session (or a stolen one) posting in a loop
    gets a 429 rather than occupying the server."""
    client.force_login(author)
    url = reverse("knowledge:manage_preview")
    statuses = {client.post(url, {"body": "Hello"}).status_code for _ in range(300)}
    assert 429 in statuses


def test_an_authors_stale_save_after_changes_were_requested_keeps_their_text(client, author, editor):
    draft = _draft(author, title="Scanner", body="Scan it.")
    services.article_submit_for_review(draft, actor=author)
    draft.refresh_from_db()
    form = article_form_data(draft, body="My improved scanner steps.")
    services.article_return_to_draft(draft, actor=editor, note="Say which scanner.")
    client.force_login(author)
    response = client.post(_edit_url(draft), form)
    assert response.status_code in (409, 422)
    assert "My improved scanner steps." in response.content.decode()
    draft.refresh_from_db()
    assert draft.body == "Scan it."
