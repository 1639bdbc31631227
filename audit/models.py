"""The audit trail: append-only events, each chained to the previous one by a keyed hash (HMAC-SHA256;
events recorded before keyed hashing keep their plain SHA-256)."""

import contextlib
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models.functions import Cast
from django.utils import timezone

from accounts import rbac
from accounts.models import RoleAssignment, Team, TeamMember, User
from helpdesk.display import shown_time, shown_value
from tickets.models import SavedView, Ticket


def _as_text(queryset: models.QuerySet, field: str) -> models.QuerySet:
    """A subquery of ids as text, to compare with the text column object_id."""
    return queryset.annotate(key=Cast(field, models.CharField())).values("key")


# The kinds of object whose events a supervisor may read (visible_to): their teams' tickets, the teams,
# their members, and the members' saved views.
SUPERVISED_MODELS = (Ticket, Team, User, SavedView)


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def visible_to(self, user) -> "AuditEventQuerySet":
        """Administrators see every event; supervisors the events about their teams' tickets, their
        teams and their members, and the members' own object-less events (of exports, only their own)
        and saved views. An administrator who is a member counts as none: their sign-ins are above the
        supervisor's rank."""
        scope = _supervised_scope(user)
        if scope is None:
            return self.all()
        if not scope:
            return self.none()
        # The members' two kinds under one test of the actor: as two, the OR's plan probing one event of
        # each action (the filter's menu) grew from 1.7 to 9 seconds at a million events.
        by_member = scope["by_member"] & (scope["objectless"] | scope["saved_view"])
        return self.filter(scope["about_ticket"] | scope["about_member"] | scope["about_team"] | by_member)

    def visible_parts(self, user) -> list["AuditEventQuerySet"]:
        """visible_to(user) as disjoint querysets (one kind of object each) whose union it is, each
        counted along an index of its own: counted as one OR, PostgreSQL walked the whole trail."""
        scope = _supervised_scope(user)
        if scope is None:
            return [self.all()]
        if not scope:
            return []
        return [
            self.filter(scope["about_ticket"]),
            self.filter(scope["about_member"]),
            self.filter(scope["about_team"]),
            self.filter(scope["by_member"] & scope["objectless"]),
            self.filter(scope["by_member"] & scope["saved_view"]),
        ]


def _supervised_scope(user) -> dict[str, models.Q] | None:
    """The conditions visible_to is made of; None for everything (administrators), {} for nothing."""
    if user is None or not user.is_authenticated or not user.is_active:
        return {}
    if rbac.is_administrator(user):
        return None
    if not rbac.is_supervisor(user):
        return {}
    team_ids = rbac.supervised_team_ids(user)
    administrators = User.objects.filter(rbac.administrator_user_filter()).values("pk")
    members = TeamMember.objects.filter(team_id__in=team_ids).exclude(user_id__in=administrators)
    types = ContentType.objects.get_for_models(*SUPERVISED_MODELS)
    # A ticket deleted since keeps its events here: who deleted it is what an audit is read for.
    # What members did to anything else (another team's ticket or note, another customer's account,
    # an admin edit) may carry data this supervisor must not see: only object-less events and the
    # members' own saved views are theirs to read.
    # A fellow supervisor's export holds what they may read: another team's events, by membership or
    # by a grant of a queue, an organisation or a ticket. The filter they typed (a customer's name)
    # and the count are not this supervisor's to read: of exports, only their own.
    # A member's view shared with another team is that team's (its name may name a customer of theirs);
    # so may one deleted since, whose team is no longer known: only the views that are the member's own
    # or their team's now are this supervisor's to read (an administrator reads the rest).
    theirs = SavedView.objects.filter(models.Q(team=None) | models.Q(team_id__in=team_ids))
    return {
        "about_ticket": models.Q(
            object_type=types[Ticket],
            object_id__in=_as_text(Ticket.objects.staff_visible_to(user, deleted=True), "pk"),
        ),
        "about_member": models.Q(object_type=types[User], object_id__in=_as_text(members, "user_id")),
        "about_team": models.Q(object_type=types[Team], object_id__in=[str(pk) for pk in team_ids]),
        "by_member": models.Q(actor_id__in=members.values("user_id")),
        "objectless": models.Q(object_type__isnull=True)
        & (~models.Q(action="export") | models.Q(actor=user)),
        "saved_view": models.Q(object_type=types[SavedView], object_id__in=_as_text(theirs, "pk")),
    }


