"""Writes to accounts: sign-up, invitations, roles, suspension, sign-in lockouts, profile, passwords and
sessions. Each takes `actor`."""

import ipaddress
from datetime import datetime, timedelta
from typing import Any

from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet, Sum, Value
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import constant_time_compare

import audit
from accounts import lockouts, rbac, roles
from accounts.backends import lockout_username
from accounts.models import (
    EmailChangeRequest,
    Invitation,
    Organization,
    RoleAssignment,
    User,
    UserSession,
    email_key,
    suspension_ended,
)
from accounts.tokens import account_state, email_change_request_pk, email_verification_token
from audit.models import AuditEvent
from helpdesk.client_ip import address_key
from helpdesk.dates import validate_not_too_late
from helpdesk.forms import SHOWS_NO_DIFFERENCE, nfc, one_line

INVITATION_UNKNOWN = "This invitation code is not valid."
INVITATION_INACTIVE = "This invitation is no longer active."
INVITATION_EXPIRED = "This invitation has expired."
INVITATION_USED_UP = "This invitation has already been used as many times as it allows."
INVITATION_WRONG_EMAIL = "This invitation was issued for a different e-mail address."
INVITED_HAS_ACCOUNT = (
    "{email} has an account already, which cannot sign up again: set the organisation (and whether they "
    "manage it) on that user instead."
)
INVITATION_NO_ADDRESS = "This invitation names no address to mail it to: pass its code on yourself."
SIGNUP_CLOSED = "Sign-up needs an invitation code."
EMAIL_TAKEN = "An account with this e-mail address already exists. Sign in or reset your password."
PASSWORD_INCORRECT = "That is not your current password. Enter it again."  # noqa: S105 (a message)
EMAIL_UNCHANGED = "That is the address of your account already."
EMAIL_IN_USE = "Another account uses this e-mail address."
IP_ADDRESS_INVALID = "{value!r} is not an IP address."
EMAIL_PENDING = (
    "An account with this e-mail address is waiting to be activated. Use “Forgotten your password?” on the "
    "sign-in page: we send a link to this address to choose a password."
)


def _invitations_with_code(code: str) -> QuerySet[Invitation]:
    return (
        Invitation.objects.select_related("organization")
        # Both sides lower-cased by PostgreSQL, as the unique constraint compares codes: Python lowers a
        # final capital sigma and a dotted capital I otherwise. The typed code composed, as stored, and
        # without the invisible characters a copy from a mail or a chat can bring along.
        .alias(code_key=Lower("code"))
        .filter(code_key=Lower(Value(nfc(code.translate(SHOWS_NO_DIFFERENCE).strip()))))
    )


def invitation_problem(code: str) -> str | None:
    """Why the invitation `code` names could not be redeemed now (unknown, inactive, expired, used up),
    read without a lock: what the sign-up page says when its link is opened, before anything is typed.
    None when it could (sign-up checks again, the address too)."""
    invitation = _invitations_with_code(code).first()
    if invitation is None:
        return INVITATION_UNKNOWN
    try:
        invitation_check(invitation, email=invitation.email)
    except ValidationError as error:
        return error.messages[0]
    return None


def _locked_invitation(code: str) -> Invitation:
    invitation = _invitations_with_code(code).select_for_update(no_key=True).first()
    if invitation is None:
        raise ValidationError({"invitation_code": INVITATION_UNKNOWN})
    return invitation


def invitation_check(invitation: Invitation, *, email: str, now: datetime | None = None) -> None:
    """Raise ValidationError if `invitation` cannot be redeemed by `email` now."""
    now = now or timezone.now()
    if not invitation.is_active or not invitation.organization.is_active:
        raise ValidationError({"invitation_code": INVITATION_INACTIVE})
    if invitation.expires_at is not None and invitation.expires_at <= now:
        raise ValidationError({"invitation_code": INVITATION_EXPIRED})
    if invitation.uses >= invitation.max_uses:
        raise ValidationError({"invitation_code": INVITATION_USED_UP})
    if invitation.email and email_key(invitation.email) != email_key(email):
        raise ValidationError({"invitation_code": INVITATION_WRONG_EMAIL})


