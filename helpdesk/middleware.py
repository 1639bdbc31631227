"""Maintenance mode (non-staff get a friendly 503 page while staff keep working), and no caching of
what a signed-in person is shown."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from accounts import rbac
from helpdesk.models import SiteConfiguration


def site_configuration(request: HttpRequest) -> SiteConfiguration:
    """The site configuration, read once per request."""
    if not hasattr(request, "_site_configuration"):
        request._site_configuration = SiteConfiguration.objects.get_current()
    return request._site_configuration


class MaintenanceModeMiddleware:
    # Staff must still be able to sign in (also after forgetting their password), and monitoring must
    # still see the truth.
    always_open = (
        "/healthz",
        "/readyz",
        "/static/",
        "/accounts/login/",
        "/accounts/logout/",
        "/accounts/password_reset/",
        "/accounts/reset/",
        "/admin/login/",
    )

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(self.always_open):
            return self.get_response(request)
        configuration = site_configuration(request)
        if configuration.maintenance_mode and not rbac.is_staff(request.user):
            response = render(
                request,
                "maintenance.html",
                {"message": configuration.maintenance_message, "login_url": reverse("accounts:login")},
                status=503,
            )
            response["Retry-After"] = "600"
            return response
        return self.get_response(request)


class PrivatePagesMiddleware:
    """A page shown to a signed-in person (their tickets, the queue, their sessions, recovery codes) is
    kept by no cache, neither a shared proxy nor the browser's disk. Responses that say how they may be
    cached (the queue fragment's ETag, a download) keep their own rules."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Cache-Control" not in response and request.user.is_authenticated:
            add_never_cache_headers(response)
        return response
