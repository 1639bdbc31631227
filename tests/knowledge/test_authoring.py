"""Authoring pages for agents and the article link in ticket replies."""

import pytest
from django.urls import reverse

from knowledge import services as knowledge_services
from knowledge.models import Article
from tests.factories import (
    TeamFactory,
    loaded,
    make_agent,
    make_article,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db


def test_customers_cannot_reach_the_authoring_pages(client):
    article = make_article()
    client.force_login(make_customer())
    for url in (reverse("knowledge:manage_list"), reverse("knowledge:manage_new"),
                reverse("knowledge:manage_edit", args=[article.slug])):  # fmt: skip
        assert client.get(url).status_code == 404
    response = client.post(
        reverse("knowledge:manage_action", args=[article.slug, "archive"]), loaded(article)
    )
    assert response.status_code == 404
    assert Article.objects.get(pk=article.pk).status == "published"


def test_agent_writes_a_draft_and_an_editor_publishes_it(client):
    agent = make_agent(TeamFactory())
    client.force_login(agent)
    response = client.post(reverse("knowledge:manage_new"), {
        "title": "Clear the browser cache", "body": "Press **Ctrl+Shift+Delete**.", "visibility": "public",
    })  # fmt: skip
    article = Article.objects.get(title="Clear the browser cache")
    assert response.status_code == 302 and article.status == "draft" and article.author == agent
    client.post(reverse("knowledge:manage_action", args=[article.slug, "publish"]), loaded(article))
    assert Article.objects.get(pk=article.pk).status == "draft", "agents cannot publish"
    client.force_login(make_supervisor(TeamFactory()))
    client.post(reverse("knowledge:manage_action", args=[article.slug, "publish"]), loaded(article))
    assert Article.objects.get(pk=article.pk).status == "published"


def test_invalid_article_form_is_422_and_keeps_the_text(client):
    client.force_login(make_agent(TeamFactory()))
    response = client.post(
        reverse("knowledge:manage_new"), {"title": "", "body": "Kept text", "visibility": "public"}
    )
    assert response.status_code == 422 and "Kept text" in response.content.decode()


def test_preview_renders_sanitised_markdown(client):
    client.force_login(make_agent(TeamFactory()))
    response = client.post(reverse("knowledge:manage_preview"), {"body": "**bold** <script>x</script>"})
    assert response.content.decode() == "<p><strong>bold</strong> &lt;script&gt;x&lt;/script&gt;</p>"


def test_linking_an_article_in_a_staff_reply_counts_a_use(client):
    team = TeamFactory()
    agent = make_agent(team)
    article = make_article(title="Clear the cache")
    client.force_login(agent)
    picker = client.get(reverse("knowledge:manage_picker"), {"q": "cache"}).content.decode()
    assert f"/kb/articles/{article.slug}/" in picker
    ticket = make_ticket(make_customer(), team=team)
    ticket_services.ticket_reply(
        ticket, body=f"See [this](http://testserver/kb/articles/{article.slug}/)", actor=agent
    )
    assert Article.objects.get(pk=article.pk).use_count == 1


def test_archiving_an_article_linked_from_replies_asks_once_more_and_says_how_many(client):
    editor = make_supervisor(TeamFactory())
    linked, unlinked = make_article(title="Clear the cache"), make_article(title="Reset the router")
    Article.objects.filter(pk=linked.pk).update(use_count=3)
    client.force_login(editor)

    page = client.get(reverse("knowledge:manage_edit", args=[linked.slug])).content.decode()
    assert '<summary class="button button-small">Archive…</summary>' in page
    assert "“Clear the cache” is linked from 3 ticket replies." in page
    assert "Archive all the same" in page
    plain = client.get(reverse("knowledge:manage_edit", args=[unlinked.slug])).content.decode()
    assert 'type="submit">Archive</button>' in plain and "ticket repl" not in plain

    action = reverse("knowledge:manage_action", args=[linked.slug, "archive"])
    client.post(action, {"loaded_at": Article.objects.get(pk=linked.pk).updated_at.isoformat()})
    assert Article.objects.get(pk=linked.pk).status == Article.Status.ARCHIVED


def test_editors_see_and_restore_published_versions(client):
    editor = make_supervisor(TeamFactory())
    article = make_article(title="Versioned", body="First text")
    from knowledge import services

    services.article_update(article, body="Second text", actor=editor)
    first = article.revisions.order_by("created_at", "pk").first()
    client.force_login(editor)
    page = client.get(reverse("knowledge:manage_edit", args=[article.slug])).content.decode()
    assert "First text" in page and "Restore this version" in page
    assert client.get(reverse("knowledge:manage_restore", args=[article.slug, first.pk])).status_code == 405
    client.post(reverse("knowledge:manage_restore", args=[article.slug, first.pk]), loaded(article))
    assert Article.objects.get(pk=article.pk).body == "First text"


def _buttons(client, article) -> set[str]:
    page = client.get(reverse("knowledge:manage_edit", args=[article.slug])).content.decode()
    labels = {
        "Submit for review": "submit",
        "Publish": "publish",
        "Archive": "archive",
        "Mark verified": "verify",
    }
    return {action for label, action in labels.items() if f'type="submit">{label}</button>' in page}


def test_the_editor_offers_only_the_status_changes_the_person_may_make_from_here(client):
    author, editor = make_agent(TeamFactory()), make_supervisor(TeamFactory())
    draft = knowledge_services.article_create(title="Draft", body="Text", status="draft", actor=author)
    client.force_login(author)
    assert _buttons(client, draft) == {"submit"}
    client.force_login(editor)
    assert _buttons(client, draft) == {"submit", "publish", "archive"}
    assert _buttons(client, make_article(status="published")) == {"archive", "verify"}
    assert _buttons(client, make_article(status="archived")) == {"publish"}


def test_a_published_article_cannot_slip_back_into_review(client):
    # "Submit for review" on a published article used to take it off the site without a word.
    article = make_article(status="published")
    client.force_login(make_supervisor(TeamFactory()))
    response = client.post(
        reverse("knowledge:manage_action", args=[article.slug, "submit"]), loaded(article), follow=True
    )
    assert Article.objects.get(pk=article.pk).status == "published"
    assert "This published article cannot be sent for review." in response.content.decode()
    client.post(reverse("knowledge:manage_action", args=[article.slug, "archive"]), loaded(article))
    assert Article.objects.get(pk=article.pk).status == "archived"
    response = client.post(
        reverse("knowledge:manage_action", args=[article.slug, "archive"]), loaded(article), follow=True
    )
    assert "This archived article cannot be archived." in response.content.decode()


def test_the_editor_keeps_an_indented_code_block_opening_the_body(client):
    """Indentation opening the body is markdown's code block: saved from the editor it stays, as kb_import
    keeps it; only the blank lines before it and the whitespace after it go. A body of blanks is refused."""
    client.force_login(make_agent(TeamFactory()))
    body = "\r\n    $ sudo systemctl restart cups\r\n\r\nThen print a test page.  \r\n"
    data = {"title": "Restart the print service", "body": body, "visibility": "public"}
    assert client.post(reverse("knowledge:manage_new"), data).status_code == 302
    article = Article.objects.get(title="Restart the print service")
    assert article.body == "    $ sudo systemctl restart cups\r\n\r\nThen print a test page."
    assert "<pre><code>$ sudo systemctl restart cups" in article.body_html
    blank = client.post(reverse("knowledge:manage_new"), {**data, "title": "Blank", "body": " \r\n  "})
    assert blank.status_code == 422 and not Article.objects.filter(title="Blank").exists()
