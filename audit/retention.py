"""Retention: the audit chain (remove its oldest part and leave a checkpoint that re-anchors it) and
the system log (by age and by count)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.logging import row_cap
from audit.models import AuditEvent, SystemLogEntry
from audit.recorder import (
    CHECKPOINT,
    LAST_PRUNED_DIGEST,
    PRUNED_THROUGH,
    lock_chain,
    record,
    verify_audit_chain,
)

# Far enough for any policy, near enough that "now minus this" is a date Python can hold.
MAX_RETENTION_DAYS = 36_500


CHAIN_BROKEN = (
    "The audit chain is broken at event #{sequence} ({problem}), in the range to prune: nothing was "
    "deleted, so that the break stays visible to audit_verify. Investigate it first."
)


class ChainBroken(Exception):
    pass


@dataclass(frozen=True)
class PruneResult:
    count: int
    first_sequence: int | None = None
    last_sequence: int | None = None
    checkpoint: AuditEvent | None = None


def prune_events(before: datetime, *, dry_run: bool = False, actor=None) -> PruneResult:
    """Delete every event older than `before` and append a checkpoint naming the pruned range.

    Only a prefix of the chain is removed (up to the first event created at or after `before`), so what
    remains is still one unbroken chain whose first link the checkpoint vouches for."""
    with transaction.atomic():
        lock_chain()
        first_kept = (
            AuditEvent.objects.filter(created_at__gte=before).order_by("sequence").values("sequence").first()
        )
        doomed = AuditEvent.objects.all()
        if first_kept is not None:
            doomed = doomed.filter(sequence__lt=first_kept["sequence"])
        last = doomed.order_by("-sequence").values("sequence", "hash").first()
        if last is None:
            return PruneResult(count=0)
        first_sequence = doomed.order_by("sequence").values_list("sequence", flat=True).first()
        # The checkpoint vouches for what it removes: a link broken in that range (an event edited or
        # deleted outside the application) would vanish with it and the chain verify again. Refused.
        walked = verify_audit_chain(through=last["sequence"])
        if walked.broken is not None:
            raise ChainBroken(CHAIN_BROKEN.format(sequence=walked.broken.sequence, problem=walked.problem))
        count = walked.checked
        if dry_run:
            return PruneResult(count, first_sequence, last["sequence"])
        # Appended before the delete, so it follows the old tip even when every event goes.
        checkpoint = record(
            CHECKPOINT,
            actor=actor,
            category=AuditEvent.Category.SECURITY,
            object_repr=f"Audit events #{first_sequence} to #{last['sequence']} pruned",
            changes={
                "pruned_before": (None, before.isoformat()),
                "pruned_count": (None, count),
                "pruned_from_sequence": (None, first_sequence),
                PRUNED_THROUGH: (None, last["sequence"]),
                LAST_PRUNED_DIGEST: (None, last["hash"]),
            },
        )
        AuditEvent.objects.filter(sequence__lte=last["sequence"]).delete()
        return PruneResult(count, first_sequence, last["sequence"], checkpoint)


def prune_system_log(days: int | None = None) -> int:
    """Delete system log entries older than `days` (default SYSTEM_LOG_RETENTION_DAYS) and those past
    the newest SYSTEM_LOG_MAX_ROWS; returns how many."""
    days = settings.SYSTEM_LOG_RETENTION_DAYS if days is None else days
    if not 0 <= days <= MAX_RETENTION_DAYS:  # negative would put the cut-off in the future: all gone
        raise ValueError(f"Keep the system log for 0 to {MAX_RETENTION_DAYS} days, not {days}.")
    deleted, _ = SystemLogEntry.objects.filter(created_at__lt=timezone.now() - timedelta(days=days)).delete()
    cap = row_cap()
    oldest_kept = list(SystemLogEntry.objects.order_by("-pk").values_list("pk", flat=True)[cap - 1 : cap])
    if oldest_kept:
        over_cap, _ = SystemLogEntry.objects.filter(pk__lt=oldest_kept[0]).delete()
        deleted += over_cap
    return deleted
