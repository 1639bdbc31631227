"""The knowledge base as readers, authors and editors use it (revisions, slugs, review queue,
votes, categories, related articles and search)."""

import itertools

import pytest
from django.test import Client
from django.urls import reverse

from knowledge import services
from knowledge.models import Article, ArticleFeedback, ArticleRevision, Category
from knowledge.views_manage import NOTHING_CHANGED
from tests.conftest import notes
from tests.factories import (
    CategoryFactory,
    TeamFactory,
    make_administrator,
    make_agent,
    make_article,
    make_customer,
    make_supervisor,
)

pytestmark = pytest.mark.django_db


def _url(slug):
    return reverse("knowledge:article", args=[slug])


def _fresh(article):
    return Article.objects.get(pk=article.pk)


# --------------------------------------------------------------------------------------------------
# Revisions


def test_each_publish_and_published_edit_keeps_a_revision_with_who_and_text(client):
    """Publishing keeps a revision (who, title, body); an editor's edit of the published text keeps
    another, both listed on the editor page for the editor."""
    author = make_agent(TeamFactory())
    editor = make_supervisor(TeamFactory())
    article = services.article_create(title="Printer setup", body="First text.", actor=author)
    services.article_submit_for_review(article, actor=author)
    services.article_publish(article, actor=editor)
    services.article_update(_fresh(article), actor=editor, body="Second text.")
    revisions = list(ArticleRevision.objects.filter(article=article).order_by("pk"))
    assert [(r.title, r.body, r.created_by_id) for r in revisions] == [
        ("Printer setup", "First text.", editor.pk),
        ("Printer setup", "Second text.", editor.pk),
    ]
    client.force_login(editor)
    page = client.get(reverse("knowledge:manage_edit", args=[article.slug])).content.decode()
    assert "Published versions" in page and "First text." in page


def test_an_editor_restores_an_earlier_version_and_a_new_revision_is_kept(client):
    """Restoring an earlier version puts its title and body back and keeps the restored text as the
    newest revision."""
    editor = make_supervisor(TeamFactory())
    article = make_article(title="Old title", body="Old body.")
    first = article.revisions.get()
    services.article_update(article, actor=editor, title="New title", body="New body.")
    article = _fresh(article)
    client.force_login(editor)
    response = client.post(
        reverse("knowledge:manage_restore", args=[article.slug, first.pk]),
        {"loaded_at": article.updated_at.isoformat()},
    )
    assert response.status_code == 302
    restored = _fresh(article)
    assert (restored.title, restored.body) == ("Old title", "Old body.")
    assert restored.revisions.count() == 3


def test_a_non_editor_agent_cannot_restore_a_revision_by_posting(client):
    """An agent without editor rights posting a restore is refused; the text stays."""
    editor = make_supervisor(TeamFactory())
    article = make_article(title="Refunds", body="Original.")
    first = article.revisions.get()
    services.article_update(article, actor=editor, body="Current.")
    article = _fresh(article)
    client.force_login(make_agent(TeamFactory()))
    response = client.post(
        reverse("knowledge:manage_restore", args=[article.slug, first.pk]),
        {"loaded_at": article.updated_at.isoformat()},
    )
    assert response.status_code in (302, 403, 404)
    assert _fresh(article).body == "Current."


def test_a_customer_restoring_a_revision_gets_404(client):
    """Customers never reach the authoring pages: a restore post is a 404 and changes nothing."""
    article = make_article(body="Original.")
    first = article.revisions.get()
    services.article_update(article, actor=None, body="Current.")
    client.force_login(make_customer())
    response = client.post(reverse("knowledge:manage_restore", args=[article.slug, first.pk]))
    assert response.status_code == 404
    assert _fresh(article).body == "Current."


