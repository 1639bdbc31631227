"""Every change to a ticket: one transaction each, rules enforced here, activity written inside.

Each function takes `actor` (None means the System) keyword-only. Changes made from a page carry
`expected_version`; if the ticket changed since, StaleTicket is raised instead of overwriting.
"""

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

import audit
from accounts import rbac
from accounts.models import Team, User, validate_ascii_email
from helpdesk.display import cut
from helpdesk.forms import as_tag, markdown_trimmed, nfc, one_line, parse_id, reads_as, shows_text
from helpdesk.markdown import markdown_shows_text, render_markdown
from helpdesk.models import Priority, SiteConfiguration
from knowledge.services import articles_check_public_links, articles_count_uses
from tickets import schema, workflow
from tickets.attachments import attachments_store, same_files, validate_uploads
from tickets.models import Channel, SavedView, Tag, Ticket, TicketActivity, TicketForm, TicketMessage
from tickets.workflow import Status

STALE = (
    "Someone changed this ticket since you opened it. Reload the page to see their change, then try again."
)
NOT_ALLOWED = "You are not allowed to do that on this ticket."
TRANSITION_REFUSED = "A ticket cannot go from {old} to {new}."
WAITING_FOR_YOUR_REPLY = (
    "This request is waiting for your reply: write to us below and it goes back to the team."
)
CLOSED_IS_FINAL = "This ticket is closed; a reply opens a new follow-up ticket instead."
CLOSED_TO_STAFF = (
    "This ticket is closed and takes no more public replies. Add an internal note; the customer's next "
    "message opens a follow-up ticket."
)
# Names nobody: the id may be any account's, and the actor may not know who holds it.
ASSIGNEE_NOT_AGENT = "The person chosen is not an agent who can see this ticket."
ASSIGNEE_CANNOT_ANSWER = (
    "The person chosen cannot answer tickets (their role only reads the queue): choose someone who can."
)
# Not named: an id typed by hand must not tell an agent whose account it is.
ASSIGNEE_GONE = (
    "The person chosen can no longer be assigned tickets (suspended, or not an agent): choose another."
)
EMPTY_BODY = "Write a message before sending."
FOLLOW_UP = "Follow-up: "
BULK_UNKNOWN = "There is no {what} “{value}”: choose one from the list."
UNKNOWN_FIELD = "{name} cannot be changed this way."
TEAM_NOT_YOURS = "You cannot share views with {team}: you do not work that team's queue."
TEAM_INACTIVE = "{team} no longer works tickets: choose another team."
SAVED_VIEW_EXISTS = "You already have a view called “{name}”."
SAVED_VIEW_BUILT_IN = "“{name}” is the name of a built-in view; choose another."
# The queue lists every view an agent may open beside it, at each 30-second refresh too (5,000 shared with
# one team made the refresh a megabyte): an agent keeps at most this many, and a team is shared as many.
SAVED_VIEWS_MAX = 100
SAVED_VIEWS_FULL = (
    f"You have {SAVED_VIEWS_MAX} saved views, as many as one keeps: delete one you no longer use."
)
TEAM_VIEWS_FULL = (
    f"{{team}} has {SAVED_VIEWS_MAX} shared views, as many as a team keeps: its supervisor may delete some."
)
ANONYMOUS_CLOSED = "Sign in to submit a request."
SIGN_IN_TO_SUBMIT = "Sign in to submit a request with this e-mail address."
SEND_AGAIN = (
    "This form was already used to send another message. Check what you wrote below and send it again."
)
SUBMIT_AGAIN = (
    "This form was already used to send another request. Check what you wrote below and send it again."
)
NEWER_MESSAGE = "Support wrote to you since you opened this page: read their message, then choose again."
NEWER_MESSAGE_OTHER = "A new message was added since you opened this page: read it, then choose again."
TAG_INVALID = "Tags are at most 50 characters: letters, digits, spaces, - and _."
TAG_SHOWS_NOTHING = (
    "One of the tags is only invisible characters (such as a zero-width space), so it would show as a blank "
    "tag: delete it, between the commas."
)
BULK_TAG_MISSING = "Type the tag to add or remove."
BULK_STALE = "{ticket} changed since your queue was loaded: look at it again, then choose what to do."
MERGE_SELF = "A ticket cannot be merged into itself."
MERGED_READ_ONLY = "{ticket} was merged into {into}: make the change there."
MERGED_ELSEWHERE = "{ticket} was merged into a ticket outside your queues: the conversation goes on there."
MERGE_DONE = "{ticket} is closed or merged already; merge into an open ticket."
MERGE_DELETED = "{ticket} was deleted: restore it first, or merge into another ticket."
MERGE_TARGET_CHANGED = (
    "{ticket} changed since you were asked to confirm (its team or status, say): it was not merged. "
    "Check it, then merge again."
)
DELETED_READ_ONLY = "{ticket} was deleted: restore it in the admin before changing it or writing on it."
CLOSED_FINAL = (
    "{ticket} is closed, and a closed ticket is final: its assignee, priority, team, tags and fields stay as "
    "they were. A note can still be added; a customer's reply opens a follow-up."
)
RESTORE_TARGET_FIRST = (
    "{ticket} was merged into a ticket that is deleted: restore {into} (this one comes back with it)."
)
RESTORE_TARGET_THEN_THIS = (
    "{ticket} was merged into a ticket that is deleted: restore {into} first, then this one (deleted "
    "on its own before, it stays deleted when {into} comes back)."
)
MERGE_OTHER_REQUESTER = (
    "Only tickets from the same requester can be merged, so nobody is shown another person's messages."
)
MERGE_OTHER_ORGANIZATION = (
    "These tickets belong to different organisations (the requester moved): merged, one organisation's "
    "messages would show to the other's managers."
)
ANSWER_NOT_ALLOWED = "You do not have permission to answer tickets."
ASSIGN_NOT_ALLOWED = "You do not have permission to assign tickets."
CLOSE_NOT_ALLOWED = "You do not have permission to close tickets."
FIELD_NOT_ALLOWED = "You do not have permission to change the {field} of a ticket."

# What staff may change through ticket_update_fields, and the permission each field needs.
# The everyday fields of working a ticket (priority, team, custom fields; tags in ticket_set_tags)
# need provide_support, as answering does. Escalating needs escalate_ticket. The subject, and any
# field added here later that rewrites what the ticket is, needs manage_tickets ("Can change any
# field of tickets"), which the Agent role does not have.
FIELD_PERMISSIONS = {
    "priority": rbac.PROVIDE_SUPPORT,
    "team": rbac.PROVIDE_SUPPORT,
    "custom_fields": rbac.PROVIDE_SUPPORT,
    "escalation_level": rbac.ESCALATE_TICKET,
    "subject": rbac.MANAGE_TICKETS,
}
STAFF_FIELDS = set(FIELD_PERMISSIONS)
FIELD_LABELS = {"custom_fields": "custom fields", "escalation_level": "escalation level"}


class TicketError(Exception):
    """A refused change; str(error) is a message for the person who tried it."""


class StaleTicket(TicketError):
    pass


class TicketNotAllowed(TicketError):
    pass


class TransitionRefused(TicketError):
    pass


class InvalidAssignee(TicketError):
    pass


class AlreadySo(TicketError):
    """Nothing to do: the ticket is in that state already (deleted, restored)."""


def _lock(ticket: Ticket, expected_version: int | None) -> Ticket:
    locked = Ticket.objects.select_for_update(no_key=True).get(pk=ticket.pk)
    check_version(locked, expected_version)
    return locked


def check_version(ticket: Ticket, expected_version: int | None) -> None:
    """Refuse a change sent from a page older than `ticket` (the version the page was drawn at), or
    StaleTicket: a colleague's change would be overwritten unseen."""
    if expected_version is not None and ticket.version != expected_version:
        raise StaleTicket(STALE)


def _sent_before(
    ticket: Ticket,
    submission_key: UUID | None,
    *,
    body: str,
    actor,
    uploads: Sequence = (),
    internal: bool = False,
) -> TicketMessage | None:
    """The message this form already made (the same form sent twice: a double click, a retried
    request), here or where this ticket's messages go (merged, followed up); None for a new one. A form
    reused for other words, other files, another ticket or the other kind (sent as a note, then as the
    reply the customer was meant to read), or someone else's, is refused. Call with the ticket locked: a
    second sending waits for the first and then finds its message."""
    if submission_key is None:
        return None
    sent = (
        TicketMessage.objects.filter(submission_key=submission_key, author=actor)
        .select_related("ticket")
        .first()
    )
    if sent is not None:
        # Here, or on a ticket this one was merged into (step by step), or on a follow-up of either.
        chain = {link.pk for link in ticket.merge_chain()} if ticket.merged_into_id else {ticket.pk}
        answered_here = sent.ticket_id in chain or sent.ticket.follow_up_of_id in chain
        if (
            sent.body != body
            or sent.is_internal != internal
            or not answered_here
            or not same_files(sent, list(uploads))
        ):
            raise ValidationError({"body": SEND_AGAIN})
        sent.repeated_submission = True
        return sent
    if TicketMessage.objects.filter(submission_key=submission_key).exists():  # someone else's form
        raise ValidationError({"body": SEND_AGAIN})
    return None


