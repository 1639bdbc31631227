"""The knowledge base's pages and article rules (category tree, article pages, related
articles, "last updated", view counts, archived/internal/draft addresses, verification, use counts,
votes, who may do what through POSTs, and markdown sanitising)."""

import re
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from knowledge import services
from knowledge.models import Article, Category
from tests.factories import (
    CategoryFactory,
    TeamFactory,
    article_form_data,
    loaded,
    make_administrator,
    make_agent,
    make_article,
    make_customer,
    make_supervisor,
    make_ticket,
)

pytestmark = pytest.mark.django_db


def _article_url(article_or_slug) -> str:
    slug = getattr(article_or_slug, "slug", article_or_slug)
    return reverse("knowledge:article", args=[slug])


def _fresh(article: Article) -> Article:
    return Article.objects.get(pk=article.pk)


def _breadcrumbs(html: str) -> list[str]:
    nav = re.search(r'<nav aria-label="Breadcrumb".*?</nav>', html, re.S).group(0)
    return [re.sub(r"<[^>]+>", "", item).strip() for item in re.findall(r"<li[^>]*>(.*?)</li>", nav, re.S)]


# --- the category tree ------------------------------------------------------------------------------


def _chain(depth: int) -> list[Category]:
    chain, parent = [], None
    for level in range(depth):
        parent = CategoryFactory(name=f"Level {level}", slug=f"level-{level}", parent=parent)
        chain.append(parent)
    return chain


def test_a_deep_tree_shows_every_ancestor_in_order_on_category_and_article_pages(client):
    """Eight levels deep, the breadcrumbs name every level from the top down, on the category page and
    on the page of an article in the deepest category, for a visitor."""
    chain = _chain(8)
    article = make_article(title="Deep answer", category=chain[-1])
    expected = ["Knowledge base", *[f"Level {n}" for n in range(8)]]
    category_page = client.get(reverse("knowledge:category", args=[chain[-1].slug]))
    assert category_page.status_code == 200
    assert _breadcrumbs(category_page.content.decode()) == expected
    article_page = client.get(_article_url(article))
    assert _breadcrumbs(article_page.content.decode()) == [*expected, "Deep answer"]


def test_breadcrumbs_cost_the_same_queries_at_depth_three_and_twelve(client):
    """Breadcrumbs read the tree at once: an article twelve levels deep costs no more queries than one
    three levels deep."""

    def queries_for(depth: int, prefix: str) -> int:
        parent = None
        for level in range(depth):
            parent = CategoryFactory(name=f"{prefix} {level}", slug=f"{prefix}-{level}", parent=parent)
        article = make_article(title=f"{prefix} answer", category=parent)
        client.get(_article_url(article))  # warm the session
        with CaptureQueriesContext(connection) as queries:
            assert client.get(_article_url(article)).status_code == 200
        return len(queries)

    assert queries_for(3, "shallow") == queries_for(12, "deep")


def test_a_parent_loop_saved_behind_the_admins_back_does_not_hang_any_page(client):
    """A loop written past Category.clean (an old row, a raw update) must not hang or crash the home
    page, the category pages or an article's breadcrumbs."""
    a = CategoryFactory(name="Alpha", slug="alpha")
    b = CategoryFactory(name="Beta", slug="beta", parent=a)
    Category.objects.filter(pk=a.pk).update(parent=b)
    selfish = CategoryFactory(name="Selfish", slug="selfish")
    Category.objects.filter(pk=selfish.pk).update(parent=selfish)
    in_loop = make_article(title="Looped answer", category=b)
    in_self = make_article(title="Self answer", category=selfish)
    for reader in (None, make_customer(), make_agent(TeamFactory())):
        c = Client()
        if reader:
            c.force_login(reader)
        assert c.get(reverse("knowledge:home")).status_code == 200
        for slug in ("alpha", "beta", "selfish"):
            assert c.get(reverse("knowledge:category", args=[slug])).status_code == 200
        for article in (in_loop, in_self):
            page = c.get(_article_url(article))
            assert page.status_code == 200
            assert _breadcrumbs(page.content.decode())[-1] == article.title