def invitation_mailable(invitation: Invitation) -> None:
    """Raise ValidationError unless `invitation` names an address that could redeem it now: it is open,
    and the address has no account but a pending one (sign-up refuses any other)."""
    if not invitation.email:
        raise ValidationError(INVITATION_NO_ADDRESS)
    invitation_check(invitation, email=invitation.email)
    holder = User.objects.with_email(invitation.email).first()
    if holder is not None and holder.effective_status() != User.Status.PENDING:
        raise ValidationError({"email": INVITED_HAS_ACCOUNT.format(email=holder.email)})


@transaction.atomic
def invitation_mail(invitation: Invitation, *, actor: User | None, domain: str, use_https: bool) -> None:
    """Mail `invitation`'s code and a sign-up link to the address it names (after commit, from
    `domain`): sign-up takes a code for a named address as proof its owner reads that mailbox, so the
    code goes there. Refused (ValidationError) for one that names no address or could not be redeemed."""
    from accounts.tasks import send_invitation_mail  # the tasks module imports this one

    invitation_mailable(invitation)
    audit.record("invitation_mail", actor=actor, obj=invitation, changes={"email": (None, invitation.email)})
    transaction.on_commit(
        lambda: send_invitation_mail.enqueue(invitation.pk, domain=domain, use_https=use_https)
    )


@transaction.atomic
def user_signup(
    *, email: str, name: str, password: str, invitation_code: str = "", open_signup: bool, actor: User | None
) -> User:
    """Create a customer account, joining the invitation's organisation when a code is given."""
    email = User.objects.normalize_email(email.strip())
    invitation = None
    if invitation_code:
        # The row lock serialises concurrent sign-ups on one code, so max_uses holds.
        invitation = _locked_invitation(invitation_code.strip())
        invitation_check(invitation, email=email)
    elif not open_signup:
        raise ValidationError({"invitation_code": SIGNUP_CLOSED})
    existing = User.objects.with_email(email).select_for_update(no_key=True).first()
    if existing is not None:
        # Pending as in force: a timed suspension of an unclaimed account that has ended leaves it pending.
        if existing.effective_status() != User.Status.PENDING:
            raise ValidationError({"email": EMAIL_TAKEN})
        # A pending account (an anonymous submission's) holds that person's tickets. Only an invitation
        # sent to this very address shows the visitor reads its mail; open sign-up or a shared code would
        # let anyone claim the account and read them. The reset link proves the mailbox the same way.
        if invitation is None or not invitation.email:
            raise ValidationError({"email": EMAIL_PENDING})
        return _pending_account_claim(
            existing, name=name, password=password, invitation=invitation, actor=actor
        )
    user = User(email=email, name=one_line(name))
    if invitation is not None:
        user.organization = invitation.organization
        user.is_organization_manager = invitation.makes_manager
        Invitation.objects.filter(pk=invitation.pk).update(uses=F("uses") + 1)
        if invitation.email:  # sent to this very address: whoever redeems it reads that mailbox
            user.email_verified_at = timezone.now()
    user.set_password(password)
    user.full_clean(exclude=["password"])
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        # Another sign-up with this address (a double-clicked button) committed after the check above.
        raise ValidationError({"email": EMAIL_TAKEN}) from None
    joined = {
        "organization": (None, user.organization),
        # The invitation, not its code: a code still open lets whoever reads the trail join.
        "invitation": (None, invitation or ""),
    }
    if user.email_verified_at is not None:
        joined["email_verified_at"] = (None, user.email_verified_at)
    if user.is_organization_manager:  # every ticket of the organisation, as a grant would give it
        joined["is_organization_manager"] = (None, True)
    audit.record("create", actor=actor or user, obj=user, changes=joined)
    role_assign(user, roles.CUSTOMER, actor=actor)
    return user


