"""The scheduled and background work and the management commands: the auto-close of resolved
tickets, the lifting of suspensions that ended, the system log's handler and its pruning, audit_prune,
and the operator commands run twice or given bad arguments."""

import json
import logging
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connections, transaction
from django.utils import timezone

from accounts import services as account_services
from accounts.models import User
from accounts.tasks import lift_expired_suspensions
from audit.logging import MESSAGE_MAX, DatabaseHandler
from audit.models import AuditEvent, SystemLogEntry
from audit.recorder import verify_audit_chain
from tests.concurrency import run_while_another_transaction_waits
from tests.conftest import manage
from tests.factories import TeamFactory, make_agent, make_customer, make_ticket
from tickets import services
from tickets.models import Ticket, TicketActivity
from tickets.workflow import Status

log = logging.getLogger("helpdesk.review.tasks")

DB = pytest.mark.django_db
# The system log writes through a connection of its own: only a transactional test sees its rows.
SYSTEM_LOG_DB = pytest.mark.django_db(transaction=True, databases=["default", "system_log"])
# A command as an operator types it runs the system checks, which read every database's version.
CMD_DB = pytest.mark.django_db(databases=["default", "system_log"])


# --- helpers ------------------------------------------------------------------------------------------


def _desk():
    team = TeamFactory(name="Support")
    agent = make_agent(team, name="Alex Agent")
    customer = make_customer(name="Carla Customer")
    return team, agent, customer


def _resolved(team, agent, customer):
    ticket = make_ticket(customer, team=team)
    return services.ticket_transition(ticket, status=Status.RESOLVED, actor=agent)


def _fresh(ticket):
    return Ticket.objects.get(pk=ticket.pk)


# --- auto-close: when -----------------------------------------------------------------------------------


@DB
def test_auto_close_boundary_one_second_either_side(settings):
    """Closed N days after it was resolved: a second before that it stays resolved, a second after it
    is closed."""
    settings.TICKET_AUTO_CLOSE_DAYS = 7
    team, agent, customer = _desk()
    ticket = _resolved(team, agent, customer)
    resolved_at = _fresh(ticket).resolved_at
    due = resolved_at + timedelta(days=7)
    assert services.tickets_close_resolved(now=due - timedelta(seconds=1)) == 0
    assert _fresh(ticket).status == Status.RESOLVED
    assert services.tickets_close_resolved(now=due + timedelta(seconds=1)) == 1
    stored = _fresh(ticket)
    assert stored.status == Status.CLOSED and stored.closed_at is not None


@DB
def test_a_ticket_reopened_by_the_customer_is_not_closed_by_its_old_resolve_time(settings):
    settings.TICKET_AUTO_CLOSE_DAYS = 7
    team, agent, customer = _desk()
    ticket = _resolved(team, agent, customer)
    Ticket.objects.filter(pk=ticket.pk).update(resolved_at=timezone.now() - timedelta(days=30))
    services.ticket_reply(_fresh(ticket), body="Still broken", actor=customer)
    assert _fresh(ticket).status == Status.OPEN
    assert services.tickets_close_resolved() == 0
    assert _fresh(ticket).status == Status.OPEN
    # Resolved again, its clock starts again.
    services.ticket_transition(_fresh(ticket), status=Status.RESOLVED, actor=agent)
    assert services.tickets_close_resolved() == 0
    assert services.tickets_close_resolved(now=timezone.now() + timedelta(days=7, seconds=1)) == 1


@DB
def test_closure_counts_from_the_resolve_time_not_a_later_edit(settings):
    """An agent changing the priority of a solved ticket moves updated_at; the auto-close still counts
    from the resolve time (as Zendesk's "hours since solved")."""
    settings.TICKET_AUTO_CLOSE_DAYS = 7
    team, agent, customer = _desk()
    ticket = _resolved(team, agent, customer)
    Ticket.objects.filter(pk=ticket.pk).update(resolved_at=timezone.now() - timedelta(days=8))
    services.ticket_update_fields(_fresh(ticket), changes={"priority": "high"}, actor=agent)
    assert _fresh(ticket).priority == "high"
    assert _fresh(ticket).updated_at > timezone.now() - timedelta(minutes=1)
    assert services.tickets_close_resolved() == 1