def test_the_category_admin_refuses_a_category_as_its_own_parent(client):
    """Choosing a category as its own parent in the admin is refused with the loop message (422), and
    the category stays at the top of the tree."""
    category = CategoryFactory(name="Billing", slug="billing")
    client.force_login(make_administrator())
    url = reverse("admin:knowledge_category_change", args=[category.pk])
    data = {"name": "Billing", "slug": "billing", "description": "", "icon": "", "position": 0}
    response = client.post(url, {**data, "parent": category.pk})
    assert response.status_code == 422
    assert Category.objects.get(pk=category.pk).parent_id is None


@pytest.mark.parametrize("status", ["archived", "review"])
def test_a_topic_holding_only_archived_or_in_review_articles_is_no_topic_for_customers(client, status):
    """Archived and in-review articles are no more a customer's than drafts: the topic holding only
    them is not on the home page, its count reveals nothing, and its page answers 404."""
    category = CategoryFactory(name="Old stuff", slug="old-stuff")
    make_article(title="Gone", category=category, status=status)
    make_article(title="Visible answer", category=CategoryFactory(name="Live", slug="live"))
    client.force_login(make_customer())
    home = client.get(reverse("knowledge:home")).content.decode()
    assert "Old stuff" not in home and "Live" in home
    assert client.get(reverse("knowledge:category", args=["old-stuff"])).status_code == 404


def test_counts_on_the_home_page_count_only_what_a_customer_may_read(client):
    """A topic with one public article and several internal, draft and archived ones says "1 article"
    to a customer: the count does not reveal the others."""
    category = CategoryFactory(name="Accounts", slug="accounts")
    make_article(title="Public one", category=category)
    make_article(title="Internal one", category=category, visibility="internal")
    make_article(title="Draft one", category=category, status="draft")
    make_article(title="Archived one", category=category, status="archived")
    client.force_login(make_customer())
    home = client.get(reverse("knowledge:home")).content.decode()
    assert re.search(r"Accounts.*?1 article<", home, re.S)
    page = client.get(reverse("knowledge:category", args=["accounts"])).content.decode()
    assert "Public one" in page
    assert not any(title in page for title in ("Internal one", "Draft one", "Archived one"))


def test_a_category_address_stays_what_it_was_created_with(client):
    """DESIGN.md §5: /kb/<category-slug>/ is a stable URL. The admin's change form does not change the
    slug even when one is posted, and the old address keeps answering."""
    category = CategoryFactory(name="Billing", slug="billing")
    make_article(title="Invoices", category=category)
    client.force_login(make_administrator())
    url = reverse("admin:knowledge_category_change", args=[category.pk])
    data = {"name": "Money", "slug": "money", "description": "", "icon": "", "position": 0, "parent": ""}
    client.post(url, data)
    category.refresh_from_db()
    assert category.name == "Money" and category.slug == "billing"
    assert Client().get(reverse("knowledge:category", args=["billing"])).status_code == 200


def test_deleting_a_category_with_subcategories_is_refused_without_an_error_page(client):
    """A category whose subcategories hold articles cannot be deleted from the admin: the delete page
    says why (no 500), and nothing is deleted."""
    parent = CategoryFactory(name="Billing", slug="billing")
    child = CategoryFactory(name="Invoices", slug="invoices", parent=parent)
    make_article(title="Invoice help", category=child)
    client.force_login(make_administrator())
    url = reverse("admin:knowledge_category_delete", args=[parent.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"post": "yes"})
    assert response.status_code < 500
    assert Category.objects.filter(pk__in=[parent.pk, child.pk]).count() == 2
    assert Article.objects.get(title="Invoice help").category_id == child.pk


# --- article pages ------------------------------------------------------------------------------------


def test_related_articles_for_a_customer_are_published_public_siblings_only(client):
    """The "Related articles" box lists the other published public articles of the category: never the
    article itself, nor internal, draft, in-review or archived ones."""
    category = CategoryFactory(name="Accounts", slug="accounts")
    article = make_article(title="Reset a password", category=category)
    make_article(title="Change your e-mail", category=category)
    hidden = {
        "Internal runbook": {"visibility": "internal"},
        "Draft answer": {"status": "draft"},
        "Under review": {"status": "review"},
        "Old answer": {"status": "archived"},
    }
    for title, fields in hidden.items():
        make_article(title=title, category=category, **fields)
    make_article(title="Elsewhere", category=CategoryFactory())
    client.force_login(make_customer())
    page = client.get(_article_url(article)).content.decode()
    aside = page.split('id="related-title"', 1)[1]
    assert "Change your e-mail" in aside
    assert "Reset a password" not in aside and "Elsewhere" not in aside
    assert not any(title in aside for title in hidden)


