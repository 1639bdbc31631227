"""Races with real threads and real PostgreSQL transactions: taking, editing, merging, replying and
closing at once, double deletes, votes, imports of one file at once, downloads, invitations, the audit
chain and numbering. Each ends with consistent data, the loser told, nothing lost and no server error."""

import json
import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Invitation, User
from audit.models import AuditEvent
from knowledge import services as knowledge_services
from knowledge.importing import import_articles
from knowledge.models import Article, ArticleFeedback, Category
from tests.concurrency import in_another_thread, run_while_another_transaction_waits
from tests.factories import (
    InvitationFactory,
    OrganizationFactory,
    SavedViewFactory,
    TeamFactory,
    ensure_roles,
    make_agent,
    make_article,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tests.tickets.conftest import fresh, notes, page_text
from tickets import services
from tickets.models import Attachment, SavedView, Ticket, TicketActivity, TicketMessage
from tickets.views import desk
from tickets.workflow import Status

RACE = pytest.mark.django_db(transaction=True)


def desk_setup():
    ensure_roles()
    team = TeamFactory()
    agent, colleague = make_agent(team, name="Alex Agent"), make_agent(team, name="Casey Colleague")
    customer = make_customer()
    ticket = make_ticket(customer, team=team)
    return team, agent, colleague, customer, ticket


def run_together(works):
    """Start every work in its own thread at one barrier; the errors raised."""
    barrier = threading.Barrier(len(works))
    errors: list[BaseException] = []

    def wrapped(work):
        def run():
            barrier.wait(timeout=10)
            work()

        return run

    threads = [in_another_thread(wrapped(work), errors) for work in works]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


# --- Two agents take the same ticket -------------------------------------------------------------


@RACE
def test_two_agents_taking_the_same_ticket_at_once_one_wins_and_the_other_is_told(client):
    """Both pressed "Take it" on the same page version: the first keeps it, the second gets the stale
    message (409) and the ticket is not silently reassigned to them."""
    _, agent, colleague, _, ticket = desk_setup()
    version = ticket.version
    client.force_login(colleague)
    responses = []
    run_while_another_transaction_waits(
        lambda: services.ticket_assign(
            Ticket.objects.get(pk=ticket.pk), assignee=agent, actor=agent, expected_version=version, seen=True
        ),
        lambda: responses.append(
            client.post(reverse("tickets:desk_update", args=[ticket.number]),
                        {"field": "take", "version": version}, headers={"HX-Request": "true"})
        ),
    )  # fmt: skip
    assert responses[0].status_code == 409
    assert desk.EDIT_STALE in page_text(responses[0])
    assert fresh(ticket).assignee_id == agent.pk
    assert TicketActivity.objects.filter(ticket=ticket, action=TicketActivity.Action.ASSIGNEE).count() == 1


# --- Inline edit against a bulk action -----------------------------------------------------------


@RACE
def test_a_bulk_status_change_racing_an_inline_priority_edit_refuses_the_bulk_one_for_that_ticket(client):
    """An inline priority edit commits while a bulk "pending" from a queue read before runs: the bulk
    action reports that ticket as changed meanwhile, the inline edit stays, and nothing is a 500."""
    _, agent, colleague, _, ticket = desk_setup()
    version = ticket.version
    client.force_login(colleague)
    responses = []
    run_while_another_transaction_waits(
        lambda: services.ticket_update_fields(
            Ticket.objects.get(pk=ticket.pk), changes={"priority": "urgent"}, actor=agent,
            expected_version=version,
        ),
        lambda: responses.append(
            client.post(reverse("tickets:desk_bulk"),
                        {"tickets": [f"{ticket.pk}:{version}"], "action": "status:pending"})
        ),
    )  # fmt: skip
    assert responses[0].status_code == 302
    stale = services.BULK_STALE.format(ticket=ticket.reference)
    assert notes(responses[0]) == [f"{ticket.reference} was not changed: {stale}"]
    stored = fresh(ticket)
    assert (stored.priority, stored.status) == ("urgent", Status.NEW)


@RACE
def test_an_inline_edit_racing_a_bulk_assign_is_refused_as_stale(client):
    """A bulk "assign to me" commits while a colleague's inline priority edit (same page version) waits:
    the edit is refused with the stale message; the assignment stays."""
    _, agent, colleague, _, ticket = desk_setup()
    version = ticket.version
    client.force_login(colleague)
    responses = []
    run_while_another_transaction_waits(
        lambda: services.tickets_bulk_apply(
            [Ticket.objects.get(pk=ticket.pk)], action="assign_me", value="", actor=agent,
            versions={ticket.pk: version},
        ),
        lambda: responses.append(
            client.post(reverse("tickets:desk_update", args=[ticket.number]),
                        {"field": "priority", "value": "high", "version": version})
        ),
    )  # fmt: skip
    assert responses[0].status_code == 409
    assert desk.EDIT_STALE_CHOSEN.format(chosen="High") in page_text(responses[0])
    stored = fresh(ticket)
    assert stored.assignee_id == agent.pk and stored.priority != "high"


# --- Merge against a reply on the source ---------------------------------------------------------


@RACE
def test_a_merge_racing_a_customer_reply_on_the_source_is_refused_and_the_reply_kept(client):
    """The customer's reply on the source commits while the agent merges from a page read before: the
    merge is refused (the agent has not seen the reply), the reply is on the source, nothing lost."""
    team, _, _, customer, source = desk_setup()
    supervisor = make_supervisor(team)
    target = make_ticket(customer, team=team, subject="Same printer")
    version = source.version
    client.force_login(supervisor)
    responses = []
    run_while_another_transaction_waits(
        lambda: services.ticket_reply(Ticket.objects.get(pk=source.pk), body="Still burning", actor=customer),
        lambda: responses.append(
            client.post(reverse("tickets:desk_merge", args=[source.number]),
                        {"confirm": "merge", "into": target.reference, "version": version})
        ),
    )  # fmt: skip
    assert responses[0].status_code == 422
    assert desk.MERGE_STALE in page_text(responses[0])
    assert fresh(source).merged_into_id is None
    assert TicketMessage.objects.filter(ticket=source, body="Still burning").count() == 1


@RACE
def test_a_customer_reply_racing_a_merge_of_its_ticket_lands_on_the_target_and_says_so(client):
    """The merge commits while the customer's reply waits on the source: the reply goes to the target
    (which reopens if it was pending on them), and the customer is told where it went."""
    team, agent, _, customer, source = desk_setup()
    target = make_ticket(customer, team=team, subject="Same printer")
    services.ticket_transition(target, status=Status.PENDING, actor=agent)
    client.force_login(customer)
    responses = []
    run_while_another_transaction_waits(
        lambda: services.ticket_merge(
            Ticket.objects.get(pk=source.pk), into=fresh(target), actor=make_supervisor(team)
        ),
        lambda: responses.append(
            client.post(reverse("tickets:portal_reply", args=[source.number]), {"body": "Any news?"})
        ),
    )  # fmt: skip
    assert responses[0].status_code == 302
    assert TicketMessage.objects.filter(ticket=target, body="Any news?").count() == 1
    assert not TicketMessage.objects.filter(ticket=source).exists()
    assert not Ticket.objects.filter(follow_up_of__isnull=False).exists()
    assert fresh(target).status == Status.OPEN
    # Not "was closed, so your message opened T-…": no ticket was opened.
    assert notes(responses[0]) == [
        f"{source.reference} was merged, so your message was added to {target.reference}."
    ]


# --- Auto-close against a customer reply ---------------------------------------------------------


def resolved_long_ago(ticket, agent) -> None:
    services.ticket_transition(ticket, status=Status.RESOLVED, actor=agent)
    Ticket.objects.filter(pk=ticket.pk).update(resolved_at=timezone.now() - timedelta(days=60))


@RACE
def test_auto_close_committing_first_turns_a_racing_customer_reply_into_a_follow_up(client):
    """The scheduled close holds the ticket while the customer's reply waits: the reply is not lost, it
    opens a linked follow-up and the customer is told its number."""
    _, agent, _, customer, ticket = desk_setup()
    resolved_long_ago(ticket, agent)
    client.force_login(customer)
    closed, responses = [], []
    run_while_another_transaction_waits(
        lambda: closed.append(services.tickets_close_resolved(days=7)),
        lambda: responses.append(
            client.post(reverse("tickets:portal_reply", args=[ticket.number]), {"body": "It broke again"})
        ),
    )  # fmt: skip
    assert closed == [1] and fresh(ticket).status == Status.CLOSED
    follow_up = Ticket.objects.get(follow_up_of=ticket)
    assert responses[0].status_code == 302
    # Named, as it is read on the follow-up's page, where "this ticket" would be the follow-up.
    assert notes(responses[0]) == [
        f"{ticket.reference} was closed, so your message opened {follow_up.reference}."
    ]
    assert follow_up.messages.get().body == "It broke again"


@RACE
def test_a_customer_reply_committing_first_keeps_the_ticket_open_against_auto_close():
    """The customer's reply reopens the solved ticket while the close job waits on it: the job leaves it
    open (counts nothing) and the ticket is not closed under the customer."""
    _, agent, _, customer, ticket = desk_setup()
    resolved_long_ago(ticket, agent)
    closed = []
    run_while_another_transaction_waits(
        lambda: services.ticket_reply(Ticket.objects.get(pk=ticket.pk), body="Not fixed", actor=customer),
        lambda: closed.append(services.tickets_close_resolved(days=7)),
    )
    assert closed == [0]
    stored = fresh(ticket)
    assert (stored.status, stored.closed_at, stored.resolved_at) == (Status.OPEN, None, None)


# --- Customer reply against "solve" --------------------------------------------------------------


@RACE
def test_an_agents_reply_and_solve_racing_a_customer_reply_is_refused_with_the_message_kept(client):
    """The customer writes again while the agent sends "reply and solve" from the page before: the agent
    is told (422, message kept in the form), the ticket stays open with the customer's reply unanswered."""
    _, agent, _, customer, ticket = desk_setup()
    services.ticket_transition(ticket, status=Status.OPEN, actor=agent)
    version = fresh(ticket).version
    client.force_login(agent)
    responses = []
    run_while_another_transaction_waits(
        lambda: services.ticket_reply(fresh(ticket), body="One more thing", actor=customer),
        lambda: responses.append(
            client.post(reverse("tickets:desk_reply", args=[ticket.number]),
                        {"kind": "reply", "body": "Fixed, closing.", "status_after": Status.RESOLVED,
                         "version": version})
        ),
    )  # fmt: skip
    assert responses[0].status_code == 422
    page = page_text(responses[0])
    assert desk.REPLY_STALE in page and "Fixed, closing." in page
    assert fresh(ticket).status == Status.OPEN
    assert not TicketMessage.objects.filter(ticket=ticket, body="Fixed, closing.").exists()


@RACE
def test_a_customer_marking_solved_while_support_answers_is_told_to_read_the_answer(client):
    """Support's answer commits while the customer's "mark solved" (from the page before) waits: the
    customer is told to read it, and the ticket is not solved over an answer they have not seen."""
    _, agent, _, customer, ticket = desk_setup()
    seen = TicketMessage.objects.filter(ticket=ticket).order_by("-pk").first().pk
    client.force_login(customer)
    responses = []
    run_while_another_transaction_waits(
        lambda: services.ticket_reply(
            fresh(ticket), body="Try turning it off", actor=agent, status_after=Status.PENDING
        ),
        lambda: responses.append(
            client.post(reverse("tickets:portal_status", args=[ticket.number]),
                        {"status": Status.RESOLVED, "seen": seen})
        ),
    )  # fmt: skip
    assert responses[0].status_code == 302
    assert notes(responses[0]) == [services.NEWER_MESSAGE]
    assert fresh(ticket).status == Status.PENDING


@RACE
def test_a_customer_reply_waiting_on_solve_reopens_the_ticket():
    """The agent solves while the customer's reply waits: the reply reopens it (no reply is left on a
    solved ticket nobody looks at)."""
    _, agent, _, customer, ticket = desk_setup()
    run_while_another_transaction_waits(
        lambda: services.ticket_transition(
            Ticket.objects.get(pk=ticket.pk), status=Status.RESOLVED, actor=agent
        ),
        lambda: services.ticket_reply(Ticket.objects.get(pk=ticket.pk), body="Wait, no", actor=customer),
    )
    stored = fresh(ticket)
    assert (stored.status, stored.resolved_at) == (Status.OPEN, None)
    assert stored.messages.filter(body="Wait, no").exists()


# --- Saved views ---------------------------------------------------------------------------------


@RACE
def test_a_saved_view_deleted_twice_at_once_is_deleted_once_and_the_second_is_told(client):
    """A double-clicked "Delete view": one deletion in the audit trail, and the second request does not
    claim to have deleted it too (a 404 or a message that it is gone)."""
    ensure_roles()
    agent = make_agent(TeamFactory())
    view = SavedViewFactory(owner=agent, name="Mine")
    client.force_login(agent)
    responses = []
    run_while_another_transaction_waits(
        lambda: services.saved_view_delete(SavedView.objects.get(pk=view.pk), actor=agent),
        lambda: responses.append(client.post(reverse("tickets:desk_view_delete", args=[view.pk]))),
    )
    assert not SavedView.objects.filter(pk=view.pk).exists()
    deletions = AuditEvent.objects.filter(
        action="delete", object_id=str(view.pk), object_repr__contains="Mine"
    )
    assert deletions.count() == 1
    response = responses[0]
    assert response.status_code in (302, 404)
    if response.status_code == 302:
        assert "Deleted the view “Mine”." not in notes(response)


# --- Knowledge base ------------------------------------------------------------------------------


@RACE
def test_many_concurrent_votes_on_an_article_are_counted_exactly():
    """Twelve visitors vote at once (eight yes, four no), one of them twice with a change of mind:
    every counter equals the votes stored."""
    article = make_article(title="Counting", body="Body.")

    def vote(n: int):
        return lambda: knowledge_services.article_vote(
            Article.objects.get(pk=article.pk), helpful=n < 8, session_key=f"session-{n}"
        )

    errors = run_together([vote(n) for n in range(12)])
    assert errors == []
    errors = run_together([
        lambda: knowledge_services.article_vote(Article.objects.get(pk=article.pk), helpful=False,
                                                session_key="session-0"),
        lambda: knowledge_services.article_vote(Article.objects.get(pk=article.pk), helpful=False,
                                                session_key="session-0"),
    ])  # fmt: skip
    assert errors == []
    article.refresh_from_db()
    assert ArticleFeedback.objects.filter(article=article).count() == 12
    assert (article.helpful_count, article.not_helpful_count) == (7, 5)


def write_import_file(tmp_path):
    path = tmp_path / "articles.jsonl"
    records = [
        {"slug": "reset-router", "title": "Reset the router", "body": "Hold the button.",
         "category": "Networking"},
        {"slug": "printer-setup", "title": "Printer setup", "body": "Plug it in.", "category": "Printers",
         "category_parents": ["Hardware"]},
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(record) for record in records) + "\n")
    return path


