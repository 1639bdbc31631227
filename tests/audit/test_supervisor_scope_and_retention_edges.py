"""The audit viewer as a supervisor sees it (fellow supervisors' exports, the actions offered), odd
filter input, retention edge cases, and the system log's row cap."""

import csv
import io
import logging
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.urls import reverse
from guardian.shortcuts import assign_perm

import audit
from accounts import rbac
from audit.models import AuditEvent, SystemLogEntry
from audit.recorder import verify_audit_chain, verify_chain
from audit.retention import prune_events
from tests.concurrency import run_while_another_transaction_waits
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

LIST = reverse("audit:event_list")
EXPORT = reverse("audit:event_export")


@pytest.fixture
def desk(db):
    support, billing = TeamFactory(name="Support"), TeamFactory(name="Billing")
    support_agent = make_agent(support)
    billing_agent = make_agent(billing)
    acme = make_customer(OrganizationFactory(name="Acme"))
    globex = make_customer(OrganizationFactory(name="Globex"), name="Globex CEO")
    support_ticket = make_ticket(acme, team=support, subject="Support printer")
    billing_ticket = make_ticket(globex, team=billing, subject="Billing invoice for Globex CEO")
    ticket_services.ticket_update_fields(support_ticket, changes={"priority": "urgent"}, actor=support_agent)
    ticket_services.ticket_update_fields(billing_ticket, changes={"priority": "high"}, actor=billing_agent)
    return {"support": support, "billing": billing, "support_agent": support_agent,
            "support_ticket": support_ticket, "billing_ticket": billing_ticket}  # fmt: skip


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


# --- who sees what -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_supervisor_does_not_read_a_fellow_supervisors_export_of_another_teams_data(client, desk):
    """A Support supervisor does not read the export (filter, rows) of a colleague who also runs Billing."""
    support_only = make_supervisor(desk["support"])
    both = make_supervisor(desk["support"], desk["billing"])
    client.force_login(both)
    client.post(EXPORT, {"object": "Globex CEO"})
    export = AuditEvent.objects.get(action="export", actor=both)
    assert export.changes["filter"][1] == {"object": "Globex CEO"}
    assert not AuditEvent.objects.visible_to(support_only).filter(pk=export.pk).exists()


@pytest.mark.django_db
def test_the_viewer_of_a_supervisor_never_shows_another_teams_customer_through_an_export_event(client, desk):
    """The audit page of a Support-only supervisor does not show the Billing customer's name at all."""
    both = make_supervisor(desk["support"], desk["billing"])
    client.force_login(both)
    client.post(EXPORT, {"object": "Globex CEO"})
    client.force_login(make_supervisor(desk["support"]))
    page = client.get(LIST).content.decode()
    assert "Support printer" in page
    assert "Globex CEO" not in page


@pytest.mark.django_db
def test_a_fellow_supervisors_export_through_a_queue_grant_is_not_read_either(client, desk):
    """A fellow Support supervisor who works the Billing queue by a grant (not a membership) exports by a
    Billing subject: the export holds Billing's events, and the Support-only supervisor does not read
    its filter. Before the fix only a membership of another team hid the export."""
    support_only = make_supervisor(desk["support"])
    granted = make_supervisor(desk["support"])
    assign_perm(rbac.WORK_TEAM_QUEUE, granted, desk["billing"])
    client.force_login(granted)
    assert "Billing invoice" in str(read_csv(client.post(EXPORT, {"object": "Billing invoice"})))
    client.force_login(support_only)
    assert "Billing invoice" not in client.get(LIST, {"action": "export"}).content.decode()
    own = client.post(EXPORT, {"object": "Support printer"})
    assert own.status_code == 200 and read_csv(own)
    exports = AuditEvent.objects.visible_to(support_only).filter(action="export")
    assert list(exports.values_list("actor", flat=True)) == [support_only.pk]


