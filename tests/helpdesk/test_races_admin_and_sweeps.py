"""Races with the admin and the sweeps: an admin save writes only what its page changed (an invitation's
uses, a suspension made meanwhile stay), a held file handed over while the sweep runs keeps its file,
and renaming a team while a ticket moves to it does not deadlock (audit.recorder.lock_chain)."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Invitation, User
from tests.admin_pages import change_url, form_data
from tests.concurrency import (
    in_another_thread,
    run_while_another_transaction_waits,
    wait_until_another_waits_on_a_lock,
)
from tests.factories import (
    InvitationFactory,
    OrganizationFactory,
    TeamFactory,
    ensure_roles,
    make_administrator,
    make_agent,
    make_customer,
    make_ticket,
)
from tickets import attachments, services
from tickets.models import Attachment, Ticket


@pytest.mark.django_db(transaction=True)
def test_an_invitation_edited_in_the_admin_while_someone_signs_up_keeps_the_use(client):
    """An administrator saves an invitation (a new expiry) at the moment someone signs up with its code:
    the sign-up's use is counted, so a single-use code lets nobody else in. The admin writes `uses`
    (read-only on its form) back from its own read, undoing the sign-up's increment."""
    ensure_roles()
    invitation = InvitationFactory(organization=OrganizationFactory(), max_uses=1)
    administrator = make_administrator()
    client.force_login(administrator)
    page = client.get(change_url(invitation))
    assert page.status_code == 200
    later = timezone.localtime(timezone.now() + timedelta(days=30))
    data = form_data(page, expires_at_0=later.strftime("%Y-%m-%d"), expires_at_1=later.strftime("%H:%M:%S"))
    responses = []
    run_while_another_transaction_waits(
        lambda: account_services.user_signup(
            email="first@example.org", name="First", password="correct-horse-battery-staple",
            invitation_code=invitation.code, open_signup=False, actor=None,
        ),
        lambda: responses.append(client.post(change_url(invitation), data)),
    )  # fmt: skip
    assert responses[0].status_code == 302
    assert User.objects.filter(email="first@example.org", organization=invitation.organization).exists()
    assert Invitation.objects.get(pk=invitation.pk).uses == 1


@pytest.mark.django_db(transaction=True)
def test_a_user_edited_in_the_admin_while_being_suspended_stays_suspended(client):
    """An administrator corrects a user's name at the moment another suspends that user: the suspension
    holds (it is audited as done). The admin's save writes every column of the row it read before the
    suspension committed, so the account is silently active again."""
    ensure_roles()
    customer = make_customer()
    administrator, colleague = make_administrator(), make_administrator()
    client.force_login(administrator)
    page = client.get(change_url(customer))
    assert page.status_code == 200
    data = form_data(page, name="Corrected Name")
    responses = []
    run_while_another_transaction_waits(
        lambda: account_services.user_suspend(
            User.objects.get(pk=customer.pk), until=None, reason="Abuse", actor=colleague
        ),
        lambda: responses.append(client.post(change_url(customer), data)),
    )
    assert responses[0].status_code == 302
    stored = User.objects.get(pk=customer.pk)
    assert stored.name == "Corrected Name"
    assert (stored.status, stored.suspension_reason) == (User.Status.SUSPENDED, "Abuse")


@pytest.mark.django_db(transaction=True)
def test_a_held_file_sent_while_the_hourly_sweep_runs_keeps_its_stored_file():
    """A kept file is sent with its form (becoming an attachment) while the sweep of old kept files runs:
    either the form gets the file or is told it is gone, never an attachment pointing at a deleted
    file. The sweep deletes the stored files of the rows it listed before it deletes (or fails to
    delete) the rows themselves, without taking them first."""
    team = TeamFactory()
    agent = make_agent(team)
    ticket = make_ticket(make_customer(), team=team)
    [held] = attachments.uploads_hold([SimpleUploadedFile("log.txt", b"plain text\n")], holder=agent)
    later = timezone.now() + attachments.HOLD_FOR + timedelta(minutes=1)
    run_while_another_transaction_waits(
        lambda: services.ticket_add_note(ticket, body="See the log", uploads=[held], actor=agent),
        lambda: attachments.held_remove(now=later),
    )
    attachment = Attachment.objects.get()
    assert attachment.file.storage.exists(attachment.file.name), "the attachment's file was deleted"


@pytest.mark.django_db(transaction=True)
def test_renaming_a_team_while_an_agent_moves_a_ticket_to_it_does_not_deadlock(client):
    """An administrator renames a team in the admin at the moment an agent moves a ticket to that team:
    both finish, one after the other. The agent's change holds the audit chain's lock until it commits,
    and committing checks that the ticket's new team exists (a key-share lock on the team's row); the
    rename changes a unique column, so its row lock (FOR UPDATE) blocks that check, and it then waits
    for the chain: PostgreSQL breaks the deadlock by failing one of them (a server error)."""
    ensure_roles()
    support, billing = TeamFactory(name="Support"), TeamFactory(name="Billing")
    agent = make_agent(support, billing)
    ticket = make_ticket(make_customer(), team=support)
    administrator = make_administrator()
    client.force_login(administrator)
    page = client.get(change_url(billing))
    assert page.status_code == 200
    data = form_data(page, name="Billing and invoices")
    errors: list[BaseException] = []
    responses = []

    other = in_another_thread(lambda: responses.append(client.post(change_url(billing), data)), errors)
    try:
        with transaction.atomic():
            services.ticket_update_fields(ticket, changes={"team": billing}, actor=agent)
            other.start()
            wait_until_another_waits_on_a_lock()
    except BaseException as error:
        errors.append(error)
    finally:
        other.join()
    assert errors == []
    assert [response.status_code for response in responses] == [302]
    assert Ticket.objects.get(pk=ticket.pk).team_id == billing.pk
