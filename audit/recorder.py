"""audit.record(): append one hash-chained event, and verify_audit_chain() to check the chain. Each
event's hash is an HMAC-SHA256 under a key kept outside the database (AUDIT_HMAC_KEY), so whoever can
write to the database can neither edit an event nor re-hash the events after it. Appends are
serialised by a transaction-level advisory lock, so concurrent writers never fork the chain."""

import functools
import hashlib
import hmac
import ipaddress
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from audit.context import NO_REQUEST, current
from audit.models import AuditEvent

CHAIN_LOCK = 7_413_229_001  # any constant: the advisory lock id of the audit chain
GENESIS = "0" * 64
# A change name (or a nested dict key) containing one of these is a secret, whatever surrounds it:
# smtp_password, API_KEY, client_secret, x_auth_token, db_credentials, Authorization, …
SECRET_MARKERS = (
    "password", "passwd", "passphrase", "token", "secret", "hash", "otp", "key",
    "credential", "authorization", "bearer", "cookie", "pwd", "passcode", "sessionid", "session_id",
    "recovery_code", "recoverycode", "backup_code", "backupcode", "csrf",
)  # fmt: skip
# Short markers that are secrets only as a whole word of the name (smtp_pass, custom.pass, mailPw,
# pin), so that bypass_queue, compass or pinned stay readable.
SECRET_WORDS = ("pass", "pw", "pin")
MASK = "••••••"
SYSTEM = "System"  # the actor named on events no account did (a scheduled job, a command)
# A checkpoint event records a prune; these change names carry where the remaining chain starts.
CHECKPOINT = "checkpoint"
PRUNED_THROUGH = "pruned_through_sequence"
LAST_PRUNED_DIGEST = "last_pruned_digest"
# The event migration 0004 appends after the last event hashed without a key.
CHAIN_KEYED = "chain_keyed"
UNKEYED_THROUGH = "unkeyed_through_sequence"
# Derives the chain key from AUDIT_HMAC_KEY (or SECRET_KEY), apart from every other use of that secret.
KEY_SALT = b"helpdesk.audit.chain-hmac"
_WORD_BOUNDARY = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")


def _is_secret(name: Any) -> bool:
    if not isinstance(name, str):
        return False
    lowered = name.lower()
    if any(marker in lowered for marker in SECRET_MARKERS):
        return True
    words = _WORD_BOUNDARY.split(name)
    return any(word.lower() in SECRET_WORDS for word in words)