def test_restoring_a_revision_of_another_article_is_404(client):
    """A revision id belonging to another article cannot be restored through this article's address."""
    one = make_article(title="One", body="One body.")
    other = make_article(title="Other", body="Other body.")
    client.force_login(make_supervisor(TeamFactory()))
    response = client.post(
        reverse("knowledge:manage_restore", args=[one.slug, other.revisions.get().pk]),
        {"loaded_at": one.updated_at.isoformat()},
    )
    assert response.status_code == 404
    assert _fresh(one).body == "One body."


def test_a_double_clicked_restore_restores_once_and_says_so_twice(client):
    """ "Restore this version" pressed twice from one page: the first restores (one new revision), the
    second, from the page the first made stale, finds the text as that version: told it is restored (not
    that nothing changed, as a restore of the current text is), and nothing more is written."""
    editor = make_supervisor(TeamFactory())
    article = make_article(title="Old title", body="Old body.")
    first = article.revisions.get()
    services.article_update(article, actor=editor, title="New title", body="New body.")
    page = {"loaded_at": _fresh(article).updated_at.isoformat()}
    client.force_login(editor)
    restore = reverse("knowledge:manage_restore", args=[article.slug, first.pk])
    assert client.post(restore, page, follow=True).status_code == 200  # its message read
    restored = _fresh(article)
    again = client.post(restore, page)
    assert [note for note in notes(again) if "Restored the version of" in note]
    assert not {services.STALE_ARTICLE, NOTHING_CHANGED} & set(notes(again))
    assert _fresh(article).updated_at == restored.updated_at and article.revisions.count() == 3


def test_a_stale_restore_is_refused_with_a_message(client):
    """A restore from a page loaded before a colleague's edit is refused with the stale message, and
    the colleague's text stays."""
    editor = make_supervisor(TeamFactory())
    article = make_article(body="Original.")
    first = article.revisions.get()
    loaded_at = article.updated_at.isoformat()
    services.article_update(article, actor=make_supervisor(TeamFactory()), body="Colleague's change.")
    client.force_login(editor)
    response = client.post(
        reverse("knowledge:manage_restore", args=[article.slug, first.pk]), {"loaded_at": loaded_at}
    )
    assert response.status_code == 302
    assert _fresh(article).body == "Colleague's change."
    assert services.STALE_ARTICLE in " ".join(notes(response))


def test_a_restore_posted_without_loaded_at_does_not_overwrite_a_colleagues_draft_edit(client):
    """A restore posted without the page's loaded_at (a page cached from before, a hand-made post) must
    be refused like the editor refuses such a save (forms.LoadedAtForm: "a save without it would skip
    the check and overwrite a colleague's change"). On a reopened draft nothing keeps the colleague's
    text, so before the fix (which let such a post skip the check) it was lost for good."""
    editor = make_supervisor(TeamFactory())
    article = make_article(body="Published text.")
    first = article.revisions.get()
    services.article_archive(article, actor=editor)
    services.article_return_to_draft(_fresh(article), actor=editor)
    colleague = make_supervisor(TeamFactory())
    services.article_update(_fresh(article), actor=colleague, body="Hours of new work.")
    client.force_login(editor)
    client.post(reverse("knowledge:manage_restore", args=[article.slug, first.pk]))
    assert _fresh(article).body == "Hours of new work."


def test_a_publish_posted_without_loaded_at_is_refused_as_stale(client):
    """Publish, like every button of the editor's page, sends when the page was loaded: a post without
    it cannot tell whether the words it publishes are the ones the editor read, and is refused."""
    editor = make_supervisor(TeamFactory())
    author = make_agent(TeamFactory())
    article = services.article_create(title="Unread", body="Words nobody read.", actor=author)
    services.article_submit_for_review(article, actor=author)
    client.force_login(editor)
    response = client.post(reverse("knowledge:manage_action", args=[article.slug, "publish"]))
    assert response.status_code == 302
    assert _fresh(article).status == "review"
    assert services.STALE_ARTICLE in " ".join(notes(response))


