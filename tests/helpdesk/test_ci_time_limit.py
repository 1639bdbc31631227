"""`--stop-at` (tests/time_limit.py), with which CI's second pass runs as much of the suite as fits its
20 minutes: run on a small suite of its own in a separate pytest, in one process and in xdist workers."""

import os
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]

SUITE = """
import pytest

@pytest.mark.e2e
def test_in_the_browser():
    pass

def test_first():
    pass

def test_second():
    pass

def test_third():
    assert {third}

@pytest.mark.database
def test_on_the_server():
    assert {on_the_server}
"""


def run(tmp_path: Path, *args: str, third: bool = True, on_the_server: bool = True):
    (tmp_path / "test_small.py").write_text(SUITE.format(third=third, on_the_server=on_the_server))
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    plugins = ["-p", "tests.time_limit", "-p", "no:django", "-p", "no:cacheprovider"]
    return subprocess.run(  # noqa: S603 (this interpreter, our arguments)
        [sys.executable, "-m", "pytest", *plugins, "-o", "markers=database e2e", "-rN", *args, str(tmp_path)],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_past_the_limit_the_test_marked_database_runs_first_and_alone_and_the_pass_passes(tmp_path):
    done = run(tmp_path, "-p", "no:xdist", "-v", "--stop-at=1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test_on_the_server PASSED" in done.stdout
    assert "test_first" not in done.stdout
    assert "Stopped at the time limit: 1 of 5 tests ran, 4 did not." in done.stdout


def test_browser_tests_come_last_in_a_pass_with_a_limit(tmp_path):
    far_off = "--stop-at=99999999999"
    done = run(tmp_path, "-p", "no:xdist", "-v", far_off)
    assert done.returncode == 0, done.stdout + done.stderr
    ran = [line.split("::")[1].split()[0] for line in done.stdout.splitlines() if "::" in line]
    assert ran == ["test_on_the_server", "test_first", "test_second", "test_third", "test_in_the_browser"]
    assert "Stopped at the time limit" not in done.stdout


def test_a_failure_before_the_limit_still_fails_the_pass(tmp_path):
    done = run(tmp_path, "-p", "no:xdist", "--stop-at=1", on_the_server=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 of 5 tests ran" in done.stdout


def test_without_a_limit_every_test_runs_in_file_order(tmp_path):
    done = run(tmp_path, "-p", "no:xdist", "-v", third=False)
    assert done.returncode == 1
    assert done.stdout.index("test_in_the_browser") < done.stdout.index("test_on_the_server")
    assert "1 failed, 4 passed" in done.stdout
    assert "Stopped at the time limit" not in done.stdout


def test_xdist_workers_each_finish_one_test_and_stop(tmp_path):
    done = run(tmp_path, "-n", "2", "--stop-at=1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Stopped at the time limit: 2 of 5 tests ran, 3 did not." in done.stdout
    assert "2 passed" in done.stdout