def _status_on_resending(ticket: Ticket, sent: TicketMessage, status_after: str | None, *, actor) -> None:
    """A message sent again from its form with a status chosen since (sent, then "and solve" after all):
    the message stands as sent, and the status is set now, as the workflow and the actor's permissions
    allow; the same status again (a double click of "and solve") changes nothing, nor does one asked of
    a ticket the message did not land on (a follow-up's, a merged ticket's)."""
    if sent.ticket_id != ticket.pk:
        return
    if status_after and status_after != ticket.status and _acts_as_staff(ticket, actor):
        _require_permission_to_close(ticket, actor, status_after)
        _save(ticket, actor, _apply_transition(ticket, status_after, actor=actor, by_customer=False))


def _require_not_merged(ticket: Ticket, actor) -> None:
    """A merged ticket is closed and its thread has moved: changing it would only mislead. The ticket it
    went to is named to whoever may open it (as the workspace and the portal name it)."""
    if ticket.merged_into_id is not None:
        # Where the conversation is now, past tickets merged in turn.
        into = ticket.merged_home(Ticket.objects.visible_to(actor) if actor is not None else None)
        if into is None:
            raise TicketNotAllowed(MERGED_ELSEWHERE.format(ticket=ticket.reference))
        raise TicketNotAllowed(MERGED_READ_ONLY.format(ticket=ticket.reference, into=into.reference))


def require_not_closed(ticket: Ticket) -> None:
    """Closed is final (workflow): what the ticket was when it closed is its record, as in Zendesk, where
    a closed ticket takes no more updates. Called where something would change: saving a form that shows
    a closed ticket as it is changes nothing and is no refusal."""
    if ticket.status == Status.CLOSED:
        raise TicketNotAllowed(CLOSED_FINAL.format(ticket=ticket.reference))


def _require_not_deleted(ticket: Ticket) -> None:
    """A deleted ticket (spam, a mistake) is out of every queue and the requester's list: a message or a
    change there would reach no one; an administrator restores it first."""
    if ticket.is_deleted:
        raise TicketNotAllowed(DELETED_READ_ONLY.format(ticket=ticket.reference))


# What the requester's portal shows of a ticket besides its public thread (see Ticket.public_updated_at);
# its status only as they see it (_apply_transition): on hold reads as open to them.
SEEN_BY_REQUESTER = frozenset({"subject", "custom_fields", "merged_into", "public_updated_at"})


def _save(ticket: Ticket, actor: User | None, fields: Sequence[str], *, thread_changed: bool = False) -> None:
    """Write `fields` with the next version; the requester's "updated" moves only for a change they can
    see: a public message (`thread_changed`) or a field of SEEN_BY_REQUESTER."""
    ticket.version += 1
    ticket.updated_at = timezone.now()
    ticket.updated_by = actor
    seen = thread_changed or bool(SEEN_BY_REQUESTER.intersection(fields))
    if seen:
        ticket.public_updated_at = ticket.updated_at
    written = [*dict.fromkeys([*fields, *(["public_updated_at"] if seen else [])])]
    ticket.save(update_fields=[*written, "version", "updated_at", "updated_by"])


def _activity(
    ticket: Ticket, actor: User | None, action: str, field: str = "", old: Any = None, new: Any = None
):
    """The ticket's timeline entry and its audit event, written together inside the service's transaction."""
    audit.record(f"ticket.{action}", actor=actor, obj=ticket, changes={field or action: (old, new)})
    return TicketActivity.objects.create(
        ticket=ticket, actor=actor, action=action, field=field, old_value=old, new_value=new
    )


def _require_staff(ticket: Ticket, actor: User | None) -> None:
    if not _acts_as_staff(ticket, actor):
        raise TicketNotAllowed(NOT_ALLOWED)


def _require_visible(ticket: Ticket, actor: User | None) -> None:
    if actor is not None and not Ticket.objects.visible_to(actor).filter(pk=ticket.pk).exists():
        raise TicketNotAllowed(NOT_ALLOWED)


def _acts_as_staff(ticket: Ticket, actor: User | None) -> bool:
    return actor is None or Ticket.objects.staff_visible_to(actor).filter(pk=ticket.pk).exists()


@dataclass(frozen=True)
class StaffPermissions:
    """What a staff user may do to a ticket (or, without one, to tickets in general), so that pages
    offer only those controls; the services check each action again."""

    answer: bool  # replies, notes, priority, team, tags, custom fields
    assign: bool
    close: bool
    merge: bool
    contact: bool = False  # the requester's e-mail address and time zone


def staff_permissions(actor: User, ticket: Ticket | None = None) -> StaffPermissions:
    granted = rbac.permissions_on(actor)
    object_granted = granted
    if ticket is not None and not {rbac.ASSIGN_TICKET, rbac.CLOSE_TICKET} <= granted:
        # Guardian's grants on this ticket only matter for what the role lacks (two queries).
        object_granted = rbac.permissions_on(actor, ticket)
    return StaffPermissions(
        answer=rbac.PROVIDE_SUPPORT in granted,  # an accounts permission: no grant on a ticket gives it
        assign=rbac.ASSIGN_TICKET in object_granted,
        close=rbac.CLOSE_TICKET in object_granted,
        # ticket_merge asks for the role's permission only, and closes the source
        merge=rbac.MANAGE_THREADS in granted and rbac.CLOSE_TICKET in object_granted,
        contact=rbac.VIEW_USER_INFO in granted,
    )


def _require_permission(ticket: Ticket, actor: User | None, permission: str, message: str) -> None:
    """Staff actions check the permission codename, not the role's name, so a role edited in the admin
    gives or takes the action. The System (actor None) is not limited; a ticket permission may also
    come from a guardian grant on this ticket."""
    if actor is None:
        return
    obj = ticket if permission.startswith(f"{Ticket._meta.app_label}.") else None
    if not rbac.has_permission(actor, permission, obj):
        raise TicketNotAllowed(message)


def _require_permission_to_close(ticket: Ticket, actor: User | None, status: str | None) -> None:
    if status == Status.CLOSED:
        _require_permission(ticket, actor, rbac.CLOSE_TICKET, CLOSE_NOT_ALLOWED)


def _message(
    ticket: Ticket,
    *,
    body: str,
    actor: User | None,
    internal: bool,
    from_staff: bool,
    uploads,
    types,
    author: User | None = None,
    submission_key: UUID | None = None,
) -> TicketMessage:
    """The message and its files; written by `author` when given (else the actor), stored by the actor."""
    message = TicketMessage.objects.create(
        ticket=ticket,
        author=author or actor,
        is_internal=internal,
        from_staff=from_staff,
        body=body,
        body_html=render_markdown(body),
        submission_key=submission_key,
    )
    attachments_store(message, list(uploads), types, actor=actor)
    return message


def _first_active_team(*choices: Callable[[], Team | None]) -> Team | None:
    """The first team the `choices` name that still works tickets: a team closed down since the form,
    the conversation or the site configuration named it works no queue. Asked in turn, as each may
    cost a query."""
    return next((team for choice in choices if (team := choice()) is not None and team.is_active), None)