def _mask_nested(value: Any) -> Any:
    # A secret can sit inside a structured value (custom_settings={"smtp_token": ...}): the name rule
    # applies to the keys of nested dicts too, at any depth, through lists; and whatever the name, the
    # password of an address ("smtp://mailer:secret@host") and its query parameters of secret-looking
    # names ("https://crm.example/hook?api_key=…") are masked, the rest of it kept readable.
    if isinstance(value, dict):
        return {key: MASK if _is_secret(key) else _mask_nested(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_nested(item) for item in value]
    if isinstance(value, str) and "://" in value:
        return ADDRESS.sub(_address_without_secrets, value)
    return value


ADDRESS = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://\S+")
QUERY_PARAMETER = re.compile(r"(?<=[?&;])([^=&#;?]+)=([^&#;]*)")


def _address_without_secrets(found: re.Match) -> str:
    address = _address_without_password(found)
    query_at = address.find("?")
    if query_at < 0:
        return address
    fragment_at = address.find("#", query_at)
    end = len(address) if fragment_at < 0 else fragment_at
    query = QUERY_PARAMETER.sub(
        lambda parameter: f"{parameter[1]}={MASK}" if _is_secret(parameter[1]) else parameter[0],
        address[query_at:end],
    )
    return address[:query_at] + query + address[end:]


def _past_a_pasted_question_mark(rest: str, cut: int) -> int:
    """Where the authority of `rest` ends when its password was pasted with a raw "?" or "#" in it
    (smtp://mailer:pa?ss@host, which a valid address would percent-encode): "user:pa" then text with no
    "=" or "/" up to an "@" is read as one user info, ending at the host after that "@". A port
    ("host:8443?notify=ops@acme.example") or a query parameter before the "@" keeps the cut as it was."""
    user_info = rest[:cut]
    user, colon, password = user_info.partition(":")
    at = rest.find("@", cut)
    # The user may be an e-mail address; a password already followed by "@host" needs no help.
    if not colon or not password or "@" in password or password.isdigit() or "/" in user or at < 0:
        return cut
    if any(mark in rest[cut:at] for mark in "=/&;"):
        return cut
    host_end = [rest.find(mark, at) for mark in "/?#" if mark in rest[at:]]
    return min(host_end, default=len(rest))


def _address_without_password(found: re.Match) -> str:
    """An address with the password of its user info (scheme://user:password@host) masked. The user may
    be an e-mail address, the password may hold "@" or "/" (unescaped, as people paste them); the query
    and fragment, which may hold an address of their own ("?notify=ops@acme.example"), are not user info."""
    address = found[0]
    scheme, _, rest = address.partition("://")
    cut = min((rest.find(mark) for mark in "?#" if mark in rest), default=len(rest))
    cut = _past_a_pasted_question_mark(rest, cut)
    authority, tail = rest[:cut], rest[cut:]
    user_info, at, host = authority.rpartition("@")
    user, colon, password = user_info.partition(":")
    if not (at and colon and password) or "/" in user:
        return address
    # "host:8443/users/@me" is a path, not a password: one with "/" must be followed by a host.
    if "/" in password and ("/" in host or not ("." in host or host.startswith("localhost"))):
        return address
    return f"{scheme}://{user}:{MASK}@{host}{tail}"


def mask_secrets(changes: dict[str, Any], secret_names: Sequence[str] = ()) -> dict[str, Any]:
    """`changes` with the values of secret-looking names (password, token, …), and of `secret_names`,
    replaced by a mask, in the change names and in the keys of dicts nested in the values."""
    return {
        name: [MASK, MASK] if name in secret_names or _is_secret(name) else _mask_nested(value)
        for name, value in changes.items()
    }


def chain_keys() -> list[bytes]:
    """The HMAC keys of the chain: the first signs new events; the others, kept after a rotation, only
    verify the events signed before it."""
    if settings.AUDIT_HMAC_KEY:
        secrets = [settings.AUDIT_HMAC_KEY, *settings.AUDIT_HMAC_KEY_FALLBACKS]
    else:
        secrets = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS, *settings.AUDIT_HMAC_KEY_FALLBACKS]
    return [hmac.new(secret.encode(), KEY_SALT, hashlib.sha256).digest() for secret in secrets if secret]


