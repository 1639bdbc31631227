"""The subject's search vector folds accents ("cafe" finds "Café"): a generated column cannot be
altered, so it is dropped and added again, and its index with it."""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.db import migrations, models

import helpdesk.accents


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0014_administrators_manage_saved_views"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="ticket", name="ticket_search"),
        migrations.RemoveField(model_name="ticket", name="search_vector"),
        migrations.AddField(
            model_name="ticket",
            name="search_vector",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.contrib.postgres.search.SearchVector(
                    helpdesk.accents.Unaccented("subject"), config="simple"
                ),
                output_field=django.contrib.postgres.search.SearchVectorField(),
            ),
        ),
        migrations.AddIndex(
            model_name="ticket",
            index=django.contrib.postgres.indexes.GinIndex(fields=["search_vector"], name="ticket_search"),
        ),
    ]