@transaction.atomic
def ticket_create(
    *,
    requester: User,
    subject: str,
    description: str,
    actor: User | None,
    form: TicketForm | None = None,
    custom_fields: dict[str, Any] | None = None,
    uploads: Sequence[UploadedFile] = (),
    channel: str = Channel.WEB,
    priority: str | None = None,
    team: Team | None = None,
    submission_key: UUID | None = None,
    follow_up_of: Ticket | None = None,
) -> Ticket:
    """Open a ticket with its first message. A repeated submission_key returns the first ticket."""
    # One line: a line break in a subject has no place in a list, and none in a mail header.
    subject, description = one_line(subject), nfc(markdown_trimmed(description))
    if submission_key is not None:
        existing = Ticket.objects.filter(submission_key=submission_key, requester=requester).first()
        if existing is not None:
            return _repeated_submission(existing, subject[:200], description, form, custom_fields, uploads)
    if not shows_text(subject) or not markdown_shows_text(description):
        field = "subject" if not shows_text(subject) else "description"
        raise ValidationError({field: "This field is required."})
    if follow_up_of is not None and form is None:
        # A follow-up continues the conversation: the answers to its form come with it as they are
        # stored (an order number, say), not asked again nor checked against the form as it is now.
        form, values = follow_up_of.form, dict(follow_up_of.custom_fields)
    else:
        values = schema.clean_values(form.definitions, custom_fields or {}) if form is not None else {}
    types = validate_uploads(list(uploads))
    staff_actor = actor is not None and rbac.is_agent(actor)
    configuration = SiteConfiguration.objects.get_current()
    now = timezone.now()
    ticket = Ticket(
        subject=subject[:200],
        description=description,
        requester=requester,
        # A follow-up stays with the organisation of the conversation it continues (whoever answers it:
        # the requester since moved on, or the organisation's manager), where its managers follow it.
        organization=follow_up_of.organization if follow_up_of is not None else requester.organization,
        # Every ticket lands in a team's queue when one can be named: agents see only their teams'.
        team=_first_active_team(
            lambda: team if staff_actor else None,
            lambda: follow_up_of.team if follow_up_of else None,  # where the conversation was worked
            lambda: form.default_team if form else None,
            lambda: configuration.default_team,
        ),
        priority=(priority if staff_actor and priority in Priority.values else None)
        or (
            form.default_priority if form and form.default_priority else configuration.default_ticket_priority
        ),
        channel=channel,
        form=form,
        custom_fields=values,
        follow_up_of=follow_up_of,
        submission_key=submission_key,
        created_by=actor,
        updated_by=actor,
        created_at=now,
        updated_at=now,
        public_updated_at=now,
        last_customer_message_at=now,
    )
    try:
        with transaction.atomic():
            ticket.save()
    except IntegrityError:
        # The same form was submitted twice at once: the other request created it.
        if submission_key is None:
            raise
        first = Ticket.objects.filter(submission_key=submission_key, requester=requester).first()
        if first is None:  # a key of someone else's form: never hand out their ticket
            raise ValidationError(SUBMIT_AGAIN) from None
        return _repeated_submission(first, ticket.subject, description, form, custom_fields, uploads)
    ticket.refresh_from_db(fields=["number"])
    _message(
        ticket,
        body=description,
        actor=actor,
        author=actor or requester,  # a manager's follow-up is theirs; an anonymous visitor's, the requester's
        internal=False,
        # An agent's own request is the requester's words, not a support reply; so is a follow-up, which
        # only a reply written as a customer opens (ticket_reply: staff are refused on a closed ticket),
        # an organisation manager's too, whatever roles they hold elsewhere.
        from_staff=staff_actor and actor != requester and follow_up_of is None,
        uploads=uploads,
        types=types,
    )
    _activity(
        ticket,
        actor,
        TicketActivity.Action.CREATED,
        new={"status": ticket.status, "priority": ticket.priority},
    )
    if follow_up_of is not None:  # locked by ticket_reply, the one caller
        _activity(follow_up_of, actor, TicketActivity.Action.FOLLOW_UP, new=ticket.reference)
        # An entry on its timeline is a change, as a note on a closed ticket is: a page open on it is
        # stale, and the desk lists it as changed.
        _save(follow_up_of, actor, [])
    return ticket


def _repeated_submission(
    ticket: Ticket,
    subject: str,
    description: str,
    form: TicketForm | None,
    custom_fields: dict[str, Any] | None,
    uploads: Sequence[UploadedFile],
) -> Ticket:
    """The ticket a submission key already made, for the same request sent again; a form reused for a
    different request (a restored tab, a duplicated page, one sent again with an answer changed or a
    file added) is refused rather than silently dropped."""
    try:
        values = schema.clean_values(form.definitions, custom_fields or {}) if form is not None else {}
    except ValidationError:
        values = None
    # The answers as first sent, unless staff changed them since (then the customer's own cannot be
    # told from theirs, and the same request sent again stands as the same).
    answers_changed = ticket.activities.filter(action=TicketActivity.Action.CUSTOM_FIELDS).exists()
    if (
        not same_submission(ticket, subject=subject, description=description, uploads=uploads)
        # (A follow-up's answers came with it from the ticket it continues: none were sent.)
        or (values != ticket.custom_fields and not answers_changed and ticket.follow_up_of_id is None)
    ):
        raise ValidationError(SUBMIT_AGAIN)
    ticket.repeated_submission = True
    return ticket


def same_submission(
    ticket: Ticket, *, subject: str, description: str, uploads: Sequence[UploadedFile]
) -> bool:
    """Whether a submission's subject, description and files are those `ticket` was made from (its
    answers to the form are compared apart: the form may be gone, or asking more, since)."""
    subject, description = one_line(subject)[:200], nfc(markdown_trimmed(description))
    first = ticket.messages.order_by("created_at", "pk").first()
    return (ticket.subject, ticket.description) == (subject, description) and (
        first is None or same_files(first, list(uploads))
    )


@transaction.atomic
def ticket_reply(
    ticket: Ticket,
    *,
    body: str,
    actor: User | None,
    uploads: Sequence[UploadedFile] = (),
    status_after: str | None = None,
    expected_version: int | None = None,
    submission_key: UUID | None = None,
    as_requester: bool = False,
) -> TicketMessage:
    """A public reply. A customer's reply reopens a pending or solved ticket; on a closed ticket it
    opens a linked follow-up ticket and the message lands there, and on a merged one it goes to the
    ticket the conversation continues on. Staff may set a status on send. A repeated submission_key
    (the same form sent twice) returns the first message. `as_requester` (the portal): the ticket's
    requester writes as its customer even when they are staff who work it (an agent's own request in
    their own team), as the portal's page offers them."""
    body = markdown_trimmed(body)
    if not markdown_shows_text(body):
        raise ValidationError({"body": EMPTY_BODY})
    _require_visible(ticket, actor)
    ticket = _lock(ticket, None)
    # The same reply sent again stands as sent, even with "and solve" (which changed the version); sent
    # again with a status chosen since ("and solve" after all), the status is set now.
    if (sent := _sent_before(ticket, submission_key, body=body, actor=actor, uploads=uploads)) is not None:
        _status_on_resending(ticket, sent, status_after, actor=actor)
        return sent
    check_version(ticket, expected_version)
    _require_not_deleted(ticket)
    requester = as_requester and actor is not None and actor.pk == ticket.requester_id
    as_staff = not requester and _acts_as_staff(ticket, actor)
    if as_staff:  # staff are told where the conversation went (a customer's reply simply follows it)
        _require_not_merged(ticket, actor)
    if ticket.merged_into_id is not None and not as_staff:
        return ticket_reply(
            ticket.merged_into, body=body, actor=actor, uploads=uploads, submission_key=submission_key,
            as_requester=as_requester,
        )  # fmt: skip
    if not workflow.accepts_replies(ticket.status):
        if as_staff:
            raise TransitionRefused(CLOSED_TO_STAFF)
        follow_up = ticket_create(
            requester=ticket.requester,
            subject=cut(f"{FOLLOW_UP}{ticket.subject.removeprefix(FOLLOW_UP)}", 200),
            description=body,
            actor=actor,
            uploads=uploads,
            follow_up_of=ticket,
            submission_key=submission_key,
        )
        message = follow_up.messages.order_by("created_at", "pk").first()
        message.repeated_submission = follow_up.repeated_submission
        return message
    if as_staff:  # "send and close" closes like ticket_transition does, before anything is written
        _require_permission(ticket, actor, rbac.PROVIDE_SUPPORT, ANSWER_NOT_ALLOWED)
        _require_permission_to_close(ticket, actor, status_after)
        _require_transition(ticket, status_after, by_customer=False)
        articles_check_public_links(body)
    types = validate_uploads(list(uploads))
    message = _message(
        ticket,
        body=body,
        actor=actor,
        internal=False,
        from_staff=as_staff,
        uploads=uploads,
        types=types,
        submission_key=submission_key,
    )
    changed = []
    # An agent writing on their own request from the desk works it, but their words answer nobody: no
    # first reply, and new to its assignee (as ticket_create has it).
    own_request = as_staff and actor is not None and actor.pk == ticket.requester_id
    if as_staff:
        articles_count_uses(body)
        if ticket.first_response_at is None and actor is not None and not own_request:
            ticket.first_response_at = message.created_at
            changed.append("first_response_at")
        if ticket.status == Status.NEW and status_after is None and not own_request:
            status_after = Status.OPEN
        if actor is not None and ticket.assignee_id == actor.pk:  # answering it, they have read it
            ticket.assignee_seen_at = message.created_at
            changed.append("assignee_seen_at")
        if own_request:
            ticket.last_customer_message_at = message.created_at
            changed.append("last_customer_message_at")
            if status_after is None:  # as their reply from the portal would, it reopens one pending or solved
                status_after = workflow.status_after_customer_reply(ticket.status)
    else:
        ticket.last_customer_message_at = message.created_at
        changed.append("last_customer_message_at")
        status_after = workflow.status_after_customer_reply(ticket.status)
    _activity(ticket, actor, TicketActivity.Action.REPLY, new=str(message.uid))
    if status_after and status_after != ticket.status:
        # Staff chose the status; a customer's reopening is the workflow's own rule, not their choice.
        changed += _apply_transition(ticket, status_after, actor=actor, by_customer=False)
    _save(ticket, actor, changed, thread_changed=True)
    return message