class AuditEvent(models.Model):
    class Category(models.TextChoices):
        BUSINESS = "business", "Business"
        SECURITY = "security", "Security"

    class HashScheme(models.TextChoices):
        # Plain SHA-256: whoever can write to the database can recompute it. Only events recorded
        # before keyed hashing carry it; nothing new is hashed this way.
        SHA256 = "sha256", "SHA-256 (unkeyed)"
        HMAC_SHA256 = "hmac-sha256", "HMAC-SHA256"

    sequence = models.BigIntegerField(unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=40, db_index=True)
    category = models.CharField(max_length=10, choices=Category.choices, default=Category.BUSINESS)
    # PROTECT: both ids are part of the hashed content, so nulling them would break the chain. People
    # who acted are suspended, not deleted; a removed model's content type stays while events name it.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_repr = models.CharField(
        "actor", max_length=300, help_text="Who, as they were named then (or System)."
    )
    object_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.PROTECT)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField("object", max_length=300, blank=True)
    changes = models.JSONField(
        default=dict, blank=True, help_text="{field: [before, after]}; secrets masked."
    )
    ip = models.GenericIPAddressField("IP address", null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    previous_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    hash_scheme = models.CharField(
        max_length=16, choices=HashScheme.choices, default=HashScheme.HMAC_SHA256, editable=False
    )

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-sequence"]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
            models.Index(fields=["actor", "-created_at"], name="audit_actor"),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} by {self.actor_repr}"

    def change_rows(self) -> list[tuple[str, Any, Any]]:
        """(field, before, after) for each change as a person reads them (a field may be named "items"):
        a recorded instant (a suspension's end) in the reader's time zone, as the event's own time."""
        rows = []
        instants = self._instant_fields()
        for name, values in (self.changes or {}).items():
            before, after = values if isinstance(values, list) and len(values) == 2 else (None, values)
            shown = _shown_instant if name in instants else shown_value
            rows.append((name, shown(before), shown(after)))
        return rows

    def _instant_fields(self) -> set[str]:
        """The changed fields that are date-times of the object's model, or of the rows recorded on it (a
        role's expiry on its user, a membership's start on its team): the only ones shown as times (a
        subject typed as "2026-01-01T00:00Z" is text)."""
        model = (
            ContentType.objects.get_for_id(self.object_type_id).model_class() if self.object_type_id else None
        )
        if model is None:
            return set()
        return {
            field.name
            for recorded in (model, *RECORDED_ON.get(model, ()))
            for field in recorded._meta.concrete_fields
            if isinstance(field, models.DateTimeField)
        }


# The rows whose changes are recorded on another object, whose trail the reader follows.
RECORDED_ON = {User: (RoleAssignment,), Team: (TeamMember,)}


def _shown_instant(value: Any) -> str:
    """A recorded date-time (DjangoJSONEncoder's ISO text) in the reader's time zone."""
    if isinstance(value, str):
        # OverflowError: an instant near the end of the calendar (9999-12-31, recorded before such dates
        # were capped) that the reader's zone, ahead of UTC, would carry past year 9999: shown as recorded.
        with contextlib.suppress(ValueError, OverflowError):
            return shown_time(timezone.localtime(datetime.fromisoformat(value)))
    return shown_value(value)


class SystemLogEntry(models.Model):
    """One WARNING-or-worse log record, stored by audit.logging.DatabaseHandler (bounded in number)."""

    class Level(models.IntegerChoices):
        WARNING = 30, "Warning"
        ERROR = 40, "Error"
        CRITICAL = 50, "Critical"

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    level = models.PositiveSmallIntegerField(choices=Level.choices, db_index=True)
    logger = models.CharField(max_length=200, db_index=True)
    message = models.TextField()
    module = models.CharField(max_length=200, blank=True)
    function = models.CharField(max_length=200, blank=True)
    line = models.PositiveIntegerField(null=True, blank=True)
    traceback = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "system log entry"
        verbose_name_plural = "system log entries"

    def __str__(self) -> str:
        return f"{self.get_level_display()} {self.logger}: {self.message[:80]}"
