"""System checks of the accounts configuration."""

from django.conf import settings
from django.core import checks

from accounts.lockouts import HANDLER

LOCKOUT_RESETS_UNAUDITED = "django-axes' lockout resets are not audited."


@checks.register()
def check_lockout_resets_are_audited(app_configs, **kwargs):
    if getattr(settings, "AXES_HANDLER", None) != HANDLER:
        return [
            checks.Warning(
                LOCKOUT_RESETS_UNAUDITED,
                hint=f'Set AXES_HANDLER = "{HANDLER}", so that `manage.py axes_reset` and the other reset '
                "commands leave an audit event.",
                id="accounts.W001",
            )
        ]
    return []
