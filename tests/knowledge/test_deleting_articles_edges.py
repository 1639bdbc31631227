"""Deleting articles at their edges (knowledge.services.article_delete and article_may_delete, the
"Delete…" disclosure of /kb/manage/<slug>/edit/, views_manage._delete, the admin): a delete sent again
where the address now leads elsewhere, the admin held to the same rule, old addresses, search statistics,
roles lost, the audit event; and "Mark verified" and "Restore this version" sent from overtaken pages."""

from html import unescape

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from accounts import rbac, roles
from accounts import services as account_services
from audit.models import AuditEvent
from knowledge import services
from knowledge.models import Article, ArticleSlug, SearchTerm
from knowledge.views_manage import NOTHING_CHANGED
from tests.admin_pages import delete_url
from tests.conftest import notes
from tests.factories import (
    TeamFactory,
    loaded,
    make_administrator,
    make_agent,
    make_article,
    make_supervisor,
)

pytestmark = pytest.mark.django_db

DELETED_ALREADY = "That article was deleted already."


def _action(slug: str, action: str = "delete") -> str:
    return reverse("knowledge:manage_action", args=[slug, action])


def _edit(slug: str) -> str:
    return reverse("knowledge:manage_edit", args=[slug])


def _shown(response) -> str:
    return unescape(response.content.decode())


def _exists(article) -> bool:
    return Article.objects.filter(pk=article.pk).exists()


def _page(article) -> dict:
    """What the page's Delete posts: when it was loaded, and which article it showed."""
    return loaded(article) | {"article": article.pk}


# --- a delete sent again ---------------------------------------------------------------------------


def test_delete_sent_again_after_the_same_title_was_written_again_says_deleted_already(client, author):
    """An author deletes their draft "Reset the router", starts it again under the same title (it takes
    the freed address), then the Delete of the first page is sent again (a second tab, Back and resend):
    told the article that page showed was deleted already, not sent to the new draft's page as if a
    colleague had changed it; the new draft stays."""
    client.force_login(author)
    first = services.article_create(title="Reset the router", body="Hold the button.", actor=author)
    page = _page(first)
    assert client.post(_action(first.slug), page).status_code == 302
    assert not _exists(first)
    again = services.article_create(title="Reset the router", body="Hold it longer.", actor=author)
    assert again.slug == first.slug  # the address was freed by the delete, and taken again

    response = client.post(_action(first.slug), page, follow=True)
    shown = _shown(response)
    assert _exists(again)
    assert services.STALE_ARTICLE not in shown
    assert DELETED_ALREADY in shown


def test_delete_sent_again_where_another_articles_old_link_leads_says_deleted_already(client, author, editor):
    """A published article once had the address "reset" (it was renamed before publishing, so "reset"
    still leads to it); a draft was later given that address (an import naming its slug). An editor deletes
    the draft; the Delete sent again from the same page is told so on the list, not taken to the published
    article's page."""
    published = services.article_create(title="Reset", body="Hold the button.", actor=editor)
    published = services.article_update(published, title="Reset the router for good", actor=editor)
    assert ArticleSlug.objects.filter(slug="reset", article=published).exists()
    services.article_publish(published, actor=editor)
    draft = services.article_create(
        title="Reset (draft)", body="Work in progress.", slug="reset", actor=author
    )
    client.force_login(editor)
    page = _page(draft)
    client.post(_action("reset"), page)
    assert not _exists(draft)

    response = client.post(_action("reset"), page, follow=True)
    shown = _shown(response)
    assert response.redirect_chain[-1][0] == reverse("knowledge:manage_list"), response.redirect_chain
    assert services.STALE_ARTICLE not in shown
    assert DELETED_ALREADY in shown


# --- the admin ---------------------------------------------------------------------------------------


def test_the_admin_does_not_delete_a_published_article(client):
    """The admin holds to the knowledge base's rule: a published article is neither deleted from its
    delete page nor by "Delete selected articles" (it is archived first; services.article_may_delete)."""
    client.force_login(make_administrator(is_superuser=True))
    one = make_article(title="Linked from everywhere")
    other = make_article(title="Voted helpful by many")
    client.post(delete_url(one), {"post": "yes"})
    client.post(
        reverse("admin:knowledge_article_changelist"),
        {"action": "delete_selected", "_selected_action": [str(other.pk)], "post": "yes"},
    )
    assert _exists(one), "deleted from its admin delete page"
    assert _exists(other), "deleted by the admin's Delete selected action"


