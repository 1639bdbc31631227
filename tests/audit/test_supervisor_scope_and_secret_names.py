"""The audit trail (audit/): the viewer's scope for supervisors, its filters given odd input,
the CSV export, audit_prune / audit_verify, and the masking of secrets in what services record."""

import csv
import io
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

import audit
from accounts import services as account_services
from audit.models import AuditEvent
from audit.recorder import MASK, verify_audit_chain
from helpdesk.services import site_configuration_update
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

pytestmark = pytest.mark.django_db

LIST = reverse("audit:event_list")
EXPORT = reverse("audit:event_export")


@pytest.fixture
def desk():
    """Support and Billing, an agent in each, a Support supervisor, and a ticket in each team."""
    support, billing = TeamFactory(name="Support"), TeamFactory(name="Billing")
    support_agent, billing_agent = (
        make_agent(support, name="Sam Support"),
        make_agent(billing, name="Bea Billing"),
    )
    acme = make_customer(OrganizationFactory(name="Acme"), name="Ada Acme")
    return {
        "support": support,
        "billing": billing,
        "support_agent": support_agent,
        "billing_agent": billing_agent,
        "supervisor": make_supervisor(support, name="Sue Supervisor"),
        "admin": make_administrator(name="Al Admin"),
        "customer": acme,
        "support_ticket": make_ticket(acme, team=support, subject="Support printer jam"),
        "billing_ticket": make_ticket(acme, team=billing, subject="Billing invoice twice"),
    }


def page(response) -> str:
    return response.content.decode()


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


# --- supervisor scope ----------------------------------------------------------------------------


def test_a_supervisor_still_reads_the_deletion_of_their_teams_ticket(client, desk):
    """A supervisor audits their team's tickets: when an administrator deletes one (a soft delete whose
    "rows stay for the audit trail"), they expect to find who deleted it and its history. Before the fix
    every event about it vanished from their trail the moment it was deleted, the deletion included (the
    scope reused Ticket.staff_visible_to, which leaves deleted tickets out). Another team's deleted ticket
    stays out."""
    ticket = desk["support_ticket"]
    ticket_services.ticket_update_fields(ticket, changes={"priority": "urgent"}, actor=desk["support_agent"])
    ticket_services.ticket_delete(ticket, actor=desk["admin"])
    assert AuditEvent.objects.filter(object_id=str(ticket.pk), action="ticket.deleted").exists()

    client.force_login(desk["supervisor"])
    shown = page(client.get(LIST, {"object": ticket.reference}))
    assert "ticket.deleted" in shown, "the deletion of a Support ticket is hidden from Support's supervisor"
    assert "ticket.priority" in shown
    ticket_services.ticket_delete(desk["billing_ticket"], actor=desk["admin"])
    assert "Billing invoice twice" not in page(client.get(LIST))


def test_a_saved_view_shared_with_another_team_stays_out_of_the_supervisors_trail(client, desk):
    """An agent working both Support and Billing saves a view shared with Billing. It is Billing's
    object (its name can carry Billing's customers); Support's supervisor must not read it (before
    the fix the scope took every saved-view event by a member, whichever team the view belonged to). The
    member's private views and those shared with Support stay in it."""
    both = make_agent(desk["support"], desk["billing"], name="Bo Both")
    ticket_services.saved_view_create(
        name="Billing: Globex refund dispute", query="q=globex", team=desk["billing"], actor=both
    )
    ticket_services.saved_view_create(
        name="Support: printers", query="q=printer", team=desk["support"], actor=both
    )
    ticket_services.saved_view_create(name="Mine: urgent", query="priority=urgent", team=None, actor=both)
    client.force_login(desk["supervisor"])
    shown = page(client.get(LIST))
    assert "Globex refund dispute" not in shown
    assert "Support: printers" in shown
    assert "Mine: urgent" in shown