@RACE
def test_two_kb_imports_of_the_same_file_at_once_import_each_article_and_category_once(tmp_path):
    """An operator runs `kb_import` on the same file twice at once (a cron and a hand run): the import is
    idempotent by slug, so the end state is each article and category once, and the second run reports
    the articles as already there (unchanged or updated), not as refused records."""
    ensure_roles()
    path = write_import_file(tmp_path)
    reports = []
    run_while_another_transaction_waits(
        lambda: reports.append(import_articles(path)), lambda: reports.append(import_articles(path))
    )
    assert sorted(Article.objects.values_list("slug", flat=True)) == ["printer-setup", "reset-router"]
    assert sorted(Category.objects.values_list("name", flat=True)) == ["Hardware", "Networking", "Printers"]
    second = reports[1]
    assert second.skipped == []
    assert sorted(second.unchanged + second.updated) == ["printer-setup", "reset-router"]


@RACE
def test_two_kb_imports_of_articles_without_categories_at_once_report_no_refused_record(tmp_path):
    """The same file without categories: the second run, finding the article the first created meanwhile,
    updates or leaves it (idempotent by slug) rather than reporting "already uses the address"."""
    ensure_roles()
    path = tmp_path / "articles.jsonl"
    path.write_text(
        json.dumps({"slug": "reset-router", "title": "Reset the router", "body": "Hold it."}) + "\n"
    )
    reports = []
    run_while_another_transaction_waits(
        lambda: reports.append(import_articles(path)), lambda: reports.append(import_articles(path))
    )
    assert list(Article.objects.values_list("slug", flat=True)) == ["reset-router"]
    assert reports[1].skipped == []
    assert reports[1].unchanged + reports[1].updated == ["reset-router"]