@DB
def test_a_negative_day_count_is_refused_in_words_zero_closes_at_once(settings):
    team, agent, customer = _desk()
    ticket = _resolved(team, agent, customer)
    settings.TICKET_AUTO_CLOSE_DAYS = -1
    with pytest.raises(ValueError, match="cannot be negative"):
        services.tickets_close_resolved()
    assert _fresh(ticket).status == Status.RESOLVED
    settings.TICKET_AUTO_CLOSE_DAYS = 0
    assert services.tickets_close_resolved() == 1


@CMD_DB
def test_a_negative_day_count_makes_the_command_exit_with_one_sentence(settings, capsys):
    settings.TICKET_AUTO_CLOSE_DAYS = -3
    status, _, err = manage(capsys, "close_resolved_tickets", "--now")
    assert status != 0
    assert "TICKET_AUTO_CLOSE_DAYS is -3" in err and "Traceback" not in err


# --- auto-close: how ------------------------------------------------------------------------------------


@DB
def test_closure_goes_through_the_services_as_the_system_and_twice_is_once(settings):
    settings.TICKET_AUTO_CLOSE_DAYS = 7
    team, agent, customer = _desk()
    ticket = _resolved(team, agent, customer)
    Ticket.objects.filter(pk=ticket.pk).update(resolved_at=timezone.now() - timedelta(days=8))
    version = _fresh(ticket).version
    assert services.tickets_close_resolved() == 1
    assert services.tickets_close_resolved() == 0  # twice: nothing more
    stored = _fresh(ticket)
    assert stored.version == version + 1
    entry = TicketActivity.objects.get(ticket=ticket, action=TicketActivity.Action.STATUS, new_value="closed")
    assert entry.actor is None and entry.old_value == "resolved"
    event = AuditEvent.objects.get(
        action="ticket.status", object_id=str(ticket.pk), changes__status__1="closed"
    )
    assert event.actor is None and event.actor_repr == "System"
    assert TicketActivity.objects.filter(ticket=ticket, new_value="closed").count() == 1


@DB
def test_the_enqueued_task_closes_like_the_service(settings, immediate_tasks):
    from tickets.tasks import close_resolved_tickets

    settings.TICKET_AUTO_CLOSE_DAYS = 7
    team, agent, customer = _desk()
    ticket = _resolved(team, agent, customer)
    Ticket.objects.filter(pk=ticket.pk).update(resolved_at=timezone.now() - timedelta(days=8))
    result = close_resolved_tickets.enqueue()
    assert result.return_value == 1
    assert _fresh(ticket).status == Status.CLOSED


@pytest.mark.django_db(transaction=True)
def test_a_customer_answer_at_the_same_moment_is_never_closed_under_them(settings):
    settings.TICKET_AUTO_CLOSE_DAYS = 7
    team, agent, customer = _desk()
    ticket = _resolved(team, agent, customer)
    Ticket.objects.filter(pk=ticket.pk).update(resolved_at=timezone.now() - timedelta(days=8))
    closed = []
    run_while_another_transaction_waits(
        lambda: services.ticket_reply(_fresh(ticket), body="It is not fixed", actor=customer),
        lambda: closed.append(services.tickets_close_resolved()),
    )
    assert closed == [0]
    stored = _fresh(ticket)
    assert stored.status == Status.OPEN and stored.closed_at is None


# --- suspensions ----------------------------------------------------------------------------------------


@DB
def test_a_suspension_lifts_itself_at_its_end_with_an_audit_event(clock):
    admin = make_agent(TeamFactory(), name="Ad Min")
    user = make_customer(name="Susie")
    end = timezone.now() + timedelta(hours=2)
    account_services.user_suspend(user, until=end, reason="Spam", actor=admin)
    clock.move_to(end - timedelta(seconds=1), tick=False)
    assert account_services.suspensions_lift_expired() == 0
    assert User.objects.get(pk=user.pk).status == User.Status.SUSPENDED
    clock.move_to(end, tick=False)  # exactly at the end
    assert lift_expired_suspensions.call() == 1
    stored = User.objects.get(pk=user.pk)
    assert (stored.status, stored.suspended_until, stored.suspension_reason) == (User.Status.ACTIVE, None, "")
    event = AuditEvent.objects.filter(action="activate", object_id=str(user.pk)).get()
    assert event.actor is None and event.actor_repr == "System"
    assert account_services.suspensions_lift_expired() == 0  # twice: nothing more


