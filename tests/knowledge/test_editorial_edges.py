"""Knowledge-base editorial edges: stale-edit guards that a garbled page cannot switch off, every
published version reachable, old addresses that still vote, excerpts as the article reads, links
counted with or without their slash, one import record per article, and the refusals editors rely on."""

import json

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from accounts import services as account_services
from knowledge import services
from knowledge.importing import import_articles
from knowledge.models import Article, ArticleFeedback, Category
from tests.admin_pages import delete_url
from tests.factories import (
    CategoryFactory,
    TeamFactory,
    UserFactory,
    article_form_data,
    loaded,
    make_administrator,
    make_agent,
    make_article,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db


def test_a_save_from_an_editor_page_with_a_mangled_loaded_at_is_refused_as_stale(client):
    """A stale-edit guard that a garbled hidden field switches off is no guard: the workflow buttons
    refuse a `loaded_at` that does not parse (views_manage._posted_loaded_at: "matches no article, so
    the action is refused as stale"), and the editor's Save must do the same instead of silently
    overwriting a colleague's newer text."""
    editor = make_supervisor(TeamFactory())
    article = make_article(title="Shared", body="Original.")
    services.article_update(article, body="A colleague's newer text.", actor=make_supervisor())
    client.force_login(editor)
    url = reverse("knowledge:manage_edit", args=[article.slug])
    response = client.post(url, article_form_data(article, body="My text.", loaded_at="not-a-time"))
    assert response.status_code == 422
    assert Article.objects.get(pk=article.pk).body == "A colleague's newer text."


def test_every_published_version_stays_reachable_from_the_editor(client):
    """Each published version is kept "so editors can view and restore it" (ArticleRevision): an
    article edited 25 times must still offer its first version, as Zendesk's revision history does,
    not only the newest twenty."""
    editor = make_supervisor(TeamFactory())
    article = make_article(title="Often edited", body="Version 0 text")
    for number in range(1, 25):
        services.article_update(article, body=f"Version {number} text", actor=editor)
    first = article.revisions.order_by("created_at", "pk").first()
    assert article.revisions.count() == 25 and first.body == "Version 0 text"
    client.force_login(editor)
    url = reverse("knowledge:manage_edit", args=[article.slug])
    restore = reverse("knowledge:manage_restore", args=[article.slug, first.pk])
    newest = client.get(url).content.decode()
    assert restore not in newest and "Versions 1\N{EN DASH}20 of 25, newest first" in newest
    assert f'href="{url}?versions=2#versions" rel="next">Older</a>' in newest
    older = client.get(url, {"versions": 2}).content.decode()
    assert restore in older and "Versions 21\N{EN DASH}25 of 25" in older
    assert client.get(url, {"versions": "junk"}).status_code == 200


def test_a_revision_of_another_article_cannot_be_restored_by_editing_the_address(client):
    """Restore URLs carry the article's slug and a revision id: an id belonging to another article is
    404 and neither article changes."""
    editor = make_supervisor(TeamFactory())
    article = make_article(title="Printers", body="Printer text")
    other = make_article(title="Secret runbook", body="Runbook text", visibility="internal")
    client.force_login(editor)
    response = client.post(
        reverse("knowledge:manage_restore", args=[article.slug, other.revisions.get().pk]), loaded(article)
    )
    assert response.status_code == 404
    assert Article.objects.get(pk=article.pk).body == "Printer text"
    assert Article.objects.get(pk=other.pk).body == "Runbook text"


def test_an_agent_who_is_not_an_editor_cannot_restore_a_published_version(client):
    """Restoring rewrites a live article, which only editors may do: an agent's forged POST is refused
    with the reason and the article keeps its text."""
    article = make_article(title="Refunds", body="First text")
    services.article_update(article, body="Second text", actor=None)
    first = article.revisions.order_by("created_at", "pk").first()
    client.force_login(make_agent(TeamFactory()))
    response = client.post(
        reverse("knowledge:manage_restore", args=[article.slug, first.pk]), loaded(article), follow=True
    )
    assert services.NOT_EDITOR in response.content.decode()
    assert Article.objects.get(pk=article.pk).body == "Second text"


def test_a_vote_from_a_page_opened_before_a_rename_still_counts(client):
    """Renaming keeps old addresses working (ArticleSlug): a reader who opened the article before the
    rename and presses "Yes" posts to the old address, and their vote must count, not end in a 404."""
    article = make_article(title="Alpha", slug="alpha")
    services.article_update(article, slug="beta", actor=None)
    response = client.post(reverse("knowledge:vote", args=["alpha"]), {"helpful": "yes"})
    assert response.status_code in (302, 303, 307, 308)
    article.refresh_from_db()
    assert article.helpful_count == 1 and ArticleFeedback.objects.filter(article=article).count() == 1


def test_a_customer_cannot_vote_on_an_internal_article(client):
    """Feedback endpoints follow visibility: a customer posting a vote to a published internal article
    gets 404 and no vote is stored."""
    article = make_article(title="Escalation runbook", visibility="internal")
    client.force_login(make_customer())
    assert client.post(reverse("knowledge:vote", args=[article.slug]), {"helpful": "yes"}).status_code == 404
    assert not ArticleFeedback.objects.exists()


def test_workflow_actions_and_votes_need_a_csrf_token():
    """Every state change is a POST with CSRF: a forged cross-site form can neither publish an article
    in review nor cast a vote."""
    article = make_article(title="In review", status="review")
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_supervisor(TeamFactory()))
    assert (
        client.post(
            reverse("knowledge:manage_action", args=[article.slug, "publish"]), loaded(article)
        ).status_code
        == 403
    )
    assert Article.objects.get(pk=article.pk).status == "review"
    live = make_article(title="Live")
    assert client.post(reverse("knowledge:vote", args=[live.slug]), {"helpful": "yes"}).status_code == 403
    assert not ArticleFeedback.objects.exists()


