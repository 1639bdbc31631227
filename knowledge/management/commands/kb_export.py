"""manage.py kb_export PATH — export articles as JSON Lines (PATH ends in .jsonl) or markdown files."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from helpdesk.display import shown_count
from knowledge.importing import export_articles
from knowledge.models import Article


class Command(BaseCommand):
    help = "Export knowledge-base articles in the formats kb_import reads."

    def add_arguments(self, parser):
        parser.add_argument("path")

    def handle(self, *args, path: str, **options):
        articles = Article.objects.select_related("category").prefetch_related("old_slugs").order_by("slug")
        try:
            report = export_articles(Path(path), articles.iterator(chunk_size=500))
        except OSError as error:  # a missing parent folder, a file where the folder should be, no rights
            raise CommandError(f"Cannot write {path}: {error.strerror or error}.") from error
        self.stdout.write(f"Exported {shown_count(report.count, 'article')} to {path}.")
        if report.removed:
            self.stdout.write(
                f"Removed {shown_count(len(report.removed), 'file')} of the export before, for articles "
                f"deleted or renamed since: {', '.join(report.removed)}."
            )
        if report.foreign:
            self.stderr.write(
                f"{shown_count(len(report.foreign), 'other .md file')} in {path}, not written by kb_export, "
                f"left as they are; kb_import would read them too: {', '.join(report.foreign)}."
            )
