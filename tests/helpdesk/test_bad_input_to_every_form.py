"""Bad input to every form a person uses (empty, too long, wrong types, NUL, unknown choices, repeated
keys): 422 with what was typed refilled and the error tied to its field, nothing saved; the desk's bulk
action refuses a value no ticket could take once, before touching any."""

import re
import uuid

import pytest
from django.urls import reverse

from accounts.models import User
from knowledge.models import Article
from tests.conftest import made_once_per_module
from tests.factories import (
    TicketFormFactory,
    make_administrator,
    make_customer,
    make_ticket,
)
from tests.helpdesk.conftest import make_desk
from tests.tickets.conftest import page_text
from tickets.models import Ticket, TicketMessage

pytestmark = pytest.mark.django_db

_desk_rows, desk = made_once_per_module(make_desk, "desk")

LONG = "x" * 10_050
FORM = "application/x-www-form-urlencoded"


def field_tag(response, name: str) -> str:
    html = response.content.decode()
    match = re.search(rf'<(?:input|textarea|select)\b[^>]*\bname="{name}"[^>]*>', html)
    assert match, f"no field {name}"
    return match.group(0)


def assert_error_tied(response, name: str) -> None:
    tag = field_tag(response, name)
    assert 'aria-invalid="true"' in tag, tag
    grouped = re.search(rf'<fieldset[^>]*aria-describedby="id_{name}_error"', response.content.decode())
    assert "aria-describedby=" in tag or grouped, tag


# ---------------------------------------------------------------- accounts


def test_signup_nul_in_name(client):
    r = client.post(
        reverse("accounts:signup"),
        {"name": "Ann\x00ie", "email": "ann@example.org", "password": "a-long-enough-passphrase"},
    )
    assert r.status_code == 422
    assert "ann@example.org" in page_text(r)
    assert_error_tied(r, "name")
    assert not User.objects.filter(email="ann@example.org").exists()


def test_profile_unknown_timezone_keeps_name(client):
    user = make_customer(name="Old name")
    client.force_login(user)
    r = client.post(
        reverse("accounts:profile"),
        {"save_profile": "1", "name": "New name typed", "timezone": "Mars/Olympus"},
    )
    assert r.status_code == 422
    assert 'value="New name typed"' in r.content.decode()
    assert_error_tied(r, "timezone")
    user.refresh_from_db()
    assert user.name == "Old name"


# ---------------------------------------------------------------- portal

SUBMIT = reverse("tickets:portal_submit")


def sub(**extra):
    return {
        "subject": "Printer jam",
        "description": "Paper stuck",
        "submission_key": str(uuid.uuid4()),
        **extra,
    }


CUSTOM = [
    {"name": "order", "label": "Order", "type": "text", "required": True},
    {"name": "qty", "label": "Quantity", "type": "number"},
    {"name": "when", "label": "When", "type": "date"},
    {"name": "pick", "label": "Pick", "type": "select", "choices": ["a", "b"]},
    {"name": "many", "label": "Many", "type": "multi_select", "choices": ["a", "b"]},
    {"name": "flag", "label": "Flag", "type": "checkbox"},
]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("qty", "ten"),
        ("qty", "1e999"),
        ("qty", "NaN"),
        ("qty", "9" * 400),
        ("when", "tomorrow"),
        ("when", "2024-02-30"),
        ("when", "99999-01-01"),
        ("pick", "zzz"),
        ("many", ["a", "zzz"]),
        ("order", LONG),
        ("order", "a\x00b"),
        ("order", ""),
    ],
)
def test_portal_custom_form_bad_values(client, field, value):
    form = TicketFormFactory(schema=CUSTOM)
    client.force_login(make_customer())
    data = sub(**{"cf_order": "ORD-1", "cf_qty": "3", "cf_when": "2024-05-01", "cf_pick": "a"})
    data["cf_" + field] = value
    url = reverse("tickets:portal_submit_form", args=[form.slug])
    r = client.post(url, data)
    assert r.status_code == 422, r.status_code
    assert "Printer jam" in page_text(r)
    if field != "order":
        assert 'value="ORD-1"' in r.content.decode()
    assert_error_tied(r, "cf_" + field)
    assert not Ticket.objects.exists()


# ---------------------------------------------------------------- desk


def test_desk_reply_bad(client, desk):
    t = desk["ticket"]
    client.force_login(desk["agent"])
    url = reverse("tickets:desk_reply", args=[t.number])
    before = TicketMessage.objects.count()
    cases = [
        {"kind": "bogus", "body": "Typed reply"},
        {"kind": "reply", "body": "Typed reply", "status_after": "bogus"},
        {"kind": "reply", "body": "Typed reply", "version": "abc"},
        {"kind": "reply", "body": "Typed reply", "version": "9" * 30},
        {"kind": "note", "body": "Typed\x00 reply"},
        {"kind": "note", "body": LONG * 6},
        {"kind": ["note", "reply"], "body": "Typed reply", "version": ["1", "abc"]},
    ]
    for data in cases:
        r = client.post(url, {"version": t.version, "submission_key": str(uuid.uuid4()), **data})
        assert r.status_code == 422, (str(data)[:80], r.status_code)
        if "Typed reply" in str(data["body"]):
            assert "Typed reply" in page_text(r)
    assert TicketMessage.objects.count() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject", LONG),
        ("subject", ""),
        ("subject", "a\x00b"),
        ("priority", ""),
        ("tags", LONG),
        ("bogus_field", "x"),
        ("due_at", "not a date"),
        ("team", "9" * 30),
    ],
)
def test_desk_inline_edit_bad(client, desk, field, value):
    t = desk["ticket"]
    client.force_login(desk["agent"])
    r = client.post(
        reverse("tickets:desk_update", args=[t.number]),
        {"field": field, "value": value, "version": t.version},
        HTTP_HX_REQUEST="true",
    )
    assert r.status_code == 422, r.status_code
    assert Ticket.objects.get(pk=t.pk).version == t.version


