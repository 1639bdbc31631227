"""A ticket's answers are an object by field name. Values written past the services as anything else (a
list, a string, a number, by a fixture or the shell) made every page of the ticket fail; they are kept
under "value", shown as a field no longer on the form, and the constraint keeps others out."""

import django.db.models.lookups
from django.conf import settings
from django.db import migrations, models

KEEP_OTHER_VALUES = """
UPDATE tickets_ticket
SET custom_fields = CASE jsonb_typeof(custom_fields)
    WHEN 'null' THEN '{}'::jsonb ELSE jsonb_build_object('value', custom_fields) END
WHERE jsonb_typeof(custom_fields) <> 'object'
"""


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0026_messages_rendered_with_the_link_budget"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunSQL(KEEP_OTHER_VALUES, migrations.RunSQL.noop),
        migrations.AddConstraint(
            model_name="ticket",
            constraint=models.CheckConstraint(
                condition=django.db.models.lookups.Exact(
                    models.Func("custom_fields", function="JSONB_TYPEOF", output_field=models.CharField()),
                    "object",
                ),
                name="ticket_custom_fields_object",
            ),
        ),
    ]
