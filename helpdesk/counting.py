"""Totals that stay cheap on big tables: lists count at most COUNT_CAP + 1 rows and say "10,000+"."""

from django.db.models import QuerySet

# Counting a million rows exactly on every page view costs more than the exact figure tells.
COUNT_CAP = 10_000


def capped(queryset: QuerySet) -> QuerySet:
    """The rows to count: unordered (no walk of the sort index, so the planner may combine indexes)
    and no more than one past the cap."""
    return queryset.order_by()[: COUNT_CAP + 1]


def is_capped(count: int) -> bool:
    return count > COUNT_CAP
