"""The audit viewer's filters. Only declared keys reach the ORM; unknown ones are ignored."""

import hashlib
from datetime import date

import django_filters
from django import forms
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.query import EmptyQuerySet
from django.utils import timezone
from django.utils.text import capfirst

from accounts import rbac
from accounts.models import TeamMember, User
from audit.models import SUPERVISED_MODELS, AuditEvent
from audit.recorder import SYSTEM
from helpdesk.dates import REVERSED, start_of
from helpdesk.forms import parse_id
from tickets.models import Ticket, number_from

ACTIONS_CACHE_SECONDS = 300
ACTOR_MATCHES = 200  # accounts an actor filter's text finds, whose events are shown
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _loose_index_scan(column: str) -> str:
    """SQL for the distinct non-null values of an indexed column of the trail: one index probe per
    value, so it stays cheap with millions of events."""
    table = AuditEvent._meta.db_table
    return f"""
        WITH RECURSIVE found(value) AS (
            (SELECT {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY {column} LIMIT 1)
            UNION ALL
            SELECT (SELECT {column} FROM {table} WHERE {column} > found.value ORDER BY {column} LIMIT 1)
            FROM found WHERE found.value IS NOT NULL
        )
        SELECT value FROM found WHERE value IS NOT NULL
    """  # noqa: S608 - the table and column are the model's own, not input


def existing_actions(
    user: User, readable: QuerySet[AuditEvent] | None = None, *, wanted: str | None = None
) -> list[str]:
    """The distinct actions in the trail that `user` may read an event of (`readable`, when given, is
    AuditEvent.objects.visible_to(user)): a supervisor offered "settings_change" would learn that
    administrators did one. `wanted`, the action a filter asks for, is probed afresh when the kept
    answer lacks it (an event of it may have become theirs since)."""
    with connection.cursor() as cursor:
        cursor.execute(_loose_index_scan("action"))
        actions = [row[0] for row in cursor.fetchall()]
    if not actions or rbac.is_administrator(user):
        return actions
    # Probing an action none of whose events the supervisor may read walks all its events (a second
    # or more over a million-event trail): the answer is kept a few minutes, for this user and teams.
    key = "audit-actions:" + hashlib.sha256(repr((user.pk, _scope_key(user), actions)).encode()).hexdigest()
    if (offered := cache.get(key)) is None:
        offered = _readable_actions(user, actions, readable)
        cache.set(key, offered, ACTIONS_CACHE_SECONDS)
    elif wanted in actions and wanted not in offered and _readable_actions(user, [wanted], readable):
        offered = [action for action in actions if action in {*offered, wanted}]
        cache.set(key, offered, ACTIONS_CACHE_SECONDS)
    return offered


def _scope_key(user: User) -> tuple:
    """What the events a supervisor may read depend on, besides the events: their access (roles, teams,
    organisation and ticket grants) and their teams' members (who they are, which other teams they
    work, which are administrators). A kept answer is used only while all of it is unchanged."""
    access = rbac.access(user)
    team_ids = rbac.supervised_team_ids(user)
    administrator = User.objects.filter(rbac.administrator_user_filter(), pk=OuterRef("user_id"))
    memberships = (
        TeamMember.objects.filter(
            user_id__in=TeamMember.objects.filter(team_id__in=team_ids).values("user_id")
        )
        .annotate(administrator=Exists(administrator))
        .order_by("user_id", "team_id")
        .values_list("user_id", "team_id", "administrator")
    )
    return (
        sorted(access.roles), sorted(team_ids), sorted(access.team_ids), sorted(access.organization_ids),
        sorted(access.ticket_ids), list(memberships),
    )  # fmt: skip


def _readable_actions(user: User, actions: list[str], readable: QuerySet[AuditEvent] | None) -> list[str]:
    readable = AuditEvent.objects.visible_to(user) if readable is None else readable
    if isinstance(readable, EmptyQuerySet) or not actions:  # no event of theirs (the union would not take it)
        return []
    visible = readable.order_by().values_list("action", flat=True)
    # One query: per action, the first event of it this user may read (an index probe on action).
    first, *rest = (visible.filter(action=action)[:1] for action in actions)
    # The union's own ordering is cleared (the model's would not match its one column); one alone is kept.
    offered = set(first.union(*rest, all=True).order_by() if rest else first)
    return [action for action in actions if action in offered]


def recorded_object_types(user: User) -> QuerySet[ContentType]:
    """The kinds of object the trail has events about that `user` may read events about (not every
    model of the audited apps: a filter offering "password history" or "ticket seen" finds nothing,
    and a supervisor's "Site configuration" finds nothing of theirs), in one query with the scan inside."""
    scan = RawSQL(_loose_index_scan(AuditEvent._meta.get_field("object_type").column), ())  # noqa: S611 - no input
    types = ContentType.objects.filter(pk__in=scan).order_by("app_label", "model")
    if rbac.is_administrator(user):
        return types
    return types.filter(
        pk__in=[kind.pk for kind in ContentType.objects.get_for_models(*SUPERVISED_MODELS).values()]
    )


