"""manage.py kb_reindex — index every article again in the language KB_SEARCH_CONFIG names, after that
setting changed (articles keep the configuration they were written under until then)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection, transaction

from helpdesk.display import shown_count
from knowledge.models import Article


class Command(BaseCommand):
    help = "Rebuild the knowledge base's search vectors for the KB_SEARCH_CONFIG language."

    def handle(self, *args, **options):
        config = settings.KB_SEARCH_CONFIG
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT %s::regconfig", [config])
        except DatabaseError as error:
            raise CommandError(f"PostgreSQL has no text-search configuration {config!r}.") from error
        # The article trigger rebuilds each vector when its configuration changes, and the term
        # statistics follow from their own triggers.
        with transaction.atomic():
            updated = Article.objects.exclude(search_config=config).update(search_config=config)
        self.stdout.write(f"Re-indexed {shown_count(updated, 'article')} for {config!r}.")
