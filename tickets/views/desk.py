"""Agent desk (/desk/…): the queue with filters, saved views and bulk actions, and the ticket workspace."""

import hashlib
from datetime import datetime
from typing import NamedTuple
from urllib.parse import urlsplit

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect

from accounts import rbac
from accounts.decorators import agent_required
from accounts.models import Organization, Team, User
from helpdesk import drafts
from helpdesk.display import shown_count
from helpdesk.forms import add_service_errors, is_site_path, parse_id
from helpdesk.models import Priority
from tickets import schema, selectors, services, workflow
from tickets.filters import DEFAULT_SORT, SORT_LABELS
from tickets.forms import (
    CustomFieldsForm,
    SavedViewForm,
    WorkspaceReplyForm,
    posted_version,
    read_version,
)
from tickets.freshness import changes_tickets, last_change
from tickets.models import SavedView, Ticket, number_from
from tickets.workflow import Status

QUEUE_TEMPLATE = "tickets/desk/queue.html"
WORKSPACE_TEMPLATE = "tickets/desk/workspace.html"
BULK_LIMIT = 500
BULK_REFERENCES_SHOWN = 20  # in a message; a full selection of 500 would bury the page
BULK_TOO_MANY = "{left} beyond the first {limit} {were} left unchanged: select at most {limit} at a time."
REPLY_RESTORED = "Here is what you wrote before signing in: check the ticket, then send it."
BULK_OUT_OF_REACH = "No longer in your queues after this change: {tickets}."
EDITED_OUT_OF_REACH = (
    "Saved. {ticket} is now {whereabouts}, no longer in your queues, so you are back in the queue."
)
# The composer comes back with the ticket as it is now and the message as typed: reloading would lose it.
REPLY_STALE = (
    "Someone changed this ticket while you were writing: the page now shows their change. "
    "Your message was not sent; check it and send it again."
)
MERGE_NO_NUMBER = "Type the number of the ticket to merge this one into, for example T-1234."
# A merge from a stale page: the page shows the ticket as it is now, the number as typed.
MERGE_STALE = (
    "Someone changed this ticket since you opened it: the page now shows their change. It was not "
    "merged; check it and merge it again."
)
# An inline edit from a stale page: the card shows the ticket as it is now, tags and custom fields as typed.
EDIT_STALE = (
    "Someone changed this ticket since you opened it: the page now shows their change. Yours was not "
    "saved; check it and save it again."
)
EDIT_STALE_HELD = (
    "Someone changed this ticket since you opened it: the page now shows their change. Yours, “{chosen}”, "
    "was not saved: the ticket holds it already."
)
EDIT_STALE_CHOSEN = (
    "Someone changed this ticket since you opened it: the page now shows their change. Yours, “{chosen}”, "
    "was not saved; if it still applies, choose it again and save."
)


@agent_required
@require_safe
def queue(request: HttpRequest) -> HttpResponse:
    context = _queue_context(request, request.GET)
    if request.htmx and request.htmx.target == "queue-table":
        response = render(request, QUEUE_TEMPLATE + "#queue-fragment", context)
        # The 30-second refresh asks with If-None-Match: nothing changed, nothing sent.
        etag = '"' + hashlib.sha256(response.content).hexdigest()[:32] + '"'
        response["ETag"] = etag
        response["Cache-Control"] = "private, no-cache"
        response["Vary"] = "HX-Request, HX-Target, Cookie"
        if etag in request.headers.get("If-None-Match", ""):
            # A 304 repeats the 200's caching headers (RFC 9110 §15.4.5): without them it would be
            # stamped no-store, and the browser would drop the copy it just revalidated.
            caching = {name: response[name] for name in ("ETag", "Cache-Control", "Vary")}
            return HttpResponseNotModified(headers=caching)
        return response
    return render(request, QUEUE_TEMPLATE, context | _queue_page_extras(request, request.GET))


