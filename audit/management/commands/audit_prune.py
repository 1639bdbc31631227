"""manage.py audit_prune --before YYYY-MM-DD [--dry-run] — retention for the audit trail."""

from datetime import date, datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from audit.retention import ChainBroken, prune_events
from helpdesk.display import shown_count


class Command(BaseCommand):
    help = (
        "Delete audit events created before a date; a checkpoint event keeps `audit_verify` passing "
        "for the events that remain."
    )

    def add_arguments(self, parser):
        parser.add_argument("--before", required=True, help="YYYY-MM-DD, in the site's time zone.")
        parser.add_argument("--dry-run", action="store_true", help="Report only; delete nothing.")

    def handle(self, *args, before: str, dry_run: bool, **options):
        try:
            day = date.fromisoformat(before)
        except ValueError as error:
            raise CommandError(f"--before must be a date like 2025-01-31, not {before!r}.") from error
        if day > timezone.localdate():
            raise CommandError("--before may not be in the future.")
        cutoff = datetime.combine(day, time.min, tzinfo=timezone.get_default_timezone())
        try:
            result = prune_events(cutoff, dry_run=dry_run)
        except ChainBroken as error:
            raise CommandError(str(error)) from None
        if not result.count:
            self.stdout.write(f"No audit events before {day}.")
            return
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(
            f"{verb} {shown_count(result.count, 'audit event')}, "
            f"#{result.first_sequence} to #{result.last_sequence}"
            + (f"; checkpoint #{result.checkpoint.sequence} recorded." if result.checkpoint else ".")
        )
