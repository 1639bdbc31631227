"""Health endpoints for monitoring: /healthz (the process answers) and /readyz (the database answers and
holds every migration this code ships), answered whatever host the probe names."""

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

# Once the database holds every migration this process's code ships, it always will (migrations are not
# taken back under running code): asked again only until then, so probes stay cheap.
_migrated: set[str] = set()


def database_ready(connection: BaseDatabaseWrapper) -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except (DatabaseError, OSError, ImproperlyConfigured):
        # ImproperlyConfigured: the embedded server could not start.
        return False


def migrations_pending(connection: BaseDatabaseWrapper) -> bool:
    """Whether the database lacks migrations the code ships (new code started before `migrate`, or after
    it failed): its pages would fail on tables and columns not there yet."""
    if connection.alias in _migrated:
        return False
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        return True
    _migrated.add(connection.alias)
    return False


@never_cache
@require_safe  # monitors often probe with HEAD
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    connection = connections["default"]
    if not database_ready(connection):
        return JsonResponse({"status": "not ready", "database": "unavailable"}, status=503)
    try:
        pending = migrations_pending(connection)
    except (DatabaseError, OSError):
        return JsonResponse({"status": "not ready", "database": "unavailable"}, status=503)
    if pending:
        return JsonResponse({"status": "not ready", "database": "ok", "migrations": "pending"}, status=503)
    return JsonResponse({"status": "ready", "database": "ok"})


class HealthProbeMiddleware:
    """Answers the two probes (GET and HEAD) before CommonMiddleware checks the Host header against
    ALLOWED_HOSTS: a probe inside the network names the pod's address or localhost (Kubernetes' httpGet,
    `curl localhost:8000/healthz`), and neither answer depends on the host or tells anything of the site."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.probes = {"/healthz": healthz, "/readyz": readyz}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = self.probes.get(request.path_info)
        if probe is None or request.method not in ("GET", "HEAD"):  # other methods: the usual 405 page
            return self.get_response(request)
        return probe(request)
