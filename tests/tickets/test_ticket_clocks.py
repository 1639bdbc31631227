"""A ticket's time-keeping: created_at, updated_at, public_updated_at, first_response_at,
resolved_at, closed_at, last_customer_message_at, assignee_seen_at, driven through the pages (portal
reply, desk composer with "set status on send", inline edits, bulk actions, merge, follow-up, auto-close,
admin delete/restore) with the clock moved by time-machine. What later SLA and reporting work relies
on: first_response_at is the first public reply by staff and stays; resolved_at is the last resolution
(cleared on reopen); closed_at is set by every way of closing; updated_at moves on every change but not
on a view; public_updated_at only on what the requester can see; times shown in the viewer's zone."""

import re
import zoneinfo
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from django.urls import reverse

from tests.admin_pages import changelist_url
from tests.factories import make_administrator, make_agent, make_ticket
from tests.tickets.conftest import fresh, portal_reply_url, portal_status_url, reply_url, update_url, ws
from tickets import services
from tickets.models import Ticket, TicketMessage
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

QUEUE = reverse("tickets:desk_queue")
BULK = reverse("tickets:desk_bulk")
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, far from any DST change


@pytest.fixture(autouse=True)
def at(time_machine):
    """A frozen clock at START, moved on with at.shift(timedelta)."""
    time_machine.move_to(START, tick=False)
    return time_machine


def now():
    from django.utils import timezone

    return timezone.now()