# --- odd filter input ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {"object": "Bill\x00ing"},
        {"actor": "a\x00@example.org"},
        {"date_from": "2025-01-01\x00"},
        {"action": "update\x00"},
    ],
)
def test_a_nul_byte_in_a_filter_is_refused_with_422_not_a_server_error(client, desk, params):
    """A NUL byte in any filter answers 422 (list and export), never a 500, and records no export."""
    client.force_login(make_administrator())
    assert client.get(LIST, params).status_code == 422
    assert client.post(EXPORT, params).status_code == 422
    assert not AuditEvent.objects.filter(action="export").exists()


@pytest.mark.django_db
def test_huge_and_negative_cursors_and_ids_are_harmless(client, desk):
    """Cursors and ids past a bigint, negative or signed are ignored, not a 500."""
    client.force_login(make_administrator())
    for params in ({"before": "9" * 30}, {"after": "9" * 18}, {"before": "-5"}, {"after": "+3"},
                   {"actor": "9" * 30}, {"object": "9" * 80}, {"object_type": "9" * 30}):  # fmt: skip
        assert client.get(LIST, params).status_code in (200, 422), params


# --- time zones ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_date_filters_read_days_in_the_readers_time_zone_and_the_export_is_in_utc(client, clock, desk):
    """11:00 UTC on 10 March is 11 March in Kiritimati: its reader finds it on the 11th; the CSV says UTC."""
    clock.move_to(datetime(2025, 3, 10, 11, 0, tzinfo=UTC), tick=False)
    event = audit.record("update", actor=None, object_repr="late-night change")
    clock.move_to(datetime(2025, 4, 1, tzinfo=UTC), tick=False)
    admin = make_administrator(timezone="Pacific/Kiritimati")
    client.force_login(admin)
    on_11th = client.get(LIST, {"date_from": "2025-03-11", "date_to": "2025-03-11"})
    assert [e.pk for e in on_11th.context["page"].events] == [event.pk]
    assert client.get(LIST, {"date_from": "2025-03-10", "date_to": "2025-03-10"}).context["page"].count == 0
    rows = read_csv(client.post(EXPORT, {"date_from": "2025-03-11", "date_to": "2025-03-11"}))
    assert len(rows) == 2 and rows[1][1] == "2025-03-10T11:00:00+00:00"
    recorded = AuditEvent.objects.get(action="export").changes["filter"][1]
    assert recorded["time_zone"] == "Pacific/Kiritimati"


# --- retention -----------------------------------------------------------------------------------


def events_on(clock, day: str, count: int) -> None:
    clock.move_to(datetime.fromisoformat(day).replace(tzinfo=UTC), tick=False)
    for number in range(count):
        audit.record("update", actor=None, object_repr=f"{day} #{number}")


@pytest.mark.django_db
def test_prune_everything_then_append_then_verify_with_the_old_head(clock, capsys):
    """After pruning every event, new events chain on and the head read before the prune verifies."""
    events_on(clock, "2025-01-10", 3)
    old_head = AuditEvent.objects.order_by("-sequence").first()
    clock.move_to(datetime(2025, 2, 1, 12, tzinfo=UTC), tick=False)
    call_command("audit_prune", "--before", "2025-02-01")
    call_command("audit_prune", "--before", "2025-02-01")  # twice: nothing more to do
    assert "No audit events before 2025-02-01" in capsys.readouterr().out
    audit.record("update", actor=None, object_repr="after the prune")
    assert list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True)) == [4, 5]
    call_command("audit_verify", "--expect-head", f"{old_head.sequence}:{old_head.hash}")
    assert verify_chain() == (2, None)


