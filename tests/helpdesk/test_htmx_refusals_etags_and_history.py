"""The htmx-enhanced endpoints and HTTP caching: fragment vs page, Vary, history restore,
refused forms under htmx, the queue's ETag/304, signed-out htmx requests, CSRF and outsiders."""

import re
import uuid

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse

from accounts.models import TeamMember
from tests.conftest import made_once_per_module
from tests.factories import (
    TeamFactory,
    make_agent,
    make_article,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tickets import services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}
QUEUE = "/desk/"
QUEUE_FRAGMENT = {**HX, "HX-Target": "queue-table"}
RESTORE = {"HX-History-Restore-Request": "true"}


def make_world():
    support, billing = TeamFactory(name="Support"), TeamFactory(name="Billing")
    agent = make_agent(support, billing, name="Alex Agent")
    colleague = make_agent(support, name="Cody Colleague")
    outsider_agent = make_agent(TeamFactory(name="Sales"), name="Olga Outside")
    supervisor = make_supervisor(support, name="Sam Supervisor")
    customer = make_customer(name="Carla Customer")
    stranger = make_customer(name="Stan Stranger")
    ticket = make_ticket(customer, team=support, subject="Printer on fire")
    billing_ticket = make_ticket(customer, team=billing, subject="Invoice 4711 wrong")
    article = make_article("How to reset your password", "Open the sign-in page and click Forgot.")
    internal = make_article(
        "Reset password internal runbook", "Secret steps for staff reset password.", visibility="internal"
    )
    return {
        "support": support, "billing": billing, "agent": agent, "colleague": colleague,
        "outsider_agent": outsider_agent, "supervisor": supervisor, "customer": customer,
        "stranger": stranger, "ticket": ticket, "billing_ticket": billing_ticket, "article": article,
        "internal": internal,
    }  # fmt: skip


_world_rows, world = made_once_per_module(make_world, "world")


def is_full_page(response) -> bool:
    return response.content.decode().lstrip().lower().startswith("<!doctype html>")


def signed_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


# ---------------------------------------------------------------- the queue's ETag


def test_queue_etag_after_losing_a_team_is_not_304(world):
    """Alex works Support and Billing; his 30-second refresh lists the Billing ticket. He is taken off
    Billing: the next refresh with the old ETag must not be a 304 (his copy lists a ticket he may no
    longer see)."""
    alex = signed_in(world["agent"])
    first = alex.get(QUEUE, headers=QUEUE_FRAGMENT)
    assert first.status_code == 200 and "Invoice 4711" in first.content.decode()
    TeamMember.objects.filter(user=world["agent"], team=world["billing"]).delete()
    again = alex.get(QUEUE, headers={**QUEUE_FRAGMENT, "If-None-Match": first["ETag"]})
    assert again.status_code == 200
    assert "Invoice 4711" not in again.content.decode()


def test_queue_etag_after_a_colleagues_change_is_not_304(world):
    alex = signed_in(world["agent"])
    first = alex.get(QUEUE, headers=QUEUE_FRAGMENT)
    assert "Printer on fire" in first.content.decode()
    ticket = world["ticket"]
    services.ticket_update_fields(
        ticket, changes={"priority": "urgent"}, actor=world["colleague"], expected_version=ticket.version
    )
    again = alex.get(QUEUE, headers={**QUEUE_FRAGMENT, "If-None-Match": first["ETag"]})
    assert again.status_code == 200 and again["ETag"] != first["ETag"]


def test_new_ticket_by_a_customer_shows_at_the_next_refresh(world):
    alex = signed_in(world["agent"])
    first = alex.get(QUEUE, headers=QUEUE_FRAGMENT)
    make_ticket(world["customer"], team=world["support"], subject="Coffee machine leaking")
    again = alex.get(QUEUE, headers={**QUEUE_FRAGMENT, "If-None-Match": first["ETag"]})
    assert again.status_code == 200 and "Coffee machine leaking" in again.content.decode()


# ---------------------------------------------------------------- fragments and outsiders


