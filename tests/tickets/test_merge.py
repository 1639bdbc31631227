"""Merging tickets: the thread and tags move to the target, the source closes and points at it; only
supervisors/administrators who work both tickets, only within one requester, never twice."""

from datetime import timedelta
from html import unescape
from itertools import pairwise

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AuditEvent
from tests.conftest import made_once_per_module
from tests.factories import TeamFactory, make_agent, make_customer, make_supervisor, make_ticket
from tickets import services
from tickets.models import Ticket, TicketActivity, TicketMessage
from tickets.views.desk import MERGE_STALE

pytestmark = pytest.mark.django_db


def make_pair():
    team = TeamFactory()
    supervisor = make_supervisor(team)
    customer = make_customer()
    first = make_ticket(customer, team=team, subject="Printer jam")
    second = make_ticket(customer, team=team, subject="Printer still jammed")
    services.ticket_reply(second, body="Have you tried turning it off?", actor=supervisor)
    services.ticket_set_tags(second, names=["printer"], actor=supervisor)
    second.refresh_from_db()
    return {"team": team, "supervisor": supervisor, "customer": customer, "into": first, "source": second}


_pair_rows, pair = made_once_per_module(make_pair, "pair")


def test_merge_moves_thread_and_tags_and_closes_the_source(pair):
    source, into = pair["source"], pair["into"]
    services.ticket_merge(source, into=into, actor=pair["supervisor"])
    source.refresh_from_db()
    assert (source.status, source.merged_into_id) == ("closed", into.pk)
    assert TicketMessage.objects.filter(ticket=source).count() == 0
    bodies = list(into.messages.order_by("created_at").values_list("body", flat=True))
    assert bodies[-1] == "Have you tried turning it off?" and len(bodies) == 3
    assert list(into.tags.values_list("name", flat=True)) == ["printer"]
    merged_from = TicketActivity.objects.get(ticket=into, action="merge")
    assert merged_from.new_value == {"ticket": source.reference, "messages": 2}
    assert TicketActivity.objects.filter(ticket=source, action="merge", new_value=into.reference).exists()
    assert AuditEvent.objects.filter(action="ticket.merge", actor=pair["supervisor"]).count() == 2


def test_agents_without_the_merge_permission_are_refused(pair):
    agent = make_agent(pair["team"])
    with pytest.raises(services.TicketNotAllowed):
        services.ticket_merge(pair["source"], into=pair["into"], actor=agent)
    assert Ticket.objects.get(pk=pair["source"].pk).merged_into_id is None


def test_tickets_of_different_requesters_are_not_merged(pair):
    stranger = make_ticket(make_customer(), team=pair["team"])
    with pytest.raises(services.TicketNotAllowed, match="same requester"):
        services.ticket_merge(stranger, into=pair["into"], actor=pair["supervisor"])


def test_no_merge_into_itself_twice_or_into_a_closed_ticket(pair):
    source, into, supervisor = pair["source"], pair["into"], pair["supervisor"]
    with pytest.raises(services.TicketNotAllowed, match="itself"):
        services.ticket_merge(into, into=into, actor=supervisor)
    services.ticket_merge(source, into=into, actor=supervisor)
    with pytest.raises(services.TicketNotAllowed, match="closed or merged"):
        services.ticket_merge(source, into=into, actor=supervisor)
    with pytest.raises(services.TicketNotAllowed, match="closed or merged"):
        services.ticket_merge(into, into=source, actor=supervisor)


def test_supervisor_cannot_merge_into_a_ticket_of_another_team(pair):
    elsewhere = make_ticket(pair["customer"], team=TeamFactory())
    with pytest.raises(services.TicketNotAllowed):
        services.ticket_merge(pair["source"], into=elsewhere, actor=pair["supervisor"])


def test_merge_from_the_workspace_lands_on_the_target(client, pair):
    source, into = pair["source"], pair["into"]
    client.force_login(pair["supervisor"])
    page = client.get(reverse("tickets:desk_ticket", args=[source.number])).content.decode()
    assert "Merge into ticket" in page
    url = reverse("tickets:desk_merge", args=[source.number])
    response = client.post(url, {"confirm": "merge", "into": into.reference, "version": source.version})
    assert response.status_code == 302
    assert response["Location"] == reverse("tickets:desk_ticket", args=[into.number])
    assert "Have you tried turning it off?" in client.get(response["Location"]).content.decode()
    source_page = client.get(reverse("tickets:desk_ticket", args=[source.number])).content.decode()
    assert "Merged into" in source_page and into.reference in source_page


def test_workspace_merge_refusals_are_explained(client, pair):
    client.force_login(pair["supervisor"])
    url = reverse("tickets:desk_merge", args=[pair["source"].number])
    response = client.post(url, {"confirm": "merge", "into": "T-999999"})
    page = unescape(response.content.decode())
    # The workspace comes back with the number as typed and the reason beside the field.
    assert response.status_code == 422 and "There is no ticket “T-999999” that you can work." in page
    assert 'value="T-999999" aria-invalid="true"' in page
    response = client.post(url, {"confirm": "merge", "into": "'; DROP TABLE"})
    assert "that you can work" in unescape(response.content.decode())
    stale = client.post(url, {"confirm": "merge", "into": pair["into"].reference, "version": "0"})
    assert stale.status_code == 422 and MERGE_STALE in unescape(stale.content.decode())
    assert Ticket.objects.get(pk=pair["source"].pk).merged_into_id is None


