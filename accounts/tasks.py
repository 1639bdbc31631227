"""Background work for accounts (django.tasks)."""

from django.tasks import task

from accounts import services


@task
def lift_expired_suspensions() -> int:
    """Reactivate accounts whose suspension has ended; returns how many."""
    return services.suspensions_lift_expired()
