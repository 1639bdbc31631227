"""Audit retention: remove the oldest part of the chain and leave a checkpoint that re-anchors it."""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from audit.models import AuditEvent
from audit.recorder import CHECKPOINT, LAST_PRUNED_DIGEST, PRUNED_THROUGH, lock_chain, record


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
        count = last["sequence"] - first_sequence + 1  # sequences are contiguous
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