def test_restoring_a_revision_of_an_archived_article_keeps_it_archived_and_hidden(client):
    """An editor may restore a version of an archived article: the text comes back, the article stays
    archived (customers still get 404), and its old text is not lost (it was a published revision)."""
    editor = make_supervisor(TeamFactory())
    article = make_article(title="Legacy", body="V1.")
    first = article.revisions.get()
    services.article_update(article, actor=editor, body="V2.")
    services.article_archive(_fresh(article), actor=editor)
    article = _fresh(article)
    client.force_login(editor)
    client.post(
        reverse("knowledge:manage_restore", args=[article.slug, first.pk]),
        {"loaded_at": article.updated_at.isoformat()},
    )
    restored = _fresh(article)
    assert restored.body == "V1." and restored.status == "archived"
    assert ArticleRevision.objects.filter(article=article, body="V2.").exists()
    customer = Client()
    customer.force_login(make_customer())
    assert customer.get(_url(article.slug)).status_code == 404


def test_restore_through_the_old_slug_after_a_rename_works_and_lands_on_the_new_address(client):
    """A restore button on a page opened before the article's slug changed still restores (the page's
    loaded_at is checked) and lands on the article's current editor page."""
    editor = make_supervisor(TeamFactory())
    article = make_article(title="Shipping", body="V1.")
    first = article.revisions.get()
    services.article_update(article, actor=editor, body="V2.")
    article = _fresh(article)
    loaded_at = article.updated_at.isoformat()
    services.article_update(article, actor=None, slug="shipping-times")  # a rename only
    client.force_login(editor)
    url = reverse("knowledge:manage_restore", args=["shipping", first.pk])
    response = client.post(url, {"loaded_at": loaded_at})
    assert response.status_code == 302
    assert response["Location"] == reverse("knowledge:manage_edit", args=["shipping-times"])
    # The rename moved updated_at: the page from before it is stale, and the refusal says so.
    after = _fresh(article)
    assert after.body == "V2." and services.STALE_ARTICLE in " ".join(notes(response))


def test_an_author_cannot_restore_a_revision_onto_their_reopened_draft(client):
    """Restoring is an editor's; an author on their own reopened draft is refused."""
    author = make_agent(TeamFactory())
    editor = make_supervisor(TeamFactory())
    article = services.article_create(title="Author's", body="V1.", actor=author)
    services.article_publish(article, actor=editor)
    first = article.revisions.get()
    services.article_archive(_fresh(article), actor=editor)
    services.article_return_to_draft(_fresh(article), actor=editor)
    services.article_update(_fresh(article), actor=author, body="Author's new draft.")
    article = _fresh(article)
    client.force_login(author)
    client.post(
        reverse("knowledge:manage_restore", args=[article.slug, first.pk]),
        {"loaded_at": article.updated_at.isoformat()},
    )
    assert _fresh(article).body == "Author's new draft."


# --------------------------------------------------------------------------------------------------
# Slugs


def test_rename_a_to_b_and_back_to_a_neither_loops_nor_404s(client):
    """A -> B -> A: the current address answers 200, the other redirects once to it; renamed again to C
    both old addresses lead to C."""
    article = make_article(title="Alpha", slug="alpha")
    services.article_update(article, actor=None, slug="beta")
    services.article_update(_fresh(article), actor=None, slug="alpha")
    assert client.get(_url("alpha")).status_code == 200
    response = client.get(_url("beta"))
    assert response.status_code == 301 and response["Location"] == _url("alpha")
    services.article_update(_fresh(article), actor=None, slug="gamma")
    for old in ("alpha", "beta"):
        response = client.get(_url(old))
        assert response.status_code == 301 and response["Location"] == _url("gamma"), old
    assert client.get(_url("gamma")).status_code == 200


