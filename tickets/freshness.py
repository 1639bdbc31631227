"""The mark of a person's own last change to tickets, kept in their session: the desk's cached counts
are never older than it, so whoever changes a ticket (from the desk, the portal or the admin) sees the
change counted at once."""

import functools
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from accounts import rbac

TICKETS_CHANGED = "desk_tickets_changed"


def mark_tickets_changed(request: HttpRequest) -> None:
    # Only for someone with a desk: a customer's session is not written for a mark nothing reads, and a
    # visitor would be given a session.
    if rbac.is_agent(request.user):
        request.session[TICKETS_CHANGED] = time.time_ns()


def last_change(request: HttpRequest) -> int | None:
    return request.session.get(TICKETS_CHANGED)


def changes_tickets(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Marks a view that changes tickets when it is posted to (the mark lives in the session, which
    every worker process reads)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if request.method == "POST":
            mark_tickets_changed(request)
        return response

    return wrapped
