"""Background work for accounts (django.tasks)."""

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import urlencode

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.core.exceptions import ValidationError
from django.tasks import task
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts import services
from accounts.forms import PasswordResetForm
from accounts.models import EmailChangeRequest, Invitation, User
from accounts.sessions import SessionStore
from accounts.tokens import email_change_token, email_verification_token
from helpdesk.display import shown_time, shown_zone
from helpdesk.links import absolute_link
from helpdesk.mail import mail_or_retry, send_automatic
from helpdesk.models import SiteConfiguration


@task
def lift_expired_suspensions() -> int:
    """Reactivate accounts whose suspension has ended; returns how many."""
    return services.suspensions_lift_expired()


@task
def clear_expired_sessions() -> int:
    """Delete sessions past their expiry; returns how many. Each keeps the visitor's IP address and
    browser, and every anonymous submission starts one: kept, the table would grow for ever."""
    expired = SessionStore.get_model_class().objects.filter(expire_date__lt=timezone.now())
    return expired.delete()[0]


# Failed sign-ins (with the IP address and browser each came from) are kept this long, for looking into
# an attack; a lockout ends with its cool-off, long before.
SIGN_IN_RECORDS_KEPT = timedelta(days=30)


@task
def prune_sign_in_records() -> int:
    """Delete django-axes' records of sign-in attempts older than SIGN_IN_RECORDS_KEPT (and any log of
    successful ones from before it was switched off, AXES_DISABLE_ACCESS_LOG); returns how many. Each
    keeps an IP address and a browser: kept, the tables would grow for ever."""
    before = timezone.now() - SIGN_IN_RECORDS_KEPT
    return sum(
        model.objects.filter(attempt_time__lt=before).delete()[0]
        for model in (AccessAttempt, AccessFailureLog, AccessLog)
    )


@task
def send_password_reset_mail(email: str, *, domain: str, use_https: bool, attempt: int = 0) -> None:
    """Mail a link to set a new password to the account of `email`, if it has one that may reset
    (PasswordResetForm.get_users). Sent here, not while the page answers: finding the account, making
    the link and talking to the mail server took time only for a known address, which told anyone
    timing the page who has an account. The link exists only in the mail (a task's arguments are
    stored)."""
    form = PasswordResetForm({"email": email})
    if form.is_valid():
        mail_or_retry(
            send_password_reset_mail,
            lambda: form.save(
                domain_override=domain,
                use_https=use_https,
                subject_template_name="accounts/password_reset_subject.txt",
                email_template_name="accounts/password_reset_email.txt",
                # Django names the site after the domain it was given; the mail names it as configured.
                extra_email_context={"site_name": SiteConfiguration.objects.get_current().site_name_line},
            ),
            email,
            domain=domain,
            use_https=use_https,
            attempt=attempt,
            what="a password reset mail",
        )


@task
def send_email_verification_mail(user_pk: int, *, domain: str, use_https: bool, attempt: int = 0) -> bool:
    """Mail the account a link that confirms its address (accounts.views.email_verify), unless it is
    verified already or no longer active. The link exists only in the mail. Returns whether it was sent."""
    user = User.objects.filter(pk=user_pk, email_verified_at__isnull=True).first()
    if user is None or user.effective_status() != User.Status.ACTIVE:
        return False
    path = reverse(
        "accounts:email_verify",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": email_verification_token.make_token(user),
        },
    )
    # Named, as the reset mail names it: anyone can type someone's address, who must see which site asks.
    site_name = SiteConfiguration.objects.get_current().site_name_line
    context = {
        "user": user,
        "link": absolute_link(domain, use_https, path),
        "site_name": site_name,
    }
    return mail_or_retry(
        send_email_verification_mail,
        _text_mail(
            f"Confirm your e-mail address for {site_name}",
            "accounts/email_verification_email.txt",
            context,
            user.email,
        ),
        user_pk,
        domain=domain,
        use_https=use_https,
        attempt=attempt,
        what="an address confirmation mail",
    )


@task
def send_email_change_mail(request_pk: int, *, domain: str, use_https: bool, attempt: int = 0) -> bool:
    """Mail the new address of EmailChangeRequest `request_pk` the link that carries it out
    (accounts.views.email_change_confirm), unless it is spent or the account no longer active. The link
    exists only in the mail. Returns whether it was sent."""
    change = EmailChangeRequest.objects.select_related("user").filter(pk=request_pk, used_at=None).first()
    if change is None or not services.email_change_holds(change):
        return False
    path = reverse("accounts:email_change_confirm", kwargs={"token": email_change_token(request_pk)})
    site_name = SiteConfiguration.objects.get_current().site_name_line
    context = {
        "user": change.user,
        "new_email": change.new_email,
        "link": absolute_link(domain, use_https, path),
        "site_name": site_name,
    }
    return mail_or_retry(
        send_email_change_mail,
        _text_mail(
            f"Confirm your new e-mail address for {site_name}",
            "accounts/email_change_email.txt",
            context,
            change.new_email,
        ),
        request_pk,
        domain=domain,
        use_https=use_https,
        attempt=attempt,
        what="an address change link",
    )


