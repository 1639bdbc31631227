"""audit.record(): append one hash-chained event. Appends are serialised by a transaction-level
advisory lock, so concurrent writers never fork the chain."""

import hashlib
import json
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from audit.context import NO_REQUEST, current
from audit.models import AuditEvent

CHAIN_LOCK = 7_413_229_001  # any constant: the advisory lock id of the audit chain
GENESIS = "0" * 64
SECRET_MARKERS = ("password", "token", "secret", "hash", "otp", "key")
MASK = "••••••"
# A checkpoint event records a prune; these change names carry where the remaining chain starts.
CHECKPOINT = "checkpoint"
PRUNED_THROUGH = "pruned_through_sequence"
LAST_PRUNED_DIGEST = "last_pruned_digest"


def _is_secret(name: Any) -> bool:
    return isinstance(name, str) and any(marker in name.lower() for marker in SECRET_MARKERS)


def _mask_nested(value: Any) -> Any:
    # A secret can sit inside a structured value (custom_settings={"smtp_token": ...}): the name rule
    # applies to the keys of nested dicts too, at any depth, through lists.
    if isinstance(value, dict):
        return {key: MASK if _is_secret(key) else _mask_nested(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_nested(item) for item in value]
    return value


def mask_secrets(changes: dict[str, Any]) -> dict[str, Any]:
    """`changes` with the values of secret-looking names (password, token, …) replaced by a mask, in
    the change names and in the keys of dicts nested in the values."""
    return {
        name: [MASK, MASK] if _is_secret(name) else _mask_nested(value) for name, value in changes.items()
    }


def event_digest(event: AuditEvent) -> str:
    """The hash of an event's content and of the previous event's hash."""
    content = {
        "sequence": event.sequence,
        "created_at": event.created_at.isoformat(),
        "action": event.action,
        "category": event.category,
        "actor_id": event.actor_id,
        "actor_repr": event.actor_repr,
        "object_type_id": event.object_type_id,
        "object_id": event.object_id,
        "object_repr": event.object_repr,
        "changes": event.changes,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "previous_hash": event.previous_hash,
    }
    canonical = json.dumps(content, sort_keys=True, cls=DjangoJSONEncoder, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, Model):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _json_safe(value: Any) -> Any:
    """Exactly what the JSON column will give back, so the hash verifies after a round trip."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def lock_chain() -> None:
    """Serialise writers of the chain until the current transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK])


@transaction.atomic
def record(
    action: str,
    *,
    actor,
    obj: Model | None = None,
    changes: dict[str, tuple[Any, Any]] | None = None,
    category: str = AuditEvent.Category.BUSINESS,
    object_repr: str = "",
) -> AuditEvent:
    lock_chain()
    last = AuditEvent.objects.order_by("-sequence").values("sequence", "hash").first()
    context = current.get() or NO_REQUEST
    actor = actor if actor is not None and getattr(actor, "pk", None) else None
    event = AuditEvent(
        sequence=(last["sequence"] + 1) if last else 1,
        created_at=timezone.now(),
        action=action,
        category=category,
        actor=actor,
        actor_repr=str(actor)[:300] if actor else "System",
        object_type=ContentType.objects.get_for_model(obj) if obj is not None else None,
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=(object_repr or (str(obj) if obj is not None else ""))[:300],
        changes=_json_safe(
            mask_secrets({name: [_plain(old), _plain(new)] for name, (old, new) in (changes or {}).items()})
        ),
        ip=context.ip,
        user_agent=context.user_agent,
        request_id=context.request_id,
        previous_hash=last["hash"] if last else GENESIS,
    )
    event.hash = event_digest(event)
    event.save()
    return event


def verify_chain(batch: int = 2000) -> tuple[int, AuditEvent | None]:
    """Walk the chain in order; return (events checked, first broken event or None).

    The chain starts at the genesis event, or, once `audit_prune` has removed old events, at the
    event right after the pruned range named by the latest checkpoint (which is itself chained)."""
    expected_previous = GENESIS
    expected_sequence = 1
    checkpoint = AuditEvent.objects.filter(action=CHECKPOINT).order_by("-sequence").first()
    if checkpoint is not None:
        pruned = checkpoint.changes or {}
        try:
            expected_sequence = int(pruned[PRUNED_THROUGH][1]) + 1
            expected_previous = str(pruned[LAST_PRUNED_DIGEST][1])
        except (KeyError, IndexError, TypeError, ValueError):
            return 0, checkpoint
    checked = 0
    for event in AuditEvent.objects.order_by("sequence").iterator(chunk_size=batch):
        if (
            event.sequence != expected_sequence
            or event.previous_hash != expected_previous
            or event_digest(event) != event.hash
        ):
            return checked, event
        expected_previous, expected_sequence = event.hash, event.sequence + 1
        checked += 1
    return checked, None
