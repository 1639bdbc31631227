"""Tickets and what hangs off them: messages, activity, attachments, tags and web forms."""

import re
import unicodedata
import uuid

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models.functions import Lower, Now
from django.db.models.lookups import Exact
from django.utils import timezone
from guardian.models import UserObjectPermissionBase

from accounts import rbac
from accounts.models import Organization, Team
from helpdesk.accents import SearchWords, alphabetical
from helpdesk.display import shown_count, shown_value
from helpdesk.forms import parse_id
from helpdesk.models import Priority
from tickets import schema
from tickets.workflow import Status

NUMBER_PREFIX = "T-"
NUMBER_SEQUENCE = "tickets_ticket_number_seq"


# A reference as people write and paste it: "T-1042", "t-1042", "T1042", "T 1042", "#1042", "#T-1042",
# "1042", and as the receipt's subject gives it, "[T-1042]", or ending a sentence, "T-1042.".
# Matched with the spaces taken out but those between two digits ("1042 1043" is no reference); no
# pattern of optional spaces, which backtracks for seconds on a long run of them.
REFERENCE = re.compile(r"[\[(]?#{0,2}(?:T-?)?#?([0-9]+)[\])]?[.,;:!?]?", re.IGNORECASE)
SPACES_BESIDE_A_NON_DIGIT = re.compile(r"(?<![0-9])\s+|\s+(?![0-9])")


# A ticket the reader cannot open, named in another's history.
OUT_OF_REACH = "a ticket outside your queues"


# Hyphens that word processors and mail clients put in a pasted "T-1042" (NFKC leaves them as they are).
HYPHENS = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2212"), "-")


def number_from(typed: str) -> int | None:
    """The ticket number a reference (REFERENCE) gives; None when `typed` is not one. Full-width letters
    and digits (typed in an East Asian input mode) and typographic hyphens read as their ASCII forms."""
    if not typed.isascii():
        typed = unicodedata.normalize("NFKC", typed).translate(HYPHENS)
    match = REFERENCE.fullmatch(SPACES_BESIDE_A_NON_DIGIT.sub("", typed))
    return parse_id(match.group(1)) if match else None


class Channel(models.TextChoices):
    WEB = "web", "Web"
    EMAIL = "email", "E-mail"
    API = "api", "API"
    PHONE = "phone", "Phone"


PRIORITY_ORDER = {Priority.LOW: 1, Priority.MEDIUM: 2, Priority.HIGH: 3, Priority.URGENT: 4}


class TagManager(models.Manager["Tag"]):
    def get_by_natural_key(self, name: str) -> "Tag":
        return self.get(name=name)


class Tag(models.Model):
    name = models.CharField(max_length=50, unique=True)

    objects = TagManager()

    class Meta:
        ordering = alphabetical("name")

    def __str__(self) -> str:
        return self.name

    def natural_key(self) -> tuple[str]:
        return (self.name,)


class TicketFormManager(models.Manager["TicketForm"]):
    def get_by_natural_key(self, slug: str) -> "TicketForm":
        return self.get(slug=slug)

    def active_for(self, user) -> models.QuerySet["TicketForm"]:
        """Forms this user may submit: active, and either public or for the user's organisation."""
        forms = self.filter(is_active=True)
        organization_id = getattr(user, "organization_id", None) if user.is_authenticated else None
        if rbac.is_agent(user):
            return forms
        return forms.filter(models.Q(organization__isnull=True) | models.Q(organization_id=organization_id))