def test_renaming_to_another_articles_old_slug_takes_the_address_and_the_other_stays_reachable(client):
    """Article Y moved y-old -> y-new; article Z renamed to y-old takes that address; Y stays at
    y-new; renaming Z away again leaves y-old leading to Z, not to a 404."""
    y = make_article(title="Why", slug="y-old")
    services.article_update(y, actor=None, slug="y-new")
    z = make_article(title="Zed", slug="zed")
    services.article_update(z, actor=None, slug="y-old")
    assert client.get(_url("y-old")).context["article"].pk == z.pk
    assert client.get(_url("y-new")).context["article"].pk == y.pk
    services.article_update(_fresh(z), actor=None, slug="zed-2")
    response = client.get(_url("y-old"))
    assert response.status_code == 301 and response["Location"] == _url("zed-2")


def test_renaming_onto_a_current_slug_of_another_article_is_refused():
    """Taking another article's current address is refused with a message naming it."""
    make_article(title="Taken", slug="taken")
    other = make_article(title="Mine", slug="mine")
    with pytest.raises(Exception) as error:
        services.article_update(other, actor=None, slug="taken")
    assert "taken" in str(error.value)
    assert _fresh(other).slug == "mine"


@pytest.mark.parametrize("change", ["internal", "draft", "archived"])
def test_an_old_slug_of_an_article_customers_may_no_longer_read_is_404_without_its_title(client, change):
    """The old address of an article made internal, back to draft or archived: customers and visitors
    get a 404 that does not name it (no redirect revealing the new slug either)."""
    editor = make_supervisor(TeamFactory())
    article = make_article(title="Secret merger plan", slug="plan-v1")
    services.article_update(article, actor=editor, slug="plan-v2")
    article = _fresh(article)
    if change == "internal":
        services.article_update(article, actor=editor, visibility="internal")
    elif change == "archived":
        services.article_archive(article, actor=editor)
    else:
        services.article_archive(article, actor=editor)
        services.article_return_to_draft(_fresh(article), actor=editor)
    for reader in (None, make_customer()):
        c = Client()
        if reader:
            c.force_login(reader)
        for slug in ("plan-v1", "plan-v2"):
            response = c.get(_url(slug))
            assert response.status_code == 404, (reader, slug)
            assert "Secret merger plan" not in response.content.decode()
            assert "plan-v2" not in response.get("Location", "")
        vote = c.post(reverse("knowledge:vote", args=["plan-v1"]), {"helpful": "yes"})
        assert vote.status_code == 404
    assert not ArticleFeedback.objects.exists()


def test_admin_slug_with_uppercase_and_trailing_dash_is_reachable_and_old_one_redirects(client):
    """An administrator's slug change in the admin ("Setup-Guide-") keeps the article reachable at its
    new address and redirects the old one."""
    from tests.admin_pages import post_change

    article = make_article(title="Setup guide", slug="setup-guide")
    client.force_login(make_administrator(is_superuser=True))
    response = post_change(client, article, slug="Setup-Guide-")
    assert response.status_code == 302
    assert _fresh(article).slug == "Setup-Guide-"
    anon = Client()
    assert anon.get(_url("Setup-Guide-")).status_code == 200
    old = anon.get(_url("setup-guide"))
    assert old.status_code == 301 and old["Location"] == _url("Setup-Guide-")


# --------------------------------------------------------------------------------------------------
# Review queue


def test_author_submits_editor_sends_back_with_a_note_the_author_reads_then_publishes(client):
    """The full round: submit, request changes with a note (shown to the author on the edit page),
    resubmit (the note goes), publish (a revision kept)."""
    author = make_agent(TeamFactory())
    editor = make_supervisor(TeamFactory())
    article = services.article_create(title="VPN access", body="Install the client.", actor=author)
    client.force_login(author)
    client.post(reverse("knowledge:manage_action", args=[article.slug, "submit"]),
                {"loaded_at": article.updated_at.isoformat()})  # fmt: skip
    assert _fresh(article).status == "review"
    queue = Client()
    queue.force_login(editor)
    listed = queue.get(reverse("knowledge:manage_list"), {"status": "review"}).content.decode()
    assert "VPN access" in listed
    queue.post(reverse("knowledge:manage_action", args=[article.slug, "draft"]),
               {"note": "Add the server address.",
                "loaded_at": _fresh(article).updated_at.isoformat()})  # fmt: skip
    assert _fresh(article).status == "draft"
    page = client.get(reverse("knowledge:manage_edit", args=[article.slug])).content.decode()
    assert "Add the server address." in page
    client.post(reverse("knowledge:manage_action", args=[article.slug, "submit"]),
                {"loaded_at": _fresh(article).updated_at.isoformat()})  # fmt: skip
    assert _fresh(article).review_note == ""
    queue.post(reverse("knowledge:manage_action", args=[article.slug, "publish"]),
               {"loaded_at": _fresh(article).updated_at.isoformat()})  # fmt: skip
    assert _fresh(article).status == "published" and article.revisions.count() == 1