def desk_reply(client, ticket, body, *, kind="reply", status_after=""):
    ticket = fresh(ticket)
    data = {"kind": kind, "body": body, "version": ticket.version}
    if status_after:
        data["status_after"] = status_after
    response = client.post(reply_url(ticket), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return response


def inline(client, ticket, field, value, **extra):
    ticket = fresh(ticket)
    data = {"field": field, "value": value, "version": ticket.version, **extra}
    response = client.post(update_url(ticket), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return response


def portal_reply(client, ticket, body):
    response = client.post(portal_reply_url(ticket), {"body": body})
    assert response.status_code == 302, response.content.decode()[:2000]
    return response


def portal_status(client, ticket, status):
    response = client.post(portal_status_url(ticket), {"status": status})
    assert response.status_code == 302, response.content.decode()[:2000]
    return response


# --- first_response_at ------------------------------------------------------------------------------


def test_first_response_is_the_first_public_staff_reply_and_never_moves(client, desk, at):
    """Not the customer's own message, not an internal note: the first public reply by staff, and a
    second reply later leaves it where it was."""
    ticket, agent, customer = desk["ticket"], desk["agent"], desk["customer"]
    assert ticket.first_response_at is None and ticket.created_at == START

    at.shift(timedelta(hours=1))
    client.force_login(customer)
    portal_reply(client, ticket, "Any news?")
    assert fresh(ticket).first_response_at is None

    at.shift(timedelta(hours=1))
    client.force_login(agent)
    desk_reply(client, ticket, "Looking into it internally", kind="note")
    assert fresh(ticket).first_response_at is None
    assert fresh(ticket).status == Status.NEW, "a note does not answer the customer"

    at.shift(timedelta(hours=1))
    answered = now()
    desk_reply(client, ticket, "Hello Carla, we are on it.")
    ticket = fresh(ticket)
    assert ticket.first_response_at == answered
    assert ticket.status == Status.OPEN

    at.shift(timedelta(hours=5))
    client.force_login(desk["colleague"])
    desk_reply(client, ticket, "Second answer", status_after="pending")
    at.shift(timedelta(hours=1))
    client.force_login(customer)
    portal_reply(client, ticket, "Here is the info")
    at.shift(timedelta(hours=1))
    client.force_login(agent)
    desk_reply(client, ticket, "Thanks", status_after="resolved")
    assert fresh(ticket).first_response_at == answered


def test_an_agents_own_request_written_in_the_portal_is_not_a_first_response(client, desk, at):
    """An agent files a request of their own in their own team and adds to it from the portal: the
    requester's words, not a support answer (ticket_create's and ticket_reply's as_requester)."""
    agent = desk["agent"]
    own = make_ticket(agent, team=desk["support"], subject="My laptop")
    client.force_login(agent)
    at.shift(timedelta(minutes=30))
    portal_reply(client, own, "Also the charger")
    own = fresh(own)
    assert own.first_response_at is None
    assert own.last_customer_message_at == now()
    assert own.messages.filter(from_staff=True).count() == 0


def test_a_system_change_sets_no_first_response(desk, at):
    """The auto-close and other System (actor None) status changes are not an answer."""
    ticket = desk["ticket"]
    services.ticket_transition(ticket, status=Status.RESOLVED, actor=desk["agent"])
    at.shift(timedelta(days=8))
    assert services.tickets_close_resolved() == 1
    closed = fresh(ticket)
    assert closed.status == Status.CLOSED and closed.first_response_at is None


def test_merge_never_gives_the_target_a_first_response_before_it_was_created(client, desk, at):
    """Reporting reads first reply time as first_response_at - created_at. Merging an older ticket (answered
    on day 0) into a newer one (created on day 5, never answered) must not give the newer one a first
    response five days before it existed: a negative first reply time that any SLA report or average
    breaks on. Zendesk leaves the target's own metrics alone on a merge; at the very least the first
    response cannot come before the ticket's creation.

    Instead the target's first_response_at is copied from the source (services.ticket_merge: "An answer
    that came with the thread answered the customer when it was written"), ending before created_at."""
    customer, supervisor = desk["customer"], desk["supervisor"]
    old = desk["ticket"]
    at.shift(timedelta(hours=1))
    client.force_login(desk["agent"])
    desk_reply(client, old, "We are on it")
    answered_old = fresh(old).first_response_at
    at.shift(timedelta(days=5))
    new = make_ticket(customer, team=desk["support"], subject="Printer still on fire")
    at.shift(timedelta(hours=1))
    services.ticket_merge(fresh(old), into=fresh(new), actor=supervisor)
    new = fresh(new)
    assert answered_old < new.created_at
    assert new.first_response_at is None or new.first_response_at >= new.created_at, (
        f"first response {new.first_response_at} is before the ticket was created {new.created_at}: "
        f"a first reply time of {new.first_response_at - new.created_at}"
    )


# --- resolved_at / closed_at ------------------------------------------------------------------------


def test_resolved_at_is_the_last_resolution_cleared_on_reopen(client, desk, at):
    """Solved with "set status on send", reopened by the customer's reply (cleared), solved again (the
    new time), reopened by the customer's own button (cleared), solved by the customer (set again)."""
    ticket, agent, customer = desk["ticket"], desk["agent"], desk["customer"]
    client.force_login(agent)
    at.shift(timedelta(hours=1))
    first_solve = now()
    desk_reply(client, ticket, "Fixed, I think", status_after="resolved")
    assert (fresh(ticket).status, fresh(ticket).resolved_at) == (Status.RESOLVED, first_solve)

    at.shift(timedelta(days=1))
    client.force_login(customer)
    portal_reply(client, ticket, "No, still broken")
    assert (fresh(ticket).status, fresh(ticket).resolved_at) == (Status.OPEN, None)

    at.shift(timedelta(days=1))
    client.force_login(agent)
    inline(client, ticket, "status", "resolved")
    second = now()
    assert fresh(ticket).resolved_at == second

    at.shift(timedelta(hours=2))
    client.force_login(customer)
    portal_status(client, ticket, "open")
    assert (fresh(ticket).status, fresh(ticket).resolved_at) == (Status.OPEN, None)

    at.shift(timedelta(hours=2))
    portal_status(client, ticket, "resolved")
    assert fresh(ticket).resolved_at == now()
    assert fresh(ticket).closed_at is None


def test_closed_at_by_inline_edit_with_confirmation(client, desk, at):
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    at.shift(timedelta(hours=3))
    inline(client, ticket, "status", "closed", confirm="close")
    closed = fresh(ticket)
    assert closed.status == Status.CLOSED
    assert closed.closed_at == closed.resolved_at == closed.updated_at == now()


def test_closed_at_by_bulk_close_keeps_an_earlier_resolution(client, desk, at):
    """Closed in bulk: closed_at now; a ticket already solved keeps its resolved_at (when it was solved),
    one never solved is resolved as it closes."""
    solved, open_ = desk["ticket"], make_ticket(desk["customer"], team=desk["support"], subject="Other")
    services.ticket_transition(solved, status=Status.RESOLVED, actor=desk["agent"])
    solved_at = fresh(solved).resolved_at
    at.shift(timedelta(days=2))
    client.force_login(desk["agent"])
    chosen = [f"{t.pk}:{fresh(t).version}" for t in (solved, open_)]
    response = client.post(BULK, {"tickets": chosen, "action": "status:closed", "confirm": "close"})
    assert response.status_code == 302
    solved, open_ = fresh(solved), fresh(open_)
    assert (solved.status, open_.status) == (Status.CLOSED, Status.CLOSED)
    assert solved.closed_at == open_.closed_at == now()
    assert solved.resolved_at == solved_at
    assert open_.resolved_at == now()


def test_auto_close_sets_closed_at_and_keeps_resolved_at(desk, at, settings):
    """Resolved on day 0, the auto-close (7 days) closes it at its run on day 7 or later; a ticket solved
    again after a reopen counts from its last resolution."""
    settings.TICKET_AUTO_CLOSE_DAYS = 7
    ticket, agent = desk["ticket"], desk["agent"]
    again = make_ticket(desk["customer"], team=desk["support"], subject="Again")
    services.ticket_transition(ticket, status=Status.RESOLVED, actor=agent)
    services.ticket_transition(again, status=Status.RESOLVED, actor=agent)
    at.shift(timedelta(days=5))
    services.ticket_reply(fresh(again), body="Broken again", actor=desk["customer"], as_requester=True)
    services.ticket_transition(fresh(again), status=Status.RESOLVED, actor=agent)
    resolved_again = fresh(again).resolved_at
    at.shift(timedelta(days=2, seconds=1))
    assert services.tickets_close_resolved() == 1
    closed = fresh(ticket)
    assert closed.closed_at == now() and closed.resolved_at == START
    assert closed.updated_at == now()
    assert fresh(again).status == Status.RESOLVED
    at.shift(timedelta(days=5))
    assert services.tickets_close_resolved() == 1
    assert fresh(again).resolved_at == resolved_again and fresh(again).closed_at == now()


def test_merge_closes_the_source_with_closed_and_resolved_times(desk, at):
    source = desk["ticket"]
    into = make_ticket(desk["customer"], team=desk["support"], subject="Same")
    at.shift(timedelta(hours=4))
    services.ticket_merge(source, into=into, actor=desk["supervisor"])
    source, into = fresh(source), fresh(into)
    assert source.status == Status.CLOSED and source.closed_at == source.resolved_at == now()
    assert source.updated_at == source.public_updated_at == now()
    assert into.updated_at == into.public_updated_at == now()
    assert into.resolved_at is None and into.closed_at is None


# --- updated_at / public_updated_at -----------------------------------------------------------------


def test_a_mere_view_moves_nothing(client, desk, at):
    """The agent (even the assignee, whose opening clears the unread marker) and the customer read the
    ticket: no updated_at, no version, no public update."""
    ticket = desk["ticket"]
    services.ticket_assign(ticket, assignee=desk["agent"], actor=desk["agent"])
    before = fresh(ticket)
    at.shift(timedelta(hours=2))
    client.force_login(desk["agent"])
    assert client.get(ws(ticket)).status_code == 200
    client.post(reverse("tickets:desk_seen", args=[ticket.number]),
                {"shown": before.last_customer_message_at.isoformat()})  # fmt: skip
    assert client.get(QUEUE).status_code == 200
    client.force_login(desk["customer"])
    assert client.get(reverse("tickets:portal_detail", args=[ticket.number])).status_code == 200
    after = fresh(ticket)
    assert (after.updated_at, after.public_updated_at, after.version) == (
        before.updated_at, before.public_updated_at, before.version)  # fmt: skip
    assert after.assignee_seen_at is not None


@pytest.mark.parametrize(
    ("field", "value", "public"),
    [("priority", "high", False), ("status", "on_hold", False), ("status", "pending", True),
     ("tags", "vip", False)],
)  # fmt: skip
def test_inline_edits_move_updated_and_only_visible_ones_public(client, desk, at, field, value, public):
    ticket = desk["ticket"]
    services.ticket_transition(ticket, status=Status.OPEN, actor=desk["agent"])
    before = fresh(ticket)
    at.shift(timedelta(hours=1))
    client.force_login(desk["agent"])
    inline(client, ticket, field, value)
    after = fresh(ticket)
    assert after.updated_at == now()
    assert (after.public_updated_at == now()) is public
    if not public:
        assert after.public_updated_at == before.public_updated_at


def test_team_change_and_note_move_updated_not_public(client, desk, at):
    ticket = desk["ticket"]
    before = fresh(ticket)
    client.force_login(desk["agent"])
    at.shift(timedelta(hours=1))
    desk_reply(client, ticket, "internal", kind="note")
    assert fresh(ticket).updated_at == now() and fresh(ticket).public_updated_at == before.public_updated_at
    at.shift(timedelta(hours=1))
    inline(client, ticket, "team", str(desk["billing"].pk))
    assert fresh(ticket).public_updated_at == before.public_updated_at


def test_bulk_priority_moves_updated_and_the_recently_updated_order(client, desk, at):
    """A bulk change moves updated_at, so the queue's default order ("Updated", newest first) follows."""
    older = desk["ticket"]
    at.shift(timedelta(hours=1))
    newer = make_ticket(desk["customer"], team=desk["support"], subject="Newer")
    at.shift(timedelta(hours=1))
    client.force_login(desk["agent"])
    client.post(BULK, {"tickets": [f"{older.pk}:{fresh(older).version}"], "action": "priority:high"})
    assert fresh(older).updated_at == now()
    response = client.get(QUEUE)
    numbers = [t.number for t in response.context["queue"].tickets]
    assert numbers.index(older.number) < numbers.index(newer.number)


def test_customer_reply_moves_updated_public_and_last_customer_message(client, desk, at):
    ticket = desk["ticket"]
    at.shift(timedelta(hours=1))
    client.force_login(desk["customer"])
    portal_reply(client, ticket, "More details")
    t = fresh(ticket)
    assert t.updated_at == t.public_updated_at == t.last_customer_message_at == now()


def test_follow_up_of_a_closed_ticket(client, desk, at):
    """The customer writes on a closed ticket: a follow-up created now, with its own clock (no first
    response, the customer's message now); the closed one's closed_at and public time stay."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    desk_reply(client, ticket, "Done")
    inline(client, ticket, "status", "closed", confirm="close")
    closed = fresh(ticket)
    at.shift(timedelta(days=3))
    client.force_login(desk["customer"])
    portal_reply(client, ticket, "It broke again")
    follow_up = Ticket.objects.get(follow_up_of=ticket)
    assert follow_up.created_at == follow_up.updated_at == follow_up.last_customer_message_at == now()
    assert follow_up.first_response_at is None and follow_up.resolved_at is None
    assert follow_up.status == Status.NEW
    after = fresh(ticket)
    assert after.closed_at == closed.closed_at and after.resolved_at == closed.resolved_at
    assert after.first_response_at == closed.first_response_at
    assert after.public_updated_at == closed.public_updated_at


def test_admin_delete_and_restore(client, desk, at):
    """Soft delete sets deleted_at, restore clears it; neither moves what the requester sees as news
    nor any of the ticket's clocks (created, first response, resolved)."""
    ticket = desk["ticket"]
    services.ticket_reply(ticket, body="answer", actor=desk["agent"])
    before = fresh(ticket)
    admin = make_administrator(is_superuser=True)
    client.force_login(admin)
    at.shift(timedelta(hours=1))
    client.post(changelist_url(Ticket), {"action": "delete_tickets", "_selected_action": [ticket.pk]})
    deleted = fresh(ticket)
    assert deleted.is_deleted and deleted.deleted_at == now()
    at.shift(timedelta(hours=1))
    client.post(changelist_url(Ticket), {"action": "restore_tickets", "_selected_action": [ticket.pk]})
    restored = fresh(ticket)
    assert not restored.is_deleted and restored.deleted_at is None
    assert restored.public_updated_at == before.public_updated_at
    assert (restored.created_at, restored.first_response_at) == (before.created_at, before.first_response_at)


# --- the unread marker ------------------------------------------------------------------------------


def test_unread_marker_appears_on_customer_reply_and_clears_only_for_the_assignee(client, desk, at):
    ticket, agent, colleague = desk["ticket"], desk["agent"], desk["colleague"]
    client.force_login(agent)
    inline(client, ticket, "take", "")
    assert not fresh(ticket).unread_by_assignee  # taken with the thread in front of them
    at.shift(timedelta(hours=1))
    client.force_login(desk["customer"])
    portal_reply(client, ticket, "Hello?")
    assert fresh(ticket).unread_by_assignee

    at.shift(timedelta(minutes=5))
    client.force_login(colleague)
    page = unescape(client.get(ws(ticket)).content.decode())
    assert "hx-post" not in page.split('class="workspace-layout"')[1].split(">")[0]
    shown = fresh(ticket).last_customer_message_at.isoformat()
    client.post(reverse("tickets:desk_seen", args=[ticket.number]), {"shown": shown})
    assert fresh(ticket).unread_by_assignee, "a colleague's opening does not clear the assignee's marker"

    client.force_login(agent)
    page = client.get(ws(ticket)).content.decode()
    assert "desk_seen" not in page or "seen" in page
    client.post(reverse("tickets:desk_seen", args=[ticket.number]), {"shown": shown})
    assert not fresh(ticket).unread_by_assignee


def test_unread_marker_after_reassignment_and_the_assignees_own_reply(client, desk, at):
    """Handed to a colleague: what the last assignee read says nothing of theirs (unread). The
    assignee's own reply marks it read; a later customer message is unread again."""
    ticket = desk["ticket"]
    services.ticket_assign(ticket, assignee=desk["agent"], actor=desk["agent"], seen=True)
    at.shift(timedelta(minutes=1))
    services.ticket_assign(fresh(ticket), assignee=desk["colleague"], actor=desk["agent"])
    assert fresh(ticket).unread_by_assignee
    at.shift(timedelta(minutes=1))
    client.force_login(desk["colleague"])
    desk_reply(client, ticket, "On it")
    assert not fresh(ticket).unread_by_assignee
    at.shift(timedelta(minutes=1))
    client.force_login(desk["customer"])
    portal_reply(client, ticket, "Thanks, and another thing")
    assert fresh(ticket).unread_by_assignee


def test_a_seen_time_from_a_page_older_than_the_last_message_keeps_it_unread(client, desk, at):
    ticket = desk["ticket"]
    services.ticket_assign(ticket, assignee=desk["agent"], actor=desk["agent"], seen=True)
    at.shift(timedelta(minutes=1))
    services.ticket_reply(fresh(ticket), body="one", actor=desk["customer"], as_requester=True)
    shown = fresh(ticket).last_customer_message_at.isoformat()
    at.shift(timedelta(minutes=1))
    services.ticket_reply(fresh(ticket), body="two", actor=desk["customer"], as_requester=True)
    client.force_login(desk["agent"])
    client.post(reverse("tickets:desk_seen", args=[ticket.number]), {"shown": shown})
    assert fresh(ticket).unread_by_assignee


# --- time zones -------------------------------------------------------------------------------------


def text(response) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]*>", " ", response.content.decode())))


def test_tokyo_agent_sees_local_times_and_filters_by_tokyo_days(client, desk, at):
    """START is 2 March 09:00 UTC = 18:00 in Tokyo. A ticket created at 20:00 UTC on 2 March is 3 March
    05:00 in Tokyo: the Tokyo agent's "Created 3 March" lists it, "Created 2 March" does not."""
    tokyo = make_agent(desk["support"], timezone="Asia/Tokyo")
    at.shift(timedelta(hours=11))  # 20:00 UTC
    late = make_ticket(desk["customer"], team=desk["support"], subject="Late in UTC")
    client.force_login(tokyo)
    response = client.get(QUEUE)
    assert "3 Mar, 05:00" in text(response)

    def on(day):
        listed = client.get(QUEUE, {"created_after": day, "created_before": day}).context["queue"].tickets
        return {t.subject for t in listed}

    assert "Late in UTC" in on("2026-03-03")
    assert "Late in UTC" not in on("2026-03-02")
    assert desk["ticket"].subject in on("2026-03-02")
    del late


def test_tokyo_customer_sees_local_times_in_the_portal(client, desk, at):
    customer = desk["customer"]
    customer.timezone = "Asia/Tokyo"
    customer.save(update_fields=["timezone"])
    client.force_login(customer)
    page = text(client.get(reverse("tickets:portal_list")))
    assert "2 Mar 2026, 18:00" in page
    detail = text(client.get(reverse("tickets:portal_detail", args=[desk["ticket"].number])))
    assert "2 Mar 2026, 18:00" in detail and "2 Mar 2026, 09:00" not in detail


def test_recently_solved_uses_the_viewers_days(client, desk, at):
    """ "Recently solved" (solved in the last 7 days) starts at midnight of the viewer's day."""
    tokyo = make_agent(desk["support"], timezone="Asia/Tokyo")
    ticket = desk["ticket"]
    services.ticket_transition(ticket, status=Status.RESOLVED, actor=desk["agent"])
    # Resolved at 2 March 16:00 UTC = 3 March 01:00 in Tokyo; today is 10 March 10:00 in Tokyo, so the
    # period starts 3 March 00:00 Tokyo = 2 March 15:00 UTC: listed.
    Ticket.objects.filter(pk=ticket.pk).update(resolved_at=START + timedelta(hours=7),
                                               updated_at=START + timedelta(hours=7))  # fmt: skip
    at.move_to(datetime(2026, 3, 10, 1, 0, tzinfo=UTC), tick=False)
    client.force_login(tokyo)
    listed = client.get(QUEUE, {"status": ["resolved", "closed"], "solved_within": "7"})
    assert ticket.number in [t.number for t in listed.context["queue"].tickets]
    with_zone = zoneinfo.ZoneInfo("Asia/Tokyo")
    assert (START + timedelta(hours=7)).astimezone(with_zone).day == 3


# --- more candidates ----------------------------------------------------------------------------------


def test_an_agents_words_on_their_own_request_from_the_desk_are_no_first_response(client, desk, at):
    """An agent files a request of their own in their own team and, before anyone answers, adds "also the
    charger" from the desk's composer: their words answer nobody (ticket_create: "An agent's own request
    is the requester's words, not a support reply"). The first reply stays to come, and the colleague it
    is assigned to sees the new message as unread."""
    agent, colleague = desk["agent"], desk["colleague"]
    own = make_ticket(agent, team=desk["support"], subject="My laptop will not boot")
    services.ticket_assign(own, assignee=colleague, actor=colleague, seen=True)
    at.shift(timedelta(minutes=30))
    client.force_login(agent)
    desk_reply(client, own, "Also the charger is missing")
    own = fresh(own)
    assert own.first_response_at is None
    assert own.unread_by_assignee
    assert own.status == Status.OPEN  # as its taking made it: their words moved nothing
    at.shift(timedelta(minutes=30))
    client.force_login(colleague)
    desk_reply(client, own, "On my way")
    assert fresh(own).first_response_at == now()


def test_a_merged_in_customer_message_the_assignee_never_saw_is_unread(client, desk, at):
    """Agent A works T-new (created 09:00). The customer opens a duplicate T-dup at 09:30 (unassigned; A
    never opens it), then writes again on T-new at 09:45; A reads T-new at 10:00. At 11:00 a supervisor
    merges T-dup into T-new. ticket_merge says "A customer message that came with the thread is unread for
    the target's assignee": A has never read the 09:30 message now in their thread, so the unread marker
    should show.

    Instead the marker compares times only: ticket_merge moves last_customer_message_at only when the
    source's is newer than the target's (services.py, "if source.last_customer_message_at and (...)"), and
    09:30 < 09:45 <= assignee_seen_at, so a message A never saw reads as read (nothing in the queue or the
    workspace tells A the thread grew)."""
    customer, agent = desk["customer"], desk["agent"]
    target = desk["ticket"]  # 09:00
    services.ticket_assign(target, assignee=agent, actor=agent, seen=True)
    at.shift(timedelta(minutes=30))
    duplicate = make_ticket(customer, team=desk["support"], subject="Printer on fire (again)")  # 09:30
    at.shift(timedelta(minutes=15))
    client.force_login(customer)
    portal_reply(client, target, "Any news?")  # 09:45
    at.shift(timedelta(minutes=15))
    client.force_login(agent)
    client.get(ws(target))
    client.post(reverse("tickets:desk_seen", args=[target.number]),
                {"shown": fresh(target).last_customer_message_at.isoformat()})  # fmt: skip
    assert not fresh(target).unread_by_assignee
    at.shift(timedelta(hours=1))
    services.ticket_merge(fresh(duplicate), into=fresh(target), actor=desk["supervisor"])
    target = fresh(target)
    assert TicketMessage.objects.filter(ticket=target, from_staff=False).count() == 3
    assert target.unread_by_assignee, (
        f"unread marker off after a merge brought in an unseen customer message: last customer message "
        f"{target.last_customer_message_at}, assignee seen {target.assignee_seen_at}"
    )


def test_an_agents_words_on_their_own_pending_request_from_the_desk_reopen_it(client, desk, at):
    """As the same words sent from the portal would: a request waiting on its requester is theirs to move
    on, whichever page they write from; a status they choose on send still wins."""
    agent, colleague = desk["agent"], desk["colleague"]
    own = make_ticket(agent, team=desk["support"], subject="My laptop will not boot")
    services.ticket_reply(fresh(own), body="Which model is it?", actor=colleague, status_after=Status.PENDING)
    client.force_login(agent)
    desk_reply(client, own, "A T14, gen 3")
    assert fresh(own).status == Status.OPEN
    desk_reply(client, own, "Sorted itself out", status_after=Status.RESOLVED)
    assert fresh(own).status == Status.RESOLVED
