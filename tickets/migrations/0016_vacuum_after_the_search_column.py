"""After 0015 rewrote the tickets table: its statistics (the planner knew nothing of the new column and
chose a slow plan for text searches) and its visibility map (index-only reads of a customer's tickets
visited every row's page again) come back at once, not whenever autovacuum next looks. VACUUM cannot run
inside a transaction, hence a migration of its own, not atomic."""

from django.db import migrations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("tickets", "0015_accent_folded_search"),
    ]

    operations = [
        migrations.RunSQL("VACUUM (ANALYZE) tickets_ticket", migrations.RunSQL.noop, elidable=True),
    ]