def test_an_author_crafting_a_publish_post_is_refused(client):
    """An agent without editor rights posting 'publish' on their submitted article is refused."""
    author = make_agent(TeamFactory())
    article = services.article_create(title="Mine", body="Body.", actor=author)
    services.article_submit_for_review(article, actor=author)
    client.force_login(author)
    response = client.post(reverse("knowledge:manage_action", args=[article.slug, "publish"]),
                           {"loaded_at": _fresh(article).updated_at.isoformat()})  # fmt: skip
    assert response.status_code in (302, 403, 404)
    assert _fresh(article).status == "review" and not article.revisions.exists()


def test_double_publish_is_refused_and_keeps_one_revision_and_the_first_date(client):
    """The second press of Publish (a double click, a second tab) is refused with a message; no second
    revision, published_at as the first press set it."""
    editor = make_supervisor(TeamFactory())
    article = services.article_create(title="Twice", body="Body.", actor=make_agent(TeamFactory()))
    loaded_at = article.updated_at.isoformat()
    client.force_login(editor)
    url = reverse("knowledge:manage_action", args=[article.slug, "publish"])
    client.post(url, {"loaded_at": loaded_at})
    first = _fresh(article)
    response = client.post(url, {"loaded_at": loaded_at})
    after = _fresh(article)
    assert after.status == "published" and after.published_at == first.published_at
    assert after.revisions.count() == 1
    assert notes(response)  # told why


def test_an_editor_may_publish_a_draft_that_was_never_submitted(client):
    """Editors publish straight from draft (STATUS_TRANSITIONS): the article goes live with a revision."""
    article = services.article_create(title="Direct", body="Body.", actor=make_agent(TeamFactory()))
    client.force_login(make_supervisor(TeamFactory()))
    client.post(reverse("knowledge:manage_action", args=[article.slug, "publish"]),
                {"loaded_at": article.updated_at.isoformat()})  # fmt: skip
    assert _fresh(article).status == "published" and article.revisions.count() == 1


def test_publishing_from_a_page_loaded_before_the_authors_last_edit_is_refused(client):
    """The author edits their article in review after the editor opened it: the editor's Publish from
    that page is refused (words nobody reviewed are not published)."""
    author = make_agent(TeamFactory())
    article = services.article_create(title="Racy", body="Reviewed words.", actor=author)
    services.article_submit_for_review(article, actor=author)
    loaded_at = _fresh(article).updated_at.isoformat()
    services.article_update(_fresh(article), actor=author, body="Unreviewed words.")
    client.force_login(make_supervisor(TeamFactory()))
    response = client.post(reverse("knowledge:manage_action", args=[article.slug, "publish"]),
                           {"loaded_at": loaded_at})  # fmt: skip
    assert _fresh(article).status == "review"
    assert services.STALE_ARTICLE in " ".join(notes(response))


# --------------------------------------------------------------------------------------------------
# Votes


