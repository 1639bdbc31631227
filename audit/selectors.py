"""Reads that build the audit viewer's page, with their prefetching, so a query budget can hold them."""

from dataclasses import dataclass

from django.db.models import QuerySet
from django.http import QueryDict

from accounts.models import User
from audit.filters import AuditEventFilter
from audit.models import AuditEvent
from helpdesk.counting import capped, is_capped
from helpdesk.forms import parse_id

PAGE_SIZE = 50


def event_filter(user: User, params: QueryDict) -> AuditEventFilter:
    return AuditEventFilter(params, queryset=AuditEvent.objects.visible_to(user), user=user)


def _cursor(raw: str | None) -> int | None:
    return parse_id(raw)


@dataclass
class EventPage:
    """One page of events, newest first, addressed by sequence (keyset), so deep pages stay cheap."""

    filterset: AuditEventFilter
    events: list[AuditEvent]
    count: int
    newer_than: int | None  # the cursor of the previous (newer) page, if any
    older_than: int | None  # the cursor of the next (older) page, if any

    @property
    def count_is_capped(self) -> bool:
        return is_capped(self.count)


def matching_parts(user: User, filterset: AuditEventFilter) -> list[QuerySet[AuditEvent]]:
    """The events the filter matches that `user` may read, as AuditEvent.visible_parts: disjoint parts,
    each filtered alike (a filter that was not understood is left out, as django-filter's qs does)."""
    parts = AuditEvent.objects.visible_parts(user)
    if len(parts) == 1:  # everything (an administrator): the filter's own queryset, filtered once
        return [filterset.qs]
    if not filterset.is_bound:
        return parts
    filterset.errors  # noqa: B018 - validates the form, which the filters read
    return [filterset.filter_queryset(part) for part in parts]


def _capped_count(parts: list[QuerySet[AuditEvent]]) -> int:
    """At most COUNT_CAP + 1 events of each part, counted in one query (the parts are disjoint)."""
    capped_parts = [capped(part).values("pk") for part in parts]
    if len(capped_parts) == 1:
        return capped_parts[0].count()
    return capped_parts[0].union(*capped_parts[1:], all=True).count()


def event_page(user: User, params: QueryDict) -> EventPage:
    filterset = event_filter(user, params)
    # The rows in one query (its OR walks the trail newest first, index-backed, until a page is found);
    # the count by parts, each along its own index: the OR counted every event it walked past.
    matching = filterset.qs
    rows = matching.select_related("object_type")
    after, before = _cursor(params.get("after")), _cursor(params.get("before"))
    if after is not None:
        chunk = list(rows.filter(sequence__gt=after).order_by("sequence")[: PAGE_SIZE + 1])
        # Older ones only if one matches (a Newer link made before retention pruned them leads to none).
        has_newer = len(chunk) > PAGE_SIZE
        has_older = bool(chunk) and matching.filter(sequence__lt=chunk[0].sequence).exists()
        events = chunk[:PAGE_SIZE][::-1]
    else:
        if before is not None:
            rows = rows.filter(sequence__lt=before)
        chunk = list(rows.order_by("-sequence")[: PAGE_SIZE + 1])
        has_newer, has_older = before is not None and bool(chunk), len(chunk) > PAGE_SIZE
        events = chunk[:PAGE_SIZE]
    parts = matching_parts(user, filterset)
    count = _capped_count(parts) if parts else 0
    newer_than = events[0].sequence if has_newer else None
    older_than = events[-1].sequence if has_older else None
    if not events and count:
        # A stale link (retention removed the older events, or the newest moved on): nothing lies past
        # its cursor, so every matching event lies the other way, and the page links there.
        if before is not None:
            newer_than = before - 1
        elif after is not None:
            older_than = after + 1
    return EventPage(
        filterset=filterset, events=events, count=count, newer_than=newer_than, older_than=older_than
    )