@task
def send_email_changed_notice(
    user_pk: int, old_email: str, attempt: int = 0, *, greet_by_name: bool = False
) -> bool:
    """Tell the old address that the account moved to a new one: if its owner did not make the change,
    this is how they hear of it. Greeted by name only when the old address had been confirmed
    (`greet_by_name`): the name may be a stranger's, who signed up with this address and then moved the
    account to their own mailbox. Returns whether it was sent."""
    user = User.objects.filter(pk=user_pk).first()
    if user is None:
        return False
    site_name = SiteConfiguration.objects.get_current().site_name_line
    greeting = f"Hello {user.get_short_name()}," if greet_by_name else "Hello,"
    context = {"user": user, "old_email": old_email, "site_name": site_name, "greeting": greeting}
    return mail_or_retry(
        send_email_changed_notice,
        _text_mail(
            f"Your e-mail address for {site_name} was changed",
            "accounts/email_changed_notice.txt",
            context,
            old_email,
        ),
        user_pk,
        old_email,
        attempt=attempt,
        what="the notice of an address change",
        greet_by_name=greet_by_name,
    )


@task
def send_invitation_mail(invitation_pk: int, *, domain: str, use_https: bool, attempt: int = 0) -> bool:
    """Mail Invitation `invitation_pk`'s code and a sign-up link to its address (services.invitation_mail),
    unless it can no longer be redeemed. Returns whether it was sent."""
    invitation = (
        Invitation.objects.select_related("organization", "created_by").filter(pk=invitation_pk).first()
    )
    if invitation is None:
        return False
    try:
        services.invitation_mailable(invitation)  # as when it was asked for: things change meanwhile
    except ValidationError:
        return False
    site_name = SiteConfiguration.objects.get_current().site_name_line
    signup = reverse("accounts:signup")
    context = {
        # Staff without a name are not named by their address to an outsider.
        "inviter": (invitation.created_by and invitation.created_by.name) or site_name,
        "site_name": site_name,
        "organization": invitation.organization,
        "makes_manager": invitation.makes_manager,
        "email": invitation.email,
        # The code and the invited address filled in on the page it opens.
        "link": absolute_link(
            domain, use_https, f"{signup}?{urlencode({'code': invitation.code, 'email': invitation.email})}"
        ),
        "signup": absolute_link(domain, use_https, signup),
        "code": invitation.code,
        "expires_at": invitation.expires_at,
    }
    return mail_or_retry(
        send_invitation_mail,
        _text_mail(
            f"Your invitation to {site_name}", "accounts/invitation_email.txt", context, invitation.email
        ),
        invitation_pk,
        domain=domain,
        use_https=use_https,
        attempt=attempt,
        what="an invitation",
    )


# What a security notice says, by its name: the subject, then what happened to the account.
SECURITY_NOTICES = {
    "password_changed": (
        "Your password for {site_name} was changed",
        "The password of your account at {site_name} was changed.",
    ),
    "two_factor_off": (
        "Two-factor sign-in for {site_name} was switched off",
        "Two-factor sign-in was switched off for your account at {site_name}: a password alone now signs "
        "in to it.",
    ),
}


@task
def send_security_notice(user_pk: int, notice: str, attempt: int = 0, changed_at: str = "") -> bool:
    """Tell an account's owner, at its address, of a change to how it signs in (SECURITY_NOTICES), and
    when it happened (`changed_at`, ISO 8601) in the account's time zone: if they did not make it, this
    is how they hear of it. Returns whether it was sent."""
    user = User.objects.filter(pk=user_pk).first()
    if user is None or notice not in SECURITY_NOTICES:
        return False
    site_name = SiteConfiguration.objects.get_current().site_name_line
    subject, happened = (text.format(site_name=site_name) for text in SECURITY_NOTICES[notice])
    when = ""
    with contextlib.suppress(ValueError), timezone.override(user.zone):
        moment = datetime.fromisoformat(changed_at)
        when = f"{shown_time(timezone.localtime(moment))} ({shown_zone()})"
    context = {"user": user, "site_name": site_name, "happened": happened, "when": when}
    return mail_or_retry(
        send_security_notice,
        _text_mail(subject, "accounts/security_notice.txt", context, user.email),
        user_pk,
        notice,
        attempt=attempt,
        changed_at=changed_at,
        what=f"the notice '{notice}'",
    )


def _text_mail(subject: str, template: str, context: dict, to: str) -> Callable[[], object]:
    """Sending one plain-text mail rendered from `template`, for mail_or_retry to call."""
    return lambda: send_automatic(subject, render_to_string(template, context), to)
