"""The system log: WARNING and worse stored on a connection of their own, bounded, never raising."""

import contextlib
import logging
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.db.models.signals import pre_save
from django.utils import timezone

from audit.context import RequestContext, current
from audit.logging import MESSAGE_MAX, DatabaseHandler
from audit.models import SystemLogEntry
from tests.concurrency import away_from_an_event_loop

# The handler commits on a connection of its own, which a test transaction cannot roll back.
pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "system_log"])

log = logging.getLogger("helpdesk.tests.system_log")


def test_the_root_logger_stores_warnings_with_where_they_came_from():
    assert any(isinstance(handler, DatabaseHandler) for handler in logging.getLogger().handlers)
    token = current.set(RequestContext(request_id="req-42"))
    try:
        log.warning("Disk %s is almost full", "/var")
    finally:
        current.reset(token)
    entry = SystemLogEntry.objects.get()
    assert (entry.level, entry.logger, entry.message) == (30, log.name, "Disk /var is almost full")
    assert (entry.module, entry.function, entry.request_id) == (
        "test_system_log",
        "test_the_root_logger_stores_warnings_with_where_they_came_from",
        "req-42",
    )
    assert entry.line and entry.traceback == ""


def test_info_and_the_sql_log_are_not_stored():
    log.info("Just so you know")
    logging.getLogger("django.db.backends").error("(0.001) SELECT 1")
    logging.getLogger("django.request").warning("Not Found: /wp-login.php")
    assert SystemLogEntry.objects.count() == 0
    logging.getLogger("django.request").error("Internal Server Error: /desk/")
    assert SystemLogEntry.objects.get().level == 40


def test_a_task_worker_stopped_on_purpose_is_not_stored_one_killing_its_task_is(caplog):
    """Ctrl-C or a deploy's SIGTERM stops `db_worker` gracefully, which it logs as a warning: not an entry
    at every restart. A second signal, which ends the task it was running, is one."""
    import signal

    from django_tasks_db.management.commands.db_worker import Worker

    # As `db_worker` sets it at its default verbosity; a test that ran it quietly left it at CRITICAL.
    caplog.set_level(logging.INFO, logger="django_tasks_db")

    worker = Worker(
        queue_names=["default"], interval=1, batch=False, backend_name="default", startup_delay=False,
        max_tasks=None, worker_id="test", excluded_queue_names=[],
    )  # fmt: skip
    with pytest.raises(SystemExit):
        worker.shutdown(signal.SIGTERM, None)
    assert SystemLogEntry.objects.count() == 0
    worker.running, worker.running_task = False, True
    handlers = {
        number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)
    }
    try:
        with pytest.raises(SystemExit):
            worker.shutdown(signal.SIGTERM, None)
    finally:  # it resets the process's signal handlers, pytest's among them
        for number, handler in handlers.items():
            signal.signal(number, handler)
    assert "terminating current task" in SystemLogEntry.objects.get().message


def test_errors_keep_their_traceback_and_long_messages_are_cut():
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("x" * (MESSAGE_MAX + 500))
    entry = SystemLogEntry.objects.get()
    assert entry.level == 40 and len(entry.message) == MESSAGE_MAX
    assert "ValueError: boom" in entry.traceback


def test_a_warning_inside_a_transaction_that_rolls_back_is_kept():
    with pytest.raises(RuntimeError), transaction.atomic():
        log.warning("Payment provider slow")
        raise RuntimeError("roll back")
    assert SystemLogEntry.objects.filter(message="Payment provider slow").exists()


def test_a_warning_inside_a_broken_transaction_is_kept_and_the_transaction_is_untouched():
    with transaction.atomic():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1/0")
        except DatabaseError:
            log.error("Division failed")
        transaction.set_rollback(True)
    assert SystemLogEntry.objects.filter(message="Division failed").exists()


