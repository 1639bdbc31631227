"""Two people at once on one article: an editor publishing (or verifying) from a page loaded before the
author's last change, two votes at the same moment, a double-clicked Save on a new article, two
articles renamed to one address, an admin page older than the author's edit; and a verification that
no longer vouches for rewritten words."""

import re
import uuid
from html import unescape

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse

from knowledge import services
from knowledge.models import Article, ArticleFeedback
from tests.admin_pages import change_url, form_data
from tests.concurrency import run_while_another_transaction_waits
from tests.factories import (
    TeamFactory,
    article_form_data,
    make_administrator,
    make_agent,
    make_article,
    make_supervisor,
)

pytestmark = pytest.mark.django_db


def posted_loaded_at(page) -> str:
    return re.search(r'name="loaded_at" value="([^"]+)"', page.content.decode()).group(1)


@pytest.mark.parametrize("action", ["publish", "draft"])
def test_an_editor_acting_on_a_page_older_than_the_authors_last_change_is_refused(client, action):
    author = make_agent(TeamFactory())
    editor = make_supervisor(TeamFactory())
    article = services.article_create(title="Refunds", body="Refunds take 5 days.", actor=author)
    services.article_submit_for_review(article, actor=author)
    client.force_login(editor)
    page = client.get(reverse("knowledge:manage_edit", args=[article.slug]))
    assert "Refunds take 5 days." in page.content.decode()
    # While the editor reads it, the author (who may edit an article in review) rewrites it.
    services.article_update(article, body="Refunds are instant; send your card number to me.", actor=author)
    response = client.post(
        reverse("knowledge:manage_action", args=[article.slug, action]), {"loaded_at": posted_loaded_at(page)}
    )
    assert response.status_code == 302
    assert Article.objects.get(pk=article.pk).status == Article.Status.REVIEW
    notes = [str(message) for message in get_messages(response.wsgi_request)]
    assert notes == [services.STALE_ARTICLE]
    # Reloaded, the editor sees the new words and may act on them.
    page = client.get(reverse("knowledge:manage_edit", args=[article.slug]))
    client.post(
        reverse("knowledge:manage_action", args=[article.slug, action]), {"loaded_at": posted_loaded_at(page)}
    )
    assert Article.objects.get(pk=article.pk).status != Article.Status.REVIEW


def test_a_mangled_page_time_is_refused_as_stale(client):
    editor = make_supervisor(TeamFactory())
    article = make_article(title="Refunds", status="review")
    client.force_login(editor)
    client.post(
        reverse("knowledge:manage_action", args=[article.slug, "publish"]), {"loaded_at": "yesterday"}
    )
    assert Article.objects.get(pk=article.pk).status == Article.Status.REVIEW


def test_rewriting_a_verified_article_drops_its_verification():
    editor = make_supervisor(TeamFactory())
    article = make_article(title="Reset the router", body="Hold the reset button for 10 seconds.")
    services.article_verify(article, actor=editor)
    services.article_update(article, tags="router, wifi", actor=editor)  # not the words: it stays
    assert Article.objects.get(pk=article.pk).verified_at is not None
    services.article_archive(article, actor=editor)
    services.article_return_to_draft(article, actor=editor)
    services.article_update(article, body="Unplug the router and wait a minute.", actor=editor)
    services.article_publish(article, actor=editor)
    article.refresh_from_db()
    assert (article.verified_at, article.verified_by) == (None, None)


def test_verifying_from_a_page_older_than_the_last_change_is_refused():
    editor = make_supervisor(TeamFactory())
    article = make_article(title="Reset the router", body="Hold the button.")
    loaded_at = article.updated_at
    services.article_update(article, body="Hold the button for ten seconds.", actor=editor)
    with pytest.raises(ValidationError):
        services.article_verify(article, actor=editor, loaded_at=loaded_at)
    assert Article.objects.get(pk=article.pk).verified_at is None


