"""Deleting archived articles for good: the KB page's "Delete…" (knowledge.views_manage._delete), the
admin (knowledge.admin.ArticleAdmin) and the one rule (knowledge.services.article_delete_refusal /
article_may_delete / article_delete), with temporary roles, superusers, races and mixed selections."""

from datetime import timedelta

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.urls import reverse
from django.utils import timezone

from accounts import rbac, roles
from accounts import services as account_services
from audit.models import AuditEvent
from knowledge import services
from knowledge.models import Article, ArticleFeedback, ArticleRevision, ArticleSlug
from tests.admin_pages import change_url, changelist_url, delete_url
from tests.conftest import notes
from tests.factories import (
    TeamFactory,
    UserFactory,
    make_administrator,
    make_agent,
    make_article,
    make_customer,
    make_supervisor,
)
from tests.knowledge.test_deleting_articles_edges import _action, _edit, _exists, _page, _shown

pytestmark = pytest.mark.django_db


def _archived(title: str, editor=None) -> Article:
    editor = editor or make_supervisor(TeamFactory())
    return services.article_archive(make_article(title=title), actor=editor)


# --- the admin's refusals, said -------------------------------------------------------------------


def test_admin_delete_page_of_a_published_article_says_archive_it_first(client):
    """An administrator opens the admin delete page of a published article (the change page's "Delete"
    link, from a tab loaded while it was still archived and someone published it again since): the page
    says why it cannot be deleted (archive it first), as the category admin's delete page does."""
    admin_user = make_administrator()
    client.force_login(admin_user)
    editor = make_supervisor(TeamFactory())
    article = _archived("Old pricing", editor)
    assert delete_url(article) in client.get(change_url(article)).content.decode()  # the tab, loaded archived
    services.article_publish(article, actor=editor)  # meanwhile, published again

    response = client.get(delete_url(article))
    page = _shown(response)
    assert _exists(article)
    assert "ask an administrator" not in page, (response.status_code, page[:400])
    assert services.NOT_DELETABLE in page, response.status_code


def test_delete_selected_confirmed_after_one_was_republished_names_it_and_deletes_nothing(client):
    """An administrator ticks two archived articles, "Delete selected articles", and sees the confirmation
    page listing both. Meanwhile an editor publishes one of them again. Confirming answers the page again
    (not a bare 403), naming the republished article and why it cannot be deleted; nothing is deleted
    until the administrator chooses again."""
    client.force_login(make_administrator(is_superuser=True))
    editor = make_supervisor(TeamFactory())
    stays, other = _archived("Republished guide", editor), _archived("Retired guide", editor)
    chosen = {"action": "delete_selected", "_selected_action": [str(stays.pk), str(other.pk)]}
    confirmation = client.post(changelist_url(Article), chosen)
    assert "Are you sure" in _shown(confirmation)
    services.article_publish(stays, actor=editor)

    response = client.post(changelist_url(Article), chosen | {"post": "yes"}, follow=True)
    shown = _shown(response)
    assert response.status_code == 200 and "ask an administrator" not in shown
    assert f"“Republished guide”: {services.NOT_DELETABLE}" in shown
    assert _exists(stays) and _exists(other)


# --- around it ----------------------------------------------------------------------------------------


def test_temporary_administrator_deletes_while_in_force_and_not_after(client, clock):
    """an agent made Administrator until tomorrow is offered "Delete…" on an archived article's
    page and may delete one; once the role has ended, the page no longer offers it and a post (from a
    page loaded while it was in force) is refused, the article kept."""
    editor = make_supervisor(TeamFactory())
    first, second = _archived("Temp one", editor), _archived("Temp two", editor)
    temp = make_agent(TeamFactory())
    account_services.role_assign(
        temp, roles.ADMINISTRATOR, expires_at=timezone.now() + timedelta(days=1), actor=None
    )
    rbac.forget(temp)
    client.force_login(temp)
    assert "Delete…" in client.get(_edit(first.slug)).content.decode()
    client.post(_action(first.slug), _page(first))
    assert not _exists(first)

    page = _page(second)
    assert "Delete…" in client.get(_edit(second.slug)).content.decode()
    clock.shift(timedelta(days=1, minutes=1))
    assert "Delete…" not in client.get(_edit(second.slug)).content.decode()
    client.post(_action(second.slug), page)
    assert _exists(second)
    assert not services.article_may_delete(Article.objects.get(pk=second.pk), temp)


