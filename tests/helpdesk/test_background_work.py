"""Background work and outgoing mail: tasks, the scheduler, the periodic jobs and the commands cron or
the worker runs, under races, bad settings and odd arguments."""

import contextlib
import os
import signal
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import OperationalError, connections, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks_db.models import DBTaskResult

from accounts import tasks as account_tasks
from accounts.models import User
from audit.models import SystemLogEntry
from audit.retention import prune_system_log
from helpdesk import scheduler
from helpdesk.mail import MAIL_RETRY_AFTER
from helpdesk.management.commands import scheduler as scheduler_command
from helpdesk.models import PeriodicTaskRun
from helpdesk.services import site_configuration_update
from tests.factories import TeamFactory, make_agent, make_customer, make_ticket
from tests.tickets.conftest import submission
from tickets import services as ticket_services
from tickets import tasks as ticket_tasks
from tickets.models import Ticket
from tickets.workflow import Status


def resolved_ticket(team, agent, customer) -> Ticket:
    ticket = make_ticket(customer, team=team)
    return ticket_services.ticket_transition(ticket, status=Status.RESOLVED, actor=agent)


# --- the auto-close job ------------------------------------------------------------------------


@pytest.mark.django_db
def test_auto_close_leaves_alone_a_ticket_the_customer_reopened_while_the_job_ran(monkeypatch):
    """The job reads the list of old resolved tickets once, then closes each; the System may close an
    open ticket, so one its customer reopened after the list was read must be checked again and left
    open (closed is final)."""
    team = TeamFactory()
    agent = make_agent(team)
    first_customer, second_customer = make_customer(), make_customer()
    first = resolved_ticket(team, agent, first_customer)
    second = resolved_ticket(team, agent, second_customer)
    requesters = {first.pk: first_customer, second.pk: second_customer}
    original = ticket_services.ticket_transition
    reopened = []

    def transition_after_a_customer_reopened_the_other(ticket, **kwargs):
        if not reopened:
            other_pk = next(pk for pk in requesters if pk != ticket.pk)
            other = Ticket.objects.get(pk=other_pk)
            original(other, status=Status.OPEN, actor=requesters[other_pk])  # the customer reopens it
            reopened.append(other_pk)
        return original(ticket, **kwargs)

    monkeypatch.setattr(ticket_services, "ticket_transition", transition_after_a_customer_reopened_the_other)
    closed = ticket_services.tickets_close_resolved(now=timezone.now() + timedelta(days=30))

    (other_pk,) = reopened
    assert Ticket.objects.get(pk=other_pk).status == Status.OPEN
    assert closed == 1


@pytest.mark.django_db
def test_auto_close_with_a_negative_days_setting_does_not_close_tickets_resolved_a_moment_ago(settings):
    """TICKET_AUTO_CLOSE_DAYS=-1 (a typo in the environment) would put the cut-off in the future and
    close every resolved ticket at once, for good: it is refused."""
    team = TeamFactory()
    agent = make_agent(team)
    ticket = resolved_ticket(team, agent, make_customer())
    settings.TICKET_AUTO_CLOSE_DAYS = -1
    with contextlib.suppress(Exception):  # refusing the bad setting is fine
        ticket_services.tickets_close_resolved(now=ticket.resolved_at - timedelta(seconds=1))
    assert Ticket.objects.get(pk=ticket.pk).status == Status.RESOLVED


# --- system log retention ----------------------------------------------------------------------


def log_entry(age: timedelta, message: str) -> SystemLogEntry:
    return SystemLogEntry.objects.create(
        level=30, logger="review", message=message, created_at=timezone.now() - age
    )


@pytest.mark.django_db
def test_a_negative_retention_setting_does_not_wipe_the_system_log(settings):
    """SYSTEM_LOG_RETENTION_DAYS=-1 would put the cut-off a day in the future and delete every entry,
    even the one logged a minute ago: it is refused."""
    settings.SYSTEM_LOG_RETENTION_DAYS = -1
    fresh = log_entry(timedelta(minutes=1), "a minute old")
    with contextlib.suppress(Exception):  # refusing the bad setting is fine
        prune_system_log()
    assert SystemLogEntry.objects.filter(pk=fresh.pk).exists()