@RACE
def test_two_kb_imports_racing_record_by_record_leave_no_duplicate_category(tmp_path):
    """Two `kb_import` runs of one file in real parallel (no transaction held open): no category is made
    twice under the same parent and both runs finish without a crash."""
    ensure_roles()
    path = write_import_file(tmp_path)
    errors = run_together([lambda: call_command("kb_import", str(path), verbosity=0) for _ in range(4)])
    assert errors == []
    names = list(Category.objects.values_list("parent_id", "name"))
    assert len(names) == len(set(names)) == 3
    assert Article.objects.count() == 2


# --- Attachments ---------------------------------------------------------------------------------


@RACE
def test_concurrent_downloads_of_an_attachment_are_each_counted():
    """Ten downloads of one file at the same moment: ten 200s and a download count of ten."""
    _, _, _, customer, ticket = desk_setup()
    message = services.ticket_reply(
        ticket, body="Log attached", actor=customer,
        uploads=[SimpleUploadedFile("log.txt", b"plain text\n", content_type="text/plain")],
    )  # fmt: skip
    attachment = message.attachments.get()
    url = reverse("tickets:attachment_download", args=[attachment.pk])
    login = Client()
    login.force_login(customer)
    cookies = login.cookies
    statuses = []
    lock = threading.Lock()

    def download():
        browser = Client()
        browser.cookies = cookies
        response = browser.get(url)
        body = b"".join(response.streaming_content)
        response.close()
        with lock:
            statuses.append((response.status_code, body))

    errors = run_together([download for _ in range(10)])
    assert errors == []
    assert statuses == [(200, b"plain text\n")] * 10
    assert Attachment.objects.get(pk=attachment.pk).download_count == 10


