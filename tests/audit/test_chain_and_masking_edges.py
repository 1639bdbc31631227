"""Audit trail edges: invitation codes masked where a user's event names them, the chain verifiable
after addresses and numbers PostgreSQL spells its own way, lockout names cleaned, a suspension that
has already ended refused, and a NUL in a logged error kept in the system log."""

import logging
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts.models import User
from audit import recorder
from audit.context import RequestContext, current
from audit.models import AuditEvent, SystemLogEntry
from tests.admin_pages import change_url, form_data
from tests.factories import (
    TEST_PASSWORD,
    InvitationFactory,
    OrganizationFactory,
    UserFactory,
    make_administrator,
    make_customer,
)

CODE = "join-acme-secret-2026"


def audit_verify_passes() -> bool:
    try:
        call_command("audit_verify")
    except CommandError as error:
        print(error)  # shown with the failure: which event audit_verify blames, and why
        return False
    return True


@pytest.mark.django_db
@pytest.mark.parametrize("pending", [False, True], ids=["new-account", "pending-account-claimed"])
def test_an_invitation_code_redeemed_at_sign_up_is_masked_in_the_audit_trail(pending):
    """An invitation code lets anyone join the organisation, so the audit trail (readable by every
    administrator and exported to CSV files) must record that an invitation was used, never the code
    itself, as it already does when the code is edited in the admin. Signing up with a multi-use code
    (or claiming a pending account with one) must not leave the still-valid code in clear text."""
    email = "new@example.org"
    if pending:
        UserFactory(email=email, status=User.Status.PENDING, password=None)
    invitation = InvitationFactory(code=CODE, max_uses=50, email=email if pending else "")
    account_services.user_signup(
        email=email, name="New Person", password=TEST_PASSWORD, invitation_code=invitation.code,
        open_signup=False, actor=None,
    )  # fmt: skip
    recorded = str(list(AuditEvent.objects.values_list("changes", flat=True)))
    assert CODE not in recorded


@pytest.mark.django_db
def test_a_sign_in_behind_the_proxy_from_an_ipv4_mapped_address_keeps_the_chain_verifiable(client, settings):
    """Behind our TLS proxy, a client the proxy reports as an IPv4-mapped IPv6 address
    (::ffff:203.0.113.7, what a dual-stack listener sees for an IPv4 client) signs in normally. That
    ordinary event must not make `manage.py audit_verify` report the trail as tampered with."""
    settings.BEHIND_TLS_PROXY = True
    user = UserFactory()
    client.post(
        reverse("accounts:login"), {"username": user.email, "password": TEST_PASSWORD},
        HTTP_X_FORWARDED_FOR="::ffff:203.0.113.7", secure=True,
    )  # fmt: skip
    assert AuditEvent.objects.filter(action="login").exists()
    assert audit_verify_passes()


@pytest.mark.django_db
def test_an_organisation_setting_saved_in_the_admin_keeps_the_chain_verifiable(admin_client):
    """An administrator saves an organisation's settings JSON with a large number written the usual
    way ({"max_storage_bytes": 1e16}). The edit is audited; the trail must still verify afterwards,
    not be reported as tampered with because of an ordinary admin edit."""
    organization = OrganizationFactory()
    page = admin_client.get(change_url(organization))
    response = admin_client.post(
        change_url(organization), form_data(page, settings='{"max_storage_bytes": 1e16}')
    )
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="update", object_id=str(organization.pk)).exists()
    assert audit_verify_passes()


@pytest.mark.django_db
def test_the_lockout_event_shows_the_tried_address_without_control_or_bidi_characters(client, settings):
    """Someone guesses passwords with a username carrying a right-to-left override and a line break
    ("victim@example.org\\u202e\\nFAKE"). The failed sign-ins are recorded with those characters
    removed; the lockout event that follows must be cleaned the same way, so the trail an administrator
    reads (and exports) cannot be disguised or given forged line breaks."""
    UserFactory(email="victim@example.org")
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        tried = "victim@example.org\u202e\nFAKE"
        client.post(reverse("accounts:login"), {"username": tried, "password": "x"})
    lockout = AuditEvent.objects.filter(action="lockout").first()
    assert lockout is not None
    assert lockout.object_repr.isprintable()


@pytest.mark.django_db
def test_a_suspension_ending_in_the_past_is_refused_not_silently_ineffective(client):
    """An administrator sets a customer to "suspended" with an end date that has already passed (a
    typo in the year, say). Either the form says the end must be in the future, or the customer is
    really suspended. Today the admin reports success, lists the customer as suspended, and the
    customer can sign in straight away."""
    client.force_login(make_administrator())
    customer = make_customer(name="Sam")
    until = (timezone.now() - timedelta(days=3)).replace(microsecond=0)
    page = client.get(change_url(customer))
    response = client.post(change_url(customer), form_data(
        page, status="suspended", suspension_reason="Abusive messages",
        suspended_until_0=timezone.localtime(until).strftime("%Y-%m-%d"),
        suspended_until_1=timezone.localtime(until).strftime("%H:%M:%S"),
    ))  # fmt: skip
    customer.refresh_from_db()
    refused = response.status_code != 302
    assert refused or not customer.is_active


@pytest.mark.django_db(transaction=True, databases=["default", "system_log"])
def test_an_error_whose_message_holds_a_nul_character_is_kept_in_the_system_log():
    """An error is logged about input that carried a NUL character (a mail subject, a file name). The
    system log must still keep the error (with the NUL removed or escaped), not drop it to stderr only,
    where an administrator reading the system log never sees it."""
    logging.getLogger("tickets.mail").error("Could not parse the subject %s", "Invoice\x00 overdue")
    assert SystemLogEntry.objects.filter(logger="tickets.mail").exists()


@pytest.mark.django_db
def test_events_recorded_before_the_address_normalisation_still_verify():
    """SECURITY.md: events already in the chain keep verifying ("the unkeyed scheme's content stays
    exactly what it was, so old events still verify"). Before this change the recorder hashed
    REMOTE_ADDR as given; on a dual-stack server that is an IPv4-mapped address such as
    ::ffff:203.0.113.7, which PostgreSQL's inet gives back unchanged, so those events verified. An
    untampered event written that way must still verify: otherwise audit_verify reports tampering on
    every such deployment's history, and a real rewrite can no longer be told from this false alarm."""
    token = current.set(RequestContext(ip="::ffff:203.0.113.7"))
    try:
        event = recorder.record("update", actor=None, obj=make_customer())
    finally:
        current.reset(token)
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.ip == "::ffff:203.0.113.7"
    # As the previous recorder computed and stored it (nothing tampered with).
    AuditEvent.objects.filter(pk=event.pk).update(hash=recorder.event_digest(stored, ip_as_stored=True))
    report = recorder.verify_audit_chain()
    assert report.problem == "", f"event #{report.broken and report.broken.sequence}: {report.problem}"