@pytest.mark.django_db
def test_systemlog_prune_refuses_negative_days_and_deletes_nothing():
    """`systemlog_prune --days -5` is an error, not read as 0 (which deletes the whole log)."""
    kept = log_entry(timedelta(hours=1), "an hour old")
    with pytest.raises(CommandError):
        call_command("systemlog_prune", "--days", "-5")
    assert SystemLogEntry.objects.filter(pk=kept.pk).exists()


@pytest.mark.django_db
def test_systemlog_prune_with_a_huge_days_value_is_a_clear_error():
    """`systemlog_prune --days 1000000` (now - 1e6 days is before year 1) is a CommandError with a
    message and exit status 1, not an OverflowError traceback."""
    with pytest.raises(CommandError):
        call_command("systemlog_prune", "--days", "1000000")


# --- the scheduler command ---------------------------------------------------------------------


@pytest.fixture
def own_signal_handlers():
    """The scheduler command installs SIGTERM/SIGINT handlers; put pytest's back afterwards."""
    saved = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGTERM, saved[0])
    signal.signal(signal.SIGINT, saved[1])


@pytest.mark.parametrize("interval", ["0", "-1", "nan"])
def test_the_scheduler_refuses_an_interval_that_would_make_it_spin(
    monkeypatch, own_signal_handlers, interval
):
    """`scheduler --interval 0` (or negative, or nan) would never sleep: it would tick (an advisory lock
    and queries) in a tight loop, one CPU at 100 %. It is refused."""
    ticks = []

    def tick():
        ticks.append(1)
        if len(ticks) > 20:
            raise RuntimeError(f"ticked {len(ticks)} times without sleeping")
        return []

    monkeypatch.setattr(scheduler_command.scheduler, "tick", tick)
    monkeypatch.setattr(scheduler_command, "close_old_connections", lambda: None)
    with pytest.raises(CommandError):
        call_command("scheduler", "--interval", interval)


def test_the_scheduler_keeps_running_after_a_tick_fails(monkeypatch, own_signal_handlers):
    """One tick that raises (the database restarting: OperationalError) must not end `manage.py
    scheduler` and with it every periodic job: the loop logs the error and ticks again."""
    calls = []

    def tick():
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        os.kill(os.getpid(), signal.SIGTERM)  # the second tick happened: stop the loop
        return ["accounts.tasks.lift_expired_suspensions"]

    monkeypatch.setattr(scheduler_command.scheduler, "tick", tick)
    monkeypatch.setattr(scheduler_command, "close_old_connections", lambda: None)
    call_command("scheduler", "--interval", "1")
    assert len(calls) == 2


@pytest.mark.django_db
def test_a_tick_inside_a_transaction_that_rolls_back_leaves_neither_tasks_nor_runs():
    with pytest.raises(RuntimeError), transaction.atomic():
        assert scheduler.tick()
        raise RuntimeError("rolled back")
    assert not DBTaskResult.objects.exists()
    assert not PeriodicTaskRun.objects.exists()


@pytest.mark.django_db
def test_a_tick_while_another_scheduler_holds_the_lock_enqueues_nothing():
    other = connections.create_connection("default")
    try:
        other.set_autocommit(False)
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [scheduler.LOCK_KEY])
        assert scheduler.tick() == []
        assert not DBTaskResult.objects.exists()
    finally:
        other.rollback()
        other.close()
    assert sorted(scheduler.tick()) == sorted(scheduler.SCHEDULE)


# --- password reset mail -----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_password_reset_mail_is_plain_text_not_html_escaped():
    """The reset mail is plain text, but accounts/password_reset_subject.txt and _email.txt are
    rendered with autoescaping on (Django's own templates wrap them in {% autoescape off %}): a site
    named "Smith & Jones" is mailed as "Smith &amp; Jones", and O'Brien as "O&#x27;Brien"."""
    site_configuration_update(changes={"site_name": "Smith & Jones"}, actor=None)
    make_customer(email="obrien@example.org", name="O'Brien&Sons Dara", email_verified_at=timezone.now())
    account_tasks.send_password_reset_mail.call("obrien@example.org", domain="help.example", use_https=True)
    (message,) = mail.outbox
    assert message.subject == "Choose a new password for Smith & Jones"
    assert "Smith & Jones" in message.body
    assert "Hello O'Brien&Sons," in message.body
    assert "&amp;" not in message.body and "&#x27;" not in message.body