def _pending_account_claim(
    user: User, *, name: str, password: str, invitation: Invitation, actor: User | None
) -> User:
    """Sign-up into the pending account of the invitation's address: activate it as the new account
    would be, keeping its tickets. Runs inside user_signup's transaction, with the invitation locked."""
    fields = [
        "name", "organization", "is_organization_manager", "status", "suspended_until", "suspension_reason",
        "email_verified_at",
    ]  # fmt: skip
    before = {field: getattr(user, field) for field in fields}
    user.name = one_line(name)
    user.suspended_until, user.suspension_reason = None, ""  # a suspension that has ended, if any
    user.organization = invitation.organization
    user.is_organization_manager = invitation.makes_manager
    user.status = User.Status.ACTIVE
    user.email_verified_at = user.email_verified_at or timezone.now()  # the invitation went to this address
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save(update_fields=[*fields, "password"])
    Invitation.objects.filter(pk=invitation.pk).update(uses=F("uses") + 1)
    changes = {
        field: (before[field], getattr(user, field))
        for field in fields
        if before[field] != getattr(user, field)
    }
    changes["invitation"] = (None, invitation)
    audit.record("activate", actor=actor or user, obj=user, changes=changes)
    if not RoleAssignment.objects.filter(user=user, role__name=roles.CUSTOMER).exists():
        role_assign(user, roles.CUSTOMER, actor=actor)
    return user


def _require_not_too_late(field: str, moment: datetime | None) -> None:
    try:
        validate_not_too_late(moment)
    except ValidationError as error:
        raise ValidationError({field: error.messages}) from None


@transaction.atomic
def role_assign(
    user: User, role_name: str, *, expires_at: datetime | None = None, actor: User | None
) -> RoleAssignment:
    """Give `user` the role until `expires_at` (or for good); re-assigning updates the expiry. The actor
    must hold every permission the role grants, for at least as long."""
    _require_not_too_late("expires_at", expires_at)
    role = Group.objects.get(name=role_name)
    if missing := rbac.grant_refusal(actor, role) or rbac.grant_expiry_refusal(actor, role, expires_at):
        raise PermissionDenied(missing)
    earlier = RoleAssignment.objects.select_for_update(no_key=True).filter(user=user, role=role).first()
    assignment, _ = RoleAssignment.objects.update_or_create(
        user=user,
        role=role,
        defaults={"expires_at": expires_at, "granted_by": actor, "granted_at": timezone.now()},
    )
    # A role held already shows as held before and after, with the expiry it had; one that had expired
    # was not held: it is granted again (its lapsed expiry still shows as the before).
    held = earlier is not None and earlier.in_force()
    changes = {
        "role": (role_name if held else None, role_name),
        "expires_at": (earlier.expires_at if earlier else None, expires_at),
    }
    audit.record("role_change", actor=actor, obj=user, changes=changes, category=AuditEvent.Category.SECURITY)
    rbac.forget(user)
    return assignment


@transaction.atomic
def role_revoke(user: User, role_name: str, *, actor: User | None) -> None:
    """Take the role from `user`, recorded as the admin records a deleted assignment (the role and its
    expiry before); only someone who could grant it may. A role not held changes and records nothing."""
    role = Group.objects.get(name=role_name)
    if missing := rbac.grant_refusal(actor, role):
        raise PermissionDenied(missing)
    assignment = RoleAssignment.objects.select_for_update(no_key=True).filter(user=user, role=role).first()
    if assignment is None:
        return
    assignment.delete()
    changes = {"role": (role_name, None), "expires_at": (assignment.expires_at, None)}
    audit.record("role_change", actor=actor, obj=user, changes=changes, category=AuditEvent.Category.SECURITY)
    rbac.forget(user)


SUSPENSION_ALREADY_ENDED = "This date has passed: a suspension must end in the future (or leave it empty)."


def _status_changes(user: User, fields: list[str]) -> dict[str, tuple[Any, Any]]:
    """{field: (stored, on `user`)} for each of `fields` that `user` changes; locks the stored row, so the
    before is the one this write replaces even if `user` was loaded earlier."""
    stored = User.objects.select_for_update(no_key=True).values(*fields).get(pk=user.pk)
    return {
        name: (stored[name], getattr(user, name)) for name in fields if stored[name] != getattr(user, name)
    }


