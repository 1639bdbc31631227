"""The address a request comes from, for audit events, sessions, rate limits and lockouts."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR; behind our own reverse proxy (BEHIND_TLS_PROXY), the address that proxy saw: the
    last X-Forwarded-For entry, the one it appended (earlier entries are the client's to invent)."""
    if settings.BEHIND_TLS_PROXY:
        last = request.META.get("HTTP_X_FORWARDED_FOR", "").rsplit(",", 1)[-1].strip()
        try:
            return str(ipaddress.ip_address(last))
        except ValueError:
            pass
    return request.META.get("REMOTE_ADDR") or None
