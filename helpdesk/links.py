"""Absolute links in mails: to the site's own address (SITE_URL) when it is set, else to the host the
request came to. A reset link built from the request's Host header goes wherever that header says, which
ALLOWED_HOSTS alone bounds (a wildcard such as ".example.com" lets any subdomain through)."""

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest


def mail_site(request: HttpRequest) -> tuple[str, bool]:
    """(the host links go to, whether over HTTPS)."""
    if settings.SITE_URL:
        parts = urlsplit(settings.SITE_URL)
        return parts.netloc, parts.scheme == "https"
    return request.get_host(), request.is_secure()


def absolute_link(host: str, https: bool, path: str) -> str:
    """`path` (from reverse()) on `host`: the form a task, which has no request, is given the site in."""
    return f"{'https' if https else 'http'}://{host}{path}"


def mail_link(request: HttpRequest, path: str) -> str:
    """`path` (from reverse()) as an absolute link for a mail."""
    return absolute_link(*mail_site(request), path)
