"""The audit trail and the security hardening (viewer, exports, masking, limits,
redirects, sessions, headers)."""

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

import audit
from accounts import services
from accounts.models import User
from audit.models import AuditEvent
from tests.factories import (
    TEST_PASSWORD,
    TeamFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_supervisor,
    make_ticket,
)

pytestmark = pytest.mark.django_db

LIST = reverse("audit:event_list")
EXPORT = reverse("audit:event_export")
LOGIN = reverse("accounts:login")
PASSWORD = "Correct-horse-battery-9"


def export_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


# --- who may read the audit ---------------------------------------------------------------------------


@pytest.mark.parametrize("maker", [make_customer, lambda: make_agent(TeamFactory())])
def test_outsiders_get_404_on_viewer_and_export(client, maker):
    client.force_login(maker())
    assert client.get(LIST).status_code == 404
    assert client.post(EXPORT).status_code == 404


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(LIST)
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


def test_supervisor_does_not_see_other_teams_ticket_events(client):
    mine, other = TeamFactory(), TeamFactory()
    customer = make_customer()
    theirs = make_ticket(customer, team=other, subject="Secret merger plans 4471")
    audit.record("update", actor=None, obj=theirs, changes={"subject": ("a", "Secret merger plans 4471")})
    client.force_login(make_supervisor(mine))
    assert "4471" not in client.get(LIST).content.decode()
    rows = export_rows(client.post(EXPORT))
    assert not any("4471" in cell for row in rows for cell in row)


# --- odd filter values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"actor": "a\x00b"},
        {"object": "x\x00"},
        {"object": "T-\x00"},
        {"date_from": "2024-02-30"},
        {"date_from": "0001-01-01", "date_to": "9999-12-31"},
        {"before": "-1"},
        {"after": "99999999999999999999999"},
        {"object_type": "abc"},
        {"object_type": "999999"},
        {"action": "<script>"},
        {"category": "nope"},
        {"object": "T-99999999999999999999999"},
        {"actor": "x" * 300},
        {"date_from": "2025-01-02", "date_to": "2025-01-01"},
    ],
)
def test_odd_filters_never_500(client, params):
    audit.record("update", actor=None, object_repr="thing")
    client.force_login(make_administrator())
    assert client.get(LIST, params).status_code in (200, 422)
    assert client.post(EXPORT, params).status_code in (200, 422)


# --- CSV export ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("evil", ['=HYPERLINK("http://x")', "+1+2", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_export_neutralises_formulas(client, evil):
    audit.record("update", actor=None, object_repr=evil)
    client.force_login(make_administrator())
    rows = export_rows(client.post(EXPORT, {"action": "update"}))
    cell = rows[-1][HEADER.index("object")]
    assert cell.startswith("'")


HEADER = ("sequence", "time", "actor", "actor id", "action", "category", "object type", "object id",
          "object", "changes", "ip", "user agent", "request id")  # fmt: skip


def test_export_is_audited_with_its_filter(client):
    audit.record("update", actor=None, object_repr="thing")
    admin = make_administrator()
    client.force_login(admin)
    client.post(EXPORT, {"action": "update"})
    event = AuditEvent.objects.filter(action="export").get()
    assert event.actor == admin and event.changes["filter"][1]["action"] == "update"


def test_export_get_is_refused(client):
    client.force_login(make_administrator())
    assert client.get(EXPORT).status_code == 405
    assert not AuditEvent.objects.filter(action="export").exists()


# --- masking ------------------------------------------------------------------------------------------


def test_password_change_is_recorded_masked(client):
    user = make_customer(password=PASSWORD)
    services.user_password_change(user, password="Another-horse-77", actor=user, keep_session_key=None)
    for event in AuditEvent.objects.all():
        text = repr(event.changes)
        assert "Another-horse-77" not in text and "pbkdf2" not in text and "md5$" not in text


# --- sessions -----------------------------------------------------------------------------------------


def test_suspension_ends_sessions(client):
    user = make_customer()
    client.force_login(user)
    assert client.get(reverse("accounts:profile")).status_code == 200
    services.user_suspend(User.objects.get(pk=user.pk), until=None, reason="abuse", actor=None)
    assert client.get(reverse("accounts:profile")).status_code == 302


# --- headers ------------------------------------------------------------------------------------------


def test_audit_pages_carry_security_headers(client):
    audit.record("update", actor=None, object_repr="thing")
    client.force_login(make_administrator())
    for response in (client.get(LIST), client.post(EXPORT)):
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "no-store" in response.get("Cache-Control", "") or "private" in response.get(
            "Cache-Control", ""
        )
        assert response.get("Referrer-Policy")
    assert "frame-ancestors 'none'" in client.get(LIST)["Content-Security-Policy"]


# --- open redirects -----------------------------------------------------------------------------------

EVIL_NEXTS = [
    "//evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "/\\/evil.example/",
    "https://evil.example/",
    "///evil.example/",
    "/\t/evil.example/",
    " //evil.example/",
    "http:/\\evil.example",
    "https:evil.example",
    "javascript:alert(1)",
    "/%09/evil.example",
    "%2F%2Fevil.example",
]


