"""KB editor pages sent twice: the "New article" page sent again with other words is refused with them
kept (not answered "Saved" for the first article), and a double-clicked workflow button (Publish,
Request changes with a note, Mark verified) makes its move once, without telling anyone a colleague changed
the article; a hand-made page time without its offset is refused as stale."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from knowledge import services
from knowledge.models import Article
from tests.factories import TeamFactory, loaded, make_agent, make_article, make_supervisor

pytestmark = pytest.mark.django_db

NEW = reverse("knowledge:manage_new")


def action_url(article, action: str) -> str:
    return reverse("knowledge:manage_action", args=[article.slug, action])


def fresh(article) -> Article:
    return Article.objects.get(pk=article.pk)


def hidden_fields(page) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.content.decode()))


def in_review(author) -> Article:
    article = services.article_create(actor=author, title="Configure the VPN client", body="Open Settings.")
    return services.article_submit_for_review(article, actor=author)


def test_a_new_article_page_sent_again_with_other_words_is_refused_with_them_kept(client):
    client.force_login(make_agent(TeamFactory()))
    page = hidden_fields(client.get(NEW))
    first = {**page, "title": "Reset the router", "body": "Hold the button.", "visibility": "public"}
    assert client.post(NEW, first).status_code == 302
    assert client.post(NEW, first).status_code == 302  # the same words again: the first save, said again

    second = {**first, "title": "Replace the router", "body": "Order a new one from IT."}
    response = client.post(NEW, second)
    assert response.status_code == 422
    text = unescape(response.content.decode())
    assert services.CREATED_ALREADY.format(title="Reset the router") in text
    assert "Replace the router" in text and "Order a new one from IT." in text
    assert list(Article.objects.values_list("title", flat=True)) == ["Reset the router"]


def test_a_double_clicked_publish_publishes_once_and_says_nothing_of_a_colleague(client):
    author, editor = make_agent(TeamFactory()), make_supervisor(TeamFactory())
    article = in_review(author)
    client.force_login(editor)
    page = loaded(article)
    assert client.post(action_url(article, "publish"), page).status_code == 302
    published_at = fresh(article).updated_at
    response = client.post(action_url(article, "publish"), page, follow=True)
    said = [str(message) for message in response.context["messages"]]
    assert services.STALE_ARTICLE not in said
    assert fresh(article).status == "published" and fresh(article).updated_at == published_at


def test_a_double_clicked_request_for_changes_sends_its_note_once(client):
    author, editor = make_agent(TeamFactory()), make_supervisor(TeamFactory())
    article = in_review(author)
    client.force_login(editor)
    data = {**loaded(article), "note": "Add a screenshot of the dialog."}
    assert client.post(action_url(article, "draft"), data).status_code == 302
    second = client.post(action_url(article, "draft"), data)
    assert second.status_code == 302
    assert (
        fresh(article).review_note == "Add a screenshot of the dialog." and fresh(article).status == "draft"
    )
    # Another note from the same old page is a different move: refused as stale, the note kept.
    other = client.post(action_url(article, "draft"), {**data, "note": "And the error message."})
    assert other.status_code == 409 and "And the error message." in unescape(other.content.decode())


def verify_button(client, article) -> dict[str, str]:
    """What the editor page's "Mark verified" button posts, as the page renders it now."""
    page = client.get(reverse("knowledge:manage_edit", args=[article.slug]))
    form = page.content.decode().split(f'action="{action_url(article, "verify")}"')[1].split("</form>")[0]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def test_a_double_clicked_mark_verified_verifies_once_and_a_later_check_verifies_again(client, clock):
    editor = make_supervisor(TeamFactory())
    article = make_article(title="Checked")
    client.force_login(editor)
    button = verify_button(client, article)
    assert set(button) >= {"loaded_at", "verified_at"} and button["verified_at"] == ""
    assert client.post(action_url(article, "verify"), button).status_code == 302
    first = fresh(article).verified_at
    clock.shift(timedelta(seconds=2))
    response = client.post(action_url(article, "verify"), button, follow=True)
    assert "marked verified" in unescape(response.content.decode())
    assert fresh(article).verified_at == first
    assert AuditEvent.objects.filter(action="verify", object_id=str(article.pk)).count() == 1

    clock.shift(timedelta(days=200))  # checked again, from a page that shows the first check
    client.force_login(editor)
    assert client.post(action_url(article, "verify"), verify_button(client, article)).status_code == 302
    assert fresh(article).verified_at > first
    assert AuditEvent.objects.filter(action="verify", object_id=str(article.pk)).count() == 2


def test_mark_verified_from_a_page_a_colleagues_check_overtook_says_theirs_stands(client):
    """Two editors press "Mark verified" on pages that showed no check: the second is told the article
    was verified already, by the first, and is not credited with a check nothing recorded."""
    first, second = make_supervisor(TeamFactory(), name="Vera First"), make_supervisor(TeamFactory())
    article = make_article(title="Checked")
    client.force_login(second)
    button = verify_button(client, article)
    services.article_verify(article, actor=first, verification_seen="")
    response = client.post(action_url(article, "verify"), button, follow=True)
    shown = unescape(response.content.decode())
    assert "“Checked” was verified already, by Vera First" in shown and "marked verified" not in shown
    assert fresh(article).verified_by == first
    assert AuditEvent.objects.filter(action="verify", object_id=str(article.pk)).count() == 1


@pytest.mark.parametrize("action", ["submit", "publish", "archive", "draft"])
def test_a_page_time_without_its_offset_is_refused_as_stale_not_a_server_error(client, action):
    """A hand-made post: a time without its UTC offset cannot be compared with the article's."""
    editor = make_supervisor(TeamFactory())
    article = (
        in_review(editor)
        if action != "submit"
        else services.article_create(actor=editor, title="A draft", body="Text.")
    )
    before = fresh(article).status
    client.force_login(editor)
    naive = fresh(article).updated_at.replace(tzinfo=None).isoformat()
    response = client.post(action_url(article, action), {"loaded_at": naive}, follow=True)
    assert response.status_code in (200, 422) and fresh(article).status == before
    assert "changed this article" in unescape(response.content.decode())