def _queue_context(request: HttpRequest, params: QueryDict) -> dict:
    """What the queue table shows for the filter `params`."""
    changed = last_change(request)
    query = params.urlencode()
    # The question asked, whatever its page: a view stays named and marked while it is paged through.
    asked = params.copy()
    asked.pop("page", None)
    current_query = asked.urlencode()
    built_in_views, saved_views = selectors.built_in_views(), list(selectors.saved_views(request.user))
    return {
        "queue": selectors.ticket_queue_page(request.user, params, changed=changed),
        # Asked by an empty table only (a callable, which the template calls): why it may be empty.
        "in_no_team": lambda: (
            not params.get("q", "").strip()  # else the search may be why
            and not rbac.is_administrator(request.user)
            and not rbac.workable_team_ids(request.user)
        ),
        # Asked by the template (a callable): the ticket a search of bare digits names, if any.
        "number_match": lambda: selectors.ticket_numbered(request.user, params),
        "sort_labels": SORT_LABELS,
        # A nameless requester's address, to those who may see contact details (User.name_shown).
        "may_contact": rbac.has_permission(request.user, rbac.VIEW_USER_INFO),
        "current_query": current_query,
        # Links, the refresh and the bulk form's way back name the queue itself: the page may be served
        # at another address (a refused "save this view" answers at /desk/views/, which takes POST only).
        "queue_params": params,
        "queue_url": reverse("tickets:desk_queue") + (f"?{query}" if query else ""),
        # A refused bulk action fills these in (bulk); named here, as a missing name costs the template
        # an exception per look-up.
        "bulk_chosen": frozenset(),
        "bulk_action": "",
        "bulk_value": "",
        "bulk_error": "",
        # The views beside the table: a full page shows them, and every table fragment refreshes them.
        "counts": selectors.queue_counts(request.user, changed=changed),
        "built_in_views": built_in_views,
        "saved_views": saved_views,
        # Their own, and for a supervisor those shared with a team they supervise.
        "deletable_view_ids": {
            view.pk for view in saved_views if services.saved_view_deletable(view, request.user)
        },
        # The view on screen, if it is one: its name is the page's title, and its link alone is marked (a
        # view saved with a built-in one's question, or two alike, would mark two).
        "current_view": next(
            (view for view in [*built_in_views, *saved_views] if view.query == current_query), None
        ),
    }


# The queue's filters under "More filters" (tickets/desk/queue.html), past search, status, priority and
# assignee.
MORE_FILTERS = (
    "team", "scope", "channel", "tag", "sort", "organization",
    *(f"{when}_{end}" for when in ("created", "updated", "solved") for end in ("within", "after", "before")),
)  # fmt: skip


def _queue_page_extras(request: HttpRequest, params: QueryDict) -> dict:
    """What the full queue page adds around the table for the filter `params` (the page's own query, or
    the one a refused form came from): the filter, bulk and save-view menus."""
    may = services.staff_permissions(request.user)
    menus = dict(selectors.queue_choices(request.user))  # a copy: the cached one stays as it is
    # A chosen value the menu does not offer is offered while chosen, or the menu would read "Any ..."
    # and the next Apply drop the filter: an organisation since deactivated (filtered by from a ticket's
    # link), or an assignee who has left the agent's teams but still holds one of their tickets (named
    # only then: the name is on that ticket's row already, and an id alone reveals nobody).
    chosen = parse_id(params.get("organization", ""))
    if (
        chosen is not None
        and chosen not in dict(menus["organizations"])
        and (inactive := Organization.objects.filter(pk=chosen).first())
    ):
        menus["organizations"] = [*menus["organizations"], (inactive.pk, f"{inactive} (inactive)")]
    # The filter's menu only: the bulk "Assign to" menu offers agents of the agent's teams.
    others = [(pk, f"{name} (not in your teams)") for pk, name in menus["other_assignees"]]
    menus["filter_agents"] = menus["agents"] + others
    chosen = parse_id(params.get("assignee", ""))
    if chosen is not None and chosen not in dict(menus["filter_agents"]):
        held = (
            Ticket.objects.staff_visible_to(request.user)
            .filter(assignee_id=chosen)
            .select_related("assignee")
        )
        # Named when a ticket the agent sees names them; else still chosen, unnamed: a saved view of
        # someone who left the agent's teams shows the filter it applies, and keeps it on the next Apply.
        ticket = held.only("assignee").first()
        name = f"{ticket.assignee} (not in your teams)" if ticket else "Someone not in your teams"
        menus["filter_agents"].append((chosen, name))
    return {
        "may": may,
        # Folded away on a narrow screen unless one of them is set (the table comes first there).
        # Sort is always sent (its menu has no empty choice): counted when not the default.
        "more_filters_set": sum(
            1
            for name in MORE_FILTERS
            if (value := params.get(name, "").strip()) and not (name == "sort" and value == DEFAULT_SORT)
        ),
        "bulk_statuses": _statuses_offered(workflow.REACHABLE, may),
        **menus,
        "statuses": Status.choices,
        "priorities": Priority.choices,
    }


