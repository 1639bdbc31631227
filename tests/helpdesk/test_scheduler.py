"""The scheduler enqueues each periodic task once per period, and db_worker runs what it enqueued."""

import logging
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.tasks import task
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts import services as account_services
from accounts.models import User
from audit.models import SystemLogEntry
from helpdesk import scheduler
from helpdesk.models import PeriodicTaskRun
from tests.factories import TeamFactory, make_agent, make_customer, make_ticket
from tickets import services as ticket_services
from tickets.models import Ticket
from tickets.workflow import Status

pytestmark = pytest.mark.django_db


def enqueued() -> list[str]:
    return sorted(DBTaskResult.objects.values_list("task_path", flat=True))


def test_a_first_tick_enqueues_every_periodic_task_and_a_second_one_nothing():
    now = timezone.now()
    assert sorted(scheduler.tick(now)) == sorted(scheduler.SCHEDULE)
    assert enqueued() == sorted(scheduler.SCHEDULE)
    assert scheduler.tick(now + timedelta(seconds=30)) == []
    assert len(enqueued()) == len(scheduler.SCHEDULE)


def test_each_task_comes_again_when_its_period_has_passed():
    now = timezone.now()
    scheduler.tick(now)
    assert scheduler.tick(now + timedelta(minutes=1)) == ["accounts.tasks.lift_expired_suspensions"]
    assert sorted(scheduler.tick(now + timedelta(hours=1, minutes=1))) == [
        "accounts.tasks.lift_expired_suspensions",
        "tickets.tasks.close_resolved_tickets",
        "tickets.tasks.remove_held_files",
    ]
    assert len(scheduler.tick(now + timedelta(days=1, minutes=2))) == len(scheduler.SCHEDULE)


# The worker and the scheduler's loop close stale connections between rounds, which ends a test's
# wrapping transaction: these two run with real commits.
@pytest.mark.django_db(transaction=True, databases=["default", "system_log"])
def test_the_worker_runs_what_the_scheduler_enqueued(clock, settings):
    settings.TICKET_AUTO_CLOSE_DAYS = 1
    team = TeamFactory()
    agent = make_agent(team)
    ticket = make_ticket(make_customer(), team=team)
    ticket_services.ticket_transition(ticket, status=Status.RESOLVED, actor=agent)
    suspended = make_customer()
    account_services.user_suspend(suspended, until=timezone.now() + timedelta(hours=1), reason="", actor=None)
    SystemLogEntry.objects.create(level=SystemLogEntry.Level.WARNING, logger="test", message="old")
    clock.shift(timedelta(days=settings.SYSTEM_LOG_RETENTION_DAYS + 1))

    scheduler.tick()
    call_command("db_worker", batch=True, startup_delay=False, reload=False, verbosity=0)

    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}
    assert Ticket.objects.get(pk=ticket.pk).status == Status.CLOSED
    assert User.objects.get(pk=suspended.pk).status == User.Status.ACTIVE
    assert not SystemLogEntry.objects.filter(message="old").exists()


@pytest.mark.django_db(transaction=True)
def test_the_scheduler_command_ticks_once(capsys):
    call_command("scheduler", "--once")
    assert capsys.readouterr().out.count("Enqueued") == len(scheduler.SCHEDULE)
    call_command("scheduler", "--once")
    assert "Enqueued" not in capsys.readouterr().out


def test_the_admin_shows_when_each_periodic_task_last_ran(admin_client):
    scheduler.tick()
    response = admin_client.get(reverse("admin:helpdesk_periodictaskrun_changelist"))
    assert response.status_code == 200
    page = response.content.decode()
    for path in scheduler.SCHEDULE:
        assert path in page
    run = PeriodicTaskRun.objects.first()
    assert (
        admin_client.post(reverse("admin:helpdesk_periodictaskrun_delete", args=[run.pk])).status_code == 403
    )


def test_a_tick_from_a_clock_that_ran_ahead_does_not_stall_the_jobs():
    """A host whose clock was two days ahead (set right since) does not silence the periodic jobs until
    real time catches up; without a time given, a tick reads the database's clock, one for every host."""
    now = timezone.now()
    scheduler.tick(now + timedelta(days=2))
    assert "accounts.tasks.lift_expired_suspensions" in scheduler.tick(now + timedelta(minutes=5))
    PeriodicTaskRun.objects.update(last_enqueued_at=now + timedelta(days=2))
    assert "accounts.tasks.lift_expired_suspensions" in scheduler.tick()


@task
def fails_to_mail() -> None:
    raise RuntimeError("the mail server said no")


@pytest.fixture
def worker_log_levels():
    """db_worker sets its loggers' levels from --verbosity for the whole process: put back after."""
    loggers = [logging.getLogger(name) for name in ("django.tasks", "django_tasks", "django_tasks_db")]
    levels = [logger.level for logger in loggers]
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


@pytest.mark.usefixtures("worker_log_levels")
@pytest.mark.django_db(transaction=True, databases=["default", "system_log"])
def test_a_task_that_fails_under_make_run_reaches_the_system_log(settings):
    """The worker with the arguments `make run` gives it: a failed task (a receipt mail, the auto-close)
    is in the system log. Before the fix `make run` passed --verbosity 0, which db_worker turns into
    silencing its loggers for the whole process: the failure was nowhere but the task-results admin."""
    recipe = (settings.BASE_DIR / "Makefile").read_text()
    arguments = re.search(r"\$\(MANAGE\) db_worker([^&;\n]*)&", recipe).group(1).split()
    verbosity = int(arguments[arguments.index("--verbosity") + 1]) if "--verbosity" in arguments else 1
    fails_to_mail.enqueue()
    call_command("db_worker", batch=True, startup_delay=False, reload=False, verbosity=verbosity)
    assert list(DBTaskResult.objects.values_list("status", flat=True)) == ["FAILED"]
    assert SystemLogEntry.objects.filter(message__contains="fails_to_mail").exists()