@transaction.atomic
def ticket_add_note(
    ticket: Ticket,
    *,
    body: str,
    actor: User | None,
    uploads: Sequence[UploadedFile] = (),
    status_after: str | None = None,
    expected_version: int | None = None,
    submission_key: UUID | None = None,
) -> TicketMessage:
    """An internal note: staff only, never shown to customers. Like a reply, it may set a status on
    send, and a repeated submission_key returns the first note."""
    body = markdown_trimmed(body)
    if not markdown_shows_text(body):
        raise ValidationError({"body": EMPTY_BODY})
    _require_staff(ticket, actor)
    if actor is not None and not rbac.is_agent(actor):
        raise TicketNotAllowed(NOT_ALLOWED)
    _require_permission(ticket, actor, rbac.PROVIDE_SUPPORT, ANSWER_NOT_ALLOWED)
    _require_permission_to_close(ticket, actor, status_after)
    ticket = _lock(ticket, None)
    _require_not_deleted(ticket)
    sent = _sent_before(ticket, submission_key, body=body, actor=actor, uploads=uploads, internal=True)
    if sent is not None:
        _status_on_resending(ticket, sent, status_after, actor=actor)
        return sent
    check_version(ticket, expected_version)
    _require_not_merged(ticket, actor)  # a note left on the emptied source would be read by nobody
    _require_transition(ticket, status_after, by_customer=False)
    types = validate_uploads(list(uploads))
    message = _message(
        ticket,
        body=body,
        actor=actor,
        internal=True,
        from_staff=True,
        uploads=uploads,
        types=types,
        submission_key=submission_key,
    )
    _activity(ticket, actor, TicketActivity.Action.NOTE, new=str(message.uid))
    changed = []
    if status_after and status_after != ticket.status:
        changed = _apply_transition(ticket, status_after, actor=actor, by_customer=False)
    _save(ticket, actor, changed)
    return message


def _require_transition(ticket: Ticket, status: str | None, *, by_customer: bool) -> None:
    """Refuse a move the workflow does not allow, before anything (a file in storage) is written."""
    if (
        status
        and status != ticket.status
        and not workflow.can_transition(ticket.status, status, by_customer=by_customer)
    ):
        # A customer is told in the portal's words, which never name the team's own statuses (on hold).
        label = workflow.customer_label if by_customer else lambda value: Status(value).label
        raise TransitionRefused(TRANSITION_REFUSED.format(old=label(ticket.status), new=label(status)))


def _apply_transition(ticket: Ticket, status: str, *, actor: User | None, by_customer: bool) -> list[str]:
    """Move the locked ticket to `status` (not saved); returns the fields changed."""
    _require_transition(ticket, status, by_customer=by_customer)
    old = ticket.status
    ticket.status = status
    now = timezone.now()
    changed = ["status"]
    if status == Status.RESOLVED:
        ticket.resolved_at = now
        changed.append("resolved_at")
    elif status == Status.CLOSED:
        ticket.closed_at = now
        changed.append("closed_at")
        if ticket.resolved_at is None:
            ticket.resolved_at = now
            changed.append("resolved_at")
    elif old == Status.RESOLVED:
        ticket.resolved_at = None
        changed.append("resolved_at")
    if workflow.customer_status(old) != workflow.customer_status(status):
        changed.append("public_updated_at")  # set by _save: news on the portal
    _activity(ticket, actor, TicketActivity.Action.STATUS, "status", old, status)
    if status in workflow.SOLVED_STATUSES and not by_customer and ticket.assignee_id is None:
        changed += _assign_solver(ticket, actor)
    return changed


def _assign_solver(ticket: Ticket, actor: User | None) -> list[str]:
    """An unassigned ticket solved by an agent is theirs (Zendesk's "assign upon solve"): who solved it
    stays known, and a customer's reopening answer goes back to them, not to the unassigned pile. Not
    the System's closes, nor an agent who could not be assigned it."""
    if actor is None or not rbac.is_agent(actor) or not rbac.has_permission(actor, rbac.PROVIDE_SUPPORT):
        return []
    if not Ticket.objects.staff_visible_to(actor).filter(pk=ticket.pk).exists():
        return []
    ticket.assignee, ticket.assignee_seen_at = actor, timezone.now()
    _activity(ticket, actor, TicketActivity.Action.ASSIGNEE, "assignee", None, str(actor))
    return ["assignee", "assignee_seen_at"]


def ticket_close_check(ticket: Ticket, *, actor: User | None, expected_version: int | None = None) -> None:
    """Raise what ticket_transition would refuse in closing this ticket as read (it asks again under the
    row lock): the desk asks before a close it cannot undo only when the close can happen."""
    _require_staff(ticket, actor)
    check_version(ticket, expected_version)
    _require_not_deleted(ticket)
    _require_permission_to_close(ticket, actor, Status.CLOSED)
    _require_transition(ticket, Status.CLOSED, by_customer=False)


@transaction.atomic
def ticket_transition(
    ticket: Ticket,
    *,
    status: str,
    actor: User | None,
    expected_version: int | None = None,
    seen_message: int | None = None,
    as_requester: bool = False,
) -> Ticket:
    """Change the status as the workflow allows: staff by TRANSITIONS, customers by CUSTOMER_TRANSITIONS.
    Staff closing a ticket need close_ticket; customers cannot close (the workflow gives them no way).

    A customer's page sends `seen_message`, the last public message it showed: only a newer one of
    those (not an internal note they cannot see) makes their click stale. Asking a customer's ticket
    for the status it has already (a second click) changes nothing. `as_requester` (the portal): its
    requester acts as its customer even when they are staff who work it, as in ticket_reply."""
    if status not in Status.values:
        raise TransitionRefused(f"Unknown status {status!r}.")
    _require_visible(ticket, actor)
    ticket = _lock(ticket, expected_version)
    _require_not_deleted(ticket)
    requester = as_requester and actor is not None and actor.pk == ticket.requester_id
    as_staff = not requester and _acts_as_staff(ticket, actor)
    if as_staff:
        _require_permission_to_close(ticket, actor, status)
        # Already so (two admin saves at once, a script run twice): "Resolved → Resolved" would restart
        # the auto-close clock and write a change that is none.
        if ticket.status == status:
            return ticket
    else:
        # Merged since their page was loaded: say where it went (the workflow would only say "closed").
        _require_not_merged(ticket, actor)
        # Closed since (the auto-close of a solved ticket): what they can do is write, not reopen.
        if ticket.status == Status.CLOSED and status != Status.CLOSED:
            raise TransitionRefused(CLOSED_IS_FINAL)
        # Someone else wrote since the page was loaded (their own message from another tab is no news).
        newer = ticket.messages.filter(is_internal=False, pk__gt=seen_message or 0).exclude(author=actor)
        if seen_message is not None and (writers := set(newer.values_list("from_staff", flat=True))):
            raise StaleTicket(NEWER_MESSAGE if True in writers else NEWER_MESSAGE_OTHER)
        # Already so as far as the portal shows it (a ticket on hold is open to them): nothing to do.
        if workflow.customer_status(ticket.status) == workflow.customer_status(status):
            return ticket
        if ticket.status == Status.PENDING and status == Status.OPEN:
            raise TransitionRefused(WAITING_FOR_YOUR_REPLY)
    changed = _apply_transition(ticket, status, actor=actor, by_customer=not as_staff)
    _save(ticket, actor, changed)
    return ticket


