"""The Administrator role looks up and deletes saved views in the admin (a shared view that misleads a
team): fixtures/roles.json gives a new database the permissions, this gives them to an existing one,
whose roles make run no longer reloads (an administrator may have changed them)."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

CODENAMES = ("view_savedview", "delete_savedview")


def grant(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    role = Group.objects.filter(name="Administrator").first()
    if role is None:  # a new database: demo_load creates the role from the fixture, with these
        return
    # Made after every migration has run (post_migrate): made here, as the role needs them now.
    create_permissions(global_apps.get_app_config("tickets"), apps=apps, verbosity=0)
    role.permissions.add(
        *Permission.objects.filter(content_type__app_label="tickets", codename__in=CODENAMES)
    )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    if (role := Group.objects.filter(name="Administrator").first()) is not None:
        role.permissions.remove(
            *Permission.objects.filter(content_type__app_label="tickets", codename__in=CODENAMES)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0013_saved_view_team_set_null"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
