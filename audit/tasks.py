"""Background work for the audit app (django.tasks)."""

from django.tasks import task

from audit.retention import prune_system_log as prune


@task
def prune_system_log() -> int:
    """Delete system log entries past their retention; returns how many."""
    return prune()
