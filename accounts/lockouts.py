"""django-axes' database handler (settings.AXES_HANDLER) with every lifted lockout audited (the axes_reset,
axes_reset_ip, axes_reset_username and axes_reset_ip_username commands all end in reset_attempts()), and
a limit of its own for an IP address (AXES_IP_FAILURE_LIMIT), larger than an account's."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db import transaction
from django.db.models import CharField, Q, QuerySet, Sum, Value
from django.db.models.functions import Cast, Concat
from django.http import HttpResponse
from django.shortcuts import render

import audit
from accounts.models import email_key
from audit.models import AuditEvent
from helpdesk.client_ip import address_key

HANDLER = "accounts.lockouts.AuditedAxesHandler"
RESET_ACTION = "lockout_reset"
# An account's failures once its lockout is lifted: counted for their address only (forget_account_failures).
FORGOTTEN_PREFIX = "(account unlocked, attempt "
_recorded_by_caller: ContextVar[bool] = ContextVar("lockout_reset_recorded_by_caller", default=False)


@contextmanager
def reset_recorded_by_caller() -> Iterator[None]:
    """Resets inside are recorded by the caller: accounts.services' unlocks, which know who lifted
    whose lockout, record their own event instead of this handler's."""
    token = _recorded_by_caller.set(True)
    try:
        yield
    finally:
        _recorded_by_caller.reset(token)


def _attempts(ip_address: str | None, username: str | None, ip_or_username: bool) -> QuerySet[AccessAttempt]:
    """The attempts AxesDatabaseHandler.reset_attempts deletes for these arguments."""
    attempts = AccessAttempt.objects.all()
    if ip_or_username:
        return attempts.filter(Q(ip_address=ip_address) | Q(username=username))
    if ip_address:
        attempts = attempts.filter(ip_address=ip_address)
    if username:
        attempts = attempts.filter(username=username)
    return attempts


def forget_account_failures(attempts: QuerySet[AccessAttempt]) -> int:
    """Lift an account's lockout, not the addresses': the attempts no longer count against the account
    (they are relabelled, one label each, as axes keeps one record per name, address and browser) but
    still count against the addresses they came from, until they age out. Deleted, they would give a
    password sprayer's address back every guess made at an account whose owner then signed in or reset
    their password. Returns how many attempts were relabelled."""
    label = Concat(Value(FORGOTTEN_PREFIX), Cast("pk", output_field=CharField()), Value(")"))
    return attempts.update(username=label)


def _describe(ip_address: str | None, username: str | None, ip_or_username: bool) -> str:
    parts = ([username] if username else []) + ([f"from {ip_address}"] if ip_address else [])
    joined = (" or " if ip_or_username else " ").join(parts)
    return f"Sign-in lockouts: {joined or 'everyone'}"


class AuditedAxesHandler(AxesDatabaseHandler):
    def failure_counts(self, request, credentials: dict | None = None) -> tuple[int, int]:
        """The recent failures of the account and of the address."""
        account, address = (
            attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )  # in the order of AXES_LOCKOUT_PARAMETERS: username, ip_address
        return account, address

    def get_failures(self, request, credentials: dict | None = None) -> int:
        """The failures axes compares with AXES_FAILURE_LIMIT. Axes counts one limit for every lockout
        parameter, so five typos in an office behind one address would lock out everyone there: the
        address gets its own, larger AXES_IP_FAILURE_LIMIT (still far below what guessing needs), and
        reaching it counts as the account limit reached."""
        account, address = self.failure_counts(request, credentials)
        if address >= settings.AXES_IP_FAILURE_LIMIT:
            return max(account, settings.AXES_FAILURE_LIMIT)
        return account

    def reset_user_attempts(self, request, credentials: dict | None = None) -> int:
        """A successful sign-in forgets the failures of that account only. Axes would also forget the
        address's: an attacker signing in to their own account between guesses would lift the lockout
        of the victim they guess at, and the address's limit, from the same address."""
        username = get_client_username(request, credentials)
        return forget_account_failures(AccessAttempt.objects.filter(username=username))

    def reset_attempts(
        self, *, ip_address: str | None = None, username: str | None = None, ip_or_username: bool = False
    ) -> int:
        # Failures are counted under the address in lower case (accounts.backends.lockout_username): the
        # command's "Jo@Example.org" must lift the lockout of "jo@example.org".
        username = email_key(username) if username else username
        ip_address = address_key(ip_address)  # counted by its /64 when IPv6, as the lockout counts it
        with transaction.atomic():
            attempts = _attempts(ip_address, username, ip_or_username)
            failures = attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            if username and not ip_address:  # the account's lockout only: the addresses keep theirs
                removed = forget_account_failures(attempts)
            else:
                removed = super().reset_attempts(
                    ip_address=ip_address, username=username, ip_or_username=ip_or_username
                )
            # Lifting a lockout from the command line left no trace: whoever could run manage.py could let
            # an attacker guess on, unseen.
            if removed and not _recorded_by_caller.get():
                audit.record(
                    RESET_ACTION,
                    actor=None,
                    changes={"failed_sign_ins": (failures, 0)},
                    category=AuditEvent.Category.SECURITY,
                    object_repr=_describe(ip_address, username, ip_or_username),
                )
        return removed


def lockout_response(request, original_response=None, credentials: dict | None = None) -> HttpResponse:
    """The "too many attempts" page (settings.AXES_LOCKOUT_CALLABLE). It says which pause holds: a
    password reset lifts the account's (accounts.services.user_unlock), not the address's, so advising
    one to someone paused with their whole office would send them round in a circle."""
    _, address = AuditedAxesHandler().failure_counts(request, credentials)
    cool_off = get_cool_off(request)
    context = {
        "cooloff_timedelta": cool_off,
        # Paused for the address, a reset helps nobody there, whether or not the account is paused too.
        "address_paused": address >= settings.AXES_IP_FAILURE_LIMIT,
    }
    response = render(request, "accounts/locked_out.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)
    # The pause counts from the last failure, so at most this long (as the site's other 429s say it).
    if cool_off:
        response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response