@agent_required
@require_POST
@changes_tickets
def bulk(request: HttpRequest) -> HttpResponse:
    choice = _chosen_tickets(request.POST.getlist("tickets"))
    chosen, versions = choice.values, choice.versions
    if choice.beyond:
        were = "was" if choice.beyond == 1 else "were"
        left = shown_count(choice.beyond, "selected ticket")
        messages.warning(request, BULK_TOO_MANY.format(left=left, limit=BULK_LIMIT, were=were))
    ids = list(versions)
    tickets = list(Ticket.objects.staff_visible_to(request.user).filter(pk__in=ids).order_by("number"))
    # "status:pending" carries its value; tag actions take the typed value.
    action, _, preset = request.POST.get("action", "").partition(":")
    value = preset or request.POST.get("value", "").strip()
    back = _safe_back(request, request.POST.get("back", ""))
    if action == "status" and value == Status.CLOSED and tickets and request.POST.get("confirm") != "close":
        # Closed is final (a customer's answer opens a new ticket): ask once more, naming the tickets that
        # will close, and apart from them the ones that will not and why. None to close: nothing to ask.
        closing, staying = _bulk_closes(tickets, versions)
        if closing:
            context = {"tickets": closing, "staying": staying, "chosen": chosen, "back": back}
            return render(request, "tickets/desk/bulk_close_confirm.html", context)
    # Moved to another team, merged or deleted since the queue was read: say so, never drop them quietly.
    gone = len(ids) - len(tickets) + choice.unreadable
    if gone:
        messages.warning(
            request,
            f"{shown_count(gone, 'selected ticket')} {'is' if gone == 1 else 'are'} no longer in your queues "
            "and left unchanged.",
        )
    if not tickets:
        if not gone:
            messages.warning(request, "Select at least one ticket first.")
        return redirect(back)
    try:
        outcomes = services.tickets_bulk_apply(
            tickets, action=action, value=value, versions=versions, actor=request.user
        )
    except ValidationError as error:
        # The queue it was sent from again, the tickets still ticked and the reason by the tag box.
        params = QueryDict(urlsplit(back).query)
        context = _queue_context(request, params) | _queue_page_extras(request, params)
        context |= {"bulk_error": "; ".join(error.messages), "bulk_chosen": frozenset(chosen)}
        # A tag refused is the tag box's to say, with the tag as typed; any other refusal is the menu's
        # (a team's or an agent's id is no tag to put in the box).
        tag = action in ("add_tag", "remove_tag")
        context |= {"bulk_action": request.POST.get("action", ""), "bulk_value": value if tag else ""}
        context |= {"bulk_tag_refused": tag}
        return render(request, QUEUE_TEMPLATE, context, status=422)
    changed = {
        outcome.ticket.pk: outcome.ticket.reference for outcome in outcomes if outcome.ok and outcome.changed
    }
    if done := list(changed.values()):
        messages.success(request, f"Updated {shown_count(len(done), 'ticket')}: {_references(done)}.")
    already = [outcome.ticket.reference for outcome in outcomes if outcome.ok and not outcome.changed]
    if already:
        messages.info(request, f"Already so, left as they were: {_references(already)}.")
    # One refusal per reason, with its tickets: forty closed tickets are one alert, not forty read out.
    refused: dict[str, list[Ticket]] = {}
    for outcome in outcomes:
        if not outcome.ok:
            refused.setdefault(_reason_for_each(outcome), []).append(outcome)
    for reason, alike in refused.items():
        references = [outcome.ticket.reference for outcome in alike]
        if len(alike) == 1:
            messages.error(request, f"{references[0]} was not changed: {alike[0].error}")
        else:
            count = shown_count(len(alike), "ticket")
            messages.error(request, f"{count} were not changed ({_references(references)}). {reason}")
    # Moved to a team the agent does not work (or unassigned from them): gone from their queues, said so
    # rather than left to vanish, as the workspace's own edit says it.
    still = set(
        Ticket.objects.staff_visible_to(request.user).filter(pk__in=changed).values_list("pk", flat=True)
    )
    if left := [pk for pk in changed if pk not in still]:
        # Where each went (the agent cannot open it to find out): "T-7 (now with team Billing)".
        gone = Ticket.objects.filter(pk__in=left).select_related("team", "assignee").order_by("number")
        told = [f"{ticket.reference} (now {_whereabouts(ticket)})" for ticket in gone]
        messages.info(request, BULK_OUT_OF_REACH.format(tickets=_references(told)))
    return redirect(back)


def _bulk_closes(
    tickets: list[Ticket], versions: dict[int, int | None]
) -> tuple[list[Ticket], list[tuple[Ticket, str]]]:
    """The tickets a bulk close would close as they were read, and the others with the reason each stays:
    closed already, or changed since the queue showed them (the close itself checks each one again)."""
    closing, staying = [], []
    for ticket in tickets:
        if ticket.status == Status.CLOSED:
            staying.append((ticket, "closed already"))
            continue
        try:
            services.check_version(ticket, versions.get(ticket.pk))
        except services.StaleTicket:
            staying.append((ticket, "changed since your queue showed it"))
        else:
            closing.append(ticket)
    return closing, staying


