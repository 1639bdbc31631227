"""Background work for tickets (django.tasks): the daily auto-close of resolved tickets."""

from django.tasks import task

from tickets import services


@task
def close_resolved_tickets() -> int:
    """Close tickets resolved more than TICKET_AUTO_CLOSE_DAYS ago; returns how many were closed."""
    return services.tickets_close_resolved()
