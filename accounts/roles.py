"""The built-in roles (Django groups loaded from fixtures/roles.json)."""

from pathlib import Path

CUSTOMER = "Customer"
AGENT = "Agent"
SUPERVISOR = "Supervisor"
ADMINISTRATOR = "Administrator"

BUILT_IN_ROLES = (CUSTOMER, AGENT, SUPERVISOR, ADMINISTRATOR)

BUILT_IN_ROLE_PROTECTED = "The built-in role {name!r} cannot be deleted."


def create_missing_roles(using: str = "default") -> list[str]:
    """Create the built-in roles the database lacks, as fixtures/roles.json holds them (with their
    permissions, which must exist); the names of those created."""
    from django.conf import settings
    from django.contrib.auth.models import Group
    from django.core import serializers
    from django.db import transaction

    if Group.objects.using(using).filter(name__in=BUILT_IN_ROLES).count() == len(BUILT_IN_ROLES):
        return []  # one query, where reading the fixture looks up every permission by its natural key
    path = Path(settings.BASE_DIR) / "fixtures" / "roles.json"
    with path.open(encoding="utf-8") as fixture, transaction.atomic(using=using):
        # A role found by its natural key (its name) comes with its primary key: it exists already.
        missing = [
            role for role in serializers.deserialize("json", fixture, using=using) if role.object.pk is None
        ]
        for role in missing:
            role.save(using=using)
    return [role.object.name for role in missing]