@transaction.atomic
def user_suspend(user: User, *, until: datetime | None, reason: str, actor: User | None) -> User:
    _require_not_too_late("suspended_until", until)
    if until is not None and until <= timezone.now():
        # Saved, it would read "suspended" while letting them in (the end has passed).
        raise ValidationError({"suspended_until": SUSPENSION_ALREADY_ENDED})
    fields = ["status", "suspended_until", "suspension_reason"]
    user.status = User.Status.SUSPENDED
    user.suspended_until = until
    user.suspension_reason = reason
    if not (changes := _status_changes(user, fields)):
        return user  # as it was already: no write, no event that says nothing happened
    user.save(update_fields=fields)
    audit.record("suspend", actor=actor, obj=user, changes=changes)
    # Ended, not paused: refused while suspended, a session would sign them in again once the
    # suspension ran out or was lifted (one suspension cuts off a stolen session for good).
    user_sign_out_sessions(user, actor=actor)
    return user


@transaction.atomic
def user_set_pending(user: User, *, actor: User | None) -> User:
    """Back to pending (an account to be claimed again): it cannot sign in, and its sessions end, so
    none signs it back in once it is active again."""
    fields = ["status", "suspended_until", "suspension_reason"]
    user.status = User.Status.PENDING
    user.suspended_until = None
    user.suspension_reason = ""
    if not (changes := _status_changes(user, fields)):
        return user  # as it was already: no write, no event that says nothing happened
    user.save(update_fields=fields)
    audit.record("update", actor=actor, obj=user, changes=changes)
    user_sign_out_sessions(user, actor=actor)
    return user


@transaction.atomic
def user_activate(user: User, *, actor: User | None) -> User:
    """Lift a suspension or activate a pending account (e.g. after the owner set a password). An account
    with no password yet stays, or becomes, pending (User.status_when_lifted)."""
    fields = ["status", "suspended_until", "suspension_reason", "email_verified_at"]
    user.status = user.status_when_lifted()
    user.suspended_until = None
    user.suspension_reason = ""
    if user.email_verified_at is None and actor is not None and actor.pk == user.pk:
        user.email_verified_at = timezone.now()
    if not (changes := _status_changes(user, fields)):
        return user  # as it was already: no write, no event that says nothing happened
    user.save(update_fields=fields)
    audit.record("activate", actor=actor, obj=user, changes=changes)
    return user


EMAIL_LINK_INVALID = "This link has expired or is not valid any more."


def email_link_state(user: User | None, token: str, *, viewer=None) -> str:
    """What a mailed confirmation link can do for `user`, opened by `viewer`: "done" (the address is
    confirmed already), "ready" (an active account, a token that holds, and its owner signed in),
    "sign_in" (all but the owner signed in) or "invalid". Only the owner confirms: else someone who
    signed up with another person's address would have it confirmed by that person's click, and
    their later requests filed under an account the stranger holds the password of."""
    if user is None:
        return "invalid"
    if user.email_verified_at is not None:
        # Said to the owner only: to anyone else "confirmed already" would tell, for any link made up,
        # that the account it names exists and is confirmed (a used link's token no longer holds).
        return "done" if getattr(viewer, "pk", None) == user.pk else "invalid"
    if user.effective_status() != User.Status.ACTIVE or not email_verification_token.check_token(user, token):
        return "invalid"
    return "ready" if getattr(viewer, "pk", None) == user.pk else "sign_in"


@transaction.atomic
def user_email_confirm(user: User, token: str, *, actor: User | None) -> User:
    """Confirm the address with the token of the link mailed to it, pressed by its owner (`actor`).
    Checked again on the locked row (suspended or changed since the page was shown)."""
    user = User.objects.select_for_update(no_key=True).get(pk=user.pk)
    if email_link_state(user, token, viewer=actor) != "ready":
        raise ValidationError(EMAIL_LINK_INVALID)
    return user_email_verify(user, actor=actor)