def test_a_failure_to_store_never_raises_and_goes_to_stderr(capsys):
    handler = DatabaseHandler(database="no-such-database")
    logger = logging.getLogger("helpdesk.tests.unstorable")

    def log_where_nothing_can_be_stored() -> None:
        logger.addHandler(handler)
        try:
            logger.warning("Cannot be stored")
            with transaction.atomic():
                with connection.cursor() as cursor, contextlib.suppress(DatabaseError):
                    cursor.execute("SELECT 1/0")
                DatabaseHandler(database="default").handle(
                    logger.makeRecord(logger.name, 30, "f", 1, "in a broken transaction", (), None)
                )
                transaction.set_rollback(True)
        finally:
            logger.removeHandler(handler)

    # Where an event loop runs, the handler stores from a thread of its own, outside this transaction.
    away_from_an_event_loop(log_where_nothing_can_be_stored)
    err = capsys.readouterr().err
    assert "Cannot be stored [not stored in the system log" in err
    assert "in a broken transaction [not stored in the system log" in err


def test_a_message_object_whose_text_raises_never_raises_from_the_handler(capsys):
    """Whoever logs an object as the message owns its __str__; the handler, even checking which logger
    it came from, never lets its error reach the code that logged, and keeps the record."""

    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no text")

        __repr__ = __str__

    handler = DatabaseHandler()
    for name in ("django_tasks_db.worker", "helpdesk.tests.unprintable"):
        record = logging.getLogger(name).makeRecord(name, logging.WARNING, "f", 1, Unprintable(), (), None)
        away_from_an_event_loop(lambda record=record: handler.handle(record))
    assert capsys.readouterr().err == ""
    assert sorted(SystemLogEntry.objects.values_list("logger", "message")) == [
        (name, "(a Unprintable whose text failed: RuntimeError: no text)")
        for name in ("django_tasks_db.worker", "helpdesk.tests.unprintable")
    ]


def test_logging_while_storing_a_log_row_does_not_store_again():
    def noisy(sender, **kwargs):
        logging.getLogger("helpdesk.tests.noisy").warning("logged while saving")

    pre_save.connect(noisy, sender=SystemLogEntry)
    try:
        log.warning("The one row")
    finally:
        pre_save.disconnect(noisy, sender=SystemLogEntry)
    assert list(SystemLogEntry.objects.values_list("message", flat=True)) == ["The one row"]


def test_the_table_keeps_at_most_the_configured_number_of_rows(settings):
    settings.SYSTEM_LOG_MAX_ROWS = 3
    for number in range(5):
        log.warning("warning %d", number)
    assert list(SystemLogEntry.objects.values_list("message", flat=True)) == [
        "warning 4", "warning 3", "warning 2",
    ]  # fmt: skip


def test_systemlog_prune_deletes_entries_older_than_the_days_given(settings, capsys):
    settings.SYSTEM_LOG_RETENTION_DAYS = 30
    for age in (1, 10, 40):
        SystemLogEntry.objects.create(level=30, logger="x", message=f"{age} days old",
                                      created_at=timezone.now() - timedelta(days=age))  # fmt: skip
    call_command("systemlog_prune")
    assert SystemLogEntry.objects.count() == 2
    call_command("systemlog_prune", "--days", "7")
    assert list(SystemLogEntry.objects.values_list("message", flat=True)) == ["1 days old"]
    assert "Deleted 1 system log entry." in capsys.readouterr().out


def test_maintenance_pages_answered_to_visitors_are_not_stored(client):
    """Every visitor's request during maintenance is a 503 that Django logs as an error: stored, anyone
    could fill the bounded table and push real errors out of it."""
    from helpdesk.services import site_configuration_update

    site_configuration_update(changes={"maintenance_mode": True}, actor=None)
    for _ in range(3):
        assert client.get("/kb/").status_code == 503
    assert not SystemLogEntry.objects.filter(logger="django.request").exists()


def test_a_5xx_page_logged_after_the_request_context_ended_keeps_its_request_id():
    """Django logs a 5xx page a view returned once the middleware is done, the audit context gone: the
    id comes from the request (AuditContextMiddleware keeps it there), as the response header has it."""
    from django.test import RequestFactory

    request = RequestFactory().get("/somewhere/")
    request.request_id = "req-after-the-middleware"
    logging.getLogger("django.request").error(
        "Internal Server Error: /somewhere/", extra={"status_code": 500, "request": request}
    )
    assert SystemLogEntry.objects.get(logger="django.request").request_id == "req-after-the-middleware"