def _reason_for_each(outcome: services.BulkOutcome) -> str:
    """A refusal as said of several tickets: one that opens with its ticket ("T-7 is closed, …") is the
    same reason for each of them ("Each is closed, …")."""
    opening = f"{outcome.ticket.reference} "
    if outcome.error.startswith(opening):
        return f"Each {outcome.error.removeprefix(opening)}"
    return outcome.error


def _references(references: list[str]) -> str:
    """Ticket references for a message: the first BULK_REFERENCES_SHOWN, then how many more."""
    if len(references) <= BULK_REFERENCES_SHOWN:
        return ", ".join(references)
    more = len(references) - BULK_REFERENCES_SHOWN
    return f"{', '.join(references[:BULK_REFERENCES_SHOWN])} and {more:,} more"


class BulkChoice(NamedTuple):
    values: list[str]  # as posted, one per ticket, in order, at most BULK_LIMIT
    versions: dict[int, int | None]
    unreadable: int  # values naming no ticket at all
    beyond: int  # tickets past BULK_LIMIT, left unchanged


def _chosen_tickets(values: list[str]) -> BulkChoice:
    """The ticked rows, "pk:version" (or a bare pk), as {pk: version read with the queue, or None}; a
    version that does not read is refused as stale (read_version), never taken as none. A ticket posted
    twice counts once, before the limit, so repeats cannot push others past it."""
    kept: list[str] = []
    versions: dict[int, int | None] = {}
    unreadable: set[str] = set()
    beyond: set[int] = set()
    for value in values:
        pk, _, version = value.partition(":")
        if (pk := parse_id(pk)) is None:
            unreadable.add(value)
        elif pk in versions or pk in beyond:
            continue
        elif len(versions) == BULK_LIMIT:
            beyond.add(pk)
        else:
            versions[pk] = read_version(version)
            kept.append(value)
    return BulkChoice(kept, versions, len(unreadable), len(beyond))


def _safe_back(request: HttpRequest, target: str) -> str:
    if is_site_path(request, target):
        return target
    return reverse("tickets:desk_queue")


@agent_required
@require_POST
def saved_view_create(request: HttpRequest) -> HttpResponse:
    form = SavedViewForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            view = services.saved_view_create(**form.cleaned_data, actor=request.user)
        except ValidationError as error:
            add_service_errors(form, error)
        except services.TicketError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Saved the view “{view.name}”.")
            return redirect(f"{reverse('tickets:desk_queue')}?{view.query}")
    # The queue it was saved from comes back, with the name and team as chosen and the reason beside them;
    # a name the agent has a view of already offers to replace that view's filters.
    params = QueryDict(request.POST.get("query", ""))
    context = _queue_context(request, params) | _queue_page_extras(request, params) | {"view_form": form}
    context["view_name_taken"] = form.has_error("name", services.NAME_TAKEN)
    return render(request, QUEUE_TEMPLATE, context, status=422)


@agent_required
@require_POST
def saved_view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    view = SavedView.objects.filter(pk=pk).first()
    if view is None:
        # Delete sent twice (a second click without JavaScript, Back and Delete again): done already.
        messages.info(request, "That view was deleted already.")
        return redirect("tickets:desk_queue")
    try:
        deleted = services.saved_view_delete(view, actor=request.user)
    except services.TicketNotAllowed:
        raise Http404("No such view of yours.") from None
    if deleted:
        messages.success(request, f"Deleted the view “{view.name}”.")
    else:
        messages.info(request, f"The view “{view.name}” was deleted already.")
    return redirect("tickets:desk_queue")


def _workspace_ticket(request: HttpRequest, number: str) -> Ticket:
    return get_object_or_404(selectors.workspace_ticket_queryset(request.user), number=number)