def _matching_accounts(text: str) -> list[int] | QuerySet[User]:
    """The accounts whose address or name holds `text`: their ids when few (each an index probe of the
    trail), else the query itself, so that no match is cut off (an export must hold every event)."""
    accounts = User.objects.filter(Q(email__icontains=text) | Q(name__icontains=text))
    found = list(accounts.values_list("pk", flat=True)[: ACTOR_MATCHES + 1])
    return found if len(found) <= ACTOR_MATCHES else accounts.values("pk")


class AuditFilterForm(forms.Form):
    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", REVERSED)
        return cleaned


class ObjectTypeField(forms.ModelChoiceField):
    def label_from_instance(self, obj: ContentType) -> str:
        return capfirst(obj.name)  # "Ticket", not "Tickets | ticket"


class ObjectTypeFilter(django_filters.ModelChoiceFilter):
    field_class = ObjectTypeField


class AuditEventFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(
        label="Actor",
        method="filter_actor",
        max_length=254,
        help_text="E-mail or name (or part of it) as the account has it now, user id, or System.",
    )
    action = django_filters.ChoiceFilter(choices=[], empty_label="Any action")
    category = django_filters.ChoiceFilter(choices=AuditEvent.Category.choices, empty_label="Any category")
    object_type = ObjectTypeFilter(
        queryset=ContentType.objects.none(), empty_label="Any type", label="Object type"
    )
    object = django_filters.CharFilter(
        label="Object", method="filter_object", max_length=300, help_text="ID, or part of its name."
    )
    date_from = django_filters.DateFilter(label="From", method="filter_date_from", widget=DATE_WIDGET)
    date_to = django_filters.DateFilter(label="To", method="filter_date_to", widget=DATE_WIDGET)

    class Meta:
        model = AuditEvent
        fields: list[str] = []
        form = AuditFilterForm

    def __init__(self, data=None, queryset=None, *, user: User, **kwargs) -> None:
        super().__init__(data, queryset, **kwargs)
        self.filters["action"].extra["choices"] = [
            (action, action)
            for action in existing_actions(user, self.queryset, wanted=self.data.get("action"))
        ]
        self.filters["object_type"].queryset = recorded_object_types(user)

    def _once(self, question: tuple, answer):
        """answer(), read once per filter form: the viewer filters each part of a supervisor's trail."""
        answers = self.__dict__.setdefault("_answers", {})
        if question not in answers:
            answers[question] = answer()
        return answers[question]

    def filter_actor(self, queryset: QuerySet[AuditEvent], name: str, value: str) -> QuerySet[AuditEvent]:
        value = value.strip()
        if not value:
            return queryset
        if (actor_id := parse_id(value)) is not None:
            return queryset.filter(actor_id=actor_id)
        # "System" (what the viewer shows for events no one's account did) is those events, along with
        # any account that has it in its name or address.
        system = Q(actor__isnull=True) if value.casefold() == SYSTEM.casefold() else Q()
        # The accounts first (the users table is small), then their events along the actor index. The
        # text the events keep (a name or address since changed) is a scan of the whole trail: searched
        # only when no account matches.
        people = self._once(("actor", value), lambda: _matching_accounts(value))
        if isinstance(people, QuerySet) or people:
            return queryset.filter(Q(actor_id__in=people) | system)
        return queryset.filter(Q(actor_repr__icontains=value) | system)

    def filter_object(self, queryset: QuerySet[AuditEvent], name: str, value: str) -> QuerySet[AuditEvent]:
        value = value.strip()
        if not value:
            return queryset
        if value.isdigit():
            return queryset.filter(Q(object_id=value) | Q(object_repr__icontains=value))
        if (number := number_from(value)) is not None:
            # A ticket's reference ("T-1042") is that ticket (not T-10420 too): its events along the
            # object index instead of a scan of every event's stored name.
            ticket = self._once(
                ("ticket", number), Ticket.objects.filter(number=number).values_list("pk", flat=True).first
            )
            return queryset.filter(
                object_type=ContentType.objects.get_for_model(Ticket), object_id=str(ticket)
            )
        return queryset.filter(object_repr__icontains=value)

    def filter_date_from(self, queryset: QuerySet[AuditEvent], name: str, value: date) -> QuerySet:
        return queryset.filter(created_at__gte=start_of(value))

    def filter_date_to(self, queryset: QuerySet[AuditEvent], name: str, value: date) -> QuerySet:
        return queryset.filter(created_at__lt=start_of(value, days_later=1))

    def used(self) -> dict[str, str]:
        """The filters in force, as text: what an export records (with the time zone its dates were
        read in: "from 2026-03-29" is another 24 hours in Kiritimati than in UTC)."""
        used = {name: str(value) for name, value in self.form.cleaned_data.items() if value not in (None, "")}
        if {"date_from", "date_to"} & set(used):
            used["time_zone"] = str(timezone.get_current_timezone())
        return used
