"""How the site answers odd HTTP at its edges: bodies over Django's upload limits, forged Host
headers, methods a route does not take, HEAD/OPTIONS, broken percent-encoding, NUL bytes and very long
paths and queries, APPEND_SLASH, the CSRF failure page, and the error pages' layout for each audience."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.urls import path, reverse

from helpdesk.urls import urlpatterns as site_urlpatterns
from tests.conftest import made_once_per_module
from tests.factories import TeamFactory, make_agent, make_customer, make_ticket

pytestmark = pytest.mark.django_db


def _boom(request):
    raise RuntimeError("SECRET_KEY=do-not-show-this")


# This module doubles as a URLconf: the site's routes and one that fails, for the 500 handler.
urlpatterns = [*site_urlpatterns, path("review-boom/", _boom)]

OVER_MEMORY = 5 * 1024 * 1024 + 1024  # past DATA_UPLOAD_MAX_MEMORY_SIZE (5 MB)


def make_people():
    team = TeamFactory(name="Support")
    agent = make_agent(team, name="Alex Agent")
    customer = make_customer(name="Carla Customer")
    ticket = make_ticket(customer, team=team, subject="Printer on fire")
    return {"agent": agent, "customer": customer, "ticket": ticket}


_people_rows, people = made_once_per_module(make_people, "people")


def client_for(user=None, **kwargs) -> Client:
    client = Client(raise_request_exception=False, **kwargs)
    if user is not None:
        client.force_login(user)
    return client


def text(response) -> str:
    return response.content.decode(errors="replace")


def main_of(response) -> str:
    match = re.search(r"<main\b.*?</main>", text(response), re.S)
    assert match, "the page has no <main>"
    return match.group(0)


def plain(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).lower()


def says_what_was_too_big(response, *words) -> bool:
    said = plain(main_of(response))
    return any(re.search(rf"\b{re.escape(word)}\b", said) for word in words)


# --- Bodies past Django's limits: the 400 says what was too big and how to fix it ---------------------


def test_portal_request_over_the_body_limit_says_it_was_too_large(people):
    """A customer pastes a huge log (over DATA_UPLOAD_MAX_MEMORY_SIZE, 5 MB of text) into the request form.
    Django raises RequestDataTooBig: the 400 page says it was too large, with the limit and what to do
    (attach the log as a file), as Zendesk and Freshdesk say "your message is too long (max ...)", not
    that it was not understood, whose advice would fail again the same way."""
    client = client_for(people["customer"])
    response = client.post(
        reverse("tickets:portal_submit"), {"subject": "Logs", "description": "x" * OVER_MEMORY}
    )
    assert response.status_code in (400, 413)
    assert says_what_was_too_big(response, "too large", "too long", "too big", "mb"), plain(main_of(response))


def test_desk_reply_over_the_body_limit_says_it_was_too_large(people):
    """The same for an agent's reply on the desk (tickets:desk_reply): a reply of more than 5 MB of text
    is told it was too large and how to get it sent, not to try the same again."""
    client = client_for(people["agent"])
    response = client.post(
        reverse("tickets:desk_reply", args=[people["ticket"].number]), {"body": "x" * OVER_MEMORY}
    )
    assert response.status_code in (400, 413)
    assert says_what_was_too_big(response, "too large", "too long", "too big", "mb"), plain(main_of(response))


def test_too_many_fields_on_the_portal_form_says_so(people):
    """A form post with more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS (a script, a browser extension,
    a custom form with many checkboxes) raises TooManyFieldsSent: the 400 page says the form sent too
    many fields."""
    client = client_for(people["customer"])
    data = {"subject": "s", "description": "d", **{f"extra{i}": "1" for i in range(1100)}}
    response = client.post(reverse("tickets:portal_submit"), data)
    assert response.status_code == 400
    assert says_what_was_too_big(response, "too many"), plain(main_of(response))


def test_too_many_files_on_the_portal_form_says_so(people):
    """More files than DATA_UPLOAD_MAX_NUMBER_FILES in one request raises TooManyFilesSent. The form allows
    10 files and says so when there are 11-1000; past 1000 the 400 page still says that too many files
    were attached, and how many are allowed."""
    client = client_for(people["customer"])
    files = [SimpleUploadedFile(f"a{i}.txt", b"x") for i in range(1001)]
    response = client.post(
        reverse("tickets:portal_submit"), {"subject": "s", "description": "d", "attachments": files}
    )
    assert response.status_code == 400
    assert says_what_was_too_big(response, "too many", "files"), plain(main_of(response))


def test_the_bad_request_page_offers_a_way_back_in_its_content(people):
    """Like every other error page (403, 404, 405, 429, 500), the 400 page has a "Go to the help centre"
    link in <main> (the header's brand link is easy to miss, and skipped by screen-reader users jumping to
    the main content)."""
    client = client_for(people["agent"])
    response = client.post(
        reverse("tickets:desk_reply", args=[people["ticket"].number]), {"body": "x" * OVER_MEMORY}
    )
    assert response.status_code == 400
    assert "<a " in main_of(response), main_of(response)


def test_csrf_failure_page_offers_a_link_back(people):
    """The CSRF failure page (templates/403_csrf.html) says to go back and reload, and links back to the
    help centre in <main>, as the 403 and 404 pages do."""
    client = client_for(people["customer"], enforce_csrf_checks=True)
    response = client.post(reverse("tickets:portal_submit"), {"subject": "x", "description": "y"})
    assert response.status_code == 403
    assert "reload" in plain(main_of(response))
    assert "<a " in main_of(response), main_of(response)


# --- APPEND_SLASH ------------------------------------------------------------------------------------


def test_get_without_slash_redirects_and_post_is_no_server_error(people):
    client = client_for(people["agent"])
    response = client.get("/desk")
    assert response.status_code == 301 and response["Location"] == "/desk/"
    assert client.post("/desk/bulk", {"a": "1"}).status_code < 500


@pytest.mark.parametrize("debug", [False, True])
def test_a_form_sent_without_the_slash_is_sent_again_with_it_as_it_was(people, settings, debug):
    """308, not 301: the browser repeats the POST with its body at the address with the slash (a 301
    would make it a GET and lose what was typed; under DEBUG Django raised). Nothing is done before."""
    settings.DEBUG = debug
    ticket = people["ticket"]
    client = client_for(ticket.requester)
    reply = reverse("tickets:portal_reply", args=[ticket.number])
    response = client.post(reply.rstrip("/"), {"body": "Sent to the address without its slash."})
    assert response.status_code == 308 and response["Location"] == reply
    assert not ticket.messages.filter(body__startswith="Sent to the address").exists()
    followed = client.post(reply.rstrip("/"), {"body": "Sent to the address without its slash."}, follow=True)
    assert followed.redirect_chain[0] == (reply, 308)
    assert ticket.messages.filter(body="Sent to the address without its slash.").count() == 1


# --- Host header ------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["visitor", "agent"])
def test_disallowed_host_gets_the_friendly_400_without_settings(people, who):
    client = client_for(people["agent"] if who == "agent" else None)
    response = client.get("/desk/" if who == "agent" else "/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    body = text(response)
    assert "<main" in body and "<title>" in body
    for leak in ("ALLOWED_HOSTS", "evil.example", "Traceback", "DisallowedHost", "SECRET_KEY"):
        assert leak not in body


# --- Odd paths and queries ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["/kb/%ZZ/", "/kb/%C0%AF/", "/desk/%ZZ", "/kb/a%00b/", "/portal/tickets/%00/", "/" + "a" * 10240,
     "/kb/articles/" + "b" * 10240 + "/", "/desk/tickets/%C0%AF/"],
)  # fmt: skip
def test_odd_paths_are_404_pages(people, url):
    response = client_for(people["agent"]).get(url)
    assert response.status_code in (400, 404)
    assert "<main" in text(response)


@pytest.mark.parametrize(
    "url",
    ["/kb/search/?q=%ZZ", "/kb/search/?q=%C0%AF", "/desk/?q=%C0%AF&status=%ZZ", "/desk/?q=" + "a" * 100_000,
     "/kb/search/?q=" + "a" * 100_000, "/portal/tickets/?q=%C0%AF%00"],
)  # fmt: skip
def test_odd_queries_are_no_server_error(people, url):
    who = people["customer"] if url.startswith("/portal") else people["agent"]
    assert client_for(who).get(url).status_code < 500


# --- Methods ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_other_methods_get_the_405_page_with_allow(people, method):
    client = client_for(people["agent"])
    response = getattr(client, method)(reverse("tickets:desk_queue"))
    assert response.status_code == 405 and "GET" in response["Allow"]
    assert "<main" in text(response) and 'href="/"' in main_of(response)


def test_head_answers_like_get_without_a_body(people):
    client = client_for(people["agent"])
    url = reverse("tickets:desk_ticket", args=[people["ticket"].number])
    get, head = client.get(url), client.head(url)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    for header in ("Content-Type", "Cache-Control", "Vary", "X-Frame-Options"):
        assert head.get(header) == get.get(header), header


def test_head_on_a_post_only_address_is_405_with_allow(people):
    response = client_for(people["customer"]).head(reverse("accounts:logout"))
    assert response.status_code == 405 and "POST" in response["Allow"] and response.content == b""


# --- Error pages in the right layout -----------------------------------------------------------------


def test_404_is_in_each_audience_layout(people):
    agent_page = client_for(people["agent"]).get("/no-such-page/")
    customer_page = client_for(people["customer"]).get("/no-such-page/")
    visitor_page = client_for().get("/no-such-page/")
    assert {agent_page.status_code, customer_page.status_code, visitor_page.status_code} == {404}
    assert "Agent desk" in text(agent_page) and "My tickets" in text(customer_page)
    assert "Sign in" in text(visitor_page)
    for page in (agent_page, customer_page, visitor_page):
        assert "<title>Page not found" in text(page) and "<main" in text(page)


@override_settings(ROOT_URLCONF=__name__)
@pytest.mark.parametrize("who", ["visitor", "agent"])
def test_500_page_is_friendly_and_shows_no_trace(people, who):
    client = client_for(people["agent"] if who == "agent" else None)
    response = client.get("/review-boom/")
    assert response.status_code == 500
    body = text(response)
    assert "<main" in body and "<title>" in body and 'href="/"' in body
    assert "Traceback" not in body and "do-not-show-this" not in body