@pytest.mark.django_db
def test_a_reset_task_for_an_address_changed_or_deleted_before_it_ran_mails_nobody():
    moved = make_customer(email="old@example.org")
    gone = make_customer(email="gone@example.org")
    User.objects.filter(pk=moved.pk).update(email="new@example.org")
    gone.delete()
    account_tasks.send_password_reset_mail.call("old@example.org", domain="help.example", use_https=True)
    account_tasks.send_password_reset_mail.call("gone@example.org", domain="help.example", use_https=True)
    assert mail.outbox == []


@pytest.mark.django_db
def test_the_reset_link_uses_the_scheme_and_host_the_request_had():
    make_customer(email="someone@example.org")
    account_tasks.send_password_reset_mail.call("someone@example.org", domain="help.example", use_https=True)
    (message,) = mail.outbox
    assert "https://help.example/accounts/reset/" in message.body
    assert message.to == ["someone@example.org"]
    assert message.from_email == "Helpdesk <helpdesk@localhost>"


@pytest.mark.django_db
@pytest.mark.usefixtures("immediate_tasks")
def test_a_reset_typed_with_an_internationalised_domain_as_people_write_it_reaches_the_account(client):
    """Stored in the xn-- form sign-up asks for; typed as people read it (bücher.example): the same
    account, found, mailed (sign-in and lockouts compare the same key)."""
    user = make_customer(email="anna@xn--bcher-kva.example")
    client.post(reverse("accounts:password_reset"), {"email": "Anna@Bücher.example"})
    (message,) = mail.outbox
    assert message.to == [user.email]
    assert User.objects.with_email("anna@BÜCHER.example").get() == user
    assert not User.objects.with_email("anna@bu\u0308cher.examplé").exists()  # another domain


@pytest.mark.django_db
def test_the_confirmation_mail_and_the_receipt_name_the_site(client):
    """Anyone can type someone's address: whoever gets the mail must see which site it is from, as the
    reset mail says it."""
    site_configuration_update(changes={"site_name": "Acme Support", "anonymous_submission": True}, actor=None)
    user = make_customer(email="new@example.org")
    User.objects.filter(pk=user.pk).update(email_verified_at=None)
    assert account_tasks.send_email_verification_mail.call(user.pk, domain="help.example", use_https=True)
    ticket = make_ticket(make_customer(email="visitor@example.org"), subject="Printer")
    User.objects.filter(email="visitor@example.org").update(email_verified_at=timezone.now())
    ticket_tasks.send_submission_receipt.call(ticket.pk, portal_url="https://x/p", reset_url="https://x/r")
    User.objects.filter(email="visitor@example.org").update(email_verified_at=None)
    visitor = User.objects.get(email="visitor@example.org")
    typed = make_ticket(visitor, subject="Account locked: log in at x.example")
    ticket_tasks.send_submission_receipt.call(typed.pk, portal_url="https://x/p", reset_url="https://x/r")
    confirmation, receipt, unconfirmed = mail.outbox
    assert confirmation.subject == "Confirm your e-mail address for Acme Support"
    assert "your address at Acme Support" in confirmation.body
    assert receipt.subject == f"[{ticket.reference}] Acme Support received your request"
    assert f"Acme Support received your request {ticket.reference}" in receipt.body
    # To any address, a confirmed one's too, the visitor's own words stay out of the subject: anyone could
    # otherwise send "Account locked: log in at …" by the site's mail.
    assert unconfirmed.subject == f"[{typed.reference}] Acme Support received your request"


# --- address confirmation mail -----------------------------------------------------------------


@pytest.mark.django_db
def test_a_confirmation_task_for_a_deleted_account_sends_nothing_and_does_not_fail():
    user = make_customer(email="bye@example.org")
    pk = user.pk
    user.delete()
    assert account_tasks.send_email_verification_mail.call(pk, domain="help.example", use_https=True) is False
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_confirmation_task_after_an_address_change_mails_the_current_address_only():
    user = make_customer(email="before@example.org", name="Zoë&“Ünïcode”<Ñame> Other")
    User.objects.filter(pk=user.pk).update(email="after@example.org")
    assert account_tasks.send_email_verification_mail.call(user.pk, domain="help.example", use_https=True)
    (message,) = mail.outbox
    assert message.to == ["after@example.org"]
    assert "before@example.org" not in message.body
    assert "https://help.example/" in message.body
    assert message.body.startswith("Hello,\n")  # an address not confirmed: no name a stranger chose


