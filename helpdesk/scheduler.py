"""Periodic work: which tasks run how often, and the tick that enqueues the due ones for the
`db_worker` processes (`manage.py scheduler` calls it in a loop).

Any number of schedulers may run: a tick holds a transaction-scoped advisory lock and records each
enqueue in `PeriodicTaskRun` in the same transaction as the task row, so a task is enqueued once per
period however many schedulers tick and whenever they restart."""

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils.module_loading import import_string

from helpdesk.models import PeriodicTaskRun

SCHEDULE: dict[str, timedelta] = {
    # A suspension with an end date already acts as lifted at sign-in; this makes it so everywhere else.
    "accounts.tasks.lift_expired_suspensions": timedelta(minutes=1),
    "tickets.tasks.close_resolved_tickets": timedelta(hours=1),
    "tickets.tasks.remove_orphan_files": timedelta(days=1),
    "tickets.tasks.remove_held_files": timedelta(hours=1),
    "audit.tasks.prune_system_log": timedelta(days=1),
    "helpdesk.tasks.prune_task_results": timedelta(days=1),
    "accounts.tasks.clear_expired_sessions": timedelta(days=1),
    "accounts.tasks.prune_sign_in_records": timedelta(days=1),
}
# An arbitrary constant naming the scheduler's lock among PostgreSQL's advisory locks.
LOCK_KEY = 0x5C4ED01E


def tick(now: datetime | None = None) -> list[str]:
    """Enqueue every scheduled task whose period has passed; returns their paths (empty when another
    scheduler is ticking right now)."""
    enqueued = []
    with transaction.atomic():
        with connection.cursor() as cursor:
            # The database's clock, one for every scheduler host, whatever theirs say.
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s), now()", [LOCK_KEY])
            locked, database_now = cursor.fetchone()
            if not locked:
                return []
        now = now or database_now
        last = dict(PeriodicTaskRun.objects.filter(task__in=SCHEDULE).values_list("task", "last_enqueued_at"))
        for path, period in SCHEDULE.items():
            # A last run in the future (a clock that ran ahead, since set right) is no reason to wait.
            if path in last and timedelta(0) <= now - last[path] < period:
                continue
            import_string(path).enqueue()
            PeriodicTaskRun.objects.update_or_create(task=path, defaults={"last_enqueued_at": now})
            enqueued.append(path)
    return enqueued