@pytest.mark.django_db(transaction=True)
def test_two_visitors_voting_at_once_are_both_counted():
    article = make_article(title="Concurrent votes", body="Body.")
    run_while_another_transaction_waits(
        lambda: services.article_vote(article, helpful=True, session_key="first-session"),
        lambda: services.article_vote(article, helpful=True, session_key="second-session"),
    )
    article.refresh_from_db()
    assert ArticleFeedback.objects.filter(article=article, helpful=True).count() == 2
    assert article.helpful_count == 2


@pytest.mark.django_db(transaction=True)
def test_a_double_clicked_save_of_a_new_article_takes_the_next_address_not_a_server_error():
    editor = make_supervisor(TeamFactory())
    run_while_another_transaction_waits(
        lambda: services.article_create(title="Printer setup", body="First.", actor=editor),
        lambda: services.article_create(title="Printer setup", body="Second.", actor=editor),
    )
    assert sorted(Article.objects.values_list("slug", flat=True)) == ["printer-setup", "printer-setup-2"]


@pytest.mark.django_db(transaction=True)
def test_a_chosen_address_taken_meanwhile_is_refused_with_a_reason():
    editor = make_supervisor(TeamFactory())
    refused = []

    def second() -> None:
        try:
            services.article_create(title="Printer", body="Second.", slug="printers", actor=editor)
        except ValidationError as error:
            refused.append(error.message_dict)

    run_while_another_transaction_waits(
        lambda: services.article_create(title="Printer", body="First.", slug="printers", actor=editor), second
    )
    assert refused == [{"slug": ["Another article already uses the address 'printers'."]}]
    assert Article.objects.count() == 1


def test_restoring_a_revision_from_a_page_older_than_the_last_change_is_refused(client):
    """A draft keeps no revisions: restoring over a colleague's newer draft text would lose it for good."""
    editor, colleague = make_supervisor(), make_supervisor()
    article = make_article(title="VPN", body="Version one")
    revision = article.revisions.get()
    services.article_archive(article, actor=editor)
    article = services.article_return_to_draft(article, actor=editor)
    client.force_login(editor)
    page = client.get(reverse("knowledge:manage_edit", args=[article.slug]))
    services.article_update(article, actor=colleague, body="Colleague's unpublished rewrite")
    restore = reverse("knowledge:manage_restore", args=[article.slug, revision.pk])
    response = client.post(restore, {"loaded_at": posted_loaded_at(page)})
    assert [str(message) for message in get_messages(response.wsgi_request)] == [services.STALE_ARTICLE]
    assert Article.objects.get(pk=article.pk).body == "Colleague's unpublished rewrite"

    page = client.get(reverse("knowledge:manage_edit", args=[article.slug]))
    client.post(restore, {"loaded_at": posted_loaded_at(page)})
    assert Article.objects.get(pk=article.pk).body == "Version one"


@pytest.mark.django_db(transaction=True)
def test_two_articles_renamed_to_one_address_at_once_refuse_the_second_with_a_message():
    """The second rename is refused beside the address (SLUG_TAKEN), not a server error."""
    first, second = make_article(title="First"), make_article(title="Second")
    refused = []

    def rename_second() -> None:
        try:
            services.article_update(second, slug="shared-address", actor=None)
        except ValidationError as error:
            refused.append(error.message_dict)

    run_while_another_transaction_waits(
        lambda: services.article_update(first, slug="shared-address", actor=None), rename_second
    )
    assert refused == [{"slug": [services.SLUG_TAKEN.format(slug="shared-address")]}]
    assert list(Article.objects.filter(slug="shared-address").values_list("pk", flat=True)) == [first.pk]


def test_an_admin_page_older_than_the_authors_edit_is_refused_instead_of_undoing_it(client):
    """The admin change page, opened before the author saved a new body and posted with only the title
    changed, would write its old body back: the page comes back saying why, with what was typed, and
    nothing changes; a page loaded since saves."""
    article = make_article(title="Reset your password", body="Old steps.")
    client.force_login(make_administrator())
    page = client.get(change_url(article))
    services.article_update(Article.objects.get(pk=article.pk), body="New steps.", actor=None)
    response = client.post(change_url(article), form_data(page, title="Reset your password (2026)"))
    assert response.status_code == 422
    html = unescape(response.content.decode())
    assert services.STALE_ARTICLE in html and 'value="Reset your password (2026)"' in html
    stored = Article.objects.get(pk=article.pk)
    assert (stored.title, stored.body) == ("Reset your password", "New steps.")

    fresh = client.get(change_url(article))
    client.post(change_url(article), form_data(fresh, title="Reset your password (2026)"))
    assert Article.objects.get(pk=article.pk).title == "Reset your password (2026)"


