"""What a customer or visitor can learn of internal, draft, in-review or archived
articles, and whether agents see internal articles wherever customers see public ones."""

import re

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from knowledge import services
from tests.factories import CategoryFactory, TeamFactory, make_agent, make_article, make_customer

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def no_rate_limits(settings):
    settings.RATE_LIMITS_ENABLED = False


def _url(article) -> str:
    return reverse("knowledge:article", args=[article.slug])


def _as(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


# --- links, ranking ----------------------------------------------------------------------------------


def test_a_published_public_article_cannot_link_an_internal_or_unpublished_one(settings):
    """A public article linking an internal one would hand every customer and visitor (and search
    engines) that article's address, whose slug spells its title ("tier-two-escalation-runbook-with-
    vendor-pins"), as the same link in a ticket reply would (refused: articles_check_public_links). It
    is refused when the article is published with it, edited to hold it, made public holding it, or a
    draft holding it is published; a draft may hold it meanwhile, and an internal article may."""
    settings.SITE_URL = "https://help.example.com"  # the links below are to this site
    secret = make_article(
        title="Tier two escalation runbook with vendor PINs", body="Call the vendor.", visibility="internal"
    )
    draft = make_article(title="Coming soon", body="Not yet.", status="draft")
    link = f"Agents: see [the runbook](https://help.example.com/kb/manage/{secret.slug}/edit/)."
    refused = re.escape("A published public article cannot link to internal articles (“Tier two escalation")
    with pytest.raises(ValidationError, match=refused):
        make_article(title="Reset your password", body=f"Open the sign-in page. {link}")
    with pytest.raises(ValidationError, match="cannot link to articles that are not published"):
        make_article(title="Reset your password", body=f"See [soon](/kb/articles/{draft.slug}/).")
    public = make_article(title="Reset your password", body="Open the sign-in page.")
    with pytest.raises(ValidationError, match=refused):
        services.article_update(public, body=f"Open the sign-in page. {link}", actor=None)
    internal = make_article(title="Runbook index", body=link, visibility="internal")
    with pytest.raises(ValidationError, match=refused):
        services.article_update(internal, visibility="public", actor=None)
    held = make_article(title="Reset your PIN", body=link, status="draft")
    with pytest.raises(ValidationError, match=refused):
        services.article_publish(held, actor=None)
    for reader in (None, make_customer()):
        page = _as(reader).get(_url(public))
        assert page.status_code == 200 and secret.slug not in page.content.decode()


def test_a_public_reply_linking_an_internal_article_by_its_editor_address_is_refused(settings):
    """Expected: a public reply linking an internal article is refused whatever address of it the agent
    pasted, its editor page's (/kb/manage/<slug>/edit/, the address bar while they work on it) as well
    as its reading page. Actual: only /kb/articles/<slug> is recognised (services.ARTICLE_ADDRESS), so
    the reply goes out and the customer reads the internal article's slug (its title) in the link.
    Why it matters: the check exists to stop exactly this slip; agents copy the address they are at."""
    settings.SITE_URL = "https://help.example.org"  # the links below are to this site
    secret = make_article(title="Escalation runbook", body="Call the on-call.", visibility="internal")
    body = f"See [the steps](https://help.example.org/kb/manage/{secret.slug}/edit/)."
    with pytest.raises(ValidationError):
        services.articles_check_public_links(body)


# --- hidden everywhere at once -----------------------------------------------------------------------


def test_public_to_internal_disappears_at_once_from_every_customer_surface():
    """Made internal, an article leaves search (page and htmx fragment), ticket-form suggestions, the
    home counts, its topic, related lists and its own address for customers at once, with no stale cache;
    agents keep seeing it in all of them."""
    category = CategoryFactory(name="Printers", slug="printers")
    target = make_article("Zebra printer calibration", body="Hold the feed button.", category=category)
    sibling = make_article(
        "Zebra printer ribbons", body="Buy ribbons.", category=CategoryFactory(slug="misc")
    )
    customer, agent = make_customer(), make_agent(TeamFactory())
    search = reverse("knowledge:search")
    suggest = reverse("knowledge:suggest")
    # Warm everything (counts cache included) as the customer first.
    c = _as(customer)
    assert "calibration" in c.get(search, {"q": "zebra calibration"}).content.decode()
    assert "Printers" in c.get(reverse("knowledge:home")).content.decode()
    services.article_update(target, visibility="internal", actor=None)
    for reader in (None, customer):
        c = _as(reader)
        for response in (
            c.get(search, {"q": "zebra calibration"}),
            c.get(search, {"q": "zebra calib"}, headers=HX),
            c.get(suggest, {"subject": "zebra printer calibration"}, headers=HX),
            c.get(reverse("knowledge:home")),
            c.get(_url(sibling)),
        ):
            text = response.content.decode()
            assert "Zebra printer calibration" not in text and "feed button" not in text
            assert target.slug not in text
        assert c.get(reverse("knowledge:category", args=["printers"])).status_code == 404
        assert c.get(_url(target)).status_code == 404
    a = _as(agent)
    assert "calibration" in a.get(search, {"q": "zebra calibration"}).content.decode()
    assert "calibration" in a.get(suggest, {"subject": "zebra calibration"}, headers=HX).content.decode()
    home = a.get(reverse("knowledge:home")).content.decode()
    assert "Printers" in home and "1 article" in home
    assert "calibration" in a.get(reverse("knowledge:category", args=["printers"])).content.decode()
    assert a.get(_url(target)).status_code == 200


def test_other_articles_and_related_lists_hide_unlisted_siblings():
    """Uncategorised internal, draft and archived articles stay off "Other articles" and related lists."""
    make_article("Uncategorised public", body="x")
    hidden = [
        make_article("Uncategorised internal", body="x", visibility="internal"),
        make_article("Uncategorised draft", body="x", status="draft"),
        make_article("Uncategorised archived", body="x", status="archived"),
    ]
    for reader in (None, make_customer()):
        page = _as(reader).get(reverse("knowledge:other_articles")).content.decode()
        assert "Uncategorised public" in page
        for article in hidden:
            assert article.title not in page and article.slug not in page
        home = _as(reader).get(reverse("knowledge:home")).content.decode()
        assert "1 article" in home  # "Other articles" counts the public one only
    agent_page = _as(make_agent(TeamFactory())).get(reverse("knowledge:other_articles")).content.decode()
    assert "Uncategorised internal" in agent_page and "Uncategorised draft" not in agent_page


def test_article_pages_carry_no_validators_and_conditional_gets_do_not_reveal_hidden_articles():
    """No ETag or Last-Modified on article pages; a conditional GET for an internal or draft article is the
    same 404 as for an address that does not exist."""
    public = make_article("Public page", body="x")
    internal = make_article("Internal page", body="x", visibility="internal")
    draft = make_article("Draft page", body="x", status="draft")
    c = _as(make_customer())
    response = c.get(_url(public))
    assert "ETag" not in response and "Last-Modified" not in response
    conditional = {"If-None-Match": "*", "If-Modified-Since": "Thu, 01 Jan 2099 00:00:00 GMT"}
    for article in (internal, draft):
        hidden = c.get(_url(article), headers=conditional)
        missing = c.get(reverse("knowledge:article", args=["no-such-article"]), headers=conditional)
        assert hidden.status_code == missing.status_code == 404
        nonce = re.compile(rb'nonce="[^"]*"|value="[^"]*"|"X-CSRFToken": "[^"]*"')
        assert nonce.sub(b"", hidden.content) == nonce.sub(b"", missing.content)


def test_customers_get_404_from_picker_manage_pages_and_internal_view_counts():
    """The article picker and the manage pages answer a customer 404; the view counter answers the same
    204 for an internal article as for a missing one and counts nothing."""
    internal = make_article("Escalation runbook", body="Call.", visibility="internal")
    c = _as(make_customer())
    for url in (
        reverse("knowledge:manage_picker") + "?q=escalation",
        reverse("knowledge:manage_list"),
        reverse("knowledge:manage_edit", args=[internal.slug]),
    ):
        assert c.get(url, headers=HX).status_code == 404
    hidden = c.post(reverse("knowledge:viewed", args=[internal.slug]), {"article": internal.pk})
    missing = c.post(reverse("knowledge:viewed", args=["no-such"]), {"article": internal.pk})
    assert hidden.status_code == missing.status_code == 204
    internal.refresh_from_db()
    assert internal.views == 0


def test_an_old_address_of_an_article_made_internal_neither_redirects_nor_takes_votes():
    """Renamed, then made internal: its old address is 404 for customers (no redirect naming the new
    slug) and a vote posted there is 404; an agent is still redirected."""
    article = make_article("Old refund rules", body="Refunds.")
    old = article.slug
    services.article_update(article, slug="refund-rules-2026", actor=None)
    services.article_update(article, visibility="internal", actor=None)
    c = _as(make_customer())
    response = c.get(reverse("knowledge:article", args=[old]))
    assert response.status_code == 404 and "refund-rules-2026" not in response.content.decode()
    assert c.post(reverse("knowledge:vote", args=[old]), {"helpful": "yes"}).status_code == 404
    agent = _as(make_agent(TeamFactory())).get(reverse("knowledge:article", args=[old]))
    assert agent.status_code == 301 and agent["Location"].endswith("/refund-rules-2026/")


def test_a_customers_search_ranking_does_not_move_with_internal_articles():
    """Expected: the order in which a customer's search ranks public articles depends on public articles
    only. Actual: word rarity (the IDF weights in search_articles, and the corpus size) is read from
    SearchTerm.documents, which counts internal articles too, so adding internal articles that use a word
    reorders a customer's results. Why it matters: by watching two public articles swap places a
    customer learns that (and roughly how much) the internal knowledge base writes about a word, e.g. a
    product name or an incident; query_lexemes already switches to public_documents for this reason."""
    from knowledge.search import search_articles

    vpn = make_article("VPN setup guide", body="Connect the printer first.")
    printer = make_article("Printer setup guide", body="Connect the vpn first.")
    customer = make_customer()
    before = [hit.article.pk for hit in search_articles(customer, "vpn printer")]
    assert set(before) == {vpn.pk, printer.pk}
    for n in range(3):
        make_article(f"Internal note {n}", body="The vpn concentrator is leased.", visibility="internal")
    after = [hit.article.pk for hit in search_articles(customer, "vpn printer")]
    assert after == before