@transaction.atomic
def user_email_verify(user: User, *, actor: User | None) -> User:
    """Record that the owner of the account has shown they read mail sent to its address (they used a
    link mailed to it). Anonymous submissions from an address join only an account verified this way
    (or one they made themselves), never one that anybody could open in that address's name. A verified
    customer without an organisation joins the one their address's domain belongs to."""
    now = timezone.now()
    verified = User.objects.filter(pk=user.pk, email_verified_at__isnull=True).update(email_verified_at=now)
    if verified:
        user.email_verified_at = now
        audit.record(
            "email_verified",
            actor=actor,
            obj=user,
            changes={"email_verified_at": (None, now)},
            category=AuditEvent.Category.SECURITY,
        )
        _organization_join_by_domain(user, actor=actor)
    return user


def require_password(user: User, password: str) -> None:
    """Refuse unless `password` is the account's own. A session is not its owner: someone at an unlocked
    computer, or holding a stolen cookie, could otherwise put their own phone on the account, take the
    second step off it, or move it to their own address."""
    if not user.check_password(password):
        raise ValidationError({"password": PASSWORD_INCORRECT})


def _email_change_problem(user: User, new_email: str) -> str | None:
    if email_key(new_email) == email_key(user.email):
        return EMAIL_UNCHANGED
    other = User.objects.with_email(new_email).exclude(pk=user.pk).first()
    if other is None:
        return None
    # Sign-up says as much of any address; a pending account holds an anonymous submitter's tickets,
    # which only that address's owner may claim (through the reset link).
    return EMAIL_PENDING if other.effective_status() == User.Status.PENDING else EMAIL_IN_USE


EMAIL_CHANGE_RESEND_AFTER = timedelta(minutes=1)


def _asked_a_moment_ago(user: User, new_email: str) -> EmailChangeRequest | None:
    """The account's request for `new_email`, still good, if it was made less than
    EMAIL_CHANGE_RESEND_AFTER ago: asked again so soon, it is the same request sent twice. Later, a new
    link is mailed (the first may not have arrived)."""
    unused = EmailChangeRequest.objects.filter(user=user, used_at__isnull=True).select_related("user")
    latest = unused.order_by("-created_at").first()
    if (
        latest is not None
        and email_key(latest.new_email) == email_key(new_email)
        and latest.created_at > timezone.now() - EMAIL_CHANGE_RESEND_AFTER
        and email_change_holds(latest)
    ):
        return latest
    return None


@transaction.atomic
def user_email_change_request(
    user: User, *, new_email: str, password: str, actor: User, domain: str, use_https: bool
) -> str:
    """Ask to move the account to `new_email`: the password must be the account's and the address free.
    Nothing changes yet: a link goes to the new address (after commit, from `domain`), and the change is
    made when its owner opens it (user_email_change). Only the newest request's link works. Returns the
    address as it will be stored."""
    from accounts.tasks import send_email_change_mail  # the tasks module imports this one

    new_email = User.objects.normalize_email(new_email.strip())
    require_password(user, password)
    try:
        User._meta.get_field("email").run_validators(new_email)  # the address's form, length and letters
    except ValidationError as error:
        raise ValidationError({"email": error.messages}) from None
    if problem := _email_change_problem(user, new_email):
        raise ValidationError({"email": problem})
    # One request at a time per account: a double-clicked "Send the link" waits here for the first. (No
    # key update: the audit event of another change to the account reads the row while it holds the
    # audit chain's lock, which this request takes next.)
    User.objects.select_for_update(no_key=True).filter(pk=user.pk).exists()
    if sent := _asked_a_moment_ago(user, new_email):
        # Sent twice: the first link is on its way (a second mail would spend it), to the address as
        # that request spelled it.
        return sent.new_email
    EmailChangeRequest.objects.filter(user=user).delete()  # the links mailed before are spent
    change = EmailChangeRequest.objects.create(
        user=user, new_email=new_email, account_state=account_state(user)
    )
    audit.record(
        "email_change_request",
        actor=actor,
        obj=user,
        changes={"email": (user.email, new_email)},
        category=AuditEvent.Category.SECURITY,
    )
    transaction.on_commit(
        lambda: send_email_change_mail.enqueue(change.pk, domain=domain, use_https=use_https)
    )
    return new_email