def test_related_articles_on_an_editors_view_of_a_draft_list_only_published_ones(client):
    """An editor reading a draft sees related published articles, not other drafts or itself."""
    category = CategoryFactory(name="Accounts", slug="accounts")
    draft = make_article(title="My draft", category=category, status="draft")
    make_article(title="Other draft", category=category, status="draft")
    make_article(title="Published sibling", category=category)
    client.force_login(make_supervisor(TeamFactory()))
    aside = client.get(_article_url(draft)).content.decode().split('id="related-title"', 1)[1]
    assert "Published sibling" in aside and "Other draft" not in aside and "My draft" not in aside


def test_last_updated_is_not_moved_by_votes_views_verification_or_use(client):
    """ "Last updated" tells readers when the text changed: votes, views, a verification and a link in a
    ticket reply leave it as it was."""
    article = make_article(title="Reset a password")
    before = _fresh(article).updated_at
    client.post(reverse("knowledge:vote", args=[article.slug]), {"helpful": "yes"})
    client.post(reverse("knowledge:viewed", args=[article.slug]), {"article": article.pk})
    services.article_verify(article, actor=make_supervisor(TeamFactory()))
    services.articles_count_uses(f"/kb/articles/{article.slug}/")
    after = _fresh(article)
    assert (after.helpful_count, after.views, after.use_count) == (1, 1, 1)
    assert after.verified_at is not None
    assert after.updated_at == before


def test_reading_an_article_counts_no_view_by_get_head_or_reload(client):
    """Opening the page (GET), a HEAD request and reloads count nothing by themselves; the page's own
    POST counts one view per session however often it is sent."""
    article = make_article()
    for _ in range(3):
        assert client.get(_article_url(article)).status_code == 200
        assert client.head(_article_url(article)).status_code == 200
    assert _fresh(article).views == 0
    for _ in range(3):
        client.post(reverse("knowledge:viewed", args=[article.slug]), {"article": article.pk})
    assert _fresh(article).views == 1


def test_the_editors_preview_and_the_editor_page_count_no_view(client):
    """An author working on a published article (the editor page, its preview) does not push it up
    "Popular articles"."""
    article = make_article()
    client.force_login(make_supervisor(TeamFactory()))
    assert client.get(reverse("knowledge:manage_edit", args=[article.slug])).status_code == 200
    client.post(reverse("knowledge:manage_preview"), {"body": article.body})
    assert _fresh(article).views == 0


def test_the_page_of_a_draft_or_archived_article_sends_no_view_for_its_editor(client):
    """An editor reading a draft or an archived article is not counted: the page sends no view."""
    draft = make_article(title="Draft", status="draft")
    archived = make_article(title="Archived", status="archived")
    client.force_login(make_supervisor(TeamFactory()))
    for article in (draft, archived):
        page = client.get(_article_url(article)).content.decode()
        assert reverse("knowledge:viewed", args=[article.slug]) not in page
        client.post(reverse("knowledge:viewed", args=[article.slug]), {"article": article.pk})
        assert _fresh(article).views == 0


@pytest.mark.parametrize("reader", ["anonymous", "customer", "agent"])
def test_an_archived_article_and_its_old_address_answer_404_to_readers(client, reader):
    """An archived article is gone for readers (agents included, who are not editors): its address
    and an address it had before a rename both answer 404, with no redirect that names the new slug."""
    article = make_article(title="Old refunds", body="Ask.")
    services.article_update(article, slug="old-refund-policy", actor=None)
    services.article_archive(article, actor=None)
    if reader == "customer":
        client.force_login(make_customer())
    elif reader == "agent":
        client.force_login(make_agent(TeamFactory()))
    assert client.get(_article_url("old-refund-policy")).status_code == 404
    assert client.get(_article_url("old-refunds")).status_code == 404