def _workspace_context(request: HttpRequest, ticket: Ticket, **extra) -> dict:
    workspace = selectors.ticket_workspace(
        request.user, ticket, full_thread=request.GET.get("thread") == "all"
    )
    source = request.POST if request.method == "POST" else request.GET
    queue_query = source.get("queue", "")
    may = services.staff_permissions(request.user, ticket)
    previous, following = None, None
    if "queue" in source:  # opened from a queue (even the default one, whose query is empty)
        were = (parse_id(source.get("previous", "")), parse_id(source.get("next", "")))
        previous, following = selectors.queue_neighbours(
            request.user, QueryDict(queue_query), ticket, were=were
        )
    transitions = _statuses_offered(workflow.allowed_transitions(ticket.status, by_customer=False), may)
    reply_form = extra.pop("reply_form", None) or WorkspaceReplyForm(initial={"version": ticket.version})
    reply_form.offer_statuses({value for value, _ in transitions})
    # Merged along a chain (A into B, B into C): the conversation goes on at its end, if this agent works it.
    workable = selectors.worked_by(request.user)
    merged_home = ticket.merged_home(workable)
    return {
        "ticket": ticket,
        "merged_home": merged_home,
        "drafted_by": drafts.drafted_by(request.user),
        # The conversation it continues, and those that continue it, linked where this agent may open them.
        "follow_up_of": workable.filter(pk=ticket.follow_up_of_id).only("number", "subject").first()
        if ticket.follow_up_of_id
        else None,
        # Only a closed ticket has follow-ups (a reply to it opens one): no query for the others.
        "follow_ups": (
            workable.filter(follow_up_of=ticket).order_by("number").only("number", "subject")
            if ticket.status == Status.CLOSED
            else []
        ),
        # Merged (its thread moved) or deleted (out of every queue): shown, but nothing to write or edit.
        "read_only": bool(ticket.merged_into_id or ticket.is_deleted),
        # Closed is final: notes still go on it, but its properties stay as they were (services.CLOSED_FINAL).
        "properties_final": ticket.status == Status.CLOSED,
        # Read-only, the team by the name its picker holds (its team is always among the choices).
        "team_name": dict(workspace.teams).get(ticket.team_id),
        "workspace": workspace,
        "reply_form": reply_form,
        "queue_query": queue_query,
        # The queue kept even when it is the default one (an empty query): Previous and Next stay.
        "full_thread_url": reverse("tickets:desk_ticket", args=[ticket.number])
        + (f"?{_queue_param(queue_query)}&" if "queue" in source else "?")
        + "thread=all",
        "previous_number": previous,
        "next_number": following,
        "transitions": transitions,
        "statuses": Status,
        "priorities": Priority.choices,
        "may": may,
        "custom_fields_form": CustomFieldsForm(definitions=ticket.form_schema, stored=ticket.custom_fields),
        **extra,
    }


def _statuses_offered(statuses, may: services.StaffPermissions) -> list[tuple[str, str]]:
    """(value, label) of `statuses` in the workflow's order, without Closed for those who may not close."""
    return [
        (value, label)
        for value, label in Status.choices
        if value in statuses and (may.close or value != Status.CLOSED)
    ]


@agent_required
@require_safe
def workspace(request: HttpRequest, number: str) -> HttpResponse:
    ticket = _workspace_ticket(request, number)
    extra = {}
    if (draft := drafts.kept_draft(request)) is not None:  # typed as the session ended (helpdesk.drafts)
        messages.info(request, REPLY_RESTORED)
        extra["reply_form"] = WorkspaceReplyForm(initial={"version": ticket.version, **draft})
        extra["reply_form"].fields["body"].widget.attrs["autofocus"] = True  # where the work left off
    return render(request, WORKSPACE_TEMPLATE, _workspace_context(request, ticket, **extra))


@agent_required
@require_POST
@changes_tickets
def workspace_merge(request: HttpRequest, number: str) -> HttpResponse:
    """Merge this ticket into another one (by number, with or without the T- prefix)."""
    source = _workspace_ticket(request, number)
    typed = request.POST.get("into", "").strip()[:40]
    # The target must be a ticket this agent may see; any other number reads as "no such ticket".
    target = None
    if (number_into := number_from(typed)) is not None:
        target = Ticket.objects.staff_visible_to(request.user).filter(number=number_into).first()
    if not typed:  # spaces pass the browser's `required`
        error = MERGE_NO_NUMBER
    else:
        error = f"There is no ticket “{typed}” that you can work." if target is None else ""
    if target is not None:
        version = posted_version(request.POST)
        try:
            if request.POST.get("confirm") != "merge":
                # A typed number and a merge that cannot be undone: asked once more, naming both tickets
                # (WCAG 3.3.4), when the merge can happen; a refusal is said at once.
                services.ticket_merge_check(source, into=target, actor=request.user, expected_version=version)
                context = {"source": source, "target": target, "version": version,
                           "queue": request.POST.get("queue"),
                           "contact": rbac.has_permission(request.user, rbac.VIEW_USER_INFO),
                           "back": _workspace_after_work(request, source)}  # fmt: skip
                return render(request, "tickets/desk/merge_confirm.html", context)
            services.ticket_merge(
                source,
                into=target,
                actor=request.user,
                expected_version=version,
                expected_into_version=read_version(request.POST.get("into_version")),
            )
        except services.TicketError as refused:
            # Their own merge confirmed twice (a double click) is answered as the first was.
            confirmed = request.POST.get("confirm") == "merge"
            if not (confirmed and selectors.merge_made_already(source, target, actor=request.user)):
                # A stale page comes back with their colleague's change and the number as typed.
                stale = isinstance(refused, services.StaleTicket)
                error = MERGE_STALE if stale else str(refused)
        if not error:
            messages.success(request, f"Merged {source.reference} into {target.reference}.")
            # In the queue the agent came from (its Previous and Next are the target's own there).
            if "queue" in request.POST:
                return redirect(
                    reverse("tickets:desk_ticket", args=[target.number])
                    + "?"
                    + _queue_param(request.POST["queue"])
                )
            return redirect("tickets:desk_ticket", number=target.number)
    # The workspace again, the number as typed and the reason beside it.
    source.refresh_from_db()
    context = _workspace_context(request, source, merge_error=error, merge_typed=typed)
    # No merge form on their page to put the reason beside: not theirs to merge, or the ticket is closed
    # (the form is hidden) or merged or deleted (none) since they opened it. Said above the page, and the
    # hidden form not marked invalid (the focus would go to a field nobody sees).
    if not context["may"].merge or context["read_only"] or source.status == Status.CLOSED:
        messages.error(request, error)
        context.update(merge_error="", merge_typed="")
    return render(request, WORKSPACE_TEMPLATE, context, status=422)