def test_an_archived_article_is_deleted_by_an_administrator_alone_on_its_page_and_in_the_admin(
    client, editor
):
    """Archived (out of readers' sight), an article may be deleted for good by an administrator: its page
    offers "Delete…" to them, and the admin's delete goes through the service (its audit event names title,
    address and status; the History entry is written). An editor who is no administrator is refused, with
    the reason, and not offered the button."""
    first = services.article_archive(make_article(title="Old pricing"), actor=editor)
    second = services.article_archive(make_article(title="Older pricing"), actor=editor)
    client.force_login(editor)
    assert "Delete…" not in client.get(_edit(first.slug)).content.decode()
    response = client.post(_action(first.slug), _page(first), follow=True)
    assert _exists(first) and services.NOT_DELETABLE in _shown(response)
    client.post(delete_url(first), {"post": "yes"})  # (supervisors do not open the admin at all)
    assert _exists(first)

    admin = make_administrator()
    client.force_login(admin)
    assert "Delete…" in client.get(_edit(first.slug)).content.decode()
    response = client.post(_action(first.slug), _page(first), follow=True)
    assert not _exists(first) and "Deleted “Old pricing”." in _shown(response)
    client.force_login(make_administrator(is_superuser=True))
    assert client.post(delete_url(second), {"post": "yes"}).status_code == 302
    assert not _exists(second)
    event = AuditEvent.objects.get(action="delete", object_id=str(second.pk))
    assert event.changes["title"][0] == "Older pricing" and event.changes["status"][0] == "archived"
    from django.contrib.admin.models import LogEntry

    assert LogEntry.objects.filter(object_id=str(second.pk), action_flag=3).exists()


def test_delete_selected_with_a_published_article_among_them_names_it_with_the_reason(client):
    """ "Delete selected articles" over a draft and a published article answers "Cannot delete articles"
    naming the published one and why (archive it first), and deletes neither."""
    client.force_login(make_administrator(is_superuser=True))
    draft, live = make_article(title="A draft", status="draft"), make_article(title="Live one")
    chosen = {"action": "delete_selected", "_selected_action": [str(draft.pk), str(live.pk)]}
    page = _shown(client.post(reverse("admin:knowledge_article_changelist"), chosen))
    assert "Cannot delete articles" in page
    assert f"“Live one”: {services.NOT_DELETABLE}" in page and "“A draft”" not in page
    client.post(reverse("admin:knowledge_article_changelist"), chosen | {"post": "yes"})
    assert _exists(draft) and _exists(live)


# --- around a delete -----------------------------------------------------------------------------------


def test_delete_needs_post_and_a_csrf_token(author):
    """GET and HEAD on the delete address change nothing (405); a POST without the CSRF token is
    refused (403) and the draft stays."""
    draft = services.article_create(title="Keep me", body="Text.", actor=author)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(author)
    assert browser.get(_action(draft.slug)).status_code == 405
    assert browser.head(_action(draft.slug)).status_code == 405
    assert browser.post(_action(draft.slug), loaded(draft)).status_code == 403
    assert _exists(draft)


def test_a_post_without_the_page_time_deletes_nothing(client, author):
    """a hand-made post without loaded_at is refused as stale, not taken as "no check"."""
    draft = services.article_create(title="Keep me", body="Text.", actor=author)
    client.force_login(author)
    response = client.post(_action(draft.slug), {}, follow=True)
    assert _exists(draft) and services.STALE_ARTICLE in _shown(response)


