"""Background work for accounts (django.tasks)."""

from django.tasks import task

from accounts import services
from accounts.forms import PasswordResetForm


@task
def lift_expired_suspensions() -> int:
    """Reactivate accounts whose suspension has ended; returns how many."""
    return services.suspensions_lift_expired()


@task
def send_password_reset_mail(email: str, *, domain: str, use_https: bool) -> None:
    """Mail a link to set a new password to the account of `email`, if it has one that may reset
    (PasswordResetForm.get_users). Sent here, not while the page answers: finding the account, making
    the link and talking to the mail server took time only for a known address, which told anyone
    timing the page who has an account. The link exists only in the mail (a task's arguments are
    stored)."""
    form = PasswordResetForm({"email": email})
    if form.is_valid():
        form.save(
            domain_override=domain,
            use_https=use_https,
            subject_template_name="accounts/password_reset_subject.txt",
            email_template_name="accounts/password_reset_email.txt",
        )
