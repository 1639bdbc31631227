"""The knowledge base's agent side: previews of hostile markdown without JavaScript save nothing and keep
what was typed, the reply picker offers published articles and inserts a link whatever the title holds,
the review queue, wrong-role buttons, restores and the manage list's hostile parameters."""

import html
import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from helpdesk.markdown import render_markdown
from knowledge import services
from knowledge.models import Article
from tests.factories import (
    CategoryFactory,
    TeamFactory,
    article_form_data,
    make_agent,
    make_article,
    make_supervisor,
)

pytestmark = pytest.mark.django_db


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.parametrize(
    "hostile",
    [
        "[click](javascript:alert(1))",
        '<img src=x onerror="alert(1)">',
        "![x](javascript:alert(1))",
        '<a href="data:text/html,<script>alert(1)</script>">d</a>',
        "[v](vbscript:msgbox(1))",
        "<svg/onload=alert(1)>",
    ],
)
def test_no_js_preview_of_hostile_markdown_is_sanitised_and_saves_nothing(client, hostile):
    editor = make_supervisor(TeamFactory())
    client.force_login(editor)
    response = client.post(
        reverse("knowledge:manage_new"),
        {"title": "Hostile", "body": hostile, "visibility": "public", "preview": "1"},
    )
    page = response.content.decode()
    preview = page.split('<div id="preview"', 1)[1].split("</section>", 1)[0]
    assert response.status_code == 200
    tags = re.findall(r"<[a-z][^>]*>", preview.lower())
    assert not any(tag.startswith(("<img", "<svg", "<script")) for tag in tags), tags
    assert not any(re.search(r"\son\w+=|href=\"(?:javascript|data|vbscript)", tag) for tag in tags), tags
    assert not Article.objects.filter(title="Hostile").exists()


def test_no_js_preview_keeps_every_field_typed(client):
    editor = make_supervisor(TeamFactory())
    old, new = CategoryFactory(name="Old place"), CategoryFactory(name="New place")
    article = make_article(title="Keep me", body="Old.", category=old, tags="one", excerpt="Written.")
    client.force_login(editor)
    data = article_form_data(
        article, title="Typed title", body="Typed body", tags="alpha, beta", excerpt="Typed excerpt",
        visibility="internal", category=new.pk, loaded_at=article.updated_at.isoformat(), preview="1",
    )  # fmt: skip
    page = client.post(reverse("knowledge:manage_edit", args=[article.slug]), data).content.decode()
    assert 'value="Typed title"' in page
    assert "Typed body</textarea>" in page
    assert 'value="alpha, beta"' in page and 'value="Typed excerpt"' in page
    assert re.search(rf'<option value="{new.pk}"[^>]*selected', page)
    assert re.search(r'<option value="internal"[^>]*selected', page)
    stored = Article.objects.get(pk=article.pk)
    assert (stored.title, stored.category_id, stored.visibility) == ("Keep me", old.pk, "public")


def test_the_picker_inserts_a_working_link_for_a_title_with_a_bracket(client):
    """The picker's button inserts `[title](address)`: a title holding markdown's own brackets must be
    escaped, or the reply shows the raw text instead of a link to the article."""
    article = make_article(title="Printer ] jams on page two", body="Open the tray.")
    client.force_login(make_agent(TeamFactory()))
    page = client.get(reverse("knowledge:manage_picker"), {"q": "printer jams"}).content.decode()
    inserted = html.unescape(re.search(r'data-insert-link="([^"]*)"', page).group(1))
    rendered = render_markdown(inserted)
    assert f'/kb/articles/{article.slug}/"' in rendered, rendered


def test_the_picker_offers_only_published_articles_even_to_editors(client):
    for status in ("draft", "review", "archived"):
        make_article(title=f"Router reboot {status}", body="Unplug the router.", status=status)
    make_article(title="Router reboot live", body="Unplug the router.")
    client.force_login(make_supervisor(TeamFactory()))
    page = client.get(reverse("knowledge:manage_picker"), {"q": "router reboot"}).content.decode()
    assert "Router reboot live" in page
    assert not any(f"Router reboot {status}" in page for status in ("draft", "review", "archived"))


