# The subject is indexed with each Chinese, Japanese or Korean character a word of its own
# (helpdesk.accents.SearchWords, CJK), so that a word typed is found inside a run of them. PostgreSQL cannot
# alter a generated column's expression before version 17: the column and its index are made again.

import django.contrib.postgres.indexes
import django.contrib.postgres.search
import helpdesk.accents
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tickets', '0023_recently_solved_saved_as_a_period'),
    ]

    operations = [
        migrations.RemoveIndex(model_name='ticket', name='ticket_search'),
        migrations.RemoveField(model_name='ticket', name='search_vector'),
        migrations.AddField(
            model_name='ticket',
            name='search_vector',
            field=models.GeneratedField(db_persist=True, expression=django.contrib.postgres.search.SearchVector(helpdesk.accents.SearchWords('subject'), config='simple'), output_field=django.contrib.postgres.search.SearchVectorField()),
        ),
        migrations.AddIndex(
            model_name='ticket',
            index=django.contrib.postgres.indexes.GinIndex(fields=['search_vector'], name='ticket_search'),
        ),
    ]
