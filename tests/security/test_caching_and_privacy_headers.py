"""HTTP caching and privacy of responses. Pages that show protected data must not be
kept by shared caches (private/no-store, Vary: Cookie); the desk queue's ETag must not let one agent
revalidate another's copy; an old session cookie gets nothing after sign-out; downloads are inert
attachments; public KB pages served to visitors are not declared shareable while carrying per-visitor
bits; links in messages and articles do not leak the ticket URL as a referrer."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from tests.factories import (
    TEST_PASSWORD,
    TeamFactory,
    make_administrator,
    make_agent,
    make_article,
    make_customer,
    make_ticket,
)
from tickets import services
from tickets.models import Attachment

pytestmark = pytest.mark.django_db

QUEUE = reverse("tickets:desk_queue")
FRAGMENT = {"HX-Request": "true", "HX-Target": "queue-table"}


@pytest.fixture
def world():
    support, billing = TeamFactory(name="Support"), TeamFactory(name="Billing")
    agent = make_agent(support, name="Alex Agent")
    biller = make_agent(billing, name="Bea Biller")
    customer = make_customer(name="Carla Customer")
    ticket = make_ticket(
        customer,
        team=support,
        subject="Printer on fire",
        description="See [the vendor page](https://vendor.example/help) please.",
    )
    other = make_ticket(customer, team=billing, subject="Invoice 4711 wrong")
    note = services.ticket_add_note(
        ticket,
        body="x",
        actor=agent,
        uploads=[SimpleUploadedFile("a.txt", b"hi", content_type="text/plain")],
    )
    attachment = Attachment.objects.get(owner_id=note.pk)
    article = make_article(body="Read [the docs](https://docs.example/x).")
    return {"agent": agent, "biller": biller, "customer": customer, "ticket": ticket, "other": other,
            "attachment": attachment, "article": article}  # fmt: skip


def private_and_unstored(response):
    cache_control = response.get("Cache-Control", "")
    vary = [v.strip().lower() for v in response.get("Vary", "").split(",")]
    return "no-store" in cache_control and "private" in cache_control and "cookie" in vary


# ---------------------------------------------------------------- pages with protected data


@pytest.mark.parametrize(
    "who, url, headers",
    [
        ("customer", lambda w: reverse("tickets:portal_list"), {}),
        ("customer", lambda w: reverse("tickets:portal_list"), {"HX-Request": "true"}),
        ("customer", lambda w: reverse("tickets:portal_detail", args=[w["ticket"].number]), {}),
        ("customer", lambda w: reverse("accounts:profile"), {}),
        ("agent", lambda w: QUEUE, {}),
        ("agent", lambda w: reverse("tickets:desk_ticket", args=[w["ticket"].number]), {}),
        ("agent", lambda w: reverse("tickets:desk_ticket", args=[w["ticket"].number]), {"HX-Request": "1"}),
        ("agent", lambda w: reverse("knowledge:manage_list"), {}),
        ("agent", lambda w: reverse("knowledge:manage_edit", args=[w["article"].slug]), {}),
        ("agent", lambda w: reverse("accounts:two_factor"), {}),
        ("agent", lambda w: "/no-such-page/", {}),
        ("admin", lambda w: "/admin/", {}),
        ("admin", lambda w: reverse("audit:event_list"), {}),
        ("admin", lambda w: reverse("audit:event_list"), {"HX-Request": "true", "HX-Target": "events"}),
    ],
)
def test_signed_in_pages_are_kept_by_no_cache_and_vary_on_cookie(client, world, who, url, headers):
    user = make_administrator(is_superuser=True) if who == "admin" else world[who]
    client.force_login(user)
    response = client.get(url(world), headers=headers)
    assert response.status_code in (200, 404)
    assert private_and_unstored(response), (response.get("Cache-Control"), response.get("Vary"))


def test_audit_export_and_download_are_inert_private_attachments(client, world):
    client.force_login(make_administrator(is_superuser=True))
    export = client.post(reverse("audit:event_export"))
    assert export.status_code == 200
    assert export["Content-Disposition"].startswith("attachment;")
    assert export["X-Content-Type-Options"] == "nosniff" and private_and_unstored(export)
    client.force_login(world["agent"])
    url = reverse("tickets:attachment_download", args=[world["attachment"].pk])
    for method in (client.get, client.head):
        download = method(url)
        assert download.status_code == 200
        assert download["Content-Disposition"] == 'attachment; filename="a.txt"'
        assert download["X-Content-Type-Options"] == "nosniff"
        assert "no-store" in download["Cache-Control"] and "private" in download["Cache-Control"]
        assert "cookie" in download["Vary"].lower()


# ---------------------------------------------------------------- the queue's ETag


def test_the_queue_fragment_is_private_and_varies_on_htmx_headers_and_cookie(client, world):
    client.force_login(world["agent"])
    fragment = client.get(QUEUE, headers=FRAGMENT)
    assert fragment.status_code == 200 and fragment.has_header("ETag")
    assert "private" in fragment["Cache-Control"] and "public" not in fragment["Cache-Control"]
    vary = fragment["Vary"].lower()
    assert "hx-request" in vary and "cookie" in vary and "hx-target" in vary
    page = client.get(QUEUE)
    assert "no-store" in page["Cache-Control"]


def test_one_agents_queue_etag_replayed_by_another_agent_is_not_a_304(world):
    alex, bea = Client(), Client()
    alex.force_login(world["agent"])
    bea.force_login(world["biller"])
    first = alex.get(QUEUE, headers=FRAGMENT)
    assert "Printer on fire" in first.content.decode()
    replay = bea.get(QUEUE, headers={**FRAGMENT, "If-None-Match": first["ETag"]})
    assert replay.status_code == 200 and replay["ETag"] != first["ETag"]
    assert "Printer on fire" not in replay.content.decode()
    assert "Invoice 4711" in replay.content.decode()
    # a list of ETags including Alex's does not revalidate Bea's copy either
    replay = bea.get(QUEUE, headers={**FRAGMENT, "If-None-Match": f'"x", {first["ETag"]}, W/{first["ETag"]}'})
    assert replay.status_code == 200


def test_the_queue_etag_is_an_opaque_hash_naming_nothing(client, world):
    client.force_login(world["agent"])
    etag = client.get(QUEUE, headers=FRAGMENT)["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)


def test_the_queue_etag_after_sign_out_gets_no_304(world):
    alex, _ = _signed_in_cookie(world["agent"])
    first = alex.get(QUEUE, headers=FRAGMENT)
    assert first.status_code == 200
    alex.post(reverse("accounts:logout"))
    replay = alex.get(QUEUE, headers={**FRAGMENT, "If-None-Match": first["ETag"]})
    assert replay.status_code != 304 and b"Printer on fire" not in replay.content


# ---------------------------------------------------------------- old session cookies


def _signed_in_cookie(user):
    browser = Client()
    browser.post(reverse("accounts:login"), {"username": user.email, "password": TEST_PASSWORD})
    assert "sessionid" in browser.cookies and browser.get(reverse("accounts:profile")).status_code == 200
    return browser, browser.cookies["sessionid"].value


def test_an_old_session_cookie_replayed_after_sign_out_gets_nothing(world):
    browser, cookie = _signed_in_cookie(world["agent"])
    assert browser.get(QUEUE).status_code == 200
    assert browser.post(reverse("accounts:logout")).status_code == 302
    thief = Client()
    thief.cookies["sessionid"] = cookie
    for url in (QUEUE, reverse("tickets:desk_ticket", args=[world["ticket"].number]),
                reverse("tickets:attachment_download", args=[world["attachment"].pk]),
                reverse("accounts:profile")):  # fmt: skip
        response = thief.get(url)
        assert response.status_code == 302 and reverse("accounts:login") in response["Location"], url
    fragment = thief.get(QUEUE, headers=FRAGMENT)
    assert b"Printer on fire" not in fragment.content


def test_a_session_signed_out_from_the_profile_gets_nothing(world):
    _stolen, cookie = _signed_in_cookie(world["customer"])
    owner, _ = _signed_in_cookie(world["customer"])
    owner.post(reverse("accounts:sessions_sign_out"))
    thief = Client()
    thief.cookies["sessionid"] = cookie
    response = thief.get(reverse("tickets:portal_detail", args=[world["ticket"].number]))
    assert response.status_code == 302 and b"Printer on fire" not in response.content


# ---------------------------------------------------------------- public KB pages


@pytest.mark.parametrize("url", [
    lambda w: reverse("knowledge:home"),
    lambda w: reverse("knowledge:article", args=[w["article"].slug]),
    lambda w: reverse("knowledge:search") + "?q=password",
    lambda w: "/",
])  # fmt: skip
def test_public_pages_served_to_a_visitor_are_not_shareable_while_carrying_a_csrf_token(client, world, url):
    """A page holding the visitor's CSRF token (hx-headers, vote form) must not be declared cacheable by
    shared caches; and it names nobody."""
    response = client.get(url(world))
    assert response.status_code == 200
    text = response.content.decode()
    cache_control = response.get("Cache-Control", "")
    if "csrftoken" in response.cookies or "X-CSRFToken" in text:
        assert "public" not in cache_control and "s-maxage" not in cache_control
        assert "cookie" in response["Vary"].lower()
    for name in ("Alex Agent", "Carla Customer", "Bea Biller"):
        assert name not in text


def test_a_public_article_read_by_an_agent_then_a_visitor_shows_the_visitor_no_staff_bits(world):
    agent = Client()
    agent.force_login(world["agent"])
    url = reverse("knowledge:article", args=[world["article"].slug])
    assert "no-store" in agent.get(url)["Cache-Control"]
    visitor = Client().get(url)
    text = visitor.content.decode()
    assert "Alex Agent" not in text and reverse("knowledge:manage_list") not in text


# ---------------------------------------------------------------- referrers and links


def test_ticket_pages_send_a_same_origin_referrer_policy(client, world):
    client.force_login(world["customer"])
    response = client.get(reverse("tickets:portal_detail", args=[world["ticket"].number]))
    assert response["Referrer-Policy"] in ("same-origin", "no-referrer", "strict-origin")


@pytest.mark.parametrize("who", ["customer", "agent"])
def test_links_in_ticket_messages_carry_noreferrer(client, world, who):
    client.force_login(world[who])
    view = "tickets:portal_detail" if who == "customer" else "tickets:desk_ticket"
    text = client.get(reverse(view, args=[world["ticket"].number])).content.decode()
    links = re.findall(r'<a [^>]*href="https://vendor\.example/help"[^>]*>', text)
    assert links, "the message's link is not rendered"
    for link in links:
        assert "noreferrer" in link and "noopener" in link, link
        if 'target="_blank"' in link:
            assert "noopener" in link


def test_links_in_articles_carry_noreferrer(client, world):
    text = client.get(reverse("knowledge:article", args=[world["article"].slug])).content.decode()
    links = re.findall(r'<a [^>]*href="https://docs\.example/x"[^>]*>', text)
    assert links
    for link in links:
        assert "noreferrer" in link, link


def test_signing_out_tells_the_browser_to_empty_its_cache(client):
    """The queue fragment is kept in the browser's cache for its 304s (no-cache, not no-store):
    signing out asks the browser to drop it (a shared computer keeps no copy of the list)."""
    client.force_login(make_customer())
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302 and response["Clear-Site-Data"] == '"cache"'
