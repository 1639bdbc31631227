"""audit.logging.DatabaseHandler: keeps WARNING-and-worse log records as SystemLogEntry rows.

It writes through its own database connection (settings.SYSTEM_LOG_DATABASE), so a record logged
inside a transaction that is later rolled back, or is already broken, is still kept; it never raises
(a record it cannot store goes to stderr) and never stores what is logged while it is storing.
"""

import asyncio
import contextlib
import contextvars
import logging
import sys
import threading
import traceback

MESSAGE_MAX = 10_000
STORE_TIMEOUT_SECONDS = 5
TRACEBACK_MAX = 50_000
# The SQL log would log our own inserts. Anything a visitor can trigger at will would push real errors
# out of the bounded table (log flooding): 4xx warnings from django.request, django.security's
# reports (bad Host headers, CSRF failures), lockouts and rate limits (both audited or counted
# elsewhere), and the 503 pages the site answers on purpose (maintenance mode, /readyz while the
# database is away), which Django logs as errors.
EXCLUDED_LOGGERS = ("django.db.backends", "django.security", "axes", "helpdesk.ratelimit")
ANSWERED_ON_PURPOSE = frozenset({503})
# A task worker told to stop (Ctrl-C, or SIGTERM at every deploy) says so as a warning: an entry at each
# restart. A second signal, which kills the task it runs, still is one.
STOPPED_ON_PURPOSE = ("django_tasks_db", "Received %s - shutting down gracefully")
_state = threading.local()


def row_cap() -> int:
    """How many rows the system log keeps: SYSTEM_LOG_MAX_ROWS, never fewer than one (zero or less would
    delete each record as it is stored; a system check reports the setting)."""
    from django.conf import settings

    return max(settings.SYSTEM_LOG_MAX_ROWS, 1)


def _excluded(record: logging.LogRecord) -> bool:
    if any(record.name == name or record.name.startswith(name + ".") for name in EXCLUDED_LOGGERS):
        return True
    logger, message = STOPPED_ON_PURPOSE
    if record.name.startswith(logger) and isinstance(record.msg, str) and record.msg.startswith(message):
        return True
    if record.name != "django.request":
        return False
    # A returned page, not a raised exception (which carries exc_info): the status says what it was.
    answered = getattr(record, "status_code", None) in ANSWERED_ON_PURPOSE and not record.exc_info
    return record.levelno < logging.ERROR or answered


def _clip(text: str, limit: int) -> str:
    # PostgreSQL refuses NUL in text, and the driver a lone surrogate (Python's spelling of the bytes
    # of a file name or header it could not decode): a record quoting either would go unstored.
    text = text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _message(record: logging.LogRecord) -> str:
    """The record's message; for a call whose arguments do not fit its format ("%s failed for %s" with
    one argument), the format and the arguments as given, and for a message object that cannot be
    printed, what it is: the record is kept all the same."""
    with contextlib.suppress(Exception):
        return record.getMessage()
    try:
        return f"{record.msg} (arguments: {record.args!r})"
    except Exception as error:  # the message object's own __str__ or __repr__ fails
        return f"(a {type(record.msg).__name__} whose text failed: {error.__class__.__name__}: {error})"


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class DatabaseHandler(logging.Handler):
    def __init__(self, level: int | str = logging.WARNING, database: str | None = None) -> None:
        super().__init__(level)
        self.database = database

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(_state, "storing", False):
            return
        try:
            if _excluded(record):  # reads the message, whose __str__ is anybody's code
                return
            if _in_event_loop():
                # Django refuses database work in an event loop's thread (SynchronousOnlyOperation): a
                # record logged by async code is stored from a short-lived thread, with this one's context.
                worker = threading.Thread(
                    target=contextvars.copy_context().run, args=(self._emit_apart, record)
                )
                worker.start()
                worker.join(timeout=STORE_TIMEOUT_SECONDS)
                return
        except Exception as error:
            self._fallback(record, error)
            return
        self._emit_here(record)

    def _emit_here(self, record: logging.LogRecord) -> None:
        _state.storing = True
        try:
            self._store(record)
        except Exception as error:
            self._fallback(record, error)
        finally:
            _state.storing = False

    def _emit_apart(self, record: logging.LogRecord) -> None:
        from django.db import connections

        try:
            self._emit_here(record)
        finally:
            connections.close_all()  # this thread's own connections, which would otherwise stay open

    def _store(self, record: logging.LogRecord) -> None:
        from django.conf import settings
        from django.db import transaction

        from audit.context import current
        from audit.models import SystemLogEntry

        database = self.database or getattr(settings, "SYSTEM_LOG_DATABASE", "default")
        details = ""
        if record.exc_info:
            details = "".join(traceback.format_exception(*record.exc_info))
        elif record.exc_text:
            details = record.exc_text
        if record.stack_info:
            details = f"{details}\n{record.stack_info}".strip()
        context = current.get()
        entry = SystemLogEntry(
            level=record.levelno,
            logger=_clip(record.name, 200),
            message=_clip(_message(record), MESSAGE_MAX),
            module=_clip(record.module or "", 200),
            function=_clip(record.funcName or "", 200),
            line=record.lineno if record.lineno and record.lineno > 0 else None,
            traceback=_clip(details, TRACEBACK_MAX),
            request_id=context.request_id
            if context
            else getattr(getattr(record, "request", None), "request_id", ""),
        )
        # A savepoint when the handler shares a connection that is inside a transaction: a failure
        # here must not break the caller's transaction.
        with transaction.atomic(using=database):
            entry.save(using=database)
            # Ids only grow, so this keeps at most SYSTEM_LOG_MAX_ROWS rows, with one cheap range delete.
            SystemLogEntry.objects.using(database).filter(pk__lte=entry.pk - row_cap()).delete()

    def _fallback(self, record: logging.LogRecord, error: Exception) -> None:
        try:
            message = _message(record)
            sys.stderr.write(
                f"{record.levelname} {record.name}: {_clip(message, MESSAGE_MAX)} "
                f"[not stored in the system log: {error.__class__.__name__}: {error}]\n"
            )
        except Exception:  # noqa: S110 - stderr itself is gone; a log handler must never raise
            pass
