"""manage.py kb_import PATH — import articles from a folder of markdown files or a .jsonl file."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from helpdesk.display import shown_count
from knowledge.importing import NoArticleFiles, import_articles
from knowledge.models import Article


class Command(BaseCommand):
    help = (
        "Import knowledge-base articles (idempotent by slug); reports created/updated/skipped, and exits "
        "non-zero when a record was skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--status", default=Article.Status.PUBLISHED, choices=Article.Status.values,
                            help="Status for records that do not name one (default: published).")  # fmt: skip

    def handle(self, *args, path: str, status: str, **options):
        source = Path(path)
        if not source.exists():
            raise CommandError(f"{source} does not exist.")
        try:
            report = import_articles(source, default_status=status)
        except OSError as error:  # unreadable (permissions, a folder that went away while read)
            raise CommandError(
                f"Cannot read {error.filename or source}: {error.strerror or error}."
            ) from None
        except NoArticleFiles as error:
            raise CommandError(str(error)) from None
        for where, reason in report.skipped:
            self.stderr.write(f"skipped {where}: {reason}")
        if options["verbosity"]:  # -v 0 is quiet but for the records skipped
            self.stdout.write(report.summary())
        if report.skipped:
            # The rest is imported, but a script or cron job must not read a partial import as done.
            raise CommandError(
                f"{shown_count(len(report.skipped), 'record')} skipped (listed above); "
                "the others are imported."
            )