@agent_required
@require_POST
def workspace_seen(request: HttpRequest, number: str) -> HttpResponse:
    try:
        shown = datetime.fromisoformat(request.POST.get("shown", ""))
    except ValueError:
        shown = None
    if shown is not None and timezone.is_naive(shown):
        shown = None
    ticket = _workspace_ticket(request, number)
    services.ticket_mark_seen(ticket, actor=request.user, shown=shown)
    if request.htmx:
        return HttpResponse(status=204)
    return redirect(_workspace_after_work(request, ticket))  # the no-JavaScript form, in its queue


@agent_required
@require_POST
@changes_tickets
def workspace_reply(request: HttpRequest, number: str) -> HttpResponse:
    ticket = _workspace_ticket(request, number)
    form = WorkspaceReplyForm(request.POST, request.FILES, holder=request.user)
    if form.is_valid():
        data = form.cleaned_data
        try:
            if data["kind"] == "note":
                # A note alone never conflicts with a colleague's change; a status set with it may.
                services.ticket_add_note(
                    ticket,
                    body=data["body"],
                    uploads=form.uploads(),
                    status_after=data["status_after"] or None,
                    expected_version=data["version"] if data["status_after"] else None,
                    submission_key=data["submission_key"],
                    actor=request.user,
                )
            else:
                services.ticket_reply(
                    ticket,
                    body=data["body"],
                    uploads=form.uploads(),
                    status_after=data["status_after"] or None,
                    expected_version=data["version"],
                    submission_key=data["submission_key"],
                    actor=request.user,
                )
        except ValidationError as error:
            add_service_errors(form, error)
        except services.StaleTicket:
            form.add_error(None, REPLY_STALE)
        except services.TicketError as error:
            form.add_error(None, str(error))
        else:
            sent = "Note added" if data["kind"] == "note" else "Reply sent"
            messages.success(request, f"{sent} on {ticket.reference}.")
            return redirect(_workspace_after_work(request, ticket))
    form.hold_files()
    form.renew_key()
    ticket.refresh_from_db()
    # Refused for itself (a file's type, an empty body) from a page a colleague has changed since: the
    # page about to come back carries the new version, so say so now, as a valid sending would be told.
    checked = request.POST.get("kind") != "note" or request.POST.get("status_after")
    posted = read_version(request.POST.get("version"))
    moved_on = posted is not None and posted != ticket.version
    if checked and moved_on and REPLY_STALE not in form.non_field_errors():
        form.add_error(None, REPLY_STALE)
    context = _workspace_context(request, ticket, reply_form=form)
    return render(request, WORKSPACE_TEMPLATE, context, status=422)


def _workspace_after_work(request: HttpRequest, ticket: Ticket) -> str:
    """The workspace again, in the queue it was opened from, with the neighbours the page showed: work
    that takes the ticket out of that queue (a reply that solves it) keeps Previous and Next."""
    url = reverse("tickets:desk_ticket", args=[ticket.number])
    if "queue" not in request.POST:
        return url
    params = QueryDict(mutable=True)
    params["queue"] = request.POST["queue"]
    for key in ("previous", "next"):  # a number, or 0 where the page had none (NO_NEIGHBOUR)
        if (number := parse_id(request.POST.get(key, ""))) is not None:
            params[key] = str(number)
    return f"{url}?{params.urlencode()}"


def _queue_param(queue_query: str) -> str:
    params = QueryDict(mutable=True)
    params["queue"] = queue_query
    return params.urlencode()