@pytest.mark.django_db
def test_the_confirmation_task_result_holds_no_link_or_token():
    user = make_customer(email="check@example.org")
    result = account_tasks.send_email_verification_mail.enqueue(
        user.pk, domain="help.example", use_https=True
    )
    row = DBTaskResult.objects.get(id=result.id)
    assert row.args_kwargs == {"args": [user.pk], "kwargs": {"domain": "help.example", "use_https": True}}


# --- the submission receipt --------------------------------------------------------------------


@pytest.fixture
def anonymous_site(db):
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)


@pytest.mark.usefixtures("immediate_tasks")  # the receipt is a task
@pytest.mark.django_db
def test_no_receipt_when_the_submission_transaction_rolls_back(
    anonymous_site, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks(execute=True)
    with capture, pytest.raises(RuntimeError), transaction.atomic():
        ticket = ticket_services.ticket_submit_anonymous(
            email="visitor@example.org", name="Visitor", subject="Help", description="Please."
        )
        ticket_services.send_submission_receipt(ticket, portal_url="https://h/p", reset_url="https://h/r")
        raise RuntimeError("something later failed")
    assert mail.outbox == []
    assert not Ticket.objects.exists()


@pytest.mark.usefixtures("immediate_tasks")  # the receipt is a task
@pytest.mark.django_db
def test_a_receipt_for_a_long_unicode_subject_with_line_breaks_has_one_header_line(
    anonymous_site, django_capture_on_commit_callbacks
):
    subject = "Ünïcödé ☃ " * 30 + "\r\nBcc: evil@example.org\nX-Injected: yes"
    with django_capture_on_commit_callbacks(execute=True):
        ticket = ticket_services.ticket_submit_anonymous(
            email="visitor@example.org", name="Zoë " * 35, subject=subject, description="Please."
        )
        ticket_services.send_submission_receipt(ticket, portal_url="https://h/p", reset_url="https://h/r")
    (message,) = mail.outbox
    assert "\n" not in message.subject and "\r" not in message.subject
    assert message.bcc == [] and message.to == ["visitor@example.org"]
    rendered = message.message()
    assert rendered["Bcc"] is None and rendered["X-Injected"] is None
    assert rendered.as_bytes()  # serialises (long unicode header folded and encoded)


@pytest.mark.django_db
def test_a_receipt_waits_in_the_queue_until_a_worker_sends_it(
    anonymous_site, client, django_capture_on_commit_callbacks
):
    """The receipt, the visitor's only copy of their reference, is a task enqueued once the ticket is
    committed: the page never waits on the mail server, and a server that is down loses nothing."""
    from django.urls import reverse

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("tickets:portal_submit"), submission(name="Visitor", email="visitor@example.org")
        )
    assert response.status_code == 302 and mail.outbox == []
    (waiting,) = DBTaskResult.objects.filter(task_path="tickets.tasks.send_submission_receipt")
    assert waiting.status == "READY"
    assert waiting.args_kwargs["args"] == [Ticket.objects.get().pk]


@pytest.mark.django_db
def test_a_mail_server_that_is_down_is_tried_again_later(anonymous_site, monkeypatch, settings):
    """Refused by the mail server, the receipt task enqueues itself for a minute later (then ten, an
    hour, six hours) and only then fails, its result kept for the admins; once the server answers, the
    receipt goes out."""
    from tickets import tasks as ticket_tasks

    ticket = ticket_services.ticket_submit_anonymous(
        email="visitor@example.org", name="Visitor", subject="Help", description="Please."
    )

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr(ticket_tasks, "send_automatic", refuse)
    urls = {"portal_url": "https://h/p", "reset_url": "https://h/r"}
    assert ticket_tasks.send_submission_receipt.call(ticket.pk, **urls) is False
    (retry,) = DBTaskResult.objects.filter(task_path="tickets.tasks.send_submission_receipt")
    assert retry.args_kwargs["kwargs"]["attempt"] == 1
    assert timedelta(seconds=50) < retry.run_after - timezone.now() <= timedelta(minutes=1)
    last = len(MAIL_RETRY_AFTER)
    with pytest.raises(ConnectionRefusedError):
        ticket_tasks.send_submission_receipt.call(ticket.pk, attempt=last, **urls)

    monkeypatch.undo()
    assert ticket_tasks.send_submission_receipt.call(ticket.pk, attempt=1, **urls) is True
    assert mail.outbox[0].to == ["visitor@example.org"]


