"""Who is asking: the current request's IP, user agent and request id, for audit events; and the one
place the headers we store (User-Agent, Accept) are cleaned."""

import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest

from helpdesk.client_ip import client_ip


@dataclass(frozen=True)
class RequestContext:
    ip: str | None = None
    user_agent: str = ""
    request_id: str = ""


NO_REQUEST = RequestContext()
# A UUID, or a proxy's own id of 8 to 64 hex digits and dashes.
FORWARDED_REQUEST_ID = re.compile(r"[0-9a-fA-F-]{8,64}")
current: ContextVar[RequestContext | None] = ContextVar("audit_request_context", default=None)
# Request headers whose text ends up in the database, with the length kept: User-Agent in audit events and
# sessions (and django-axes' attempts, which cut it to 255 themselves), Accept in django-axes' attempts.
STORED_HEADERS = {"HTTP_USER_AGENT": 300, "HTTP_ACCEPT": 1025}


def printable(value: str, max_length: int) -> str:
    """`value` without NUL, other control characters or invisible format characters (bidi overrides,
    zero-width spaces), trimmed and at most `max_length` characters long."""
    # PostgreSQL refuses NUL in text: a User-Agent carrying one turned every sign-in into a 500, and
    # django-axes could not count the failure, so guessing went on without a lockout. The other control and
    # format characters would forge line breaks in exports and logs, or disguise what administrators read.
    return "".join(character for character in value if character.isprintable()).strip()[:max_length]


def clean_stored_headers(request: HttpRequest) -> None:
    """Clean the headers we store, in the request itself, so every reader (audit events, sessions,
    django-axes) stores the same harmless text."""
    for name, max_length in STORED_HEADERS.items():
        if name in request.META:
            request.META[name] = printable(request.META[name], max_length)
    request.__dict__.pop("headers", None)  # request.headers is cached: read again from the cleaned META


class AuditContextMiddleware:
    """Cleans the stored headers and sets the audit context for the request. Listed before the sessions
    and django-axes' backend and middleware, which read the cleaned headers."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        clean_stored_headers(request)
        # Kept on the request as well: Django logs a 5xx page a view returned after this middleware is
        # done, and the system log reads the id from the request then (audit.logging).
        request_id = request.request_id = request_id_for(request)
        token = current.set(
            RequestContext(
                ip=client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
                request_id=request_id,
            )
        )
        try:
            response = self.get_response(request)
        finally:
            current.reset(token)
        response["X-Request-ID"] = request_id
        return response


def request_id_for(request: HttpRequest) -> str:
    """The id that ties this request's audit events and log lines together: our own proxy's
    X-Request-ID when we run behind one (BEHIND_TLS_PROXY), otherwise a fresh one."""
    # Without our proxy in front the header is the client's to invent: a forged id could tie an
    # attacker's requests to someone else's in the audit trail, or smuggle text into it.
    forwarded = request.headers.get("X-Request-ID", "") if settings.BEHIND_TLS_PROXY else ""
    if FORWARDED_REQUEST_ID.fullmatch(forwarded):
        return forwarded
    return uuid.uuid4().hex
