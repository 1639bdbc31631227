"""One-use links mailed to an address to show its owner reads it: confirming an account's address, and
moving an account to a new address."""

from typing import NamedTuple

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac

from helpdesk.display import shown_duration


def link_lifetime() -> str:
    """How long a mailed link (password reset, address confirmation) works, as a person reads it."""
    return shown_duration(settings.PASSWORD_RESET_TIMEOUT)


class EmailVerificationTokenGenerator(PasswordResetTokenGenerator):
    """Like Django's password-reset tokens (signed, dated, expiring after PASSWORD_RESET_TIMEOUT), with
    their own salt. The hash holds the address and its verification time, not the password or last
    sign-in: signing in does not spoil the link, while a changed address or a used link does."""

    key_salt = "accounts.tokens.EmailVerificationTokenGenerator"

    def _make_hash_value(self, user, timestamp: int) -> str:
        # Separated: run together, account 900012 "3bob@…" and account 9000123 "bob@…" would hash alike.
        return f"{user.pk}|{user.email}|{user.email_verified_at}|{timestamp}"


email_verification_token = EmailVerificationTokenGenerator()


EMAIL_CHANGE_SALT = "accounts.tokens.email_change"


class EmailChange(NamedTuple):
    """What an address-change link asks: move account `user_pk` to `new_email`, made while the account was
    in the state `state` names (see `_account_state`)."""

    user_pk: int
    new_email: str
    state: str


def _account_state(user) -> str:
    # The address and the password the account had when the link was made: once either changes (the
    # link was used, or the owner took the account back with a new password), the link is spent.
    state = salted_hmac(EMAIL_CHANGE_SALT, f"{user.pk}|{user.email}|{user.password}", algorithm="sha256")
    return state.hexdigest()[:32]


def email_change_token(user, new_email: str) -> str:
    """A signed, dated token for the link mailed to `new_email` (it names the address, so the link
    cannot be turned to another one)."""
    payload = {"u": user.pk, "to": new_email, "s": _account_state(user)}
    return signing.dumps(payload, salt=EMAIL_CHANGE_SALT, compress=True)


def email_change_read(token: str) -> EmailChange | None:
    """The change a token asks, if it is genuine and not older than PASSWORD_RESET_TIMEOUT."""
    try:
        payload = signing.loads(token, salt=EMAIL_CHANGE_SALT, max_age=settings.PASSWORD_RESET_TIMEOUT)
        return EmailChange(int(payload["u"]), str(payload["to"]), str(payload["s"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def email_change_holds(user, change: EmailChange) -> bool:
    """Whether the link was made for this account as it is now."""
    return user.pk == change.user_pk and constant_time_compare(_account_state(user), change.state)
