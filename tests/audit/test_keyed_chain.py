"""The keyed chain and audit_verify: a database writer without AUDIT_HMAC_KEY can neither rewrite nor
drop events unseen, old unkeyed events still verify, keys rotate, and a recorded head finds deletions
of the newest events."""

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

import audit
from audit.models import AuditEvent
from audit.recorder import event_digest, verify_chain

pytestmark = pytest.mark.django_db


def record_events(count: int) -> None:
    for number in range(count):
        audit.record("update", actor=None, object_repr=f"thing {number}")


def rehash_without_key(from_sequence: int, edit=lambda event: None, *, through: int | None = None) -> None:
    """What a database writer can do without the key: edit events and recompute every hash from there
    on with the published algorithm (plain SHA-256 of the content), relinking the chain."""
    previous = AuditEvent.objects.filter(sequence=from_sequence - 1).values_list("hash", flat=True).first()
    events = AuditEvent.objects.filter(sequence__gte=from_sequence, sequence__lte=through or 2**62)
    for event in events.order_by("sequence"):
        edit(event)
        event.hash_scheme = "sha256"
        event.previous_hash = previous or "0" * 64
        event.hash = event_digest(event)
        event.save()
        previous = event.hash


def head(capsys) -> str:
    call_command("audit_verify")
    return capsys.readouterr().out.rsplit("Head: ", 1)[1].strip()


def test_new_events_carry_a_keyed_hash_that_another_key_does_not_verify():
    record_events(2)
    assert set(AuditEvent.objects.values_list("hash_scheme", flat=True)) == {"hmac-sha256"}
    assert verify_chain() == (2, None)
    with override_settings(AUDIT_HMAC_KEY="not the key"):
        assert verify_chain()[1].sequence == 1


def test_rewriting_an_event_and_rehashing_the_rest_without_the_key_is_found():
    record_events(5)

    def innocent(event):
        if event.sequence == 3:
            event.object_repr = "innocent"

    rehash_without_key(3, innocent)
    assert verify_chain()[1].sequence == 3
    with pytest.raises(CommandError, match=r"broken at event #3 .*unkeyed hash after keyed hashing began"):
        call_command("audit_verify")


def test_rehashing_the_whole_chain_without_the_key_is_found_at_its_head():
    record_events(4)
    rehash_without_key(1, lambda event: setattr(event, "actor_repr", "Someone else"))
    assert verify_chain()[1].sequence == 4
    with pytest.raises(CommandError, match="newest event has an unkeyed hash"):
        call_command("audit_verify")


def test_events_hashed_before_keying_still_verify_and_the_upgrade_vouches_for_them(capsys):
    record_events(3)
    rehash_without_key(1)  # the trail as it was before keyed hashing
    migration = importlib.import_module("audit.migrations.0004_auditevent_hash_scheme")
    migration.append_keyed_event(apps, SimpleNamespace(connection=connection))
    keyed = AuditEvent.objects.get(sequence=4)
    assert (keyed.action, keyed.hash_scheme, keyed.changes) == (
        "chain_keyed", "hmac-sha256", {"unkeyed_through_sequence": [None, 3]}
    )  # fmt: skip
    audit.record("update", actor=None)
    assert verify_chain() == (5, None)
    call_command("audit_verify")
    assert "Events up to #3 were hashed without a key" in capsys.readouterr().out
    rehash_without_key(2, lambda event: setattr(event, "object_repr", "innocent"), through=3)
    assert verify_chain()[1].sequence == 4  # the keyed event vouches for the unkeyed ones before it


def test_going_back_before_keyed_hashing_is_refused_while_keyed_events_exist():
    """Back to audit 0003 the column saying how each event was hashed goes, and forward again every event
    would count as unkeyed: the keyed ones would read as tampered. Refused, with what to do instead; an
    unkeyed trail (or none) may go back."""
    migration = importlib.import_module("audit.migrations.0004_auditevent_hash_scheme")
    editor = SimpleNamespace(connection=connection)
    migration.refuse_to_forget_keyed_events(apps, editor)  # no events at all
    record_events(2)
    with pytest.raises(RuntimeError, match="Restore a backup taken before the upgrade"):
        migration.refuse_to_forget_keyed_events(apps, editor)
    rehash_without_key(1)
    migration.refuse_to_forget_keyed_events(apps, editor)


@override_settings(AUDIT_HMAC_KEY="first key", AUDIT_HMAC_KEY_FALLBACKS=[])
def test_a_rotated_key_verifies_the_events_it_signed_while_it_is_a_fallback():
    record_events(2)
    with override_settings(AUDIT_HMAC_KEY="second key", AUDIT_HMAC_KEY_FALLBACKS=["first key"]):
        record_events(1)
        assert verify_chain() == (3, None)
    with override_settings(AUDIT_HMAC_KEY="second key"):
        assert verify_chain()[1].sequence == 1


@override_settings(AUDIT_HMAC_KEY="", AUDIT_HMAC_KEY_FALLBACKS=[], SECRET_KEY="old secret key " * 4)
def test_the_default_key_follows_secret_key_and_its_fallbacks():
    record_events(1)
    with override_settings(SECRET_KEY="new secret key " * 4, SECRET_KEY_FALLBACKS=["old secret key " * 4]):
        record_events(1)
        assert verify_chain() == (2, None)
    with override_settings(SECRET_KEY="new secret key " * 4, SECRET_KEY_FALLBACKS=[]):
        assert verify_chain()[1].sequence == 1


def test_deleting_the_newest_events_is_found_with_the_head_recorded_earlier(capsys):
    record_events(6)
    recorded = head(capsys)
    assert recorded == f"6:{AuditEvent.objects.get(sequence=6).hash}"
    call_command("audit_verify", "--expect-head", recorded)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE sequence >= 4")
    assert head(capsys).startswith("3:")  # a shorter chain is still a valid chain
    with pytest.raises(CommandError, match="ends at #3, before the expected head #6"):
        call_command("audit_verify", "--expect-head", recorded)


def test_a_replaced_head_is_found():
    record_events(6)
    recorded = f"6:{AuditEvent.objects.get(sequence=6).hash}"
    AuditEvent.objects.filter(sequence__gte=5).delete()
    record_events(2)  # the application goes on writing #5 and #6 again
    assert verify_chain() == (6, None)
    with pytest.raises(CommandError, match="event #6 is not the expected head"):
        call_command("audit_verify", "--expect-head", recorded)


def test_a_gap_in_the_sequence_is_reported_as_a_break():
    record_events(5)
    AuditEvent.objects.filter(sequence__in=[2, 3]).delete()
    with pytest.raises(CommandError, match=r"broken at event #4 .*gap in the sequence: events #2 to #3"):
        call_command("audit_verify")


@pytest.mark.parametrize("value", ["6", "six:abc", "6:" + "z" * 64, "0:" + "a" * 64])
def test_a_malformed_expected_head_is_refused(value):
    record_events(1)
    with pytest.raises(CommandError, match="--expect-head must be SEQUENCE:HASH"):
        call_command("audit_verify", "--expect-head", value)
