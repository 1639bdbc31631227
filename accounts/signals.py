"""Guards that must hold whichever code path gets there: built-in roles exist once migrated and stay, and
an account with two-factor sign-in is never signed in without its second factor."""

import logging

from django.apps import apps
from django.contrib.auth.models import AnonymousUser, Group
from django.contrib.auth.signals import user_logged_in
from django.db.models import ProtectedError
from django.db.models.signals import post_migrate, pre_delete
from django.dispatch import receiver

from accounts import two_factor
from accounts.roles import BUILT_IN_ROLE_PROTECTED, BUILT_IN_ROLES, create_missing_roles
from audit import record
from audit.models import AuditEvent

logger = logging.getLogger(__name__)


@receiver(pre_delete, sender=Group, dispatch_uid="protect_built_in_roles")
def protect_built_in_roles(sender, instance: Group, **kwargs) -> None:
    if instance.name in BUILT_IN_ROLES:
        raise ProtectedError(BUILT_IN_ROLE_PROTECTED.format(name=instance.name), {instance})


@receiver(post_migrate, dispatch_uid="create_built_in_roles")
def create_built_in_roles(sender, app_config, using="default", plan=None, **kwargs) -> None:
    """`manage.py migrate` leaves a site that works without the demo: the built-in roles exist (an
    invitation's sign-up gives Customer, and the admin offers Agent to make agents with). On the last
    app's signal, once django.contrib.auth has made every app's permissions (it does so app by app).
    Not after `flush` (no plan), which the test suite runs after each transactional test: a fifth of a
    second each, and tests load the roles they need (tests.factories.ensure_roles)."""
    if plan is not None and app_config is list(apps.get_app_configs())[-1]:
        create_missing_roles(using=using)


@receiver(user_logged_in, dispatch_uid="refuse_sign_in_without_second_factor")
def refuse_sign_in_without_second_factor(sender, request, user, **kwargs) -> None:
    """The sign-in view attaches the verified device; any other path that signs in an enrolled
    account (one added later, a script) ends up signed out instead of half-protected."""
    if request is None or getattr(user, "otp_device", None) is not None or not two_factor.is_enabled(user):
        return
    request.session.flush()
    request.user = AnonymousUser()
    record("two_factor_bypass_refused", actor=user, obj=user, category=AuditEvent.Category.SECURITY)
    logger.warning("Refused a sign-in without the second factor for user %s", user.pk)