def test_an_anonymous_session_votes_once_and_changing_the_vote_moves_the_counters(client):
    """Same session: yes twice counts once; then no turns it into one not-helpful vote."""
    article = make_article()
    url = reverse("knowledge:vote", args=[article.slug])
    client.post(url, {"helpful": "yes"})
    client.post(url, {"helpful": "yes"})
    assert (_fresh(article).helpful_count, _fresh(article).not_helpful_count) == (1, 0)
    client.post(url, {"helpful": "no"})
    assert (_fresh(article).helpful_count, _fresh(article).not_helpful_count) == (0, 1)
    assert ArticleFeedback.objects.count() == 1


def test_a_signed_in_user_votes_once_across_browsers(client):
    """One account, two browsers: one vote."""
    user = make_customer()
    article = make_article()
    url = reverse("knowledge:vote", args=[article.slug])
    for _ in range(2):
        c = Client()
        c.force_login(user)
        c.post(url, {"helpful": "yes"})
    assert _fresh(article).helpful_count == 1


def test_stuffing_votes_with_fresh_sessions_is_bounded_per_address():
    """A script dropping its cookie gets a new session each time: past the per-IP limit it is refused
    (429) and the counter stops growing."""
    article = make_article()
    url = reverse("knowledge:vote", args=[article.slug])
    statuses = [Client().post(url, {"helpful": "yes"}).status_code for _ in range(35)]
    assert statuses.count(429) >= 5
    assert _fresh(article).helpful_count <= 30


@pytest.mark.parametrize("kind", ["internal", "draft", "review", "archived"])
def test_customers_and_visitors_cannot_vote_on_unlisted_articles(client, kind):
    """Votes on internal, draft, in-review or archived articles are 404 for customers and visitors, and
    count nothing."""
    fields = {"visibility": "internal"} if kind == "internal" else {"status": kind}
    article = make_article(title="Hidden", **fields)
    for reader in (None, make_customer()):
        c = Client()
        if reader:
            c.force_login(reader)
        response = c.post(reverse("knowledge:vote", args=[article.slug]), {"helpful": "yes"})
        assert response.status_code == 404
        assert "Hidden" not in response.content.decode()
    assert not ArticleFeedback.objects.exists()


# --------------------------------------------------------------------------------------------------
# Categories


def _home_count(client, name):
    import re

    page = client.get(reverse("knowledge:home")).content.decode()
    card = rf"{re.escape(name)}</h3>\s*<p>[^<]*</p>\s*<p class=\"muted small\">(\d+) article"
    match = re.search(card, page)
    return int(match.group(1)) if match else None


def test_nested_counts_for_customers_count_only_published_public_articles(client):
    """Support > Printers > Setup: one public article at the leaf, one internal, one draft, one in
    review beside it. A customer's home page says 1 for Support; an agent's says 2 (internal too)."""
    support = CategoryFactory(name="Support", slug="support")
    printers = CategoryFactory(name="Printers", slug="printers", parent=support)
    setup = CategoryFactory(name="Setup", slug="setup", parent=printers)
    make_article(title="Public one", category=setup)
    make_article(title="Internal one", category=setup, visibility="internal")
    make_article(title="Draft one", category=printers, status="draft")
    make_article(title="Review one", category=support, status="review")
    client.force_login(make_customer())
    assert _home_count(client, "Support") == 1
    agent = Client()
    agent.force_login(make_agent(TeamFactory()))
    assert _home_count(agent, "Support") == 2
    # The customer walks down the tree to the article.
    for slug, child in (("support", "Printers"), ("printers", "Setup")):
        page = client.get(reverse("knowledge:category", args=[slug]))
        assert page.status_code == 200 and child in page.content.decode()
    leaf = client.get(reverse("knowledge:category", args=["setup"])).content.decode()
    assert "Public one" in leaf and "Internal one" not in leaf


