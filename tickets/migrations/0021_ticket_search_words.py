# The subject is indexed with its ASCII punctuation made spaces (helpdesk.accents.SearchWords), so each
# word of "outlook.com" or "invoice_2024.pdf" is found alone. PostgreSQL cannot alter a generated
# column's expression before version 17: the column and its index are made again.

import django.contrib.postgres.indexes
import django.contrib.postgres.search
import helpdesk.accents
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tickets', '0020_default_team_closed_kept'),
    ]

    operations = [
        migrations.RemoveIndex(model_name='ticket', name='ticket_search'),
        migrations.RemoveField(model_name='ticket', name='search_vector'),
        migrations.AddField(
            model_name='ticket',
            name='search_vector',
            field=models.GeneratedField(db_persist=True, expression=django.contrib.postgres.search.SearchVector(helpdesk.accents.SearchWordsBeforeCJK('subject'), config='simple'), output_field=django.contrib.postgres.search.SearchVectorField()),
        ),
        migrations.AddIndex(
            model_name='ticket',
            index=django.contrib.postgres.indexes.GinIndex(fields=['search_vector'], name='ticket_search'),
        ),
    ]