def test_outsiders_get_404_from_fragment_urls(world):
    ticket = world["ticket"]
    olga = signed_in(world["outsider_agent"])
    update = reverse("tickets:desk_update", args=[ticket.number])
    seen = reverse("tickets:desk_seen", args=[ticket.number])
    assert olga.post(update, {"field": "priority", "value": "high", "version": ticket.version},
                     headers=HX).status_code == 404  # fmt: skip
    assert olga.post(seen, {"shown": "2020-01-01T00:00:00+00:00"}, headers=HX).status_code == 404
    stan = signed_in(world["stranger"])
    reply = reverse("tickets:portal_reply", args=[ticket.number])
    response = stan.post(reply, {"body": "hello"}, headers=HX)
    assert response.status_code == 404 and "Printer on fire" not in response.content.decode()
    assert stan.get(QUEUE, headers=QUEUE_FRAGMENT).status_code == 404
    assert stan.get("/audit/", headers={**HX, "HX-Target": "events"}).status_code == 404
    assert signed_in(world["agent"]).get("/audit/", headers={**HX, "HX-Target": "events"}).status_code == 404
    assert stan.post(reverse("knowledge:manage_preview"), {"body": "x"}, headers=HX).status_code == 404
    assert stan.get(reverse("knowledge:manage_picker") + "?q=reset", headers=HX).status_code == 404


def test_internal_article_never_in_public_fragments(world):
    for client in (Client(), signed_in(world["customer"])):
        for url in ("/kb/search/?q=reset+password", "/kb/suggest/?subject=reset+password"):
            body = client.get(url, headers=HX).content.decode()
            assert "internal runbook" not in body, url
        slug = world["internal"].slug
        assert client.post(f"/kb/articles/{slug}/vote/", {"helpful": "yes"}, headers=HX).status_code == 404
    staff = signed_in(world["agent"]).get("/kb/search/?q=reset+password", headers=HX).content.decode()
    assert "internal runbook" in staff


# ---------------------------------------------------------------- CSRF on htmx POSTs


def test_htmx_posts_without_csrf_token_get_the_403_page(world):
    ticket = world["ticket"]
    cases = [
        (world["agent"], reverse("tickets:desk_update", args=[ticket.number]),
         {"field": "priority", "value": "high", "version": ticket.version}),
        (world["customer"], reverse("tickets:portal_reply", args=[ticket.number]), {"body": "hi"}),
        (world["agent"], reverse("knowledge:manage_preview"), {"body": "x"}),
        (world["customer"], f"/kb/articles/{world['article'].slug}/vote/", {"helpful": "yes"}),
        (world["customer"], f"/kb/articles/{world['article'].slug}/viewed/",
         {"article": world["article"].pk}),
        (None, f"/kb/articles/{world['article'].slug}/vote/", {"helpful": "yes"}),
    ]  # fmt: skip
    for user, url, data in cases:
        client = Client(enforce_csrf_checks=True)
        if user:
            client.force_login(user)
        response = client.post(url, data, headers=HX)
        assert response.status_code == 403, (url, response.status_code)
        assert is_full_page(response), url
    assert Ticket.objects.get(pk=ticket.pk).priority != "high"


# ---------------------------------------------------------------- history restore


@pytest.mark.parametrize("url, who", [
    ("/kb/search/?q=reset", None),
    ("/desk/?status=open", "agent"),
    ("/audit/", "supervisor"),
])  # fmt: skip
def test_history_restore_gets_the_whole_page(world, url, who):
    client = signed_in(world[who]) if who else Client()
    response = client.get(url, headers={**RESTORE, "HX-Current-URL": f"http://testserver{url}"})
    assert response.status_code == 200 and is_full_page(response)


# ---------------------------------------------------------------- 422 under htmx


def test_refused_portal_reply_under_htmx_keeps_the_typed_text(world):
    client = signed_in(world["customer"])
    url = reverse("tickets:portal_reply", args=[world["ticket"].number])
    typed = "My <b>words</b> " + "x" * 50_001
    response = client.post(url, {"body": typed}, headers=HX)
    html = response.content.decode()
    assert response.status_code == 422 and not is_full_page(response)
    assert "My &lt;b&gt;words&lt;/b&gt; xxxx" in html
    assert 'aria-invalid="true"' in html


def test_refused_tags_edit_under_htmx_keeps_the_typed_tags(world):
    ticket = world["ticket"]
    client = signed_in(world["agent"])
    url = reverse("tickets:desk_update", args=[ticket.number])
    typed = "good, " + "t" * 300
    response = client.post(url, {"field": "tags", "value": typed, "version": ticket.version}, headers=HX)
    html = response.content.decode()
    assert response.status_code == 422 and not is_full_page(response), response.status_code
    assert "t" * 300 in html and 'role="alert"' in html


