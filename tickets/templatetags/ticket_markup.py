"""Ticket markup used in long lists, built in Python: `{% status_badge ticket %}` and `{% queue_rows %}`.

The queue's 25 rows cost about 0.4 ms each as template code (some twenty variable look-ups, a URL, an
include and a timestamp per row): more than the rest of the page. format_html escapes every value
as the template engine would.
"""

from urllib.parse import quote

from django import template
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from helpdesk.templatetags.timestamps import timestamp
from tickets.models import Ticket
from tickets.workflow import WAITING_FOR_REQUESTER, Status, customer_label, customer_status

register = template.Library()

EMPTY = "—"
QUEUE_ROW = (
    '<tr data-ticket-row data-href="{url}">'
    # The version read travels with the choice: a bulk action refuses tickets changed since.
    '<td><input type="checkbox" name="tickets" value="{pk}:{version}" form="bulk-form" '
    'aria-label="Select {reference}"{checked}></td>'
    '<td><a href="{url}" data-ticket-link>{reference}</a></td>'
    '<td class="text-cell">{unread}<span dir="auto">{subject}</span></td>'
    '<td class="name-cell">{requester}</td>'
    "<td>{organization}</td>"
    "<td>{status}</td>"
    '<td><span class="badge badge-{priority}">{priority_label}</span></td>'
    "<td>{team}</td>"
    '<td class="name-cell">{assignee}</td>'
    "<td>{updated}</td>"
    "</tr>\n"
)
UNREAD = mark_safe(
    '<span class="unread" title="New customer reply">●<span class="visually-hidden"> New reply</span></span> '
)


BADGE = '<span class="badge badge-{}">{}</span>'


@register.simple_tag
def status_badge(ticket: Ticket, for_customer: bool = False, viewer_id: int | None = None) -> SafeString:
    """The ticket's status as a badge; `for_customer`, in the portal's words. A colleague's ticket that an
    organisation manager (`viewer_id`) reads waits for its requester's reply, not for theirs."""
    if for_customer:  # the class too: "badge-on_hold" would tell what the label does not
        status = customer_status(ticket.status)
        label = customer_label(ticket.status)
        if status == Status.PENDING and viewer_id is not None and ticket.requester_id != viewer_id:
            label = WAITING_FOR_REQUESTER
        return format_html(BADGE, status, label)
    return format_html(BADGE, ticket.status, ticket.get_status_display())


@register.filter
def name_shown(user, contact: bool) -> str:
    """`{{ user|name_shown:may.contact }}`: User.name_shown in a template."""
    return user.name_shown(contact=bool(contact))


@register.simple_tag
def queue_rows(
    tickets: list[Ticket], queue_query: str, chosen: frozenset[str] = frozenset(), contact: bool = False
) -> SafeString:
    """The queue table's rows; each links to the workspace with the queue it came from. `chosen`: the
    rows a refused bulk action had ticked ("pk:version"), ticked again; `contact`: whether the viewer
    may see a nameless requester's address (User.name_shown)."""
    from_queue = "?queue=" + quote(queue_query, safe="/")
    return format_html_join(
        "",
        QUEUE_ROW,
        (
            {
                "url": reverse("tickets:desk_ticket", args=[ticket.number]) + from_queue,
                "pk": ticket.pk,
                "version": ticket.version,
                "checked": " checked" if f"{ticket.pk}:{ticket.version}" in chosen else "",
                "reference": ticket.reference,
                "unread": UNREAD if ticket.unread_by_assignee else "",
                "subject": ticket.subject,
                "requester": ticket.requester.name_shown(contact=contact),
                "organization": ticket.organization or EMPTY,
                "status": status_badge(ticket),
                "priority": ticket.priority,
                "priority_label": ticket.get_priority_display(),
                "team": ticket.team or EMPTY,
                "assignee": ticket.assignee or EMPTY,
                "updated": timestamp(ticket.updated_at, with_year=False),
            }
            for ticket in tickets
        ),
    )
