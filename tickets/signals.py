"""A ticket saved as it is (loaddata restoring a dump or a fixture) keeps its number: the sequence new
tickets draw theirs from moves past it, or the next ticket submitted would collide with a restored one."""

from django.db import connection
from django.db.models.signals import post_save
from django.dispatch import receiver

from tickets.models import NUMBER_SEQUENCE, Ticket


@receiver(post_save, sender=Ticket, dispatch_uid="tickets_number_past_loaded")
def move_number_sequence_past_loaded(sender, instance: Ticket, raw: bool = False, **kwargs) -> None:
    if not raw or instance.number is None:
        return
    # Only forwards, and only past a number the sequence would hand out (numbers below its start, as the
    # demo's, leave it where it is).
    next_number = f"SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM {NUMBER_SEQUENCE}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT setval('{NUMBER_SEQUENCE}', %s) WHERE %s >= ({next_number})",
            [instance.number, instance.number],
        )