def test_a_supervisor_reads_nothing_of_another_team_settings_or_a_customers_account(client, desk):
    """Events about Billing's ticket, site settings by an administrator and a customer's
    account are out of a Support supervisor's list, their export and their action menu."""
    ticket_services.ticket_update_fields(
        desk["billing_ticket"], changes={"priority": "high"}, actor=desk["billing_agent"]
    )
    site_configuration_update(changes={"maintenance_message": "Secret Rebrand"}, actor=desk["admin"])
    account_services.profile_update(
        desk["customer"], name="Ada Renamed", timezone_name="UTC", actor=desk["customer"]
    )
    ticket_services.ticket_update_fields(
        desk["support_ticket"], changes={"priority": "urgent"}, actor=desk["support_agent"]
    )
    client.force_login(desk["supervisor"])
    shown = page(client.get(LIST))
    shown = shown[shown.index('<section id="events"') :]
    assert "Support printer jam" in shown
    for hidden in ("Billing invoice twice", "Secret Rebrand", "Ada Renamed", "settings_change"):
        assert hidden not in shown, hidden
    text = "\n".join(",".join(row) for row in read_csv(client.post(EXPORT)))
    assert "Support printer jam" in text
    for hidden in ("Billing invoice twice", "Secret Rebrand", "Ada Renamed"):
        assert hidden not in text, hidden


@pytest.mark.parametrize("who", ["agent", "customer"])
def test_agents_and_customers_get_404_on_every_audit_url(client, desk, who):
    """The list and the export answer 404 to an agent or a customer, and no export is
    recorded."""
    client.force_login(desk["support_agent"] if who == "agent" else desk["customer"])
    assert client.get(LIST).status_code == 404
    assert client.get(LIST, {"action": "update"}).status_code == 404
    assert client.post(EXPORT).status_code == 404
    assert not AuditEvent.objects.filter(action="export").exists()


# --- filters -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "2025-03-10", "date_to": "2025-03-01", "object": "printer"},
        {"action": "no-such-action", "object": "printer"},
        {"date_from": "2025-02-31", "object": "printer"},
        {"actor": "x" * 300, "object": "printer"},
        {"object": "p" * 400},
        {"object_type": "abc", "object": "printer"},
    ],
)
def test_refused_filters_answer_422_with_the_form_refilled(client, desk, params):
    """A reversed range, an unknown action, an impossible date, too long a text or a
    non-integer type answers 422 with the field marked and what was typed kept."""
    ticket_services.ticket_update_fields(
        desk["support_ticket"], changes={"priority": "urgent"}, actor=desk["support_agent"]
    )
    client.force_login(desk["admin"])
    response = client.get(LIST, params)
    assert response.status_code == 422, params
    assert 'aria-invalid="true"' in page(response)
    if params.get("object") == "printer":
        assert 'value="printer"' in page(response)


def test_the_list_costs_the_same_queries_for_a_few_or_many_varied_events(
    client, desk, django_assert_max_num_queries
):
    """A supervisor's page costs the same number of queries with 3 events as with 60 of
    every kind they may read (ticket, team, member, saved view, object-less)."""
    supervisor = desk["supervisor"]
    view = ticket_services.saved_view_create(name="Mine", query="q=a", team=None, actor=desk["support_agent"])
    for obj in (desk["support_ticket"], desk["support"], view):
        audit.record("probe.0", actor=desk["support_agent"], obj=obj, changes={"n": (0, 1)})
    client.force_login(supervisor)
    client.get(LIST)  # the action menu, kept a few minutes, and the content types are read once

    with CaptureQueriesContext(connection) as few:
        client.get(LIST)
    for number in range(12):
        for obj in (desk["support_ticket"], desk["support"], desk["support_agent"], view, None):
            audit.record("probe.0", actor=desk["support_agent"], obj=obj, changes={"n": (number, number + 1)})
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(LIST)
    assert len(response.context["page"].events) == 50


# --- CSV export ----------------------------------------------------------------------------------


def test_a_formula_in_a_users_name_and_a_tickets_subject_is_neutralised_in_the_export(client, desk):
    """Names and subjects typed through the services (not audit.record directly) that
    start with a formula character come out of the export as text."""
    admin = desk["admin"]
    account_services.profile_update(
        admin, name='=HYPERLINK("http://evil.example","x")', timezone_name="UTC", actor=admin
    )
    admin.refresh_from_db()
    ticket = desk["support_ticket"]
    ticket_services.ticket_update_fields(
        ticket, changes={"subject": "@SUM(1+1)*cmd|' /C calc'!A0"}, actor=admin
    )
    client.force_login(desk["admin"])
    rows = read_csv(client.post(EXPORT, {"action": "ticket.fields"}))
    assert len(rows) == 2, rows
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["actor"].startswith("'=")
    assert "@SUM(1+1)" in row["object"] and "@SUM(1+1)" in row["changes"]
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in rows[1])


