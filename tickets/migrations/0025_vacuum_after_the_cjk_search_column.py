"""After 0024 rewrote the tickets table, its statistics and visibility map come back at once (as 0016
did after 0015): VACUUM cannot run inside a transaction, hence a migration of its own, not atomic."""

from django.db import migrations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("tickets", "0024_ticket_search_words_cjk"),
    ]

    operations = [
        migrations.RunSQL("VACUUM (ANALYZE) tickets_ticket", migrations.RunSQL.noop, elidable=True),
    ]
