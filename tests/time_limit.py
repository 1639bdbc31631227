"""`--stop-at`: a pass of the suite with a time limit, as CI's second pass runs it. No test starts after
the limit (seconds since the epoch, as `date +%s` prints); each process finishes the test it is in and
stops. Tests marked `database` run first, browser tests (`e2e`) last. The pass counts as passed when
nothing failed, and says how many tests did not run."""

import time

import pytest


def pytest_addoption(parser):
    parser.addoption(
        "--stop-at", type=int, default=None, metavar="EPOCH_SECONDS",
        help="start no test after this time (seconds since the epoch); `database` tests first, `e2e` last",
    )  # fmt: skip


def pytest_configure(config):
    if config.option.stop_at is not None:
        config.pluginmanager.register(TimeLimit(config.option.stop_at), "time-limit")


@pytest.hookimpl(trylast=True)  # after tests/conftest.py has marked them
def pytest_collection_modifyitems(config, items):
    # What rests most on the database server first: the tests of the server's own behaviour, then the
    # rest but the browser's, whose subject is the browser. A stable sort: the same order in every worker.
    if config.option.stop_at is not None:
        items.sort(
            key=lambda item: (
                0 if item.get_closest_marker("database") else 1 + bool(item.get_closest_marker("e2e"))
            )
        )


class TimeLimit:
    reason = "stopped at the time limit (--stop-at)"

    def __init__(self, stop_at: int) -> None:
        self.stop_at = stop_at
        self.ran: set[str] = set()
        self.stopped = False
        self.collected = 0

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        yield
        if nextitem is not None and time.time() >= self.stop_at:
            item.session.shouldstop = self.reason

    def pytest_runtest_logreport(self, report) -> None:  # in one process, or xdist's controller
        self.ran.add(report.nodeid)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:  # xdist's controller: a worker stopped
        self.stopped |= node.workeroutput.get("shouldstop") == self.reason

    def pytest_sessionfinish(self, session, exitstatus) -> None:
        self.stopped |= session.shouldstop == self.reason
        self.collected = session.testscollected
        if self.stopped and exitstatus == pytest.ExitCode.INTERRUPTED:  # as if those were all the tests
            session.exitstatus = pytest.ExitCode.TESTS_FAILED if session.testsfailed else pytest.ExitCode.OK

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.stopped:
            ran, collected = len(self.ran), self.collected
            terminalreporter.write_line(
                f"Stopped at the time limit: {ran} of {collected} tests ran, {collected - ran} did not.",
                yellow=True,
            )
