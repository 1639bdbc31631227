"""Django's dumpdata, refusing --natural-primary for the helpdesk's own models: it leaves their ids out
of the dump, so loaddata numbers the rows anew, while an attachment names its message, and an audit event
its object, by id (a generic relation, which natural keys do not carry). Loaded, one customer's file
would hang off another customer's message."""

from django.core.management.base import CommandError
from django.core.management.commands import dumpdata

# The apps whose rows other rows name by a bare id.
NAMED_BY_ID = {"accounts", "tickets", "knowledge", "audit"}

REFUSED = (
    "--natural-primary would give {apps} rows new ids on loading, while attachments and audit events name "
    "them by id. Dump with --natural-foreign only (or move the database with pg_dump)."
)


class Command(dumpdata.Command):
    def handle(self, *app_labels, **options):
        if options.get("use_natural_primary_keys"):
            dumped = {label.split(".")[0] for label in app_labels} if app_labels else NAMED_BY_ID
            if named := dumped & NAMED_BY_ID:
                raise CommandError(REFUSED.format(apps=", ".join(sorted(named))))
        return super().handle(*app_labels, **options)
