"""Operator-facing management commands and scheduled work (demo_load, loaddata roles,
close_resolved_tickets, audit_prune, audit_verify, systemlog_prune, site_config, scheduler, the
suspension auto-lift). Every command given wrong arguments must answer with one clear sentence and a
non-zero exit (CommandError), never a traceback; run twice or side by side it must not double its work."""

from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

import audit
from accounts import roles
from accounts import services as account_services
from accounts.models import User
from audit.models import AuditEvent, SystemLogEntry
from audit.recorder import verify_audit_chain
from helpdesk import scheduler
from helpdesk.models import PeriodicTaskRun, SiteConfiguration
from tests.concurrency import at_the_same_moment
from tests.conftest import manage
from tests.factories import (
    TeamFactory,
    ensure_roles,
    make_administrator,
    make_agent,
    make_customer,
    make_resolved_ticket,
)
from tickets import services as ticket_services
from tickets.models import Ticket, TicketActivity
from tickets.workflow import Status

BASE_DIR = Path(django_settings.BASE_DIR)


def run(command: str, *args) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


# --- make run: demo_load and loaddata roles ------------------------------------------------------------


@pytest.mark.django_db
def test_loaddata_roles_twice_keeps_four_roles_with_the_same_permissions():
    """Loading roles.json again (every `make run`) neither duplicates a role nor changes its permissions."""
    call_command("loaddata", "roles", verbosity=0)
    before = {g.name: set(g.permissions.values_list("codename", flat=True)) for g in Group.objects.all()}
    call_command("loaddata", "roles", verbosity=0)
    after = {g.name: set(g.permissions.values_list("codename", flat=True)) for g in Group.objects.all()}
    assert after == before
    assert set(roles.BUILT_IN_ROLES) <= set(after)
    assert Group.objects.filter(name=roles.AGENT).count() == 1


@pytest.mark.django_db
def test_a_second_make_run_keeps_a_demo_users_password_and_reply():
    """A demo user changes their password and replies; `make run` again (demo_load) fails on nothing,
    duplicates nothing and keeps both."""
    run("demo_load")
    customer = User.objects.get(email="customer@example.com")
    account_services.user_password_change(customer, password="my-own-new-secret-42", actor=customer,
                                          keep_session_key=None)  # fmt: skip
    ticket = (
        Ticket.objects.filter(requester=customer, status=Status.PENDING).first()
        or Ticket.objects.filter(requester=customer).exclude(status=Status.CLOSED).first()
    )
    ticket_services.ticket_reply(ticket, body="Here is what you asked for.", actor=customer)
    counts = (User.objects.count(), Ticket.objects.count(), TicketActivity.objects.count())
    assert "kept as it was left" in run("demo_load")
    assert (User.objects.count(), Ticket.objects.count(), TicketActivity.objects.count()) == counts
    assert User.objects.get(email="customer@example.com").check_password("my-own-new-secret-42")
    assert ticket.messages.filter(body="Here is what you asked for.").exists()


@pytest.mark.django_db
def test_a_second_make_run_keeps_an_administrators_change_to_a_built_in_role(superuser_client):
    """An administrator takes "close tickets" from the built-in Agent role in the admin (a recorded
    security change). `make run` again (README: "keeps the demo as you left it") must not hand the
    permission back to every agent, silently and with no audit event."""
    run("demo_load")
    agent_role = Group.objects.get(name=roles.AGENT)
    close = Permission.objects.get(codename="close_ticket", content_type__app_label="tickets")
    kept = [pk for pk in agent_role.permissions.values_list("pk", flat=True) if pk != close.pk]
    response = superuser_client.post(f"/admin/auth/group/{agent_role.pk}/change/", {"permissions": kept})
    assert response.status_code == 302, response.content[:2000]
    assert not agent_role.permissions.filter(pk=close.pk).exists()
    recorded = AuditEvent.objects.count()

    run("demo_load")  # the second `make run`

    assert not Group.objects.get(name=roles.AGENT).permissions.filter(pk=close.pk).exists(), (
        "make run re-granted close_ticket to the Agent role"
    )
    assert AuditEvent.objects.count() >= recorded


