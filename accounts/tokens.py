"""One-use links mailed to an account's address to show its owner reads it (e-mail verification)."""

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator

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
