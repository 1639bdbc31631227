"""Organisation e-mail domains saved with a trailing dot ("acme.example.", a fully qualified name) matched
no address; they are now stored without it (accounts.models.Organization.clean). Others that can never
match ("*.acme.example") are left for an administrator: saving the organisation says what to fix."""

from django.db import migrations


def drop_trailing_dots(apps, schema_editor):
    Organization = apps.get_model("accounts", "Organization")
    for organization in Organization.objects.exclude(email_domains=[]).only("email_domains"):
        domains = sorted({domain.rstrip(".") for domain in organization.email_domains if domain.rstrip(".")})
        if domains != organization.email_domains:
            Organization.objects.filter(pk=organization.pk).update(email_domains=domains)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0014_invitation_addresses_in_ascii")]

    operations = [migrations.RunPython(drop_trailing_dots, migrations.RunPython.noop)]