@pytest.mark.parametrize("reader", ["anonymous", "customer"])
def test_an_internal_article_is_404_everywhere_for_outsiders(client, reader):
    """An internal article answers 404 to visitors and customers on its page, its vote and its editor
    address, exactly as an address that does not exist; its view POST counts nothing."""
    article = make_article(title="Escalation runbook", visibility="internal")
    if reader == "customer":
        client.force_login(make_customer())
    assert client.get(_article_url(article)).status_code == 404
    vote = client.post(reverse("knowledge:vote", args=[article.slug]), {"helpful": "yes"})
    missing = client.post(reverse("knowledge:vote", args=["no-such-article"]), {"helpful": "yes"})
    assert vote.status_code == missing.status_code == 404
    client.post(reverse("knowledge:viewed", args=[article.slug]), {"article": article.pk})
    assert (_fresh(article).views, _fresh(article).helpful_count) == (0, 0)
    edit = client.get(reverse("knowledge:manage_edit", args=[article.slug]))
    assert edit.status_code == (404 if reader == "customer" else 302)
    if reader == "anonymous":
        assert "/accounts/login/" in edit["Location"]


def test_a_draft_is_read_by_its_author_and_editors_only(client):
    """A draft's page answers its author and an editor; another agent and a customer get 404."""
    team = TeamFactory()
    author, other, editor = make_agent(team), make_agent(team), make_supervisor(team)
    draft = services.article_create(title="Half written", body="Soon.", actor=author)
    expected = {author: 200, editor: 200, other: 404, make_customer(): 404}
    for user, status in expected.items():
        c = Client()
        c.force_login(user)
        assert c.get(_article_url(draft)).status_code == status
        assert c.get(reverse("knowledge:manage_edit", args=[draft.slug])).status_code == status
    assert Client().get(_article_url(draft)).status_code == 404


def test_nobody_votes_on_a_draft_or_archived_article_not_even_an_editor(client):
    """Only published articles take votes: a POST for a draft or an archived one is 404, for an editor
    too, and its counters stay at zero."""
    draft = make_article(title="Draft", status="draft")
    archived = make_article(title="Archived", status="archived")
    client.force_login(make_supervisor(TeamFactory()))
    for article in (draft, archived):
        assert (
            client.post(reverse("knowledge:vote", args=[article.slug]), {"helpful": "yes"}).status_code == 404
        )
        assert _fresh(article).helpful_count == 0


def test_a_vote_without_javascript_comes_back_to_the_article_with_thanks(client):
    """Without htmx, voting redirects to the article page at the vote (#vote), which then thanks the
    reader and shows the count instead of the question."""
    article = make_article()
    response = client.post(reverse("knowledge:vote", args=[article.slug]), {"helpful": "no"})
    assert response.status_code == 302 and response["Location"] == _article_url(article) + "#vote"
    page = client.get(response["Location"]).content.decode()
    assert "Thanks for your feedback. You found this not helpful" in page
    assert "Was this article helpful?" not in page


def test_an_internal_article_does_not_take_the_old_address_of_a_public_one_away_from_customers(client):
    """A public article renamed keeps its old address for customers' bookmarks (DESIGN.md §5). When an
    admin later gives that address to an internal article, customers cannot see it, so their old
    links must still lead to the public article rather than to a 404."""
    public = make_article(title="Reset a password", body="Open the sign-in page.")
    services.article_update(public, slug="password-reset", actor=None)
    assert Client().get(_article_url("reset-a-password")).status_code == 301
    runbook = make_article(title="Runbook", body="Call on-call.", visibility="internal")
    services.article_update(runbook, slug="reset-a-password", actor=make_administrator())
    customer = Client()
    customer.force_login(make_customer())
    response = customer.get(_article_url("reset-a-password"))
    assert response.status_code == 301 and response["Location"].endswith("/kb/articles/password-reset/")


# --- verification ---------------------------------------------------------------------------------------


def test_verify_needs_the_verify_permission_through_the_post(client):
    """An agent without verify_article who posts the verify action leaves the article unverified; a
    supervisor's post verifies it."""
    article = make_article()
    team = TeamFactory()
    client.force_login(make_agent(team))
    client.post(reverse("knowledge:manage_action", args=[article.slug, "verify"]), loaded(article))
    assert _fresh(article).verified_at is None
    client.force_login(make_supervisor(team))
    client.post(reverse("knowledge:manage_action", args=[article.slug, "verify"]), loaded(article))
    assert _fresh(article).verified_at is not None


