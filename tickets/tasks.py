"""Background work for tickets (django.tasks): the auto-close of resolved tickets, the sweep of stored
files no attachment points at, the removal of files held for forms nobody sent again, the receipt of an
anonymous submission."""

import logging

from django.tasks import task

from accounts.models import User
from helpdesk.mail import mail_or_retry, send_automatic
from helpdesk.models import SiteConfiguration
from tickets import attachments, services
from tickets.models import Ticket

logger = logging.getLogger(__name__)
# A receipt is the visitor's only copy of their ticket's reference: a mail server that is down is tried
# again after each of these waits before the task fails (its result kept for the admins).


@task
def close_resolved_tickets() -> int:
    """Close tickets resolved TICKET_AUTO_CLOSE_DAYS ago or longer; returns how many were closed."""
    return services.tickets_close_resolved()


@task
def remove_orphan_files() -> int:
    """Delete stored files a rolled-back transaction left without an attachment; returns how many."""
    return len(attachments.orphans_remove())


@task
def remove_held_files() -> int:
    """Delete files held for a form that came back and was not sent again within a day; returns how many."""
    return attachments.held_remove()


@task
def send_submission_receipt(ticket_pk: int, *, portal_url: str, reset_url: str, attempt: int = 0) -> bool:
    """Mail the requester of a submission its reference and how to follow it (no secrets in the links);
    returns whether it was sent. A ticket deleted meanwhile (spam) gets none, nor does a requester
    suspended meanwhile (an address a visitor typed to send someone mail: suspending it stops that)."""
    ticket = Ticket.objects.select_related("requester").filter(pk=ticket_pk, is_deleted=False).first()
    if ticket is None or ticket.requester.effective_status() == User.Status.SUSPENDED:
        return False
    requester = ticket.requester
    # Named: the visitor may have typed someone else's address, who must see which site this is.
    site_name = SiteConfiguration.objects.get_current().site_name_line
    # Without the subject the visitor wrote: anyone may type any address, a confirmed one's too (that its
    # owner reads it says nothing of who sent this), and the site's mail would carry their words ("Your
    # account is locked: log in at …") to it. The reference names the request.
    subject = f"[{ticket.reference}] {site_name} received your request"
    return mail_or_retry(
        send_submission_receipt,
        lambda: send_automatic(
            subject,
            f"{requester.mail_greeting}\n\n"
            f"{site_name} received your request {ticket.reference} and will reply soon.\n\n"
            f"Follow it here:\n{portal_url}\n\nNo password yet? Choose one here:\n{reset_url}\n",
            requester.email,
        ),
        ticket_pk,
        portal_url=portal_url,
        reset_url=reset_url,
        attempt=attempt,
        what=f"the receipt for {ticket.reference}",
    )
