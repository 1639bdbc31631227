"""Background tasks and operator commands: the periodic jobs, mail that must not be lost, kb_import's
formats, demo_load and its reset, and every command's --help and refusals."""

import smtplib
from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command, get_commands
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks_db.models import DBTaskResult

from accounts import services as account_services
from accounts import tasks as account_tasks
from accounts.models import User
from audit.models import AuditEvent
from helpdesk import scheduler
from knowledge import services as kb_services
from knowledge.models import Article, ArticleFeedback
from tests.conftest import manage
from tests.factories import (
    TEST_PASSWORD,
    TeamFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_resolved_ticket,
)
from tickets import services as ticket_services
from tickets.models import Ticket, TicketActivity
from tickets.workflow import Status

OUR_APPS = ("accounts", "tickets", "knowledge", "audit", "helpdesk")


def run(command: str, *args) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


# --- retention: what the periodic jobs clean up ---------------------------------------------------------


@pytest.mark.django_db
def test_sign_in_records_with_ip_and_browser_are_not_kept_for_ever(client, clock):
    """A sign-in leaves its IP address and browser in the audit trail, not in a second copy (axes'
    access log, which nothing pruned); failed attempts, and access-log rows from before, are pruned by
    the periodic jobs after a month, while a recent failure (a lockout's count) stays."""
    from axes.models import AccessAttempt, AccessLog

    customer = make_customer(email="jo@example.org")
    response = client.post("/accounts/login/", {"username": customer.email, "password": TEST_PASSWORD})
    assert response.status_code == 302
    assert not AccessLog.objects.exists()
    assert AuditEvent.objects.filter(action="login", actor=customer).exclude(ip=None).exists()
    client.logout()
    client.post("/accounts/login/", {"username": customer.email, "password": "wrong"})
    AccessLog.objects.create(username=customer.email, ip_address="192.0.2.7", user_agent="Old browser")
    assert AccessAttempt.objects.count() == 1
    clock.shift(timedelta(days=31))
    client.post("/accounts/login/", {"username": "other@example.org", "password": "wrong"})
    for path in scheduler.SCHEDULE:  # everything the scheduler would ever enqueue
        import_string(path).call()
    assert not AccessLog.objects.exists()
    assert list(AccessAttempt.objects.values_list("username", flat=True)) == ["other@example.org"]


@pytest.mark.django_db
def test_expired_sessions_are_cleared_and_live_ones_kept():
    """Clear_expired_sessions deletes only sessions past their expiry."""
    from accounts.models import UserSession

    now = timezone.now()
    expired = UserSession.objects.create(
        session_key="e" * 32, session_data="", expire_date=now - timedelta(1)
    )
    live = UserSession.objects.create(session_key="l" * 32, session_data="", expire_date=now + timedelta(1))
    assert account_tasks.clear_expired_sessions.call() == 1
    assert not UserSession.objects.filter(pk=expired.pk).exists()
    assert UserSession.objects.filter(pk=live.pk).exists()


# --- auto-close --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_auto_close_keeps_a_change_made_between_selection_and_close(monkeypatch):
    """An agent raises the priority of a due ticket after the job listed it and before it closes
    it; the close must not write the old priority back (no lost update), and the version moves on."""
    team = TeamFactory()
    agent, customer = make_agent(team), make_customer()
    ticket = make_resolved_ticket(team, agent, customer, ago=timedelta(days=30))
    original = ticket_services.ticket_transition
    done = []

    def change_first(stale, **kwargs):
        if not done:
            done.append(True)
            ticket_services.ticket_update_fields(
                Ticket.objects.get(pk=stale.pk), changes={"priority": "urgent"}, actor=agent
            )
        return original(stale, **kwargs)

    monkeypatch.setattr(ticket_services, "ticket_transition", change_first)
    version = Ticket.objects.get(pk=ticket.pk).version
    assert ticket_services.tickets_close_resolved() == 1
    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.status, stored.priority) == (Status.CLOSED, "urgent")
    assert stored.version == version + 2