# --- secrets in what services record -------------------------------------------------------------


@pytest.mark.parametrize("name", ["recovery_codes", "backup_codes", "passcode", "sessionid"])
def test_a_secret_setting_is_masked_whatever_its_common_name(name):
    """A site setting holding two-factor recovery codes, a passcode or a session id is a secret; the audit
    trail (readable by every administrator, exported to CSV) should mask it as it masks "password" or
    "token" (before the fix audit.recorder._is_secret knew none of these names and stored it in clear)."""
    site_configuration_update(changes={f"custom.{name}": "hunter2-7731"}, actor=None)
    event = AuditEvent.objects.get(action="settings_change")
    assert "hunter2-7731" not in str(event.changes), event.changes
    assert event.changes[f"custom.{name}"] == [MASK, MASK]


def test_a_password_change_records_neither_the_password_nor_its_hash():
    """The password service records the change, never the password or its hash."""
    user = make_agent(TeamFactory(), name="Pat")
    account_services.user_password_change(
        user, password="Very-secret-pw-991", actor=user, keep_session_key=None
    )
    everything = str(list(AuditEvent.objects.values_list("changes", "object_repr")))
    assert "Very-secret-pw-991" not in everything and "pbkdf2" not in everything and "md5$" not in everything


# --- audit_prune / audit_verify -------------------------------------------------------------------


def _events_on(clock, day: str, count: int) -> None:
    clock.move_to(datetime.fromisoformat(day).replace(tzinfo=UTC), tick=False)
    for number in range(count):
        audit.record("update", actor=None, object_repr=f"{day} #{number}")


@pytest.mark.parametrize("before", ["2999-01-01", "2025/02/01", "yesterday", "", "2025-02-30", "0000-01-01"])
def test_audit_prune_refuses_odd_dates_and_deletes_nothing(clock, before):
    """A future, badly written or impossible --before is a CommandError, and nothing is
    deleted."""
    _events_on(clock, "2025-01-10", 2)
    clock.move_to(datetime(2025, 4, 1, tzinfo=UTC), tick=False)
    with pytest.raises(CommandError):
        call_command("audit_prune", "--before", before)
    assert AuditEvent.objects.count() == 2


def test_audit_prune_in_a_time_zone_east_of_utc_at_the_start_of_the_calendar(clock, settings, capsys):
    """--before 0001-01-01 with the site in UTC+14 (the day starts before year 1 in UTC)
    prunes nothing rather than crashing."""
    settings.TIME_ZONE = "Pacific/Kiritimati"
    _events_on(clock, "2025-01-10", 2)
    clock.move_to(datetime(2025, 4, 1, tzinfo=UTC), tick=False)
    call_command("audit_prune", "--before", "0001-01-01")
    assert "No audit events" in capsys.readouterr().out


def test_audit_verify_passes_after_a_prune_and_the_export_of_what_remains(client, clock, capsys):
    """Prune, export (recorded after the checkpoint), then audit_verify is intact and the
    export's row count matches what remains."""
    _events_on(clock, "2025-01-10", 3)
    _events_on(clock, "2025-03-10", 2)
    clock.move_to(datetime(2025, 4, 1, tzinfo=UTC), tick=False)
    call_command("audit_prune", "--before", "2025-02-01")
    client.force_login(make_administrator())
    rows = read_csv(client.post(EXPORT))
    assert len(rows) - 1 == AuditEvent.objects.exclude(action="export").count()
    call_command("audit_verify")
    assert "Audit chain intact" in capsys.readouterr().out
    assert verify_audit_chain().problem == ""


def test_a_supervisor_whose_role_expired_gets_404_on_the_trail(client, clock):
    """Once a Supervisor role's expiry has passed, /audit/ and the export answer 404."""
    from datetime import timedelta

    team = TeamFactory(name="Night shift")
    supervisor = make_supervisor(team, expires_at=datetime.now(UTC) + timedelta(days=1))
    client.force_login(supervisor)
    assert client.get(LIST).status_code == 200
    clock.shift(timedelta(days=2))
    assert client.get(LIST).status_code == 404
    assert client.post(EXPORT).status_code == 404
