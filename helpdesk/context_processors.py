"""Template context shared by every page: the site name and the viewer's role-aware navigation."""

from django.http import HttpRequest

from accounts import rbac
from helpdesk.middleware import site_configuration


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    configuration = site_configuration(request)
    return {
        "site_configuration": configuration,
        "viewer_is_agent": rbac.is_agent(user),
        "viewer_is_supervisor": rbac.is_supervisor(user),
        "viewer_is_administrator": rbac.is_administrator(user),
    }
