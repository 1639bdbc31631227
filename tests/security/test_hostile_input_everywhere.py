"""SECURITY.md's promises checked from the outside: hostile text inert on every page and admin screen
that shows it, attachments refused when they hold markup (also past the first block, also behind an
image's signature), download names inert in headers, redirects that stay on the site, and the
production cookies and headers."""

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Invitation
from helpdesk.services import site_configuration_update
from tests.admin_pages import change_url, changelist_url
from tests.factories import (
    CategoryFactory,
    OrganizationFactory,
    SavedViewFactory,
    TeamFactory,
    TicketFormFactory,
    make_administrator,
    make_agent,
    make_article,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tests.security.hostile import PAYLOAD, assert_inert
from tickets import services
from tickets.attachments import detect_content_type
from tickets.models import Attachment, SavedView, Tag

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def hostile():
    team = TeamFactory(name=f"Team {PAYLOAD}"[:100])
    organization = OrganizationFactory(name=f"Org {PAYLOAD}"[:100])
    form = TicketFormFactory(
        title=f"Form {PAYLOAD}"[:100],
        intro=f"Intro {PAYLOAD}",
        success_message=f"Thanks {PAYLOAD}",
        schema=[
            {"name": "order", "label": f"Order {PAYLOAD}", "type": "text", "help_text": f"Help {PAYLOAD}"},
            {"name": "pick", "label": f"Pick {PAYLOAD}", "type": "select", "choices": [PAYLOAD, "plain"]},
            {"name": "many", "label": f"Many {PAYLOAD}", "type": "multi_select", "choices": [PAYLOAD, "b"],
             "help_text": f"Help2 {PAYLOAD}"},
            {"name": "flag", "label": f"Flag {PAYLOAD}", "type": "checkbox", "help_text": f"Help3 {PAYLOAD}"},
        ],
    )  # fmt: skip
    customer = make_customer(organization, name=f"Cus {PAYLOAD}"[:150])
    agent = make_supervisor(team, name=f"Agent {PAYLOAD}"[:150])
    ticket = make_ticket(
        customer,
        team=team,
        subject=f"Subject {PAYLOAD}",
        description=f"Description {PAYLOAD}",
        form=form,
        custom_fields={"order": PAYLOAD, "pick": PAYLOAD, "many": [PAYLOAD], "flag": True},
        uploads=[SimpleUploadedFile(f"{PAYLOAD}.txt"[-150:], b"plain text")],
    )
    services.ticket_reply(ticket, body=f"Reply {PAYLOAD}", actor=agent)
    ticket.refresh_from_db()
    services.ticket_set_tags(ticket, names=["plain tag"], actor=agent)
    SavedViewFactory(owner=agent, team=team, name=PAYLOAD[:80], query="status=open")
    category = CategoryFactory(name=f"Cat {PAYLOAD}"[:100], slug="hostile")
    article = make_article(
        title=f"Password {PAYLOAD}", body=f"Password body {PAYLOAD}", excerpt=f"Excerpt {PAYLOAD}",
        category=category,
    )  # fmt: skip
    Invitation.objects.create(organization=organization, email="x@example.org")
    site_configuration_update(
        changes={"site_name": f"Site {PAYLOAD}"[:100], "maintenance_message": f"Maint {PAYLOAD}"},
        actor=None,
    )
    return {"ticket": ticket, "customer": customer, "agent": agent, "form": form, "article": article,
            "team": team, "organization": organization, "category": category}  # fmt: skip


def test_every_page_renders_hostile_text_inert(client, hostile):
    number = hostile["ticket"].number
    client.force_login(hostile["customer"])
    for url in (
        reverse("home"),
        reverse("tickets:portal_list"),
        reverse("tickets:portal_detail", args=[number]),
        reverse("tickets:portal_submit"),
        reverse("tickets:portal_submit_form", args=[hostile["form"].slug]),
        reverse("knowledge:home"),
        reverse("knowledge:category", args=["hostile"]),
        reverse("knowledge:article", args=[hostile["article"].slug]),
        reverse("knowledge:search") + "?q=password",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_inert(response.content.decode(), url)
    client.force_login(hostile["agent"])
    for url in (
        reverse("tickets:desk_queue"),
        reverse("tickets:desk_ticket", args=[number]),
        reverse("tickets:desk_ticket", args=[number]) + "?queue=" + "status%3Dopen",
        reverse("audit:event_list"),
        reverse("knowledge:manage_list"),
        reverse("knowledge:manage_picker") + "?q=password",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_inert(response.content.decode(), url)


def test_maintenance_page_renders_site_name_and_message_inert(client, hostile):
    site_configuration_update(changes={"maintenance_mode": True}, actor=None)
    response = client.get(reverse("knowledge:home"))
    assert response.status_code == 503
    assert_inert(response.content.decode(), "maintenance")
    assert "Maint &lt;script&gt;" in response.content.decode()


def test_admin_changelists_and_change_pages_render_hostile_text_inert(client, hostile):
    client.force_login(make_administrator())
    from django.contrib import admin

    urls = []
    for model in admin.site._registry:
        urls.append(changelist_url(model))
    for obj in (hostile["ticket"], hostile["customer"], hostile["team"], hostile["organization"],
                hostile["form"], hostile["article"], hostile["category"], Attachment.objects.first(),
                SavedView.objects.first(), Invitation.objects.first(), Tag.objects.first()):  # fmt: skip
        urls.append(change_url(obj))
    client.raise_request_exception = False
    seen = 0
    for url in urls:
        response = client.get(url)
        if response.status_code == 200:
            seen += 1
            assert_inert(response.content.decode(), url)
    assert seen > 15


# ---------------------------------------------------------------- attachments: content checks

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40


def _refused(name: str, content: bytes) -> bool:
    from django.core.exceptions import ValidationError

    try:
        detect_content_type(SimpleUploadedFile(name, content))
    except ValidationError:
        return True
    return False


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.txt", b"<img src=x onerror=alert(1)><a href=javascript:alert(2)>click</a>"),
        ("notes.md", b"<div onclick=alert(1)>hi</div><object data=x></object>"),
    ],
    ids=["img-onerror-txt", "div-object-md"],
)
def test_text_attachment_holding_html_is_refused(name, content):
    assert _refused(name, content), f"{name} with HTML was accepted as plain text"


def test_text_attachment_with_script_after_the_first_8kb_is_refused():
    assert _refused("notes.txt", b"a" * 9000 + b"<script>alert(1)</script>"), "script past 8 KB accepted"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("pixel.gif", b"GIF89a/*<html><script>alert(1)</script></html>*/"),
        ("pixel.png", PNG + b"<html><script>alert(1)</script></html>"),
    ],
    ids=["gif", "png"],
)
def test_polyglot_signature_plus_html_is_refused(name, content):
    assert _refused(name, content), f"{name}: a signature followed by an HTML page was accepted"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("build.log", b"List<String> names; if (a < b && c > d) { on = 1; }\n" * 500),
        ("notes.md", b"Press <kbd>Ctrl</kbd> and see <https://example.com>.\n"),
        (
            "photo.jpg",
            b"\xff\xd8\xff\xe1" + b"<?xpacket begin?><x:xmpmeta><rdf:RDF/></x:xmpmeta>" + b"\x00" * 64,
        ),
        (
            "archive.zip",
            b"PK\x03\x04" + b"\x00" * 26 + b"site/index.html<html><body>a saved page</body></html>",
        ),
    ],
    ids=["code-in-a-log", "markdown", "jpeg-with-xmp", "zip-of-a-web-page"],
)
def test_text_that_quotes_angle_brackets_and_files_with_metadata_are_accepted(name, content):
    """Archives are not opened (a saved web page in a ZIP is a fair thing to send; it downloads as a
    ZIP), and photos carry XML metadata."""
    assert not _refused(name, content), name


