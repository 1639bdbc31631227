"""Background work for tickets (django.tasks): the auto-close of resolved tickets, the sweep of stored
files no attachment points at, the removal of files held for forms nobody sent again."""

from django.tasks import task

from tickets import attachments, services


@task
def close_resolved_tickets() -> int:
    """Close tickets resolved more than TICKET_AUTO_CLOSE_DAYS ago; returns how many were closed."""
    return services.tickets_close_resolved()


@task
def remove_orphan_files() -> int:
    """Delete stored files a rolled-back transaction left without an attachment; returns how many."""
    return len(attachments.orphans_remove())


@task
def remove_held_files() -> int:
    """Delete files held for a form that came back and was not sent again within a day; returns how many."""
    return attachments.held_remove()
