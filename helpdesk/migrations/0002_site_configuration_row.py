from django.db import migrations


def create_row(apps, schema_editor):
    apps.get_model("helpdesk", "SiteConfiguration").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    """The singleton row exists from the start, so reading it never writes (no state change on GET)."""

    dependencies = [("helpdesk", "0001_initial")]

    operations = [migrations.RunPython(create_row, migrations.RunPython.noop)]
