"""The Content-Security-Policy and the other security headers in practice.

Every route (tests/security/test_routes.py's ROUTES, each as a visitor, an outside customer, the ticket's
team agent and an administrator, as a plain request and as an htmx one, GET and POST) and every admin
page of every registered model is rendered with the test client and read for the headers and for
anything inline the policy (script-src 'self'; style-src 'self', no nonce) would refuse.
"""

import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import NoReverseMatch, reverse

from accounts.models import User
from tests.factories import TeamFactory, make_administrator, make_agent, make_customer, make_ticket
from tests.security.test_routes import ROUTES, target, url_for, world  # noqa: F401 - fixtures

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
JS_URL = re.compile(r"(href|src|action|formaction)\s*=\s*[\"']?\s*javascript:", re.I)
HX_ON = re.compile(r"\s(data-)?hx-on", re.I)
SECURITY_HEADERS = (
    "Content-Security-Policy",
    "X-Frame-Options",
    "Referrer-Policy",
    "X-Content-Type-Options",
    "Cross-Origin-Opener-Policy",
)


def problems(response, where: str) -> list[str]:
    """What the response lacks of the security headers, and what its HTML holds that the CSP refuses."""
    found = [
        f"{where} [{response.status_code}]: no {header}"
        for header in SECURITY_HEADERS
        if header not in response
    ]
    if "text/html" in response.get("Content-Type", ""):
        body = response.content.decode(errors="replace")
        for name, pattern in (("inline script", INLINE_SCRIPT), ("inline style", INLINE_STYLE),
                              ("event handler", INLINE_HANDLER), ("javascript: URL", JS_URL),
                              ("hx-on", HX_ON)):  # fmt: skip
            for match in pattern.finditer(body):
                found.append(f"{where}: {name}: {body[max(0, match.start() - 60) : match.end() + 60]!r}")
    return found


# --- a refused host over plain HTTP ----------------------------------------------------------------


@pytest.mark.django_db
def test_the_bad_host_page_over_plain_http_keeps_the_security_headers(settings):
    """Expected: in production (SECURE_SSL_REDIRECT on), the 400 page a plain-HTTP request with a Host
    not in ALLOWED_HOSTS gets carries X-Content-Type-Options, Referrer-Policy and
    Cross-Origin-Opener-Policy like every other HTML answer of the site (the 400 page over HTTPS does).
    Instead: SecurityMiddleware.process_request calls request.get_host() for its redirect, which raises
    DisallowedHost; the exception is turned into the 400 page around SecurityMiddleware itself, so its
    process_response never runs and the page goes out with only the CSP and X-Frame-Options (the two
    middlewares placed outside it). Why it matters: the promise is those headers on every page; a
    scanner (or an attacker probing with odd Host headers, as they do) finds an HTML page of the site
    without nosniff and without a referrer policy."""
    settings.SECURE_SSL_REDIRECT = True
    client = Client(raise_request_exception=False)
    over_https = client.get("/", HTTP_HOST="evil.example", secure=True)
    assert over_https.status_code == 400 and not problems(over_https, "400 over https")
    over_http = client.get("/", HTTP_HOST="evil.example")
    assert over_http.status_code == 400
    assert problems(over_http, "400 over http") == []


# --- every route, every admin page ------------------------------------------------------------------


def test_the_policy_is_strict():
    policy = dict(django_settings.SECURE_CSP)
    for directive in ("script-src", "style-src", "default-src"):
        assert all("unsafe" not in value for value in policy[directive]), directive
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["form-action"] == ["'self'"]
    assert django_settings.X_FRAME_OPTIONS == "DENY"


@pytest.mark.parametrize("who", ["visitor", "other_customer", "team_agent", "administrator"])
@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_every_route_as_each_role_has_the_headers_and_nothing_inline(client, target, who, htmx):  # noqa: F811
    """Every route, GET and POST, as each role, plain and as an htmx request (fragments, 4xx, 405,
    redirects, HX-Redirect answers): all five headers, and no inline script/style/handler/hx-on."""
    if who != "visitor":
        client.force_login(target[who])
    headers = {"HX-Request": "true"} if htmx else {}
    found = []
    for name in sorted(ROUTES):
        url = url_for(name, target)
        for method in ("get", "post"):
            found += problems(getattr(client, method)(url, headers=headers), f"{method} {name}")
    assert not found, "\n".join(found)