def test_superuser_without_the_administrator_role_deletes_an_archived_article(client):
    """a superuser holding no role at all counts as an administrator: the KB page offers "Delete…"
    on an archived article and deletes it; the admin's delete page deletes another."""
    root = UserFactory(is_superuser=True, is_staff=True)
    editor = make_supervisor(TeamFactory())
    first, second = _archived("Root one", editor), _archived("Root two", editor)
    client.force_login(root)
    assert "Delete…" in client.get(_edit(first.slug)).content.decode()
    client.post(_action(first.slug), _page(first))
    assert not _exists(first)
    assert client.post(delete_url(second), {"post": "yes"}).status_code == 302
    assert not _exists(second)


def test_admin_delete_is_explained_where_the_page_does_not_offer_it(client):
    """The knowledge base's page offers "Delete…" for an archived article and a never-published draft,
    not for a published one nor one reopened to draft after publishing; the admin's delete page of those
    two names the reason (archive it first) and deletes nothing, even when confirmed."""
    client.force_login(make_administrator())
    editor = make_supervisor(TeamFactory())
    archived = _archived("Archived one", editor)
    draft = make_article(title="Never out", status="draft")
    live = make_article(title="Live one")
    reopened = services.article_return_to_draft(_archived("Reopened one", editor), actor=editor)
    assert reopened.status == "draft" and reopened.published_at is not None
    for article, offered in ((archived, True), (draft, True), (live, False), (reopened, False)):
        assert ("Delete…" in client.get(_edit(article.slug)).content.decode()) is offered, article.title
        if not offered:
            page = _shown(client.post(delete_url(article), {"post": "yes"}))
            assert f"“{article.title}”: {services.NOT_DELETABLE}" in page and _exists(article)


def test_reopened_and_republished_between_page_load_and_delete_is_refused(client):
    """an administrator's page of an archived article, then an editor reopens it to draft and
    publishes it; the Delete from the old page is refused (stale) and the article stays."""
    editor = make_supervisor(TeamFactory())
    article = _archived("Back in service", editor)
    client.force_login(make_administrator())
    page = _page(article)
    services.article_return_to_draft(article, actor=editor)
    services.article_publish(Article.objects.get(pk=article.pk), actor=editor)
    response = client.post(_action(article.slug), page, follow=True)
    assert _exists(article)
    assert Article.objects.get(pk=article.pk).status == "published"
    assert services.STALE_ARTICLE in _shown(response) or services.NOT_DELETABLE in _shown(response)


def test_after_deleting_an_archived_article_its_traces_go_and_the_kb_stands(client):
    """an archived article with old addresses, revisions and votes, deleted by an administrator:
    its addresses answer 404, its slugs, revisions and votes are gone, the audit event names it, the KB
    home, search and review queue still answer."""
    editor = make_supervisor(TeamFactory())
    article = make_article(title="Printer setup")
    article = services.article_update(article, body="New body text.", actor=editor)
    services.article_vote(article, helpful=True, user=make_customer())
    ArticleSlug.objects.create(article=article, slug="old-printer-setup")
    article = services.article_archive(article, actor=editor)
    admin_user = make_administrator()
    client.force_login(admin_user)
    client.post(_action(article.slug), _page(article))
    assert not _exists(article)
    assert not ArticleSlug.objects.filter(article_id=article.pk).exists()
    assert not ArticleRevision.objects.filter(article_id=article.pk).exists()
    assert not ArticleFeedback.objects.filter(article_id=article.pk).exists()
    for slug in (article.slug, "old-printer-setup"):
        assert client.get(reverse("knowledge:article", args=[slug])).status_code == 404
    event = AuditEvent.objects.get(action="delete", object_id=str(article.pk))
    assert event.actor_id == admin_user.pk and event.changes["status"][0] == "archived"
    assert client.get(reverse("knowledge:home")).status_code == 200
    assert client.get(reverse("knowledge:search"), {"q": "printer"}).status_code == 200
    assert client.get(reverse("knowledge:manage_list"), {"status": "review"}).status_code == 200