def test_the_automatic_excerpt_shows_no_markdown_link_syntax_on_the_category_page(client):
    """The excerpt taken from the body is what customers read under each title in a category: it must
    be the text as the article shows it ("Open the sign-in page"), not raw markdown with the URL
    ("[sign-in page](https://…)") and backticks."""
    category = CategoryFactory(name="Accounts", slug="accounts")
    make_article(
        title="Reset your password",
        body="Open the [sign-in page](https://example.com/signin) and press `Reset`.",
        category=category,
    )
    page = client.get(reverse("knowledge:category", args=["accounts"])).content.decode()
    assert "Open the sign-in page and press Reset." in page
    assert "](https://" not in page


def test_the_automatic_excerpt_keeps_hash_and_star_inside_words():
    """Stripping markdown must not damage the words: "C#" is a product name, and "5 * 3" arithmetic;
    the excerpt of "Install the C# SDK" must not read "Install the C SDK"."""
    article = make_article(title="SDK", body="Install the C# SDK, then run 5 * 3 tests.")
    assert article.excerpt == "Install the C# SDK, then run 5 * 3 tests."


def test_a_reply_linking_an_article_without_the_trailing_slash_counts_a_use():
    """A link typed without its trailing slash still opens the article (APPEND_SLASH), and the reply
    check already treats it as a link to that article (ARTICLE_ADDRESS); the article's use count, which
    says how often agents answered with it, must count it too."""
    team = TeamFactory()
    agent = make_agent(team)
    article = make_article(title="Clear the cache")
    ticket = make_ticket(make_customer(), team=team)
    ticket_services.ticket_reply(
        ticket, body=f"See https://testserver/kb/articles/{article.slug} for the steps.", actor=agent
    )
    assert Article.objects.get(pk=article.pk).use_count == 1


def test_an_import_naming_one_article_by_its_new_and_its_old_slug_refuses_the_second_record(tmp_path):
    """Two records of one import that reach the same article (one by its current slug, one by a slug
    it had before a rename) would silently make the second overwrite the first, exactly what the
    duplicate-slug check exists to prevent: the second must be skipped with a reason."""
    article = make_article(title="Reset your password", body="Old text", slug="reset-password")
    services.article_update(article, slug="password-reset", actor=None)
    source = tmp_path / "articles.jsonl"
    source.write_text(
        json.dumps({"slug": "password-reset", "title": "Reset your password", "body": "First record"})
        + "\n"
        + json.dumps({"slug": "reset-password", "title": "Reset your password", "body": "Second record"})
        + "\n",
        encoding="utf-8",
    )
    report = import_articles(source)
    assert Article.objects.get(pk=article.pk).body == "First record"
    assert report.updated == ["password-reset"]
    assert [where for where, _ in report.skipped] == ["line 2"]


