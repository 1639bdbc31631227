"""One-use links mailed to an address to show its owner reads it: confirming an account's address, and
moving an account to a new address."""

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import signing
from django.utils.crypto import salted_hmac

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


def account_state(user) -> str:
    """The account's address and password, as a fingerprint: an address-change link made in one state is
    spent once the owner changes either (the link was used, or they took the account back)."""
    state = salted_hmac(EMAIL_CHANGE_SALT, f"{user.pk}|{user.email}|{user.password}", algorithm="sha256")
    return state.hexdigest()[:32]


def email_change_token(request_pk: int) -> str:
    """The signed, dated token of the link that carries out EmailChangeRequest `request_pk`."""
    return signing.dumps({"r": request_pk}, salt=EMAIL_CHANGE_SALT)


def email_change_request_pk(token: str) -> int | None:
    """The EmailChangeRequest a token names, if the token is genuine and not older than
    PASSWORD_RESET_TIMEOUT."""
    try:
        return int(signing.loads(token, salt=EMAIL_CHANGE_SALT, max_age=settings.PASSWORD_RESET_TIMEOUT)["r"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
