"""Reads that build the agent desk's pages, with their prefetching, so query budgets can hold them."""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property
from urllib.parse import urlencode

from django.contrib.postgres.expressions import ArraySubquery
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db.models import (
    BooleanField,
    Case,
    Count,
    ExpressionWrapper,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.http import QueryDict
from django.utils import timezone

from accounts import rbac
from accounts.models import (
    Organization,
    RoleAssignment,
    Team,
    TeamGroupObjectPermission,
    TeamMember,
    TeamUserObjectPermission,
    User,
    active_users,
)
from helpdesk.accents import Unaccented, alphabetical, unaccented
from helpdesk.counting import COUNT_CAP, capped, is_capped
from tickets.filters import SORT_LABELS, SORTS, TicketQueueFilter, bare_number, in_my_teams, sort_key
from tickets.models import PRIORITY_ORDER, SavedView, Tag, Ticket, TicketActivity, TicketMessage, number_from
from tickets.services import clean_tag_names
from tickets.workflow import OPEN_STATUSES, SOLVED_STATUSES, Status

QUEUE_PAGE_SIZE = 25
# The queue refreshes itself every 30 seconds; its total may lag by as much.
COUNT_CACHE_SECONDS = 30
RECENTLY_SOLVED_DAYS = 7
# What a queue row shows (tickets/templatetags/ticket_markup.py): 13 columns instead of the 60 of the
# five joined tables; fewer bytes from PostgreSQL and less for the ORM to build per row.
QUEUE_COLUMNS = (
    "number", "subject", "status", "priority", "version", "updated_at", "last_customer_message_at",
    "assignee_seen_at", "requester__name", "requester__email", "organization__name", "team__name",
    "assignee__name", "assignee__email",
)  # fmt: skip


QUEUE_JOINS = ("requester", "organization", "team", "assignee")

Choice = tuple[int, str]


def choices(rows: Iterable) -> list[Choice]:
    """(pk, label) pairs for a select: cached menus hold these rather than model instances, which
    cost more to unpickle from the cache than to render."""
    return [(row.pk, str(row)) for row in rows]


def cached_for_viewer(user: User, name: str, question: tuple, compute):
    """compute(), shared for COUNT_CACHE_SECONDS by this user's requests asking the same `question`
    while their access (roles, teams, grants) and time zone are unchanged.

    The key names what decides the answer instead of hashing the query's SQL: compiling a queryset
    only to find its cached count cost more than a millisecond per count."""
    key = viewer_cache_key(user, name, question)
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, COUNT_CACHE_SECONDS)
    return value


def viewer_cache_key(user: User, name: str, question: tuple) -> str:
    """cached_for_viewer's key for `question` asked by `user`."""
    access = rbac.access(user)
    viewer = (
        user.pk,
        user.organization_id,
        user.is_organization_manager,
        user.timezone,
        sorted(access.roles),
        sorted(rbac.workable_team_ids(user)),
        sorted(access.organization_ids),
        sorted(access.ticket_ids),
    )
    return f"queue-{name}:" + hashlib.sha256(repr((viewer, question)).encode()).hexdigest()


