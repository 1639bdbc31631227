"""audit_prune: old events go, a checkpoint re-anchors the chain, and tampering is still found."""

from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

import audit
from audit.models import AuditEvent
from audit.recorder import verify_chain

pytestmark = pytest.mark.django_db


def events_on(clock, day: str, count: int) -> None:
    clock.move_to(datetime.fromisoformat(day).replace(tzinfo=UTC), tick=False)
    for number in range(count):
        audit.record("update", actor=None, object_repr=f"{day} #{number}")


@pytest.fixture
def history(clock):
    """Three events in January, two in February, two in March; the clock then stands in April."""
    events_on(clock, "2025-01-10", 3)
    events_on(clock, "2025-02-10", 2)
    events_on(clock, "2025-03-10", 2)
    clock.move_to(datetime(2025, 4, 1, tzinfo=UTC), tick=False)


def sequences() -> list[int]:
    return list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True))


def test_prune_deletes_old_events_records_a_checkpoint_and_the_chain_still_verifies(history, capsys):
    call_command("audit_prune", "--before", "2025-02-01")
    assert "Deleted 3 audit events, #1 to #3" in capsys.readouterr().out
    assert sequences() == [4, 5, 6, 7, 8]
    checkpoint = AuditEvent.objects.get(action="checkpoint")
    assert checkpoint.category == "security" and checkpoint.sequence == 8
    assert checkpoint.changes["pruned_count"] == [None, 3]
    assert checkpoint.changes["pruned_through_sequence"] == [None, 3]
    assert verify_chain() == (5, None)
    call_command("audit_verify")


def test_dry_run_deletes_nothing(history, capsys):
    call_command("audit_prune", "--before", "2025-03-01", "--dry-run")
    assert "Would delete 5 audit events" in capsys.readouterr().out
    assert sequences() == [1, 2, 3, 4, 5, 6, 7]


def test_a_second_prune_after_a_first_keeps_the_chain_verifiable(history, clock):
    call_command("audit_prune", "--before", "2025-02-01")
    call_command("audit_prune", "--before", "2025-03-01")
    assert sequences() == [6, 7, 8, 9]  # March's two events, the first checkpoint, the second one
    assert verify_chain() == (4, None)
    clock.move_to(datetime(2025, 4, 2, tzinfo=UTC), tick=False)
    call_command("audit_prune", "--before", "2025-04-02")  # everything, checkpoints included
    assert sequences() == [10]
    assert verify_chain() == (1, None)


def test_nothing_to_prune_changes_nothing(history, capsys):
    call_command("audit_prune", "--before", "2025-01-01")
    assert "No audit events before 2025-01-01" in capsys.readouterr().out
    assert sequences() == [1, 2, 3, 4, 5, 6, 7]


def test_editing_a_remaining_event_after_a_prune_is_found(history):
    call_command("audit_prune", "--before", "2025-02-01")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET object_repr = 'innocent' WHERE sequence = 5")
    assert verify_chain()[1].sequence == 5
    with pytest.raises(CommandError, match="broken at event #5"):
        call_command("audit_verify")


@pytest.mark.parametrize("removed", [4, 6, 8])  # the new first event, one in the middle, the checkpoint
def test_deleting_another_event_after_a_prune_is_found(history, removed):
    call_command("audit_prune", "--before", "2025-02-01")
    AuditEvent.objects.filter(sequence=removed).delete()
    assert verify_chain()[1] is not None


def test_forging_the_checkpoint_to_hide_a_deletion_is_found(history):
    call_command("audit_prune", "--before", "2025-02-01")
    AuditEvent.objects.filter(sequence=4).delete()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET changes = jsonb_set(changes, '{pruned_through_sequence,1}', '4') "
            "WHERE action = 'checkpoint'"
        )
    assert verify_chain()[1] is not None


def test_a_chain_whose_first_events_vanished_without_a_checkpoint_is_broken(history):
    AuditEvent.objects.filter(sequence__lte=2).delete()
    assert verify_chain() == (0, AuditEvent.objects.get(sequence=3))


def test_bad_or_future_dates_are_refused(history):
    with pytest.raises(CommandError, match="must be a date"):
        call_command("audit_prune", "--before", "last week")
    with pytest.raises(CommandError, match="future"):
        call_command("audit_prune", "--before", "2030-01-01")


def test_an_expected_head_that_was_pruned_is_accepted_unless_its_hash_differs(history, capsys):
    heads = dict(AuditEvent.objects.values_list("sequence", "hash"))
    call_command("audit_prune", "--before", "2025-03-01")  # #1 to #5 go
    call_command("audit_verify", "--expect-head", f"3:{heads[3]}")
    assert "The expected head #3 has been pruned (checkpoint #8)" in capsys.readouterr().out
    call_command("audit_verify", "--expect-head", f"5:{heads[5]}")
    call_command("audit_verify", "--expect-head", f"7:{heads[7]}")
    with pytest.raises(CommandError, match="event #5 is not the expected head"):
        call_command("audit_verify", "--expect-head", f"5:{heads[4]}")


def test_a_prune_over_a_broken_link_is_refused_and_deletes_nothing(history, capsys):
    """An event removed outside the application in the range to prune: the checkpoint would vouch for
    the range and the chain verify again, hiding the tampering. Refused, dry run included."""
    AuditEvent.objects.filter(sequence=2).delete()
    for extra in ([], ["--dry-run"]):
        with pytest.raises(CommandError, match="broken at event #3"):
            call_command("audit_prune", "--before", "2025-03-01", *extra)
    assert sequences() == [1, 3, 4, 5, 6, 7]
    assert verify_chain()[1].sequence == 3


def test_a_prune_before_a_broken_link_goes_ahead_and_the_break_stays_visible(history, capsys):
    """A break after the pruned range is not the prune's to judge: it stays where audit_verify finds it."""
    AuditEvent.objects.filter(sequence=6).delete()
    call_command("audit_prune", "--before", "2025-02-01")
    assert "Deleted 3 audit events, #1 to #3" in capsys.readouterr().out
    assert verify_chain()[1].sequence == 7
