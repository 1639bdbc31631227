"""Probes beyond test_routes: cache headers on pages that name a person, the cookies production sets,
ids of other people's objects posted in forms, and HTTP methods a view does not take."""

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import UserSession
from accounts.tokens import email_verification_token
from knowledge.models import ArticleRevision
from tests.factories import (
    InvitationFactory,
    SavedViewFactory,
    TeamFactory,
    make_administrator,
    make_agent,
    make_article,
    make_customer,
    make_supervisor,
)
from tickets.models import SavedView

pytestmark = pytest.mark.django_db


def _link(view: str, user, token: str) -> str:
    return reverse(view, args=[urlsafe_base64_encode(force_bytes(user.pk)), token])


# ---------------------------------------------------------------- caches


def test_the_address_confirmation_page_is_kept_by_no_cache(client):
    """The mailed confirmation link opens a page naming the account's e-mail address, at an address
    holding a secret token. Opened before signing in (the usual case: the link is followed from a mail
    client), it must be sent with Cache-Control: no-store, as Django's own password-reset page is, so
    that neither a shared proxy nor the browser's disk keeps the address or the working link."""
    user = make_customer(email="victim@example.org")
    response = client.get(_link("accounts:email_verify", user, email_verification_token.make_token(user)))
    assert response.status_code == 200 and "victim@example.org" in response.content.decode()
    assert "no-store" in response.get("Cache-Control", ""), response.get("Cache-Control")


def test_the_password_reset_page_and_the_audit_export_are_kept_by_no_cache(client):
    """Pinned: the reset link's page (anonymous) and the audit CSV (streamed) are both no-store."""
    user = make_customer()
    reset = client.get(
        _link("accounts:password_reset_confirm", user, default_token_generator.make_token(user)), follow=True
    )
    assert "no-store" in reset["Cache-Control"]
    client.force_login(make_administrator())
    export = client.post(reverse("audit:event_export"))
    assert export.status_code == 200 and "no-store" in export["Cache-Control"]


def test_the_invitation_links_sign_up_page_is_kept_by_no_cache(client):
    """The invitation mail's link opens sign-up with the invited address and the code in its form: the code
    joins the organisation (and takes over that address's pending account), so the page is no-store as
    the other mailed links' pages are."""
    invitation = InvitationFactory(email="invited@example.com")
    response = client.get(reverse("accounts:signup"), {"code": invitation.code, "email": invitation.email})
    assert response.status_code == 200 and invitation.code in response.content.decode()
    assert "no-store" in response.get("Cache-Control", ""), response.get("Cache-Control")


# ---------------------------------------------------------------- cookies


def test_the_flash_message_cookie_carries_the_host_prefix_in_production(client, settings):
    """SECURITY.md: in production, cookies are Secure, HttpOnly, SameSite=Lax and carry the __Host-
    prefix. Every cookie the site sets, the flash messages' one included (it holds text such as the
    account's address, and a sibling subdomain or a plain-http response could otherwise plant a signed
    message cookie taken from the attacker's own session), must be named __Host-…"""
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME = "__Host-sessionid", "__Host-csrftoken"
    client.force_login(make_customer())
    response = client.post(
        reverse("accounts:profile"), {"save_profile": "1", "name": "New name", "timezone": "UTC"}, secure=True
    )
    assert response.status_code == 302 and response.cookies
    for name, cookie in response.cookies.items():
        assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax", name
        assert name.startswith("__Host-"), f"cookie {name!r} has no __Host- prefix"


# ---------------------------------------------------------------- IDOR through posted ids


def test_signing_out_another_persons_session_by_its_public_id_ends_nothing(client):
    """Pinned: the sessions form names a session by its public id; another account's id ends nothing."""
    victim = make_customer()
    Client().force_login(victim)
    session = UserSession.objects.get(user=victim)
    client.force_login(make_customer())
    client.post(reverse("accounts:sessions_sign_out"), {"session": session.public_id})
    assert UserSession.objects.filter(pk=session.pk).exists()


def test_a_colleagues_shared_view_cannot_be_deleted_by_its_id(client):
    """Pinned: a view shared with the team is deleted by its owner only; anyone else gets a 404."""
    team = TeamFactory()
    view = SavedViewFactory(owner=make_agent(team), team=team)
    client.force_login(make_agent(team))
    assert client.post(reverse("tickets:desk_view_delete", args=[view.pk])).status_code == 404
    assert SavedView.objects.filter(pk=view.pk).exists()


def test_a_revision_of_another_article_cannot_be_restored_into_this_one(client):
    """Pinned: the revision id in the restore address must belong to the article in it (404)."""
    mine = make_article(title="Printer guide", body="Original text")
    other = make_article(title="Internal pricing", body="Secret discount table", visibility="internal")
    revision = ArticleRevision.objects.filter(article=other).first()
    client.force_login(make_supervisor(TeamFactory()))
    response = client.post(reverse("knowledge:manage_restore", args=[mine.slug, revision.pk]))
    assert response.status_code == 404
    mine.refresh_from_db()
    assert mine.body == "Original text"


# ---------------------------------------------------------------- HTTP methods


@pytest.mark.parametrize("method", ["head", "put", "delete", "patch"])
def test_methods_a_view_does_not_take_change_nothing(client, method):
    """Pinned: HEAD, PUT, DELETE or PATCH on sign-out and "sign out other sessions" answer 405 and
    neither ends the session nor any other."""
    customer = make_customer()
    Client().force_login(customer)  # another session of theirs
    client.force_login(customer)
    for url in (reverse("accounts:logout"), reverse("accounts:sessions_sign_out")):
        assert getattr(client, method)(url).status_code == 405, url
    assert UserSession.objects.filter(user=customer).count() == 2
    assert client.get(reverse("accounts:profile")).status_code == 200