@pytest.mark.django_db
def test_make_run_creates_a_built_in_role_the_database_lacks_with_the_fixtures_permissions():
    """A database without one of the built-in roles (say deleted in SQL) gets it back, with the
    permissions fixtures/roles.json gives it; the roles that exist are left as they are."""
    expected = set(Group.objects.get(name=roles.SUPERVISOR).permissions.values_list("codename", flat=True))
    agent_role = Group.objects.get(name=roles.AGENT)
    agent_role.permissions.remove(Permission.objects.get(codename="close_ticket"))
    with connection.cursor() as cursor:  # the admin refuses to delete a built-in role
        cursor.execute(
            "DELETE FROM auth_group_permissions WHERE group_id = (SELECT id FROM auth_group WHERE name = %s)",
            [roles.SUPERVISOR],
        )
        cursor.execute("DELETE FROM auth_group WHERE name = %s", [roles.SUPERVISOR])
    assert "Created the built-in role Supervisor." in run("demo_load")
    restored = Group.objects.get(name=roles.SUPERVISOR)
    assert set(restored.permissions.values_list("codename", flat=True)) == expected
    assert not agent_role.permissions.filter(codename="close_ticket").exists()
    assert "Created" not in run("demo_load")


# --- close_resolved_tickets -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_auto_close_at_the_exact_boundary_closes_and_a_second_earlier_does_not(settings):
    """A ticket resolved exactly TICKET_AUTO_CLOSE_DAYS ago is due ("or longer"); one resolved a second
    later is not. The close is written as System in the timeline and the audit trail; a second run
    closes nothing more."""
    settings.TICKET_AUTO_CLOSE_DAYS = 7
    team = TeamFactory()
    agent, customer = make_agent(team), make_customer()
    now = timezone.now()
    due = make_resolved_ticket(team, agent, customer, ago=timedelta(days=7))
    Ticket.objects.filter(pk=due.pk).update(resolved_at=now - timedelta(days=7))
    not_yet = make_resolved_ticket(team, agent, customer, ago=timedelta(days=7))
    Ticket.objects.filter(pk=not_yet.pk).update(resolved_at=now - timedelta(days=7) + timedelta(seconds=1))
    assert ticket_services.tickets_close_resolved(now=now) == 1
    assert Ticket.objects.get(pk=due.pk).status == Status.CLOSED
    assert Ticket.objects.get(pk=not_yet.pk).status == Status.RESOLVED
    entry = TicketActivity.objects.get(ticket=due, action="status", new_value="closed")
    assert entry.actor is None
    event = AuditEvent.objects.filter(action="ticket.status", object_id=str(due.pk)).order_by("-sequence")[0]
    assert event.actor_id is None and event.actor_repr == "System"
    assert ticket_services.tickets_close_resolved(now=now) == 0


@pytest.mark.django_db
def test_a_ticket_reopened_and_solved_again_counts_from_the_new_resolution():
    """Resolved long ago, reopened by the customer, resolved again a moment ago: the clock restarts,
    and `close_resolved_tickets --now` leaves it resolved."""
    team = TeamFactory()
    agent, customer = make_agent(team), make_customer()
    ticket = make_resolved_ticket(team, agent, customer, ago=timedelta(days=30))
    ticket_services.ticket_reply(ticket, body="Still broken", actor=customer)
    assert Ticket.objects.get(pk=ticket.pk).status != Status.RESOLVED
    ticket_services.ticket_transition(Ticket.objects.get(pk=ticket.pk), status=Status.RESOLVED, actor=agent)
    assert "Closed 0 resolved tickets." in run("close_resolved_tickets", "--now")
    assert Ticket.objects.get(pk=ticket.pk).status == Status.RESOLVED


@pytest.mark.django_db
def test_close_resolved_tickets_with_a_stray_argument_is_a_clear_error():
    """An unknown option is a CommandError (argparse's message), not a traceback."""
    with pytest.raises(CommandError):
        run("close_resolved_tickets", "--days", "3")


@pytest.mark.django_db(transaction=True)
def test_two_auto_close_runs_at_once_close_each_ticket_once():
    """Two workers run the hourly job at the same moment (two connections): every due ticket is closed
    once, with one "closed" timeline entry and one audit event, and nothing fails."""
    ensure_roles()
    team = TeamFactory()
    agent, customer = make_agent(team), make_customer()
    tickets = [make_resolved_ticket(team, agent, customer, ago=timedelta(days=30)) for _ in range(12)]
    totals: list[int] = []
    assert at_the_same_moment(lambda: totals.append(ticket_services.tickets_close_resolved())) == []
    assert sum(totals) == len(tickets)
    for ticket in tickets:
        assert Ticket.objects.get(pk=ticket.pk).status == Status.CLOSED
        assert TicketActivity.objects.filter(ticket=ticket, action="status", new_value="closed").count() == 1
        assert (
            AuditEvent.objects.filter(
                action="ticket.status", object_id=str(ticket.pk), changes__status=["resolved", "closed"]
            ).count()
            == 1
        )
    assert verify_audit_chain().broken is None


