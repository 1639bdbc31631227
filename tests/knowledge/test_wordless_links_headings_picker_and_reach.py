"""The knowledge base as readers and editors use it: links and headings with nothing to read, the
reply picker's links at the site's address, old addresses, related articles and votes kept from
customers."""

import html
import re

import pytest
from django.urls import reverse

from knowledge import services
from knowledge.models import ArticleFeedback
from tests.factories import (
    CategoryFactory,
    TeamFactory,
    make_agent,
    make_article,
    make_customer,
    make_supervisor,
)

pytestmark = pytest.mark.django_db


def test_restore_with_an_out_of_range_revision_id_is_a_404(client):
    editor = make_supervisor(TeamFactory())
    article = make_article(title="VPN setup")
    client.force_login(editor)
    url = f"/kb/manage/{article.slug}/revisions/99999999999999999999999/restore/"
    response = client.post(url, {"loaded_at": article.updated_at.isoformat()})
    assert response.status_code == 404


def test_customer_never_reaches_an_internal_article_by_its_old_address(client):
    article = make_article(title="Escalation runbook", visibility="internal")
    old = article.slug
    services.article_update(article, title="Escalation runbook v2", slug="escalation-runbook-v2", actor=None)
    client.force_login(make_customer())
    response = client.get(reverse("knowledge:article", args=[old]))
    assert response.status_code == 404
    assert b"escalation-runbook-v2" not in response.content


def test_related_articles_show_a_customer_only_published_public_ones(client):
    category = CategoryFactory(name="Billing", slug="billing")
    shown = make_article(title="Pay an invoice", category=category)
    make_article(title="Refund approval matrix", category=category, visibility="internal")
    make_article(title="Draft about credit notes", category=category, status="draft")
    make_article(title="Old VAT rules", category=category, status="archived")
    make_article(title="Invoice address", category=category)
    client.force_login(make_customer())
    page = client.get(reverse("knowledge:article", args=[shown.slug])).content.decode()
    assert "Invoice address" in page
    for hidden in ("Refund approval matrix", "Draft about credit notes", "Old VAT rules"):
        assert hidden not in page


@pytest.mark.parametrize("status", ["draft", "review", "archived"])
def test_votes_on_unpublished_articles_are_404(client, status):
    article = make_article(title="Secret plan", status=status)
    response = client.post(reverse("knowledge:vote", args=[article.slug]), {"helpful": "yes"})
    assert response.status_code == 404
    assert not ArticleFeedback.objects.exists()


def test_a_link_with_no_words_in_an_article_gets_an_accessible_name(client):
    """An editor writes `[](https://status.example.com)` (a link whose words they forgot) in an article.
    The article page renders `<a href="https://status.example.com"></a>`: a link with no name, which a
    screen reader announces as "link" and a sighted reader cannot see or click (WCAG 2.4.4 / 4.1.2,
    axe "link-name"). An image without alt text is labelled with its address (helpdesk.markdown
    _image_as_link); a link without words should be too (or shown as its address in text)."""
    article = make_article(
        title="Service status",
        body="Check the status page first.\n\n[](https://status.example.com/)\n\nThen restart.",
    )
    page = client.get(reverse("knowledge:article", args=[article.slug])).content.decode()
    assert "></a>" not in article.body_html, article.body_html
    assert 'href="https://status.example.com/"' in page
    assert "></a>" not in page.split('class="message-body"')[1].split("</div>")[0]


@pytest.mark.parametrize("heading", ["##", "## \u200b", "###   "])
def test_an_empty_heading_in_an_article_is_not_rendered_as_an_empty_heading_element(client, heading):
    """An editor leaves a heading marker without words ("##" on a line of its own, or one holding only a
    zero-width space pasted from a document). The article page renders `<h3 id="h-section"></h3>`: an
    empty heading that screen-reader users meet in the page's heading list with nothing to read (axe
    "empty-heading", WCAG 1.3.1 / 2.4.6). The project refuses titles that would make an empty heading
    (services.TITLE_REQUIRED); the body's headings should equally render as nothing (or not as
    headings) when they show no text."""
    article = make_article(title="Printer setup", body=f"Install the driver.\n\n{heading}\n\nThen print.")
    assert 'id="h-section"' not in article.body_html, article.body_html


def test_the_reply_picker_links_articles_at_the_sites_own_address(client, settings):
    """The site sets SITE_URL=https://help.example.com ("where links in mails go", .env.example); an
    agent works the desk through another allowed host (here the test server's, as on an internal name or
    over plain http behind a proxy) and uses the article picker to put a knowledge-base link in a public
    reply, which the customer reads in the portal and in the reply's e-mail. The picker inserts
    `http://testserver/kb/articles/...`, the host and scheme of the agent's own request
    (templates/knowledge/manage/_picker.html: request.scheme/request.get_host), so the customer gets a
    link to an address that may not reach the site. It should use the site's address as mail links do
    (helpdesk.links.mail_site / mail_link), falling back to the request only without SITE_URL."""
    settings.SITE_URL = "https://help.example.com"
    article = make_article(title="Printer jams on page two", body="Open the tray.")
    client.force_login(make_agent(TeamFactory()))
    page = client.get(
        reverse("knowledge:manage_picker"), {"q": "printer jams"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    inserted = html.unescape(re.search(r'data-insert-link="([^"]*)"', page).group(1))
    assert f"(https://help.example.com/kb/articles/{article.slug}/)" in inserted, inserted