def email_change_for_link(token: str) -> EmailChangeRequest | None:
    """The request a mailed address-change link carries out, whatever its state (email_change_link_state)."""
    pk = email_change_request_pk(token)
    return EmailChangeRequest.objects.select_related("user").filter(pk=pk).first() if pk else None


def email_change_holds(change: EmailChangeRequest) -> bool:
    """Whether an unused request can still be carried out: not expired, the account active, and its
    address and password as they were when it was asked."""
    user = change.user
    expired = change.created_at + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT) <= timezone.now()
    if expired or user.effective_status() != User.Status.ACTIVE:
        return False
    return constant_time_compare(account_state(user), change.account_state)


def email_change_pending(user: User) -> tuple[EmailChangeRequest, datetime] | None:
    """The address change the account's owner asked for and has not carried out, while its link holds,
    and when the link expires: the profile says where the account is moving (only the newest request's
    link works)."""
    change = EmailChangeRequest.objects.filter(user=user).order_by("-created_at", "-pk").first()
    if change is None or change.used_at is not None:
        return None
    change.user = user
    if not email_change_holds(change):
        return None
    return change, change.created_at + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT)


def email_change_link_state(change: EmailChangeRequest | None, *, viewer=None) -> str:
    """What a mailed address-change link can do, opened by `viewer`: "done" (it was used, and the owner
    looks at it), "ready" (it holds for the active account and its owner is signed in), "sign_in" (it
    holds, but not the owner is signed in: only the owner moves their account), "taken" (another account
    has the address since) or "invalid" (expired, spent by a newer request, a new address or password)."""
    if change is None:
        return "invalid"
    user = change.user
    is_owner = getattr(viewer, "pk", None) == user.pk
    if change.used_at is not None:
        return "done" if is_owner and email_key(user.email) == email_key(change.new_email) else "invalid"
    if not email_change_holds(change):
        return "invalid"
    if not is_owner:
        return "sign_in"
    return "taken" if _email_change_problem(user, change.new_email) else "ready"


@transaction.atomic
def user_email_change(change: EmailChangeRequest, *, actor: User, keep_session_key: str | None) -> User:
    """Move the account to the address the link was mailed to, pressed by its owner (`actor`): the address
    is confirmed by that, the other sessions end, and a notice goes to the old address after commit (if
    someone else made the change, its owner learns of it). Checked again on the locked rows."""
    from accounts.tasks import send_email_changed_notice  # the tasks module imports this one

    user = User.objects.select_for_update(no_key=True).get(pk=change.user_id)
    change = EmailChangeRequest.objects.select_for_update().filter(pk=change.pk).first()
    if change is not None:
        change.user = user
    state = email_change_link_state(change, viewer=actor)
    if state == "taken":
        raise ValidationError({"email": EMAIL_IN_USE})
    if state != "ready":
        raise ValidationError(EMAIL_LINK_INVALID)
    old_email, verified_before = user.email, user.email_verified_at
    user.email = change.new_email
    user.email_verified_at = timezone.now()
    try:
        with transaction.atomic():
            user.save(update_fields=["email", "email_verified_at"])
    except IntegrityError:  # another account took the address after the check
        raise ValidationError({"email": EMAIL_IN_USE}) from None
    change.used_at = user.email_verified_at
    change.save(update_fields=["used_at"])
    audit.record(
        "email_change",
        actor=actor,
        obj=user,
        changes={
            "email": (old_email, user.email),
            "email_verified_at": (verified_before, user.email_verified_at),
        },
        category=AuditEvent.Category.SECURITY,
    )
    user_sign_out_sessions(user, actor=actor, keep_session_key=keep_session_key)
    _organization_join_by_domain(user, actor=actor)
    greet_by_name = verified_before is not None  # the old address's owner had shown they read it
    transaction.on_commit(
        lambda: send_email_changed_notice.enqueue(user.pk, old_email, greet_by_name=greet_by_name)
    )
    return user


