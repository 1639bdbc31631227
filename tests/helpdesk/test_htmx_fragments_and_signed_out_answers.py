"""The pages that answer htmx requests with a fragment: the desk queue (and its 30-second
refresh with ETag/304), the audit trail's filter, the knowledge base's type-ahead search, suggestions and
the article picker, votes, the portal reply and the workspace's inline edits.

Rules: htmx enhances and plain HTML works; a URL answering a fragment to HX-Request is never
reused by a cache (or the Back button) as the page; refused htmx POSTs answer a fragment with the errors
and 422/409; a signed-out htmx request sends the browser to sign in; pushed URLs load as full pages;
CSRF is required of htmx POSTs; a 304 is only ever a fragment's."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from tests.conftest import made_once_per_module
from tests.factories import TeamFactory, make_agent, make_article, make_customer, make_supervisor, make_ticket
from tickets import services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}
QUEUE_FRAGMENT = {**HX, "HX-Target": "queue-table"}
AUDIT_FRAGMENT = {**HX, "HX-Target": "events"}


def make_world():
    team = TeamFactory(name="Support")
    agent = make_agent(team, name="Alex Agent")
    supervisor = make_supervisor(team, name="Sam Supervisor")
    customer = make_customer(name="Carla Customer")
    ticket = make_ticket(customer, team=team, subject="Printer on fire")
    article = make_article("How to reset your password", "Open the sign-in page and click Forgot.")
    return {"team": team, "agent": agent, "supervisor": supervisor, "customer": customer,
            "ticket": ticket, "article": article}  # fmt: skip


_world_rows, world = made_once_per_module(make_world, "world")


def is_full_page(response) -> bool:
    return response.content.decode().lstrip().lower().startswith("<!doctype html>")


def not_reusable_as_the_page(response) -> bool:
    """A browser may reuse this answer for a plain navigation to its URL only if neither Vary names
    HX-Request nor Cache-Control forbids storing it."""
    vary = [part.strip().lower() for part in response.get("Vary", "").split(",")]
    return "hx-request" in vary or "no-store" in response.get("Cache-Control", "")


# --- Defects ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, headers",
    [
        ("/desk/?status=open", QUEUE_FRAGMENT),  # the queue's 30-second refresh after the session ended
        ("/audit/?category=security", AUDIT_FRAGMENT),  # the audit filter
        ("/kb/manage/picker/?q=password", HX),  # the workspace's article picker
    ],
)
def test_signed_out_htmx_get_answer_cannot_be_reused_as_the_page(client, world, url, headers):
    """An agent's session ends while the desk is open; the 30-second refresh (an htmx GET of the page's
    own address) is answered 200 with an empty body and HX-Redirect to sign in. That answer says no-store and
    Vary: HX-Request: before the fix it had only `Vary: Cookie` (PrivatePagesMiddleware adds no-store
    only for signed-in users), so Back from the sign-in page could show the blank answer as the page."""
    response = client.get(url, headers={**headers, "HX-Current-URL": f"http://testserver{url}"})
    assert response.status_code == 200 and response["HX-Redirect"].startswith(reverse("accounts:login"))
    assert not_reusable_as_the_page(response), (
        f"Vary={response.get('Vary')!r} Cache-Control={response.get('Cache-Control')!r}"
    )


def test_article_picker_is_not_a_dead_control_without_javascript(client, world):
    """The workspace's "Link a knowledge-base article" works only with desk.js (its search box belongs to
    no form, its results are buttons the script acts on): it is hidden until the script shows it, as the
    shortcuts' help and "select all" are. Before the fix it was shown as a dead control without it."""
    client.force_login(world["agent"])
    page = client.get(reverse("tickets:desk_ticket", args=[world["ticket"].number])).content.decode()
    picker = re.search(r"<details class=\"article-picker\"[^>]*>", page)
    assert picker, "the workspace shows the article picker"
    box = re.search(r'<input id="picker-q"[^>]*>', page).group(0)
    owner = re.search(r'form="([^"]+)"', box)
    works_without_script = owner is None or f'id="{owner.group(1)}"' in page
    assert "hidden" in picker.group(0) or works_without_script, (
        "the picker is shown without JavaScript but its search box belongs to no form"
    )


