"""The audit viewer (/audit/) for supervisors and administrators: filtered events and a CSV export."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from accounts.decorators import supervisor_required
from audit import export, selectors
from audit.export import audit_export
from helpdesk.downloads import as_download
from helpdesk.ratelimit import rate_limit

LIST_TEMPLATE = "audit/event_list.html"


def _render_list(request: HttpRequest, params, *, refused: bool = False) -> HttpResponse:
    page = selectors.event_page(request.user, params)
    filters = page.filterset.filters
    # The filters in force: carried by the export form as hidden fields, and by the page links, which
    # lead to the list even from a refused export (a POST to /audit/export/).
    used = [(name, value) for name in filters for value in params.getlist(name) if value]
    filters_query = QueryDict(mutable=True)
    for name, value in used:
        filters_query.appendlist(name, value)
    context = {
        "page": page,
        "export_params": used,
        "filters_query": filters_query,
        "export_limit": f"{export.EXPORT_MAX_ROWS:,}",  # read as the export reads it
    }
    status = 422 if page.filterset.errors or refused else 200
    partial = request.htmx and request.htmx.target == "events"
    return render(request, LIST_TEMPLATE + "#events" if partial else LIST_TEMPLATE, context, status=status)


@supervisor_required
@require_safe
def event_list(request: HttpRequest) -> HttpResponse:
    return _render_list(request, request.GET)


@supervisor_required
@require_POST
@rate_limit("audit_export")
def event_export(request: HttpRequest) -> HttpResponse:
    filterset = selectors.event_filter(request.user, request.POST)
    if not filterset.is_valid():
        # An export of a filter that was not understood would hold more than was asked for.
        return _render_list(request, request.POST)
    try:
        lines = audit_export(filterset, actor=request.user)
    except ValidationError as refusal:
        messages.error(request, " ".join(refusal.messages))
        return _render_list(request, request.POST, refused=True)
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    return as_download(response, f'attachment; filename="audit-{timezone.now():%Y%m%d-%H%M%S}.csv"')
