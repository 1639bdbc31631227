"""manage.py scheduler — enqueue the periodic tasks (helpdesk/scheduler.py) when they are due.

Run it beside `manage.py db_worker`, which runs what it enqueues; several schedulers on several
machines are safe (each period's task is enqueued once)."""

import logging
import math
import signal
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from helpdesk import scheduler

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Enqueue periodic tasks when they are due (for db_worker to run); --once ticks once and exits."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=30.0, help="Seconds between ticks.")
        parser.add_argument("--once", action="store_true", help="Tick once and exit.")

    def handle(self, *args, interval: float, once: bool, **options):
        # Zero, negative or NaN would never sleep: a tight loop of locks and queries.
        if not (math.isfinite(interval) and interval >= 1):
            raise CommandError("--interval must be a number of seconds, at least 1.")
        running = True

        def stop(signum, frame) -> None:
            nonlocal running
            running = False

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while running:
            close_old_connections()
            try:
                for path in scheduler.tick():
                    if options["verbosity"] > 0:  # make run passes 0: its console is for the mails
                        self.stdout.write(f"Enqueued {path}.")
            except Exception:
                # The database restarting, say: logged (the system log keeps it), and the next tick
                # tries again, rather than every periodic job stopping until someone restarts this.
                if once:
                    raise
                logger.exception("The scheduler's tick failed; trying again in %s seconds.", interval)
            if once:
                return
            deadline = time.monotonic() + interval
            while running and time.monotonic() < deadline:
                time.sleep(min(1.0, interval))