def test_the_admin_refuses_to_delete_a_category_that_holds_articles(client):
    """Deleting a category would silently drop its articles' category (SET_NULL): both the delete page
    and the changelist's "Delete selected" keep it."""
    category = CategoryFactory(name="Billing")
    make_article(title="Invoices", category=category)
    client.force_login(make_administrator())
    client.post(delete_url(category), {"post": "yes"})
    assert Category.objects.filter(pk=category.pk).exists()
    client.post(
        reverse("admin:knowledge_category_changelist"),
        {"action": "delete_selected", "_selected_action": [category.pk], "post": "yes"},
    )
    assert Category.objects.filter(pk=category.pk).exists()
    assert Article.objects.get(title="Invoices").category_id == category.pk


def test_an_excerpt_taken_the_earlier_way_still_follows_its_body():
    """Articles saved before excerpts came from the rendered body hold one with the link's markdown in
    it; it was taken automatically all the same, so a new body replaces it instead of leaving it stale."""
    article = make_article(title="Links", body="See the [portal](https://example.com/portal) first.")
    old_style = "See the [portal](https://example.com/portal) first."
    Article.objects.filter(pk=article.pk).update(excerpt=old_style)
    article.refresh_from_db()
    services.article_update(article, body="Open the `Settings` page.", actor=None)
    assert Article.objects.get(pk=article.pk).excerpt == "Open the Settings page."


def test_only_editors_may_restore_a_published_version_even_on_their_own_reopened_draft(client):
    """Published versions are restored by editors only: the author of an article published, archived
    and reopened as their draft edits the draft, but does not get the versions back."""
    author, editor = make_agent(TeamFactory()), make_supervisor(TeamFactory())
    article = services.article_create(title="Printer setup", body="Version one", actor=author)
    services.article_publish(article, actor=editor)
    services.article_update(article, body="Version two", actor=editor)
    services.article_archive(article, actor=editor)
    services.article_return_to_draft(article, actor=editor)
    first = article.revisions.get(body="Version one")
    client.force_login(author)
    page = client.get(reverse("knowledge:manage_edit", args=[article.slug])).content.decode()
    assert "Restore this version" not in page
    response = client.post(
        reverse("knowledge:manage_restore", args=[article.slug, first.pk]), loaded(article), follow=True
    )
    assert services.NOT_EDITOR in response.content.decode()
    assert Article.objects.get(pk=article.pk).body == "Version two"
    client.force_login(editor)
    client.post(reverse("knowledge:manage_restore", args=[article.slug, first.pk]), loaded(article))
    assert Article.objects.get(pk=article.pk).body == "Version one"


def test_earlier_published_versions_are_shown_to_editors_only(client):
    """An agent who is no editor reads the live article in the editor, not the text an editor took off
    the site."""
    article = make_article(title="Passwords", body="Old text with the admin PIN 4711")
    services.article_update(article, body="New text", actor=make_supervisor(TeamFactory()))
    client.force_login(make_agent(TeamFactory()))
    page = client.get(reverse("knowledge:manage_edit", args=[article.slug])).content.decode()
    assert "New text" in page and "4711" not in page and "Published versions" not in page
    client.force_login(make_supervisor(TeamFactory()))
    assert "4711" in client.get(reverse("knowledge:manage_edit", args=[article.slug])).content.decode()


def test_a_published_article_with_no_version_kept_keeps_its_text_before_the_first_edit():
    """Articles published without going through the services (the demo fixture, a table loaded by
    hand) have no version: their first edit keeps the text it replaces, dated when it was published,
    so it can be put back."""
    article = make_article(title="Refunds", body="Original text")
    article.revisions.all().delete()
    editor = make_supervisor(TeamFactory())
    services.article_update(article, body="Edited text", actor=editor)
    assert list(article.revisions.order_by("created_at", "pk").values_list("body", flat=True)) == [
        "Original text",
        "Edited text",
    ]
    assert article.revisions.get(body="Original text").created_at == article.published_at
    services.article_update(article, excerpt="Only the excerpt", actor=editor)  # no new text: no version
    assert article.revisions.count() == 2