@pytest.mark.parametrize("who, url", [(None, "/kb/suggest/?subject=reset+password"),
                                       ("agent", "/kb/manage/picker/?q=password")])  # fmt: skip
def test_fragment_only_addresses_answer_a_page_to_a_plain_request(client, world, who, url):
    """/kb/suggest/ and /kb/manage/picker/ answer htmx with a fragment; opened as a page (typed in, from
    the history or a shared link: the browser says Sec-Fetch-Dest: document) they answer the search page
    for the same words, not a bare fragment without <html>, header, navigation or styles."""
    if who:
        client.force_login(world[who])
    response = client.get(url, headers={"Sec-Fetch-Dest": "document"}, follow=True)
    assert response.status_code == 200 and is_full_page(response), response.content.decode()[:200]
    assert response.redirect_chain[0][0].startswith("/kb/search/?q=")
    fragment = client.get(url, headers={"HX-Request": "true"})
    assert not is_full_page(fragment) and "HX-Request" in fragment["Vary"]


# --- What holds ------------------------------------------------------------------------------------


def test_queue_fragment_varies_and_a_full_page_is_never_answered_304(client, world):
    """The refresh's ETag/304 is the fragment's only: a plain request (or htmx's history restore) with
    the same If-None-Match gets the full page, 200, uncacheable; the fragment says Vary: HX-Request."""
    client.force_login(world["agent"])
    fragment = client.get("/desk/", headers=QUEUE_FRAGMENT)
    etag = fragment["ETag"]
    assert not is_full_page(fragment) and "HX-Request" in fragment["Vary"]
    assert client.get("/desk/", headers={**QUEUE_FRAGMENT, "If-None-Match": etag}).status_code == 304
    restore = {**QUEUE_FRAGMENT, "HX-History-Restore-Request": "true"}
    for headers in ({"If-None-Match": etag}, {**restore, "If-None-Match": etag}):
        page = client.get("/desk/", headers=headers)
        assert page.status_code == 200 and is_full_page(page) and "ETag" not in page
        assert "no-store" in page["Cache-Control"]


def test_kb_search_fragment_and_page_vary_on_hx_request(client, world):
    """Anonymous type-ahead and the search page share /kb/search/?q=…: both say Vary: HX-Request, and
    both list the same article."""
    fragment = client.get("/kb/search/?q=password", headers=HX)
    page = client.get("/kb/search/?q=password")
    assert not is_full_page(fragment) and is_full_page(page)
    for response in (fragment, page):
        assert response.status_code == 200 and "HX-Request" in response["Vary"]
        assert world["article"].title in response.content.decode()


def test_unknown_hx_target_gets_the_uncacheable_full_page(client, world):
    """A fragment request naming a target the view does not serve gets the full page, not cacheable."""
    client.force_login(world["supervisor"])
    for url in ("/desk/", "/audit/"):
        response = client.get(url, headers={**HX, "HX-Target": "somewhere-else"})
        assert response.status_code == 200 and is_full_page(response)
        assert "no-store" in response["Cache-Control"]


def test_audit_refused_filter_is_422_with_and_without_htmx(client, world):
    """A date the filter cannot read: the htmx fragment (with the filter form, marked, out of band) and
    the plain page both answer 422; a good filter answers 200 both ways with the same count."""
    client.force_login(world["supervisor"])
    bad = "/audit/?date_from=not-a-date"
    fragment, page = client.get(bad, headers=AUDIT_FRAGMENT), client.get(bad)
    assert fragment.status_code == page.status_code == 422
    assert not is_full_page(fragment) and 'id="audit-filters"' in fragment.content.decode()
    assert 'aria-invalid="true"' in fragment.content.decode()
    good_fragment, good_page = client.get("/audit/", headers=AUDIT_FRAGMENT), client.get("/audit/")
    assert good_fragment.status_code == good_page.status_code == 200
    count = re.search(r"(\d+) events?, newest first", good_page.content.decode()).group(1)
    assert f"{count} event" in good_fragment.content.decode()


