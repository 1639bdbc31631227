"""The audit trail: events from services and sign-ins, masked secrets, a verifiable hash chain."""

import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import ProtectedError
from django.urls import reverse

import audit
from audit.models import AuditEvent
from audit.recorder import verify_chain
from helpdesk.services import site_configuration_update
from tests.factories import TEST_PASSWORD, TeamFactory, make_agent, make_customer, make_ticket
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db


def test_ticket_changes_are_audited_with_actor_object_and_values():
    team = TeamFactory()
    agent = make_agent(team)
    ticket = make_ticket(make_customer(), team=team)
    ticket_services.ticket_update_fields(ticket, changes={"priority": "urgent"}, actor=agent)
    event = AuditEvent.objects.filter(action="ticket.priority").get()
    assert (event.actor, event.object_id, event.changes) == (
        agent,
        str(ticket.pk),
        {"priority": ["medium", "urgent"]},
    )
    assert event.object_repr.startswith(ticket.reference)


def test_settings_changes_and_role_changes_are_audited():
    site_configuration_update(changes={"maintenance_mode": True}, actor=None)
    event = AuditEvent.objects.get(action="settings_change")
    assert event.actor_repr == "System" and event.changes == {"maintenance_mode": [False, True]}
    before = AuditEvent.objects.filter(action="role_change").count()
    make_agent()
    assert AuditEvent.objects.filter(action="role_change", category="security").count() == before + 1


def test_sign_in_sign_out_and_failed_sign_in_are_security_events(client):
    make_customer(email="jo@example.org")
    first = AuditEvent.objects.order_by("sequence").last().sequence  # after the customer's role_change
    client.post(reverse("accounts:login"), {"username": "jo@example.org", "password": "wrong"})
    client.post(reverse("accounts:login"), {"username": "jo@example.org", "password": TEST_PASSWORD},
                REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="TestBrowser/1.0")  # fmt: skip
    client.post(reverse("accounts:logout"))
    actions = list(
        AuditEvent.objects.filter(category="security", sequence__gt=first)
        .order_by("sequence")
        .values_list("action", flat=True)
    )
    assert actions == ["login_failed", "login", "logout"]
    failed = AuditEvent.objects.get(action="login_failed")
    assert failed.object_repr == "jo@example.org" and "wrong" not in str(failed.changes)
    login = AuditEvent.objects.get(action="login")
    assert (login.ip, login.user_agent) == ("203.0.113.9", "TestBrowser/1.0") and login.request_id


def test_secrets_are_masked():
    event = audit.record("update", actor=None, changes={"password": ("old", "new"), "api_token": ("a", "b")})
    assert event.changes == {"password": ["••••••", "••••••"], "api_token": ["••••••", "••••••"]}


def test_secrets_nested_in_a_changed_value_are_masked():
    custom = {"smtp_token": "s3cr3t", "colour": "teal"}
    site_configuration_update(changes={"custom_settings": custom}, actor=None)
    event = AuditEvent.objects.get(action="settings_change")
    assert event.changes == {"custom_settings": [{}, {"smtp_token": "••••••", "colour": "teal"}]}
    integrations = [{"name": "crm", "auth": {"API_KEY": "k", "user": "bot"}}]
    nested = audit.record("update", actor=None, changes={"integrations": (None, integrations)})
    masked = [{"name": "crm", "auth": {"API_KEY": "••••••", "user": "bot"}}]
    assert nested.changes == {"integrations": [None, masked]}
    assert "s3cr3t" not in str(list(AuditEvent.objects.values_list("changes", flat=True)))
    assert verify_chain()[1] is None


def test_secrets_with_unusual_names_are_masked_and_look_alikes_are_not():
    site_configuration_update(changes={"custom.smtp_pass": "hunter2"}, actor=None)
    site_configuration_update(changes={"custom.api_credentials": {"pwd": "hunter3"}}, actor=None)
    settings_events = AuditEvent.objects.filter(action="settings_change").order_by("sequence")
    assert [event.changes for event in settings_events] == [
        {"custom.smtp_pass": ["••••••", "••••••"]},
        {"custom.api_credentials": ["••••••", "••••••"]},
    ]
    secrets = ["apikey", "api_key", "private_key", "Authorization", "x-auth-token", "smtpPw", "db_passwd",
               "passphrase", "sessionCookie", "bearer", "PIN"]  # fmt: skip
    event = audit.record("update", actor=None, changes={name: ("a", "b") for name in secrets})
    assert event.changes == {name: ["••••••", "••••••"] for name in secrets}
    nested = {"mail": {"Pwd": "hunter4", "user": "bot"}, "hooks": [{"AUTH_TOKEN": "t", "url": "u"}]}
    harmless = {"bypass_queue": True, "compass": "n", "pinned": 1, "passed_checks": 2, "author": "jo"}
    event = audit.record("update", actor=None, changes={"integrations": (None, nested), **{
        name: (None, value) for name, value in harmless.items()}})  # fmt: skip
    assert event.changes["integrations"][1] == {
        "mail": {"Pwd": "••••••", "user": "bot"}, "hooks": [{"AUTH_TOKEN": "••••••", "url": "u"}]
    }  # fmt: skip
    assert {name: after for name, (_, after) in event.changes.items() if name != "integrations"} == harmless
    assert "hunter" not in str(list(AuditEvent.objects.values_list("changes", flat=True)))


def test_chain_verifies_and_an_edit_in_sql_is_found_at_that_row():
    for number in range(5):
        audit.record("update", actor=None, object_repr=f"thing {number}")
    assert verify_chain() == (5, None)
    call_command("audit_verify")
    third = AuditEvent.objects.get(sequence=3)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET object_repr = 'innocent' WHERE id = %s", [third.pk])
    checked, broken = verify_chain()
    assert (checked, broken.sequence) == (2, 3)
    with pytest.raises(CommandError, match="broken at event #3"):
        call_command("audit_verify")


def test_a_deleted_row_breaks_the_chain():
    for number in range(4):
        audit.record("update", actor=None, object_repr=str(number))
    AuditEvent.objects.filter(sequence=2).delete()
    assert verify_chain()[1].sequence == 3


def test_an_actor_cannot_be_deleted_from_under_the_chain():
    agent = make_agent()
    audit.record("update", actor=agent, object_repr="something")
    with pytest.raises(ProtectedError):
        agent.delete()
    assert AuditEvent.objects.get(action="update").actor == agent
    assert verify_chain()[1] is None


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_keep_one_chain():
    def append() -> None:
        try:
            for _ in range(10):
                audit.record("update", actor=None)
        finally:
            connection.close()

    threads = [threading.Thread(target=append) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert AuditEvent.objects.count() == 60
    assert verify_chain() == (60, None)