@agent_required
@require_POST
@changes_tickets
def workspace_update(request: HttpRequest, number: str) -> HttpResponse:
    """One inline edit (take, assignee, status, priority, team, tags); refuses edits from a stale page."""
    field = request.POST.get("field", "")
    value = request.POST.get("value", "").strip()
    error, typed, invalid = "", {}, False
    seen_version = posted_version(request.POST)
    ticket = selectors.workspace_ticket_queryset(request.user).filter(number=number).first()
    if ticket is None:
        # The same edit sent twice (a double click without JavaScript), the first of which took the ticket
        # out of this agent's reach (moved to a team they do not work): answered as the first was. Only
        # the agent whose edit was the ticket's last gets this answer, so it tells nobody else anything.
        moved = Ticket.objects.select_related("team", "assignee").filter(number=number).first()
        if moved is None or not selectors.edit_made_already(
            moved, field, value, actor=request.user, seen_version=seen_version
        ):
            raise Http404("No such ticket.")
        return _edited_out_of_reach(request, moved)
    confirm_close = False
    try:
        _apply_edit(ticket, field, value, request.POST, actor=request.user, expected_version=seen_version)
    except CloseNotConfirmed:
        confirm_close = True
    except services.StaleTicket:
        if selectors.edit_made_already(
            ticket, field, value, actor=request.user, seen_version=seen_version,
            custom_fields=_custom_fields_asked(ticket, request.POST) if field == "custom_fields" else None,
        ):  # fmt: skip
            pass
        else:  # still refused when the ticket holds it already: a reply may have come meanwhile, unseen
            held = selectors.edit_holds_already(ticket, field, value, actor=request.user)
            error = _stale_edit(field, value, held=held)
            typed = _typed_edit(ticket, field, value, request.POST)
    except services.TicketError as refused:
        error = str(refused)
    except ValidationError as bad_value:
        error, invalid = "; ".join(bad_value.messages), True
        typed = _typed_edit(ticket, field, value, request.POST)
    except (ValueError, Team.DoesNotExist, User.DoesNotExist):
        error, invalid = "That choice is not available.", True
    ticket = selectors.workspace_ticket_queryset(request.user).filter(number=number).first()
    if ticket is None:
        if error:
            raise Http404("No such ticket.")
        # The edit took the ticket out of this agent's reach (assigned on to an agent of its own team,
        # when only the assignment let them see it): the change is made, the ticket page would be a 404.
        moved = Ticket.objects.select_related("team", "assignee").get(number=number)
        return _edited_out_of_reach(request, moved)
    if confirm_close:  # the ticket as it is, and the question beside its status
        context = _workspace_context(
            request, ticket, edit_field=field, confirm_close=True, back=_workspace_after_work(request, ticket)
        )
        return render(request, WORKSPACE_TEMPLATE + ("#properties" if request.htmx else ""), context)
    if request.htmx:
        context = _workspace_context(request, ticket, edit_error=error, edit_field=field, **typed)
        # 422: the value was refused (and comes back as typed); 409: a refusal or a stale page.
        status = 422 if invalid else 409 if error else 200
        return render(request, WORKSPACE_TEMPLATE + "#properties", context, status=status)
    if error:  # the page again, the message beside the edit and refused free text as typed
        context = _workspace_context(request, ticket, edit_error=error, edit_field=field, **typed)
        return render(request, WORKSPACE_TEMPLATE, context, status=422 if invalid else 409)
    messages.success(request, "Saved.")
    return redirect(_workspace_after_work(request, ticket))


class CloseNotConfirmed(Exception):
    """A close that can happen, not confirmed yet: closed is final (a customer's answer starts a new
    ticket), so the workspace asks once more, as the bulk close does; a refusal is said at once."""


def _custom_fields_asked(ticket: Ticket, data: QueryDict) -> dict | None:
    """The custom fields as a "Save details" post would store them on `ticket` now; None if refused."""
    form = CustomFieldsForm(data, definitions=ticket.form_schema, stored=ticket.custom_fields)
    if not form.is_valid():
        return None
    try:
        return schema.clean_values(ticket.form_schema, form.cleaned_data, stored=ticket.custom_fields)
    except ValidationError:
        return None


def _edited_out_of_reach(request: HttpRequest, ticket: Ticket) -> HttpResponse:
    """Back to the queue the edit was made from: the change is made, the ticket page would be a 404; the
    message says where the ticket went, which the agent can no longer open to find out."""
    messages.success(
        request, EDITED_OUT_OF_REACH.format(ticket=ticket.reference, whereabouts=_whereabouts(ticket))
    )
    queue_query = request.POST.get("queue", "")
    back = reverse("tickets:desk_queue") + (f"?{queue_query}" if queue_query else "")
    return HttpResponseClientRedirect(back) if request.htmx else redirect(back)


def _whereabouts(ticket: Ticket) -> str:
    """Whose the ticket is now, as the agent who moved it on is told: "with team Billing, assigned to
    Dana"."""
    team = f"with team {ticket.team}" if ticket.team_id else "with no team"
    return team + (f", assigned to {ticket.assignee}" if ticket.assignee_id else "")


