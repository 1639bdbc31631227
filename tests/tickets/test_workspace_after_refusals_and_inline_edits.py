"""The agent's workspace after refusals and inline edits: a reply refused for itself from a page a
colleague changed, files named when a merged ticket takes no reply, the text kept when the role lost
answering, the status menu following an inline close, and taking a ticket through the assignee menu."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import made_once_per_module
from tests.factories import TicketFormFactory, make_ticket
from tests.tickets.conftest import fresh, make_desk, page_text, reply_url, update_url, ws
from tickets import services
from tickets.models import Attachment, TicketMessage
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

_desk_rows, desk = made_once_per_module(make_desk, "desk")

HTMX = {"HX-Request": "true", "HX-Target": "properties"}


def reply_with_a_file(client, ticket, *, body: str, version: int, file: SimpleUploadedFile) -> str:
    """The page a reply with `file`, sent from a page of `version`, comes back to (refused: 422)."""
    response = client.post(reply_url(ticket), {"kind": "reply", "body": body, "version": version,
                                               "attachments": file})  # fmt: skip
    assert response.status_code == 422
    return page_text(response)


def composer_version(html: str) -> str | None:
    found = re.search(r'<input type="hidden" name="version" id="composer-version" value="(\d+)"', html)
    return found.group(1) if found else None


def test_a_reply_refused_for_its_file_from_a_page_a_colleague_changed_says_so(client, desk):
    """Refused for itself (a file's type) before the service checks the version: the page that comes
    back carries the ticket's new version, so it says the ticket changed, as a valid sending would be
    told, and the colleague's answer is on it. A note from such a page is not told (notes never
    conflict), unless it sets a status."""
    ticket, agent = desk["ticket"], desk["agent"]
    seen = ticket.version
    services.ticket_reply(ticket, body="We cannot refund this order.", actor=desk["colleague"])
    client.force_login(agent)
    page = reply_with_a_file(
        client, ticket, body="Refund on its way!", version=seen,
        file=SimpleUploadedFile("tool.exe", b"MZ\x90\x00binary"),
    )  # fmt: skip
    assert "Someone changed this ticket" in page and "We cannot refund this order." in page
    assert composer_version(page) == str(fresh(ticket).version) and "Refund on its way!" in page
    note = client.post(reply_url(ticket), {"kind": "note", "body": "FYI", "version": seen,
                                           "attachments": SimpleUploadedFile("x.exe", b"MZ")})  # fmt: skip
    assert note.status_code == 422 and "Someone changed this ticket" not in page_text(note)


def test_choosing_yourself_in_the_assignee_menu_reads_the_ticket_as_taking_it_does(client, desk):
    """ "Take it" in the workspace marks the customer's messages read (the thread is in front of the
    agent: ticket_assign(seen=True)); choosing oneself in the Assignee menu of the same page does the
    very same thing but leaves the ticket unread, so it shows the unread marker in the agent's own
    queue for messages they have just read on that page (the htmx fragment does not fire the seen
    POST either). Cause: tickets/views/desk.py _apply_edit, field "assignee", calls ticket_assign
    without seen=True when the assignee is the actor. Fix: pass seen=(assignee == actor)."""
    ticket, agent = desk["ticket"], desk["agent"]
    services.ticket_reply(ticket, body="Still burning.", actor=desk["customer"])
    ticket = fresh(ticket)
    assert ticket.last_customer_message_at is not None
    client.force_login(agent)
    response = client.post(
        update_url(ticket), {"field": "assignee", "value": agent.pk, "version": ticket.version}, headers=HTMX
    )
    assert response.status_code == 200
    ticket = fresh(ticket)
    assert ticket.assignee == agent
    assert not ticket.unread_by_assignee, "the agent assigned it to themselves on the page showing it"


def test_a_reply_with_a_file_to_a_ticket_merged_meanwhile_names_the_file_not_sent(client, desk):
    """The agent answers with a file attached; meanwhile a supervisor merged the ticket. The refused page
    is read-only: it shows the typed text under "What you wrote (not sent)" to copy into the ticket the
    conversation moved to, but the file is neither offered nor named anywhere (the view holds it,
    form.hold_files(), yet the read-only composer in workspace.html has no attachments part), so the
    agent copies the text over and the customer never gets the file. The page should at least name
    the files that were not sent (or offer them, kept, where the conversation goes on)."""
    ticket, agent = desk["ticket"], desk["agent"]
    target = make_ticket(desk["customer"], team=desk["support"], subject="Printer, again")
    seen = ticket.version
    services.ticket_merge(ticket, into=target, actor=desk["supervisor"])
    client.force_login(agent)
    page = reply_with_a_file(
        client, ticket, body="Here is the replacement driver.", version=seen,
        file=SimpleUploadedFile("driver-notes.txt", b"install steps"),
    )  # fmt: skip
    assert "Here is the replacement driver." in page
    assert not Attachment.objects.exists()
    assert "driver-notes.txt" in page, "the file chosen is silently dropped from the page"


def test_closing_inline_with_htmx_swaps_the_composers_status_menu_as_a_reload_shows_it(client, desk):
    """Closed inline with htmx, the fragment swaps the "Send as" choice (notes only, as after a reload)
    but not the composer's "Then set status" menu, which keeps offering Open, Pending, On hold and
    Resolved; the full page of the closed ticket offers only "Keep the status". A note sent from the
    swapped page with one of them chosen is refused (Closed is final). The fragment should swap the
    status menu too (workspace.html #properties, htmx branch, next to the send-as partial)."""
    ticket, supervisor = desk["ticket"], desk["supervisor"]
    client.force_login(supervisor)
    page = page_text(client.get(ws(ticket)))
    assert '<option value="pending"' in page.split('id="id_status_after"')[1].split("</select>")[0]
    response = client.post(
        update_url(ticket),
        {"field": "status", "value": "closed", "version": ticket.version, "confirm": "close"},
        headers=HTMX,
    )
    assert response.status_code == 200 and fresh(ticket).status == Status.CLOSED
    fragment = page_text(response)
    assert 'id="send-as"' in fragment, "the send-as choice follows the close"
    reloaded = page_text(client.get(ws(ticket)))
    menu = reloaded.split('id="id_status_after"')[1].split("</select>")[0]
    assert '<option value="pending"' not in menu, "the full page offers no status for a closed ticket"
    assert 'id="id_status_after"' in fragment, "the fragment leaves the stale status menu on the page"


def test_a_reply_refused_because_the_role_lost_answering_while_typing_keeps_the_text(client, desk):
    """An administrator edits the agent's role (Groups in the admin) and takes "Can answer tickets" away
    while the agent is typing a reply. The sending is refused, as it must be, but the page that comes
    back replaces the composer by "Your role does not include answering tickets" and drops the typed
    text, where a ticket merged or deleted meanwhile keeps it under "What you wrote (not sent)"
    (workspace.html: the `{% else %}` branch after `may.answer` shows neither the text nor the form's
    errors). The typed text should come back (read-only, to copy), as for the other read-only states."""
    from django.contrib.auth.models import Group, Permission

    from accounts.models import TeamMember
    from tests.factories import TeamMemberFactory, give_custom_role, make_user_with_role

    tier = make_user_with_role("Customer", name="Tina Tier")  # a role is what makes them staff below
    tier.groups.clear()
    tier = give_custom_role(
        tier, "Tier 1", [("accounts", "view_support_queue"), ("accounts", "provide_support")]
    )
    TeamMemberFactory(team=desk["support"], user=tier, role=TeamMember.Role.AGENT)
    ticket = desk["ticket"]
    client.force_login(tier)
    page = page_text(client.get(ws(ticket)))
    assert 'id="composer"' in page and "Send reply" in page
    Group.objects.get(name="Tier 1").permissions.remove(
        Permission.objects.get(content_type__app_label="accounts", codename="provide_support")
    )
    response = client.post(reply_url(ticket), {
        "kind": "reply", "body": "A long and careful answer 5521", "version": ticket.version,
    })  # fmt: skip
    assert response.status_code in (403, 422)
    assert not TicketMessage.objects.filter(body__contains="5521").exists()
    assert "A long and careful answer 5521" in page_text(response), "the typed reply is gone from the page"


def _ticket_with_a_form(desk):
    return make_ticket(
        desk["customer"], team=desk["support"],
        form=TicketFormFactory(),  # order_number (text, required), product (Basic / Pro)
        custom_fields={"order_number": "A-1", "product": "Basic"},
    )  # fmt: skip


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_custom_fields_from_a_stale_page_are_refused_as_stale_even_when_one_is_invalid(client, desk, htmx):
    """A colleague set Product to "Pro" while the agent's page showed "Basic"; the agent clears the
    required order number and saves. Before the fix the answer was only "Order number: This field is
    required." with the ticket's new version in the form: corrected and saved again, it put "Basic" back
    over the colleague's "Pro" without a word."""
    ticket = _ticket_with_a_form(desk)
    seen = ticket.version
    services.ticket_update_fields(
        ticket, changes={"custom_fields": {"order_number": "A-1", "product": "Pro"}}, actor=desk["colleague"]
    )
    client.force_login(desk["agent"])
    data = {"field": "custom_fields", "version": seen, "cf-order_number": "", "cf-product": "Basic"}
    refused = client.post(update_url(ticket), data, headers=HTMX if htmx else {})
    assert refused.status_code == 409
    assert "Someone changed this ticket" in page_text(refused)
    assert fresh(ticket).custom_fields == {"order_number": "A-1", "product": "Pro"}


def test_custom_fields_saved_twice_without_javascript_are_saved_not_a_colleagues_change(client, desk):
    """A double click on "Save details": the second post is the agent's own save again, answered as
    saved (before the fix: 409 "Someone changed this ticket", though nobody had). Other values sent on
    the same old page are still refused as stale."""
    ticket = _ticket_with_a_form(desk)
    client.force_login(desk["agent"])
    data = {
        "field": "custom_fields",
        "version": ticket.version,
        "cf-order_number": "B-7",
        "cf-product": "Pro",
    }
    assert client.post(update_url(ticket), data).status_code == 302
    assert client.post(update_url(ticket), data).status_code == 302
    assert fresh(ticket).custom_fields == {"order_number": "B-7", "product": "Pro"}
    other = client.post(update_url(ticket), data | {"cf-order_number": "B-8"})
    assert other.status_code == 409
    assert fresh(ticket).custom_fields["order_number"] == "B-7"
