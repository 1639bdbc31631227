"""Customer portal (/portal/…): submit tickets through web forms, follow and answer them, get files."""

import uuid
from urllib.parse import quote, urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import F
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect

from helpdesk import drafts
from helpdesk.downloads import as_download
from helpdesk.forms import add_service_errors, parse_id, query_text
from helpdesk.links import mail_link
from helpdesk.middleware import site_configuration
from helpdesk.ratelimit import posted, rate_limit, rate_limited, searches, wait_phrase
from tickets import selectors, services, workflow
from tickets.attachments import download_disposition, visitor_key
from tickets.forms import (
    CUSTOM_PREFIX,
    FILES_AFTER_SIGN_IN,
    PortalFilterForm,
    ReplyForm,
    TicketSubmitForm,
)
from tickets.freshness import changes_tickets
from tickets.models import Attachment, Ticket, TicketForm, TicketMessage
from tickets.workflow import Status

FORM_GONE = (
    "This request form is no longer available. What you wrote is kept below as a general request: check "
    "it and send it again."
)
SESSION_ENDED = (
    "You are no longer signed in, so the request was not sent. Sign in and this form comes back with "
    "what you wrote."
)
DRAFT_RESTORED = "Here is the request you wrote before signing in: check it and send it."
REPLY_RESTORED = "Here is the reply you wrote before signing in: check it and send it."
FOLLOW_UPS_TOO_OFTEN = (
    "This conversation is closed, so your message would open a new request, and you have opened many in a "
    "short time. Please wait {wait}, then send it again: what you wrote is kept below."
)
SUBMITTED_TOO_OFTEN = (
    "You have sent many requests in a short time. Please wait {wait}, then send this one again: "
    "what you wrote is kept below."
)


def _posted_submission_key(request: HttpRequest) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.POST.get("submission_key", ""))
    except ValueError:
        return None


def _ticket_of_the_posted_key(request: HttpRequest, *, anonymous: bool) -> Ticket | None:
    """The ticket the posted submission key already made for this sender, if any."""
    if (key := _posted_submission_key(request)) is None:
        return None
    if anonymous:
        return services.visitor_submission(key, email=request.POST.get("email", ""))
    return Ticket.objects.filter(submission_key=key, requester=request.user).first()


