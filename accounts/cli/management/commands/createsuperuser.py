"""manage.py createsuperuser, with the new administrator in the audit trail: an account with every
permission made from the command line must leave a trace like one made in the admin."""

from django.contrib.auth.management.commands import createsuperuser
from django.db import transaction

import audit
from accounts.models import User
from audit.models import AuditEvent


class Command(createsuperuser.Command):
    def handle(self, *args, **options):
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
