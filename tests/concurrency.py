"""Two requests at the same moment, made repeatable: one transaction held open in another connection
while the test's own statement runs into it."""

import threading
import time
from collections.abc import Callable

from django.db import connection, transaction


def run_while_another_transaction_waits(first: Callable[[], object], second: Callable[[], object]) -> None:
    """`first` runs in another thread's connection and holds its transaction open while `second` starts
    here; it commits half a second later, while `second` waits on the row or index `first` holds."""
    done, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                first()
                done.set()
                release.wait(timeout=5)
        finally:
            connection.close()

    other = threading.Thread(target=hold)
    other.start()
    assert done.wait(timeout=10)
    threading.Timer(0.5, release.set).start()
    try:
        second()
    finally:
        other.join()


def wait_until_another_waits_on_a_lock(
    timeout: float = 10, *, unless_done: threading.Thread | None = None
) -> None:
    """Until another connection to this database waits on a lock (a row, or an advisory lock), or the
    thread `unless_done` has finished (it took no lock another holds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if unless_done is not None and not unless_done.is_alive():
            return
        with connection.cursor() as cursor:
            # Inside a transaction PostgreSQL shows the activity as first read, unless told to read again.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.02)
    raise AssertionError("no other transaction came to wait on a lock")


def in_another_thread(work: Callable[[], object], errors: list[BaseException]) -> threading.Thread:
    """A thread (not started) that runs `work` in its own connection, keeping what it raises in
    `errors` for the test to assert on."""

    def run() -> None:
        try:
            work()
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    return threading.Thread(target=run)


def away_from_an_event_loop(work: Callable[[], object]) -> None:
    """Run `work` in a thread of its own and raise what it raised: in a test that must not find the event
    loop the browser tests' Playwright leaves running in the main thread once a worker has run one."""
    errors: list[BaseException] = []
    thread = in_another_thread(work, errors)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def at_the_same_moment(work: Callable[[], object], *, times: int = 2) -> list[BaseException]:
    """Run `work` in `times` threads, each in its own connection, released together; what they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(times)

    def released_together() -> None:
        barrier.wait(timeout=10)
        work()

    threads = [in_another_thread(released_together, errors) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors
