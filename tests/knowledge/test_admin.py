"""The knowledge-base admin: bulk status actions go article by article, and the category tree stays a
tree."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from knowledge import services
from knowledge.models import CATEGORY_LOOP, Article, Category
from tests.factories import CategoryFactory, TeamFactory, make_administrator, make_article, make_supervisor

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:knowledge_article_changelist"


def _act(client, action: str, *articles: Article) -> list[str]:
    client.force_login(make_administrator())
    response = client.post(
        reverse(CHANGELIST), {"action": action, "_selected_action": [a.pk for a in articles]}, follow=True
    )
    assert response.status_code == 200
    return [str(message) for message in response.context["messages"]]


def test_publishing_a_batch_names_each_refusal_and_publishes_the_others(client):
    draft = make_article(title="Draft one", status="draft")
    live = make_article(title="Already live")
    review = make_article(title="In review", status="review")
    notes = _act(client, "publish", draft, live, review)
    assert "Already live: This published article cannot be published." in notes
    assert "Published 2 articles." in notes
    statuses = dict(Article.objects.values_list("title", "status"))
    assert statuses == {"Draft one": "published", "Already live": "published", "In review": "published"}


def test_archiving_a_batch_names_each_refusal_and_archives_the_others(client):
    archived = make_article(title="Old news", status="archived")
    live = make_article(title="Current")
    notes = _act(client, "archive", archived, live)
    assert notes == ["Old news: This archived article cannot be archived.", "Archived 1 article."]
    assert Article.objects.get(pk=live.pk).status == "archived"


def test_only_published_articles_can_be_marked_verified(client):
    draft = make_article(title="Unfinished", status="draft")
    with pytest.raises(ValidationError) as refused:
        services.article_verify(draft, actor=make_administrator())
    assert refused.value.messages == [services.VERIFY_UNPUBLISHED]
    assert Article.objects.get(pk=draft.pk).verified_at is None
    live = make_article(title="Checked")
    notes = _act(client, "verify", draft, live)
    assert notes == [f"Unfinished: {services.VERIFY_UNPUBLISHED}", "Verified 1 article."]
    assert Article.objects.get(pk=live.pk).verified_at is not None
    assert Article.objects.get(pk=draft.pk).verified_at is None


def test_the_editor_refuses_to_verify_a_draft_with_a_message(client):
    draft = make_article(title="Unfinished", status="draft")
    client.force_login(make_supervisor(TeamFactory()))
    response = client.post(reverse("knowledge:manage_action", args=[draft.slug, "verify"]), follow=True)
    assert services.VERIFY_UNPUBLISHED in response.content.decode()
    assert Article.objects.get(pk=draft.pk).verified_at is None


def test_a_category_cannot_be_its_own_parent():
    category = CategoryFactory(name="Billing")
    category.parent = category
    with pytest.raises(ValidationError) as refused:
        category.full_clean()
    assert refused.value.message_dict == {"parent": [CATEGORY_LOOP.format(name="Billing")]}


def test_a_category_cannot_go_under_one_of_its_subcategories():
    billing = CategoryFactory(name="Billing")
    invoices = CategoryFactory(name="Invoices", parent=billing)
    refunds = CategoryFactory(name="Refunds", parent=invoices)
    billing.parent = refunds
    with pytest.raises(ValidationError) as refused:
        billing.full_clean()
    assert refused.value.message_dict == {"parent": [CATEGORY_LOOP.format(name="Billing")]}
    refunds.parent = billing  # moving within the tree stays allowed
    refunds.full_clean()


def test_a_category_under_an_existing_loop_is_refused_instead_of_hanging():
    first = CategoryFactory(name="First")
    second = CategoryFactory(name="Second", parent=first)
    Category.objects.filter(pk=first.pk).update(parent=second)  # saved before loops were refused
    third = CategoryFactory(name="Third")
    third.parent = second
    third.full_clean()  # not in the loop itself: nothing to refuse, and the walk ends


def test_the_category_admin_refuses_a_parent_loop_and_keeps_the_category_listed(client):
    billing = CategoryFactory(name="Billing", slug="billing")
    invoices = CategoryFactory(name="Invoices", slug="invoices", parent=billing)
    make_article(category=invoices)
    client.force_login(make_administrator())
    url = reverse("admin:knowledge_category_change", args=[billing.pk])
    data = {"name": "Billing", "slug": "billing", "description": "", "icon": "", "position": 0}
    response = client.post(url, {**data, "parent": invoices.pk})
    assert response.status_code == 422
    assert CATEGORY_LOOP.format(name="Billing") in response.content.decode()
    assert Category.objects.get(pk=billing.pk).parent is None
    assert "Billing" in client.get(reverse("knowledge:home")).content.decode()


def test_saving_an_article_untouched_in_the_admin_writes_nothing(client):
    """A browser sends the body's line breaks as CRLF: the article saved as it was opened keeps its body,
    its verification and its date, and gets no revision or audit event."""
    from audit.models import AuditEvent
    from tests.admin_pages import change_url, form_data

    article = make_article("Multi line", body="Line one\nLine two\n\nParagraph two")
    services.article_verify(article, actor=make_supervisor(TeamFactory()))
    article.refresh_from_db()
    client.force_login(make_administrator(is_superuser=True))
    data = form_data(client.get(change_url(article)))
    revisions, events = article.revisions.count(), AuditEvent.objects.count()
    data["body"] = data["body"].replace("\r\n", "\n").replace("\n", "\r\n")
    assert client.post(change_url(article), data).status_code == 302
    after = Article.objects.get(pk=article.pk)
    assert (after.body, after.verified_at, after.updated_at) == (
        article.body,
        article.verified_at,
        article.updated_at,
    )
    assert (article.revisions.count(), AuditEvent.objects.count()) == (revisions, events)

    data["body"] = "Line one\r\nLine two, edited"
    assert client.post(change_url(article), data).status_code == 302
    after.refresh_from_db()
    assert after.body == "Line one\r\nLine two, edited" and after.verified_at is None, "a real edit is one"


def test_an_article_add_the_service_refuses_comes_back_as_typed_and_claims_nothing(client):
    """A text past the limit passes the admin's form and is refused by article_create: the page said
    "added successfully", linked to an article with no id, wrote an "Added" history entry, and lost
    what was typed."""
    from django.contrib.admin.models import LogEntry

    client.force_login(make_administrator())
    response = client.post(
        reverse("admin:knowledge_article_add"),
        {"title": "Long typed title", "slug": "long", "category": "", "tags": "", "excerpt": "",
         "body": "z" * 200_001, "visibility": "public", "loaded_at": "",
         "revisions-TOTAL_FORMS": "0", "revisions-INITIAL_FORMS": "0"},
    )  # fmt: skip
    page = response.content.decode()
    assert response.status_code == 422 and "Not saved: " in page and 'value="Long typed title"' in page
    assert "added successfully" not in page
    assert not Article.objects.exists() and not LogEntry.objects.exists()


def test_a_title_typed_with_a_double_space_is_stored_as_the_admin_shows_it(client):
    """The editor stored "Setup  guide" as typed, the admin cleans titles to one line: saving the admin
    page untouched rewrote the title and recorded an update nobody made. Both store it one way."""
    from audit.models import AuditEvent
    from tests.admin_pages import post_change

    article = make_article(title="Setup  guide\u202e")
    assert article.title == "Setup guide"
    client.force_login(make_administrator())
    events = AuditEvent.objects.filter(action="update").count()
    assert post_change(client, article).status_code == 302
    assert AuditEvent.objects.filter(action="update").count() == events


def test_a_title_stored_before_titles_were_kept_on_one_line_is_no_change_when_sent_back(client):
    from audit.models import AuditEvent
    from tests.admin_pages import post_change

    article = make_article(title="Setup guide")
    Article.objects.filter(pk=article.pk).update(title="Setup  guide")  # as an older release stored it
    client.force_login(make_administrator())
    events = AuditEvent.objects.filter(action="update").count()
    assert post_change(client, article).status_code == 302
    assert AuditEvent.objects.filter(action="update").count() == events
