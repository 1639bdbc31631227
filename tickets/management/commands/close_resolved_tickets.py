"""manage.py close_resolved_tickets — enqueue (or, with --now, run) the auto-close of resolved tickets
at once; `manage.py scheduler` already enqueues it every hour."""

from django.core.management.base import BaseCommand

from helpdesk.display import shown_count
from tickets import services
from tickets.tasks import close_resolved_tickets


class Command(BaseCommand):
    help = "Close tickets that have been resolved for TICKET_AUTO_CLOSE_DAYS days or longer."

    def add_arguments(self, parser):
        parser.add_argument("--now", action="store_true", help="Run here instead of enqueueing a task.")

    def handle(self, *args, now: bool, **options):
        if now:
            closed = services.tickets_close_resolved()
            self.stdout.write(f"Closed {shown_count(closed, 'resolved ticket')}.")
            return
        result = close_resolved_tickets.enqueue()
        self.stdout.write(f"Enqueued auto-close as task {result.id} ({result.status}).")