def test_a_subtopic_with_only_internal_articles_is_not_offered_to_customers(client):
    """Support > Staff only (internal articles): customers see Support (it has a public article) but
    not the Staff-only link, and its page is 404; agents see both."""
    support = CategoryFactory(name="Support", slug="support")
    staff = CategoryFactory(name="Staff only zone", slug="staff-only", parent=support)
    make_article(title="Public answer", category=support)
    make_article(title="Staff secret", category=staff, visibility="internal")
    client.force_login(make_customer())
    page = client.get(reverse("knowledge:category", args=["support"])).content.decode()
    assert "Public answer" in page and "Staff only zone" not in page
    assert client.get(reverse("knowledge:category", args=["staff-only"])).status_code == 404
    agent = Client()
    agent.force_login(make_agent(TeamFactory()))
    assert "Staff only zone" in agent.get(reverse("knowledge:category", args=["support"])).content.decode()


def test_an_empty_category_is_404_for_customers_and_a_page_for_agents(client):
    """An empty topic is a dead end for customers (404) and still a page for agents."""
    CategoryFactory(name="Empty", slug="empty")
    assert client.get(reverse("knowledge:category", args=["empty"])).status_code == 404
    client.force_login(make_agent(TeamFactory()))
    assert client.get(reverse("knowledge:category", args=["empty"])).status_code == 200


def test_a_deep_tree_rolls_a_leaf_article_up_to_the_root_count(client):
    """Eight levels deep, one public article at the bottom: the root says 1 article, each level's
    page links the next one."""
    parent = None
    chain = []
    for depth in range(8):
        parent = CategoryFactory(name=f"Level {depth}", slug=f"level-{depth}", parent=parent)
        chain.append(parent)
    make_article(title="Bottom article", category=parent)
    assert _home_count(client, "Level 0") == 1
    for upper, lower in itertools.pairwise(chain):
        page = client.get(reverse("knowledge:category", args=[upper.slug]))
        assert page.status_code == 200 and lower.name in page.content.decode()


def test_the_category_admin_refuses_a_parent_deep_below(client):
    """A > B > C > D: putting A under D in the admin is refused (422) and A stays at the top."""
    a = CategoryFactory(name="A top", slug="a-top")
    b = CategoryFactory(name="B", slug="b-cat", parent=a)
    c = CategoryFactory(name="C", slug="c-cat", parent=b)
    d = CategoryFactory(name="D", slug="d-cat", parent=c)
    client.force_login(make_administrator())
    url = reverse("admin:knowledge_category_change", args=[a.pk])
    data = {"name": "A top", "slug": "a-top", "description": "", "icon": "", "position": 0, "parent": d.pk}
    assert client.post(url, data).status_code == 422
    assert Category.objects.get(pk=a.pk).parent_id is None


# --------------------------------------------------------------------------------------------------
# Related articles and search never leak


def test_related_articles_popular_and_search_show_customers_no_internal_or_draft_titles(client):
    """Same category: a public article, an internal one, a draft, one in review and an archived one,
    all about "frobnicator". Customers and visitors see only the public one in related articles,
    popular articles, search results, snippets and the ticket-form suggestions."""
    cat = CategoryFactory(name="Gadgets", slug="gadgets")
    make_article(title="Public frobnicator guide", body="The frobnicator basics.", category=cat)
    hidden = {
        "Internal frobnicator escalation": {"visibility": "internal"},
        "Draft frobnicator pricing": {"status": "draft"},
        "Review frobnicator recall": {"status": "review"},
        "Archived frobnicator lawsuit": {"status": "archived"},
    }
    for title, fields in hidden.items():
        article = make_article(title=title, body=f"{title} frobnicator details.", category=cat, **fields)
        Article.objects.filter(pk=article.pk).update(helpful_count=99, views=999)
    other = make_article(title="Another public one", category=cat)
    for reader in (None, make_customer()):
        c = Client()
        if reader:
            c.force_login(reader)
        pages = [
            c.get(_url(other.slug)),
            c.get(reverse("knowledge:home")),
            c.get(reverse("knowledge:search"), {"q": "frobnicator"}),
            c.get(reverse("knowledge:search"), {"q": "frobnicatr"}),  # a slip
            c.get(reverse("knowledge:search"), {"q": "frobnicator"}, headers={"HX-Request": "true"}),
            c.get(reverse("knowledge:suggest"), {"subject": "frobnicator recall lawsuit"}),
            c.get(reverse("knowledge:category", args=["gadgets"])),
        ]
        for page in pages:
            body = page.content.decode()
            for title in hidden:
                assert title not in body, (page.request["PATH_INFO"], title)
        assert "Public frobnicator guide" in pages[2].content.decode()


