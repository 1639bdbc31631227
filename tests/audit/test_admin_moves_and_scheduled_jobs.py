"""A membership moved between teams in the admin, no-op admin actions, audit_prune's dates, the system
log handler (async code, broken format arguments) and the scheduled jobs (auto-close, suspensions,
pruning)."""

import asyncio
import contextlib
import csv
import io
import logging
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

import audit
from accounts import services as account_services
from accounts.models import TeamMember, User
from audit.models import AuditEvent, SystemLogEntry
from audit.recorder import verify_audit_chain
from tests.concurrency import away_from_an_event_loop
from tests.factories import (
    TeamFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tickets import services as ticket_services
from tickets.models import Ticket
from tickets.workflow import Status

EXPORT = reverse("audit:event_export")


def resolved_ticket(team, agent, customer) -> Ticket:
    ticket = make_ticket(customer, team=team)
    return ticket_services.ticket_transition(ticket, status=Status.RESOLVED, actor=agent)


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


# --- audit_prune / audit_verify -------------------------------------------------------------------


@pytest.mark.django_db
def test_audit_prune_with_a_year_one_date_in_a_site_zone_ahead_of_utc_is_a_clear_error(settings):
    """`audit_prune --before 0001-01-01` on a site whose TIME_ZONE is Europe/Paris (a typo for 2001):
    the operator expects a CommandError sentence or "nothing to prune", not an OverflowError traceback."""
    settings.TIME_ZONE = "Europe/Paris"
    audit.record("update", actor=None, object_repr="kept")
    out = io.StringIO()
    with contextlib.suppress(CommandError):
        call_command("audit_prune", "--before", "0001-01-01", stdout=out)
    assert AuditEvent.objects.filter(object_repr="kept").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["2025-02-30", "2025/01/31", "", "31.01.2025"])
def test_audit_prune_refuses_impossible_dates_with_a_command_error(value):
    """Bad dates given to audit_prune are a CommandError naming the expected format; nothing is pruned."""
    audit.record("update", actor=None, object_repr="kept")
    with pytest.raises(CommandError, match="must be a date"):
        call_command("audit_prune", "--before", value)
    assert AuditEvent.objects.filter(object_repr="kept").exists()


@pytest.mark.django_db
def test_audit_prune_reads_the_date_in_the_sites_time_zone(settings, clock):
    """--before 2025-02-10 on a New York site means midnight in New York: an event at 03:00 UTC on the
    10th (22:00 on the 9th, local) is pruned, one at 06:00 UTC (01:00 local on the 10th) stays; the
    chain still verifies."""
    settings.TIME_ZONE = "America/New_York"
    clock.move_to(datetime(2025, 2, 10, 3, tzinfo=UTC), tick=False)
    audit.record("update", actor=None, object_repr="before local midnight")
    clock.move_to(datetime(2025, 2, 10, 6, tzinfo=UTC), tick=False)
    audit.record("update", actor=None, object_repr="after local midnight")
    clock.move_to(datetime(2025, 3, 1, tzinfo=UTC), tick=False)
    call_command("audit_prune", "--before", "2025-02-10", stdout=io.StringIO())
    reprs = set(AuditEvent.objects.values_list("object_repr", flat=True))
    assert "before local midnight" not in reprs and "after local midnight" in reprs
    assert verify_audit_chain().problem == ""
    call_command("audit_verify", stdout=io.StringIO())


# --- system log handler ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, databases=["default", "system_log"])
def test_a_warning_logged_from_async_code_is_stored():
    """ASGI views, async middleware and Django's own async request logging log from the event loop's
    thread: a WARNING logged there must reach the system log like any other, not be dropped to stderr
    (SynchronousOnlyOperation)."""

    async def view():
        logging.getLogger("helpdesk.payments").warning("async payment gateway timeout")

    away_from_an_event_loop(lambda: asyncio.run(view()))
    assert SystemLogEntry.objects.filter(message="async payment gateway timeout").exists()