def test_review_queue_shows_an_agent_only_their_own_submissions_and_an_editor_all(client):
    author, other = make_agent(TeamFactory()), make_agent(TeamFactory())
    mine = services.article_create(title="Mine in review", body="x", status="review", actor=author)
    services.article_create(title="Theirs in review", body="x", status="review", actor=other)
    client.force_login(author)
    page = client.get(reverse("knowledge:manage_list"), {"status": "review"}).content.decode()
    assert mine.title in page and "Theirs in review" not in page
    client.force_login(make_supervisor(TeamFactory()))
    page = client.get(reverse("knowledge:manage_list"), {"status": "review"}).content.decode()
    assert mine.title in page and "Theirs in review" in page


@pytest.mark.parametrize(
    "params",
    [
        {"page": "-1"}, {"page": "0"}, {"page": "9" * 5000}, {"page": "1e3"}, {"page": "2\x00"},
        {"status": "<script>alert(1)</script>"}, {"status": ["draft", "published"]},
        {"q": "%_\\"}, {'"><script>alert(1)</script>': "1"},
    ],
)  # fmt: skip
def test_the_manage_list_survives_hostile_parameters(client, params):
    make_article(title="Only one")
    client.force_login(make_supervisor(TeamFactory()))
    response = client.get(reverse("knowledge:manage_list"), params)
    assert response.status_code == 200
    assert "<script>alert(1)" not in response.content.decode()


@pytest.mark.parametrize("action", ["publish", "archive", "verify"])
def test_an_agent_pressing_an_editors_button_is_told_why(client, action):
    agent = make_agent(TeamFactory())
    article = make_article(title="Live one")
    client.force_login(agent)
    response = client.post(reverse("knowledge:manage_action", args=[article.slug, action]),
                           {"loaded_at": article.updated_at.isoformat()})  # fmt: skip
    assert response.status_code == 302
    assert _messages(response) == [services.NOT_EDITOR]
    stored = Article.objects.get(pk=article.pk)
    assert stored.status == "published" and stored.verified_at is None


def test_restoring_a_published_revision_keeps_a_new_revision_and_the_old_ones(client):
    editor = make_supervisor(TeamFactory())
    article = make_article(title="First", body="First body.")
    first = article.revisions.get()
    article = services.article_update(article, title="Second", body="Second body.", actor=editor)
    client.force_login(editor)
    client.post(reverse("knowledge:manage_restore", args=[article.slug, first.pk]),
                {"loaded_at": article.updated_at.isoformat()})  # fmt: skip
    revisions = list(Article.objects.get(pk=article.pk).revisions.order_by("created_at", "pk"))
    assert [r.title for r in revisions] == ["First", "Second", "First"]
    assert revisions[-1].created_by == editor


def test_restore_needs_csrf_and_post(client):
    editor = make_supervisor(TeamFactory())
    article = make_article(title="First", body="First body.")
    first = article.revisions.get()
    services.article_update(article, title="Second", body="Second body.", actor=editor)
    url = reverse("knowledge:manage_restore", args=[article.slug, first.pk])
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(editor)
    assert csrf_client.post(url).status_code == 403
    assert csrf_client.get(url).status_code == 405
    assert Article.objects.get(pk=article.pk).title == "Second"


def test_the_author_reads_the_note_on_the_editor_after_editing_the_draft(client):
    author, editor = make_agent(TeamFactory()), make_supervisor(TeamFactory())
    article = services.article_create(title="Needs work", body="x", status="review", actor=author)
    client.force_login(editor)
    client.post(reverse("knowledge:manage_action", args=[article.slug, "draft"]),
                {"note": "Add <b>screenshots</b>", "loaded_at": article.updated_at.isoformat()})  # fmt: skip
    article.refresh_from_db()
    services.article_update(article, body="more", actor=author)
    client.force_login(author)
    page = client.get(reverse("knowledge:manage_edit", args=[article.slug])).content.decode()
    assert "Add &lt;b&gt;screenshots&lt;/b&gt;" in page
    listing = client.get(reverse("knowledge:manage_list"), {"status": "draft"}).content.decode()
    assert "Changes requested" in listing