def test_a_verification_goes_when_the_body_changes_in_the_editor_and_stays_for_a_tag(client):
    """Saving new words from the editor drops the verification (it vouched for the old ones); a change
    of tags alone keeps it."""
    article = make_article(body="Step one.")
    editor = make_supervisor(TeamFactory())
    services.article_verify(article, actor=editor)
    client.force_login(editor)
    url = reverse("knowledge:manage_edit", args=[article.slug])
    article = _fresh(article)
    client.post(url, article_form_data(article, tags="login", loaded_at=article.updated_at.isoformat()))
    assert _fresh(article).verified_at is not None and _fresh(article).tags == "login"
    article = _fresh(article)
    client.post(url, article_form_data(article, body="Step two.", loaded_at=article.updated_at.isoformat()))
    assert _fresh(article).body == "Step two." and _fresh(article).verified_at is None


# --- use count --------------------------------------------------------------------------------------------


def test_only_a_staff_public_reply_counts_a_use_once_however_often_it_links(client):
    """A use is a staff public reply linking the article: a link given twice counts once, the same
    reply sent twice (one submission key) counts once, and internal notes and customers' replies count
    nothing."""
    from tickets import services as ticket_services

    team = TeamFactory()
    agent, customer = make_agent(team), make_customer()
    ticket = make_ticket(customer, team=team)
    article = make_article(title="Reset a password")
    link = f"[reset](/kb/articles/{article.slug}/)"
    ticket_services.ticket_add_note(ticket, body=f"Internal: {link}", actor=agent)
    ticket_services.ticket_reply(ticket, body=f"Me too: {link}", actor=customer)
    assert _fresh(article).use_count == 0
    key = uuid.uuid4()
    ticket_services.ticket_reply(ticket, body=f"See {link} and again {link}", actor=agent, submission_key=key)
    ticket_services.ticket_reply(ticket, body=f"See {link} and again {link}", actor=agent, submission_key=key)
    assert _fresh(article).use_count == 1


# --- who may do what, by POST ---------------------------------------------------------------------------


def test_an_author_cannot_publish_or_archive_their_own_draft_by_posting(client):
    """Publishing and archiving are an editor's: an author posting those actions for their own draft
    changes nothing."""
    author = make_agent(TeamFactory())
    draft = services.article_create(title="Mine", body="Text.", actor=author)
    client.force_login(author)
    for action in ("publish", "archive", "verify"):
        client.post(reverse("knowledge:manage_action", args=[draft.slug, action]), loaded(draft))
        assert _fresh(draft).status == "draft"
    assert _fresh(draft).verified_at is None


def test_an_author_cannot_edit_their_published_article_by_posting(client):
    """Once published, an article needs an editor: the author's POST of new text is refused (422) and
    the text stays."""
    author = make_agent(TeamFactory())
    article = services.article_create(title="Mine", body="Original.", actor=author)
    services.article_publish(article, actor=None)
    article = _fresh(article)
    client.force_login(author)
    response = client.post(
        reverse("knowledge:manage_edit", args=[article.slug]),
        article_form_data(article, body="Defaced.", loaded_at=article.updated_at.isoformat()),
    )
    assert response.status_code == 422
    assert _fresh(article).body == "Original."


def test_another_agents_draft_is_404_to_posts_from_an_agent(client):
    """An agent who is neither the author nor an editor cannot reach someone else's draft by POST: edit,
    submit and the way back to draft all answer 404 and change nothing."""
    team = TeamFactory()
    draft = services.article_create(title="Theirs", body="Text.", actor=make_agent(team))
    draft = _fresh(draft)
    client.force_login(make_agent(team))
    edit = client.post(
        reverse("knowledge:manage_edit", args=[draft.slug]), article_form_data(draft, body="Mine now.")
    )
    assert edit.status_code == 404
    for action in ("submit", "draft", "publish"):
        assert (
            client.post(
                reverse("knowledge:manage_action", args=[draft.slug, action]), loaded(draft)
            ).status_code
            == 404
        )
    assert (_fresh(draft).body, _fresh(draft).status) == ("Text.", "draft")


