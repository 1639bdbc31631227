"""Maintenance mode (non-staff get a friendly 503 page while staff keep working), no caching of what a
signed-in person is shown, a way back to the page after a session ends mid-task, and request.htmx
that answers htmx's history restore with the plain page."""

import functools
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

import django_htmx.middleware
from django.conf import settings
from django.contrib import messages
from django.forms.utils import pretty_name
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseRedirectBase
from django.middleware import common, security
from django.shortcuts import render, resolve_url
from django.urls import Resolver404, resolve, reverse
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.http import escape_leading_slashes, url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect

from accounts import rbac
from helpdesk import drafts
from helpdesk.models import SiteConfiguration


def site_configuration(request: HttpRequest) -> SiteConfiguration:
    """The site configuration, read once per request."""
    if not hasattr(request, "_site_configuration"):
        request._site_configuration = SiteConfiguration.objects.get_current()
    return request._site_configuration


class SecurityHeadersMiddleware:
    """SecurityMiddleware's headers (nosniff, the referrer and opener policies, HSTS) on every answer,
    from outside it: its redirect to HTTPS reads the Host header first, and for one not allowed the 400
    raised there came back past it without them. Its process_response sets only what is not set."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.security = security.SecurityMiddleware(get_response)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.security.process_response(request, self.get_response(request))


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
            login_url = reverse("accounts:login")
            if request.method == "GET" and request.path != "/":  # staff come back to what they opened
                login_url += "?" + urlencode({"next": request.get_full_path()})
            context = {
                "message": configuration.maintenance_message,
                "login_url": login_url,
                "kept": typed_in(request) if request.method == "POST" else [],
            }
            response = render(request, "maintenance.html", context, status=503)
            response["Retry-After"] = "600"
            return response
        return self.get_response(request)


# Custom fields ("cf_<name>") of the kinds people type into, labelled as the request form labels them.
CUSTOM_FIELD = "cf_"
TYPED_KINDS = frozenset({"text", "textarea", "email", "number", "date"})


@functools.cache
def _typed_fields() -> dict[str, str]:
    """The fields people type into on the pages maintenance mode closes (a request, a reply, sign-up), by
    name, labelled as their forms label them."""
    from tickets.forms import ReplyForm, TicketSubmitForm  # the tickets app depends on this one

    typed = {TicketSubmitForm: ("name", "email", "subject", "description"), ReplyForm: ("body",)}
    return {
        name: str(form.base_fields[name].label or pretty_name(name))
        for form, names in typed.items()
        for name in names
    }


def typed_in(request: HttpRequest) -> list[tuple[str, str]]:
    """(label, text) for what a form sent as maintenance began holds that someone typed (a ticket's
    description, a reply): the page gives it back to copy, as nothing was saved and the form's page is
    closed too. Buttons' values, the form's own keys and secrets are nobody's words: left out."""
    custom = _custom_fields(request)
    kept = []
    for name, values in request.POST.lists():
        label = _typed_fields().get(name)
        custom_name = name.removeprefix(CUSTOM_FIELD) if name.startswith(CUSTOM_FIELD) else None
        if label is None and (field := custom.get(custom_name)):
            label = field.get("label") or field["name"]
        if label is not None:
            kept += [(label, value) for value in values if value.strip()]
    return kept


def _custom_fields(request: HttpRequest) -> dict[str, dict]:
    """The typed fields of the request form the POST went to, by name."""
    from tickets.models import TicketForm  # the tickets app depends on this one, not the other way

    try:
        match = resolve(request.path_info)
    except Resolver404:
        return {}
    slug = match.kwargs.get("slug") if match.view_name == "tickets:portal_submit_form" else None
    # Only a form the sender may see names its fields: else the page would tell a private form's questions.
    form = TicketForm.objects.active_for(request.user).filter(slug=slug).first() if slug else None
    schema = form.definitions if form is not None else []
    return {field["name"]: field for field in schema if field["type"] in TYPED_KINDS}


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


