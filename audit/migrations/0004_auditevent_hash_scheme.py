"""Keyed hashes: events recorded so far keep their plain SHA-256 (scheme "sha256"), new ones are
HMAC-SHA256; a keyed "chain_keyed" event is appended after the last unkeyed one, so that the newest
event is always keyed and a rewrite without the key cannot pass for an old unkeyed chain."""

from django.db import migrations, models
from django.utils import timezone


def append_keyed_event(apps, schema_editor):
    from audit.recorder import CHAIN_KEYED, CHAIN_LOCK, UNKEYED_THROUGH, event_digest

    AuditEvent = apps.get_model("audit", "AuditEvent")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK])
    last = AuditEvent.objects.order_by("-sequence").values("sequence", "hash").first()
    if last is None:
        return
    event = AuditEvent(
        sequence=last["sequence"] + 1,
        created_at=timezone.now(),
        action=CHAIN_KEYED,
        category="security",
        actor_repr="System",
        object_repr=f"Audit events after #{last['sequence']} carry keyed hashes",
        changes={UNKEYED_THROUGH: [None, last["sequence"]]},
        previous_hash=last["hash"],
        hash_scheme="hmac-sha256",
    )
    event.hash = event_digest(event)
    event.save()


def refuse_to_forget_keyed_events(apps, schema_editor):
    """Going back drops the column that says how each event was hashed: forward again, every event would
    read as unkeyed, and the keyed ones as tampered. Refused while there are keyed events."""
    AuditEvent = apps.get_model("audit", "AuditEvent")
    if AuditEvent.objects.filter(hash_scheme="hmac-sha256").exists():
        raise RuntimeError(
            "The audit trail holds events with keyed hashes, which audit 0003 cannot tell from unkeyed "
            "ones: going back would make the trail read as tampered. Restore a backup taken before the "
            "upgrade instead."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0003_audit_references_protected"),
    ]

    operations = [
        # Existing rows were hashed the old way: they get "sha256"; the model's default is the keyed scheme.
        migrations.AddField(
            model_name="auditevent",
            name="hash_scheme",
            field=models.CharField(
                choices=[("sha256", "SHA-256 (unkeyed)"), ("hmac-sha256", "HMAC-SHA256")],
                default="sha256",
                editable=False,
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="hash_scheme",
            field=models.CharField(
                choices=[("sha256", "SHA-256 (unkeyed)"), ("hmac-sha256", "HMAC-SHA256")],
                default="hmac-sha256",
                editable=False,
                max_length=16,
            ),
        ),
        migrations.RunPython(append_keyed_event, refuse_to_forget_keyed_events),
    ]
