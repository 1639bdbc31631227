"""Who is asking: the current request's IP, user agent and request id, for audit events."""

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


class AuditContextMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        request_id = request_id_for(request)
        token = current.set(
            RequestContext(
                ip=client_ip(request),
                user_agent=request.headers.get("User-Agent", "")[:300],
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