@transaction.atomic
def ticket_assign(
    ticket: Ticket,
    *,
    assignee: User | None,
    actor: User | None,
    expected_version: int | None = None,
    seen: bool = False,
) -> Ticket:
    """Assign (or unassign) a ticket; the assignee must be an agent who can see it, and a new ticket
    given to someone opens. The actor needs assign_ticket, also to take a ticket for themselves. What
    the last assignee read says nothing of what the new one has: the customer's messages are unread for
    them, unless `seen` (an agent taking the ticket with its thread in front of them)."""
    _require_staff(ticket, actor)
    _require_permission(ticket, actor, rbac.ASSIGN_TICKET, ASSIGN_NOT_ALLOWED)
    ticket = _lock(ticket, expected_version)
    _require_not_deleted(ticket)
    _require_not_merged(ticket, actor)
    if ticket.assignee_id == (assignee.pk if assignee else None):
        # Unchanged, even where the assignee could no longer be chosen (suspended, no longer an agent):
        # saving a form that shows them must not fail, and the ticket keeps them until someone reassigns.
        return ticket
    require_not_closed(ticket)
    if assignee is not None:
        # Fresh role and team caches; the actor's are the ones their own permissions were just read with.
        assignee = (
            actor if actor is not None and assignee.pk == actor.pk else User.objects.get(pk=assignee.pk)
        )
        can_see = Ticket.objects.staff_visible_to(assignee).filter(pk=ticket.pk)
        if not rbac.is_agent(assignee) or not can_see.exists():
            raise InvalidAssignee(ASSIGNEE_NOT_AGENT)
        # Assigned, it would wait in the queue of someone who can neither reply nor note (rbac
        # answering_user_filter, which the menus offer).
        if not rbac.has_permission(assignee, rbac.PROVIDE_SUPPORT):
            raise InvalidAssignee(ASSIGNEE_CANNOT_ANSWER)
    old = str(ticket.assignee) if ticket.assignee_id else None
    ticket.assignee, ticket.assignee_seen_at = assignee, timezone.now() if seen else None
    _activity(
        ticket, actor, TicketActivity.Action.ASSIGNEE, "assignee", old, str(assignee) if assignee else None
    )
    changed = ["assignee", "assignee_seen_at"]
    # "New" says nobody has picked the ticket up: given to someone, it is open (as Zendesk has it), and
    # leaves the new tickets that still wait for a first look. Triage is no news for the customer: their
    # list keeps its order (public_updated_at), the status it shows reads Open.
    if assignee is not None and ticket.status == Status.NEW:
        opened = _apply_transition(ticket, Status.OPEN, actor=actor, by_customer=False)
        changed += [field for field in opened if field != "public_updated_at"]
    _save(ticket, actor, changed)
    return ticket


def ticket_merge_check(
    source: Ticket, *, into: Ticket, actor: User | None, expected_version: int | None = None
) -> None:
    """Raise what ticket_merge would refuse for these two tickets as read (it asks again under their
    row locks): the desk asks before a merge it cannot undo only when the merge can happen."""
    _require_merge_allowed(source, into, actor)
    _require_mergeable(source, into, expected_version, None)


def _require_merge_allowed(source: Ticket, into: Ticket, actor: User | None) -> None:
    if actor is not None and not rbac.has_permission(actor, rbac.MANAGE_THREADS):
        raise TicketNotAllowed(NOT_ALLOWED)
    _require_staff(source, actor)
    _require_staff(into, actor)
    _require_permission_to_close(source, actor, Status.CLOSED)  # merging closes the source
    if source.pk == into.pk:
        raise TicketNotAllowed(MERGE_SELF)


def _require_mergeable(
    source: Ticket, into: Ticket, expected_version: int | None, expected_into_version: int | None
) -> None:
    check_version(source, expected_version)
    # The confirmation named the target as it was (its team sees the notes that move): changed since,
    # it is asked again.
    if expected_into_version is not None and into.version != expected_into_version:
        raise TicketNotAllowed(MERGE_TARGET_CHANGED.format(ticket=into.reference))
    for ticket in (source, into):
        if ticket.is_deleted:  # gone for everyone but administrators: a thread moved there is lost
            raise TicketNotAllowed(MERGE_DELETED.format(ticket=ticket.reference))
        if ticket.status == Status.CLOSED or ticket.merged_into_id:
            raise TicketNotAllowed(MERGE_DONE.format(ticket=ticket.reference))
    if source.requester_id != into.requester_id:
        raise TicketNotAllowed(MERGE_OTHER_REQUESTER)
    if source.organization_id != into.organization_id:
        raise TicketNotAllowed(MERGE_OTHER_ORGANIZATION)