def test_mixed_delete_selected_as_administrator(client):
    """ "Delete selected" over a draft, an archived and a published article names only the published
    one and deletes none; without it, the draft and the archived one go, each with an audit event and a
    History entry, and the message counts 2."""
    admin_user = make_administrator(is_superuser=True)
    client.force_login(admin_user)
    draft = make_article(title="Mixed draft", status="draft")
    archived = _archived("Mixed archived")
    live = make_article(title="Mixed live")
    chosen = {"action": "delete_selected", "_selected_action": [str(a.pk) for a in (draft, archived, live)]}
    page = _shown(client.post(changelist_url(Article), chosen))
    assert "Cannot delete articles" in page and "“Mixed live”" in page
    assert "“Mixed archived”:" not in page and "“Mixed draft”:" not in page
    client.post(changelist_url(Article), chosen | {"post": "yes"})
    assert _exists(draft) and _exists(archived) and _exists(live)

    chosen["_selected_action"] = [str(draft.pk), str(archived.pk)]
    response = client.post(changelist_url(Article), chosen | {"post": "yes"})
    assert not _exists(draft) and not _exists(archived) and _exists(live)
    assert "Deleted 2 articles." in notes(response)
    for article in (draft, archived):
        assert AuditEvent.objects.filter(action="delete", object_id=str(article.pk)).count() == 1
        assert LogEntry.objects.filter(object_id=str(article.pk), action_flag=DELETION).count() == 1


def test_supervisor_with_admin_access_cannot_delete_archived(client):
    """a supervisor given admin-site access (is_staff) neither deletes an archived article in the
    admin nor on its KB page (no role but Administrator holds delete_article)."""
    supervisor = make_supervisor(TeamFactory(), is_staff=True)
    article = _archived("Kept by supervisors", supervisor)
    client.force_login(supervisor)
    client.post(delete_url(article), {"post": "yes"})
    client.post(
        changelist_url(Article),
        {"action": "delete_selected", "_selected_action": [str(article.pk)], "post": "yes"},
    )
    response = client.post(_action(article.slug), _page(article), follow=True)
    assert _exists(article)
    assert services.NOT_DELETABLE in _shown(response)


def test_a_role_an_administrator_made_with_delete_article_deletes_archived(client):
    """An administrator's own role that holds delete_article (a records officer, say) deletes an archived
    article as an Administrator does; the permission decides, not the role's name."""
    from tests.factories import give_custom_role

    officer = give_custom_role(
        make_supervisor(TeamFactory()), "Records officer", [("knowledge", "delete_article")]
    )
    article = _archived("Taken down on request", officer)
    client.force_login(officer)
    response = client.post(_action(article.slug), _page(article), follow=True)
    assert not _exists(article)
    assert "Deleted “Taken down on request”." in _shown(response)


def test_customer_and_agent_posting_the_delete(client):
    """a customer posting the delete of an archived article is refused without learning of it, an
    agent (even its author) is told it may not, and it stays."""
    author = make_agent(TeamFactory())
    editor = make_supervisor(TeamFactory())
    article = services.article_create(title="Author's piece", body="Text.", actor=author)
    services.article_publish(article, actor=editor)
    article = services.article_archive(Article.objects.get(pk=article.pk), actor=editor)
    client.force_login(make_customer())
    assert client.post(_action(article.slug), _page(article)).status_code in (403, 404)
    for agent in (author, make_agent(TeamFactory())):
        client.force_login(agent)
        response = client.post(_action(article.slug), _page(article))
        assert response.status_code in (302, 404)
    assert _exists(article)
    assert not services.article_may_delete(article, author)