def test_renamed_draft_deleted_by_its_old_address_and_old_addresses_lead_nowhere(client, author):
    """a draft renamed twice is deleted through its first address (its page found by at_address),
    its old addresses go with it (manage and public pages 404), and the freed addresses can be taken by a
    new draft without a "-2"."""
    draft = services.article_create(title="Printer jam", body="Open tray 2.", actor=author)
    draft = services.article_update(draft, title="Printer jams", actor=author)
    draft = services.article_update(draft, title="Clear a printer jam", actor=author)
    assert set(draft.old_slugs.values_list("slug", flat=True)) == {"printer-jam", "printer-jams"}
    client.force_login(author)
    assert client.get(_edit("printer-jam"))["Location"] == _edit("clear-a-printer-jam")
    response = client.post(_action("printer-jam"), loaded(draft), follow=True)
    assert "Deleted “Clear a printer jam”." in _shown(response)
    assert not _exists(draft) and not ArticleSlug.objects.exists()
    for slug in ("printer-jam", "printer-jams", "clear-a-printer-jam"):
        assert client.get(_edit(slug)).status_code == 404
        assert client.get(reverse("knowledge:article", args=[slug])).status_code == 404
    assert services.article_create(title="Printer jam", body="New.", actor=author).slug == "printer-jam"


def test_another_articles_old_link_leads_to_it_again_once_the_draft_there_is_deleted(client, editor):
    """a draft standing at the address a published article had before its rename hides nothing
    from readers (the old link leads to the published one), and deleting the draft leaves that link."""
    published = services.article_create(title="Reset", body="Hold the button.", actor=editor)
    published = services.article_update(published, title="Reset the router for good", actor=editor)
    services.article_publish(published, actor=editor)
    draft = services.article_create(title="Reset (draft)", body="Draft.", slug="reset", actor=editor)
    reader = Client()
    assert reader.get(reverse("knowledge:article", args=["reset"]))["Location"].endswith(
        "/reset-the-router-for-good/"
    )
    services.article_delete(draft, actor=editor)
    assert ArticleSlug.objects.filter(slug="reset", article=published).exists()
    assert reader.get(reverse("knowledge:article", args=["reset"]))["Location"].endswith(
        "/reset-the-router-for-good/"
    )


def test_search_statistics_and_review_queue_after_deleting(client, author, editor):
    """deleting a draft and an article in review leaves the search term counts (kept by the
    statement-level triggers) as they were, with the published article still counted; the review queue
    no longer lists the deleted one."""
    make_article(title="Unique zebra crossing", body="Zebra words.")
    before = dict(SearchTerm.objects.values_list("lexeme", "documents"))
    draft = services.article_create(title="Zebra draft", body="Zebra zebra quokka.", actor=author)
    review = services.article_create(title="Quokka review", body="Quokka.", actor=author)
    review = services.article_submit_for_review(review, actor=author)
    client.force_login(editor)
    queue = reverse("knowledge:manage_list") + "?status=review"
    assert "Quokka review" in client.get(queue).content.decode()
    client.post(_action(review.slug), loaded(review))
    services.article_delete(draft, actor=author)
    assert not _exists(review) and not _exists(draft)
    client.get(queue)  # the page that shows "Deleted “Quokka review”."
    assert "Quokka review" not in client.get(queue).content.decode()
    assert dict(SearchTerm.objects.values_list("lexeme", "documents")) == before
    assert before.get("") == 1 and "quokka" not in before
    assert client.get(reverse("knowledge:search") + "?q=zebra").status_code == 200


def test_a_draft_an_editor_deleted_is_told_to_its_author_as_deleted_already(client, author, editor):
    """The author presses Delete on a page of their draft that an editor deleted meanwhile: told it was
    deleted already (no server error, nothing more recorded). A hand-made post naming no article (a page
    from before the form posted it) is a 404: the author deleted nothing at that address."""
    draft = services.article_create(title="Reset the router", body="Hold the button.", actor=author)
    page = _page(draft)
    services.article_delete(draft, actor=editor, loaded_at=None)
    client.force_login(author)
    response = client.post(_action(draft.slug), page, follow=True)
    assert response.redirect_chain[-1][0] == reverse("knowledge:manage_list")
    assert DELETED_ALREADY in _shown(response)
    assert client.post(_action(draft.slug), loaded_at_only(page)).status_code == 404
    assert AuditEvent.objects.filter(action="delete").count() == 1


