"""Article links in ticket replies: the picker marks internal articles; a public reply may not link them
nor unpublished ones; only published articles count a use."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from knowledge import services
from knowledge.models import Article
from tests.factories import TeamFactory, make_agent, make_article

pytestmark = pytest.mark.django_db


def test_internal_article_links_names_the_internal_articles_a_body_links(settings):
    settings.SITE_URL = "https://help.example.org"  # the links below are to this site
    secret = make_article(title="Escalation runbook", body="Call the on-call.", visibility="internal")
    public = make_article(title="Reset a password", body="Open the sign-in page.")
    body = (
        f"See [this](https://help.example.org/kb/articles/{public.slug}/) "
        f"and [that](https://help.example.org/kb/articles/{secret.slug}/#step-2)."
    )
    assert services.internal_article_links(body) == ["Escalation runbook"]
    assert services.internal_article_links(f"[p](/kb/articles/{public.slug}/)") == []
    assert services.internal_article_links("No links here.") == []


def test_internal_article_links_knows_old_addresses_and_links_without_a_slash():
    secret = make_article(title="Escalation runbook", body="Call the on-call.", visibility="internal")
    old_slug = secret.slug
    services.article_update(secret, slug="escalations", actor=None)
    assert services.internal_article_links(f"[x](/kb/articles/{old_slug}/)") == ["Escalation runbook"]
    assert services.internal_article_links("[x](/kb/articles/escalations)") == ["Escalation runbook"]


def test_internal_drafts_count_too_and_each_title_is_named_once():
    draft = make_article(title="Unreleased fix", visibility="internal", status="draft")
    body = f"/kb/articles/{draft.slug}/ and again /kb/articles/{draft.slug}/"
    assert services.internal_article_links(body) == ["Unreleased fix"]


def test_a_public_reply_linking_an_internal_article_is_refused_on_the_body():
    secret = make_article(title="Escalation runbook", body="Call the on-call.", visibility="internal")
    with pytest.raises(ValidationError) as refused:
        services.articles_check_public_links(f"Try [this](/kb/articles/{secret.slug}/).")
    assert refused.value.message_dict == {
        "body": [services.INTERNAL_ARTICLE_IN_REPLY.format(titles="“Escalation runbook”")]
    }


def test_a_public_reply_linking_public_articles_passes():
    public = make_article(title="Reset a password")
    services.articles_check_public_links(f"See [this](/kb/articles/{public.slug}/).")


def test_the_picker_labels_internal_articles_in_words(client):
    make_article(title="Cache runbook for agents", body="Flush the cache.", visibility="internal")
    make_article(title="Clear the cache", body="Press the keys.")
    client.force_login(make_agent(TeamFactory()))
    response = client.get(reverse("knowledge:manage_picker"), {"q": "cache"})
    items = response.content.decode().split("<li>")[1:]
    assert len(items) == 2
    internal = next(item for item in items if "Cache runbook for agents" in item)
    public = next(item for item in items if "Clear the cache" in item)
    assert "Internal (agents only)" in internal and "Internal" not in public


def test_ticket_reply_refuses_a_public_reply_with_an_internal_link_and_lets_a_note_through():
    from tests.factories import make_customer, make_ticket
    from tickets import services as ticket_services
    from tickets.models import TicketMessage

    team = TeamFactory()
    agent = make_agent(team)
    ticket = make_ticket(make_customer(), team=team)
    secret = make_article(title="Escalation runbook", body="Call the on-call.", visibility="internal")
    body = f"Try [this](/kb/articles/{secret.slug}/)."
    before = TicketMessage.objects.filter(ticket=ticket).count()
    with pytest.raises(ValidationError) as refused:
        ticket_services.ticket_reply(ticket, body=body, actor=agent)
    assert "Escalation runbook" in refused.value.message_dict["body"][0]
    assert TicketMessage.objects.filter(ticket=ticket).count() == before
    note = ticket_services.ticket_add_note(ticket, body=body, actor=agent)
    assert note.is_internal


@pytest.mark.parametrize(("status", "shown"), [("draft", "draft"), ("review", "in review"),
                                               ("archived", "archived")])  # fmt: skip
def test_a_public_reply_linking_an_unpublished_article_is_refused_naming_it(status, shown):
    article = make_article(title="Refund policy", body="Ask us.", status=status)
    with pytest.raises(ValidationError) as refused:
        services.articles_check_public_links(f"See [this](/kb/articles/{article.slug}/).")
    assert refused.value.message_dict == {
        "body": [services.UNPUBLISHED_ARTICLE_IN_REPLY.format(titles=f"“Refund policy” ({shown})")]
    }


def test_an_unpublished_article_is_refused_by_an_old_address_too():
    article = make_article(title="Refund policy", body="Ask us.")
    old_slug = article.slug
    services.article_update(article, slug="refunds", actor=None)
    services.article_archive(article, actor=None)
    with pytest.raises(ValidationError) as refused:
        services.articles_check_public_links(f"See /kb/articles/{old_slug}")
    assert "“Refund policy” (archived)" in refused.value.message_dict["body"][0]


def test_internal_and_unpublished_links_are_each_named_once_in_their_own_message():
    secret = make_article(title="Escalation runbook", visibility="internal", status="draft")
    draft = make_article(title="Refund policy", status="draft")
    with pytest.raises(ValidationError) as refused:
        services.articles_check_public_links(f"/kb/articles/{secret.slug}/ /kb/articles/{draft.slug}/")
    assert refused.value.message_dict == {
        "body": [
            services.INTERNAL_ARTICLE_IN_REPLY.format(titles="“Escalation runbook”"),
            services.UNPUBLISHED_ARTICLE_IN_REPLY.format(titles="“Refund policy” (draft)"),
        ]
    }


def test_only_published_articles_count_a_use_and_old_addresses_count_too():
    live = make_article(title="Reset a password")
    old_slug = live.slug
    services.article_update(live, slug="password-reset", actor=None)
    internal = make_article(title="Escalation runbook", visibility="internal")
    draft = make_article(title="Refund policy", status="draft")
    archived = make_article(title="Old refunds", status="archived")
    body = " ".join(f"/kb/articles/{slug}/" for slug in (old_slug, internal.slug, draft.slug, archived.slug))
    assert services.articles_count_uses(body) == 2
    uses = dict(Article.objects.values_list("title", "use_count"))
    assert uses == {"Reset a password": 1, "Escalation runbook": 1, "Refund policy": 0, "Old refunds": 0}


def test_ticket_reply_refuses_a_public_reply_linking_a_draft_and_counts_no_use():
    from tests.factories import make_customer, make_ticket
    from tickets import services as ticket_services
    from tickets.models import TicketMessage

    team = TeamFactory()
    agent = make_agent(team)
    ticket = make_ticket(make_customer(), team=team)
    draft = make_article(title="Refund policy", body="Ask us.", status="draft")
    body = f"Try [this](/kb/articles/{draft.slug}/)."
    before = TicketMessage.objects.filter(ticket=ticket).count()
    with pytest.raises(ValidationError) as refused:
        ticket_services.ticket_reply(ticket, body=body, actor=agent)
    assert "“Refund policy” (draft)" in refused.value.message_dict["body"][0]
    assert TicketMessage.objects.filter(ticket=ticket).count() == before
    ticket_services.ticket_add_note(ticket, body=body, actor=agent)
    assert Article.objects.get(pk=draft.pk).use_count == 0