def organization_for_address(email: str) -> Organization | None:
    """The active organisation whose e-mail domains hold this address's domain, when exactly one does.
    Never by a public mail provider's domain, even one an organisation claimed before they were refused
    (Organization.clean): everyone with an address there would join it."""
    domain = email.rpartition("@")[2].strip().lower()
    if not domain or domain in settings.PUBLIC_MAIL_DOMAINS:
        return None
    matches = list(Organization.objects.filter(is_active=True, email_domains__contains=[domain])[:2])
    return matches[0] if len(matches) == 1 else None


def _organization_join_by_domain(user: User, *, actor: User | None) -> None:
    # The domain places an account nobody has placed: one an administrator took out of its organisation
    # stays out. Only a shown-to-be-read address joins: open sign-up checks none, and membership brings
    # the organisation's own forms and puts the member's tickets before its managers.
    if user.organization_id is not None or user.left_organization_at is not None or rbac.is_staff(user):
        return
    organization = organization_for_address(user.email)
    if organization is None:
        return
    if User.objects.filter(pk=user.pk, organization__isnull=True).update(organization=organization):
        user.organization = organization
        audit.record("update", actor=actor, obj=user, changes={"organization": (None, str(organization))})


@transaction.atomic
def user_password_reset(user: User, *, actor: User) -> User:
    """After a link mailed to the account's address set a new password (Django's view saved it): the link
    proves the owner reads that address, so it is verified, and a pending account (an anonymous
    submission's) is activated. Whoever knew the old password is signed out everywhere, and a sign-in
    lockout of the account is lifted (the lockout page offers the reset as the way back in): the
    wrong guesses were of a password that no longer works. A suspended account is refused: it is mailed
    no link, and one mailed before the suspension must not lift what the suspension holds."""
    if user.effective_status() == User.Status.SUSPENDED:
        raise PermissionDenied("This account is suspended.")
    # A pending account had no password: this one is its first, no change its owner must be warned of.
    first_password = user.status == User.Status.PENDING
    if user.status != User.Status.ACTIVE:  # pending, or a suspension that has ended (stored as it was)
        user_activate(user, actor=actor)
    user_unlock(user, actor=actor)
    user_email_verify(user, actor=actor)
    # Activation may have verified the address already (user_email_verify then has nothing to do): an
    # organisation that registered the domain since the account was made takes it in either way.
    _organization_join_by_domain(user, actor=actor)
    return user_password_changed(user, actor=actor, keep_session_key=None, notify=not first_password)


@transaction.atomic
def user_unlock(user: User, *, actor: User | None) -> int:
    """Lift a django-axes sign-in lockout of the account before its cool-off ends: forget the failed
    sign-ins counted against its e-mail address. Returns how many attempt records were removed."""
    username = lockout_username(None, {settings.AXES_USERNAME_FORM_FIELD: user.email})
    attempts = AccessAttempt.objects.filter(username=username)
    return _attempts_forget(attempts, {"username": username}, actor=actor, obj=user)


@transaction.atomic
def ip_unlock(ip_address: str, *, actor: User | None) -> int:
    """Lift a django-axes sign-in lockout of an IP address before its cool-off ends: forget the failed
    sign-ins counted against it, whatever e-mail addresses were tried (failures under other names lock
    out everyone at that address, and unlocking one account does not lift that). Returns how many
    attempt records were removed."""
    try:
        address = address_key(str(ipaddress.ip_address(ip_address.strip())))  # as lockouts count it
    except ValueError:
        # Never an empty filter: axes' reset without an address would forget every attempt everywhere.
        raise ValidationError({"ip_address": IP_ADDRESS_INVALID.format(value=ip_address)}) from None
    attempts = AccessAttempt.objects.filter(ip_address=address)
    return _attempts_forget(attempts, {"ip": address}, actor=actor, object_repr=f"Sign-in from {address}")