# --- the system log handler -----------------------------------------------------------------------------


@SYSTEM_LOG_DB
def test_a_warning_naming_a_file_with_undecodable_bytes_is_kept_in_the_system_log():
    """A warning that quotes a file name (or a header, or any text decoded with surrogateescape) with a
    byte that is not UTF-8 carries a lone surrogate ("caf\\udce9.txt"), which psycopg cannot encode, as
    PostgreSQL refuses NUL: the record is stored with the character escaped, not lost to stderr, which
    on most deployments nobody reads."""
    # Handed to the handler itself: pytest's own capture of the record would carry the surrogate into
    # the report, which pytest-xdist cannot send between processes.
    record = log.makeRecord(
        log.name, logging.WARNING, __file__, 1, "Cannot read attachment %s", ("caf\udce9.txt",), None
    )
    DatabaseHandler().handle(record)
    entry = SystemLogEntry.objects.filter(logger=log.name).first()
    assert entry is not None, "the warning was not stored in the system log"
    assert entry.message.startswith("Cannot read attachment caf")


@SYSTEM_LOG_DB
def test_an_oserror_naming_an_undecodable_file_is_kept_with_its_traceback():
    """OSError shows the file name with repr(), so its traceback is plain text the table takes."""
    try:
        raise FileNotFoundError(2, "No such file or directory", "/srv/media/r\udce9sum\udce9.pdf")
    except FileNotFoundError:
        log.exception("Attachment missing on disk")
    entry = SystemLogEntry.objects.filter(logger=log.name).first()
    assert entry is not None, "the error was not stored in the system log"
    assert "FileNotFoundError" in entry.traceback


@SYSTEM_LOG_DB
def test_nul_bytes_huge_messages_and_tracebacks_are_stored():
    log.warning("before\x00after")
    log.warning("y" * 1_000_000)
    try:
        raise ValueError("bad\x00value " + "z" * 200_000)
    except ValueError:
        log.exception("With a traceback")
    entries = list(SystemLogEntry.objects.filter(logger=log.name).order_by("pk"))
    assert [len(e.message) <= MESSAGE_MAX for e in entries] == [True, True, True]
    assert entries[0].message == "before\\x00after"
    assert len(entries[1].message) == MESSAGE_MAX and entries[1].message.endswith("…")
    assert "ValueError: bad\\x00value" in entries[2].traceback


@SYSTEM_LOG_DB
def test_a_warning_in_a_transaction_that_rolls_back_is_kept():
    with pytest.raises(RuntimeError), transaction.atomic():
        make_customer()
        log.error("Payment gateway timed out")
        raise RuntimeError("roll back")
    assert SystemLogEntry.objects.filter(message="Payment gateway timed out").exists()


@SYSTEM_LOG_DB
def test_logging_while_the_database_is_down_never_raises(capsys):
    alias = "review_down"
    connections.settings[alias] = {**connections.settings["default"], "HOST": "127.0.0.1", "PORT": "1"}
    handler = DatabaseHandler(database=alias)
    logger = logging.getLogger("helpdesk.review.down")
    logger.addHandler(handler)
    try:
        logger.error("The database is away")  # must not raise
    finally:
        logger.removeHandler(handler)
        connections[alias].close()
        del connections[alias]
        del connections.settings[alias]
    assert "not stored in the system log" in capsys.readouterr().err