class TicketForm(models.Model):
    """A public web form whose submissions become tickets (seed 004 FormTemplate)."""

    slug = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200)
    intro = models.TextField(blank=True, help_text="Shown above the form (plain text).")
    schema = models.JSONField(
        default=list,
        blank=True,
        help_text='Custom fields: [{"name": "order_number", "label": "Order number", "type": "text", '
        '"required": true}]. Types: ' + ", ".join(schema.FIELD_TYPES) + '. Optional keys: "help_text"; '
        '"choices" (a list) for select and multi_select; "decimal_places" (0 to 6) for number. Tickets '
        "keep what they were sent with: a removed field's or choice's value stays and is shown, and a value "
        "a changed type refuses stays until an agent enters a new one.",
    )
    success_message = models.CharField(
        max_length=500, default="Thanks! We have your request and will reply soon."
    )
    is_active = models.BooleanField(default=True)
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        verbose_name="organisation",
        help_text="Only this organisation's members see the form; empty means everyone.",
    )
    default_team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        # A closed team works no queue (routing passes it by): not to be chosen in the admin
        # (helpdesk.admin.ClosedTeamKeptAdminMixin), but it may stay until another is.
    )
    default_priority = models.CharField(max_length=10, choices=Priority.choices, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TicketFormManager()

    class Meta:
        ordering = ["position", *alphabetical("title")]

    def __str__(self) -> str:
        return self.title

    def natural_key(self) -> tuple[str]:
        return (self.slug,)

    @property
    def definitions(self) -> list[dict]:
        """The custom fields its pages ask for and show (schema.usable_definitions)."""
        return schema.usable_definitions(self.schema)

    def clean(self) -> None:
        problems = schema.schema_errors(self.schema)
        if problems:
            raise ValidationError({"schema": problems})


class TicketQuerySet(models.QuerySet["Ticket"]):
    def visible_to(self, user) -> "TicketQuerySet":
        """The one definition of which tickets a user may see (DESIGN §3.2)."""
        keys = self.visibility_keys(user)
        if keys is None:
            return self.all()
        if not keys:
            return self.none()
        return self.filter(_any_of(keys), is_deleted=False)

    def visibility_keys(self, user) -> "list[tuple[str, list[int]]] | None":
        """visible_to(user) as (column, ids) pairs, a ticket being visible (unless deleted) when any of
        its columns holds one of the ids; None when the user sees every ticket. Each pair is one walk of
        its column's `(column, updated_at)` index, which the desk's text search reads one by one (through
        staff_visibility_keys, selectors.BranchWalk) instead of testing the whole OR on every row of the
        updated_at index."""
        if user is None or not user.is_authenticated or not user.is_active:
            return []
        if rbac.is_administrator(user):
            return None
        keys = [("requester_id", [user.pk])]
        if user.is_organization_manager and user.organization_id:
            keys.append(("organization_id", [user.organization_id]))
        return keys + self._staff_keys(user)

    def staff_visibility_keys(self, user) -> "list[tuple[str, list[int]]] | None":
        """staff_visible_to(user) as visibility_keys() pairs: what the desk lists and walks."""
        if user is None or not user.is_authenticated or not user.is_active:
            return []
        if rbac.is_administrator(user):
            return None
        return self._staff_keys(user)

    def staff_visible_to(self, user, *, deleted: bool = False) -> "TicketQuerySet":
        """Tickets the user sees as staff (and so with internal notes); with `deleted`, also those
        soft-deleted that they saw so (for the audit trail, which outlives them)."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if rbac.is_administrator(user):
            return self.all()
        if not rbac.is_agent(user):
            return self.none()
        staff = self.filter(self._staff_condition(user))
        return staff if deleted else staff.filter(is_deleted=False)

    def desk_listed(self, user) -> "TicketQuerySet":
        """What the desk lists for `user`: what they work. A ticket they only requested (of another
        team) opens in the portal, where its row would show that team's assignee and tags; a deleted
        ticket is work for nobody, an administrator included: they open it by its number, or restore
        it in the admin."""
        return self.staff_visible_to(user).filter(is_deleted=False)

    def seen_by(self, user) -> "TicketQuerySet":
        """visible_to(user), each ticket marked with whether the user sees it as staff (with internal
        notes): `TicketMessage.objects.visible_to(user, ticket=...)` then needs no visibility
        sub-selects for its thread."""
        if rbac.is_administrator(user):
            as_staff = models.Value(True)
        elif rbac.is_agent(user):
            as_staff = models.ExpressionWrapper(
                self._staff_condition(user) & models.Q(is_deleted=False), output_field=models.BooleanField()
            )
        else:
            as_staff = models.Value(False)
        return self.visible_to(user).annotate(seen_by_id=models.Value(user.pk), seen_as_staff=as_staff)

    @classmethod
    def _staff_condition(cls, user) -> models.Q:
        return _any_of(cls._staff_keys(user)) if rbac.is_agent(user) else models.Q(pk__in=[])

    @staticmethod
    def _staff_keys(user) -> list[tuple[str, list[int]]]:
        if not rbac.is_agent(user):
            return []
        ticket_ids, organization_ids = staff_grants(user)
        keys = [("team_id", sorted(rbac.workable_team_ids(user))), ("assignee_id", [user.pk])]
        # Id lists, not sub-selects: the planner estimates a literal list, while it guesses that a
        # sub-select matches half the table and then walks the whole updated_at index.
        if ticket_ids:
            keys.append(("id", sorted(ticket_ids)))
        if organization_ids:
            keys.append(("organization_id", sorted(organization_ids)))
        return [(column, ids) for column, ids in keys if ids]


class TicketManager(models.Manager.from_queryset(TicketQuerySet)):
    def get_by_natural_key(self, number: int) -> "Ticket":
        return self.get(number=number)


# A merge chain longer than this (each merge done by hand, one at a time) is not followed further.
MERGE_CHAIN_LIMIT = 20


class Ticket(models.Model):
    number = models.BigIntegerField(
        unique=True,
        editable=False,
        db_default=models.Func(
            models.Value(NUMBER_SEQUENCE), function="nextval", output_field=models.BigIntegerField()
        ),
    )
    subject = models.CharField(max_length=200)
    description = models.TextField(help_text="The first message, as the requester typed it.")
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tickets")
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tickets",
        verbose_name="organisation",
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
    )
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.MEDIUM)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.WEB)
    tags = models.ManyToManyField(Tag, blank=True, related_name="tickets")
    form = models.ForeignKey(
        TicketForm, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    custom_fields = models.JSONField(default=dict, blank=True)
    escalation_level = models.PositiveSmallIntegerField(default=0)
    follow_up_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="follow_ups"
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    sla_due_at = models.DateTimeField(null=True, blank=True)
    last_customer_message_at = models.DateTimeField(null=True, blank=True)
    assignee_seen_at = models.DateTimeField(
        null=True, blank=True, help_text="When the assignee last opened the ticket (for the unread marker)."
    )
    # Kept current by PostgreSQL itself; 'simple' so names and codes are matched as typed, but for
    # accents and punctuation (the search box reads what is typed the same way: filters.subject_query).
    search_vector = models.GeneratedField(
        expression=SearchVector(SearchWords("subject"), config="simple"),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    is_deleted = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)
    submission_key = models.UUIDField(
        null=True,
        blank=True,
        unique=True,
        editable=False,
        help_text="Makes a repeated form submission idempotent.",
    )
    # Not stored: ticket_create sets it on the ticket it hands back for a submission key it has already
    # seen, so only the request that made the ticket sends its receipt.
    repeated_submission = False
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)
    # What the portal's "My tickets" sorts by and shows: an internal note or a change of priority must
    # neither move a ticket up the requester's list as if there were news nor tell them when it happened.
    public_updated_at = models.DateTimeField(
        default=timezone.now,
        db_default=Now(),  # rows written in SQL (bulk loads, the bench) start with one too
        help_text="The last change its requester can see: a public reply, the status, the subject or "
        "the form's answers. Internal notes and triage leave it alone.",
    )
    version = models.PositiveIntegerField(
        default=1, help_text="Optimistic lock: incremented by every change."
    )

    objects = TicketManager()

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=Status.values), name="ticket_status_valid"),
            models.CheckConstraint(
                condition=models.Q(priority__in=Priority.values), name="ticket_priority_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(channel__in=Channel.values), name="ticket_channel_valid"
            ),
            # Answers by field name: the pages read the column as an object (a list or a string written
            # past the services, by a fixture or the shell, made every page of the ticket fail).
            models.CheckConstraint(
                condition=Exact(
                    models.Func("custom_fields", function="JSONB_TYPEOF", output_field=models.CharField()),
                    "object",
                ),
                name="ticket_custom_fields_object",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-updated_at"], name="ticket_status_updated"),
            models.Index(fields=["team", "status", "-updated_at"], name="ticket_team_status_updated"),
            models.Index(fields=["assignee", "status", "-updated_at"], name="ticket_assignee_status_updated"),
            # Partial, so a customer's (or an organisation's) count is an index-only scan: with every
            # ticket in them, counting 4,000 tickets visited 4,000 heap pages to skip deleted ones.
            models.Index(
                fields=["requester", "-updated_at"],
                name="ticket_requester_updated",
                condition=models.Q(is_deleted=False),
            ),
            models.Index(
                fields=["organization", "-updated_at"],
                name="ticket_organization_updated",
                condition=models.Q(is_deleted=False),
            ),
            # The portal's lists, in the order their requesters read them.
            models.Index(
                fields=["requester", "-public_updated_at"],
                name="ticket_requester_public",
                condition=models.Q(is_deleted=False),
            ),
            models.Index(
                fields=["organization", "-public_updated_at"],
                name="ticket_organization_public",
                condition=models.Q(is_deleted=False),
            ),
            # One walk per visibility key for the queue's text search (selectors.BranchWalk).
            models.Index(
                fields=["team", "-updated_at", "-id"],
                name="ticket_team_updated",
                condition=models.Q(is_deleted=False),
            ),
            models.Index(
                fields=["assignee", "-updated_at", "-id"],
                name="ticket_assignee_updated",
                condition=models.Q(is_deleted=False),
            ),
            models.Index(
                fields=["sla_due_at"], name="ticket_sla_due", condition=models.Q(sla_due_at__isnull=False)
            ),
            models.Index(
                fields=["resolved_at"], name="ticket_resolved_open", condition=models.Q(status="resolved")
            ),
            GinIndex(fields=["search_vector"], name="ticket_search"),
            models.Index(fields=["-updated_at", "-id"], name="ticket_updated_id"),
        ]
        permissions = [  # seed 001 Permission
            ("create_ticket", "Can submit tickets"),
            ("close_ticket", "Can close tickets"),
            ("assign_ticket", "Can assign tickets"),
            ("manage_tickets", "Can change any field of tickets"),
            ("escalate_ticket", "Can escalate tickets"),
            ("view_all_tickets", "Can see every ticket"),
            ("delete_messages", "Can delete messages"),
            ("manage_threads", "Can merge and split tickets"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.subject}"

    def natural_key(self) -> tuple[int]:
        return (self.number,)

    @property
    def reference(self) -> str:
        return f"{NUMBER_PREFIX}{self.number}"

    def merged_home(self, visible: "models.QuerySet[Ticket] | None" = None) -> "Ticket | None":
        """Where this ticket's conversation went (the end of merge_chain), if `visible` (the reader's
        tickets) holds it: named and linked only where the reader may open it. None when not merged."""
        if self.merged_into_id is None:
            return None
        home = self.merge_chain()[-1]
        return home if visible is None or visible.filter(pk=home.pk).exists() else None

    def merge_chain(self) -> list["Ticket"]:
        """This ticket and those its conversation moved on to: the one it was merged into, the one that
        was merged into, and so on (MERGE_CHAIN_LIMIT steps at most), read in one query however long."""
        chain, seen = [self], {self.pk}
        if self.merged_into_id is None:
            return chain
        table = connection.ops.quote_name(Ticket._meta.db_table)
        steps = Ticket.objects.raw(
            f"""
            WITH RECURSIVE step(id, depth) AS (
                SELECT %s::bigint, 1
                UNION ALL
                SELECT ticket.merged_into_id, step.depth + 1
                FROM step JOIN {table} ticket ON ticket.id = step.id
                WHERE ticket.merged_into_id IS NOT NULL AND step.depth < %s
            )
            SELECT ticket.* FROM step JOIN {table} ticket ON ticket.id = step.id ORDER BY step.depth
            """,  # noqa: S608 - the table is the model's own, not input
            [self.merged_into_id, MERGE_CHAIN_LIMIT],
        )
        for following in steps:
            if following.pk in seen:  # a loop only raw SQL could make
                break
            chain.append(following)
            seen.add(following.pk)
        return chain

    @property
    def unread_by_assignee(self) -> bool:
        """A customer wrote since the assignee last looked."""
        if self.assignee_id is None or self.last_customer_message_at is None:
            return False
        return self.assignee_seen_at is None or self.last_customer_message_at > self.assignee_seen_at

    @property
    def form_schema(self) -> list[dict]:
        """The custom-field definitions of the form it was sent with (none without a form)."""
        return self.form.definitions if self.form_id else []

    def custom_field_display(self) -> list[tuple[str, str]]:
        return schema.labelled_values(self.form_schema, self.custom_fields)

    def removed_field_display(self) -> list[tuple[str, str]]:
        return schema.removed_values(self.form_schema, self.custom_fields)


class TicketMessageQuerySet(models.QuerySet["TicketMessage"]):
    def visible_to(self, user, *, ticket: Ticket | None = None) -> "TicketMessageQuerySet":
        """Public messages of visible tickets; internal notes only for staff who see the ticket.

        With `ticket`, the visibility subqueries are narrowed to that one ticket, so reading a thread
        costs an index look-up instead of evaluating everything the user may see; with a ticket read
        through `Ticket.objects.seen_by(user)`, its visibility is settled and no subquery is needed."""
        if ticket is not None and getattr(ticket, "seen_by_id", None) == user.pk:
            thread = self.filter(ticket=ticket)
            return thread if ticket.seen_as_staff else thread.filter(is_internal=False)
        tickets, staff_tickets = Ticket.objects.visible_to(user), Ticket.objects.staff_visible_to(user)
        messages = self
        if ticket is not None:
            tickets, staff_tickets = tickets.filter(pk=ticket.pk), staff_tickets.filter(pk=ticket.pk)
            messages = self.filter(ticket=ticket)
        public = models.Q(is_internal=False, ticket__in=tickets)
        notes = models.Q(is_internal=True, ticket__in=staff_tickets)
        return messages.filter(public | notes)

    def for_thread(self) -> "TicketMessageQuerySet":
        """Authors joined, attachments in a plain list (`files`): going through a generic relation's
        manager costs a query-building pass per message even when prefetched."""
        return self.select_related("author").prefetch_related(models.Prefetch("attachments", to_attr="files"))


class TicketMessageManager(models.Manager.from_queryset(TicketMessageQuerySet)):
    def get_by_natural_key(self, uid: str) -> "TicketMessage":
        return self.get(uid=uid)


class TicketMessage(models.Model):
    """A public reply or an internal note. The body is stored as typed; body_html is its safe rendering."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_internal = models.BooleanField(default=False)
    from_staff = models.BooleanField(default=False)
    body = models.TextField()
    body_html = models.TextField(editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    attachments = GenericRelation("Attachment", content_type_field="owner_type", object_id_field="owner_id")
    submission_key = models.UUIDField(
        null=True, blank=True, editable=False, help_text="Makes a repeated reply form submission idempotent."
    )
    # Not stored: ticket_reply sets it on the message it hands back for a submission key it has seen.
    repeated_submission = False

    objects = TicketMessageManager()

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="message_ticket_created")]
        constraints = [
            # Partial: the index holds only the replies sent from a form, not millions of NULLs.
            models.UniqueConstraint(
                fields=["submission_key"],
                condition=models.Q(submission_key__isnull=False),
                name="message_submission_key_unique",
            )
        ]

    def __str__(self) -> str:
        kind = "Note" if self.is_internal else "Reply" if self.from_staff else "Message"
        return f"{kind} on {self.ticket.reference} by {self.author or 'System'}"

    def natural_key(self) -> tuple[str]:
        return (str(self.uid),)


