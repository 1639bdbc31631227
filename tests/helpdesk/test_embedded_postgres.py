"""The embedded PostgreSQL (helpdesk/embedded_postgres): shared by the processes that use it and stopped
by the last of them to exit, even when another was killed on the way."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings

USE = """
import os, signal, sys
import django
django.setup()
from django.db import connection
connection.ensure_connection()
if sys.argv[1] == "killed":
    os.kill(os.getpid(), signal.SIGKILL)
"""


def use_the_server(data_dir, how: str) -> subprocess.CompletedProcess:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    environment |= {"DJANGO_SETTINGS_MODULE": "helpdesk.settings", "EMBEDDED_DATABASE_DIR": str(data_dir)}
    return subprocess.run(  # noqa: S603 - this interpreter, code written here
        [sys.executable, "-c", USE, how],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        timeout=120,
    )


def server_running(data_dir) -> bool:
    return (data_dir / "postmaster.pid").exists()


def test_the_last_process_to_exit_stops_the_server_though_another_was_killed(tmp_path):
    """A service manager stops `make run` with SIGTERM, or the kernel kills a worker: the process never
    leaves pgserver's list of the server's users, and the server was never stopped again, whoever exited
    last. The dead are forgotten as the next process joins."""
    data_dir = tmp_path / "pgdata"
    try:
        killed = use_the_server(data_dir, "killed")
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        assert server_running(data_dir)  # left behind, as the killed process never cleaned up
        finished = use_the_server(data_dir, "finished")
        assert finished.returncode == 0, finished.stderr
        deadline = time.monotonic() + 30
        while server_running(data_dir) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not server_running(data_dir)
    finally:
        if server_running(data_dir):
            os.kill(int((data_dir / "postmaster.pid").read_text().split()[0]), signal.SIGINT)
