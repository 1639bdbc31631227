"""View decorators backed by rbac."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse

from accounts import rbac


def agent_required(view: Callable) -> Callable:
    """Signed-in agents only; everyone else gets 404, as if the page did not exist."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not rbac.is_agent(request.user):
            raise Http404("No such page.")
        return view(request, *args, **kwargs)

    return wrapper