def test_a_draft_at_an_old_address_leaves_its_links_to_the_published_article_until_it_is_published(client):
    """Old links lead to the renamed article until an article readers can see stands at that address:
    a draft taking it changes nothing for them; once published, the address is the draft's."""
    live = make_article(title="Live", slug="old-address")
    services.article_update(live, slug="new-address", actor=None)
    editor = make_supervisor(TeamFactory())
    draft = services.article_create(title="Not ready", body="x", slug="old-address", actor=editor)
    response = client.get("/kb/articles/old-address/")
    assert response.status_code == 301 and response["Location"] == "/kb/articles/new-address/"
    services.article_publish(draft, actor=editor)
    assert client.get("/kb/articles/old-address/").status_code == 200
    assert not live.old_slugs.filter(slug="old-address").exists()


def test_a_button_pressed_on_a_page_opened_before_a_rename_reaches_the_article(client):
    """Publish from a review page opened before the address changed: not a 404; the article's own
    check of the page's age refuses it, as a change made since the page was read."""
    author, editor = make_agent(TeamFactory()), make_supervisor(TeamFactory())
    article = services.article_create(title="In review", body="x", actor=author, slug="queued")
    services.article_submit_for_review(article, actor=author)
    opened = Article.objects.get(pk=article.pk).updated_at.isoformat()
    services.article_update(article, slug="queued-renamed", actor=None)
    client.force_login(editor)
    url = reverse("knowledge:manage_action", args=["queued", "publish"])
    response = client.post(url, {"loaded_at": opened}, follow=True)
    assert response.redirect_chain[-1][0] == "/kb/manage/queued-renamed/edit/"
    assert services.STALE_ARTICLE in response.content.decode().replace("&#x27;", "'")
    assert Article.objects.get(pk=article.pk).status == Article.Status.REVIEW


def test_renaming_a_draft_at_another_articles_old_address_leaves_that_address_to_it(client):
    """A draft sitting at a published article's old address never took it: renamed, it does not carry
    the address off, and the old links still lead to the published article."""
    published = make_article(title="Reset", slug="reset-password")
    services.article_update(published, actor=None, slug="reset-your-password")
    draft = services.article_create(
        title="Reset (new draft)", body="Soon.", actor=None, slug="reset-password"
    )
    services.article_update(draft, actor=None, slug="reset-draft-elsewhere")
    response = client.get("/kb/articles/reset-password/")
    assert response.status_code == 301 and response["Location"] == "/kb/articles/reset-your-password/"


def test_an_article_written_with_decomposed_accents_is_found_however_the_search_is_typed(client):
    """Written on macOS or imported with é as e and an accent, stored composed: found by "résumé"
    typed either way."""
    import unicodedata

    article = make_article(title="Résumé", body="x")
    services.article_update(
        article,
        title=unicodedata.normalize("NFD", "Résumé upload guide"),
        body=unicodedata.normalize("NFD", "Upload your résumé as PDF."),
        actor=None,
    )
    for typed in ("résumé", unicodedata.normalize("NFD", "résumé")):
        page = client.get(reverse("knowledge:search"), {"q": typed})
        assert [hit.article.pk for hit in page.context["hits"]][:1] == [article.pk], typed


def test_an_agent_whose_role_writes_no_articles_is_told_before_typing_one(client):
    """A role an administrator made ("Tier 2": the desk, no knowledge.add_article): no "New article" on
    the list, and the editor refuses up front. Before the fix it offered a writable editor and refused
    only the save, with "Only editors may do that." (they may not even author)."""
    role = Group.objects.create(name="Tier 2")
    role.permissions.add(Permission.objects.get(codename="view_support_queue"))
    agent = UserFactory()
    account_services.role_assign(agent, "Tier 2", actor=None)
    client.force_login(agent)
    listing = client.get(reverse("knowledge:manage_list"))
    assert listing.status_code == 200
    assert reverse("knowledge:manage_new") not in listing.content.decode()
    assert client.get(reverse("knowledge:manage_new")).status_code == 403
    posted = client.post(
        reverse("knowledge:manage_new"), {"title": "Mine", "body": "Text.", "visibility": "public"}
    )
    assert posted.status_code == 403
    assert not Article.objects.exists()
    with pytest.raises(PermissionDenied, match=services.NOT_AUTHOR):
        services.article_create(title="Mine", body="Text.", actor=agent)
    # An agent of the stock role writes them.
    client.force_login(make_agent(TeamFactory()))
    assert reverse("knowledge:manage_new") in client.get(reverse("knowledge:manage_list")).content.decode()
    assert client.get(reverse("knowledge:manage_new")).status_code == 200
