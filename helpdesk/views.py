"""Site-wide pages: the portal home, the favicon. Error pages are Django's defaults with templates/40x.html
and 500.html."""

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.template import loader
from django.template.defaultfilters import filesizeformat
from django.templatetags.static import static
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

from helpdesk.forms import is_site_path
from helpdesk.middleware import site_configuration
from tickets.models import TicketForm


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    may_submit = request.user.is_authenticated or site_configuration(request).anonymous_submission
    forms = TicketForm.objects.active_for(request.user) if may_submit else TicketForm.objects.none()
    return render(request, "helpdesk/home.html", {"forms": forms, "may_submit": may_submit})


@require_safe
def admin_login(request: HttpRequest) -> HttpResponse:
    """/admin/login/ → the site's sign-in page, keeping where to go next. Someone already signed in goes
    on to the admin page they asked for if they have admin access (a bookmark of the admin's sign-in
    page); without it, sending them to sign in would bounce them straight back."""
    if request.user.is_authenticated:
        if not admin.site.has_permission(request):
            raise PermissionDenied("Your account has no access to the administration.")
        wanted = request.GET.get("next", "")
        if is_site_path(request, wanted):  # not to a sign-out, which takes a POST only
            return redirect(wanted)
        return redirect("admin:index")
    query = request.GET.urlencode()
    return redirect(reverse("accounts:login") + (f"?{query}" if query else ""))


FAVICON_REDIRECT_SECONDS = 24 * 60 * 60


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico → the site's icon. Browsers ask for it on pages that name no icon (the admin's, a
    download), and a 404 for each is noise in the logs. Not a permanent redirect: browsers keep one for
    good, and the icon's address (its hashed name) changes with its content; a day's caching instead."""
    response = redirect(static("img/favicon.svg"))
    patch_cache_control(response, public=True, max_age=FAVICON_REDIRECT_SECONDS)
    return response


# What was too much in a request Django refused whole before any view saw it: said, with the way round.
TOO_MUCH = {
    RequestDataTooBig: (
        "What you sent is larger than this site takes ({size} of text at most). Nothing was saved: go back, "
        "shorten the text or attach long logs as files, and send it again."
    ),
    TooManyFieldsSent: (
        "What you sent has too many fields for this site. Nothing was saved: go back and send the form as "
        "the page gave it."
    ),
    TooManyFilesSent: (
        "You sent too many files at once for this site. Nothing was saved: go back and attach at most "
        "{files} files to a message."
    ),
}


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The 400 page (handler400): what was too much, when that is why; else that the request was not
    understood. Rendered without the request, as Django's own: its body is what could not be read."""
    from tickets.attachments import MAX_FILES  # the tickets app depends on this one

    reason = next((text for kind, text in TOO_MUCH.items() if isinstance(exception, kind)), "")
    reason = reason.format(size=filesizeformat(settings.DATA_UPLOAD_MAX_MEMORY_SIZE), files=MAX_FILES)
    return HttpResponseBadRequest(loader.get_template("400.html").render({"reason": reason}))