@transaction.atomic
def ticket_merge(
    source: Ticket,
    *,
    into: Ticket,
    actor: User | None,
    expected_version: int | None = None,
    expected_into_version: int | None = None,
) -> Ticket:
    """Move the source's thread and tags into `into` and close the source, pointing at it.

    Messages keep their times, so the merged thread reads in order. Requires the manage_threads
    permission, close_ticket (the source is closed) and that the actor can work both tickets; both
    belong to the same requester.
    """
    _require_merge_allowed(source, into, actor)
    # Both rows locked, always in the same order, so two merges of the same pair cannot deadlock.
    locked = {
        t.pk: t
        for t in Ticket.objects.select_for_update(no_key=True)
        .filter(pk__in=[source.pk, into.pk])
        .order_by("pk")
    }
    source, into = locked[source.pk], locked[into.pk]
    _require_mergeable(source, into, expected_version, expected_into_version)
    last_answer = (
        TicketMessage.objects.filter(ticket=into, from_staff=True, is_internal=False)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    # The source's first answer since the target was opened: one from before answered another question
    # (the target's first reply cannot come before the target).
    first_answer = source.first_response_at and (
        TicketMessage.objects.filter(ticket=source, from_staff=True, is_internal=False)
        .filter(created_at__gte=into.created_at)
        .exclude(author_id=source.requester_id)  # an agent's words on their own request answer nobody
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    moved = TicketMessage.objects.filter(ticket=source).update(ticket=into)
    tags_before = sorted(into.tags.values_list("name", flat=True))
    into.tags.add(*source.tags.all())
    tags_after = sorted(into.tags.values_list("name", flat=True))
    into_changed = []
    last_before = into.last_customer_message_at
    # A customer message that came with the thread is unread for the target's assignee as it was here.
    if source.last_customer_message_at and (
        into.last_customer_message_at is None
        or source.last_customer_message_at > into.last_customer_message_at
    ):
        into.last_customer_message_at = source.last_customer_message_at
        into_changed.append("last_customer_message_at")
        # The customer answered (on the other ticket) after the target was last answered: as a reply
        # on the target would, it reopens one pending on them or solved.
        answered = last_answer is None or source.last_customer_message_at > last_answer
        # Solved after reading it (the agent saw the duplicate and answered there): it stays solved.
        if into.resolved_at is not None and source.last_customer_message_at <= into.resolved_at:
            answered = False
        if answered and into.status in workflow.REOPENED_BY_CUSTOMER_REPLY:
            reopened = workflow.status_after_customer_reply(into.status)
            into_changed += _apply_transition(into, reopened, actor=actor, by_customer=False)
    # The target read to its last customer message stays read only if its assignee read the ones that
    # came with the thread, on the other ticket (theirs too): read here later, they were not on it yet.
    brought = source.last_customer_message_at
    seen_here = into.assignee_seen_at
    if brought and seen_here is not None and (last_before is None or seen_here >= last_before):
        seen_there = source.assignee_seen_at if source.assignee_id == into.assignee_id else None
        read = seen_there is not None and seen_there >= brought
        into.assignee_seen_at = max(seen_here, seen_there) if read else None
        if into.assignee_seen_at != seen_here:
            into_changed.append("assignee_seen_at")
    # An answer that came with the thread answered the customer when it was written.
    if first_answer:
        if into.first_response_at is None or first_answer < into.first_response_at:
            into.first_response_at = first_answer
            into_changed.append("first_response_at")
        # Answered by staff (on the other ticket): as a staff reply there would, it leaves New.
        if into.status == Status.NEW:
            into_changed += _apply_transition(into, Status.OPEN, actor=actor, by_customer=False)
    old_status = source.status
    source.merged_into = into
    source.status = Status.CLOSED
    source.closed_at = timezone.now()
    source.resolved_at = source.resolved_at or source.closed_at  # closed as every other way closes it
    _activity(source, actor, TicketActivity.Action.MERGE, "merged_into", None, into.reference)
    _activity(source, actor, TicketActivity.Action.STATUS, "status", old_status, Status.CLOSED)
    _activity(into, actor, TicketActivity.Action.MERGE, "merged_from", None,
              {"ticket": source.reference, "messages": moved})  # fmt: skip
    if tags_after != tags_before:
        _activity(into, actor, TicketActivity.Action.TAGS, "tags", tags_before, tags_after)
    _save(source, actor, ["merged_into", "status", "closed_at", "resolved_at"])
    _save(into, actor, into_changed, thread_changed=True)  # the source's messages joined its thread
    return into


@transaction.atomic
def ticket_update_fields(
    ticket: Ticket, *, changes: dict[str, Any], actor: User | None, expected_version: int | None = None
) -> Ticket:
    """Change internal fields (subject, priority, team, custom fields, escalation): staff only, each
    field with its permission from FIELD_PERMISSIONS. Every field is checked before any is changed."""
    unknown = set(changes) - STAFF_FIELDS
    if unknown:
        raise TicketNotAllowed(UNKNOWN_FIELD.format(name=", ".join(sorted(unknown))))
    _require_staff(ticket, actor)
    for name in sorted(changes):
        label = FIELD_LABELS.get(name, name)
        _require_permission(ticket, actor, FIELD_PERMISSIONS[name], FIELD_NOT_ALLOWED.format(field=label))
    ticket = _lock(ticket, expected_version)
    _require_not_deleted(ticket)
    _require_not_merged(ticket, actor)
    changed: list[str] = []
    for name, value in changes.items():
        if name == "custom_fields":
            definitions = ticket.form_schema
            value = schema.clean_values(definitions, value, stored=ticket.custom_fields)
        if name == "priority" and value not in Priority.values:
            raise ValidationError({"priority": f"Unknown priority {value!r}."})
        # Triage moves a ticket to any team that works tickets (a billing question that landed in
        # Support goes to Billing), including one the agent does not work. A ticket left in a team
        # closed since may stay there: saving a page that shows it so must not fail.
        if name == "team" and value is not None and not value.is_active and value.pk != ticket.team_id:
            raise ValidationError({"team": TEAM_INACTIVE.format(team=value)})
        if name == "subject":
            value = one_line(str(value))[:200]
            if not shows_text(value):  # as ticket_create: invisible characters alone make no subject
                raise ValidationError({"subject": "This field is required."})
        old = getattr(ticket, name)
        if name == "custom_fields":  # by label, as the pages show them, and only those that changed
            shown_before, shown_after = schema.labelled_changes(definitions, old, value)
            if not shown_after:  # a field added since reads "—" either way: nothing to record
                continue
        if old == value:
            continue
        setattr(ticket, name, value)
        changed.append(name)
        action = {
            "priority": TicketActivity.Action.PRIORITY,
            "team": TicketActivity.Action.TEAM,
            "custom_fields": TicketActivity.Action.CUSTOM_FIELDS,
        }.get(name, TicketActivity.Action.FIELDS)
        if name == "custom_fields":
            _activity(ticket, actor, action, name, shown_before, shown_after)
        else:
            _activity(ticket, actor, action, name, _shown(old), _shown(value))
        if name == "team" and ticket.assignee_id and not _works_team(ticket.assignee, value):
            # The new team's unassigned queue is where it should show up, not an outsider's own list.
            _activity(ticket, actor, TicketActivity.Action.ASSIGNEE, "assignee", str(ticket.assignee), None)
            ticket.assignee, ticket.assignee_seen_at = None, None
            changed += ["assignee", "assignee_seen_at"]
    if changed:
        require_not_closed(ticket)
        _save(ticket, actor, changed)
    return ticket


def _works_team(user: User, team: Team | None) -> bool:
    """Whether `user` works `team`'s queue: a member, a team grant, or an administrator."""
    return team is not None and team.pk in rbac.workable_team_ids(user)


def _shown(value: Any) -> Any:
    """A value as the activity timeline stores it (JSON)."""
    return str(value) if isinstance(value, Team) else value


def clean_tag_names(names: Sequence[str]) -> list[str]:
    """Tag names as stored (as_tag), no duplicates, sorted; blank ones (a trailing comma) left out;
    ValidationError if one shows nothing (a blank chip), is too long or holds other than letters (with
    their accents: "İzmir" lowers to an i and a combining dot), digits, spaces, - and _."""
    typed = [name for name in names if name.strip()]
    cleaned = sorted({as_tag(name) for name in typed})
    if not all(map(shows_text, typed)):
        raise ValidationError({"tags": TAG_SHOWS_NOTHING})
    for name in cleaned:
        if len(name) > 50 or not all(_tag_character(name, at) for at in range(len(name))):
            raise ValidationError({"tags": TAG_INVALID})
    return cleaned


def _tag_character(name: str, at: int) -> bool:
    """A letter (with its marks), a digit, a space, - or _; or a zero-width (non-)joiner between two
    letters, which Persian spells many everyday words with ("نرم‌افزار", software) and Indic scripts
    shape their conjuncts with."""
    ch = name[at]
    if ch in "\u200c\u200d":
        return (
            0 < at < len(name) - 1
            and unicodedata.category(name[at - 1])[0] in "LM"
            and name[at + 1].isalpha()
        )
    return ch.isalnum() or ch in " -_" or unicodedata.category(ch).startswith("M")


@transaction.atomic
def ticket_set_tags(
    ticket: Ticket,
    *,
    names: Sequence[str] | None = None,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
    actor: User | None,
    expected_version: int | None = None,
) -> Ticket:
    """Set the ticket's tags to `names`, or add and remove some: worked out on the locked row, so a tag
    a colleague put on the ticket while a bulk "add tag" ran stays."""
    _require_staff(ticket, actor)
    _require_permission(ticket, actor, rbac.PROVIDE_SUPPORT, FIELD_NOT_ALLOWED.format(field="tags"))
    ticket = _lock(ticket, expected_version)
    _require_not_deleted(ticket)
    _require_not_merged(ticket, actor)
    held = dict(ticket.tags.values_list("name", "pk"))
    current = sorted(held)
    if names is not None:
        wanted = clean_tag_names(names)
    else:
        wanted = sorted((set(current) | set(clean_tag_names(add))) - set(clean_tag_names(remove)))
    if wanted == current:
        return ticket
    require_not_closed(ticket)
    # A few queries for any number of tags, the ticket's row locked: the tags to add that exist, the new
    # ones (a colleague's new tag of the same name at the same moment is kept, not doubled) and their
    # ids, then the links added and removed.
    adding = [name for name in wanted if name not in held]
    ids = dict(Tag.objects.filter(name__in=adding).values_list("name", "pk")) if adding else {}
    if new := [Tag(name=name) for name in adding if name not in ids]:
        Tag.objects.bulk_create(new, ignore_conflicts=True)
        ids = dict(Tag.objects.filter(name__in=adding).values_list("name", "pk"))
    links = Ticket.tags.through
    if adding:
        # ignore_conflicts: a link made meanwhile without the ticket's lock (in the admin) is kept.
        links.objects.bulk_create(
            [links(ticket=ticket, tag_id=ids[name]) for name in adding], ignore_conflicts=True
        )
    if removing := [held[name] for name in current if name not in wanted]:
        links.objects.filter(ticket=ticket, tag_id__in=removing).delete()
    _activity(ticket, actor, TicketActivity.Action.TAGS, "tags", current, wanted)
    _save(ticket, actor, [])
    return ticket


@transaction.atomic
def ticket_delete(ticket: Ticket, *, actor: User) -> Ticket:
    """Soft delete (spam, a duplicate entered by mistake): the ticket disappears from every list and
    page, out of every queue; administrators still open it by its number and can restore it. Its rows
    stay for the audit trail. The tickets
    merged into it go with it: their conversation is in it, and a customer's merged ticket would
    otherwise stand empty, pointing at one they cannot open."""
    return _set_deleted(ticket, True, actor=actor)


@transaction.atomic
def ticket_restore(ticket: Ticket, *, actor: User) -> Ticket:
    """Undo ticket_delete, for the tickets merged into it that went with it too."""
    return _set_deleted(ticket, False, actor=actor)


def _set_deleted(ticket: Ticket, deleted: bool, *, actor: User) -> Ticket:
    if not rbac.is_administrator(actor):
        raise TicketNotAllowed(NOT_ALLOWED)
    ticket = _lock(ticket, None)
    if ticket.is_deleted == deleted:
        raise AlreadySo("It was deleted already." if deleted else "It is not deleted.")
    if not deleted and (gone := [t for t in ticket.merge_chain()[1:] if t.is_deleted]):
        # Alone it would stand empty, its conversation (and any reply to it) in a ticket no one sees.
        # The furthest deleted one along the chain is where to start; this one comes back with it if
        # they went together (_set_deleted below, on that one).
        along = all(t.deleted_at == ticket.deleted_at for t in gone)
        message = RESTORE_TARGET_FIRST if along else RESTORE_TARGET_THEN_THIS
        raise TicketNotAllowed(message.format(ticket=ticket.reference, into=gone[-1].reference))
    was_deleted_at = ticket.deleted_at
    now = timezone.now()
    for each in [ticket, *_merged_into(ticket)]:
        if each.is_deleted == deleted or (not deleted and each.deleted_at != was_deleted_at):
            continue  # deleted before, on its own: it stays so
        each.is_deleted, each.deleted_at = deleted, now if deleted else None
        action = TicketActivity.Action.DELETED if deleted else TicketActivity.Action.RESTORED
        _activity(each, actor, action, "is_deleted", not deleted, deleted)
        _save(each, actor, ["is_deleted", "deleted_at"])
    return ticket


def _merged_into(ticket: Ticket) -> list[Ticket]:
    """The tickets merged into `ticket`, and those merged into them, and so on, locked."""
    found, frontier = [], [ticket.pk]
    seen = {ticket.pk}
    while frontier:
        step = list(
            Ticket.objects.select_for_update(no_key=True)
            .filter(merged_into_id__in=frontier)
            .exclude(pk__in=seen)
            .order_by("pk")
        )
        found += step
        frontier = [each.pk for each in step]
        seen.update(frontier)
    return found


def tickets_close_resolved(*, now: datetime | None = None, days: int | None = None) -> int:
    """Close tickets resolved `days` ago or longer (the scheduled auto-close), as the System. Each is
    checked again under its row lock: one its customer reopened since the list was read stays open
    (the System may close an open ticket, and closed is final)."""
    now = now or timezone.now()
    days = settings.TICKET_AUTO_CLOSE_DAYS if days is None else days
    if days < 0:  # a cut-off in the future would close tickets resolved a moment ago, for good
        raise ValueError(f"Auto-close after {days} days: the number of days cannot be negative.")
    cutoff = now - timedelta(days=days)
    # A deleted ticket (spam, a mistake) is left as it is: restored, it closes at the next run.
    due = Q(status=Status.RESOLVED, resolved_at__lte=cutoff, is_deleted=False)
    closed = 0
    for pk in Ticket.objects.filter(due).values_list("pk", flat=True).iterator():
        with transaction.atomic():
            ticket = Ticket.objects.select_for_update(no_key=True).filter(due, pk=pk).first()
            if ticket is None:
                continue  # reopened (or closed) meanwhile
            ticket_transition(ticket, status=Status.CLOSED, actor=None)
            closed += 1
    return closed


@transaction.atomic
def ticket_submit_anonymous(*, email: str, name: str, **fields: Any) -> Ticket:
    """A visitor's ticket and, for an address not known yet, its pending account, in one transaction: a
    ticket refused (a bad file, say) leaves no account behind. The same form sent again (a second click)
    lands on the ticket it made, even where visitors may no longer submit since the first sending."""
    sent = visitor_submission(fields.get("submission_key"), email=email)
    requester = sent.requester if sent is not None else anonymous_requester(email=email, name=name)
    return ticket_create(requester=requester, actor=None, **fields)


def visitor_submission(key: UUID | None, *, email: str) -> Ticket | None:
    """The ticket a visitor's submission key already made for the account of `email`, if any."""
    if key is None or "\x00" in email:  # no account has a NUL (PostgreSQL's text takes none)
        return None
    sent = Ticket.objects.filter(submission_key=key, requester__in=User.objects.with_email(email))
    return sent.select_related("requester").first()


def anonymous_requester(*, email: str, name: str) -> User:
    """The account an anonymous submission belongs to: the existing one whose owner reads the address (or
    that an earlier anonymous submission made), or a new pending account."""
    if not SiteConfiguration.objects.get_current().anonymous_submission:
        raise TicketNotAllowed(ANONYMOUS_CLOSED)
    existing = User.objects.with_email(email).first()
    if existing is not None:
        return _known_requester(existing)
    from accounts import roles
    from accounts import services as account_services

    validate_ascii_email(email)
    user = User(
        email=User.objects.normalize_email(email),
        name=name.strip(),
        status=User.Status.PENDING,
        # A new address of a customer's domain files with that organisation, where its managers see it.
        organization=account_services.organization_for_address(email),
    )
    user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        # An account with the address committed meanwhile: a first submission from it (two tabs, a
        # double click), or a sign-up, which has shown no more than before.
        return _known_requester(User.objects.with_email(email).get())
    created = {"email": (None, user.email), "status": (None, user.status)}
    if user.organization is not None:
        created["organization"] = (None, str(user.organization))
    audit.record("create", actor=None, obj=user, changes=created)
    account_services.role_assign(user, roles.CUSTOMER, actor=None)
    return user


def _known_requester(existing: User) -> User:
    """As mail to the helpdesk would, a known customer's address files the ticket under them (the receipt
    goes to them). A staff or suspended account must sign in: a visitor could otherwise file tickets as
    an agent, and a suspension would not hold. So must an account nobody has shown to read the address:
    open sign-up checks no address, and whoever signed up with someone else's would read every request
    that person sends without signing in. A pending account is an earlier submission's, unclaimed
    (claiming it verifies the address: accounts.services.user_password_reset, _pending_account_claim)."""
    if existing.effective_status() == User.Status.SUSPENDED or rbac.is_staff(existing):
        raise ValidationError({"email": SIGN_IN_TO_SUBMIT})
    if existing.status != User.Status.PENDING and existing.email_verified_at is None:
        raise ValidationError({"email": SIGN_IN_TO_SUBMIT})
    return existing


def send_submission_receipt(ticket: Ticket, *, portal_url: str, reset_url: str) -> None:
    """After commit: enqueue the mail that tells the requester their ticket number and how to follow it
    (tickets.tasks.send_submission_receipt, which tries again while the mail server is down)."""
    from tickets.tasks import send_submission_receipt as receipt  # the tasks module imports this one

    transaction.on_commit(lambda: receipt.enqueue(ticket.pk, portal_url=portal_url, reset_url=reset_url))


def ticket_mark_seen(ticket: Ticket, *, actor: User, shown: datetime | None = None) -> None:
    """The assignee opened the ticket: clears the unread marker, up to `shown` (the time of the last
    customer message their page showed; a message that came after it stays unread). Not a change to the
    ticket itself, so it neither bumps the version nor writes activity."""
    now = timezone.now()
    # Sent by the page, so kept between the ticket's creation and now (a date PostgreSQL stores but
    # cannot read back, before year 1 in UTC, would break every page that reads the ticket).
    seen = min(max(shown, ticket.created_at), now) if shown is not None else now
    Ticket.objects.filter(pk=ticket.pk, assignee=actor).filter(
        Q(assignee_seen_at__isnull=True) | Q(assignee_seen_at__lt=seen)
    ).update(assignee_seen_at=seen)


NAME_TAKEN = "name_taken"  # the code of SAVED_VIEW_EXISTS: the queue then offers to replace that view
SAVED_VIEW_GONE = "Your view “{name}” was deleted meanwhile: save this one as a new view."
BULK_ACTION_MISSING = "Choose an action first."
BULK_ACTIONS = ("assign_me", "assign", "unassign", "status", "priority", "team", "add_tag", "remove_tag")


@dataclass
class BulkOutcome:
    ticket: Ticket
    error: str = ""
    changed: bool = True  # False: the ticket already was as asked, and nothing was written

    @property
    def ok(self) -> bool:
        return not self.error


def tickets_bulk_apply(
    tickets: Sequence[Ticket],
    *,
    action: str,
    value: str,
    actor: User,
    versions: dict[int, int | None] | None = None,
) -> list[BulkOutcome]:
    """Apply one action to each ticket through the single-ticket services, each in its own transaction,
    and report per ticket what was refused and why. A ticket whose version differs from the one in
    `versions` (what the queue showed) changed since, and is refused like a stale single edit."""
    if not action:
        raise ValidationError({"action": BULK_ACTION_MISSING})
    if action not in BULK_ACTIONS:
        raise ValidationError({"action": "That action is not one the desk offers; choose one from the menu."})
    if action in ("add_tag", "remove_tag") and not value.strip():
        raise ValidationError({"value": BULK_TAG_MISSING})
    # The agent or team named is read once for all the tickets, as it is checked.
    assignee, team = _check_bulk_value(action, value)
    outcomes = []
    for ticket in tickets:
        try:
            expected = (versions or {}).get(ticket.pk)
            changed = _bulk_one(ticket, action, value, actor, expected, assignee=assignee, team=team)
        except StaleTicket:
            from tickets.selectors import bulk_made_already  # selectors import this module

            # Their own action sent twice (the queue's form posted again) is already so, not stale.
            if bulk_made_already(ticket, action, value, actor=actor, seen_version=expected):
                outcomes.append(BulkOutcome(ticket, changed=False))
            else:
                outcomes.append(BulkOutcome(ticket, BULK_STALE.format(ticket=ticket.reference)))
        except (TicketError, ValidationError) as error:
            message = "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
            outcomes.append(BulkOutcome(ticket, message))
        else:
            outcomes.append(BulkOutcome(ticket, changed=changed))
    return outcomes


def _check_bulk_value(action: str, value: str) -> tuple[User | None, Team | None]:
    """A value no ticket could take (an unknown status, an id of nobody, a tag the rule refuses) is refused
    once, before any ticket is touched, so the queue comes back with the tickets still ticked; whether a
    ticket may take a valid one is still decided ticket by ticket. Returns the agent and the team named
    (for "assign" and "team")."""
    shown = value if len(value) <= 40 else cut(value, 39) + "…"
    if action == "status" and value not in Status.values:
        raise ValidationError({"value": BULK_UNKNOWN.format(what="status", value=shown)})
    if action == "priority" and value not in Priority.values:
        raise ValidationError({"value": BULK_UNKNOWN.format(what="priority", value=shown)})
    assignee = User.objects.filter(pk=parse_id(value)).first() if action == "assign" else None
    if action == "assign" and assignee is None:
        raise ValidationError({"value": BULK_UNKNOWN.format(what="agent", value=shown)})
    # Suspended, or no longer staff, since the menu was read: no ticket could take them.
    if action == "assign" and not (assignee.is_active and rbac.is_agent(assignee)):
        raise ValidationError({"value": ASSIGNEE_GONE})
    if action == "assign" and not rbac.has_permission(assignee, rbac.PROVIDE_SUPPORT):
        raise ValidationError({"value": ASSIGNEE_CANNOT_ANSWER})
    team = Team.objects.filter(pk=parse_id(value)).first() if action == "team" else None
    if action == "team" and team is None:
        raise ValidationError({"value": BULK_UNKNOWN.format(what="team", value=shown)})
    if action == "team" and not team.is_active:  # tickets in it already would be left as they are anyway
        raise ValidationError({"value": TEAM_INACTIVE.format(team=team)})
    if action in ("add_tag", "remove_tag"):
        try:
            clean_tag_names([value])
        except ValidationError as error:
            raise ValidationError({"value": error.messages}) from None
    return assignee, team


def _bulk_one(
    ticket: Ticket,
    action: str,
    value: str,
    actor: User,
    expected: int | None,
    *,
    assignee: User | None,
    team: Team | None,
) -> bool:
    """Apply `action` to one ticket; whether it changed (a service that finds nothing to do writes
    nothing and leaves the version as it was)."""
    done: Ticket | None = None
    if action == "assign_me":
        done = ticket_assign(ticket, assignee=actor, actor=actor, expected_version=expected)
    elif action == "assign":
        done = ticket_assign(ticket, assignee=assignee, actor=actor, expected_version=expected)
    elif action == "unassign":
        done = ticket_assign(ticket, assignee=None, actor=actor, expected_version=expected)
    elif action == "status":
        if value != ticket.status:  # already there: nothing to do, not a forbidden transition
            done = ticket_transition(ticket, status=value, actor=actor, expected_version=expected)
    elif action == "priority":
        changes = {"priority": value}
        done = ticket_update_fields(ticket, changes=changes, actor=actor, expected_version=expected)
    elif action == "team":
        done = ticket_update_fields(ticket, changes={"team": team}, actor=actor, expected_version=expected)
    elif action in ("add_tag", "remove_tag"):
        change = {"add" if action == "add_tag" else "remove": [value]}
        done = ticket_set_tags(ticket, **change, actor=actor, expected_version=expected)
    return done is not None and done.version != ticket.version


@transaction.atomic
def saved_view_create(
    *, name: str, query: str, team: Team | None, actor: User, replace: bool = False
) -> "SavedView":
    """Save a queue filter for the agent, or share it with a team the agent works. With `replace`, a view
    of the agent's own that reads as `name` takes the new filters and sharing instead (a view is updated
    as it was made: filtered on the queue, then saved again under its name)."""
    if not rbac.is_agent(actor):
        raise TicketNotAllowed(NOT_ALLOWED)
    if team is not None and team.pk not in rbac.workable_team_ids(actor):
        raise TicketNotAllowed(TEAM_NOT_YOURS.format(team=team))
    if team is not None and not team.is_active:  # a team closed down works no queue to share it with
        raise ValidationError({"team": TEAM_INACTIVE.format(team=team)})
    name = one_line(name)[:80]
    if not shows_text(name):
        raise ValidationError({"name": "This field is required."})
    # Two views whose names read alike ("Café" typed either way, "Urgent" and "Urgent" with a zero-width
    # space) are one name twice in the sidebar.
    mine = list(SavedView.objects.filter(owner=actor).only("pk", "name"))
    if same := [view for view in mine if reads_as(view.name) == reads_as(name)]:
        if replace:
            return _saved_view_replace(same[0], query=query, team=team, actor=actor)
        raise ValidationError({"name": ValidationError(SAVED_VIEW_EXISTS.format(name=name), code=NAME_TAKEN)})
    # Unlocked: two saved at the same moment may pass a bound by one, which bounds a list, not a rule.
    if len(mine) >= SAVED_VIEWS_MAX:
        raise ValidationError(SAVED_VIEWS_FULL)
    if team is not None and SavedView.objects.filter(team=team).count() >= SAVED_VIEWS_MAX:
        raise ValidationError({"team": TEAM_VIEWS_FULL.format(team=team)})
    from tickets.selectors import built_in_views  # selectors import this module

    # Beside the built-in "My open tickets", a saved one of that name is two links that read alike.
    if any(reads_as(view.name) == reads_as(name) for view in built_in_views()):
        raise ValidationError({"name": SAVED_VIEW_BUILT_IN.format(name=name)})
    try:
        with transaction.atomic():  # the same name saved at the same moment (a double click)
            view = SavedView.objects.create(owner=actor, name=name, query=query, team=team)
    except IntegrityError:
        raise ValidationError(
            {"name": ValidationError(SAVED_VIEW_EXISTS.format(name=name), code=NAME_TAKEN)}
        ) from None
    audit.record("create", actor=actor, obj=view, changes={"name": (None, name), "team": (None, team)})
    return view


@transaction.atomic
def _saved_view_replace(view: "SavedView", *, query: str, team: Team | None, actor: User) -> "SavedView":
    locked = (
        SavedView.objects.select_for_update(of=("self",)).select_related("team").filter(pk=view.pk).first()
    )
    if locked is None:  # deleted since it was found (from another page, by a supervisor)
        raise ValidationError({"name": SAVED_VIEW_GONE.format(name=view.name)})
    moved_to = team is not None and locked.team_id != team.pk
    if moved_to and SavedView.objects.filter(team=team).count() >= SAVED_VIEWS_MAX:
        raise ValidationError({"team": TEAM_VIEWS_FULL.format(team=team)})
    changes = {}
    if locked.query != query:
        changes["query"] = (locked.query, query)
    if locked.team_id != (team.pk if team else None):
        changes["team"] = (locked.team, team)
    if changes:
        locked.query, locked.team = query, team
        locked.save(update_fields=["query", "team"])
        audit.record("update", actor=actor, obj=locked, changes=changes)
    return locked


def saved_view_deletable(view: "SavedView", actor: User) -> bool:
    """Its owner deletes a saved view; so do the supervisors of the team it is shared with (and
    administrators), who keep the team's list tidy: a view shared by someone who has since left the team
    would otherwise stay in it for good."""
    if view.owner_id == actor.pk:
        return True
    return view.team_id is not None and view.team_id in rbac.supervised_team_ids(actor)


@transaction.atomic
def saved_view_delete(view: "SavedView", *, actor: User) -> bool:
    """Delete a saved view as saved_view_deletable allows, judged on the row as it is now (its owner may
    have just stopped sharing it); False when it was gone already (a second click, which waited on the
    first's lock), with nothing recorded."""
    locked = SavedView.objects.select_for_update().filter(pk=view.pk).first()
    if locked is None:
        return False
    if not saved_view_deletable(locked, actor):
        raise TicketNotAllowed(NOT_ALLOWED)
    audit.record(
        "delete",
        actor=actor,
        obj=locked,
        changes={"name": (locked.name, None), "team": (locked.team, None), "owner": (locked.owner, None)},
    )
    locked.delete()
    return True