class CappedPaginator(Paginator):
    """Counts at most COUNT_CACHE_SECONDS old for `count_key` = (user, the filter's question), of
    `counted` (default: the object list)."""

    def __init__(
        self,
        object_list,
        per_page: int,
        *,
        count_key: tuple[User, tuple],
        counted: QuerySet | None = None,
        fresh: bool = False,
    ) -> None:
        super().__init__(object_list, per_page)
        self.count_key = count_key
        self.counted = self.object_list if counted is None else counted
        self.fresh = fresh

    @cached_property
    def count(self) -> int:
        user, question = self.count_key
        rows = capped(self.counted)
        return rows.count() if self.fresh else cached_for_viewer(user, "count", question, rows.count)

    cap = COUNT_CAP  # what "More than …" names

    @property
    def count_is_estimate(self) -> bool:
        return is_capped(self.count)

    def validate_number(self, number) -> int:
        try:
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger("That page number is not an integer") from None
        if number < 1:
            raise EmptyPage("That page number is less than 1")
        # Past any real end, and an OFFSET PostgreSQL's bigint still holds: get_page then reads the last.
        return min(number, MAX_PAGE)

    def get_page(self, number) -> "RowsPage":
        """Page `number`, or the first for nonsense, or the last (by the count) past the end. The count
        may be 30 s old, so one page beyond it is still read; a capped count says nothing of where the
        end is, so past it any page is read (each page's Next comes from its own rows), and one that
        comes back empty is answered with the last page, counted then."""
        try:
            number = self.validate_number(number)
        except (PageNotAnInteger, EmptyPage):
            number = 1
        readable = self.count_is_estimate or number <= self.num_pages + 1
        page = self.page(number) if readable else None
        if number > 1 and (page is None or not page.object_list):
            # Past the end the count led to: it may be 30 s old and a colleague may have emptied pages
            # since, so it is taken again, and the last page by it is read.
            self._count_again()
            if self.count_is_estimate:
                # Past the end of a list longer than the cap (a stale or typed page number): counted in
                # full this once, for its last page, not a table that says nothing matches.
                total = self.counted.order_by().count()
                page = self.page(max(1, -(-total // self.per_page)))
            else:
                page = self.page(self.num_pages)
        return page

    def _count_again(self) -> None:
        self._count_is(capped(self.counted).count())

    def _count_is(self, total: int) -> None:
        """`total` is the count now: for this page and, kept, for the next (whose Next must not lead past
        a total older than this one)."""
        self.__dict__["count"] = total
        self.__dict__.pop("num_pages", None)
        user, question = self.count_key
        cache.set(viewer_cache_key(user, "count", question), total, COUNT_CACHE_SECONDS)

    def page(self, number) -> "RowsPage":
        """The rows of page `number`, read one past the page to know whether another follows. Django's
        Paginator cuts the rows at `count`, which here may be 30 s old: a ticket solved meanwhile
        would be missing from "Recently solved" until the count expired."""
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        rows = list(self.object_list[bottom : bottom + self.per_page + 1])
        more = len(rows) > self.per_page
        rows = rows[: self.per_page]
        if not self.count_is_estimate and (rows or number == 1):
            # The rows are read now: the last page says the total exactly, any other whether the count
            # is too low (a colleague's change since it was cached, shown under the list at once; a
            # lower bound shown as the total read "10, 13, 16" page after page).
            seen = bottom + len(rows)
            if not more and seen != self.count:
                self._count_is(seen)  # the last page: the total exactly
            elif more and seen >= self.count:
                self._count_again()  # more rows than the count: it is older than a change, not a total
        return RowsPage(rows, number, self, more=more)


class RowsPage(Page):
    """A page that knows from its own rows, not from the (cached) count, whether another follows."""

    def __init__(self, object_list, number: int, paginator: Paginator, *, more: bool) -> None:
        super().__init__(object_list, number, paginator)
        self.more = more

    def has_next(self) -> bool:
        return self.more

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return self.number - 1

    def end_index(self) -> int:
        return self.start_index() + len(self.object_list) - 1 if self.object_list else 0


def priority_order() -> Case:
    return Case(
        *(When(priority=key, then=Value(rank)) for key, rank in PRIORITY_ORDER.items()),
        output_field=IntegerField(),
    )


@dataclass(frozen=True)
class BuiltInView:
    slug: str
    name: str
    params: tuple[tuple[str, str], ...]

    @property
    def query(self) -> str:
        return urlencode(self.params)


def _statuses(statuses) -> tuple[tuple[str, str], ...]:
    return tuple(("status", status) for status in Status.values if status in statuses)


MAX_PAGE = 10**9


def recently_solved_since() -> date:
    """The first day of "Recently solved": its link filters solved_within=RECENTLY_SOLVED_DAYS, which
    the queue reads as the start of that day in the current time zone, and its count uses the same
    instant. A ticket resolved before, and closed since by the auto-close, was not solved recently."""
    return timezone.localdate() - timedelta(days=RECENTLY_SOLVED_DAYS)


def built_in_views() -> list[BuiltInView]:
    week = str(RECENTLY_SOLVED_DAYS)
    return [
        BuiltInView("mine", "My open tickets", (("assignee", "me"), *_statuses(OPEN_STATUSES))),
        BuiltInView(
            "unassigned",
            "Unassigned in my teams",
            (("scope", "teams"), ("assignee", "none"), *_statuses(OPEN_STATUSES)),
        ),
        BuiltInView("team-open", "All open in my teams", (("scope", "teams"), *_statuses(OPEN_STATUSES))),
        BuiltInView("pending", "Pending on customer", _statuses({Status.PENDING})),
        # A period, not a from-date, so that the view saved as an agent's own stays "recent" (and no
        # "Updated in" beside it, which would hold the list to a week when "Solved in" is widened).
        BuiltInView("solved", "Recently solved", (*_statuses(SOLVED_STATUSES), ("solved_within", week))),
    ]


def queue_counts(user: User, *, changed: object = None) -> dict[str, int]:
    """Counts of the built-in views: the agent's own open tickets counted afresh every time (a colleague
    handing them a ticket shows at the next refresh), the others in one query at most
    COUNT_CACHE_SECONDS old and never older than `changed` (a mark of the viewer's own last change)."""
    teams = in_my_teams(user)
    week_ago = timezone.make_aware(datetime.combine(recently_solved_since(), time.min))
    open_ = Q(status__in=OPEN_STATUSES)
    # updated_at is implied (resolved_at <= updated_at) and lets the count use the updated_at index.
    solved = Q(status__in=SOLVED_STATUSES, updated_at__gte=week_ago, resolved_at__gte=week_ago)
    visible = Ticket.objects.desk_listed(user)
    tickets = visible.filter(open_ | solved)

    counted_now: dict[str, int] = {}

    def count() -> dict[str, int]:
        counted_now.update(
            tickets.aggregate(
                mine=Count("pk", filter=open_ & Q(assignee=user)),
                unassigned=Count("pk", filter=open_ & Q(assignee__isnull=True) & teams),
                team_open=Count("pk", filter=open_ & teams),
                pending=Count("pk", filter=Q(status=Status.PENDING)),
                solved=Count("pk", filter=solved),
            )
        )
        return counted_now

    # Counted just now, the one query gave all five; read from the cache, the agent's own is counted anew.
    counts = cached_for_viewer(user, "counts", (week_ago, changed), count)
    if counted_now:
        return counts
    return counts | {"mine": visible.filter(open_, assignee=user).count()}


@dataclass
class QueuePage:
    filterset: TicketQueueFilter
    page: Page
    sort: str
    # The queue as its rows carry it to the workspace: filters, sort, and the page they are on (the
    # workspace's Queue link goes back to it); the first page is the query without one.
    row_query: str

    @cached_property
    def tickets(self) -> list[Ticket]:
        return list(self.page.object_list)

    @property
    def sort_label(self) -> str:
        return SORT_LABELS[self.sort]


def queue_queryset(user: User, params: QueryDict) -> tuple[TicketQueueFilter, "QuerySet[Ticket]", str]:
    """The filter, the visible tickets it selects in the chosen order, and the sort key. The filter
    works on all tickets (so a BranchWalk can reuse it) and visibility is applied to what it selects."""
    filterset = TicketQueueFilter(params, queryset=Ticket.objects.all(), user=user)
    sort = sort_key(params.get("sort"))
    tickets = filterset.qs.desk_listed(user)
    if sort == "priority":
        tickets = tickets.annotate(priority_order=priority_order())
    return filterset, tickets.order_by(*SORTS[sort]), sort


class BranchWalk:
    """A queue list read as one walk per visibility branch (`Ticket.objects.staff_visibility_keys`: a
    team, an assignee, an organisation, granted tickets) down that column's
    `(column, updated_at)` index, merged and cut in SQL, instead of one walk down the updated_at index
    that tests the whole visibility OR on every row.

    For a text search that matters: "printer" is in 6 % of tickets and a team holds 5 % of them, so
    the single walk reads ~8,000 rows of every team to find a page of one team's, while the team's
    own walk reads ~400. PostgreSQL does not split an OR into such walks itself. A Paginator slices
    it like a queryset; the rows come from `queryset` (visibility and filters applied again)."""

    MAX_BRANCHES = 12

    def __init__(self, queryset: "QuerySet[Ticket]", filtered: "QuerySet[Ticket]", keys, ordering) -> None:
        self.queryset, self.filtered, self.ordering = queryset, filtered.filter(is_deleted=False), ordering
        self.branches = [
            {"id__in": values} if column == "id" else {column: value}
            for column, values in keys
            for value in (values[:1] if column == "id" else values)
        ]

    def __getitem__(self, window: slice) -> list[Ticket]:
        if not window.stop:  # an empty first page: slicing to nothing would make empty querysets
            return []
        base = self.filtered.order_by(*self.ordering).values_list("id", "updated_at")
        walks = [base.filter(**branch)[: window.stop] for branch in self.branches]
        merged = walks[0].union(*walks[1:])
        ids = [pk for pk, _ in merged.order_by(*self.ordering)[window]]
        # Each walk kept to one branch of the user's visibility, but the rows are read through it
        # again; the filters (a text match costs a parse per row) need not be.
        return list(self.queryset.filter(pk__in=ids))

    @classmethod
    def fits(cls, keys, sort: str) -> bool:
        branches = sum(1 if column == "id" else len(values) for column, values in keys or ())
        return sort in ("updated", "-updated") and 1 < branches <= cls.MAX_BRANCHES


def ticket_numbered(user: User, params: QueryDict) -> Ticket | None:
    """For a search of bare digits ("1042"), the ticket with that number when `user` works it: the list
    holds it among the tickets that mention the number, sorted as asked, maybe pages down; the queue
    names it above the list, whatever the other filters."""
    if (number := bare_number(params.get("q", ""))) is None:
        return None
    return Ticket.objects.desk_listed(user).filter(number=number).only("number", "subject", "status").first()


def ticket_queue_page(user: User, params: QueryDict, *, changed: object = None) -> QueuePage:
    """One page of the queue `params` ask for; its count as queue_counts caches them (see `changed`)."""
    filterset, tickets, sort = queue_queryset(user, params)
    tickets = tickets.select_related(*QUEUE_JOINS).only(*QUEUE_COLUMNS)
    # Filter keys and values decide the count; paging and sorting do not. A key's values keep their
    # order: the filter reads the last of a repeated one ("assignee=me&assignee=none" is unassigned).
    filters = tuple(
        sorted((key, tuple(values)) for key, values in params.lists() if key not in ("page", "sort"))
    )
    question = (filters, changed)
    rows = tickets
    # A text search picks a scattered few of every branch's tickets; an unsearched queue finds its
    # page within the first rows of the updated_at index, where one walk is cheaper than several.
    keys = Ticket.objects.staff_visibility_keys(user)
    if params.get("q", "").strip() and BranchWalk.fits(keys, sort):
        visible = Ticket.objects.staff_visible_to(user).order_by(*SORTS[sort])
        rows = BranchWalk(
            visible.select_related(*QUEUE_JOINS).only(*QUEUE_COLUMNS), filterset.qs, keys, SORTS[sort]
        )
    # The agent's own tickets are counted afresh, as queue_counts counts "My open tickets" beside them.
    mine = params.get("assignee") == "me"
    paginator = CappedPaginator(
        rows, QUEUE_PAGE_SIZE, count_key=(user, question), counted=tickets, fresh=mine
    )
    page = paginator.get_page(params.get("page"))
    rest = params.copy()
    rest.pop("page", None)
    if page.number > 1:
        rest["page"] = str(page.number)
    return QueuePage(filterset=filterset, page=page, sort=sort, row_query=rest.urlencode())


def queue_neighbours(
    user: User,
    params: QueryDict,
    ticket: Ticket,
    window: int = 500,
    were: tuple[int | None, int | None] = (None, None),
) -> tuple[int | None, int | None]:
    """Numbers of the tickets before and after `ticket` in the queue the agent came from. After work on
    the ticket, the neighbours it `were` on the page the work was sent from stay, as long as they are
    still in the queue: the work may have taken it out (solved from "My open tickets") or moved it (a
    reply puts it first in "Recently updated"), and Next must go on to the ticket that followed, not
    back to one already handled."""
    _, tickets, sort = queue_queryset(user, params)
    # One row past the window: the window's last ticket has a Next too.
    numbers = list(tickets.values_list("number", flat=True)[: window + 1])
    if ticket.number not in numbers[:window] and len(numbers) > window:
        return _neighbours_deeper(tickets, SORTS[sort], ticket, were)
    if ticket.number not in numbers:
        return _kept(were, numbers)
    index = numbers.index(ticket.number)
    previous = numbers[index - 1] if index > 0 else None
    following = numbers[index + 1] if index + 1 < len(numbers) else None
    return _kept(were, numbers, (previous, following))


# A neighbour the page had none of (`were` in queue_neighbours): the ticket was first or last.
NO_NEIGHBOUR = 0


def _kept(
    were: tuple[int | None, int | None],
    still: "Iterable[int]",
    found: tuple[int | None, int | None] = (None, None),
) -> tuple[int | None, int | None]:
    """Each neighbour the page had, while still in the queue; none where it had none (a reply moves the
    last ticket first in "Recently updated", whose Next would go back to one handled); else `found`."""
    return tuple(
        None if number == NO_NEIGHBOUR else number if number in still else new
        for number, new in zip(were, found, strict=True)
    )


def _neighbours_deeper(
    tickets: "QuerySet[Ticket]",
    ordering: tuple[str, ...],
    ticket: Ticket,
    were: tuple[int | None, int | None],
) -> tuple[int | None, int | None]:
    """queue_neighbours past the first window of a long queue: the rows just before and after the
    ticket's own sort values (a keyset read each way, down the queue's index) instead of a list."""
    names = [name.removeprefix("-") for name in ordering]
    current = tickets.filter(pk=ticket.pk).values(*names).first()
    wanted = [number for number in were if number]
    still = set(tickets.filter(number__in=wanted).values_list("number", flat=True)) if wanted else set()
    if current is None:  # the ticket is no longer in this queue
        return _kept(were, still)

    def beyond(forward: bool) -> Q:
        condition, equal = Q(), Q()
        for name in ordering:
            field = name.removeprefix("-")
            later = "lt" if name.startswith("-") else "gt"  # what comes after, in this field's direction
            lookup = later if forward else {"lt": "gt", "gt": "lt"}[later]
            condition |= equal & Q(**{f"{field}__{lookup}": current[field]})
            equal &= Q(**{field: current[field]})
        return condition

    backwards = [name.removeprefix("-") if name.startswith("-") else f"-{name}" for name in ordering]
    previous = tickets.filter(beyond(False)).order_by(*backwards).values_list("number", flat=True).first()
    following = tickets.filter(beyond(True)).values_list("number", flat=True).first()
    return _kept(were, still, (previous, following))


def saved_views(user: User):
    return SavedView.objects.visible_to(user).select_related("team", "owner")


@dataclass
class Workspace:
    ticket: Ticket
    thread: list[TicketMessage]
    activities: list[TicketActivity]
    other_tickets: list[Ticket]
    teams: list[Choice]
    agents: list[Choice]
    hidden_messages: int = 0  # between the first message and the latest THREAD_WINDOW ones
    # The latest change not shown, when there are more than TIMELINE_LENGTH: where the link to the whole
    # ticket takes the reader (its timeline is newest first).
    earlier_activities: int | None = None


# A long thread opens with its first message and the latest ones (in the workspace and on the customer's
# ticket page), the timeline with the latest changes; the rest is one click away. Rendering hundreds of
# message cards on every visit made big tickets slow (5,000 messages: 0.5 s and 1.9 MB a page).
THREAD_WINDOW = 40
TIMELINE_LENGTH = 100
THREAD_ACTIONS = (TicketActivity.Action.REPLY, TicketActivity.Action.NOTE)


def thread_window(visible, *, full_thread: bool = False) -> tuple[list[TicketMessage], int]:
    """The messages of `visible` (one ticket's, as a reader may see them) to show, oldest first: all of
    them, or the first and the latest THREAD_WINDOW ones; and how many are left out between."""
    if full_thread:
        return list(visible.for_thread()), 0
    # By their ids (two index look-ups; window functions over the whole thread cost twice as much to
    # compile and run); counted only when something is left out.
    first = visible.order_by("created_at", "pk").values("pk")[:1]
    latest = visible.order_by("-created_at", "-pk").values("pk")[:THREAD_WINDOW]
    thread = list(
        visible.filter(Q(pk__in=first) | Q(pk__in=latest)).for_thread().order_by("created_at", "pk")
    )
    return thread, visible.count() - len(thread) if len(thread) > THREAD_WINDOW else 0


def ticket_workspace(user: User, ticket: Ticket, *, full_thread: bool = False) -> Workspace:
    thread, hidden = thread_window(
        TicketMessage.objects.visible_to(user, ticket=ticket), full_thread=full_thread
    )
    # The thread shows every reply and note; the timeline shows what else happened to the ticket.
    changes = ticket.activities.exclude(action__in=THREAD_ACTIONS).select_related("actor")
    changes = changes.order_by("-created_at", "-pk")
    # One more than shown tells whether earlier changes wait behind the link to the whole ticket.
    activities = list(changes if full_thread else changes[: TIMELINE_LENGTH + 1])
    earlier = None
    if len(activities) > TIMELINE_LENGTH and not full_thread:
        earlier = activities.pop().pk
    _hide_references_out_of_reach(user, activities)
    other_tickets = list(  # those the agent can open here: not their own requests of another team
        Ticket.objects.staff_visible_to(user)
        .filter(requester_id=ticket.requester_id, is_deleted=False)  # gone for everyone, as in the queue
        .exclude(pk=ticket.pk)
        .only("number", "subject", "status", "updated_at")
        .order_by("-updated_at")[:10]
    )
    teams, agents = workspace_choices(user, ticket)
    return Workspace(ticket, thread, activities, other_tickets, teams, agents, hidden, earlier)


def _hide_references_out_of_reach(user: User, activities: list[TicketActivity]) -> None:
    """Mark the merges and follow-ups of the timeline that name a ticket `user` cannot open: named, its
    number would tell of another team's ticket (the page says "a ticket outside your queues" instead)."""
    named = {entry.pk: entry.other_ticket_number for entry in activities if entry.other_ticket_number}
    if not named:
        return
    seen = set(
        Ticket.objects.staff_visible_to(user)
        .filter(number__in=set(named.values()))
        .values_list("number", flat=True)
    )
    for entry in activities:
        entry.other_ticket_hidden = entry.pk in named and named[entry.pk] not in seen


def workspace_choices(user: User, ticket: Ticket) -> tuple[list[Choice], list[Choice]]:
    """The team and assignee pickers' choices, at most COUNT_CACHE_SECONDS old; the services check
    every choice again when it is made."""

    def compute() -> tuple[list[Choice], list[Choice]]:
        teams = Team.objects.filter(Q(is_active=True) | Q(pk=ticket.team_id)).order_by(*alphabetical("name"))
        agents = choices(assignable_agents(ticket))
        if ticket.assignee_id and ticket.assignee_id not in dict(agents):
            # Suspended or no longer an agent, they still hold the ticket: the picker says so rather than
            # reading "Unassigned" (and saving it unchanged would unassign them).
            holder = User.objects.filter(pk=ticket.assignee_id).first()
            if holder is not None:
                agents.append((holder.pk, f"{holder} (can no longer be assigned)"))
        return choices(teams), agents

    return cached_for_viewer(user, "workspace-choices", (ticket.team_id, ticket.assignee_id), compute)


def assignable_agents(ticket: Ticket) -> list[User]:
    """Active agents of the ticket's team (plus its current assignee), for the assignee picker."""
    return agents_in_teams({ticket.team_id} - {None}, also=ticket.assignee_id)


def agents_in_teams(
    team_ids: Iterable[int], *, also: int | None = None, holding: QuerySet | None = None
) -> list[User]:
    """Active agents who work these teams and may answer tickets, as members or through a grant on the
    team to them or to a role they hold, (plus the user `also`), by name. With `holding` (user ids), those
    users too, in the same query, each row's `works_here` saying which of the two it is."""
    # The candidates' ids first (a union, not an OR, which made PostgreSQL scan every user), then the
    # staff check per candidate.
    team_ids = list(team_ids)
    candidates = TeamMember.objects.filter(team_id__in=team_ids).values("user_id")
    codename = rbac.WORK_TEAM_QUEUE.partition(".")[2]
    granted = TeamUserObjectPermission.objects.filter(
        content_object_id__in=team_ids, permission__codename=codename
    ).values("user_id")
    # A role granted the queue: whoever holds that role now works it (an expired assignment grants nothing).
    roles = TeamGroupObjectPermission.objects.filter(
        content_object_id__in=team_ids, permission__codename=codename
    ).values("group_id")
    holders = RoleAssignment.objects.in_force().filter(role_id__in=roles).values("user_id")
    candidates = candidates.union(granted, holders, all=True)
    if also:
        candidates = candidates.union(User.objects.filter(pk=also).values("pk"), all=True)
    works_here = Q(rbac.staff_user_filter(), rbac.answering_user_filter(), active_users(), pk__in=candidates)
    if holding is None:
        agents = User.objects.filter(works_here)
    else:
        agents = User.objects.filter(pk__in=candidates.union(holding, all=True)).annotate(
            works_here=ExpressionWrapper(works_here, output_field=BooleanField())
        )
    return list(agents.order_by(*alphabetical("name"), "email"))


def queue_choices(user: User) -> dict[str, list[Choice]]:
    """The teams, agents and organisations the queue's filter and bulk menus offer, at most
    COUNT_CACHE_SECONDS old (a colleague who just joined a team shows up within that time)."""

    def compute() -> dict[str, list[Choice]]:
        teams = rbac.workable_team_ids(user)
        # One read for both menus: a ticket moves to any team that works tickets; the filter offers
        # the agent's own.
        rows = list(Team.objects.filter(Q(pk__in=teams) | Q(is_active=True)).order_by(*alphabetical("name")))
        holding = (
            Ticket.objects.staff_visible_to(user)
            .filter(status__in=OPEN_STATUSES, assignee__isnull=False)
            .order_by()
            .values("assignee_id")
        )
        people = agents_in_teams(teams, holding=holding)
        return {
            "teams": choices(team for team in rows if team.pk in teams),
            # A view is shared with a team that still works (SavedViewForm); the filter lists closed ones too.
            "share_teams": choices(team for team in rows if team.pk in teams and team.is_active),
            "move_teams": choices(team for team in rows if team.is_active),
            "agents": choices(user for user in people if user.works_here),
            # Whoever else holds open tickets the viewer works (an agent who has left the team): the
            # filter finds what they still hold, whose rows name them already.
            "other_assignees": choices(user for user in people if not user.works_here),
            "organizations": choices(
                Organization.objects.filter(is_active=True).only("name").order_by(*alphabetical("name"))
            ),
        }

    return cached_for_viewer(user, "choices", (), compute)


def worked_by(user: User):
    """Tickets the user works as staff. A ticket an agent only requested (filed with another team) is
    theirs to follow in the portal, like any customer's: the desk would show its staff-only activity."""
    return Ticket.objects.seen_by(user).filter(seen_as_staff=True)


def workspace_ticket_queryset(user: User):
    """worked_by(user) with what the workspace shows of the ticket."""
    return (
        worked_by(user)
        # Only what the page shows: each joined table adds about half a millisecond of planning.
        .select_related("requester", "organization", "assignee", "form")
        .defer("search_vector")  # as long as the description, and parsed for nothing
        # Tag names ride along in the ticket's own row: one query fewer than prefetching them.
        .annotate(
            tag_names=ArraySubquery(
                Tag.objects.filter(tickets=OuterRef("pk")).order_by(*alphabetical("name")).values("name")
            )
        )
    )


def edit_made_already(
    ticket: Ticket, field: str, value: str, *, actor: User, seen_version: int | None,
    custom_fields: dict | None = None,
) -> bool:  # fmt: skip
    """Whether an inline edit refused as stale is this agent's own edit sent again (a double click on a
    Save button without JavaScript): the ticket's one write since their page is theirs, and the field
    holds what they sent (for "custom_fields", the answers as the post would store them, `custom_fields`).
    Not a colleague's change, so not "someone changed this ticket"."""
    edits = ("take", "assignee", "status", "priority", "team", "tags", "custom_fields")
    if field not in edits or (now := _own_last_write(ticket, actor, seen_version)) is None:
        return False
    if field == "tags":
        try:
            wanted = clean_tag_names(value.split(","))
        except ValidationError:
            return False
        return sorted(Tag.objects.filter(tickets__pk=ticket.pk).values_list("name", flat=True)) == wanted
    if field == "custom_fields":
        return custom_fields is not None and now["custom_fields"] == custom_fields
    return _holds(now, field, value, actor)


def _own_last_write(ticket: Ticket, actor: User, seen_version: int | None) -> dict | None:
    """The ticket's fields now, when its one write since `seen_version` is `actor`'s; else None."""
    if seen_version is None:
        return None
    fields = ("version", "status", "priority", "team_id", "assignee_id", "custom_fields")
    now = Ticket.objects.filter(pk=ticket.pk).values(*fields).first()
    if now is None or now["version"] != seen_version + 1:
        return None
    last_actor = (
        TicketActivity.objects.filter(ticket_id=ticket.pk)
        .order_by("-created_at", "-pk")
        .values("actor_id")
        .first()
    )
    return now if last_actor is not None and last_actor["actor_id"] == actor.pk else None


# A bulk action as the inline edit of the same field (tags aside).
BULK_AS_EDIT = {"assign_me": "take", "assign": "assignee", "unassign": "assignee", "status": "status",
                "priority": "priority", "team": "team"}  # fmt: skip


def bulk_made_already(
    ticket: Ticket, action: str, value: str, *, actor: User, seen_version: int | None
) -> bool:
    """Whether a bulk action refused as stale on `ticket` is this agent's own sent again (the queue's form
    posted twice): the ticket's one write since their queue is theirs, and it holds what they asked."""
    if action in ("add_tag", "remove_tag"):
        if _own_last_write(ticket, actor, seen_version) is None:
            return False
        try:
            names = clean_tag_names([value])
        except ValidationError:
            return False
        tagged = Tag.objects.filter(tickets__pk=ticket.pk, name__in=names).exists()
        return tagged == (action == "add_tag")
    if action not in BULK_AS_EDIT:
        return False
    asked = "" if action == "unassign" else value
    return edit_made_already(ticket, BULK_AS_EDIT[action], asked, actor=actor, seen_version=seen_version)


def merge_made_already(source: Ticket, into: Ticket, *, actor: User) -> bool:
    """Whether a merge refused (stale, or the source merged already) is this agent's own merge sent again
    (a double click on the confirmation's Merge): the source is merged into `into` now, and its last
    merge entry is theirs. Not a colleague's, so not "someone changed this ticket"."""
    if not Ticket.objects.filter(pk=source.pk, merged_into_id=into.pk).exists():
        return False
    last_merge = (
        TicketActivity.objects.filter(ticket_id=source.pk, action=TicketActivity.Action.MERGE)
        .order_by("-created_at", "-pk")
        .values("actor_id")
        .first()
    )
    return last_merge is not None and last_merge["actor_id"] == actor.pk


def _holds(now: dict, field: str, value: str, actor: User) -> bool:
    holds = {
        "take": now["assignee_id"] == actor.pk,
        "assignee": str(now["assignee_id"] or "") == value,
        "status": now["status"] == value,
        "priority": now["priority"] == value,
        "team": str(now["team_id"] or "") == value,
    }
    return holds[field]


def edit_holds_already(ticket: Ticket, field: str, value: str, *, actor: User) -> bool:
    """Whether an inline edit refused as stale asks for what the ticket holds already (a colleague made
    the same change meanwhile): nothing to save, and nothing to ask the agent to choose again."""
    if field not in ("take", "assignee", "status", "priority", "team"):
        return False
    now = Ticket.objects.filter(pk=ticket.pk).values("status", "priority", "team_id", "assignee_id").first()
    return now is not None and _holds(now, field, value, actor)


PORTAL_PAGE_SIZE = 20
PORTAL_QUERY_WORDS = 8  # of a portal search; more narrow nothing a customer's list needs


def portal_ticket_page(
    user: User, *, scope: str, status: str, query: str, page_number: str | None
) -> tuple[Page, bool]:
    """A page of the portal's "My tickets" (`scope` "mine") or of the organisation's (`scope`
    "organization", for its manager), in `status` "open", "waiting" (for the customer), "solved" or ""
    (all), matching `query`; and
    whether the scope holds any ticket at all (an empty filtered list offers "Show all tickets" only to
    someone who has some)."""
    tickets = Ticket.objects.visible_to(user).select_related("requester")
    if scope == "organization":
        tickets = tickets.filter(organization_id=user.organization_id)
    else:
        tickets = tickets.filter(requester=user)
    scoped = tickets
    in_status = Q()
    if status == "open":
        in_status = Q(status__in=OPEN_STATUSES)
    elif status == "waiting":
        in_status = Q(status=Status.PENDING)
    elif status == "solved":
        in_status = Q(status__in=SOLVED_STATUSES)
    if query:
        # Every word typed, in any order and with or without its accents ("cafe printer" finds "Printer
        # in the Café"), as part of a word too ("drucker" finds "Druckerproblem").
        tickets = tickets.alias(plain_subject=Unaccented("subject"))
        condition = in_status
        for word in unaccented(query).split()[:PORTAL_QUERY_WORDS]:
            condition &= Q(plain_subject__icontains=word)
        # A reference (T-907, #907, 907) finds its ticket whatever the status filter says.
        if (exact := number_from(query)) is not None:
            condition |= Q(number=exact)
        tickets = tickets.filter(condition)
    else:
        tickets = tickets.filter(in_status)
    # In the order the requester reads them: internal notes and triage move nothing (public_updated_at).
    tickets = tickets.order_by("-public_updated_at", "-pk")
    page = Paginator(tickets, PORTAL_PAGE_SIZE).get_page(page_number)
    return page, bool(page.object_list) or scoped.exists()