def test_pushed_urls_open_as_full_pages(client, world):
    """The addresses htmx pushes (queue filter and pages, audit filter, search's replaced URL) load as
    whole pages when opened directly."""
    client.force_login(world["supervisor"])
    for url in ("/desk/?q=&status=open&page=2", "/audit/?actor=&category=security", "/kb/search/?q=reset"):
        response = client.get(url)
        assert response.status_code == 200 and is_full_page(response), url


def test_signed_out_htmx_post_is_sent_to_sign_in_not_given_the_sign_in_page(client, world):
    """An inline edit posted after the session ended: HX-Redirect to sign in, back to the workspace."""
    ticket = world["ticket"]
    page = reverse("tickets:desk_ticket", args=[ticket.number])
    response = client.post(
        reverse("tickets:desk_update", args=[ticket.number]),
        {"field": "priority", "value": "high", "version": ticket.version},
        headers={**HX, "HX-Current-URL": f"http://testserver{page}"},
    )
    assert response["HX-Redirect"].startswith(reverse("accounts:login") + "?next=")
    assert "password" not in response.content.decode().lower()
    assert Ticket.objects.get(pk=ticket.pk).priority != "high"


def test_refused_inline_edit_is_a_422_fragment_and_stale_one_409_like_the_plain_page(client, world):
    ticket = world["ticket"]
    client.force_login(world["agent"])
    url = reverse("tickets:desk_update", args=[ticket.number])
    bad = {"field": "priority", "value": "bogus", "version": ticket.version}
    fragment, page = client.post(url, bad, headers=HX), client.post(url, bad)
    assert fragment.status_code == page.status_code == 422
    assert not is_full_page(fragment) and 'id="edit-error" role="alert"' in fragment.content.decode()
    stale = {"field": "priority", "value": "high", "version": ticket.version + 7}
    assert client.post(url, stale, headers=HX).status_code == client.post(url, stale).status_code == 409


def test_refused_portal_reply_is_a_422_fragment_keeping_the_file(client, world):
    client.force_login(world["customer"])
    url = reverse("tickets:portal_reply", args=[world["ticket"].number])
    upload = SimpleUploadedFile("shot.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64, content_type="image/png")
    response = client.post(url, {"body": "", "attachments": [upload]}, headers=HX)
    html = response.content.decode()
    assert response.status_code == 422 and not is_full_page(response)
    assert 'id="conversation"' in html and 'aria-invalid="true"' in html
    assert re.search(r'name="held"[^>]*checked>\s*shot\.png', html)


def test_htmx_posts_require_the_csrf_token_the_page_sends_in_hx_headers(world):
    """The 'seen' POST the workspace sends on load carries no field: the token comes from <body
    hx-headers>; without it the POST is refused."""
    ticket, agent = world["ticket"], world["agent"]
    services.ticket_assign(ticket, assignee=agent, actor=agent)
    services.ticket_reply(Ticket.objects.get(pk=ticket.pk), body="Still burning", actor=world["customer"])
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)
    page = client.get(reverse("tickets:desk_ticket", args=[ticket.number])).content.decode()
    token = re.search(r"hx-headers='\{\"X-CSRFToken\": \"([^\"]+)\"\}'", page).group(1)
    seen = reverse("tickets:desk_seen", args=[ticket.number])
    assert seen in page
    data = {"shown": "2020-01-01T00:00:00+00:00"}
    assert client.post(seen, data, headers=HX).status_code == 403
    assert client.post(seen, data, headers={**HX, "X-CSRFToken": token}).status_code == 204
