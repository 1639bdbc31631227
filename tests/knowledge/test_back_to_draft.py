"""The way back to draft: a reviewer asks for changes, an author withdraws from review, an editor takes
up an archived article; each enforced by the service, offered as a button and audited."""

from html import unescape

import pytest
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from audit.models import AuditEvent
from knowledge import services
from knowledge.models import Article
from tests.factories import TeamFactory, loaded, make_agent, make_article

pytestmark = pytest.mark.django_db


@pytest.fixture
def in_review(author):
    article = services.article_create(title="Reset the router", body="Hold the button.", actor=author)
    return services.article_submit_for_review(article, actor=author)


def _status(article: Article) -> str:
    return Article.objects.values_list("status", flat=True).get(pk=article.pk)


def _last_event(article: Article) -> AuditEvent:
    return AuditEvent.objects.filter(
        object_type=ContentType.objects.get_for_model(Article), object_id=str(article.pk)
    ).first()  # newest first


def _to_draft(client, article: Article, **data):
    return client.post(
        reverse("knowledge:manage_action", args=[article.slug, "draft"]), loaded(article) | data
    )


def test_an_editor_sends_an_article_in_review_back_to_its_author_with_a_note(
    client, author, editor, in_review
):
    client.force_login(editor)
    response = _to_draft(client, in_review, note="  Add a screenshot of the router's back.  ")
    assert response.status_code == 302
    assert _status(in_review) == "draft"
    event = _last_event(in_review)
    assert (event.action, event.actor) == ("update", editor)
    assert event.changes == {
        "status": ["review", "draft"],
        "review_note": ["", "Add a screenshot of the router's back."],
    }
    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        "“Reset the router” sent back to its author as a draft, with your note for the author."
    ]
    # The author reads the note on the article's page and sees the request in the list.
    client.force_login(author)
    page = unescape(client.get(reverse("knowledge:manage_edit", args=[in_review.slug])).content.decode())
    assert f"Changes requested by {editor}" in page and "Add a screenshot of the router's back." in page
    listing = client.get(reverse("knowledge:manage_list")).content.decode()
    assert "Changes requested" in listing
    # They edit it and send it for review again: answered, the note leaves the page.
    services.article_update(in_review, body="Hold the button for ten seconds.", actor=author)
    assert services.article_submit_for_review(in_review, actor=author).status == "review"
    page = client.get(reverse("knowledge:manage_edit", args=[in_review.slug])).content.decode()
    assert "Changes requested" not in page and "screenshot" not in page
    assert Article.objects.values_list("review_note", "review_note_by").get(pk=in_review.pk) == ("", None)


def test_a_later_request_without_a_note_leaves_no_earlier_note_standing(client, author, editor, in_review):
    client.force_login(editor)
    _to_draft(client, in_review, note="Add a screenshot.")
    services.article_submit_for_review(in_review, actor=author)
    _to_draft(client, in_review, note="")
    client.force_login(author)
    page = client.get(reverse("knowledge:manage_edit", args=[in_review.slug])).content.decode()
    assert "Add a screenshot." not in page


def test_the_note_is_shown_as_text(client, author, editor, in_review):
    client.force_login(editor)
    _to_draft(client, in_review, note="<script>alert(1)</script> **bold**\nsecond line")
    client.force_login(author)
    page = client.get(reverse("knowledge:manage_edit", args=[in_review.slug])).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; **bold**\nsecond line" in page
    assert "<script>alert(1)" not in page


def test_a_request_for_changes_without_a_note_records_only_the_status(client, editor, in_review):
    client.force_login(editor)
    _to_draft(client, in_review, note="   ")
    assert _status(in_review) == "draft"
    assert _last_event(in_review).changes == {"status": ["review", "draft"]}


def test_an_author_withdraws_their_own_article_from_review(client, author, in_review):
    client.force_login(author)
    response = _to_draft(client, in_review)
    assert _status(in_review) == "draft"
    event = _last_event(in_review)
    assert (event.actor, event.changes) == (author, {"status": ["review", "draft"]})
    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        "“Reset the router” withdrawn from review: it is a draft again."
    ]


