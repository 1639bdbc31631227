"""View decorators backed by rbac."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse

from accounts import rbac


def _signed_in_and(check: Callable[[object], bool]) -> Callable[[Callable], Callable]:
    """Anonymous visitors are sent to sign in; signed-in users who fail `check` get 404, as if the page
    did not exist."""

    def decorator(view: Callable) -> Callable:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not check(request.user):
                raise Http404("No such page.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


# The desk (and the knowledge base's authoring pages, which share this decorator): a staff role is not
# enough, the role must also grant view_support_queue, so removing it from a role closes the desk.
agent_required = _signed_in_and(rbac.can_open_desk)
supervisor_required = _signed_in_and(rbac.is_supervisor)
