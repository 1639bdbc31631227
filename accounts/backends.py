"""Authentication backend: e-mail login, permissions from roles that are still in force."""

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts import rbac
from accounts.models import User, email_key


class RoleAwareBackend(ModelBackend):
    def user_can_authenticate(self, user) -> bool:
        # Credentials are checked for every status so the login form can say *why* a suspended or
        # pending account may not sign in (LoginForm.confirm_login_allowed) instead of "wrong password".
        return True

    def get_user(self, user_id):
        user = super().get_user(user_id)
        # A session of a user who has since been suspended stops working on the next request.
        return user if user is not None and user.is_active else None

    def _get_group_permissions(self, user_obj: User) -> QuerySet[Permission]:
        # Roles are granted through RoleAssignment; an expired assignment grants nothing from the
        # moment it expires (user.groups is not used).
        in_force = Q(group__role_assignments__expires_at__isnull=True) | Q(
            group__role_assignments__expires_at__gt=timezone.now()
        )
        # One filter() call, so both conditions apply to the same assignment row.
        return Permission.objects.filter(in_force, group__role_assignments__user=user_obj).distinct()

    def get_all_permissions(self, user_obj, obj=None) -> set[str]:
        # The user's own and their roles' permissions come with the rest of their access in one query
        # (ModelBackend makes two of their own); every permission check on a page shares the result.
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            if user_obj.is_superuser:
                pairs = Permission.objects.values_list("content_type__app_label", "codename").order_by()
                user_obj._perm_cache = {f"{app}.{codename}" for app, codename in pairs}
            else:
                user_obj._perm_cache = set(rbac.access(user_obj).permissions)
        return user_obj._perm_cache


def lockout_username(request, credentials: dict | None = None) -> str | None:
    """The name django-axes counts failed sign-ins under (AXES_USERNAME_CALLABLE): the e-mail as typed,
    trimmed and lower-cased. Sign-in accepts any case, so without this each spelling ("Jo@Example.org",
    "jo@example.org") would buy an attacker a fresh set of guesses, and an unlock would miss some."""
    if credentials:
        typed = credentials.get(settings.AXES_USERNAME_FORM_FIELD)
    elif request is not None:
        typed = getattr(request, "data", request.POST).get(settings.AXES_USERNAME_FORM_FIELD)
    else:
        typed = None
    return email_key(typed) if isinstance(typed, str) else typed