@pytest.mark.django_db
def test_auto_close_leaves_deleted_and_merged_tickets_as_they_are():
    """A soft-deleted resolved ticket is not closed; a merged ticket is not closed twice."""
    team = TeamFactory()
    agent, customer = make_agent(team), make_customer()
    deleted = make_resolved_ticket(team, agent, customer, ago=timedelta(days=30))
    ticket_services.ticket_delete(deleted, actor=make_administrator())
    assert ticket_services.tickets_close_resolved() == 0
    assert Ticket.objects.get(pk=deleted.pk).status == Status.RESOLVED
    assert not TicketActivity.objects.filter(ticket=deleted, new_value="closed").exists()


# --- suspension lift --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_suspension_renewed_before_the_job_runs_holds():
    """Suspended until an hour ago, then suspended again for a week by an administrator before the
    job ran: the job must not lift the new suspension."""
    admin = make_administrator()
    customer = make_customer()
    account_services.user_suspend(
        customer, until=timezone.now() + timedelta(hours=1), reason="a", actor=admin
    )
    User.objects.filter(pk=customer.pk).update(suspended_until=timezone.now() - timedelta(hours=1))
    customer = User.objects.get(pk=customer.pk)
    account_services.user_suspend(customer, until=timezone.now() + timedelta(days=7), reason="b", actor=admin)
    assert account_services.suspensions_lift_expired() == 0
    assert User.objects.get(pk=customer.pk).status == User.Status.SUSPENDED
    assert account_services.suspensions_lift_expired(now=timezone.now() + timedelta(days=8)) == 1
    assert account_services.suspensions_lift_expired(now=timezone.now() + timedelta(days=8)) == 0
    assert AuditEvent.objects.filter(action="activate", object_id=str(customer.pk)).count() == 1


# --- mail tasks and a failing mail server -------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["changed notice", "change link", "confirmation", "password reset"])
def test_account_mail_survives_a_mail_server_that_is_down(monkeypatch, kind):
    """After an e-mail change the old address is told, which is how an owner whose account was taken over
    hears of it; a change link, an address confirmation and a reset link are what their owner waits for.
    A mail server that is down is tried again a minute later with the same arguments (mail_or_retry, as
    the receipt is); before the fix the task raised, nothing was enqueued again, and the mail was lost."""
    customer = make_customer(email="new@example.org")
    User.objects.filter(pk=customer.pk).update(email_verified_at=None)
    site = {"domain": "help.example.com", "use_https": True}
    if kind == "change link":
        account_services.user_email_change_request(
            customer, new_email="newer@example.org", password=TEST_PASSWORD, actor=customer, **site
        )
    calls = {
        "changed notice": (account_tasks.send_email_changed_notice, (customer.pk, "old@example.org"), {}),
        "change link": (account_tasks.send_email_change_mail, (None,), site),
        "confirmation": (account_tasks.send_email_verification_mail, (customer.pk,), site),
        "password reset": (account_tasks.send_password_reset_mail, (customer.email,), site),
    }
    task, args, kwargs = calls[kind]
    if kind == "change link":
        from accounts.models import EmailChangeRequest

        args = (EmailChangeRequest.objects.get().pk,)
        DBTaskResult.objects.all().delete()  # the request enqueued the first sending itself

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr("django.core.mail.message.EmailMessage.send", refuse)
    task.call(*args, **kwargs)
    (retry,) = DBTaskResult.objects.filter(task_path=f"accounts.tasks.{task.func.__name__}")
    assert retry.args_kwargs["kwargs"]["attempt"] == 1
    assert list(retry.args_kwargs["args"]) == list(args)
    assert timedelta(seconds=50) < retry.run_after - timezone.now() <= timedelta(minutes=1)


