"""Who is asking: the current request's IP, user agent and request id, for audit events."""

import uuid
from contextvars import ContextVar
from dataclasses import dataclass

from django.http import HttpRequest

from helpdesk.client_ip import client_ip


@dataclass(frozen=True)
class RequestContext:
    ip: str | None = None
    user_agent: str = ""
    request_id: str = ""


NO_REQUEST = RequestContext()
current: ContextVar[RequestContext | None] = ContextVar("audit_request_context", default=None)


class AuditContextMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        request_id = request.headers.get("X-Request-ID", "")[:64] or uuid.uuid4().hex
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
