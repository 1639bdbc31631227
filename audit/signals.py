"""Security events from Django's auth signals; business events are recorded by the services."""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.dispatch import receiver

from audit.context import printable
from audit.models import AuditEvent
from audit.recorder import record

NOT_AN_ADDRESS = "(not an e-mail address)"


def name_tried(name) -> str:
    """The name typed at the sign-in page as the trail keeps it: an address as typed (cleaned of control
    characters), anything else masked. What is no address names no account, and is most often a password
    typed into the wrong box: kept, every administrator would read it beside the person's next sign-in.
    (django-axes masks it in its own log too.)"""
    name = printable(str(name), 150)
    try:
        validate_email(name.strip())
    except ValidationError:
        return NOT_AN_ADDRESS  # "Summer@2024!" has an "@" too
    return name


@receiver(user_logged_in, dispatch_uid="audit_login")
def on_login(sender, request, user, **kwargs) -> None:
    record("login", actor=user, obj=user, category=AuditEvent.Category.SECURITY)


@receiver(user_logged_out, dispatch_uid="audit_logout")
def on_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        record("logout", actor=user, obj=user, category=AuditEvent.Category.SECURITY)


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    # Only the name that was tried; Django has already masked the password in `credentials`. django-axes'
    # receiver, connected first (axes is listed before audit: audit/checks.py), has counted the failure
    # already, so even an error here cannot spare a guess from the lockout.
    tried = name_tried(credentials.get("username", ""))
    record("login_failed", actor=None, category=AuditEvent.Category.SECURITY, object_repr=tried)


@receiver(user_locked_out, dispatch_uid="audit_lockout")
def on_lockout(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    tried = name_tried(username or "")
    address = printable(str(ip_address or ""), 60) or "an unknown address"
    record(
        "lockout", actor=None, category=AuditEvent.Category.SECURITY, object_repr=f"{tried} from {address}"
    )