def admin_urls_for_every_model() -> list[str]:
    urls = [reverse("admin:index"), reverse("admin:password_change")]
    user = User.objects.order_by("pk").first()
    urls.append(reverse("admin:auth_user_password_change", args=[user.pk]))
    for model in admin.site._registry:
        label = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        for page in (f"{label}_changelist", f"{label}_add"):
            urls += [reverse(page), reverse(page) + "?_popup=1&_to_field=id"]
        obj = model._default_manager.order_by("pk").first()
        if obj is None:
            continue
        urls += [reverse(f"{label}_{page}", args=[obj.pk]) for page in ("change", "delete", "history")]
        try:
            urls.append(reverse(f"{label}_permissions", args=[obj.pk]))
        except NoReverseMatch:
            continue
        group = Group.objects.order_by("pk").first()
        urls.append(reverse(f"{label}_permissions_manage_user", args=[obj.pk, user.pk]))
        urls.append(reverse(f"{label}_permissions_manage_group", args=[obj.pk, group.pk]))
    return urls


def test_every_admin_page_has_the_headers_and_nothing_inline(client, target):  # noqa: F811
    """Changelists (and popups), add/change forms with date widgets, prepopulated slugs, autocompletes,
    delete and history pages, guardian's object-permission pages (user and group): all clean. (As a
    superuser, who sees every page an administrator does: the widgets are the same for both.)"""
    client.force_login(make_administrator(is_superuser=True))
    found, shown = [], 0
    for url in admin_urls_for_every_model():
        response = client.get(url)
        assert response.status_code in (200, 302, 403), (url, response.status_code)
        shown += response.status_code == 200
        found += problems(response, url)
    assert shown > 80 and not found, "\n".join(found)


@pytest.mark.django_db
def test_admin_refused_forms_and_action_confirmations_are_clean(superuser_client):
    """A refused add form (422), the same in a popup, and the delete-selected confirmation page."""
    team = TeamFactory()
    found = []
    for model in admin.site._registry:
        label = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        found += problems(superuser_client.post(reverse(f"{label}_add"), {}), f"add {label}")
        found += problems(
            superuser_client.post(reverse(f"{label}_add") + "?_popup=1", {"_popup": "1"}), label
        )
    confirm = superuser_client.post(
        reverse("admin:accounts_team_changelist"),
        {"action": "delete_selected", "_selected_action": [team.pk], "index": 0},
    )
    assert confirm.status_code == 200
    found += problems(confirm, "delete_selected")
    assert not found, "\n".join(found)


@pytest.mark.django_db
def test_the_queue_fragment_and_its_304_carry_the_policy_and_no_nonce(client):
    """The 30-second refresh: fragment and 304 both carry the CSP; nothing carries a nonce that could go
    stale in a cached copy (the policy uses none)."""
    team = TeamFactory()
    make_ticket(make_customer(), team=team)
    client.force_login(make_agent(team))
    headers = {"HX-Request": "true", "HX-Target": "queue-table"}
    fragment = client.get(reverse("tickets:desk_queue"), headers=headers)
    assert fragment.status_code == 200 and not problems(fragment, "fragment")
    assert b"nonce" not in fragment.content and "nonce-" not in fragment["Content-Security-Policy"]
    again = client.get(reverse("tickets:desk_queue"), headers={**headers, "If-None-Match": fragment["ETag"]})
    assert again.status_code == 304 and "nonce-" not in again["Content-Security-Policy"]
    assert again["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_hsts_on_every_kind_of_answer_over_https(settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    client = Client(raise_request_exception=False)
    answers = [("/", "testserver"), ("/no-such-page/", "testserver"), ("/accounts/logout/", "testserver")]
    for url, host in [*answers, ("/", "evil.example")]:
        response = client.get(url, HTTP_HOST=host, secure=True)
        assert response["Strict-Transport-Security"] == "max-age=31536000", url
        assert not problems(response, url)


def test_htmx_is_configured_against_inline_styles_and_eval():
    """htmx reads its config from the meta before it injects its indicator <style>; both that and eval
    are turned off, and our own scripts use no eval, Function, innerHTML or style attributes."""
    base = (Path(django_settings.BASE_DIR) / "templates" / "base.html").read_text()
    meta = base.index('name="htmx-config"')
    assert meta < base.index("htmx-2.0.11.min.js")
    assert '"includeIndicatorStyles":false' in base and '"allowEval":false' in base
    for script in ("app.js", "desk.js", "admin.js"):
        code = (Path(django_settings.BASE_DIR) / "static" / "js" / script).read_text()
        assert not re.search(r"\beval\(|new Function|innerHTML|insertAdjacentHTML|\.style\b|'style'", code), (
            script
        )
    templates = Path(django_settings.BASE_DIR) / "templates"
    for template in templates.rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"hx-on|hx-vars|hx-vals='js:|hx-trigger=\"[^\"]*\[", text), template