def test_agents_see_no_merge_form(client, pair):
    client.force_login(make_agent(pair["team"]))
    page = client.get(reverse("tickets:desk_ticket", args=[pair["source"].number])).content.decode()
    assert "Merge into ticket" not in page


def test_customer_sees_where_the_conversation_went(client, pair):
    services.ticket_merge(pair["source"], into=pair["into"], actor=pair["supervisor"])
    client.force_login(pair["customer"])
    page = client.get(reverse("tickets:portal_detail", args=[pair["source"].number])).content.decode()
    assert "Merged into" in page and pair["into"].reference in page


def test_an_absurdly_long_number_is_just_not_found(client, pair):
    client.force_login(pair["supervisor"])
    url = reverse("tickets:desk_merge", args=[pair["source"].number])
    response = client.post(url, {"confirm": "merge", "into": "9" * 40})
    assert response.status_code == 422 and "that you can work" in unescape(response.content.decode())


def test_a_merged_ticket_is_read_only_in_the_services_and_the_workspace(client, pair):
    source, into, supervisor = pair["source"], pair["into"], pair["supervisor"]
    services.ticket_merge(source, into=into, actor=supervisor)
    source.refresh_from_db()
    refused = f"{source.reference} was merged into {into.reference}"
    changes = [
        lambda: services.ticket_update_fields(source, changes={"priority": "urgent"}, actor=supervisor),
        lambda: services.ticket_set_tags(source, names=["other"], actor=supervisor),
        lambda: services.ticket_assign(source, assignee=supervisor, actor=supervisor),
    ]
    for change in changes:
        with pytest.raises(services.TicketNotAllowed, match=refused):
            change()
    assert Ticket.objects.get(pk=source.pk).version == source.version
    client.force_login(supervisor)
    page = client.get(reverse("tickets:desk_ticket", args=[source.number])).content.decode()
    assert f'Merged into <a href="{reverse("tickets:desk_ticket", args=[into.number])}">' in page
    assert 'name="field" value="priority"' not in page and 'name="field" value="take"' not in page
    assert "<dt>Priority</dt><dd>Medium</dd>" in page  # still readable
    response = client.post(
        reverse("tickets:desk_update", args=[source.number]),
        {"field": "priority", "value": "urgent", "version": source.version},
    )
    assert response.status_code == 409 and Ticket.objects.get(pk=source.pk).priority == "medium"
    assert "was merged into" in unescape(response.content.decode())


def test_a_reply_on_a_ticket_merged_into_one_since_closed_says_a_follow_up_was_opened(client):
    customer = make_customer()
    source, target = make_ticket(customer, subject="Source"), make_ticket(customer, subject="Target")
    services.ticket_merge(source, into=target, actor=None)
    services.ticket_transition(target, status="closed", actor=None)
    client.force_login(customer)
    reply = reverse("tickets:portal_reply", args=[source.number])
    page = unescape(client.post(reply, {"body": "Any news?"}, follow=True).content.decode())
    follow_up = Ticket.objects.get(follow_up_of=target)
    expected = (
        f"was merged into {target.reference}, which is closed, so your message opened {follow_up.reference}"
    )
    assert expected in page


def _merged_along(supervisor, customer, team, length: int) -> Ticket:
    """The first of `length` + 1 tickets, each merged into the next after the one before it was."""
    tickets = [make_ticket(customer, team=team, subject=f"Link {n}") for n in range(length + 1)]
    for source, into in pairwise(tickets):
        services.ticket_merge(
            Ticket.objects.get(pk=source.pk), into=Ticket.objects.get(pk=into.pk), actor=supervisor
        )
    return Ticket.objects.get(pk=tickets[0].pk)


@pytest.mark.parametrize("page", ["tickets:desk_ticket", "tickets:portal_detail"])
def test_a_ticket_merged_along_a_long_chain_costs_what_a_short_one_does(client, pair, page):
    """The page of a ticket merged along a chain (A into B, B into C, ...) names where the conversation
    went, read in one query: 2 merges or 8 cost the same."""
    user = pair["supervisor"] if page == "tickets:desk_ticket" else pair["customer"]
    client.force_login(user)
    short, long = (_merged_along(pair["supervisor"], pair["customer"], pair["team"], n) for n in (2, 8))
    assert short.merge_chain()[-1].subject == "Link 2" and long.merge_chain()[-1].subject == "Link 8"
    client.get(reverse(page, args=[short.number]))  # warm: the session, the site configuration
    counts = []
    for ticket in (short, long):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse(page, args=[ticket.number])).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_merging_closes_the_source_as_resolved_and_carries_its_first_answer(pair, clock):
    """The merged ticket is closed as every other way closes one (resolved_at too); an answer that came
    with its thread answered the customer when it was written, so the target's first response is that
    one's when earlier."""
    source, into = pair["source"], pair["into"]
    first_answer = source.first_response_at
    assert first_answer is not None and into.first_response_at is None
    clock.shift(timedelta(days=2))
    services.ticket_merge(source, into=into, actor=pair["supervisor"])
    source.refresh_from_db()
    into.refresh_from_db()
    assert source.resolved_at == source.closed_at is not None
    assert into.first_response_at == first_answer


