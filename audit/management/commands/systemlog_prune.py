"""manage.py systemlog_prune [--days N] — retention for the system log."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from audit.models import SystemLogEntry


class Command(BaseCommand):
    help = "Delete system log entries older than N days (default: SYSTEM_LOG_RETENTION_DAYS) or over the cap."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, default=None, help="Days to keep (default from the settings)."
        )

    def handle(self, *args, days: int | None, **options):
        days = settings.SYSTEM_LOG_RETENTION_DAYS if days is None else max(days, 0)
        cutoff = timezone.now() - timedelta(days=days)
        deleted, _ = SystemLogEntry.objects.filter(created_at__lt=cutoff).delete()
        cap = max(settings.SYSTEM_LOG_MAX_ROWS, 1)
        oldest_kept = list(SystemLogEntry.objects.order_by("-pk").values_list("pk", flat=True)[cap - 1 : cap])
        if oldest_kept:
            over_cap, _ = SystemLogEntry.objects.filter(pk__lt=oldest_kept[0]).delete()
            deleted += over_cap
        self.stdout.write(f"Deleted {deleted} system log entr{'y' if deleted == 1 else 'ies'}.")