@pytest.mark.django_db(transaction=True)
def test_two_categories_moved_under_each_other_at_once_make_no_loop(client):
    """A under B is being saved while an administrator puts B under A: the check read the tree as it
    stood, found no loop, and both landed, two topics no page reaches. It now waits for the first."""
    from knowledge.models import Category
    from tests.factories import CategoryFactory

    a, b = CategoryFactory(name="A", slug="a"), CategoryFactory(name="B", slug="b")
    client.force_login(make_administrator(is_superuser=True))
    b_under_a = form_data(client.get(change_url(b)), parent=str(a.pk))
    responses = []
    run_while_another_transaction_waits(
        lambda: Category.objects.filter(pk=a.pk).update(parent=b),
        lambda: responses.append(client.post(change_url(b), b_under_a)),
    )
    assert responses[0].status_code == 422
    assert Category.objects.get(pk=b.pk).parent_id is None
    assert Category.objects.get(pk=a.pk).parent_id == b.pk


def _editor_form(page) -> dict[str, str]:
    """The hidden fields of an editor page as the browser sends them (loaded_at, submission_key)."""
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.content.decode()))


def test_the_same_new_article_page_saved_twice_makes_one_article(client):
    """A double-clicked Save (or a resend on a slow line) of one "New article" page: one article, and
    the second answer leads to it. Before the fix each post made a draft ("reset-the-router-2")."""
    client.force_login(make_agent(TeamFactory()))
    page = client.get(reverse("knowledge:manage_new"))
    data = _editor_form(page) | {
        "title": "Reset the router",
        "body": "Hold the button.",
        "visibility": "public",
    }
    first = client.post(reverse("knowledge:manage_new"), data)
    second = client.post(reverse("knowledge:manage_new"), data)
    assert list(Article.objects.values_list("slug", flat=True)) == ["reset-the-router"]
    assert first.status_code == second.status_code == 302
    assert first.url == second.url == reverse("knowledge:manage_edit", args=["reset-the-router"])
    # A second page (a new article on purpose, with the same title) is a second article.
    again = _editor_form(client.get(reverse("knowledge:manage_new"))) | {
        "title": "Reset the router", "body": "Hold the button.", "visibility": "public",
    }  # fmt: skip
    client.post(reverse("knowledge:manage_new"), again)
    assert Article.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_same_new_article_page_saved_twice_at_once_makes_one_article():
    editor = make_supervisor(TeamFactory())
    key = uuid.uuid4()
    made = []
    run_while_another_transaction_waits(
        lambda: made.append(
            services.article_create(title="VPN", body="First.", actor=editor, submission_key=key)
        ),
        lambda: made.append(
            services.article_create(title="VPN", body="First.", actor=editor, submission_key=key)
        ),
    )
    assert list(Article.objects.values_list("slug", flat=True)) == ["vpn"]
    assert made[0].pk == made[1].pk


def test_another_users_page_key_never_hands_out_their_article(client):
    """A key copied from someone else's page (forged): a new article of one's own, not theirs."""
    theirs = services.article_create(
        title="Theirs", body="Text.", actor=make_agent(TeamFactory()), submission_key=(key := uuid.uuid4())
    )
    mine = services.article_create(
        title="Mine", body="Text.", actor=make_agent(TeamFactory()), submission_key=key
    )
    assert mine.pk != theirs.pk and mine.title == "Mine"