def test_that_an_article_was_deleted_is_told_only_to_whom_it_was_no_secret(client, author, editor):
    """An agent who never saw a colleague's draft posts a delete naming its id after it was deleted: the
    404 of an id never used, not "deleted already", which would tell them an article by that id existed.
    An editor, who could read every draft, is told."""
    draft = services.article_create(title="Salary bands", body="Not yet.", actor=author)
    page = _page(draft)
    services.article_delete(draft, actor=author, loaded_at=None)
    never_used = {**page, "article": draft.pk + 1000}
    client.force_login(make_agent(TeamFactory()))
    assert client.post(_action(draft.slug), page).status_code == 404
    assert client.post(_action(draft.slug), never_used).status_code == 404
    client.force_login(editor)
    assert DELETED_ALREADY in _shown(client.post(_action(draft.slug), page, follow=True))
    assert client.post(_action(draft.slug), never_used).status_code == 404


def loaded_at_only(page: dict) -> dict:
    return {"loaded_at": page["loaded_at"]}


def test_an_author_who_lost_the_author_role_keeps_reading_but_cannot_delete(client):
    """an author moved from Agent to a desk role that cannot write articles (a custom role with
    view_support_queue only) still opens their draft read-only, without the Delete disclosure, and the
    service refuses them; an editor may still delete it."""
    from tests.factories import give_custom_role

    writer = make_agent(TeamFactory())
    draft = services.article_create(title="Orphan draft", body="Text.", actor=writer)
    account_services.role_revoke(writer, roles.AGENT, actor=None)
    give_custom_role(writer, "Tier 0", [("accounts", "view_support_queue")])
    rbac.forget(writer)
    assert not rbac.has_permission(writer, services.AUTHOR) and rbac.is_agent(writer)
    client.force_login(writer)
    page = client.get(_edit(draft.slug))
    assert page.status_code == 200 and "Delete…" not in page.content.decode()
    response = client.post(_action(draft.slug), loaded(draft), follow=True)
    assert _exists(draft) and services.NOT_YOUR_DRAFT in _shown(response)
    with pytest.raises(PermissionDenied):
        services.article_delete(draft, actor=writer)
    assert services.article_delete(draft, actor=make_supervisor(TeamFactory())) is True


def test_the_audit_event_of_a_delete_names_title_address_and_status(client, author):
    """the delete event keeps what was deleted (title, slug, status), by the author's hand."""
    draft = services.article_create(title="Reset the router", body="Hold the button.", actor=author)
    services.article_submit_for_review(draft, actor=author)
    client.force_login(author)
    client.post(_action(draft.slug), loaded(draft))
    event = AuditEvent.objects.get(
        action="delete", object_type=ContentType.objects.get_for_model(Article), object_id=str(draft.pk)
    )
    assert event.actor == author
    assert event.changes["status"][0] == "review" and event.changes["slug"][0] == "reset-the-router"


def test_verify_after_the_same_editor_verified_from_another_tab(client, editor):
    """two tabs of one published article; "Mark verified" in the first, then in the second (which
    showed no check): one verification, said as theirs ("marked verified"), not "verified already by"
    themselves as a stranger."""
    article = make_article(title="Checked twice")
    client.force_login(editor)
    second_tab = {**loaded(article), "verified_at": ""}
    client.post(_action(article.slug, "verify"), second_tab)
    response = client.post(_action(article.slug, "verify"), second_tab, follow=True)
    shown = _shown(response)
    assert "“Checked twice” marked verified." in shown and "verified already" not in shown
    assert AuditEvent.objects.filter(action="verify", object_id=str(article.pk)).count() == 1


def test_restore_after_a_colleague_restored_the_same_version(client):
    """two editors restore the same version from pages loaded before either did: the version is
    restored once (one new published version), the second told it is restored, not refused as stale nor
    "nothing changed". (It does not say a colleague did it, as "Mark verified" now does.)"""
    first_editor, second_editor = make_supervisor(TeamFactory()), make_supervisor(TeamFactory())
    article = make_article(title="Old title", body="Old body.")
    version = article.revisions.get()
    services.article_update(article, actor=first_editor, title="New title", body="New body.")
    page = loaded(article)
    services.article_restore_revision(
        article, version, actor=first_editor, loaded_at=Article.objects.get(pk=article.pk).updated_at
    )
    client.force_login(second_editor)
    response = client.post(reverse("knowledge:manage_restore", args=[article.slug, version.pk]), page)
    said = notes(response)
    assert [note for note in said if note.startswith("Restored the version of")], said
    assert NOTHING_CHANGED not in said and services.STALE_ARTICLE not in said
    assert article.revisions.count() == 3