def _attempts_forget(
    attempts: QuerySet[AccessAttempt], reset_by: dict[str, str], *, actor: User | None, **subject: Any
) -> int:
    """Reset axes' attempts selected by `reset_by` (its username= or ip=) and, when any were removed,
    record the unlock against `subject` (obj= or object_repr=); `attempts` are the same records, read
    first for the failure count the record keeps."""
    failures = attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
    with lockouts.reset_recorded_by_caller():  # one event, this one, which names who lifted it
        removed = axes_reset(**reset_by)
    if removed:
        audit.record(
            "unlock",
            actor=actor,
            changes={"failed_sign_ins": (failures, 0)},
            category=AuditEvent.Category.SECURITY,
            **subject,
        )
    return removed


def suspensions_lift_expired(now: datetime | None = None) -> int:
    """Store the end of suspensions whose end has passed (they already act as lifted: effective_status)."""
    now = now or timezone.now()
    ended = User.objects.filter(suspension_ended(now))
    lifted = 0
    for pk in list(ended.order_by("pk").values_list("pk", flat=True)):
        with transaction.atomic():
            # Read again under the row lock: an administrator may have suspended them anew (for good,
            # say) since the list was read, and that suspension must hold.
            user = ended.select_for_update(no_key=True).filter(pk=pk).first()
            if user is not None:
                user_activate(user, actor=None)
                lifted += 1
    return lifted


@transaction.atomic
def profile_update(user: User, *, name: str, timezone_name: str, actor: User) -> User:
    wanted = {"name": one_line(name), "timezone": timezone_name}
    # Only what changed: the form posts both fields, and "UTC → UTC" in the trail is not a change.
    changes = {
        field: (getattr(user, field), value)
        for field, value in wanted.items()
        if getattr(user, field) != value
    }
    if not changes:
        return user
    for field, (_, value) in changes.items():
        setattr(user, field, value)
    # Only what changed is checked: a zone the time-zone database has since retired, left as it was
    # while the name changes, is no reason to refuse the name.
    user.full_clean(exclude=[field.name for field in User._meta.fields if field.name not in changes])
    user.save(update_fields=list(changes))
    audit.record("update", actor=actor, obj=user, changes=changes)
    return user


@transaction.atomic
def user_password_change(user: User, *, password: str, actor: User, keep_session_key: str | None) -> User:
    """Set a new (already validated) password and end every other session of the account."""
    user.set_password(password)
    user.save(update_fields=["password"])
    return user_password_changed(user, actor=actor, keep_session_key=keep_session_key)


@transaction.atomic
def user_password_changed(
    user: User, *, actor: User | None, keep_session_key: str | None, notify: bool = True
) -> User:
    """After a password was saved elsewhere (the admin's own password form): record it, end every
    other session of the account and, unless not `notify` (a first password), tell its owner."""
    audit.record("password_change", actor=actor, obj=user, category=AuditEvent.Category.SECURITY)
    user_sign_out_sessions(user, actor=actor, keep_session_key=keep_session_key)
    if notify:
        security_notice_after_commit(user, "password_changed")
    return user


def security_notice_after_commit(user: User, notice: str) -> None:
    """Mail the account's owner of a change to how it signs in (accounts.tasks.SECURITY_NOTICES), once
    the change is saved."""
    from accounts.tasks import send_security_notice  # the tasks module imports this one

    user_pk, changed_at = user.pk, timezone.now().isoformat()  # the change's time, not the mail's
    transaction.on_commit(lambda: send_security_notice.enqueue(user_pk, notice, changed_at=changed_at))


@transaction.atomic
def user_sign_out_sessions(
    user: User, *, actor: User | None, keep_session_key: str | None = None, public_id: str | None = None
) -> int:
    """End the user's sessions: all of them, all but `keep_session_key`, or the one named by `public_id`.
    Only live ones: an expired session signs nobody in, and the count tells people what they saw ended."""
    sessions = UserSession.objects.filter(user=user, expire_date__gt=timezone.now())
    if keep_session_key:
        sessions = sessions.exclude(session_key=keep_session_key)
    keys = [row.session_key for row in sessions if public_id is None or row.public_id == public_id]
    ended, _ = UserSession.objects.filter(session_key__in=keys).delete()
    if ended:
        audit.record(
            "sign_out",
            actor=actor,
            obj=user,
            changes={"sessions": (ended, 0)},
            category=AuditEvent.Category.SECURITY,
        )
    return ended