# --- Invitations ---------------------------------------------------------------------------------


@RACE
def test_the_same_person_redeeming_an_invitation_twice_at_once_uses_it_once():
    """A double-clicked sign-up with a two-use code: one account, the second told the address is taken,
    and the code keeps its second use for a colleague."""
    ensure_roles()
    invitation = InvitationFactory(organization=OrganizationFactory(), max_uses=2)
    refused = []

    def signup():
        return account_services.user_signup(
            email="dup@example.org", name="Dup", password="correct-horse-battery-staple",
            invitation_code=invitation.code, open_signup=False, actor=None,
        )  # fmt: skip

    def second():
        try:
            signup()
        except ValidationError as error:
            refused.append(error.message_dict)

    run_while_another_transaction_waits(signup, second)
    assert refused == [{"email": [account_services.EMAIL_TAKEN]}]
    assert User.objects.filter(email__iexact="dup@example.org").count() == 1
    assert Invitation.objects.get(pk=invitation.pk).uses == 1


# --- Audit chain ---------------------------------------------------------------------------------


@RACE
def test_the_audit_chain_stays_whole_under_concurrent_ticket_writers():
    """Six agents work six tickets at once (replies, notes, status, tags): every event is in one unbroken
    chain and `manage.py audit_verify` passes."""
    ensure_roles()
    team = TeamFactory()
    customer = make_customer()
    pairs = [(make_agent(team), make_ticket(customer, team=team)) for _ in range(6)]
    before = AuditEvent.objects.count()

    def work(agent, ticket):
        def run():
            for n in range(4):
                services.ticket_add_note(Ticket.objects.get(pk=ticket.pk), body=f"Note {n}", actor=agent)
                services.ticket_reply(Ticket.objects.get(pk=ticket.pk), body=f"Reply {n}", actor=agent)
                services.ticket_set_tags(Ticket.objects.get(pk=ticket.pk), add=[f"t{n}"], actor=agent)
            services.ticket_transition(Ticket.objects.get(pk=ticket.pk), status=Status.RESOLVED, actor=agent)

        return run

    errors = run_together([work(agent, ticket) for agent, ticket in pairs])
    assert errors == []
    sequences = list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(1, len(sequences) + 1))
    assert len(sequences) > before + 6 * 12
    call_command("audit_verify", verbosity=0)  # raises CommandError on a broken chain


# --- Ticket numbering ----------------------------------------------------------------------------


@RACE
def test_concurrent_follow_ups_and_anonymous_submissions_get_distinct_numbers():
    """Tickets created by different paths at once (portal, follow-ups of a closed ticket) draw from one
    sequence: all distinct, none failing."""
    _, agent, _, customer, ticket = desk_setup()
    services.ticket_transition(ticket, status=Status.CLOSED, actor=agent)
    numbers, lock = [], threading.Lock()

    def create(n):
        def run():
            if n % 2:
                message = services.ticket_reply(
                    Ticket.objects.get(pk=ticket.pk), body=f"Again {n}", actor=customer
                )
                number = message.ticket.number
            else:
                number = make_ticket(customer, subject=f"New {n}").number
            with lock:
                numbers.append(number)

        return run

    errors = run_together([create(n) for n in range(10)])
    assert errors == []
    assert len(numbers) == len(set(numbers)) == 10
    assert Ticket.objects.filter(follow_up_of=ticket).count() == 5
