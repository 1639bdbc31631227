"""Template context shared by every page: the site name and the viewer's role-aware navigation."""

from django.contrib import admin
from django.http import HttpRequest

from accounts import rbac
from helpdesk.middleware import site_configuration


def _nav_section(request: HttpRequest) -> str:
    """Which main-navigation link the page belongs to (marked aria-current)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return ""
    name = match.url_name or ""
    if match.namespace == "tickets":
        if name.startswith("desk_"):
            return "desk"
        return "my-tickets" if name in ("portal_list", "portal_detail") else ""
    if match.namespace == "knowledge":
        return "articles" if name.startswith("manage_") else "knowledge"
    if match.namespace == "audit":
        return "audit"
    return {"home": "home", "profile": "profile", "login": "login"}.get(name, "")


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    configuration = site_configuration(request)
    return {
        "nav_section": _nav_section(request),
        "site_configuration": configuration,
        "viewer_is_agent": rbac.is_agent(user),
        # The links go where they open: an agent whose role lost view_support_queue has no desk (and
        # keeps "My tickets"); an administrator without admin access (is_staff) no administration.
        "viewer_opens_desk": rbac.can_open_desk(user),
        "viewer_is_supervisor": rbac.is_supervisor(user),
        "viewer_opens_admin": user is not None and admin.site.has_permission(request),
    }
