"""The ticket state machine: statuses, the allowed transitions as data, and reply rules."""

from django.db import models


class Status(models.TextChoices):
    NEW = "new", "New"
    OPEN = "open", "Open"
    PENDING = "pending", "Pending (waiting on customer)"
    ON_HOLD = "on_hold", "On hold"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


# What the customer's portal calls a status, where the desk's word is about the customer.
# What a requester is told: "on hold" (waiting on a third party) is the team's own business, shown as
# open, as Zendesk shows it to requesters.
CUSTOMER_STATUSES = {Status.ON_HOLD: Status.OPEN}
CUSTOMER_LABELS = {Status.PENDING: "Waiting for your reply", Status.RESOLVED: "Solved"}
# A colleague's pending ticket, as their organisation's manager reads it.
WAITING_FOR_REQUESTER = "Waiting for the requester's reply"


def customer_status(status: str) -> str:
    return CUSTOMER_STATUSES.get(status, status)


def customer_label(status: str) -> str:
    status = customer_status(status)
    return CUSTOMER_LABELS.get(status) or Status(status).label


# Staff transitions: from → allowed targets. Closed is final.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.NEW: frozenset({Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.RESOLVED, Status.CLOSED}),
    Status.OPEN: frozenset({Status.PENDING, Status.ON_HOLD, Status.RESOLVED, Status.CLOSED}),
    Status.PENDING: frozenset({Status.OPEN, Status.ON_HOLD, Status.RESOLVED, Status.CLOSED}),
    Status.ON_HOLD: frozenset({Status.OPEN, Status.PENDING, Status.RESOLVED, Status.CLOSED}),
    Status.RESOLVED: frozenset({Status.OPEN, Status.CLOSED}),
    Status.CLOSED: frozenset(),
}

# Customers may mark their ticket solved while it is being worked, and reopen a solved one.
CUSTOMER_TRANSITIONS: dict[str, frozenset[str]] = {
    Status.NEW: frozenset({Status.RESOLVED}),
    Status.OPEN: frozenset({Status.RESOLVED}),
    Status.PENDING: frozenset({Status.RESOLVED}),
    Status.ON_HOLD: frozenset({Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.OPEN}),
    Status.CLOSED: frozenset(),
}

# A customer reply on a ticket waiting for them (or already solved) puts it back in the queue.
REOPENED_BY_CUSTOMER_REPLY = frozenset({Status.PENDING, Status.RESOLVED})

OPEN_STATUSES = frozenset({Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD})
SOLVED_STATUSES = frozenset({Status.RESOLVED, Status.CLOSED})


# Statuses a ticket can be moved to at all (none goes back to New): what a bulk action offers.
REACHABLE: frozenset[str] = frozenset().union(*TRANSITIONS.values())


def allowed_transitions(status: str, *, by_customer: bool) -> frozenset[str]:
    table = CUSTOMER_TRANSITIONS if by_customer else TRANSITIONS
    return table[status]


def can_transition(status: str, target: str, *, by_customer: bool) -> bool:
    return target in allowed_transitions(status, by_customer=by_customer)


def status_after_customer_reply(status: str) -> str:
    return Status.OPEN if status in REOPENED_BY_CUSTOMER_REPLY else status


def accepts_replies(status: str) -> bool:
    """Closed tickets take no more messages; a customer follow-up opens a new linked ticket."""
    return status != Status.CLOSED