def test_html_text_file_is_stored_through_the_portal(client):
    """End to end: the portal files a .txt that is an HTML page."""
    client.force_login(make_customer())
    page = SimpleUploadedFile("page.txt", b"<img src=x onerror=alert(document.cookie)>")
    data = {"subject": "Help", "description": "x", "submission_key": str(uuid.uuid4()), "attachments": [page]}
    response = client.post(reverse("tickets:portal_submit"), data)
    assert response.status_code == 422 and not Attachment.objects.exists()


@pytest.mark.parametrize(
    "name",
    [
        'we"ird;filename=x.html.txt',
        "a\r\nSet-Cookie: x=1.txt",
        "résumé ünïcode 😀.txt",
        "..\\..\\x.txt",
        "\u202egnp.txt",
        "a\u2028b\u0085c.txt",
    ],
)
def test_download_headers_carry_the_file_name_inertly(client, name):
    customer = make_customer()
    make_ticket(customer, uploads=[SimpleUploadedFile(name, b"hello")])
    client.force_login(customer)
    response = client.get(reverse("tickets:attachment_download", args=[Attachment.objects.get().pk]))
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "\r" not in disposition and "\n" not in disposition and "Set-Cookie" not in response.headers
    # parsed as a browser would (RFC 6266: filename* wins over the plain fallback): one file name, the
    # cleaned one, with no other parameter smuggled in
    from email.message import Message
    from email.utils import collapse_rfc2231_value

    parsed = Message()
    parsed["Content-Disposition"] = disposition
    params = parsed.get_params(header="Content-Disposition")[1:]
    assert {key for key, _ in params} == {"filename"}, disposition
    extended = [value for _, value in params if isinstance(value, tuple)]
    chosen = collapse_rfc2231_value(extended[-1]) if extended else parsed.get_filename()
    assert chosen == Attachment.objects.get().filename
    assert all(ord(ch) < 128 for ch in parsed.get_filename()), "the plain fallback is ASCII"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"].startswith("text/plain")