class TicketActivity(models.Model):
    """One entry of a ticket's timeline: who changed what, from what, to what."""

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        STATUS = "status", "Status changed"
        PRIORITY = "priority", "Priority changed"
        TEAM = "team", "Team changed"
        ASSIGNEE = "assignee", "Assignee changed"
        TAGS = "tags", "Tags changed"
        FIELDS = "fields", "Fields changed"
        CUSTOM_FIELDS = "custom_fields", "Custom fields changed"
        REPLY = "reply", "Replied"
        NOTE = "note", "Internal note"
        MERGE = "merge", "Merged"
        FOLLOW_UP = "follow_up", "Follow-up opened"
        DELETED = "deleted", "Deleted"
        RESTORED = "restored", "Restored"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="activities")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    field = models.CharField(max_length=50, blank=True)
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name_plural = "ticket activities"
        indexes = [models.Index(fields=["ticket", "created_at"], name="activity_ticket_created")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.actor or 'System'}"

    FIELD_WORDS = {"merged_into": "into", "merged_from": "from", "custom_fields": "custom fields"}

    def field_display(self) -> str:
        """The changed field in words for the timeline ("into" for a merge, never "merged_into")."""
        return self.FIELD_WORDS.get(self.field, self.field.replace("_", " "))

    def change_display(self) -> tuple[str, str] | None:
        """(before, after) as the timeline shows them, before "" when there was none to speak of, or None
        when there is nothing to show (a reply stores its message's id, a creation its first status and
        priority)."""
        if self.action in (self.Action.REPLY, self.Action.NOTE, self.Action.CREATED):
            return None
        if self.old_value is None and self.new_value is None:
            return None
        # A merge and a follow-up name the other ticket: no value before them ("merged: into T-1042",
        # not "into — → T-1042").
        if self.action in (self.Action.MERGE, self.Action.FOLLOW_UP):
            if getattr(self, "other_ticket_hidden", False):  # set by selectors.ticket_workspace
                return "", OUT_OF_REACH
            return "", self._shown(self.new_value)
        return self._shown(self.old_value), self._shown(self.new_value)

    @property
    def other_ticket_number(self) -> int | None:
        """The number of the ticket a merge or a follow-up names, if it does."""
        if self.action not in (self.Action.MERGE, self.Action.FOLLOW_UP):
            return None
        value = self.new_value.get("ticket") if isinstance(self.new_value, dict) else self.new_value
        return number_from(value) if isinstance(value, str) else None

    def _shown(self, value) -> str:
        if self.field == "merged_from" and isinstance(value, dict):  # {"ticket": "T-935", "messages": 1}
            return f"{value.get('ticket')} ({shown_count(value.get('messages') or 0, 'message')})"
        labels = {"status": Status, "priority": Priority}.get(self.field)
        if labels is not None and value in labels.values:
            return str(labels(value).label)
        return shown_value(value)