@SYSTEM_LOG_DB
def test_the_cap_drops_the_oldest_and_pruning_goes_by_age(settings, capsys):
    settings.SYSTEM_LOG_MAX_ROWS = 3
    for n in range(5):
        log.warning("entry %s", n)
    assert list(SystemLogEntry.objects.order_by("pk").values_list("message", flat=True)) == [
        "entry 2",
        "entry 3",
        "entry 4",
    ]
    settings.SYSTEM_LOG_MAX_ROWS = 100
    SystemLogEntry.objects.filter(message="entry 2").update(created_at=timezone.now() - timedelta(days=31))
    status, out, _ = manage(capsys, "systemlog_prune", "--days", "30")
    assert status == 0 and out.strip() == "Deleted 1 system log entry."
    status, out, _ = manage(capsys, "systemlog_prune", "--days", "30")
    assert status == 0 and out.strip() == "Deleted 0 system log entries."


# --- audit_prune ----------------------------------------------------------------------------------------


@DB
def test_audit_prune_twice_with_the_same_date_keeps_the_chain_verifiable(clock):
    make_customer()  # a few events
    make_customer()
    clock.shift(timedelta(days=3))
    day = timezone.localdate().isoformat()
    assert run("audit_prune", "--before", day).startswith("Deleted")
    assert verify_audit_chain().broken is None
    assert run("audit_prune", "--before", day).strip() == f"No audit events before {day}."
    make_customer()
    clock.shift(timedelta(days=3))
    assert run("audit_prune", "--before", timezone.localdate().isoformat()).startswith("Deleted")
    assert "Audit chain intact" in run("audit_verify")
    assert AuditEvent.objects.filter(action="checkpoint").count() == 1  # the first one pruned too


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


# --- commands given bad arguments -----------------------------------------------------------------------


@CMD_DB
@pytest.mark.parametrize(
    "args",
    [
        ("audit_prune", "--before", "2025-02-30"),
        ("audit_prune", "--before", ""),
        ("audit_prune", "--before", "2999-01-01"),
        ("audit_prune",),
        ("systemlog_prune", "--days", "-1"),
        ("systemlog_prune", "--days", "soon"),
        ("scheduler", "--once", "--interval", "0"),
        ("scheduler", "--interval", "nan"),
        ("audit_verify", "--expect-head", "12"),
        ("site_config", "set", "no_such_setting", "1"),
        ("site_config", "set", "maintenance_mode", "perhaps"),
        ("site_config", "set"),
        ("demo_dates", "--fixture", "/no/such/file.json"),
    ],
)
def test_bad_arguments_exit_non_zero_in_one_sentence(capsys, args):
    status, _, err = manage(capsys, *args)
    assert status != 0
    assert "Traceback" not in err and err.strip()
    # One sentence (after argparse's usage lines, for what argparse refuses).
    assert "error" in err.strip().splitlines()[-1].lower()


@CMD_DB
@pytest.mark.parametrize(
    "fields",
    [
        {"model": "tickets.ticket", "pk": 1, "fields": {"number": "nine-oh-one"}},
        {"model": "tickets.ticketmessage", "pk": 1, "fields": {"uid": "not-a-uuid"}},
    ],
    ids=["ticket-number-not-a-number", "message-uid-not-a-uuid"],
)
def test_demo_dates_with_a_malformed_fixture_says_so_in_one_sentence(capsys, tmp_path, fields):
    """demo_dates --fixture PATH names the rows to move by the fixture's keys. A file that is JSON rows
    but whose keys are not of the right type (a ticket number that is not a number, a message uid that
    is not a UUID) is a bad argument like any other file that is not a demo fixture, which the command
    answers with "PATH is not a JSON fixture …" (demo_keys). Here the value goes on into the query and
    the command dies with a Python traceback (ValueError / ValidationError) instead of one sentence
    (helpdesk/management/commands/demo_dates.py, the filters after demo_keys)."""
    path = tmp_path / "demo.json"
    path.write_text(json.dumps([fields]), encoding="utf-8")
    try:
        status, _, err = manage(capsys, "demo_dates", "--fixture", str(path))
    except Exception as error:  # what manage.py prints as a traceback
        pytest.fail(f"demo_dates died with a traceback: {error!r}")
    assert status != 0
    assert "Traceback" not in err
    assert str(path) in err