class MethodNotAllowedPageMiddleware:
    """Django answers a method a view does not take (a reload of a form's address, GET on sign-out) with
    an empty 405, which a browser shows as a blank page, and has no handler405: here it gets the site's
    error page, keeping its Allow header."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code != 405 or response.content or request.method == "HEAD":
            return response
        page = render(request, "405.html", status=405)
        page["Allow"] = response["Allow"]
        return page


SIGNED_OUT_MIDWAY = "Your session has ended, so that was not sent. Sign in to continue where you were."
DRAFT_KEPT_MIDWAY = (
    "Your session has ended, so your message was not sent. Sign in and it comes back where you wrote it "
    "(attach any files again)."
)
# The forms whose text waits over a sign-in (helpdesk.drafts), by the view they post to: what is kept.
DRAFTED_FIELDS = {
    "tickets:portal_reply": ("body",),
    "tickets:desk_reply": ("kind", "body", "status_after"),
}


class SignInRedirectMiddleware:
    """A session that ends while someone writes a reply: the sign-in redirect of a POST (or of an htmx
    request) would bring them back to the form's action, which answers GET with 405, and htmx would
    swap the whole sign-in page into the thread. Instead the browser goes to sign in (HX-Redirect for
    htmx) and comes back to the page they were on, told that what they sent did not arrive."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code != 302 or request.user.is_authenticated:
            return response
        if request.method != "POST" and not request.htmx:
            return response
        match = request.resolver_match
        if match is not None and match.view_name == "accounts:logout":  # signed out on purpose, sent on
            return response
        login = resolve_url(settings.LOGIN_URL)
        location = urlsplit(response["Location"])
        # Only "sign in first" (login_required adds next=), not a sign-in flow sending back to its start.
        if location.path != login or "next=" not in location.query:
            return response
        page = self._page(request)
        target = f"{login}?{urlencode({'next': page})}" if page else login
        if request.method == "POST":
            view_name = match.view_name if match is not None else ""
            kept = bool(page) and self._keep_draft(request, view_name, urlsplit(page).path)
            messages.warning(request, DRAFT_KEPT_MIDWAY if kept else SIGNED_OUT_MIDWAY)
        if request.htmx:
            # An empty 200 at the page's own address: kept by the browser, Back would show it as the page.
            redirect = HttpResponseClientRedirect(target)
            add_never_cache_headers(redirect)
            patch_vary_headers(redirect, ["HX-Request"])
            return redirect
        response["Location"] = target
        return response

    @staticmethod
    def _keep_draft(request: HttpRequest, view_name: str, path: str) -> bool:
        if view_name not in DRAFTED_FIELDS or not request.POST.get("body", "").strip():
            return False
        typed = {name: request.POST.getlist(name) for name in DRAFTED_FIELDS[view_name]}
        return drafts.keep_draft(request, path=path, typed=typed)

    @staticmethod
    def _page(request: HttpRequest) -> str:
        """The page the request came from, on this site: its path and query."""
        url = request.headers.get("HX-Current-URL") or request.headers.get("Referer") or ""
        if not url_has_allowed_host_and_scheme(url, {request.get_host()}, require_https=request.is_secure()):
            return ""
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")


class HtmxDetails(django_htmx.middleware.HtmxDetails):
    """request.htmx, false for htmx's history restore (the Back button to an address htmx pushed): that
    request asks for the whole page, so it gets the plain page. As an htmx request it got the page's
    out-of-band parts marked for swapping, which htmx then moved out of the page it put back (the
    queue lost its heading and view lists, the audit trail its filters)."""

    def __bool__(self) -> bool:
        return super().__bool__() and not self.history_restore_request


class HtmxMiddleware(django_htmx.middleware.HtmxMiddleware):
    async_capable = False  # served by WSGI; the parent's async path would set its own details

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.htmx = HtmxDetails(request)
        return self.get_response(request)


class HttpResponsePermanentRedirectKeepingMethod(HttpResponseRedirectBase):
    status_code = 308


class CommonMiddleware(common.CommonMiddleware):
    """Django's, whose slash redirect keeps a form's method and body: a POST to an address without its
    trailing slash gets 308, which the browser sends again as it was, to the address with it. Django's
    301 turns it into a GET that drops what was typed (and under DEBUG raises instead)."""

    def get_full_path_with_slash(self, request: HttpRequest) -> str:
        return escape_leading_slashes(request.get_full_path(force_append_slash=True))

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if (
            response.status_code == 404
            and request.method not in ("GET", "HEAD")
            and self.should_redirect_with_slash(request)
        ):
            response = HttpResponsePermanentRedirectKeepingMethod(self.get_full_path_with_slash(request))
        return super().process_response(request, response)