@require_http_methods(["GET", "HEAD", "POST"])
@changes_tickets
def ticket_submit(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    anonymous = not request.user.is_authenticated
    anonymous_open = site_configuration(request).anonymous_submission
    sign_in = f"{reverse('accounts:login')}?next={quote(request.path)}"
    ticket_form = TicketForm.objects.active_for(request.user).filter(slug=slug).first() if slug else None
    # Only a visitor arriving is sent to sign in (to every form address alike, so none is revealed);
    # a form that is sent and cannot be taken comes back at 422 with what was typed, never lost.
    if request.method != "POST":
        if anonymous and (not anonymous_open or (slug and ticket_form is None)):
            return redirect(sign_in)
        if slug and ticket_form is None:
            raise Http404("No such form.")
    # A visitor's page always sends an address field, even empty: a form sent without one was a
    # customer's whose session ended while they typed, whether or not visitors may submit (one with it
    # was sent after anonymous submission was switched off: the service says so). Their form may be one
    # of their organisation's, which a visitor cannot see: that is no form gone.
    session_ended = anonymous and request.method == "POST" and "email" not in request.POST
    # Switched off or given to another organisation since the page was read.
    form_gone = bool(slug) and ticket_form is None and not session_ended
    # Signed out midway, or a visitor where visitors may no longer submit: the way on is signing in.
    must_sign_in = session_ended or (anonymous and not anonymous_open)
    form = TicketSubmitForm(
        request.POST if request.method == "POST" else None,
        request.FILES or None,
        ticket_form=ticket_form,
        anonymous=anonymous and not session_ended,
        initial=_draft_kept_over_sign_in(request),
        holder=None if anonymous else request.user,
        # A visitor's kept files are this browser's: another visitor cannot send them with a copied token.
        visitor=visitor_key(request.session) if anonymous and request.method == "POST" else "",
    )
    # A second click or a retried request lands on the ticket its first sending made, and is not counted
    # against the sender's rate. The service compares a form that can be sent with the first sending;
    # one switched off or given a new required question since is compared here (its answers cannot be):
    # refused, the sender would be asked to send it again, which made a second ticket.
    made = _ticket_of_the_posted_key(request, anonymous=anonymous) if request.method == "POST" else None
    if (
        made is not None
        and (form_gone or not form.is_valid())
        and services.same_submission(
            made,
            subject=request.POST.get("subject", ""),
            description=form.fields["description"].to_python(request.POST.get("description", "")),
            uploads=request.FILES.getlist("attachments"),
        )
    ):
        return _after_submission(request, made, made.form, anonymous=anonymous, repeated=True)
    # Counted only for a sending that could make a ticket: one the form's checks refuse (an empty subject,
    # a file too large) makes nothing, and must not use up the sender's rate, as with follow-ups.
    # Signed-in customers are counted per account only: a whole office behind one address submits.
    counted = request.method == "POST" and made is None and not (form_gone or session_ended)
    wait = (
        rate_limited(request, "ticket_submit", account=posted("email"), per_ip=anonymous)
        if counted and form.is_valid()
        else None
    )
    if wait is not None:
        form.is_valid()
        form.add_error(None, SUBMITTED_TOO_OFTEN.format(wait=wait_phrase(wait)))
    elif form_gone or session_ended:
        if form_gone:
            _details_into_description(form)
        form.is_valid()
        form.add_error(None, FORM_GONE if form_gone else SESSION_ENDED)
        if session_ended:
            _keep_draft_over_sign_in(request, form)
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        fields = {
            "subject": data["subject"],
            "description": data["description"],
            "form": ticket_form,
            "custom_fields": form.custom_field_data(),
            "uploads": form.uploads(),
            "submission_key": data["submission_key"],
        }
        try:
            if anonymous:
                ticket = services.ticket_submit_anonymous(email=data["email"], name=data["name"], **fields)
            else:
                ticket = services.ticket_create(requester=request.user, actor=request.user, **fields)
        except ValidationError as error:
            add_service_errors(form, error, field_prefix=CUSTOM_PREFIX)
        except services.TicketError as error:  # anonymous submission switched off since the page was read
            form.add_error(None, str(error))
        else:
            # A repeated submission (a second click, a retried request, even at the same moment) lands on
            # the first ticket: one receipt.
            repeated = ticket.repeated_submission
            return _after_submission(request, ticket, ticket_form, anonymous=anonymous, repeated=repeated)
    status = 200
    if form.is_bound:
        status = 422 if wait is None else 429
        # Files wait for a form that may be sent again as it is: not over a sign-in, not for a visitor
        # where visitors may send nothing (who must sign in too, and is told so), and not the new files
        # of a sender refused for sending too much (those kept before are still offered).
        if must_sign_in:
            if request.FILES or request.POST.getlist("held"):
                form.add_error("attachments", FILES_AFTER_SIGN_IN)
        else:
            form.hold_files(new=wait is None)
        form.renew_key()
    context = {
        "form": form, "ticket_form": ticket_form, "forms": TicketForm.objects.active_for(request.user),
        "form_gone": form_gone,
        "sign_in": sign_in if must_sign_in else None,
        # Whose draft this page holds, should their session end before they send it (see below).
        "drafted_by": drafts.drafted_by(request.user),
    }  # fmt: skip
    response = render(request, "tickets/portal/ticket_form.html", context, status=status)
    if wait is not None:
        response["Retry-After"] = str(wait)
    return response


def _details_into_description(form: TicketSubmitForm) -> None:
    """A form that is gone takes its details along: each answer sent becomes a line of the description
    ("order_number: A-1"), named as the page sent it, so nothing of the form itself is shown."""
    details = [
        f"{name.removeprefix(CUSTOM_PREFIX)}: {', '.join(value for value in values if value)}"
        for name, values in form.data.lists()
        if name.startswith(CUSTOM_PREFIX) and any(values)
    ]
    if details:
        form.data = form.data.copy()
        form.data["description"] = "\n\n".join(
            [form.data.get("description", "").rstrip(), "\n".join(details)]
        ).strip()


def _keep_draft_over_sign_in(request: HttpRequest, form: TicketSubmitForm) -> None:
    """What a customer whose session ended had typed, kept (helpdesk.drafts) so that the same form,
    opened again by them once signed in, comes back filled in, the answers to the form's own fields too.
    Files do not wait over a sign-in (FILES_AFTER_SIGN_IN)."""
    typed = {
        name: request.POST.getlist(name)
        for name in request.POST
        if (name in form.fields or name.startswith(CUSTOM_PREFIX)) and name not in ("submission_key", "held")
    }
    drafts.keep_draft(request, path=request.path, typed=typed)


def _draft_kept_over_sign_in(request: HttpRequest) -> dict:
    """The kept draft as the form's initial values, once, on the form it was typed in, for its owner."""
    draft = drafts.kept_draft(request)
    if draft is None:
        return {}
    messages.info(request, DRAFT_RESTORED)
    return draft


def _after_submission(
    request: HttpRequest, ticket: Ticket, ticket_form: TicketForm | None, *, anonymous: bool, repeated: bool
):
    success = (
        ticket_form.success_message if ticket_form else "Thanks! We have your request and will reply soon."
    )
    if anonymous:
        if not repeated:
            services.send_submission_receipt(
                ticket,
                portal_url=mail_link(request, reverse("tickets:portal_detail", args=[ticket.number])),
                reset_url=mail_link(request, reverse("accounts:password_reset")),
            )
        # The number travels in the session, never in the URL.
        request.session["submitted_ticket"] = {"reference": ticket.reference, "message": success}
        return redirect("tickets:portal_submitted")
    messages.success(request, f"{success} Your reference is {ticket.reference}.")
    return redirect("tickets:portal_detail", number=ticket.number)


@require_safe
@never_cache  # a visitor's ticket reference, from their session, at one fixed address
def ticket_submitted(request: HttpRequest) -> HttpResponse:
    submitted = request.session.get("submitted_ticket")
    # A visitor's receipt: whoever signs in on that browser next (a shared computer) does not see it.
    if not submitted or request.user.is_authenticated:
        return redirect("home")
    return render(request, "tickets/portal/ticket_submitted.html", {"submitted": submitted})


@login_required
@require_safe
@rate_limit("search", methods=("GET",), when=searches)
def ticket_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    filters = PortalFilterForm(request.GET)
    filters.is_valid()
    status = filters.cleaned_data.get("status") or "open"
    query = query_text(request, "q", limit=200)  # the form drops a longer one, which would list everything
    may_see_organization = user.is_organization_manager and user.organization_id is not None
    scope = (filters.cleaned_data.get("scope") if may_see_organization else "") or "mine"
    page, has_any = selectors.portal_ticket_page(
        user, scope=scope, status=status, query=query, page_number=request.GET.get("page")
    )
    context = {
        "has_any": has_any,
        "page": page,
        "filters": filters,
        "status": status,
        "query": query,
        "scope": scope,
        "may_see_organization": may_see_organization,
    }
    return render(request, "tickets/portal/ticket_list.html", context)


def _visible_ticket(request: HttpRequest, number: str) -> Ticket:
    return get_object_or_404(
        Ticket.objects.seen_by(request.user).select_related(
            "requester", "form", "assignee", "follow_up_of", "merged_into"
        ),
        number=number,
    )


def _detail_context(request: HttpRequest, ticket: Ticket, reply_form: ReplyForm | None = None) -> dict:
    full_thread = _reading_whole_thread(request)
    thread, hidden = selectors.thread_window(
        TicketMessage.objects.visible_to(request.user, ticket=ticket).filter(is_internal=False),
        full_thread=full_thread,
    )
    by_customer = not ticket.seen_as_staff
    allowed = workflow.allowed_transitions(ticket.status, by_customer=by_customer)
    # Named and linked only where the reader may open them (one deleted since answers 404).
    visible = Ticket.objects.visible_to(request.user)
    merged_home = ticket.merged_home(visible)
    follow_up_of = visible.filter(pk=ticket.follow_up_of_id).first() if ticket.follow_up_of_id else None
    return {
        "ticket": ticket,
        "merged_home": merged_home,
        "follow_up_of": follow_up_of,
        "thread": thread,
        "hidden_messages": hidden,
        "full_thread_url": reverse("tickets:portal_detail", args=[ticket.number]) + "?thread=all",
        # A reply sent while reading the whole conversation comes back with the whole of it.
        "reply_url": reverse("tickets:portal_reply", args=[ticket.number])
        + ("?thread=all" if full_thread else ""),
        "seen_message": thread[-1].pk if thread else "",
        # Only a closed ticket has follow-ups (a reply to it opens one): no query for the others.
        "follow_ups": (
            Ticket.objects.seen_by(request.user).filter(follow_up_of=ticket).order_by("number")
            if ticket.status == Status.CLOSED
            else []
        ),
        "reply_form": reply_form or ReplyForm(),
        "drafted_by": drafts.drafted_by(request.user),
        # A deleted ticket (only administrators open it) takes nothing until restored in the admin.
        "can_mark_solved": Status.RESOLVED in allowed and not ticket.is_deleted,
        "can_reopen": Status.OPEN in allowed and ticket.status == Status.RESOLVED and not ticket.is_deleted,
        "is_closed": ticket.status == Status.CLOSED,
        **_list_back(request, ticket),
    }


def _reading_whole_thread(request: HttpRequest) -> bool:
    return request.GET.get("thread") == "all"


def _list_back(request: HttpRequest, ticket: Ticket) -> dict:
    """The way back to the list that holds the ticket: a manager reading a colleague's ticket came from
    the organisation's list, and a solved ticket is listed under "Solved", not the open ones shown first."""
    from_organization = ticket.requester_id != request.user.pk and request.user.is_organization_manager
    query = {"scope": "organization"} if from_organization else {}
    if ticket.status in workflow.SOLVED_STATUSES:
        query["status"] = "solved"
    return {"from_organization": from_organization, "list_query": urlencode(query)}


@login_required
@require_safe
def ticket_detail(request: HttpRequest, number: str) -> HttpResponse:
    ticket = _visible_ticket(request, number)
    reply_form = None
    if (draft := drafts.kept_draft(request)) is not None:  # typed as the session ended (helpdesk.drafts)
        messages.info(request, REPLY_RESTORED)
        reply_form = ReplyForm(initial=draft)
        reply_form.fields["body"].widget.attrs["autofocus"] = True  # where the work left off
    return render(request, "tickets/portal/ticket_detail.html", _detail_context(request, ticket, reply_form))


@login_required
@require_POST
@changes_tickets
def ticket_reply(request: HttpRequest, number: str) -> HttpResponse:
    ticket = _visible_ticket(request, number)
    form = ReplyForm(request.POST, request.FILES, holder=request.user)
    template = "tickets/portal/ticket_detail.html"
    if request.htmx:
        template += "#conversation"
    # Counted only for a sending that passes the form's checks: a refused one (an empty box, a file too
    # large) opens nothing, and must not use up the customer's rate of follow-ups.
    valid = form.is_valid()
    wait = _follow_up_too_soon(request, ticket) if valid else None
    if wait is not None:
        form.add_error(None, FOLLOW_UPS_TOO_OFTEN.format(wait=wait_phrase(wait)))
    elif valid:
        try:
            message = services.ticket_reply(
                ticket,
                body=form.cleaned_data["body"],
                uploads=form.uploads(),
                submission_key=form.cleaned_data["submission_key"],
                actor=request.user,
                as_requester=True,
            )
        except ValidationError as error:
            add_service_errors(form, error, field_prefix=CUSTOM_PREFIX)
        except services.TicketError as error:
            form.add_error(None, str(error))
        else:
            if message.ticket_id != ticket.pk:
                reference = message.ticket.reference
                ticket.refresh_from_db(fields=["merged_into", "status"])  # merged while the reply waited
                home = ticket.merge_chain()[-1] if ticket.merged_into_id else None
                if home is None:
                    done = f"was closed, so your message opened {reference}"
                elif message.ticket_id == home.pk:
                    done = f"was merged, so your message was added to {reference}"
                else:  # merged into a ticket since closed: the message opened a follow-up of that one
                    into = home.reference
                    done = f"was merged into {into}, which is closed, so your message opened {reference}"
                # Read on the page the message went to: named, since "this ticket" would be that one.
                messages.success(request, f"{ticket.reference} {done}.")
                follow_up = reverse("tickets:portal_detail", args=[message.ticket.number])
                # htmx would follow a plain redirect itself and swap the whole page into #conversation.
                return HttpResponseClientRedirect(follow_up) if request.htmx else redirect(follow_up)
            if request.htmx:
                ticket.refresh_from_db()
                context = _detail_context(request, ticket) | {"reply_sent": True}
                return render(request, template, context)
            messages.success(request, "Your reply was sent.")
            detail = reverse("tickets:portal_detail", args=[ticket.number])
            return redirect(detail + ("?thread=all" if _reading_whole_thread(request) else ""))
    form.hold_files(new=wait is None)
    form.renew_key()
    # Under htmx a refusal for volume answers 422 too (with its Retry-After): htmx swaps no 429, and the
    # page's own "wait a minute" would replace the wait and the refilled form written here.
    status = 429 if wait is not None and not request.htmx else 422
    response = render(request, template, _detail_context(request, ticket, form), status=status)
    if wait is not None:
        response["Retry-After"] = str(wait)
    return response


def _follow_up_too_soon(request: HttpRequest, ticket: Ticket) -> int | None:
    """A reply to a closed conversation opens a new ticket (a follow-up): counted with the requests the
    customer submits (ticket_submit), or replying to closed tickets would open them without limit. The
    seconds to wait when over it, else None. A second click of a reply already sent is not counted."""
    home = ticket.merge_chain()[-1] if ticket.merged_into_id else ticket
    if workflow.accepts_replies(home.status):  # as services.ticket_reply decides it
        return None
    if (key := _posted_submission_key(request)) is not None and (
        Ticket.objects.filter(submission_key=key, created_by=request.user).exists()  # the follow-up it opened
        or TicketMessage.objects.filter(submission_key=key, author=request.user).exists()
    ):
        return None
    return rate_limited(request, "ticket_submit", per_ip=False)


@login_required
@require_POST
@changes_tickets
def ticket_set_status(request: HttpRequest, number: str) -> HttpResponse:
    ticket = _visible_ticket(request, number)
    target = request.POST.get("status", "")
    try:
        # From a stale page (say support answered a moment ago) the customer reads the answer first.
        changed = services.ticket_transition(
            ticket,
            status=target,
            actor=request.user,
            seen_message=parse_id(request.POST.get("seen")),
            as_requester=True,
        )
    except services.TicketError as error:
        messages.error(request, str(error))
    else:
        if changed.version == ticket.version:  # so already, as the portal shows it (on hold reads as open)
            shown = workflow.customer_label(changed.status).lower()
            messages.info(request, f"{ticket.reference} is {shown} already; nothing changed.")
        else:
            done = "marked as solved" if target == Status.RESOLVED else "reopened"
            messages.success(request, f"{ticket.reference} is {done}.")
    return redirect("tickets:portal_detail", number=ticket.number)


@login_required
@require_safe
def attachment_download(request: HttpRequest, pk: int) -> FileResponse:
    attachment = get_object_or_404(Attachment.objects.visible_to(request.user), pk=pk)
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as error:
        raise Http404("The file is missing from storage.") from error
    # A counter, not a change anyone acts on: downloads are counted on the GET that serves them (a
    # HEAD serves no file).
    if request.method == "GET":
        Attachment.objects.filter(pk=attachment.pk).update(download_count=F("download_count") + 1)
    return as_download(
        FileResponse(handle, content_type=attachment.content_type), download_disposition(attachment.filename)
    )