@pytest.mark.django_db
def test_the_receipt_retry_sends_once_when_the_server_answers(monkeypatch):
    """A refused receipt is re-enqueued once (not twice), and the retry sends exactly one mail."""
    from helpdesk.services import site_configuration_update
    from tickets import tasks as ticket_tasks

    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    ticket = ticket_services.ticket_submit_anonymous(
        email="visitor@example.org", name="Visitor", subject="Help", description="Please."
    )
    urls = {"portal_url": "https://h/p", "reset_url": "https://h/r"}
    down = lambda *a, **k: (_ for _ in ()).throw(OSError("down"))  # noqa: E731
    monkeypatch.setattr(ticket_tasks, "send_automatic", down)
    assert ticket_tasks.send_submission_receipt.call(ticket.pk, **urls) is False
    assert DBTaskResult.objects.filter(task_path="tickets.tasks.send_submission_receipt").count() == 1
    monkeypatch.undo()
    assert ticket_tasks.send_submission_receipt.call(ticket.pk, attempt=1, **urls) is True
    assert len(mail.outbox) == 1


# --- commands: --help and bad arguments ---------------------------------------------------------------


def our_commands() -> list[str]:
    return sorted(name for name, app in get_commands().items() if app in OUR_APPS or app.startswith(OUR_APPS))


@pytest.mark.django_db(transaction=True, databases=["default", "system_log"])
@pytest.mark.parametrize("command", our_commands())
def test_help_works_for_every_command(capsys, command):
    """`manage.py COMMAND --help` prints the usage and exits 0."""
    status, out, err = manage(capsys, command, "--help")
    assert status == 0, err
    assert "usage:" in out


@pytest.mark.django_db(transaction=True, databases=["default", "system_log"])
@pytest.mark.parametrize(
    "args",
    [
        ("kb_import", "/nonexistent/articles.jsonl"),
        ("kb_import",),
        ("kb_export", "/nonexistent/dir/out.jsonl"),
        ("kb_import", ".", "--status", "bogus"),
        ("audit_prune", "--before", "2999-01-01"),
        ("site_config", "set", "custom.", "1"),
        ("site_config", "set", "site_name", "   "),
        ("site_config", "set", "default_team", "no-such-team"),
        ("site_config", "set", "default_ticket_priority", "whenever"),
        ("site_config", "set", "custom_settings", "[1, 2]"),
        ("site_config", "frobnicate"),
        ("demo_dates", "--fixture", "/etc"),
    ],
)
def test_bad_arguments_exit_non_zero_with_a_message(capsys, args):
    """A clear message on stderr and a non-zero exit, never a traceback."""
    status, out, err = manage(capsys, *args)
    assert status != 0, out
    assert err.strip()
    assert "Traceback" not in err, err[-2000:]


@pytest.mark.django_db(transaction=True, databases=["default", "system_log"])
def test_kb_import_of_a_json_array_file_refuses_the_format_instead_of_importing_a_random_part(
    tmp_path, capsys
):
    """An operator points kb_import at articles.json, a pretty-printed JSON array of three articles (not
    the .jsonl or .md the command reads): refused whole as a JSON array, with what to give instead, a
    non-zero exit and nothing imported. Before the fix each line was tried as a record: the first two
    (trailing commas) were "invalid JSON", the last one parsed and was imported and published."""
    source = tmp_path / "articles.json"
    source.write_text(
        "[\n"
        '  {"slug": "first", "title": "First", "body": "One."},\n'
        '  {"slug": "second", "title": "Second", "body": "Two."},\n'
        '  {"slug": "third", "title": "Third", "body": "Three."}\n'
        "]\n",
        encoding="utf-8",
    )
    status, out, err = manage(capsys, "kb_import", str(source))
    assert status != 0
    assert "is a JSON array; give JSON Lines instead" in out + err
    assert "Traceback" not in err
    imported = sorted(Article.objects.values_list("slug", flat=True))
    assert imported == [], f"imported {imported} out of a JSON array; stderr: {err.strip()}"


