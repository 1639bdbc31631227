"""Content-Security-Policy and the other security headers on odd answers, downloads, cookies in production.

The policy (helpdesk/settings.py SECURE_CSP) has no 'unsafe-inline', no 'unsafe-eval' and no nonce, so
every page must hold no inline script, style, style attribute, event handler or javascript: URL; file
downloads are to carry a sandboxing policy of their own; production cookies use the __Host- prefix.
"""

import os
import subprocess
import sys
from http.cookies import SimpleCookie

import pytest
from django.conf import settings as django_settings
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import include, path, reverse

from helpdesk.models import SiteConfiguration
from tests.factories import (
    TEST_PASSWORD,
    TeamFactory,
    make_administrator,
    make_agent,
    make_article,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tests.security.test_headers_on_every_answer_and_nothing_inline import problems
from tests.security.test_hostile_input_everywhere import PRODUCTION_ENV
from tickets import services

pytestmark = pytest.mark.django_db


def boom(request):
    raise RuntimeError("a fault in a view")


# A URLconf of the site with one view that fails, for the 500 page.
urlpatterns = [path("review-boom/", boom), path("", include("helpdesk.urls"))]


def sandboxed(policy: str) -> bool:
    return "sandbox" in [part.strip().split(" ")[0] for part in policy.split(";")]


# --- Downloads ---------------------------------------------------------------------------------------


def test_audit_export_download_carries_a_sandbox_policy():
    """Every file the site hands out as a download carries a sandboxing Content-Security-Policy
    (`default-src 'none'; sandbox`, helpdesk.downloads), as ticket attachments do. The audit trail's CSV
    export holds text typed by anyone (ticket subjects, customer names, search terms in event details);
    opened in the browser (a proxy or a browser that ignores the attachment disposition, a "view" link
    in a download manager) it runs in an opaque, script-less origin."""
    team = TeamFactory()
    make_ticket(make_customer(name="<script src=/static/js/app.js></script>"), team=team)
    client = Client()
    client.force_login(make_administrator(is_superuser=True))
    response = client.post(reverse("audit:event_export"), {})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert sandboxed(response["Content-Security-Policy"]), response["Content-Security-Policy"]


# --- Error pages, redirects, every role, production settings ------------------------------------------


def test_attachment_download_is_sandboxed_with_the_other_headers(client):
    team = TeamFactory()
    customer = make_customer()
    ticket = make_ticket(customer, team=team)
    upload = SimpleUploadedFile("notes.txt", b"plain text\n", content_type="text/plain")
    message = services.ticket_reply(ticket, body="See the file.", actor=customer, uploads=[upload],
                                    as_requester=True)  # fmt: skip
    attachment = message.attachments.get()
    client.force_login(customer)
    response = client.get(reverse("tickets:attachment_download", args=[attachment.pk]))
    assert response.status_code == 200
    assert sandboxed(response["Content-Security-Policy"])
    assert response["X-Content-Type-Options"] == "nosniff" and response["X-Frame-Options"] == "DENY"
    assert response["Content-Disposition"].startswith("attachment")


def test_error_and_refusal_pages_carry_the_headers_and_nothing_inline(settings):
    """500 (a view failing), 404, 405, 403 CSRF, 429 (sign-in rate), locked-out sign-in, 503 maintenance,
    redirects: each with CSP, X-Frame-Options, Referrer-Policy, nosniff and COOP, and clean HTML."""
    settings.ROOT_URLCONF = __name__
    found = []
    client = Client(raise_request_exception=False)
    response = client.get("/review-boom/")
    assert response.status_code == 500
    found += problems(response, "500")
    found += problems(client.get("/no-such-page/"), "404")
    found += problems(client.get(reverse("tickets:portal_detail", args=["1"])), "redirect to sign in")
    found += problems(client.get(reverse("accounts:logout")), "405 or redirect")
    csrf_client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    refused = csrf_client.post(reverse("accounts:login"), {"username": "a@b.c", "password": "x"})
    assert refused.status_code == 403
    found += problems(refused, "403 csrf")
    user = make_customer()
    statuses = set()
    for _ in range(12):
        answer = client.post(reverse("accounts:login"), {"username": user.email, "password": "wrong"})
        statuses.add(answer.status_code)
        found += problems(answer, f"sign-in {answer.status_code}")
    assert statuses & {403, 429}, statuses
    config = SiteConfiguration.objects.get_current()
    config.maintenance_mode = True
    config.save()
    from django.core.cache import cache

    cache.clear()
    closed = Client().get(reverse("tickets:portal_submit"))
    assert closed.status_code == 503
    found += problems(closed, "503 maintenance")
    assert not found, "\n".join(found)


def test_secure_redirect_and_hsts_include_subdomains(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    client = Client()
    plain = client.get("/kb/")
    assert plain.status_code == 301 and plain["Location"].startswith("https://")
    assert not problems(plain, "301 to https")
    secure = client.get("/kb/", secure=True)
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_policy_pages_of_every_role_and_the_audit_viewer():
    team = TeamFactory()
    customer = make_customer()
    ticket = make_ticket(customer, team=team, description="| a | b |\n|:--|--:|\n| 1 | 2 |")
    make_article(body="| a | b |\n|:-:|--:|\n| 1 | 2 |")
    pages = [
        (customer, reverse("tickets:portal_detail", args=[ticket.number]), {}),
        (customer, reverse("accounts:profile"), {}),
        (make_agent(team), reverse("tickets:desk_ticket", args=[ticket.number]), {}),
        (make_supervisor(team), reverse("audit:event_list"), {}),
        (make_supervisor(team), reverse("audit:event_list") + "?occurred_after=nonsense", {}),
        (make_supervisor(team), reverse("audit:event_list"), {"HX-Request": "true", "HX-Target": "events"}),
    ]
    administrator = make_administrator(is_superuser=True)
    pages += [(administrator, reverse("admin:app_list", args=[label]), {})
              for label in {model._meta.app_label for model in admin.site._registry}]  # fmt: skip
    pages.append((administrator, reverse("admin:password_change_done"), {}))
    found = []
    for user, url, headers in pages:
        client = Client()
        client.force_login(user)
        response = client.get(url, headers=headers)
        assert response.status_code in (200, 422), (url, response.status_code)
        policy = response["Content-Security-Policy"]
        assert "unsafe-" not in policy and "frame-ancestors 'none'" in policy
        found += problems(response, url)
    assert not found, "\n".join(found)


def test_production_settings_as_ci_deploy_check_sets_them():
    """.ci/run's `check --deploy` environment: __Host- names, Secure, HttpOnly, Lax, HSTS with subdomains."""
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SESSION_COOKIE_HTTPONLY, s.SESSION_COOKIE_SAMESITE, s.CSRF_COOKIE_SAMESITE, "
        "s.SESSION_COOKIE_DOMAIN, s.SESSION_COOKIE_PATH, s.CSRF_COOKIE_PATH, s.SECURE_HSTS_SECONDS, "
        "s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_REFERRER_POLICY, s.X_FRAME_OPTIONS)"
    )
    env = {**os.environ, **PRODUCTION_ENV, "DJANGO_SETTINGS_MODULE": "helpdesk.settings"}
    run = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
        cwd=django_settings.BASE_DIR,
    )  # fmt: skip
    out = run.stdout.split()
    assert out == ["__Host-sessionid", "__Host-csrftoken", "True", "True", "True", "Lax", "Lax", "None",
                   "/", "/", "31536000", "True", "same-origin", "DENY"]  # fmt: skip


def test_cookies_after_sign_in_over_https_in_production(settings):
    """The cookies a sign-in sets in production: the session, CSRF and flash-message cookies all
    __Host- (Secure, Path=/, no Domain), the session and CSRF HttpOnly, all SameSite=Lax."""
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME = "__Host-sessionid", "__Host-csrftoken"
    user = make_customer()
    client = Client()
    form = client.get(reverse("accounts:login"), secure=True)
    signed = client.post(reverse("accounts:login"), {"username": user.email, "password": TEST_PASSWORD},
                         secure=True)  # fmt: skip
    assert signed.status_code == 302
    cookies = SimpleCookie()
    for response in (form, signed):
        for morsel in response.cookies.values():
            cookies[morsel.key] = morsel
    assert "__Host-sessionid" in cookies and "__Host-csrftoken" in cookies, list(cookies)
    for name, morsel in cookies.items():
        assert name.startswith("__Host-"), name
        assert morsel["secure"] and morsel["path"] == "/" and not morsel["domain"], (name, morsel)
        assert morsel["samesite"] == "Lax", name
    assert cookies["__Host-sessionid"]["httponly"] and cookies["__Host-csrftoken"]["httponly"]