def test_desk_custom_fields_edit_bad(client, desk):
    form = TicketFormFactory(schema=CUSTOM)
    t = make_ticket(desk["customer"], team=desk["team"], form=form, custom_fields={"order": "A"})
    client.force_login(desk["agent"])
    stored = Ticket.objects.get(pk=t.pk).custom_fields
    r = client.post(
        reverse("tickets:desk_update", args=[t.number]),
        {
            "field": "custom_fields",
            "version": t.version,
            "cf-order": "Typed order",
            "cf-qty": "ten",
            "cf-when": "2024-13-45",
            "cf-pick": "zzz",
        },
    )
    assert r.status_code == 422
    assert "Typed order" in page_text(r)
    assert_error_tied(r, "cf-qty")
    assert Ticket.objects.get(pk=t.pk).custom_fields == stored


def test_desk_merge_bad(client, desk):
    t = desk["ticket"]
    client.force_login(desk["agent"])
    url = reverse("tickets:desk_merge", args=[t.number])
    for into in ("", "abc", LONG, str(t.number), "99999999", "a\x00b", "9" * 30, "T-" + "9" * 18):
        r = client.post(url, {"into": into, "version": t.version})
        assert r.status_code == 422, (into[:10], r.status_code)
        assert_error_tied(r, "into")
    r = client.post(url, "into=%ED%A0%80", content_type=FORM)
    assert r.status_code == 422
    assert not Ticket.objects.get(pk=t.pk).is_deleted


@pytest.mark.parametrize(
    "data",
    [
        {"action": "bogus"},
        {"action": "status:bogus"},
        {"action": "status:" + LONG},
        {"action": "assign:abc"},
        {"action": "assign:" + "9" * 30},
        {"action": "add_tag", "value": LONG},
        {"action": "add_tag", "value": "a\x00b"},
        {"action": "priority:bogus"},
        {"action": "team:abc"},
    ],
    ids=[
        "unknown-action",
        "unknown-status",
        "long-status",
        "assign-text",
        "assign-huge-id",
        "tag-too-long",
        "tag-nul",
        "unknown-priority",
        "team-text",
    ],
)
def test_desk_bulk_bad(client, desk, data):
    t = desk["ticket"]
    client.force_login(desk["agent"])
    chosen = f"{t.pk}:{t.version}"
    r = client.post(
        reverse("tickets:desk_bulk"), {"tickets": [chosen], "back": reverse("tickets:desk_queue"), **data}
    )
    assert r.status_code == 422, (str(data)[:80], r.status_code, [str(m) for m in r.wsgi_request._messages])
    assert f'value="{chosen}"' in r.content.decode()
    assert Ticket.objects.get(pk=t.pk).version == t.version


# ---------------------------------------------------------------- knowledge


def test_article_create_bad(client):
    client.force_login(make_administrator())
    url = reverse("knowledge:manage_new")
    good = {
        "title": "Typed title",
        "body": "Typed body",
        "excerpt": "",
        "tags": "",
        "visibility": "public",
        "category": "",
    }
    for change in (
        {"title": ""},
        {"title": LONG},
        {"title": "a\x00b"},
        {"body": "x" * 200_001},
        {"body": "Typed body\x00"},
        {"visibility": "bogus"},
        {"category": "abc"},
        {"category": "99999999"},
        {"tags": LONG},
        {"excerpt": LONG},
        {"category": "9" * 30},
    ):
        r = client.post(url, {**good, **change})
        assert r.status_code == 422, (str(change)[:40], r.status_code)
        key = next(iter(change))
        assert_error_tied(r, key)
        if key != "title":
            assert "Typed title" in page_text(r)
    assert not Article.objects.exists()


# ---------------------------------------------------------------- audit


@pytest.mark.parametrize(
    "query",
    [
        {"date_from": "tomorrow"},
        {"date_from": "2024-02-30"},
        {"actor": "abc"},
        {"actor": "9" * 30},
        {"action": "bogus"},
        {"object_type": "abc"},
        {"object_id": LONG},
        {"sort": "password"},
        {"q": "a\x00b"},
        {"date_from": "99999-01-01"},
        {"category": "bogus"},
        {"date_to": ["2024-01-01", "x"]},
        {"before": "abc"},
        {"after": "9" * 30},
    ],
)
def test_audit_filters_bad(client, query):
    client.force_login(make_administrator())
    r = client.get(reverse("audit:event_list"), query)
    assert r.status_code in (200, 422), r.status_code
    r = client.post(reverse("audit:event_export"), query)
    assert r.status_code in (200, 422), r.status_code