# --- audit_prune / audit_verify ---------------------------------------------------------------------


def events_on(clock, day: str, count: int) -> None:
    clock.move_to(datetime.fromisoformat(day).replace(tzinfo=UTC), tick=False)
    for number in range(count):
        audit.record("update", actor=None, object_repr=f"{day} #{number}")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "before",
    ["", "yesterday", "2025-02-30", "2025-13-01", "2025-02-01T00:00+05:00", "2025-02-01 12:00",
     "99999-01-01", "-2025-01-01", "2025/02/01"],
)  # fmt: skip
def test_audit_prune_refuses_a_date_it_cannot_read_and_deletes_nothing(clock, before):
    """Whatever the operator types that is not a plain date is refused with a sentence, and nothing goes."""
    events_on(clock, "2025-01-10", 2)
    clock.move_to(datetime(2025, 4, 1, tzinfo=UTC), tick=False)
    with pytest.raises(CommandError, match="--before"):
        run("audit_prune", "--before", before)
    assert AuditEvent.objects.count() == 2


@pytest.mark.django_db
def test_audit_prune_on_an_empty_trail_and_before_the_first_event_changes_nothing(clock):
    """Nothing to prune: a sentence saying so, no checkpoint, twice."""
    assert "No audit events before 2025-01-01" in run("audit_prune", "--before", "2025-01-01")
    events_on(clock, "2025-01-10", 2)
    clock.move_to(datetime(2025, 4, 1, tzinfo=UTC), tick=False)
    assert "No audit events before 2025-01-01" in run("audit_prune", "--before", "2025-01-01")
    assert "No audit events before 0001-01-01" in run("audit_prune", "--before", "0001-01-01")
    assert AuditEvent.objects.count() == 2
    with pytest.raises(CommandError, match="future"):
        run("audit_prune", "--before", "9999-12-31")


@pytest.mark.django_db
def test_prune_everything_then_verify_append_verify_and_prune_again(clock):
    """Pruning every event leaves the checkpoint alone; the chain verifies, grows and verifies again,
    and a second prune (of the checkpoint and what followed) still leaves a verifiable chain."""
    events_on(clock, "2025-01-10", 3)
    clock.move_to(datetime(2025, 4, 1, 12, tzinfo=UTC), tick=False)
    assert "Deleted 3 audit events, #1 to #3; checkpoint #4 recorded." in run(
        "audit_prune", "--before", "2025-04-01"
    )
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["checkpoint"]
    assert "Audit chain intact: 1 event verified." in run("audit_verify")
    assert "No audit events before 2025-04-01" in run("audit_prune", "--before", "2025-04-01")
    audit.record("update", actor=None, object_repr="after the prune")
    out = run("audit_verify")
    assert "Audit chain intact: 2 events verified." in out
    head = out.strip().splitlines()[-1].removeprefix("Head: ")
    clock.move_to(datetime(2025, 5, 1, tzinfo=UTC), tick=False)
    assert "Deleted 2 audit events, #4 to #5; checkpoint #6 recorded." in run(
        "audit_prune", "--before", "2025-05-01"
    )
    audit.record("update", actor=None, object_repr="later still")
    assert "Audit chain intact: 2 events verified." in run("audit_verify", "--expect-head", head)


@pytest.mark.django_db
def test_audit_verify_names_the_edited_event_and_fails(clock):
    """An intact chain prints its head; an event edited behind the application's back makes audit_verify
    fail (CommandError, so exit 1) naming that event."""
    events_on(clock, "2025-01-10", 4)
    out = run("audit_verify")
    assert "Audit chain intact: 4 events verified." in out and "Head: 4:" in out
    AuditEvent.objects.filter(sequence=3).update(object_repr="rewritten")
    with pytest.raises(CommandError, match=r"broken at event #3 .*after 2 good event"):
        run("audit_verify")


@pytest.mark.django_db
def test_audit_verify_with_an_empty_expected_head_fails_instead_of_skipping_the_check(clock):
    """A cron job runs `audit_verify --expect-head "$LAST_HEAD"`; when the saved head is missing the
    argument arrives empty. That must be refused like any other malformed head, not silently accepted
    as "no head to check": else the truncation check it was given is skipped with exit 0."""
    events_on(clock, "2025-01-10", 2)
    with pytest.raises(CommandError, match="--expect-head must be SEQUENCE:HASH"):
        run("audit_verify", "--expect-head", "")