def _stale_edit(field: str, value: str, *, held: bool = False) -> str:
    """The refusal of an edit from a stale page. A menu comes back showing the colleague's choice, so the
    agent's own is named: "save it again" would otherwise save theirs and say Saved. A choice the ticket
    holds already (a colleague made the same change) is not to be chosen again."""
    chosen = _chosen(field, value)
    if chosen and held:
        return EDIT_STALE_HELD.format(chosen=chosen)
    return EDIT_STALE_CHOSEN.format(chosen=chosen) if chosen else EDIT_STALE


def _chosen(field: str, value: str) -> str | None:
    """What an inline edit's menu showed for `value`, to name it ("Resolved", a colleague's name)."""
    chosen = None
    if field == "priority":
        chosen = dict(Priority.choices).get(value)
    elif field == "status":
        chosen = dict(Status.choices).get(value)
    elif field in ("assignee", "team") and (pk := parse_id(value)) is not None:
        model = User if field == "assignee" else Team
        chosen = str(found) if (found := model.objects.filter(pk=pk).first()) else None
    elif field in ("assignee", "team") and not value:
        chosen = "Unassigned" if field == "assignee" else "No team"
    return chosen


def _typed_edit(ticket: Ticket, field: str, value: str, data: QueryDict) -> dict:
    """What the agent typed into a free-text inline edit that was refused, to show it again."""
    if field == "tags":
        return {"typed_tags": value}
    if field == "custom_fields":
        form = CustomFieldsForm(data, definitions=ticket.form_schema, stored=ticket.custom_fields)
        # The page comes back with the focus on the first field to correct, as the other inline edits'
        # do: without JavaScript it would be nowhere. (Refused as stale, the Save button, which names
        # the reason, keeps it.)
        if first := next((name for name in form.fields if name in form.errors), None):
            form.fields[first].widget.attrs["autofocus"] = True
        return {"custom_fields_form": form}
    return {}


def _apply_edit(
    ticket: Ticket, field: str, value: str, data: QueryDict, *, actor: User, expected_version
) -> None:
    if field == "take":
        # Taken in the workspace, with the thread in front of them: read.
        services.ticket_assign(
            ticket, assignee=actor, actor=actor, expected_version=expected_version, seen=True
        )
    elif field == "assignee":
        assignee = User.objects.get(pk=int(value)) if value else None
        # Choosing themselves is taking it, with the thread in front of them: read, as "Take it" says.
        mine = assignee is not None and assignee.pk == actor.pk
        services.ticket_assign(
            ticket, assignee=assignee, actor=actor, expected_version=expected_version, seen=mine
        )
    elif field == "status":
        # A value saved as it stands changes nothing, but from a page that is out of date it is refused
        # like any edit, or the composer would be handed the new version with a colleague's change unseen.
        if value == ticket.status:
            services.check_version(ticket, expected_version)
            return
        if value not in Status.values:
            raise ValidationError("That choice is not available.")
        if value == Status.CLOSED and data.get("confirm") != "close":
            services.ticket_close_check(ticket, actor=actor, expected_version=expected_version)
            raise CloseNotConfirmed
        services.ticket_transition(ticket, status=value, actor=actor, expected_version=expected_version)
    elif field == "priority":
        services.ticket_update_fields(
            ticket, changes={"priority": value}, actor=actor, expected_version=expected_version
        )
    elif field == "team":
        if value == str(ticket.team_id or ""):  # saved as it stands ("No team", or a team closed since)
            services.check_version(ticket, expected_version)
            return
        team = Team.objects.get(pk=int(value))
        services.ticket_update_fields(
            ticket, changes={"team": team}, actor=actor, expected_version=expected_version
        )
    elif field == "custom_fields":
        # From a page older than the closing, the form would be checked against today's schema (a
        # field made required since) only to be refused as final after: the service's rule, said first.
        services.require_not_closed(ticket)
        # From a stale page, a colleague's answers would be checked and then overwritten by these: the
        # page's age is said first (with the typed values kept), whatever they hold.
        services.check_version(ticket, expected_version)
        definitions = ticket.form_schema
        form = CustomFieldsForm(data, definitions=definitions, stored=ticket.custom_fields)
        if not form.is_valid():
            raise ValidationError(
                [f"{form.fields[name].label}: {' '.join(errors)}" for name, errors in form.errors.items()]
            )
        services.ticket_update_fields(
            ticket,
            changes={"custom_fields": form.cleaned_data},
            actor=actor,
            expected_version=expected_version,
        )
    elif field == "tags":
        names = [name for name in value.split(",") if name.strip()]
        services.ticket_set_tags(ticket, names=names, actor=actor, expected_version=expected_version)
    else:
        raise ValidationError(f"Unknown field {field!r}.")