def test_a_target_solved_after_the_customer_message_that_moves_in_stays_solved(pair, clock):
    """The agent read the duplicate's message and solved the target after it: merging the duplicate in
    later does not undo that. One written after the resolution still reopens it."""
    source, into, supervisor, customer = pair["source"], pair["into"], pair["supervisor"], pair["customer"]
    clock.shift(timedelta(hours=1))
    services.ticket_reply(source, body="It was the rear tray, thanks.", actor=customer)
    clock.shift(timedelta(hours=1))
    services.ticket_transition(into, status="resolved", actor=supervisor)
    into.refresh_from_db()
    resolved_at = into.resolved_at
    clock.shift(timedelta(hours=1))
    services.ticket_merge(Ticket.objects.get(pk=source.pk), into=into, actor=supervisor)
    into.refresh_from_db()
    assert (into.status, into.resolved_at) == ("resolved", resolved_at)
    later = make_ticket(pair["customer"], team=pair["team"], subject="Printer, third time")
    clock.shift(timedelta(hours=1))
    services.ticket_reply(later, body="It jammed again.", actor=customer)
    services.ticket_merge(Ticket.objects.get(pk=later.pk), into=into, actor=supervisor)
    into.refresh_from_db()
    assert (into.status, into.resolved_at) == ("open", None)


def test_the_workspace_asks_once_more_naming_both_tickets_before_a_merge(client, pair):
    """A typed number and a merge that cannot be undone (WCAG 3.3.4): the first sending shows both
    tickets and changes nothing; Cancel goes back to the workspace in its queue; a merge that would be
    refused is refused at once, without the question."""
    source, into = pair["source"], pair["into"]
    client.force_login(pair["supervisor"])
    url = reverse("tickets:desk_merge", args=[source.number])
    asked = client.post(url, {"into": str(into.number), "version": source.version, "queue": "status=new"})
    page = unescape(asked.content.decode())
    assert asked.status_code == 200
    assert f"Merge {source.reference} into {into.reference}?" in page
    assert source.subject in page and into.subject in page and "cannot be undone" in page
    assert '<input type="hidden" name="queue" value="status=new">' in page
    assert f'href="{reverse("tickets:desk_ticket", args=[source.number])}?queue=status%3Dnew"' in page
    source.refresh_from_db()
    assert source.merged_into_id is None and source.status != "closed"
    assert not TicketActivity.objects.filter(action="merge").exists()
    refused = client.post(url, {"into": source.reference, "version": source.version})
    assert refused.status_code == 422 and services.MERGE_SELF in unescape(refused.content.decode())
    done = client.post(url, {"into": into.reference, "version": source.version, "confirm": "merge"})
    assert done.status_code == 302
    assert Ticket.objects.get(pk=source.pk).merged_into_id == into.pk


def test_a_merge_confirmed_after_the_target_changed_is_asked_again(client, pair):
    """The confirmation names the target as it was (its team will read the notes that move): moved to
    another team since, the confirmed merge is refused with the reason, and nothing moves."""
    import re

    source, into, supervisor = pair["source"], pair["into"], pair["supervisor"]
    other = TeamFactory()
    supervisor.team_memberships.create(team=other, role="supervisor")
    client.force_login(supervisor)
    url = reverse("tickets:desk_merge", args=[source.number])
    page = client.post(url, {"into": into.reference, "version": source.version}).content.decode()
    confirm = dict(
        re.findall(r'<input type="hidden" name="(into|version|into_version)" value="([^"]*)">', page)
    )
    assert confirm["into_version"] == str(into.version)
    services.ticket_update_fields(into, changes={"team": other}, actor=supervisor)
    refused = client.post(url, {**confirm, "confirm": "merge"})
    assert refused.status_code == 422
    assert services.MERGE_TARGET_CHANGED.format(ticket=into.reference) in unescape(refused.content.decode())
    assert Ticket.objects.get(pk=source.pk).merged_into_id is None
    confirm["into_version"] = str(Ticket.objects.get(pk=into.pk).version)  # asked again, and confirmed
    assert client.post(url, {**confirm, "confirm": "merge"}).status_code == 302


def test_a_staff_answer_that_comes_with_a_merge_opens_a_new_target(pair):
    """A staff reply on a New ticket opens it; the same answer arriving with the merged thread does too."""
    source, into = pair["source"], pair["into"]
    assert into.status == "new" and source.first_response_at is not None
    services.ticket_merge(source, into=into, actor=pair["supervisor"])
    into.refresh_from_db()
    assert (into.status, into.first_response_at) == ("open", source.first_response_at)
    assert TicketActivity.objects.filter(
        ticket=into, action="status", old_value="new", new_value="open"
    ).exists()
