# The requester search reads names as helpdesk.accents.SearchWords does now (each Chinese, Japanese or
# Korean character a word, tickets 0024): an index made with the earlier expression no longer matches the
# desk's query, which would read every user. An expression index is made again to change it.

import django.contrib.postgres.indexes
import django.contrib.postgres.search
import helpdesk.accents
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0017_alphabetical_order'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='user',
            name='user_name_words',
        ),
        migrations.AddIndex(
            model_name='user',
            index=django.contrib.postgres.indexes.GinIndex(django.contrib.postgres.search.SearchVector(helpdesk.accents.SearchWords('name'), config='simple'), name='user_name_words'),
        ),
    ]