# --- housekeeping jobs -------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_periodic_jobs_clear_expired_sessions():
    """Sessions are database rows that keep each visitor's IP address and user agent, one per anonymous
    submission too: a scheduled job deletes the expired ones."""
    from accounts.models import UserSession

    expired = UserSession.objects.create(
        session_key="x" * 32,
        session_data="",
        expire_date=timezone.now() - timedelta(days=30),
        ip="203.0.113.9",
    )
    for path in scheduler.SCHEDULE:  # everything the scheduler would ever enqueue, run at once
        import_string(path).call()
    assert not UserSession.objects.filter(pk=expired.pk).exists()


@pytest.mark.django_db
def test_prune_task_results_forgets_old_results_but_keeps_recent_failures_and_pending_work():
    from helpdesk.tasks import prune_task_results

    def result(status: str, age_days: int) -> DBTaskResult:
        row = account_tasks.lift_expired_suspensions.enqueue()
        finished = timezone.now() - timedelta(days=age_days) if status != "READY" else None
        DBTaskResult.objects.filter(id=row.id).update(status=status, finished_at=finished)
        return DBTaskResult.objects.get(id=row.id)

    old_success, old_failure = result("SUCCESSFUL", 15), result("FAILED", 31)
    recent_failure, pending = result("FAILED", 15), result("READY", 0)
    prune_task_results.call()
    assert set(DBTaskResult.objects.values_list("id", flat=True)) == {recent_failure.id, pending.id}
    assert not DBTaskResult.objects.filter(id__in=[old_success.id, old_failure.id]).exists()


@pytest.mark.usefixtures("immediate_tasks")  # the receipt is a task
@pytest.mark.django_db
def test_no_receipt_to_a_requester_suspended_before_it_was_sent(
    anonymous_site, django_capture_on_commit_callbacks
):
    """A visitor typed someone else's address to have the site mail them; the administrator suspended the
    pending account it made. The queued receipt (and its retries, hours later) stop there."""
    from accounts import services as account_services

    ticket = ticket_services.ticket_submit_anonymous(
        email="someone.else@example.org",
        name="Buy now",
        subject="Buy now http://spam.example",
        description=".",
    )
    account_services.user_suspend(ticket.requester, until=None, reason="Spam", actor=None)
    with django_capture_on_commit_callbacks(execute=True) as enqueued:
        ticket_services.send_submission_receipt(ticket, portal_url="https://h/p", reset_url="https://h/r")
    assert len(enqueued) == 1 and mail.outbox == []


@pytest.mark.usefixtures("immediate_tasks")
@pytest.mark.django_db
def test_a_subject_cannot_reorder_what_the_receipt_says_with_direction_controls(
    anonymous_site, django_capture_on_commit_callbacks
):
    """ "Invoice \u202efdp.exe" reads "Invoice exe.pdf" in a mail client: the subject a stranger chooses
    goes into a header the site sends; direction controls are not kept (helpdesk.forms.one_line)."""
    with django_capture_on_commit_callbacks(execute=True):
        ticket = ticket_services.ticket_submit_anonymous(
            email="visitor@example.org",
            name="Visitor",
            subject="Invoice \u202efdp.exe\u202c",
            description=".",
        )
        ticket_services.send_submission_receipt(ticket, portal_url="https://h/p", reset_url="https://h/r")
    (message,) = mail.outbox
    assert ticket.subject == "Invoice fdp.exe"
    # Nor does the receipt to an address nobody has confirmed carry the stranger's words at all.
    assert message.subject == f"[{ticket.reference}] Helpdesk received your request"
