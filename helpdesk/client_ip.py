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
            return _plain_address(ipaddress.ip_address(last))
        except ValueError:
            pass
    address = request.META.get("REMOTE_ADDR") or None
    try:
        return _plain_address(ipaddress.ip_address(address)) if address else None
    except ValueError:
        return address


def _plain_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """An IPv4 client reached over IPv6 (::ffff:203.0.113.7) as the IPv4 address it is."""
    mapped = getattr(ip, "ipv4_mapped", None)
    return str(mapped or ip)


def address_key(address: str | None) -> str | None:
    """The address rate limits and sign-in lockouts count under: an IPv6 client by its /64 network (a
    home or a server is given a whole /64, so a count per address would limit nothing), an IPv4-mapped
    one as its IPv4 address, IPv4 as it is."""
    if not address:
        return address
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6 and not ip.ipv4_mapped:
        return str(ipaddress.ip_network((ip, 64), strict=False).network_address)
    return _plain_address(ip)


def client_network(request: HttpRequest) -> str | None:
    """client_ip() as rate limits and lockouts count it (address_key)."""
    return address_key(client_ip(request))