# --- demo_load ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_demo_reset_after_auto_close_puts_the_demo_tickets_back(clock):
    """A month later the scheduler has auto-closed the demo's resolved tickets; `make demo-reset`
    puts them back as the fixture has them (not closed) and keeps no closing activity."""
    run("demo_load")
    demo = Ticket.objects.filter(number__range=(901, 936))
    before = dict(demo.values_list("number", "status"))
    entries = TicketActivity.objects.filter(ticket__in=demo).count()
    assert Status.RESOLVED in before.values()
    clock.shift(timedelta(days=30))
    assert ticket_services.tickets_close_resolved() >= 1
    run("demo_load", "--reset")
    assert dict(demo.values_list("number", "status")) == before
    assert TicketActivity.objects.filter(ticket__in=demo).count() == entries


@pytest.mark.django_db
def test_demo_reset_removes_the_votes_its_article_counters_no_longer_count():
    """`make demo-reset` promises the demo's articles as the fixture has them (no votes, counters at 0).
    A customer voted "helpful" on a demo article before the reset: after it the vote is gone with the
    count. Before the fix the vote stayed while the counter went back to 0, and the next vote anyone cast
    recounted and jumped the counter by two."""
    run("demo_load")
    article = Article.objects.filter(status=Article.Status.PUBLISHED).order_by("slug").first()
    customer = User.objects.get(email="customer@example.com")
    kb_services.article_vote(article, helpful=True, user=customer)
    assert Article.objects.get(pk=article.pk).helpful_count == 1
    run("demo_load", "--reset")
    article = Article.objects.get(pk=article.pk)
    votes = ArticleFeedback.objects.filter(article=article, helpful=True).count()
    assert article.helpful_count == votes, (article.helpful_count, votes)


@pytest.mark.django_db
def test_demo_load_twice_changes_no_row():
    """A second demo_load writes nothing (same tickets, versions, users, audit trail)."""
    run("demo_load")
    snapshot = (
        list(Ticket.objects.order_by("pk").values_list("pk", "status", "version", "updated_at")),
        list(User.objects.order_by("pk").values_list("pk", "password", "status")),
        AuditEvent.objects.count(),
    )
    run("demo_load")
    assert snapshot == (
        list(Ticket.objects.order_by("pk").values_list("pk", "status", "version", "updated_at")),
        list(User.objects.order_by("pk").values_list("pk", "password", "status")),
        AuditEvent.objects.count(),
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("refusal", "tried_again"),
    [
        (smtplib.SMTPRecipientsRefused({"gone@example.org": (550, b"5.1.1 No such user")}), False),
        (smtplib.SMTPDataError(554, b"5.7.1 Message refused"), False),
        (smtplib.SMTPRecipientsRefused({"busy@example.org": (450, b"4.2.1 Mailbox busy")}), True),
        (smtplib.SMTPAuthenticationError(535, b"5.7.8 Bad credentials"), True),  # the operator mends it
        (ConnectionRefusedError("mail server down"), True),
    ],
)
def test_a_mail_refused_for_good_is_not_tried_again_for_hours(monkeypatch, refusal, tried_again):
    """A 5xx answer about the mail itself ("550 no such user") is final: trying again four times over
    seven hours only repeats it. The task fails at once, its result keeping the error for the
    administrators; a busy mailbox, a refused sign-in and a server that is down are tried again."""
    customer = make_customer(email="gone@example.org")

    def refuse(*args, **kwargs):
        raise refusal

    monkeypatch.setattr("django.core.mail.message.EmailMessage.send", refuse)
    site = {"domain": "help.example.com", "use_https": True}
    if tried_again:
        assert account_tasks.send_email_verification_mail.call(customer.pk, **site) is False
    else:
        with pytest.raises(type(refusal)):
            account_tasks.send_email_verification_mail.call(customer.pk, **site)
    retried = DBTaskResult.objects.filter(task_path="accounts.tasks.send_email_verification_mail").exists()
    assert retried is tried_again
