"""The embedded PostgreSQL (helpdesk/embedded_postgres): shared by the processes that use it and stopped
by the last of them to exit, even when another was killed on the way."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings

# A process that uses the server: it joins, says so (a file), then is killed, exits, or waits for a file.
USE = """
import os, pathlib, signal, sys, time
import django
django.setup()
from django.db import connection
connection.ensure_connection()
flag, how = pathlib.Path(sys.argv[1]), sys.argv[2]
flag.with_suffix(".joined").touch()
if how == "killed":
    os.kill(os.getpid(), signal.SIGKILL)
while how == "waits" and not flag.with_suffix(".go").exists():
    time.sleep(0.1)
"""


def use_the_server(data_dir, flag, how: str) -> subprocess.Popen:
    kept = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    environment = kept | {
        "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
        "EMBEDDED_DATABASE_DIR": f"{data_dir}",
    }
    return subprocess.Popen(  # noqa: S603 - this interpreter, code written here
        [sys.executable, "-c", USE, str(flag), how],
        cwd=settings.BASE_DIR,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def ended(process: subprocess.Popen) -> int:
    process.wait(timeout=120)
    return process.returncode


def server_running(data_dir) -> bool:
    return (data_dir / "postmaster.pid").exists()


def stopped_within(data_dir, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while server_running(data_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not server_running(data_dir)


def stop(data_dir, *processes) -> None:
    for process in processes:
        if process is not None and process.poll() is None:
            process.kill()
    if server_running(data_dir):
        os.kill(int((data_dir / "postmaster.pid").read_text().split()[0]), signal.SIGINT)


def test_the_last_process_to_exit_stops_the_server_though_another_was_killed_before(tmp_path):
    """A service manager stops `make run` with SIGTERM, or the kernel kills a worker: the process never
    leaves pgserver's list of the server's users, and the server was never stopped again, whoever exited
    last. The dead are forgotten as the next process joins."""
    data_dir, killed, finished = tmp_path / "pgdata", None, None
    try:
        killed = use_the_server(data_dir, tmp_path / "killed", "killed")
        assert ended(killed) == -signal.SIGKILL, killed.stderr.read()
        assert server_running(data_dir)  # left behind, as the killed process never cleaned up
        finished = use_the_server(data_dir, tmp_path / "finished", "finished")
        assert ended(finished) == 0, finished.stderr.read()
        assert stopped_within(data_dir)
    finally:
        stop(data_dir, killed, finished)


def test_the_last_process_to_exit_stops_the_server_though_another_was_killed_meanwhile(tmp_path):
    """`make run` is running; a worker joins and is killed; `make run` then stops. It is the last process
    alive, and finds the dead worker on the list as it exits: the dead are forgotten then too."""
    data_dir, waiting, killed = tmp_path / "pgdata", None, None
    try:
        waiting = use_the_server(data_dir, tmp_path / "waiting", "waits")
        deadline = time.monotonic() + 120
        while not (tmp_path / "waiting.joined").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        killed = use_the_server(data_dir, tmp_path / "killed", "killed")
        assert ended(killed) == -signal.SIGKILL, killed.stderr.read()
        (tmp_path / "waiting.go").touch()
        assert ended(waiting) == 0, waiting.stderr.read()
        assert stopped_within(data_dir)
    finally:
        stop(data_dir, waiting, killed)
