"""System checks of the audit trail's configuration."""

from django.apps import apps
from django.core.checks import Error, register

LOCKOUT_BEFORE_AUDIT = "django-axes must be listed before audit in INSTALLED_APPS."


@register()
def check_lockout_counted_before_audit(app_configs, **kwargs):
    """Receivers of a signal run in the order they were connected, which is the order of the apps: axes'
    failed sign-in receiver must run before ours, so an audit error can never spare a guess from the
    lockout."""
    names = [config.name for config in apps.get_app_configs()]
    if "axes" in names and "audit" in names and names.index("axes") > names.index("audit"):
        return [
            Error(
                LOCKOUT_BEFORE_AUDIT,
                hint="Otherwise a failing audit receiver stops django-axes from counting the failure.",
                id="audit.E001",
            )
        ]
    return []
