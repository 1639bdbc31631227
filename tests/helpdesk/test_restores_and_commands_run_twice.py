"""What an operator runs in ways the happy path does not: tickets restored with loaddata (the next number
drawn past them), a dump that would renumber rows named by id, `changepassword` with the address in other
letters, and two `demo_load` at once."""

from io import StringIO

import pytest
from django.contrib.auth.hashers import check_password
from django.contrib.auth.management.commands import changepassword
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.models import User
from tests.concurrency import at_the_same_moment
from tests.conftest import manage
from tests.factories import ensure_roles, make_customer, make_ticket
from tickets.models import NUMBER_SEQUENCE, Ticket

DB = ["default", "system_log"]


def next_number() -> int:
    with connection.cursor() as cursor:
        sequence = NUMBER_SEQUENCE
        cursor.execute(f"SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM {sequence}")  # noqa: S608
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_tickets_loaded_from_a_dump_move_the_next_number_past_theirs(tmp_path):
    customer = make_customer()
    restored = make_ticket(customer, subject="Restored from the old server")
    # Past the sequence, wherever earlier tests of this process left it (a sequence ignores rollbacks).
    number = next_number() + 1000
    Ticket.objects.filter(pk=restored.pk).update(number=number)
    dump = tmp_path / "tickets.json"
    call_command("dumpdata", "tickets.ticket", "--pks", str(restored.pk), "-o", str(dump), verbosity=0)
    Ticket.objects.filter(pk=restored.pk).delete()

    call_command("loaddata", str(dump), verbosity=0)
    assert Ticket.objects.get(pk=restored.pk).number == number
    assert make_ticket(customer, subject="After the move").number == number + 1


@pytest.mark.django_db
def test_loaded_numbers_below_the_next_one_leave_it_where_it_is(tmp_path):
    customer = make_customer()
    old = make_ticket(customer, subject="An old one")
    before = next_number()
    dump = tmp_path / "tickets.json"
    call_command("dumpdata", "tickets.ticket", "--pks", str(old.pk), "-o", str(dump), verbosity=0)
    call_command("loaddata", str(dump), verbosity=0)
    assert next_number() == before


@pytest.mark.django_db
@pytest.mark.parametrize("labels", [(), ("tickets",), ("accounts.user", "auth")])
def test_a_dump_with_natural_primary_keys_of_rows_named_by_id_is_refused(tmp_path, labels):
    """Without ids, loaddata numbers the messages anew while attachments name theirs by id: one customer's
    file would hang off another's message (and audit events off other objects)."""
    dump = tmp_path / "dump.json"
    with pytest.raises(CommandError, match="--natural-foreign only"):
        call_command("dumpdata", *labels, "--natural-foreign", "--natural-primary", "-o", str(dump))
    assert not dump.exists()


@pytest.mark.django_db
def test_natural_primary_keys_of_other_apps_and_natural_foreign_keys_still_dump(tmp_path):
    ensure_roles()
    make_ticket(make_customer(), subject="Dumped")
    groups, tickets = tmp_path / "groups.json", tmp_path / "tickets.json"
    call_command("dumpdata", "auth.group", "--natural-primary", "-o", str(groups), verbosity=0)
    call_command("dumpdata", "tickets.ticket", "--natural-foreign", "-o", str(tickets), verbosity=0)
    assert '"Agent"' in groups.read_text() and '"Dumped"' in tickets.read_text()


@pytest.mark.django_db(transaction=True, databases=DB)  # manage.py closes its connections when done
def test_changepassword_finds_the_account_whatever_the_letter_case(capsys, monkeypatch):
    ensure_roles()
    make_customer(email="admin@example.com")
    monkeypatch.setattr(changepassword.getpass, "getpass", lambda prompt="": "A new unusual passphrase 77")
    status, out, err = manage(capsys, "changepassword", "Admin@Example.com")
    assert status == 0, err
    assert "Password changed successfully" in out
    assert check_password("A new unusual passphrase 77", User.objects.get(email="admin@example.com").password)


@pytest.mark.django_db(transaction=True, databases=DB)
def test_two_demo_loads_at_once_both_succeed_and_load_it_once():
    call_command("flush", "--noinput", verbosity=0)
    outputs = []

    def load() -> None:
        out = StringIO()
        call_command("demo_load", stdout=out, verbosity=0)
        outputs.append(out.getvalue())

    assert at_the_same_moment(load) == []
    assert Group.objects.count() == 4 and User.objects.count() == 7
    assert sum("kept as it was left" in output for output in outputs) == 1