def attachment_path(instance: "Attachment", filename: str) -> str:
    # Stored names are random: the user's filename never reaches the filesystem.
    return f"attachments/{timezone.now():%Y/%m}/{uuid.uuid4().hex}"


class AttachmentQuerySet(models.QuerySet["Attachment"]):
    def visible_to(self, user) -> "AttachmentQuerySet":
        """Attachments whose owner the user may see (a note's files only for staff)."""
        message_type = ContentType.objects.get_for_model(TicketMessage)
        messages = TicketMessage.objects.visible_to(user).values("pk")
        return self.filter(owner_type=message_type, owner_id__in=messages)


class Attachment(models.Model):
    """A private file owned by a message (generic owner, so articles can use it later)."""

    owner_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    owner_id = models.BigIntegerField()
    owner = GenericForeignKey("owner_type", "owner_id")
    file = models.FileField(upload_to=attachment_path, max_length=200)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    download_count = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = AttachmentQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["owner_type", "owner_id"], name="attachment_owner")]

    def __str__(self) -> str:
        return self.filename


class HeldUpload(models.Model):
    """A file sent with a form that came back (invalid, stale, refused): kept, private, for whoever sent
    it, so the corrected form sends it without choosing it again. Becomes an Attachment when the form
    goes through (the stored file is handed over, not copied); removed a day later otherwise."""

    file = models.FileField(upload_to=attachment_path, max_length=200)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    # None for a visitor's (anonymous) form; a signed-in sender's files are theirs alone to send.
    held_for = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # A visitor's: their browser session as tickets.attachments.visitor_key() names it, so that one
    # visitor's files are bounded as an account's are.
    held_for_visitor = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(
                fields=["held_for_visitor", "created_at"],
                name="held_upload_visitor",
                condition=~models.Q(held_for_visitor=""),
            )
        ]

    def __str__(self) -> str:
        return self.filename


