"""Rate limits per IP and per account, shared by every worker process: fixed-window counters kept
in an UNLOGGED PostgreSQL table (one upsert per check), so no cache server is needed.

    @rate_limit("signup", account=posted("email"))
    def signup(request): ...

Limits per scope are settings (RATE_LIMITS); a request over either limit gets the friendly 429 page
with Retry-After.
"""

import functools
import logging
import math
import random
import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.defaultfilters import pluralize

from accounts.models import email_key
from helpdesk.client_ip import client_network
from helpdesk.models import RateLimitCounter

logger = logging.getLogger(__name__)
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
PRUNE_ONE_IN = 1000  # now and then, drop counters whose window ended long ago
AccountKey = Callable[[HttpRequest], str | None]


def _upsert(rows: int) -> str:
    """One statement counting `rows` keys (each key once): one round trip for the IP and the account."""
    values = ", ".join(["(%s, %s, 1)"] * rows)
    return f"""
        INSERT INTO {RateLimitCounter._meta.db_table} AS c (key, window_start, count) VALUES {values}
        ON CONFLICT (key) DO UPDATE SET
            count = CASE WHEN c.window_start = EXCLUDED.window_start THEN c.count + 1 ELSE 1 END,
            window_start = EXCLUDED.window_start
        RETURNING key, count"""  # noqa: S608 (the table name is ours, the values are parameters)


def parse_rate(rate: str) -> tuple[int, int]:
    """'10/m' → (10, 60); '5/15m' → (5, 900)."""
    count, period = rate.split("/")
    digits = period[:-1] or "1"
    return int(count), int(digits) * PERIODS[period[-1]]


def hits(checks: list[tuple[str, str]]) -> list[tuple[bool, int]]:
    """Count one request against each (key, rate); for each, (over the limit, seconds until its window
    ends)."""
    if not checks:
        return []
    now = time.time()
    # PostgreSQL text cannot hold NUL: a posted e-mail carrying one would otherwise crash the form's page.
    keyed = {key.replace("\x00", "")[:200]: parse_rate(rate) for key, rate in checks}
    windows = {key: int(now // seconds * seconds) for key, (_, seconds) in keyed.items()}
    with connection.cursor() as cursor:
        cursor.execute(_upsert(len(keyed)), [value for key in keyed for value in (key, windows[key])])
        counts = dict(cursor.fetchall())
        if random.randrange(PRUNE_ONE_IN) == 0:  # noqa: S311 (not security-relevant)
            cursor.execute(
                f"DELETE FROM {RateLimitCounter._meta.db_table} WHERE window_start < %s",  # noqa: S608
                [int(now) - PERIODS["d"]],
            )
    results = []
    for key, (limit, seconds) in keyed.items():
        if counts[key] == limit + 1:
            logger.warning("Rate limit reached: %s", key.split(":", 2)[:2])
        results.append((counts[key] > limit, max(1, math.ceil(windows[key] + seconds - now))))
    return results


def signed_in_account(request: HttpRequest) -> str | None:
    return f"user-{request.user.pk}" if request.user.is_authenticated else None


def searches(request: HttpRequest) -> bool:
    """A list asked with a text search (`q`): a full-text query, limited as the KB search is."""
    return bool(request.GET.get("q", "").strip())


def posted(field: str, *, sender_first: bool = True) -> AccountKey:
    """The account a form addresses: the signed-in user, else the (case-folded) value of `field`; with
    sender_first false, that value whoever sends it (a mail to the address: signing in to several
    accounts must not buy more of them)."""

    def key(request: HttpRequest) -> str | None:
        value = email_key(request.POST.get(field, ""))
        addressed = f"{field}-{value}" if value else None
        return (signed_in_account(request) or addressed) if sender_first else addressed

    return key


def rate_limited(
    request: HttpRequest, scope: str, *, account: AccountKey = signed_in_account, per_ip: bool = True
) -> int | None:
    """Count `request` against the RATE_LIMITS[scope] rates, per IP (unless `per_ip` is false) and per
    account; the seconds to wait when it is over a limit, else None."""
    if not settings.RATE_LIMITS_ENABLED:
        return None
    ip_rate, account_rate = settings.RATE_LIMITS[scope]
    checks = [(f"{scope}:ip:{client_network(request) or ''}", ip_rate)] if per_ip else []
    account_key = account(request)
    if account_key:
        checks.append((f"{scope}:account:{account_key}", account_rate))
    waits = [wait for over, wait in hits(checks) if over]
    return max(waits) if waits else None


def rate_limit(
    scope: str,
    *,
    account: AccountKey = signed_in_account,
    methods: tuple[str, ...] = ("POST",),
    when: Callable[[HttpRequest], bool] | None = None,
    per_ip: Callable[[HttpRequest], bool] | None = None,
):
    """Limit a view per IP and per account with the RATE_LIMITS[scope] rates (for `methods` only, HEAD
    counting as GET, and only the requests `when` picks, if given; per IP only those `per_ip` picks)."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            # HEAD runs the view as GET does (its body is only dropped): counted as one.
            method = "GET" if request.method == "HEAD" else request.method
            if method in methods and (when is None or when(request)):
                by_ip = per_ip is None or per_ip(request)
                wait = rate_limited(request, scope, account=account, per_ip=by_ip)
                if wait is not None:
                    return too_many_requests(request, retry_after=wait)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def wait_phrase(retry_after: int) -> str:
    """'40 seconds', '1 minute', '48 minutes'."""
    if retry_after < 60:
        return f"{retry_after} second{pluralize(retry_after)}"
    minutes = math.ceil(retry_after / 60)
    return f"{minutes} minute{pluralize(minutes)}"


def too_many_requests(request: HttpRequest, *, retry_after: int) -> HttpResponse:
    response = render(request, "429.html", {"wait": wait_phrase(retry_after)}, status=429)
    response["Retry-After"] = str(retry_after)
    return response