def test_an_agent_cannot_send_someone_elses_article_back_to_draft(client, in_review):
    other = make_agent(TeamFactory())
    with pytest.raises(PermissionDenied):
        services.article_return_to_draft(in_review, actor=other, note="Mine now")
    client.force_login(other)
    assert _to_draft(client, in_review).status_code == 404  # they cannot see another agent's review
    assert _status(in_review) == "review"


def test_an_editor_takes_up_an_archived_article_but_its_author_cannot(client, author, editor):
    article = services.article_create(title="Old VPN client", body="Install 1.0.", actor=author)
    services.article_archive(article, actor=editor)
    client.force_login(author)  # an author edits drafts and reviews only
    response = _to_draft(client, article)
    assert _status(article) == "archived"
    assert [str(message) for message in get_messages(response.wsgi_request)] == [services.NOT_EDITOR]
    client.force_login(editor)
    response = _to_draft(client, article)
    assert _status(article) == "draft"
    assert _last_event(article).changes == {"status": ["archived", "draft"]}
    assert [str(message) for message in get_messages(response.wsgi_request)][-1] == (
        "“Old VPN client” is a draft again."
    )


@pytest.mark.parametrize("status", ["draft", "published"])
def test_drafts_and_published_articles_do_not_go_back_to_draft(client, editor, status):
    # A published article is edited in place; taking it back to draft would take it off the site.
    article = make_article(title="Live answer", status=status)
    events = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as refused:
        services.article_return_to_draft(article, actor=editor)
    label = {"draft": "draft", "published": "published"}[status]
    assert refused.value.messages == [f"This {label} article cannot be made a draft."]
    assert _status(article) == status and AuditEvent.objects.count() == events


def test_a_note_too_long_is_refused_and_changes_nothing(client, editor, in_review):
    client.force_login(editor)
    note = "x" * (services.NOTE_MAX_LENGTH + 1)
    response = _to_draft(client, in_review, note=note)
    assert _status(in_review) == "review"
    page = response.content.decode()
    # The page again, the note kept as typed beside the reason: a reviewer's note is work too.
    assert response.status_code == 422
    assert services.NOTE_TOO_LONG in page and f">{note}</textarea>" in page and "<details open>" in page


def test_the_way_back_to_draft_is_a_post_form_with_a_csrf_token(client, author, editor, in_review):
    action = reverse("knowledge:manage_action", args=[in_review.slug, "draft"])
    client.force_login(editor)
    page = client.get(reverse("knowledge:manage_edit", args=[in_review.slug])).content.decode()
    form = page[page.index(f'action="{action}"') :].split("</form>")[0]
    assert 'name="csrfmiddlewaretoken"' in form and 'name="note"' in form
    assert 'type="submit">Request changes</button>' in form
    assert 'method="post"' in page[: page.index(f'action="{action}"')].rsplit("<form", 1)[1]
    client.force_login(author)
    page = client.get(reverse("knowledge:manage_edit", args=[in_review.slug])).content.decode()
    assert f'action="{action}"' in page and 'type="submit">Withdraw from review</button>' in page
    assert "Request changes" not in page


def _draft_button(client, article: Article) -> str | None:
    page = client.get(reverse("knowledge:manage_edit", args=[article.slug])).content.decode()
    labels = ("Request changes", "Withdraw from review", "Back to draft")
    found = [label for label in labels if f'type="submit">{label}</button>' in page]
    assert len(found) <= 1, found
    return found[0] if found else None


def test_the_editor_offers_the_way_back_to_draft_only_where_it_is_allowed(client, author, editor, in_review):
    own_draft = services.article_create(title="Unsent", body="Text", actor=author)
    archived = make_article(title="Retired", status="archived")
    published = make_article(title="Live", status="published")
    client.force_login(author)
    assert _draft_button(client, in_review) == "Withdraw from review"
    assert _draft_button(client, own_draft) is None
    client.force_login(editor)
    assert _draft_button(client, in_review) == "Request changes"
    assert _draft_button(client, archived) == "Back to draft"
    assert _draft_button(client, published) is None
    assert _draft_button(client, own_draft) is None
    assert "draft" in services.article_actions(in_review, editor)
    assert "draft" not in services.article_actions(archived, author)