@pytest.mark.django_db(transaction=True, databases=["default", "system_log"])
def test_a_warning_with_mismatched_format_arguments_is_still_stored(capsys):
    """A buggy log call (`log.error("failed %s %s", one_arg)`) is exactly the code path an operator
    needs to see: the handler never raises, and it still keeps the record (with the raw message) in
    the system log instead of only writing it to stderr."""
    from audit.logging import DatabaseHandler

    logger = logging.getLogger("helpdesk.refunds")
    # Straight to the handler: pytest's own log capture raises on such a call before ours is reached.
    record = logger.makeRecord(
        logger.name, logging.ERROR, __file__, 1, "refund %s failed for %s", ("R-17",), None
    )
    DatabaseHandler().handle(record)
    entry = SystemLogEntry.objects.using("system_log").get(logger="helpdesk.refunds")
    assert "refund %s failed for %s" in entry.message and "R-17" in entry.message


@pytest.mark.django_db(transaction=True, databases=["default", "system_log"])
def test_the_scheduled_prune_task_removes_old_system_log_entries_only(settings):
    """The daily audit.tasks.prune_system_log job deletes entries older than SYSTEM_LOG_RETENTION_DAYS
    and keeps recent ones; run twice, the second run deletes nothing."""
    from audit.tasks import prune_system_log

    settings.SYSTEM_LOG_RETENTION_DAYS = 30
    old = SystemLogEntry.objects.using("system_log").create(level=30, logger="x", message="old")
    SystemLogEntry.objects.using("system_log").filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(days=31)
    )
    SystemLogEntry.objects.using("system_log").create(level=30, logger="x", message="recent")
    assert prune_system_log.call() == 1
    assert prune_system_log.call() == 0
    assert list(SystemLogEntry.objects.using("system_log").values_list("message", flat=True)) == ["recent"]


# --- the admin ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_member_moved_to_another_team_in_the_admin_shows_in_the_old_teams_trail(client):
    """Moving a membership from Support to Billing in the TeamMember admin removes someone from
    Support: Support's supervisor must find that in their audit viewer, as they find an add or a
    delete (the event is recorded only on the new team)."""
    support, billing = TeamFactory(name="Support"), TeamFactory(name="Billing")
    supervisor = make_supervisor(support)
    mover = make_agent(support, name="Moving Agent")
    membership = TeamMember.objects.get(user=mover, team=support)
    client.force_login(make_administrator(is_superuser=True))
    before = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first()
    response = client.post(
        reverse("admin:accounts_teammember_change", args=[membership.pk]),
        {"user": mover.pk, "team": billing.pk, "role": TeamMember.Role.AGENT, "is_available": "on",
         "joined_at_0": "2026-01-05", "joined_at_1": "09:00:00"},
    )  # fmt: skip
    assert response.status_code == 302
    new = AuditEvent.objects.filter(sequence__gt=before)
    assert new.exists()
    assert AuditEvent.objects.visible_to(supervisor).filter(sequence__gt=before).exists()


@pytest.mark.django_db
def test_the_activate_action_on_an_already_active_user_records_no_empty_event(superuser_client):
    """The admin's "Activate selected users" on accounts that are active already changes nothing: the
    trail must not fill with "activate" events that have no before/after."""
    user = make_agent()
    before = AuditEvent.objects.filter(action="activate", object_id=str(user.pk)).count()
    response = superuser_client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "activate_users", "_selected_action": [user.pk]},
    )
    assert response.status_code == 302
    recorded = AuditEvent.objects.filter(action="activate", object_id=str(user.pk))
    assert recorded.count() == before, list(recorded.values_list("changes", flat=True))


