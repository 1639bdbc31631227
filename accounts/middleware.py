"""Per-request account plumbing: the user's time zone (times are stored in UTC), session activity and
the two-factor requirement."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django_htmx.http import HttpResponseClientRedirect

from accounts import two_factor
from helpdesk.middleware import site_configuration


class UserTimezoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            timezone.activate(user.zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()  # the thread serves other requests (and tests) next


class SessionActivityMiddleware:
    """Keeps each session's "last seen" current (at most one write per session every few minutes)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is not None and session.accessed and not session.modified and hasattr(session, "touch"):
            session.touch()
        return response


class TwoFactorRequiredMiddleware:
    """Where the site requires two-factor sign-in, staff without a verified second factor can only set
    one up (or sign out): every other page sends them to the set-up page."""

    allowed = frozenset({"accounts:two_factor", "accounts:logout", "healthz", "readyz"})

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        user = request.user
        if (
            not user.is_authenticated
            or user.is_verified()
            or request.resolver_match.view_name in self.allowed
        ):
            return None
        if two_factor.is_required(user, site_requires=site_configuration(request).require_two_factor):
            if getattr(request, "htmx", False):  # the page goes, not a fragment swapped in its place
                return HttpResponseClientRedirect(reverse("accounts:two_factor"))
            return redirect("accounts:two_factor")
        return None
