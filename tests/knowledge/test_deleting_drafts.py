"""Deleting an article that was never published: its author's draft, or an editor's pick of any such
draft or article in review; refused for what was ever published (archived instead), for someone else's
draft, and from a page older than the article's last change; audited, and answered twice as once."""

from html import unescape

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from audit.models import AuditEvent
from knowledge import services
from knowledge.models import Article
from tests.factories import TeamFactory, loaded, make_agent, make_customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(author):
    return services.article_create(title="Reset the router", body="Hold the button.", actor=author)


def _delete(client, article: Article, data: dict | None = None):
    action = reverse("knowledge:manage_action", args=[article.slug, "delete"])
    return client.post(action, data or loaded(article), follow=True)


def _page(client, article: Article) -> str:
    return client.get(reverse("knowledge:manage_edit", args=[article.slug])).content.decode()


def test_an_author_deletes_their_draft_from_its_page_and_a_second_click_is_told_it_is_done(
    client, author, draft
):
    client.force_login(author)
    action = reverse("knowledge:manage_action", args=[draft.slug, "delete"])
    assert f'action="{action}"' in _page(client, draft)
    page_sent = loaded(draft)
    response = _delete(client, draft, page_sent)
    assert response.redirect_chain[-1][0] == reverse("knowledge:manage_list")
    assert "Deleted “Reset the router”." in unescape(response.content.decode())
    assert not Article.objects.filter(pk=draft.pk).exists()
    event = AuditEvent.objects.get(
        action="delete", object_type=ContentType.objects.get_for_model(Article), object_id=str(draft.pk)
    )
    assert event.actor == author
    assert event.changes["title"][0] == "Reset the router" and event.changes["slug"][0] == draft.slug

    again = _delete(client, draft, page_sent)  # the same button pressed again, without JavaScript
    assert again.status_code == 200 and "deleted already" in again.content.decode()
    assert AuditEvent.objects.filter(action="delete", object_id=str(draft.pk)).count() == 1


def test_an_editor_deletes_someone_elses_article_in_review(client, author, editor, draft):
    in_review = services.article_submit_for_review(draft, actor=author)
    client.force_login(editor)
    assert "Delete this article" in _page(client, in_review)
    _delete(client, in_review)
    assert not Article.objects.filter(pk=draft.pk).exists()


def test_an_author_cannot_delete_a_colleagues_draft(client, author, draft):
    """A colleague does not see another author's draft, so there is nothing there to delete (404); the
    service refuses them too, should the draft reach them some other way."""
    colleague = make_agent(TeamFactory())
    client.force_login(colleague)
    assert _delete(client, draft).status_code == 404
    with pytest.raises(PermissionDenied):
        services.article_delete(draft, actor=colleague)
    assert Article.objects.filter(pk=draft.pk).exists()


def test_an_article_once_published_is_archived_not_deleted_even_back_as_a_draft(client, editor, draft):
    published = services.article_publish(draft, actor=editor)
    again_a_draft = services.article_archive(published, actor=editor)
    again_a_draft = services.article_return_to_draft(again_a_draft, actor=editor)
    assert again_a_draft.status == "draft"
    client.force_login(editor)
    assert "Delete this" not in _page(client, again_a_draft)
    response = _delete(client, again_a_draft)
    assert Article.objects.filter(pk=draft.pk).exists()
    assert services.NOT_DELETABLE in unescape(response.content.decode())


def test_a_draft_changed_since_the_page_was_loaded_is_not_deleted(client, author, draft):
    stale = loaded(draft)
    services.article_update(draft, title=draft.title, body="Hold the button for ten seconds.", actor=author)
    client.force_login(author)
    response = _delete(client, draft, stale)
    assert Article.objects.filter(pk=draft.pk).exists()
    assert services.STALE_ARTICLE in unescape(response.content.decode())


def test_a_customer_or_a_visitor_reaches_no_draft_to_delete(client, draft):
    action = reverse("knowledge:manage_action", args=[draft.slug, "delete"])
    assert client.post(action, loaded(draft))["Location"].startswith(reverse("accounts:login"))
    client.force_login(make_customer())
    assert client.post(action, loaded(draft)).status_code == 404
    assert Article.objects.filter(pk=draft.pk).exists()