@pytest.mark.django_db
def test_audit_events_cannot_be_changed_or_deleted_through_the_admin(superuser_client):
    """Audit rows are read-only in the admin even for a superuser: the change form posts are refused,
    the delete page is refused, bulk delete is not offered, and the chain still verifies."""
    event = audit.record("update", actor=None, object_repr="original")
    change = reverse("admin:audit_auditevent_change", args=[event.pk])
    superuser_client.post(change, {"object_repr": "forged", "action": "update"})
    assert superuser_client.post(reverse("admin:audit_auditevent_delete", args=[event.pk]),
                                 {"post": "yes"}).status_code == 403  # fmt: skip
    superuser_client.post(
        reverse("admin:audit_auditevent_changelist"),
        {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
    )
    event.refresh_from_db()
    assert event.object_repr == "original"
    assert verify_audit_chain().problem == ""


# --- the export -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_export_neutralises_formulas_in_every_column_an_outsider_controls(client):
    """A user agent, request id or object name sent by a visitor that starts with = + - @ is written
    with a leading quote in every column of the CSV; the export itself is recorded with its row count."""
    audit.record("update", actor=None, object_repr="@SUM(1+1)*cmd|' /C calc'!A0",
                 changes={"=x": ("-1", "+1")})  # fmt: skip
    client.force_login(make_administrator())
    rows = read_csv(client.post(EXPORT, {"action": "update"}))
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
    export = AuditEvent.objects.get(action="export")
    assert export.changes["rows"] == [None, len(rows) - 1]


# --- scheduled jobs -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_auto_close_leaves_a_soft_deleted_ticket_alone():
    """An administrator deleted a resolved spam ticket: it is gone for everyone but administrators, and
    the auto-close job must not write to it (no status change, no activity, no audit event by System)."""
    team = TeamFactory()
    agent = make_agent(team)
    ticket = resolved_ticket(team, agent, make_customer())
    ticket_services.ticket_delete(ticket, actor=make_administrator())
    closed = ticket_services.tickets_close_resolved(now=timezone.now() + timedelta(days=30))
    ticket.refresh_from_db()
    assert closed == 0
    assert ticket.status == Status.RESOLVED


@pytest.mark.django_db
def test_auto_close_run_twice_closes_once_and_records_once():
    """The hourly job may run twice (two workers, a retry): the second run closes nothing and adds
    no audit events."""
    team = TeamFactory()
    agent = make_agent(team)
    customer = make_customer()
    ticket = resolved_ticket(team, agent, customer)
    later = timezone.now() + timedelta(days=30)
    assert ticket_services.tickets_close_resolved(now=later) == 1
    count = AuditEvent.objects.count()
    assert ticket_services.tickets_close_resolved(now=later) == 0
    assert AuditEvent.objects.count() == count
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED


@pytest.mark.django_db
def test_auto_close_counts_days_from_the_resolution_instant_not_the_local_date(settings, clock):
    """A ticket resolved at 23:30 in Tokyo (14:30 UTC) with TICKET_AUTO_CLOSE_DAYS=7 is not closed 6
    days and 23 hours later, and is closed 7 days later, whatever the site's time zone."""
    settings.TIME_ZONE = "Asia/Tokyo"
    settings.TICKET_AUTO_CLOSE_DAYS = 7
    clock.move_to(datetime(2025, 3, 1, 14, 30, tzinfo=UTC), tick=False)
    team = TeamFactory()
    ticket = resolved_ticket(team, make_agent(team), make_customer())
    clock.move_to(datetime(2025, 3, 8, 13, 30, tzinfo=UTC), tick=False)
    assert ticket_services.tickets_close_resolved() == 0
    clock.move_to(datetime(2025, 3, 8, 14, 30, tzinfo=UTC), tick=False)
    assert ticket_services.tickets_close_resolved() == 1
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED


@pytest.mark.django_db
def test_lifting_expired_suspensions_twice_records_one_activate_by_system(clock):
    """The every-minute job lifts an ended suspension once: one "activate" event by System with the
    status before and after; the next run finds nothing. A suspension still running stays."""
    ended = make_customer()
    running = make_customer()
    account_services.user_suspend(ended, until=timezone.now() + timedelta(hours=1), reason="spam",
                                  actor=None)  # fmt: skip
    account_services.user_suspend(running, until=timezone.now() + timedelta(days=3), reason="abuse",
                                  actor=None)  # fmt: skip
    clock.shift(timedelta(hours=2))
    assert account_services.suspensions_lift_expired() == 1
    assert account_services.suspensions_lift_expired() == 0
    events = AuditEvent.objects.filter(action="activate", object_id=str(ended.pk))
    assert events.count() == 1
    assert events.get().actor_repr == "System"
    assert events.get().changes["status"] == ["suspended", "active"]
    ended.refresh_from_db()
    running.refresh_from_db()
    assert (ended.status, ended.suspended_until, ended.suspension_reason) == (User.Status.ACTIVE, None, "")
    assert running.status == User.Status.SUSPENDED