@pytest.mark.django_db
def test_audit_verify_on_an_empty_trail_passes_and_says_so():
    assert "Audit chain intact: 0 events verified." in run("audit_verify")


@pytest.mark.django_db
@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_audit_prune_reads_the_date_in_the_sites_time_zone_even_at_the_edges(settings, clock, zone):
    """In a site time zone far from UTC the cut-off is midnight there: the earliest representable day is
    no crash, and the boundary falls at local midnight."""
    settings.TIME_ZONE = zone
    events_on(clock, "2025-01-10", 2)
    clock.move_to(datetime(2025, 4, 1, 12, tzinfo=UTC), tick=False)
    assert "No audit events before 0001-01-01" in run("audit_prune", "--before", "0001-01-01")
    assert "Deleted 2 audit events" in run("audit_prune", "--before", "2025-01-11")
    assert verify_audit_chain().broken is None


@pytest.mark.django_db(transaction=True)
def test_audit_prune_while_another_connection_appends_keeps_the_chain_verifiable(clock):
    """An event recorded by a request while the operator prunes: the prune waits for it and the chain
    (checkpoint after the new event) verifies."""
    from tests.concurrency import run_while_another_transaction_waits

    events_on(clock, "2025-01-10", 3)
    clock.move_to(datetime(2025, 4, 1, 12, tzinfo=UTC), tick=False)
    run_while_another_transaction_waits(
        lambda: audit.record("update", actor=None, object_repr="during the prune"),
        lambda: run("audit_prune", "--before", "2025-04-01"),
    )
    assert list(AuditEvent.objects.order_by("sequence").values_list("action", flat=True)) == [
        "update",
        "checkpoint",
    ]
    report = verify_audit_chain()
    assert report.broken is None and not report.problem


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["3", "abc:def", "0:" + "a" * 64, "3:" + "g" * 64, "3:" + "a" * 63])
def test_audit_verify_refuses_a_malformed_expected_head(value):
    with pytest.raises(CommandError, match="--expect-head must be SEQUENCE:HASH"):
        run("audit_verify", "--expect-head", value)


# --- systemlog_prune ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("days", ["abc", "1.5", "-1", "36501", "99999999999999999999"])
def test_systemlog_prune_refuses_bad_days_and_deletes_nothing(days):
    SystemLogEntry.objects.create(level=40, logger="x", message="kept")
    with pytest.raises(CommandError):
        run("systemlog_prune", "--days", days)
    assert SystemLogEntry.objects.filter(message="kept").exists()


@pytest.mark.django_db
def test_systemlog_prune_zero_days_empties_the_log_and_twice_is_harmless():
    SystemLogEntry.objects.create(level=40, logger="x", message="old")
    SystemLogEntry.objects.filter(message="old").update(created_at=timezone.now() - timedelta(seconds=5))
    assert "Deleted 1 system log entry." in run("systemlog_prune", "--days", "0")
    assert "Deleted 0 system log entries." in run("systemlog_prune", "--days", "0")


# --- site_config ---------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args",
    [
        ("frobnicate",),
        ("set",),
        ("set", "site_name"),
        ("set", "custom.", "1"),
        ("set", "updated_by", "1"),
        ("set", "default_team", "no-such-team"),
        ("set", "site_name", "x" * 101),
        ("set", "maintenance_message", "y" * 501),
        ("set", "custom_settings", "[1, 2]"),
        ("set", "custom_settings", '{"a": 1e999}'),
        ("set", "custom.limit", "1e999"),
        ("set", "custom.nul", '"a\\u0000b"'),
    ],
)
def test_site_config_refuses_bad_arguments_with_a_clear_error(args):
    """Each mistake is a CommandError naming the problem; the configuration is unchanged."""
    before = SiteConfiguration.objects.get_current()
    with pytest.raises(CommandError):
        run("site_config", *args)
    after = SiteConfiguration.objects.get_current()
    assert (after.site_name, after.custom_settings, after.default_team_id) == (
        before.site_name,
        before.custom_settings,
        before.default_team_id,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["custom.tree", "custom_settings"])
