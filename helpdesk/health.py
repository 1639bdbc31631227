"""Health endpoints for monitoring: /healthz (the process answers) and /readyz (the database answers)."""

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe


def database_ready(connection: BaseDatabaseWrapper) -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except (DatabaseError, OSError, ImproperlyConfigured):
        # ImproperlyConfigured: the embedded server could not start.
        return False


@never_cache
@require_safe  # monitors often probe with HEAD
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    if database_ready(connections["default"]):
        return JsonResponse({"status": "ready", "database": "ok"})
    return JsonResponse({"status": "not ready", "database": "unavailable"}, status=503)
