"""The state machine: every allowed and every refused transition, for staff and for customers."""

import itertools

import pytest

from tests.factories import TeamFactory, make_agent, make_customer, make_ticket
from tickets import services, workflow
from tickets.models import Ticket, TicketActivity
from tickets.workflow import Status

ALL_PAIRS = [(old, new) for old, new in itertools.product(Status.values, Status.values) if old != new]
STAFF_ALLOWED = {
    ("new", "open"), ("new", "pending"), ("new", "on_hold"), ("new", "resolved"), ("new", "closed"),
    ("open", "pending"), ("open", "on_hold"), ("open", "resolved"), ("open", "closed"),
    ("pending", "open"), ("pending", "on_hold"), ("pending", "resolved"), ("pending", "closed"),
    ("on_hold", "open"), ("on_hold", "pending"), ("on_hold", "resolved"), ("on_hold", "closed"),
    ("resolved", "open"), ("resolved", "closed"),
}  # fmt: skip
CUSTOMER_ALLOWED = {
    ("new", "resolved"), ("open", "resolved"), ("pending", "resolved"), ("on_hold", "resolved"),
    ("resolved", "open"),
}  # fmt: skip


@pytest.mark.parametrize(("old", "new"), ALL_PAIRS)
def test_transition_table(old, new):
    assert workflow.can_transition(old, new, by_customer=False) == ((old, new) in STAFF_ALLOWED)
    assert workflow.can_transition(old, new, by_customer=True) == ((old, new) in CUSTOMER_ALLOWED)


def test_closed_is_final_for_everyone():
    assert workflow.allowed_transitions(Status.CLOSED, by_customer=False) == frozenset()
    assert workflow.allowed_transitions(Status.CLOSED, by_customer=True) == frozenset()


@pytest.mark.parametrize("status", Status.values)
def test_customer_reply_reopens_only_pending_and_resolved(status):
    expected = Status.OPEN if status in (Status.PENDING, Status.RESOLVED) else status
    assert workflow.status_after_customer_reply(status) == expected


@pytest.fixture
def setup(db):
    team = TeamFactory()
    customer = make_customer()
    agent = make_agent(team)
    return customer, agent, team


@pytest.mark.parametrize(("old", "new"), ALL_PAIRS)
def test_service_enforces_the_staff_table(setup, old, new):
    customer, agent, team = setup
    ticket = make_ticket(customer, team=team)
    Ticket.objects.filter(pk=ticket.pk).update(status=old)
    if (old, new) in STAFF_ALLOWED:
        ticket = services.ticket_transition(ticket, status=new, actor=agent)
        assert ticket.status == new
        entry = ticket.activities.filter(action=TicketActivity.Action.STATUS).get()
        assert (entry.actor, entry.old_value, entry.new_value) == (agent, old, new)
    else:
        with pytest.raises(services.TransitionRefused):
            services.ticket_transition(ticket, status=new, actor=agent)
        assert Ticket.objects.get(pk=ticket.pk).status == old


@pytest.mark.parametrize(("old", "new"), ALL_PAIRS)
def test_service_enforces_the_customer_table(setup, old, new):
    customer, _, team = setup
    ticket = make_ticket(customer, team=team)
    Ticket.objects.filter(pk=ticket.pk).update(status=old)
    if (old, new) in CUSTOMER_ALLOWED:
        assert services.ticket_transition(ticket, status=new, actor=customer).status == new
    elif workflow.customer_status(old) == workflow.customer_status(new):
        # The same status in the portal's words (on hold is open to them): already so, nothing changes.
        services.ticket_transition(ticket, status=new, actor=customer)
        assert Ticket.objects.get(pk=ticket.pk).status == old
        assert not ticket.activities.filter(action=TicketActivity.Action.STATUS).exists()
    else:
        with pytest.raises(services.TransitionRefused):
            services.ticket_transition(ticket, status=new, actor=customer)
        assert Ticket.objects.get(pk=ticket.pk).status == old


def test_resolving_and_closing_stamp_their_times(setup):
    customer, agent, team = setup
    ticket = make_ticket(customer, team=team)
    ticket = services.ticket_transition(ticket, status=Status.RESOLVED, actor=agent)
    assert ticket.resolved_at is not None
    ticket = services.ticket_transition(ticket, status=Status.OPEN, actor=customer)
    assert ticket.resolved_at is None
    ticket = services.ticket_transition(ticket, status=Status.CLOSED, actor=agent)
    assert ticket.closed_at is not None and ticket.resolved_at is not None