class TicketUserObjectPermission(UserObjectPermissionBase):
    """Per-ticket grants (exceptions only): an agent outside the team may see this one ticket."""

    content_object = models.ForeignKey(Ticket, on_delete=models.CASCADE)


def _any_of(keys: list[tuple[str, list[int]]]) -> models.Q:
    condition = models.Q()
    for column, ids in keys:
        condition |= models.Q(**{column: ids[0]} if len(ids) == 1 else {f"{column}__in": ids})
    return condition


def staff_grants(user) -> tuple[frozenset[int], frozenset[int]]:
    """Ids of the tickets and organisations granted to an agent (read with the rest of rbac.access)."""
    granted = rbac.access(user)
    return granted.ticket_ids, granted.organization_ids


class SavedViewQuerySet(models.QuerySet["SavedView"]):
    def visible_to(self, user) -> "SavedViewQuerySet":
        """An agent's own views and the views shared with a team they work."""
        if not rbac.is_agent(user):
            return self.none()
        return self.filter(models.Q(owner=user) | models.Q(team_id__in=rbac.workable_team_ids(user)))


class SavedView(models.Model):
    """A named queue filter an agent saved, private or shared with a team."""

    name = models.CharField(max_length=80)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,  # the owner keeps the view, private again
        related_name="saved_views",
        help_text="Share with this team; empty keeps the view private.",
    )
    query = models.CharField(max_length=1000, help_text="The queue's filter query string.")
    created_at = models.DateTimeField(default=timezone.now)

    objects = SavedViewQuerySet.as_manager()

    class Meta:
        ordering = alphabetical("name")
        # "Urgent" and "urgent" side by side in one list would only confuse: one name, whatever its case.
        constraints = [models.UniqueConstraint("owner", Lower("name"), name="saved_view_name_per_owner")]

    def __str__(self) -> str:
        return self.name