def _canonical(event: AuditEvent, *, keyed: bool, ip_as_stored: bool = False) -> bytes:
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
        "ip": event.ip if ip_as_stored else _address_text(event.ip),
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "previous_hash": event.previous_hash,
    }
    if keyed:  # the unkeyed scheme's content stays exactly what it was, so old events still verify
        content["hash_scheme"] = event.hash_scheme
    return json.dumps(content, sort_keys=True, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def event_digest(event: AuditEvent, key: bytes | None = None, *, ip_as_stored: bool = False) -> str:
    """The hash of an event's content and of the previous event's hash, by the event's scheme: HMAC-SHA256
    under `key` (by default the signing key), or plain SHA-256 for events from before keyed hashing.
    `ip_as_stored`: the address as the database spells it, as events recorded before 2026-12-04 were
    hashed (an IPv4-mapped address from REMOTE_ADDR went in as it came)."""
    if event.hash_scheme == AuditEvent.HashScheme.SHA256:
        return hashlib.sha256(_canonical(event, keyed=False, ip_as_stored=ip_as_stored)).hexdigest()
    if event.hash_scheme != AuditEvent.HashScheme.HMAC_SHA256:
        raise ValueError(f"Unknown audit hash scheme {event.hash_scheme!r}")
    key = key if key is not None else chain_keys()[0]
    return hmac.new(key, _canonical(event, keyed=True, ip_as_stored=ip_as_stored), hashlib.sha256).hexdigest()


def _digest_matches(event: AuditEvent, key: bytes | None = None) -> bool:
    """Whether the event's hash is that of its content, its address spelt either way (event_digest):
    both are the stored address, so accepting either lets no other content through."""
    return any(
        hmac.compare_digest(event_digest(event, key, ip_as_stored=as_stored), event.hash)
        for as_stored in (False, True)
    )


def _address_text(address: str | None) -> str | None:
    # One spelling of an address whoever wrote it: PostgreSQL's inet gives ::ffff:203.0.113.7 back for
    # what Python spells ::ffff:cb00:7107. Where the two agree (most addresses) this is the text as is.
    try:
        return str(ipaddress.ip_address(address)) if address else address
    except ValueError:
        return address


def _plain(value: Any) -> Any:
    if isinstance(value, Model):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _json_safe(value: Any) -> Any:
    """Exactly what the JSON column will give back, so the hash verifies after a round trip."""
    return _as_jsonb(json.loads(json.dumps(value, cls=DjangoJSONEncoder)))


def _as_jsonb(value: Any) -> Any:
    # jsonb keeps a number as PostgreSQL's numeric, which has no exponent, no negative zero and no NaN:
    # 1e+16 comes back as 10000000000000000 (read as an integer), -0.0 as 0.0; NaN it refuses.
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        text = repr(value)
        return int(Decimal(text)) if "e+" in text else value + 0.0
    if isinstance(value, dict):
        return {key: _as_jsonb(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_jsonb(item) for item in value]
    return value


def lock_chain() -> None:
    """Serialise writers of the chain until the current transaction ends.

    The chain's lock is the last a writer takes: the foreign-key checks PostgreSQL would defer to the
    commit (each takes a share lock on the row referred to) run first, here. Deferred, they came after
    the chain's lock, and a transaction holding the row a reference needs (an administrator renaming
    the team a ticket was just moved to) and waiting for the chain's lock deadlocked with it."""
    with connection.cursor() as cursor:
        # One round trip, no parameters (several statements go as a simple query); CHAIN_LOCK is ours.
        cursor.execute(f"SET CONSTRAINTS ALL IMMEDIATE; SELECT pg_advisory_xact_lock({int(CHAIN_LOCK)})")


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
        actor_repr=str(actor)[:300] if actor else SYSTEM,
        object_type=ContentType.objects.get_for_model(obj) if obj is not None else None,
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=(object_repr or (str(obj) if obj is not None else ""))[:300],
        changes=_json_safe(
            mask_secrets(
                {name: [_plain(old), _plain(new)] for name, (old, new) in (changes or {}).items()},
                # A model names the fields that are secrets by what they do, whatever they are called
                # (an invitation's code lets anyone join its organisation).
                getattr(obj, "audit_secret_fields", ()),
            )
        ),
        ip=context.ip,
        user_agent=context.user_agent,
        request_id=context.request_id,
        previous_hash=last["hash"] if last else GENESIS,
        hash_scheme=AuditEvent.HashScheme.HMAC_SHA256,
    )
    event.hash = event_digest(event)
    event.save()
    return event


def differs_as_stored(value: Any, before: Any) -> bool:
    """Whether a value changed as the database would store it: JSON as JSON, at any depth (True == 1 in
    Python, and {"beta": True} == {"beta": 1}; true is not 1 in a JSON column)."""
    if isinstance(value, dict | list) or isinstance(before, dict | list):
        encode = functools.partial(json.dumps, sort_keys=True, cls=DjangoJSONEncoder)
        return encode(value) != encode(before)
    return value != before


@dataclass(frozen=True)
class ChainReport:
    """What verify_audit_chain() found: `problem` is empty when the chain is intact."""

    checked: int
    broken: AuditEvent | None = None  # the first event that does not verify, if one is to blame
    problem: str = ""
    head: AuditEvent | None = None  # the newest event verified
    unkeyed_through: int | None = None  # the last event hashed without a key (before keyed hashing)
    note: str = ""


def _link_problem(
    event: AuditEvent, sequence: int, previous: str, *, keyed_seen: bool, keys: list[bytes]
) -> str:
    """Why `event` is not the next link (expected `sequence` after a hash `previous`), or ""."""
    if event.sequence > sequence:
        last_missing = event.sequence - 1
        if last_missing == sequence:
            return f"a gap in the sequence: event #{sequence} is missing"
        return f"a gap in the sequence: events #{sequence} to #{last_missing} are missing"
    if event.sequence != sequence:
        return f"event #{sequence} was expected here"
    if event.previous_hash != previous:
        return "its previous hash is not the hash of the event before it"
    if event.hash_scheme == AuditEvent.HashScheme.SHA256:
        # Without a key anyone can compute this hash: it is only accepted for the events recorded before
        # keyed hashing, never after a keyed event (a rewrite that drops the key is found here).
        if keyed_seen:
            return "an unkeyed hash after keyed hashing began"
        return "" if _digest_matches(event) else "its hash does not match its content"
    if event.hash_scheme != AuditEvent.HashScheme.HMAC_SHA256:
        return f"an unknown hash scheme {event.hash_scheme!r}"
    if any(_digest_matches(event, key) for key in keys):
        return ""
    return "its hash does not match its content under AUDIT_HMAC_KEY or its fallbacks"


def verify_audit_chain(
    *, expect_head: tuple[int, str] | None = None, through: int | None = None, batch: int = 2000
) -> ChainReport:
    """Walk the chain in order and report the first event that does not verify.

    The chain starts at the genesis event, or, once `audit_prune` has removed old events, at the event
    right after the pruned range named by the latest checkpoint (which is itself chained). The newest
    event must carry a keyed hash. `expect_head` is a (sequence, hash) recorded by an earlier run: a
    deletion of the newest events, which leaves a shorter but valid chain, is found only this way.
    `through` stops the walk after that sequence number (its links only: the head is not judged)."""
    keys = chain_keys()
    expected_previous = GENESIS
    expected_sequence = 1
    pruned_through = None
    checkpoint = AuditEvent.objects.filter(action=CHECKPOINT).order_by("-sequence").first()
    if checkpoint is not None:
        pruned = checkpoint.changes or {}
        try:
            pruned_through = int(pruned[PRUNED_THROUGH][1])
            expected_previous = str(pruned[LAST_PRUNED_DIGEST][1])
        except (KeyError, IndexError, TypeError, ValueError):
            return ChainReport(0, checkpoint, "the checkpoint does not say which events were pruned")
        expected_sequence = pruned_through + 1
    checked, head, unkeyed_through, expected_head_hash = 0, None, None, None
    keyed_seen = False
    events = AuditEvent.objects.order_by("sequence")
    if through is not None:
        events = events.filter(sequence__lte=through)
    for event in events.iterator(chunk_size=batch):
        problem = _link_problem(event, expected_sequence, expected_previous, keyed_seen=keyed_seen, keys=keys)
        if problem:
            return ChainReport(checked, event, problem, head, unkeyed_through)
        if event.hash_scheme == AuditEvent.HashScheme.SHA256:
            unkeyed_through = event.sequence
        else:
            keyed_seen = True
        if expect_head is not None and event.sequence == expect_head[0]:
            expected_head_hash = event.hash
        expected_previous, expected_sequence, head = event.hash, event.sequence + 1, event
        checked += 1
    if through is not None:
        return ChainReport(checked, None, "", head, unkeyed_through)
    if head is not None and head.hash_scheme == AuditEvent.HashScheme.SHA256:
        # Every event since keyed hashing is keyed (migration 0004 appended one after the last old one):
        # an unkeyed head means the keyed events were deleted or rewritten without the key.
        return ChainReport(checked - 1, head, "the newest event has an unkeyed hash", head, unkeyed_through)
    report = ChainReport(checked, None, "", head, unkeyed_through)
    if expect_head is None:
        return report
    sequence, digest = expect_head
    if head is None or head.sequence < sequence:
        ends = f"#{head.sequence}" if head else "nothing"
        problem = f"the chain ends at {ends}, before the expected head #{sequence}: newer events were deleted"
        return ChainReport(checked, None, problem, head, unkeyed_through)
    if expected_head_hash is None and pruned_through == sequence:
        expected_head_hash = str(checkpoint.changes[LAST_PRUNED_DIGEST][1])
    if expected_head_hash is None:  # pruned since, by a checkpoint that verified (it is chained and keyed)
        note = f"The expected head #{sequence} has been pruned (checkpoint #{checkpoint.sequence})."
        return ChainReport(checked, None, "", head, unkeyed_through, note)
    if not hmac.compare_digest(expected_head_hash, digest):
        problem = f"event #{sequence} is not the expected head (its hash differs): it was replaced"
        return ChainReport(checked, None, problem, head, unkeyed_through)
    return report


def verify_chain(batch: int = 2000) -> tuple[int, AuditEvent | None]:
    """(events checked, first broken event or None): verify_audit_chain() in short."""
    report = verify_audit_chain(batch=batch)
    return report.checked, report.broken