def off_site(location: str) -> bool:
    """What a browser would make of the Location: backslashes read as slashes, tabs and newlines dropped."""
    from urllib.parse import urljoin, urlsplit

    cleaned = location.replace("\\", "/").replace("\t", "").replace("\n", "").replace("\r", "").strip()
    absolute = urljoin("http://testserver/accounts/login/", cleaned)
    parts = urlsplit(absolute)
    return parts.scheme not in ("http", "https") or parts.hostname != "testserver"


@pytest.mark.parametrize("target", EVIL_NEXTS)
def test_login_next_stays_on_site(client, target):
    user = make_customer()
    response = client.post(LOGIN, {"username": user.email, "password": TEST_PASSWORD, "next": target})
    assert response.status_code == 302, response.content.decode()[:300]
    assert not off_site(response["Location"]), response["Location"]


@pytest.mark.parametrize("target", EVIL_NEXTS)
def test_logout_next_stays_on_site(client, target):
    client.force_login(make_customer())
    response = client.post(reverse("accounts:logout"), {"next": target})
    assert not off_site(response["Location"]), response["Location"]


@pytest.mark.parametrize("target", EVIL_NEXTS)
def test_admin_login_next_stays_on_site(client, target):
    client.force_login(make_administrator(is_superuser=True))
    response = client.get(reverse("admin_login"), {"next": target})
    assert response.status_code == 302
    assert not off_site(response["Location"]), response["Location"]


@pytest.mark.parametrize("target", EVIL_NEXTS)
def test_signup_next_stays_on_site(client, target, settings):
    from helpdesk.models import SiteConfiguration

    SiteConfiguration.objects.filter().update(open_signup=True)
    response = client.post(
        reverse("accounts:signup") + "?next=" + target,
        {"email": "newbie@example.org", "name": "New Bie", "password": PASSWORD, "next": target},
    )
    assert response.status_code == 302
    assert not off_site(response["Location"]), response["Location"]


@pytest.mark.parametrize("target", EVIL_NEXTS[:6])
def test_two_factor_next_stays_on_site(client, target):
    from tests.accounts.test_two_factor import code_for, enrol

    user = make_agent(TeamFactory())
    device, _ = enrol(Client(), user)
    client.post(LOGIN, {"username": user.email, "password": TEST_PASSWORD, "next": target})
    response = client.post(reverse("accounts:two_factor_verify"), {"code": code_for(device, steps_ahead=1)})
    assert response.status_code == 302
    assert not off_site(response["Location"]), response["Location"]


# --- rate limits and lockouts -------------------------------------------------------------------------


def test_password_reset_limited_per_address_whatever_the_spelling(client, settings):
    settings.RATE_LIMITS_ENABLED = True
    make_customer(email="victim@example.org")
    url = reverse("accounts:password_reset")
    spellings = ["victim@example.org", "VICTIM@example.org", " victim@Example.ORG ", "Victim@EXAMPLE.org"]
    codes = [
        client.post(url, {"email": spelling}, REMOTE_ADDR=f"198.51.100.{n}").status_code
        for n, spelling in enumerate(spellings, start=1)
    ]
    assert codes[:3] == [302, 302, 302] and codes[3] == 429


def test_login_lockout_counts_every_spelling(client, settings):
    settings.RATE_LIMITS_ENABLED = False
    user = make_customer(email="target@example.org")
    spellings = ["target@example.org", "TARGET@example.org", " target@example.org", "Target@Example.Org",
                 "target@EXAMPLE.ORG"]  # fmt: skip
    for n, spelling in enumerate(spellings, start=1):
        client.post(LOGIN, {"username": spelling, "password": "wrong"}, REMOTE_ADDR=f"203.0.113.{n}")
    response = client.post(
        LOGIN, {"username": user.email, "password": TEST_PASSWORD}, REMOTE_ADDR="192.0.2.9"
    )
    assert response.status_code in (403, 429)
    assert AuditEvent.objects.filter(action="lockout").exists()


def test_login_rate_limited_per_ip(client, settings):
    settings.RATE_LIMITS_ENABLED = True
    codes = [
        client.post(
            LOGIN, {"username": f"u{n}@example.org", "password": "x"}, REMOTE_ADDR="192.0.2.50"
        ).status_code
        for n in range(31)
    ]
    assert codes[-1] in (403, 429)


# --- secrets in the trail -----------------------------------------------------------------------------


def test_two_factor_enrolment_keeps_the_key_out_of_the_trail():
    from tests.accounts.test_two_factor import enrol

    user = make_agent(TeamFactory())
    device, codes = enrol(Client(), user)
    dump = repr(list(AuditEvent.objects.values("changes", "object_repr")))
    assert device.key not in dump
    assert not any(code in dump for code in codes)


# --- sessions on password change ----------------------------------------------------------------------


