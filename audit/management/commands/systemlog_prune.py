"""manage.py systemlog_prune [--days N] — retention for the system log (also a daily scheduled task)."""

from django.core.management.base import BaseCommand, CommandError

from audit.retention import MAX_RETENTION_DAYS, prune_system_log


class Command(BaseCommand):
    help = "Delete system log entries older than N days (default: SYSTEM_LOG_RETENTION_DAYS) or over the cap."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, default=None, help="Days to keep (default from the settings)."
        )

    def handle(self, *args, days: int | None, **options):
        if days is not None and not 0 <= days <= MAX_RETENTION_DAYS:
            raise CommandError(f"--days must be between 0 and {MAX_RETENTION_DAYS}.")
        deleted = prune_system_log(days)
        self.stdout.write(f"Deleted {deleted} system log entr{'y' if deleted == 1 else 'ies'}.")