# ---------------------------------------------------------------- open redirects, more encodings

MORE_REDIRECTS = [
    "/%2F%2Fevil.com",
    "%2F%2Fevil.com",
    "https:/evil.com",
    "/\\/evil.com",
    "\\/evil.com",
    "//evil.com@testserver",
    "http:\\\\evil.com",
    "/%5Cevil.com",
    "\x00//evil.com",
    "https://testserver.evil.com/",
    "//%65vil.com",
    "\uff0f\uff0fevil.com",  # full-width solidus
]


def _leaves(location: str) -> bool:
    from urllib.parse import urlsplit

    cleaned = re.sub(r"[\t\r\n]", "", location).lstrip(" \x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c")
    cleaned = cleaned.replace("\\", "/").replace("\uff0f", "/")
    parts = urlsplit(cleaned)
    if parts.scheme and parts.scheme not in ("http", "https"):
        return True
    if parts.scheme and not parts.netloc:
        return True
    if cleaned.startswith("//"):
        return True
    return bool(parts.netloc) and parts.hostname != "testserver"


@pytest.mark.parametrize("target", MORE_REDIRECTS)
def test_redirect_parameters_never_leave_the_site(client, target):
    from tests.factories import TEST_PASSWORD

    customer = make_customer()
    response = client.post(
        reverse("accounts:login"), {"username": customer.email, "password": TEST_PASSWORD, "next": target}
    )
    assert response.status_code == 302 and not _leaves(response["Location"]), response["Location"]
    response = client.post(reverse("accounts:logout"), {"next": target})
    assert response.status_code == 302 and not _leaves(response["Location"]), response["Location"]
    team = TeamFactory()
    client.force_login(make_agent(team))
    response = client.post(reverse("tickets:desk_bulk"), {"back": target, "action": "assign_me"})
    assert response.status_code == 302 and not _leaves(response["Location"]), response["Location"]


# ---------------------------------------------------------------- headers and production settings

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "review-" + "k" * 60,
    "ALLOWED_HOSTS": "help.example.com",
    "EMAIL_URL": "smtp://mail.example.com:587?tls=True",
    "SECURE_SSL_REDIRECT": "1",
    "SESSION_COOKIE_SECURE": "1",
    "CSRF_COOKIE_SECURE": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
}


def _production_settings(*names: str) -> dict:
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({{n: getattr(settings, n, None) for n in {list(names)!r}}}))"
    )
    env = {
        **os.environ,
        **PRODUCTION_ENV,
        "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
        "PYTHONPATH": str(ROOT),
    }
    out = subprocess.run(  # noqa: S603 - this interpreter, code written here
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    import json

    return json.loads(out.stdout.strip().splitlines()[-1])


def test_production_cookies_are_secure_httponly_lax_and_host_prefixed():
    """In production, cookies are Secure, HttpOnly, SameSite=Lax and carry the __Host- prefix."""
    values = _production_settings(
        "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE", "SESSION_COOKIE_NAME",
        "CSRF_COOKIE_SECURE", "CSRF_COOKIE_HTTPONLY", "CSRF_COOKIE_SAMESITE", "CSRF_COOKIE_NAME",
        "SECURE_HSTS_SECONDS",
    )  # fmt: skip
    assert values["SESSION_COOKIE_SECURE"] and values["SESSION_COOKIE_HTTPONLY"]
    assert values["SESSION_COOKIE_SAMESITE"] == "Lax" and values["SESSION_COOKIE_NAME"].startswith("__Host-")
    assert values["CSRF_COOKIE_SECURE"] and values["CSRF_COOKIE_SAMESITE"] == "Lax"
    assert values["CSRF_COOKIE_NAME"].startswith("__Host-")
    assert values["SECURE_HSTS_SECONDS"] > 0
    assert values["CSRF_COOKIE_HTTPONLY"], "the csrftoken cookie is readable by scripts (not HttpOnly)"


def test_pages_send_strict_csp_frame_and_referrer_headers(client):
    customer = make_customer()
    client.force_login(customer)
    for url in (reverse("home"), reverse("tickets:portal_list"), reverse("accounts:login"), "/no-such-page/"):
        response = client.get(url)
        csp = response["Content-Security-Policy"]
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, url
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Content-Type-Options"] == "nosniff"