@pytest.mark.parametrize("action", ["edit", "submit", "publish", "archive", "verify", "draft"])
def test_a_customer_gets_404_from_every_authoring_post(client, action):
    """Customers are outsiders to authoring: every authoring address answers 404, as if it did not
    exist, and the article is untouched."""
    article = make_article()
    client.force_login(make_customer())
    if action == "edit":
        url = reverse("knowledge:manage_edit", args=[article.slug])
    else:
        url = reverse("knowledge:manage_action", args=[article.slug, action])
    assert client.post(url, {"title": "x", "body": "y", "visibility": "public"}).status_code == 404
    assert client.get(reverse("knowledge:manage_list")).status_code == 404
    assert client.post(reverse("knowledge:manage_preview"), {"body": "x"}).status_code == 404
    assert _fresh(article).status == "published" and _fresh(article).body == article.body


# --- markdown --------------------------------------------------------------------------------------------

HOSTILE_BODY = """\
[a](javascript:alert(1)) [b](JaVaScRiPt:alert(2)) [c](&#106;avascript:alert(3))
[d](javascript&colon;alert(4)) [e](&#x6A;avascript&#x3A;alert(5)) [f](data:text/html;base64,PHNjcmlwdD4=)
[g](vbscript:msgbox(6)) [h](<javascript:alert(7)>) <javascript:alert(8)>

![pixel](https://tracker.example/pixel.png) ![inline](data:image/png;base64,AAAA)

<script>alert(9)</script> <img src=x onerror=alert(10)> <a href="javascript:alert(11)">raw</a>
<iframe src="https://evil.example"></iframe> <svg onload=alert(12)>

[ref link][r1] and [ref data][r2]

[r1]: javascript:alert(13)
[r2]: data:text/html,<script>alert(14)</script>

[t](https://ok.example "x\\" onmouseover=\\"alert(15)")

```js" onclick="alert(16)
code
```
"""


def _elements(html: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The real elements of `html` (not escaped text that looks like one), with their attributes."""
    from html.parser import HTMLParser

    found = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    Collector().feed(html)
    return found


def test_an_article_body_cannot_carry_script_links_images_or_raw_html(client):
    """Whatever an author writes, the article page holds no javascript:/data:/vbscript: address, no
    image loaded from another host, no raw HTML element and no event-handler attribute; the words stay."""
    article = make_article(title="Hostile", body=HOSTILE_BODY)
    page = client.get(_article_url(article)).content.decode()
    body = page.split('<div class="message-body">', 1)[1].split("</div>", 1)[0]
    elements = _elements(body)
    hrefs = [dict(attrs)["href"] for tag, attrs in elements if tag == "a" and "href" in dict(attrs)]
    assert hrefs == ["https://tracker.example/pixel.png", "https://ok.example"]
    assert {tag for tag, _ in elements} <= {"p", "a", "pre", "code", "br"}
    assert not [name for _, attrs in elements for name, _ in attrs if name.startswith("on")]
    assert "raw" in body and "ref link" in body and "pixel" in body
    assert 'rel="nofollow noopener noreferrer"' in body


def _last_updated_on_the_page(client, article) -> str:
    html = client.get(_article_url(article)).content.decode()
    return re.search(r'Last updated <time datetime="([^"]+)"', html).group(1)[:10]


def test_last_updated_moves_with_the_words_not_with_the_status(client, clock):
    """Readers' "Last updated" says when the text last changed: archiving an article and publishing it
    again weeks later, or moving it to another category, does not make old words look new; editing its
    body does."""
    editor = make_administrator()
    article = make_article(title="Printer drivers", body="Install the driver from the vendor's site.")
    written = timezone.localdate().isoformat()
    clock.shift(timedelta(days=40))
    services.article_archive(article, actor=editor)
    clock.shift(timedelta(days=40))
    services.article_return_to_draft(article, actor=editor)
    services.article_update(_fresh(article), category=CategoryFactory(), visibility="public", actor=editor)
    services.article_publish(_fresh(article), actor=editor)
    assert _last_updated_on_the_page(client, article) == written
    clock.shift(timedelta(days=5))
    services.article_update(_fresh(article), body="Install it from Settings, Printers.", actor=editor)
    assert _last_updated_on_the_page(client, article) == timezone.localdate().isoformat()


def test_an_article_from_a_fixture_shows_its_last_change(client):
    """A row loaded without the content date (a fixture, the demo) shows its updated_at."""
    article = make_article(title="From a fixture")
    Article.objects.filter(pk=article.pk).update(content_updated_at=None)
    updated = timezone.localdate(_fresh(article).updated_at)
    assert _last_updated_on_the_page(client, article) == updated.isoformat()
