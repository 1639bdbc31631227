"""Guards that must hold whichever code path deletes a group: built-in roles stay."""

from django.contrib.auth.models import Group
from django.db.models import ProtectedError
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from accounts.roles import BUILT_IN_ROLE_PROTECTED, BUILT_IN_ROLES


@receiver(pre_delete, sender=Group, dispatch_uid="protect_built_in_roles")
def protect_built_in_roles(sender, instance: Group, **kwargs) -> None:
    if instance.name in BUILT_IN_ROLES:
        raise ProtectedError(BUILT_IN_ROLE_PROTECTED.format(name=instance.name), {instance})