@pytest.mark.parametrize("depth", [600, 5000])
def test_site_config_refuses_deeply_nested_json_with_a_sentence_not_a_traceback(key, depth):
    """A JSON value nested very deep (a pasted mistake, or a script gone wrong) is either stored as given
    or refused with a sentence (CommandError, configuration unchanged), never a RecursionError traceback."""
    import json

    value = "[" * depth + "]" * depth
    if key == "custom_settings":
        value = '{"tree": ' + value + "}"
    try:
        run("site_config", "set", key, value)
    except CommandError:
        assert SiteConfiguration.objects.get_current().custom_settings == {}
    else:
        stored = SiteConfiguration.objects.get_current().custom_settings["tree"]
        assert json.dumps(stored) == "[" * depth + "]" * depth


@pytest.mark.django_db
def test_site_config_set_writes_one_audit_event_by_system_and_none_when_unchanged():
    """From the command line the change is by System; setting the same value again records nothing."""
    run("site_config", "set", "maintenance_mode", "on")
    events = AuditEvent.objects.filter(action="settings_change")
    assert events.count() == 1 and events.get().actor_repr == "System"
    assert "maintenance_mode = True" in run("site_config", "set", "maintenance_mode", "YES")
    assert events.count() == 1


# --- the scheduler -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_ticking_at_once_enqueue_each_task_once():
    """Two `manage.py scheduler` processes tick at the same moment: each periodic task is enqueued once."""
    results: list[list[str]] = []
    assert at_the_same_moment(lambda: results.append(scheduler.tick())) == []
    assert sorted(path for result in results for path in result) == sorted(scheduler.SCHEDULE)
    assert DBTaskResult.objects.count() == len(scheduler.SCHEDULE)
    assert PeriodicTaskRun.objects.count() == len(scheduler.SCHEDULE)


@pytest.mark.django_db
@pytest.mark.parametrize("interval", ["abc", "0", "-5", "nan", "inf", "0.5"])
def test_the_scheduler_refuses_a_bad_interval_with_a_clear_error(interval):
    with pytest.raises(CommandError):
        run("scheduler", "--once", "--interval", interval)
    assert not DBTaskResult.objects.exists()


# --- suspension auto-lift ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_suspension_lifts_at_its_end_instant_by_system(clock):
    """At the very instant a suspension ends the account acts as active and the every-minute job stores
    it, recorded as System; a second earlier it is still suspended."""
    customer = make_customer()
    end = timezone.now() + timedelta(hours=1)
    account_services.user_suspend(customer, until=end, reason="cooling off", actor=make_administrator())
    assert account_services.suspensions_lift_expired(now=end - timedelta(seconds=1)) == 0
    assert (
        User.objects.get(pk=customer.pk).effective_status(end - timedelta(seconds=1)) == User.Status.SUSPENDED
    )
    assert User.objects.get(pk=customer.pk).effective_status(end) == User.Status.ACTIVE
    assert account_services.suspensions_lift_expired(now=end) == 1
    stored = User.objects.get(pk=customer.pk)
    assert (stored.status, stored.suspended_until, stored.suspension_reason) == (User.Status.ACTIVE, None, "")
    assert (
        AuditEvent.objects.filter(action="activate", object_id=str(customer.pk)).get().actor_repr == "System"
    )


# --- from the shell: exit codes, no tracebacks --------------------------------------------------------


@pytest.mark.django_db(transaction=True, databases=["default", "system_log"])
@pytest.mark.parametrize(
    "args",
    [
        ("audit_prune",),
        ("audit_prune", "--before", "not-a-date"),
        ("audit_verify", "--expect-head", "nonsense"),
        ("systemlog_prune", "--days", "-3"),
        ("site_config", "set", "no_such_key", "1"),
        ("site_config", "set", "maintenance_mode", "perhaps"),
        ("scheduler", "--once", "--interval", "0"),
        ("demo_dates", "--fixture", "/nonexistent/demo.json"),
        ("close_resolved_tickets", "--bogus"),
        ("site_config", "set", "custom.tree", "[" * 5000 + "]" * 5000),
    ],
)
def test_wrong_arguments_exit_non_zero_with_a_message_and_no_traceback(capsys, args):
    """From the shell: a non-zero exit and a message on stderr (an exception other than CommandError
    would escape manage.py's entry point here, as a traceback would in the shell)."""
    ensure_roles()
    status, _, stderr = manage(capsys, *args)
    assert status != 0
    assert stderr.strip(), "no message"
    assert "Traceback" not in stderr, stderr[-3000:]
