"""Two people at the same moment, and a change refused halfway: the rules hold, nothing is lost,
nothing is left behind, and the loser gets a message rather than a server error."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from accounts import services as account_services
from accounts.models import User
from helpdesk.models import SiteConfiguration
from tests.concurrency import (
    in_another_thread,
    run_while_another_transaction_waits,
    wait_until_another_waits_on_a_lock,
)
from tests.factories import TeamFactory, ensure_roles, make_agent, make_customer, make_ticket
from tickets import attachments, services
from tickets.models import SavedView, Ticket
from tickets.workflow import Status


def stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


@pytest.mark.django_db(transaction=True)
def test_a_bulk_add_tag_keeps_a_tag_a_colleague_added_at_the_same_moment():
    """The bulk action works out the ticket's tags under its row lock, not from those read before it."""
    ensure_roles()
    team = TeamFactory()
    agent, colleague = make_agent(team), make_agent(team)
    ticket = make_ticket(make_customer(), team=team)
    run_while_another_transaction_waits(
        lambda: services.ticket_set_tags(ticket, names=["urgent"], actor=colleague),
        lambda: services.tickets_bulk_apply([Ticket.objects.get(pk=ticket.pk)], action="add_tag",
                                            value="vip", actor=agent),
    )  # fmt: skip
    assert sorted(Ticket.objects.get(pk=ticket.pk).tags.values_list("name", flat=True)) == ["urgent", "vip"]


@pytest.mark.django_db(transaction=True)
def test_a_view_saved_twice_at_once_is_refused_the_second_time_with_a_message():
    """A double-clicked "Save view": the second is refused beside the name, not a server error."""
    ensure_roles()
    agent = make_agent(TeamFactory())
    refused = []

    def second() -> None:
        try:
            services.saved_view_create(name="Mine", query="status=open", team=None, actor=agent)
        except ValidationError as error:
            refused.append(error.message_dict)

    run_while_another_transaction_waits(
        lambda: services.saved_view_create(name="Mine", query="status=open", team=None, actor=agent), second
    )
    assert refused == [{"name": [services.SAVED_VIEW_EXISTS.format(name="Mine")]}]
    assert SavedView.objects.filter(owner=agent, name="Mine").count() == 1


@pytest.mark.django_db(transaction=True)
def test_suspending_an_agent_while_their_ticket_change_commits_does_not_deadlock():
    """The agent's change holds the audit chain's lock until it commits, and committing checks that its
    rows' actor still exists (a key-share lock on the agent's row); the suspension locks that row and
    then waits for the chain. Both finish, one after the other: the suspension's lock does not block
    a key-share lock (FOR NO KEY UPDATE), so PostgreSQL finds no deadlock to break."""
    ensure_roles()
    team = TeamFactory()
    agent = make_agent(team)
    ticket = make_ticket(make_customer(), team=team)
    errors: list[BaseException] = []

    other = in_another_thread(
        lambda: account_services.user_suspend(
            User.objects.get(pk=agent.pk), until=None, reason="Left", actor=None
        ),
        errors,
    )
    try:
        with transaction.atomic():
            services.ticket_transition(ticket, status=Status.PENDING, actor=agent)
            other.start()
            wait_until_another_waits_on_a_lock()
    except BaseException as error:
        errors.append(error)
    finally:
        other.join()
    assert errors == []
    assert Ticket.objects.get(pk=ticket.pk).status == Status.PENDING
    assert User.objects.get(pk=agent.pk).status == User.Status.SUSPENDED


@pytest.mark.django_db(transaction=True)
def test_an_anonymous_request_racing_a_sign_up_with_its_address_is_not_filed_under_the_new_account():
    """Whoever signs up with an address (open sign-up, unverified) has not shown they read that
    mailbox: a request sent from it at the same moment asks its sender to sign in, as it would have had
    the account been found first, rather than filing it under that account."""
    ensure_roles()
    configuration = SiteConfiguration.objects.get_current()
    SiteConfiguration.objects.filter(pk=configuration.pk).update(anonymous_submission=True)
    cache.clear()  # the configuration as it is now, not as a factory read it
    outcome = []

    def submit() -> None:
        try:
            services.ticket_submit_anonymous(
                email="x@example.org", name="Visitor", subject="My invoice", description="Details."
            )
        except ValidationError as error:
            outcome.append(error.message_dict)

    run_while_another_transaction_waits(
        lambda: account_services.user_signup(
            email="x@example.org", name="Someone", password="correct-horse-battery-staple",
            open_signup=True, actor=None,
        ),
        submit,
    )  # fmt: skip
    assert outcome == [{"email": [services.SIGN_IN_TO_SUBMIT]}]
    assert not Ticket.objects.filter(requester__email="x@example.org").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("note", [False, True])
def test_a_status_the_workflow_refuses_on_send_leaves_no_file_in_storage(note):
    """A reply (or note) to a resolved ticket with "then set status: Pending" and a file: the move is
    refused before anything is written, so no file stays in storage with no attachment pointing at it."""
    team = TeamFactory()
    agent = make_agent(team)
    ticket = make_ticket(make_customer(), team=team)
    services.ticket_transition(ticket, status=Status.RESOLVED, actor=agent)
    ticket.refresh_from_db()
    send = services.ticket_add_note if note else services.ticket_reply
    upload = SimpleUploadedFile("notes.txt", b"plain text\n", content_type="text/plain")
    with pytest.raises(services.TransitionRefused):
        send(ticket, body="See the log", uploads=[upload], status_after=Status.PENDING, actor=agent,
             expected_version=ticket.version)  # fmt: skip
    assert stored_files() == []


@pytest.mark.django_db
def test_files_a_rolled_back_transaction_stored_are_swept_once_old_and_attachments_stay():
    """A transaction that stored a file and then rolled back (a crash before its commit) leaves the file
    with no attachment: the daily sweep deletes it once older than the grace period, and never the
    file of a committed attachment or one young enough to belong to a transaction still running."""
    team = TeamFactory()
    agent = make_agent(team)
    ticket = make_ticket(make_customer(), team=team)
    kept = services.ticket_add_note(
        ticket, body="Log", actor=agent, uploads=[SimpleUploadedFile("kept.txt", b"kept\n")]
    ).attachments.get()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.ticket_add_note(
            ticket, body="Log", actor=agent, uploads=[SimpleUploadedFile("lost.txt", b"x\n")]
        )
        raise RuntimeError("the process died before the commit")
    assert len(stored_files()) == 2

    assert attachments.orphans_remove() == []  # younger than the grace: perhaps still committing
    later = timezone.now() + attachments.ORPHAN_GRACE + timedelta(minutes=1)
    [removed] = attachments.orphans_remove(now=later)
    assert stored_files() == [Path(settings.MEDIA_ROOT) / kept.file.name]
    assert removed != kept.file.name
    assert attachments.orphans_remove(now=later) == []
    assert kept.file.open("rb").read() == b"kept\n"