def test_the_same_edit_saved_twice_is_not_refused_as_a_colleagues_change(client):
    """A double-clicked Save of the editor: the browser shows the second answer, which before the fix
    was 422 "Someone changed this article since you opened it" about the user's own first click. The
    automatic excerpt the first save moved with the body is no reason either."""
    client.force_login(make_supervisor(TeamFactory()))
    article = make_article(title="Printer setup", body="Old steps.")
    url = reverse("knowledge:manage_edit", args=[article.slug])
    data = article_form_data(article, body="New steps.") | _editor_form(client.get(url))
    assert client.post(url, data).status_code == 302
    second = client.post(url, data, follow=True)
    assert second.redirect_chain == [(url, 302)]
    assert services.STALE_ARTICLE not in second.content.decode()
    # Said once, as the first sending was (the browser shows this page, with the first one's message).
    assert [str(message) for message in second.context["messages"]] == ["Saved “Printer setup”."]
    stored = Article.objects.get(pk=article.pk)
    assert (stored.body, stored.excerpt, stored.revisions.count()) == ("New steps.", "New steps.", 2)


def test_a_page_saved_again_with_other_text_after_a_colleagues_change_is_still_refused(client):
    """The same page's key with a different text (the Back button, then more typing) over a colleague's
    change since: refused as stale, the colleague's text kept."""
    client.force_login(make_supervisor(TeamFactory()))
    article = make_article(title="Printer setup", body="Old steps.")
    url = reverse("knowledge:manage_edit", args=[article.slug])
    data = article_form_data(article, body="Mine.") | _editor_form(client.get(url))
    assert client.post(url, data).status_code == 302
    services.article_update(
        Article.objects.get(pk=article.pk), body="The colleague's.", actor=make_supervisor()
    )
    refused = client.post(url, data | {"body": "Mine, again."})
    assert refused.status_code == 422
    assert services.STALE_ARTICLE in refused.content.decode()
    assert Article.objects.get(pk=article.pk).body == "The colleague's."


def test_the_same_title_change_saved_twice_is_said_saved_once(client):
    """A change that moves no automatic excerpt (a new title): the second click finds its own save. Before
    the fix it was answered "Nothing changed: … nothing was saved." beside the first click's "Saved"."""
    client.force_login(make_supervisor(TeamFactory()))
    article = make_article(title="Printer setup", body="Old steps.", excerpt="Set the printer up.")
    url = reverse("knowledge:manage_edit", args=[article.slug])
    data = article_form_data(article, title="Printer set-up") | _editor_form(client.get(url))
    assert client.post(url, data).status_code == 302
    second = client.post(url, data, follow=True)
    assert [str(message) for message in second.context["messages"]] == ["Saved “Printer set-up”."]
    assert Article.objects.get(pk=article.pk).title == "Printer set-up"


@pytest.mark.django_db(transaction=True, databases=["default", "system_log"])
def test_a_title_whose_address_is_taken_meanwhile_is_refused_beside_the_title_with_the_text_kept():
    """An agent renames their draft to "Printer setup" while a colleague saves a new article of that title
    at the same moment: the service refuses the address (an error keyed "slug", which the editor's form
    does not have, so the page was a 500 and the typed text lost). The editor comes back, 422, saying so
    beside the title, which the address follows, with the text as typed."""
    from django.test import Client

    author, colleague = make_agent(TeamFactory()), make_agent(TeamFactory())
    draft = services.article_create(title="Working title", body="Body.", actor=author)
    client = Client(raise_request_exception=False)
    client.force_login(author)
    html = client.get(reverse("knowledge:manage_edit", args=[draft.slug])).content.decode()
    loaded_at = re.search(r'name="loaded_at" value="([^"]+)"', html).group(1)
    key = re.search(r'name="submission_key" value="([^"]+)"', html).group(1)
    answers = []

    def rename() -> None:
        answers.append(client.post(reverse("knowledge:manage_edit", args=[draft.slug]), {
            "title": "Printer setup", "body": "My rewritten body.", "visibility": "public", "tags": "printer",
            "excerpt": "", "category": "", "loaded_at": loaded_at, "submission_key": key,
        }))  # fmt: skip

    run_while_another_transaction_waits(
        lambda: services.article_create(title="Printer setup", body="Theirs.", actor=colleague), rename
    )
    (response,) = answers
    assert response.status_code == 422
    assert "My rewritten body." in response.content.decode()
    assert "already uses the address" in " ".join(response.context["form"].errors["title"])