def test_password_change_on_profile_ends_other_sessions(client):
    user = make_customer()
    other = Client()
    other.force_login(user)
    client.force_login(user)
    response = client.post(
        reverse("accounts:profile"),
        {"change_password": "1", "old_password": TEST_PASSWORD, "new_password1": PASSWORD,
         "new_password2": PASSWORD},
    )  # fmt: skip
    assert response.status_code == 302
    assert other.get(reverse("accounts:profile")).status_code == 302
    assert client.get(reverse("accounts:profile")).status_code == 200


# --- what failed sign-ins leave in the trail ----------------------------------------------------------


def test_a_password_typed_into_the_address_box_is_not_kept_in_clear(client, settings):
    """A person signing in types their password into the e-mail box by mistake (the browser filled the
    address box, focus moved, ...). The failed sign-in is recorded with that text in clear as the
    event's object: every administrator reads it in the audit viewer and in CSV exports, kept for
    years, next to the person's IP and the same person's successful login a few seconds later.
    django-axes, logging the same failure, masks it ("********"). A typed name that is no address
    (no "@") names no account: it should be masked (or recorded only as "not an e-mail address")."""
    settings.RATE_LIMITS_ENABLED = False
    client.post(LOGIN, {"username": "Tr0ub4dor&3-secret", "password": "x"})
    client.post(LOGIN, {"username": "Tr0ub4dor&3-secret", "password": "x"})
    kept = repr(list(AuditEvent.objects.values_list("object_repr", "changes")))
    assert "Tr0ub4dor&3-secret" not in kept


def test_failed_sign_in_keeps_the_address_tried():
    client = Client()
    client.post(LOGIN, {"username": "Someone@Example.org", "password": "x"})
    event = AuditEvent.objects.get(action="login_failed")
    assert event.object_repr.lower() == "someone@example.org" and event.changes != "x"


# --- paging, CSRF -------------------------------------------------------------------------------------


def test_older_page_keeps_the_filter(client):
    for n in range(55):
        audit.record("update", actor=None, object_repr=f"match {n}")
        audit.record("delete", actor=None, object_repr=f"other {n}")
    client.force_login(make_administrator())
    first = client.get(LIST, {"action": "update"})
    older = first.context["page"].older_than
    assert older is not None
    second = client.get(LIST, {"action": "update", "before": older})
    events = second.context["page"].events
    assert len(events) == 5 and all(event.action == "update" for event in events)
    newer = client.get(LIST, {"action": "update", "after": second.context["page"].newer_than})
    assert [e.sequence for e in newer.context["page"].events] == [
        e.sequence for e in first.context["page"].events
    ]


def test_export_needs_csrf():
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(make_administrator())
    assert csrf_client.post(EXPORT).status_code == 403
    assert not AuditEvent.objects.filter(action="export").exists()


def test_signup_limited_per_ip(client, settings):
    from helpdesk.models import SiteConfiguration

    settings.RATE_LIMITS_ENABLED = True
    SiteConfiguration.objects.update(open_signup=True)
    codes = []
    for n in range(11):
        data = {"email": f"new{n}@example.org", "name": f"New {n}", "password": PASSWORD}
        codes.append(Client().post(reverse("accounts:signup"), data, REMOTE_ADDR="192.0.2.77").status_code)
    assert codes[:10] == [302] * 10 and codes[10] == 429


def test_admin_setting_a_password_ends_the_users_sessions(client):
    user = make_customer()
    victim_client = Client()
    victim_client.force_login(user)
    client.force_login(make_administrator(is_superuser=True))
    url = reverse("admin:auth_user_password_change", args=[user.pk])
    response = client.post(url, {"password1": PASSWORD, "password2": PASSWORD, "usable_password": "true"})
    assert response.status_code == 302, response.content.decode()[:500]
    assert victim_client.get(reverse("accounts:profile")).status_code == 302
    assert AuditEvent.objects.filter(action="password_change", object_id=str(user.pk)).exists()


def test_a_password_inside_a_settings_url_is_masked_in_the_trail():
    """An administrator stores a connection address for an integration as a custom setting, the way
    such addresses come (SMTP_URL, a database or webhook URL): "smtp://mailer:S3cr3t-991@mail.example".
    The setting's name holds no secret-looking word, so the settings_change event keeps the password in
    clear, for every administrator and every CSV export to read. Secrets are to be masked whatever the
    name: the password part of a URL's user info should be replaced by the mask."""
    from helpdesk import services as site_services

    site_services.site_configuration_update(
        changes={"custom.mail_relay": "smtp://mailer:S3cr3t-991@mail.example:587"}, actor=make_administrator()
    )
    event = AuditEvent.objects.get(action="settings_change")
    assert "S3cr3t-991" not in repr(event.changes)
    assert "mail.example" in repr(event.changes)  # the rest of the address stays readable


def test_nested_secret_names_in_settings_are_masked():
    from helpdesk import services as site_services

    site_services.site_configuration_update(
        changes={
            "custom.crm": {"url": "https://crm.example", "api_key": "AK-5521", "auth": [{"token": "T-1"}]}
        },
        actor=make_administrator(),
    )
    dumped = repr(AuditEvent.objects.get(action="settings_change").changes)
    assert "AK-5521" not in dumped and "T-1" not in dumped and "crm.example" in dumped
