"""manage.py createsuperuser, with the new administrator in the audit trail: an account with every
permission made from the command line must leave a trace like one made in the admin."""

import os

from django.contrib.auth.management.commands import createsuperuser
from django.db import transaction

import audit
from accounts.models import User, address_as_stored
from audit.models import AuditEvent


class Command(createsuperuser.Command):
    def handle(self, *args, **options):
        # As the site's forms take it (accounts.forms.EmailAddressField): an internationalised domain
        # typed as people read it is the xn-- form accounts hold.
        if not options.get("email") and not options.get("interactive"):
            options["email"] = os.environ.get("DJANGO_SUPERUSER_EMAIL")  # as Django reads it then
        if options.get("email"):
            options["email"] = address_as_stored(options["email"])
        before = set(User.objects.filter(is_superuser=True).values_list("pk", flat=True))
        result = super().handle(*args, **options)
        with transaction.atomic():
            for user in User.objects.filter(is_superuser=True).exclude(pk__in=before):
                audit.record(
                    "create",
                    actor=None,
                    obj=user,
                    changes={"email": (None, user.email), "is_superuser": (None, True)},
                    category=AuditEvent.Category.SECURITY,
                )
        return result

    def _validate_username(self, username, verbose_field_name, database):
        # Django looks for a taken address only where the field is unique=True; ours is unique in any
        # letter case (a constraint on its lower case), which it would hit as an IntegrityError.
        error = super()._validate_username(username, verbose_field_name, database)
        if not error and username and User.objects.db_manager(database).with_email(username).exists():
            error = f"Error: That {verbose_field_name} is already taken."
        return error