def test_search_does_not_correct_a_customers_slip_to_a_word_only_internal_articles_use(client):
    """A word only an internal article holds is no correction for a customer's typo: the customer
    finds nothing rather than the internal article's title."""
    make_article(title="Zylophant override codes", body="Zylophant.", visibility="internal")
    make_article(title="Ordinary article", body="Nothing special.")
    page = client.get(reverse("knowledge:search"), {"q": "zylophent"}).content.decode()
    assert "Zylophant" not in page


# --------------------------------------------------------------------------------------------------
# Defects found


def _cacheable_forever(response) -> bool:
    """A 301/308 without Cache-Control limiting it: browsers keep it with no expiry (RFC 9111 4.2.2:
    301 and 308 are heuristically cacheable) and never ask the server again."""
    control = response.get("Cache-Control", "")
    limited = any(word in control for word in ("no-store", "no-cache", "max-age", "private"))
    return response.status_code in (301, 308) and not limited


def test_renaming_back_a_to_b_to_a_does_not_loop_for_a_browser_that_followed_the_first_redirect():
    """A visitor opens /alpha/ after alpha -> beta: a permanent 301, which a browser keeps for ever
    unless Cache-Control says otherwise. An editor renames the article back to alpha (A -> B -> A,
    which the service allows): the server now answers /beta/ -> /alpha/, and a kept alpha -> beta
    would close a loop (ERR_TOO_MANY_REDIRECTS) for that visitor, with no way for the site to take it
    back. The same
    happens when another article takes over an old address (_take_address): browsers that kept the
    old 301 never reach it. The redirect says "private, no-cache": browsers ask again each time."""
    article = make_article(title="Alpha", slug="alpha")
    services.article_update(article, actor=None, slug="beta")
    browser, kept = Client(), {}
    first = browser.get(_url("alpha"))
    if _cacheable_forever(first):
        kept[_url("alpha")] = first["Location"]
    services.article_update(_fresh(article), actor=None, slug="alpha")
    # The visitor follows a link to /beta/ (from an e-mail), as a browser would: kept redirects first.
    path, seen, looped = _url("beta"), [], False
    for _ in range(10):
        if path in seen:
            looped = True
            break
        seen.append(path)
        if path in kept:
            path = kept[path]
            continue
        response = browser.get(path)
        if response.status_code not in (301, 302, 307, 308):
            break
        if _cacheable_forever(response):
            kept[path] = response["Location"]
        path = response["Location"]
    assert not looped, "redirect loop: " + " -> ".join([*seen, path])


def test_an_anonymous_flood_from_one_address_does_not_stop_signed_in_customers_voting():
    """Signed-in votes are one per account (the settings say so beside the "vote" limit), so they
    cannot stuff a counter; yet the per-IP vote limit counts them too. After 30 anonymous votes from
    an office's shared address (a script dropping its cookie, or colleagues), a signed-in customer
    there got 429 for their first and only vote before the fix. An account is still limited on its own."""
    article = make_article()
    url = reverse("knowledge:vote", args=[article.slug])
    for _ in range(30):
        Client().post(url, {"helpful": "no"})
    customer = Client()
    customer.force_login(make_customer())
    response = customer.post(url, {"helpful": "yes"})
    assert response.status_code == 302, response.status_code
    assert ArticleFeedback.objects.filter(user__isnull=False).count() == 1
    for _ in range(29):
        customer.post(url, {"helpful": "yes"})
    assert customer.post(url, {"helpful": "no"}).status_code == 429