# ---------------------------------------------------------------- refusals htmx does not swap


def _htmx_swaps(page_html: str, status: int) -> bool:
    """Whether htmx, configured as the page's <meta name="htmx-config"> says, swaps a response of
    `status` into the page (htmx 2: the first responseHandling entry whose code matches decides)."""
    import html
    import json

    meta = re.search(r'<meta name="htmx-config" content=\'([^\']+)\'', page_html)
    config = json.loads(html.unescape(meta.group(1)))
    for rule in config["responseHandling"]:
        if re.search(rule["code"], str(status)):
            return rule["swap"]
    return False


@override_settings(RATE_LIMITS={**settings.RATE_LIMITS, "ticket_submit": ("60/h", "1/h")})
def test_a_follow_up_refused_for_volume_under_htmx_reaches_the_page(world, settings):
    """A customer answers on a closed ticket twice within the hour (each answer opens a follow-up, and
    follow-ups count with the requests they open). With JavaScript the reply form posts through htmx.
    The view answered 429 with the #conversation fragment written for this case ("Please wait 60
    minutes, then send it again: what you wrote is kept below"), but the site's htmx-config swaps no
    429: htmx dropped it and app.js said "Wait a minute", so the customer never learnt the real wait.
    Under htmx the refusal is a 422, with its Retry-After; without htmx still the 429 page."""
    settings.RATE_LIMITS_ENABLED = True
    closed = make_ticket(world["customer"], subject="Old closed one")
    services.ticket_transition(closed, status="closed", actor=None)
    client = signed_in(world["customer"])
    page = client.get(reverse("tickets:portal_detail", args=[closed.number])).content.decode()
    reply = reverse("tickets:portal_reply", args=[closed.number])
    first = client.post(reply, {"body": "Still broken", "submission_key": str(uuid.uuid4())}, headers=HX)
    assert "HX-Redirect" in first  # the follow-up it opened
    refused = client.post(reply, {"body": "And the fax beeps", "submission_key": str(uuid.uuid4())},
                          headers=HX)  # fmt: skip
    body = refused.content.decode()
    assert refused.status_code == 422 and "Please wait" in body and "And the fax beeps" in body
    assert int(refused["Retry-After"]) > 60  # far more than the minute app.js's own message names
    assert _htmx_swaps(page, refused.status_code)
    plain = client.post(reply, {"body": "And the fax beeps", "submission_key": str(uuid.uuid4())})
    assert plain.status_code == 429 and "And the fax beeps" in plain.content.decode()


# ---------------------------------------------------------------- a session that ends mid-task


def _sign_in(browser: Client, url: str, email: str) -> None:
    from tests.factories import TEST_PASSWORD

    form = browser.get(url).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    browser.post(url, {"username": email, "password": TEST_PASSWORD, "csrfmiddlewaretoken": token})


def test_expired_session_htmx_reply_with_csrf_gets_hx_redirect_and_keeps_the_draft(world):
    """With CSRF enforced as in a browser: the customer's session ends while they type; the htmx reply
    (token from the page) is sent to sign in by HX-Redirect, not a 403, and the text comes back after."""
    from accounts.sessions import SessionStore

    ticket, email = world["ticket"], world["customer"].email
    browser = Client(enforce_csrf_checks=True)
    _sign_in(browser, reverse("accounts:login"), email)
    detail = reverse("tickets:portal_detail", args=[ticket.number])
    page = browser.get(detail).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    drafted_by = re.search(r'name="drafted_by" value="([^"]+)"', page).group(1)
    SessionStore(session_key=browser.cookies["sessionid"].value).delete()
    response = browser.post(
        reverse("tickets:portal_reply", args=[ticket.number]),
        {"body": "Typed while the session ended", "csrfmiddlewaretoken": token, "drafted_by": drafted_by},
        headers={**HX, "HX-Current-URL": f"http://testserver{detail}"},
    )
    assert response.status_code == 200, response.status_code
    assert response["HX-Redirect"].startswith(reverse("accounts:login") + "?next=")
    _sign_in(browser, response["HX-Redirect"], email)
    assert "Typed while the session ended" in browser.get(detail).content.decode()
