"""Organisation e-mail domains saved with a trailing dot ("acme.example.", a fully qualified name) matched
no address; they are now stored without it (accounts.models.Organization.clean). Others that can never
match ("*.acme.example") are left for an administrator: saving the organisation says what to fix."""

from django.db import migrations


def drop_trailing_dots(apps, schema_editor):
    Organization = apps.get_model("accounts", "Organization")
    organizations = list(Organization.objects.exclude(email_domains=[]).only("email_domains", "is_active"))
    claimed = {
        domain: organization.pk
        for organization in organizations
        if organization.is_active
        for domain in organization.email_domains
    }
    for organization in organizations:
        domains = set()
        for domain in organization.email_domains:
            plain = domain.rstrip(".")
            # Not where another active organisation has the domain: two claims join nobody to either.
            taken = organization.is_active and claimed.get(plain, organization.pk) != organization.pk
            domains.add(domain if taken or not plain else plain)
        if sorted(domains) != organization.email_domains:
            Organization.objects.filter(pk=organization.pk).update(email_domains=sorted(domains))
            if organization.is_active:
                claimed.update(dict.fromkeys(domains, organization.pk))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0014_invitation_addresses_in_ascii")]

    operations = [migrations.RunPython(drop_trailing_dots, migrations.RunPython.noop)]
