"""Two requests at the same moment, made repeatable: one transaction held open in another connection
while the test's own statement runs into it."""

import threading
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