@pytest.mark.django_db(transaction=True)
def test_an_append_that_holds_the_chain_during_a_prune_keeps_one_verifiable_chain():
    """A prune that starts while another writer holds the chain waits for it; the chain still verifies."""
    for _ in range(3):
        audit.record("update", actor=None)
    cutoff = datetime(2999, 1, 1, tzinfo=UTC)  # everything recorded so far (and the concurrent one)
    result = {}

    def append() -> None:
        audit.record("update", actor=None, object_repr="concurrent")

    def prune() -> None:
        result["pruned"] = prune_events(cutoff)

    run_while_another_transaction_waits(append, prune)
    assert result["pruned"].count == 4
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["checkpoint"]
    audit.record("update", actor=None)
    assert verify_audit_chain().problem == ""


@pytest.mark.django_db(transaction=True)
def test_an_append_waiting_on_a_prune_chains_onto_its_checkpoint():
    """An append that waits for a prune-everything chains onto the checkpoint, and the chain verifies."""
    for _ in range(3):
        audit.record("update", actor=None)

    def prune() -> None:
        prune_events(datetime(2999, 1, 1, tzinfo=UTC))

    def append() -> None:
        audit.record("update", actor=None, object_repr="waited")

    run_while_another_transaction_waits(prune, append)
    assert list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True)) == [4, 5]
    assert verify_chain() == (2, None)


# --- system log handler --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, databases=["default", "system_log"])
@pytest.mark.parametrize("cap", [0, -5])
def test_the_handler_keeps_the_newest_warning_whatever_the_cap_like_systemlog_prune(settings, cap):
    """With SYSTEM_LOG_MAX_ROWS at 0 or below the handler keeps the newest entry, as prune_system_log does."""
    settings.SYSTEM_LOG_MAX_ROWS = 1
    logging.getLogger("tests.audit").warning("older one")
    settings.SYSTEM_LOG_MAX_ROWS = cap
    logging.getLogger("tests.audit").warning("newest one")
    assert list(SystemLogEntry.objects.values_list("message", flat=True)) == ["newest one"]


@pytest.mark.django_db
def test_supervisor_export_of_a_bad_date_rerenders_the_list_refilled_with_422(client, desk):
    """An export with a bad date answers 422 with the filters refilled, the hidden export fields too."""
    client.force_login(make_supervisor(desk["support"]))
    response = client.post(EXPORT, {"date_to": "2025-13-45", "object": "printer"})
    page = response.content.decode()
    assert response.status_code == 422
    assert 'value="printer"' in page and "Enter a valid date" in page
    assert '<input type="hidden" name="object" value="printer">' in page


@pytest.mark.django_db
def test_a_supervisor_is_offered_only_actions_of_events_they_may_read(client, desk):
    """Like the object types, the actions a supervisor is offered leave out administrator-only ones."""
    admin = make_administrator()
    audit.record("settings_change", actor=admin, obj=None, object_repr="Site configuration",
                 changes={"require_two_factor": (True, False)}, category="security")  # fmt: skip
    client.force_login(make_supervisor(desk["support"]))
    page = client.get(LIST).content.decode()
    start = page.index('name="action"')
    select = page[start : page.index("</select>", start)]
    assert "ticket.priority" in select
    assert "settings_change" not in select


@pytest.mark.django_db
def test_a_supervisor_reads_a_trail_that_holds_a_single_action(client):
    """With one action in the whole trail the list still opens and offers it."""
    team = TeamFactory()
    supervisor = make_supervisor(team)
    AuditEvent.objects.all().delete()
    audit.record("login", actor=supervisor, obj=supervisor, category="security")
    client.force_login(supervisor)
    response = client.get(LIST)
    assert response.status_code == 200 and '<option value="login"' in response.content.decode()


def test_a_system_log_cap_below_one_row_is_a_configuration_error(settings):
    """SYSTEM_LOG_MAX_ROWS of 0 would keep nothing: manage.py check says so."""
    from helpdesk.checks import check_day_counts

    settings.SYSTEM_LOG_MAX_ROWS = 0
    assert [error.id for error in check_day_counts(None)] == ["helpdesk.E012"]
