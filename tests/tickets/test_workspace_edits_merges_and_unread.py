"""The agent ticket workspace (/desk/tickets/<number>/): inline edits with and without htmx, stale
versions, the composer, merges (along chains, from a queue, stale), moving a ticket out of the agent's
teams, custom fields after the form's schema changed, the timeline, the unread marker and what the
customer's portal shows afterwards."""

import json
import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from tests.concurrency import run_while_another_transaction_waits
from tests.conftest import made_once_per_module
from tests.factories import (
    TeamFactory,
    TicketFormFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_ticket,
)
from tests.tickets.conftest import fresh, make_desk, merge_url, page_text, reply_url, update_url, ws
from tickets import services
from tickets.models import Attachment, Ticket, TicketMessage
from tickets.selectors import THREAD_WINDOW
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

_desk_rows, desk = made_once_per_module(make_desk, "desk")

HTMX = {"HX-Request": "true"}
QUEUE = reverse("tickets:desk_queue")


def timeline(response) -> str:
    page = page_text(response)
    return re.sub(r"\s+", " ", re.search(r'<ol class="timeline".*?</ol>', page, re.S).group(0))


# Merges


def test_the_workspace_of_a_ticket_merged_along_a_chain_links_where_the_conversation_is_now(client, desk):
    """A merged into B, then B into C. A's workspace must send the agent to C, where replies and notes
    are taken (the portal's "merged into" and the services' refusal both follow the chain to C), not to
    B, which is read-only as well ("reply and add notes there" would be refused there too)."""
    customer, supervisor = desk["customer"], desk["supervisor"]
    a = desk["ticket"]
    b = make_ticket(customer, team=desk["support"], subject="Second")
    c = make_ticket(customer, team=desk["support"], subject="Third")
    services.ticket_merge(a, into=b, actor=supervisor)
    services.ticket_merge(fresh(b), into=c, actor=supervisor)
    client.force_login(desk["agent"])
    page = page_text(client.get(ws(a)))
    composer = page.split('id="composer"')[1].split("</div>")[0]
    assert c.reference in composer, " ".join(composer.split())


def test_a_stale_merge_comes_back_with_the_number_and_no_reload_advice(client, desk):
    """A merge sent from a page a colleague changed since comes back (422) with the number as typed
    on the page that already shows their change. The message must not tell the agent to reload (that
    would drop the number typed), as the stale messages of replies and inline edits take care not to."""
    source = desk["ticket"]
    target = make_ticket(desk["customer"], team=desk["support"], subject="Second")
    seen = source.version
    services.ticket_update_fields(source, changes={"priority": "high"}, actor=desk["colleague"])
    client.force_login(desk["supervisor"])
    response = client.post(merge_url(source), {"confirm": "merge", "into": target.reference, "version": seen})
    assert response.status_code == 422
    text = page_text(response)
    assert f'value="{target.reference}"' in text
    assert fresh(source).merged_into_id is None
    error = text.split('id="merge-error"')[1].split("</ul>")[0]
    assert "reload" not in error.lower(), error


def test_a_merge_from_a_queue_lands_on_the_target_in_that_queue(client, desk):
    """The merge form posts the queue the workspace was opened from: after the merge the target opens
    in that queue (its Queue link, Previous and Next), as the workspace does after a reply or an edit."""
    source = desk["ticket"]
    target = make_ticket(desk["customer"], team=desk["support"], subject="Second")
    client.force_login(desk["supervisor"])
    page = page_text(client.get(ws(source), {"queue": "status=new"}))
    assert 'name="queue" value="status=new"' in page.split('id="merge"')[1]
    response = client.post(
        merge_url(source),
        {"confirm": "merge", "into": target.reference, "version": source.version, "queue": "status=new"},
    )
    assert response.status_code == 302 and fresh(source).merged_into_id == target.pk
    assert "queue=status%3Dnew" in response["Location"], response["Location"]


def test_the_timeline_shows_merges_in_words(client, desk):
    """The merge entries read in words for people, never with the code names of the stored fields
    ("merged: merged_into", "merged: merged_from")."""
    a = desk["ticket"]
    b = make_ticket(desk["customer"], team=desk["support"], subject="Second")
    services.ticket_merge(a, into=b, actor=desk["supervisor"])
    client.force_login(desk["agent"])
    for ticket in (a, b):
        shown = timeline(client.get(ws(ticket)))
        assert "merged_into" not in shown and "merged_from" not in shown, shown

    def read(ticket) -> str:
        return " ".join(re.sub(r"<[^>]+>", " ", timeline(client.get(ws(ticket)))).split())

    # A sentence, not a change from nothing ("into — → T-1002", read out as "from — to T-1002").
    assert f"merged: into {b.reference}" in read(a) and "—" not in read(a)
    assert f"merged: from {a.reference} (1 message)" in read(b) and "—" not in read(b)


# Stale pages


def test_saving_the_current_status_from_a_stale_page_does_not_unlock_a_stale_composer(client, desk):
    """A colleague replied since the page was loaded. Saving the status select as it stands ("Open
    (current)") from that page must not answer "Saved." and hand the composer the new version while the
    thread still lacks the colleague's reply (the composer would then send unseen): it is refused as
    stale like every other edit from that page, or at least shows their reply."""
    ticket = desk["ticket"]
    services.ticket_transition(ticket, status="open", actor=desk["agent"])
    client.force_login(desk["agent"])
    assert 'value="open" selected>Open (current)' in page_text(client.get(ws(ticket)))
    seen = fresh(ticket).version
    services.ticket_reply(fresh(ticket), body="Colleague already answered this", actor=desk["colleague"])
    current = fresh(ticket)
    response = client.post(
        update_url(ticket), {"field": "status", "value": "open", "version": seen}, headers=HTMX
    )
    text = page_text(response)
    unlocked = f'name="version" id="composer-version" value="{current.version}"' in text
    assert not unlocked or "Colleague already answered this" in text, response.status_code


@pytest.mark.django_db(transaction=True)
def test_two_edits_at_the_same_moment_with_the_same_version_one_is_refused(client):
    """Two inline edits from the same page version at once: the second waits on the first's row lock
    and is then refused as stale (409); the ticket carries the first change only."""
    support = TeamFactory(name="Support")
    agent, colleague = make_agent(support, name="A"), make_agent(support, name="B")
    ticket = make_ticket(make_customer(), team=support)
    seen = ticket.version
    client.force_login(agent)
    answers = []
    run_while_another_transaction_waits(
        lambda: services.ticket_update_fields(
            fresh(ticket), changes={"priority": "urgent"}, actor=colleague, expected_version=seen
        ),
        lambda: answers.append(
            client.post(
                update_url(ticket), {"field": "priority", "value": "low", "version": seen}, headers=HTMX
            )
        ),
    )
    assert answers[0].status_code == 409
    assert (fresh(ticket).priority, fresh(ticket).version) == ("urgent", seen + 1)


# The unread marker


def test_mark_as_read_covers_only_what_the_page_showed(client, desk):
    """ "Mark as read" (the page's form, or its htmx post on load) marks read what the page showed: a
    customer message that arrived after the page was rendered stays unread for the assignee (the
    portal guards the customer's clicks the same way with the last message its page showed)."""
    ticket = desk["ticket"]
    services.ticket_assign(ticket, assignee=desk["agent"], actor=desk["agent"])
    services.ticket_reply(fresh(ticket), body="First question", actor=desk["customer"])
    client.force_login(desk["agent"])
    page = page_text(client.get(ws(ticket)))
    assert "First question" in page and "Mark as read" in page
    services.ticket_reply(fresh(ticket), body="Second question, sent after that", actor=desk["customer"])
    form = page.split(f'action="/desk/tickets/{ticket.number}/seen/"')[1].split("</form>")[0]
    data = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    client.post(reverse("tickets:desk_seen", args=[ticket.number]), data)
    assert fresh(ticket).unread_by_assignee, "a message the agent never saw was marked read"


def test_a_customer_reply_marks_unread_a_colleagues_note_does_not_and_opening_clears(client, desk):
    """A customer's reply in the portal marks the ticket unread for its assignee; the page's mark-as-read
    clears it; a colleague's note neither clears nor sets it."""
    ticket = desk["ticket"]
    services.ticket_assign(ticket, assignee=desk["agent"], actor=desk["agent"], seen=True)
    client.force_login(desk["customer"])
    client.post(reverse("tickets:portal_reply", args=[ticket.number]), {"body": "Any news?"})
    assert fresh(ticket).unread_by_assignee
    services.ticket_add_note(fresh(ticket), body="Looking", actor=desk["colleague"])
    assert fresh(ticket).unread_by_assignee
    client.force_login(desk["agent"])
    assert 'hx-trigger="load"' in page_text(client.get(ws(ticket)))
    assert client.post(reverse("tickets:desk_seen", args=[ticket.number]), headers=HTMX).status_code == 204
    assert not fresh(ticket).unread_by_assignee
    services.ticket_add_note(fresh(ticket), body="Still looking", actor=desk["colleague"])
    assert not fresh(ticket).unread_by_assignee


# Navigation and the pickers


def test_showing_the_whole_thread_keeps_the_default_queues_previous_and_next(client, desk):
    """Opened from the default queue (/desk/ without filters, whose rows link to ?queue=), the "Show
    earlier messages" link keeps the queue, so the full thread still has Previous and Next (as it does
    when the queue has filters)."""
    customer = desk["customer"]
    make_ticket(customer, team=desk["support"], subject="Older")
    ticket = make_ticket(customer, team=desk["support"], subject="Long one")
    TicketMessage.objects.bulk_create(
        TicketMessage(ticket=ticket, author=customer, body=f"m{i}", body_html=f"<p>m{i}</p>")
        for i in range(THREAD_WINDOW + 3)
    )
    client.force_login(desk["agent"])
    page = client.get(ws(ticket), {"queue": ""})
    assert page.context["workspace"].hidden_messages
    assert page.context["next_number"] or page.context["previous_number"]
    link = unescape(re.search(r'<li class="thread-gap"><a href="([^"#]+)', page.content.decode()).group(1))
    full = client.get(link)
    assert full.context["next_number"] or full.context["previous_number"], link


def test_a_ticket_without_a_team_does_not_show_a_team_it_is_not_in(client, desk):
    """A ticket in no team's queue (no default team configured, or its team deleted): the Team picker
    reads "No team", never another team (a browser shows the first option of a select with none
    selected)."""
    ticket = make_ticket(desk["customer"], subject="Nobody's")
    assert ticket.team_id is None
    client.force_login(make_administrator(name="Ada Admin"))
    page = page_text(client.get(ws(ticket)))
    select = page.split('id="edit-team"')[1].split("</select>")[0]
    first = re.findall(r"<option[^>]*>", select)[0]
    assert " selected" in select or 'value=""' in first, select


# Moving a ticket to another team


def test_moving_a_ticket_out_of_reach_without_htmx_goes_back_to_the_queue(client, desk):
    """Moving a ticket to a team the agent does not work: the move is made and the agent is sent back
    to the queue they came from with a message, not to a 404 or a 500."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    response = client.post(
        update_url(ticket),
        {"field": "team", "value": desk["billing"].pk, "version": ticket.version, "queue": "status=new"},
    )
    assert response.status_code == 302 and response["Location"] == QUEUE + "?status=new"
    assert fresh(ticket).team == desk["billing"]
    assert client.get(response["Location"]).status_code == 200


def test_moving_a_ticket_out_of_reach_with_htmx_redirects_the_client(client, desk):
    """With htmx the same move answers HX-Redirect to the queue rather than a fragment or a 404."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    response = client.post(
        update_url(ticket), {"field": "team", "value": desk["billing"].pk, "version": ticket.version},
        headers=HTMX,
    )  # fmt: skip
    assert response.status_code == 200 and response["HX-Redirect"] == QUEUE


def test_moving_an_assigned_ticket_records_the_team_and_the_unassignment(client, desk):
    """Moving a ticket whose assignee does not work the new team unassigns it; the timeline records
    both, with the actor and old and new values."""
    ticket = desk["ticket"]
    services.ticket_assign(ticket, assignee=desk["agent"], actor=desk["agent"])
    client.force_login(desk["supervisor"])
    ticket = fresh(ticket)
    client.post(update_url(ticket), {"field": "team", "value": desk["billing"].pk, "version": ticket.version})
    ticket = fresh(ticket)
    assert ticket.assignee is None
    team = ticket.activities.get(action="team")
    assert (team.actor, team.old_value, team.new_value) == (desk["supervisor"], "Support", "Billing")
    unassigned = ticket.activities.filter(action="assignee").latest("pk")
    assert (unassigned.old_value, unassigned.new_value) == ("Alex Agent", None)


# Custom fields after the form changed


def _order_number_edited(client, agent, ticket):
    """The agent changes the order number inline (htmx) from an up-to-date page."""
    client.force_login(agent)
    data = {"field": "custom_fields", "cf-order_number": "B-2", "version": ticket.version}
    return client.post(update_url(ticket), data, headers=HTMX)


def test_a_checkbox_added_to_the_form_since_is_not_recorded_as_changed(client, desk):
    """A checkbox added to the form after the ticket was sent, left unticked while the agent edits
    another field, stays unanswered: nothing is recorded for it, and no "No" appears that nobody gave."""
    form = TicketFormFactory()
    ticket = make_ticket(
        desk["customer"], team=desk["support"], form=form, custom_fields={"order_number": "A-1"}
    )
    form.schema = [*form.schema, {"name": "urgent", "label": "Urgent", "type": "checkbox"}]
    form.save()
    assert _order_number_edited(client, desk["agent"], ticket).status_code == 200
    entry = fresh(ticket).activities.get(action="custom_fields")
    assert "Urgent" not in entry.new_value, entry.new_value


def test_editing_custom_fields_after_a_field_was_removed_keeps_its_value(client, desk):
    """A field removed from the form since: its value stays on the ticket when the others are edited,
    is still shown, and the timeline records only the field that changed."""
    form = TicketFormFactory()
    ticket = make_ticket(
        desk["customer"], team=desk["support"], form=form,
        custom_fields={"order_number": "A-1", "product": "Pro"},
    )  # fmt: skip
    form.schema = [{"name": "order_number", "label": "Order number", "type": "text", "required": True}]
    form.save()
    assert _order_number_edited(client, desk["agent"], ticket).status_code == 200
    ticket = fresh(ticket)
    assert ticket.custom_fields == {"order_number": "B-2", "product": "Pro"}
    entry = ticket.activities.get(action="custom_fields")
    assert (entry.old_value, entry.new_value) == ({"Order number": "A-1"}, {"Order number": "B-2"})
    assert "Product (no longer on the form)" in page_text(client.get(ws(ticket)))


def test_the_timeline_escapes_user_text(client, desk):
    """Custom field labels and values and team names reach the timeline escaped, never as markup."""
    form = TicketFormFactory(schema=[{"name": "note", "label": "Note <b>x</b>", "type": "text"}])
    ticket = make_ticket(desk["customer"], team=desk["support"], form=form, custom_fields={"note": "a"})
    desk["billing"].name = "<img src=x onerror=alert(1)>"
    desk["billing"].save()
    client.force_login(desk["supervisor"])
    client.post(
        update_url(ticket),
        {"field": "custom_fields", "cf-note": "<script>alert(1)</script>", "version": ticket.version},
    )
    admin = make_administrator(name="Ada Admin")
    services.ticket_update_fields(fresh(ticket), changes={"team": desk["billing"]}, actor=admin)
    client.force_login(admin)
    raw = client.get(ws(ticket)).content.decode()
    assert "<script>alert(1)</script>" not in raw and "<img src=x onerror" not in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw


# The composer and the customer's side


def test_reply_and_pend_shows_the_customer_the_reply_and_status_never_the_note(client, desk):
    """Reply and pend: the customer's portal shows the reply and the pending status, never the note."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    client.post(reply_url(ticket), {"kind": "note", "body": "Secret internal stuff"})
    response = client.post(
        reply_url(ticket),
        {"kind": "reply", "body": "Which model is it?", "status_after": "pending",
         "version": fresh(ticket).version},
    )  # fmt: skip
    assert response.status_code == 302 and fresh(ticket).status == Status.PENDING
    client.force_login(desk["customer"])
    page = page_text(client.get(reverse("tickets:portal_detail", args=[ticket.number])))
    assert "Which model is it?" in page and "Secret internal stuff" not in page
    assert "Waiting for your reply" in page.split('id="ticket-status"')[1].split("</dd>")[0]


def test_a_notes_file_stays_with_staff_and_a_replys_file_reaches_the_customer(client, desk):
    """A file sent with an internal note is not downloadable by the customer; a reply's file is."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    client.post(
        reply_url(ticket),
        {"kind": "note", "body": "log attached", "attachments": SimpleUploadedFile("log.txt", b"secret")},
    )
    client.post(
        reply_url(ticket),
        {"kind": "reply", "body": "guide attached", "version": fresh(ticket).version,
         "attachments": SimpleUploadedFile("guide.txt", b"public guide")},
    )  # fmt: skip
    note_file, reply_file = (
        Attachment.objects.get(filename="log.txt"),
        Attachment.objects.get(filename="guide.txt"),
    )
    client.force_login(desk["customer"])
    assert client.get(reverse("tickets:attachment_download", args=[note_file.pk])).status_code == 404
    assert client.get(reverse("tickets:attachment_download", args=[reply_file.pk])).status_code == 200


# --- Saved as it stands, and read up to what the page showed ------------------------------------------


def seen_url(ticket) -> str:
    return reverse("tickets:desk_seen", args=[ticket.number])


def unread_ticket(desk):
    """The desk's ticket, assigned to the agent, with a customer message the agent has not read."""
    ticket = desk["ticket"]
    services.ticket_assign(ticket, assignee=desk["agent"], actor=desk["agent"])
    services.ticket_reply(fresh(ticket), body="Any news?", actor=desk["customer"])
    ticket = fresh(ticket)
    assert ticket.unread_by_assignee
    return ticket


# --- The "No team" option ------------------------------------------------------------------------


def test_saving_the_no_team_option_as_it_stands_is_not_refused(client, desk):
    """A ticket in no team shows its Team picker on "No team" (selected). Pressing its Save without
    choosing another team changes nothing and is not an error, as saving the current status is not:
    the answer must not be a 422 "That choice is not available." for the option the page itself
    selected."""
    ticket = make_ticket(desk["customer"], subject="Nobody's")
    assert ticket.team_id is None
    client.force_login(make_administrator(name="Ada Admin"))
    page = page_text(client.get(ws(ticket)))
    select = page.split('id="edit-team"')[1].split("</select>")[0]
    assert '<option value="" selected>No team</option>' in select
    response = client.post(
        update_url(ticket), {"field": "team", "value": "", "version": ticket.version}, headers=HTMX
    )
    refused = "That choice is not available." in page_text(response)
    assert response.status_code == 200, (response.status_code, refused)
    assert fresh(ticket).team_id is None and fresh(ticket).version == ticket.version


def test_saving_the_no_team_option_without_htmx_says_saved(client, desk):
    """The same Save without JavaScript answers "Saved." (a redirect back to the workspace), not the
    page again with an error beside the Team picker (422)."""
    ticket = make_ticket(desk["customer"], subject="Nobody's")
    client.force_login(make_administrator(name="Ada Admin"))
    response = client.post(update_url(ticket), {"field": "team", "value": "", "version": ticket.version})
    assert response.status_code == 302, response.status_code


# --- Mark as read up to what the page showed ------------------------------------------------------


def test_the_workspaces_hx_vals_is_json_holding_the_last_customer_message_time(client, desk):
    """The htmx post on load carries `shown` in hx-vals: valid JSON whose value reads back as the
    ticket's last customer message time; posting it marks the ticket read."""
    ticket = unread_ticket(desk)
    client.force_login(desk["agent"])
    page = page_text(client.get(ws(ticket)))
    raw = re.search(r"hx-vals='([^']*)'", page).group(1)
    shown = json.loads(raw)["shown"]
    assert shown == ticket.last_customer_message_at.isoformat()
    assert client.post(seen_url(ticket), {"shown": shown}, headers=HTMX).status_code == 204
    assert not fresh(ticket).unread_by_assignee


def test_an_older_shown_never_moves_the_read_marker_back(client, desk):
    """A page opened before the agent last read the ticket (an old tab) posts an older `shown`: the
    stored assignee_seen_at stays where it is, so nothing read becomes unread again."""
    ticket = unread_ticket(desk)
    client.force_login(desk["agent"])
    client.post(seen_url(ticket), {"shown": ticket.last_customer_message_at.isoformat()}, headers=HTMX)
    stored = fresh(ticket).assignee_seen_at
    old = (ticket.last_customer_message_at - timedelta(days=3)).isoformat()
    client.post(seen_url(ticket), {"shown": old}, headers=HTMX)
    assert fresh(ticket).assignee_seen_at == stored


def test_a_future_shown_is_held_to_now(client, desk):
    """A forged `shown` in the future marks read only up to now: a customer message sent after that
    post is unread again."""
    ticket = unread_ticket(desk)
    client.force_login(desk["agent"])
    future = (timezone.now() + timedelta(days=365)).isoformat()
    client.post(seen_url(ticket), {"shown": future}, headers=HTMX)
    assert fresh(ticket).assignee_seen_at <= timezone.now()
    services.ticket_reply(fresh(ticket), body="Hello again", actor=desk["customer"])
    assert fresh(ticket).unread_by_assignee


def test_an_absurd_shown_does_not_break_the_ticket_for_everyone(client, desk):
    """`shown` is whatever the browser posts. A value that parses but lies outside what the database
    can give back (year 1 at +14:00 is a date before year 1 in UTC) must be refused or held to a sane
    range, never stored: else every later read of the ticket fails (the workspace, the queue, the
    portal answer 500) for everyone."""
    ticket = unread_ticket(desk)
    client.force_login(desk["agent"])
    client.post(seen_url(ticket), {"shown": "0001-01-01T00:00:00+14:00"}, headers=HTMX)
    client.force_login(desk["colleague"])
    assert client.get(ws(ticket)).status_code == 200
    client.force_login(desk["customer"])
    assert client.get(reverse("tickets:portal_detail", args=[ticket.number])).status_code == 200


# --- The stale no-op status save ------------------------------------------------------------------


def test_saving_the_current_status_from_a_current_page_says_saved_and_changes_nothing(client, desk):
    """The stale check for a status saved as it stands must not break the ordinary case: from an
    up-to-date page the save answers 200 (htmx) or "Saved." (a redirect), and the version is unchanged."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    data = {"field": "status", "value": ticket.status, "version": ticket.version}
    assert client.post(update_url(ticket), data, headers=HTMX).status_code == 200
    assert client.post(update_url(ticket), data).status_code == 302
    assert fresh(ticket).version == ticket.version


def test_saving_the_current_status_from_a_stale_page_is_a_409_with_htmx(client, desk):
    """From a page a colleague changed since, the same save is refused as stale (409), like any edit."""
    ticket = desk["ticket"]
    seen = ticket.version
    services.ticket_update_fields(ticket, changes={"priority": "high"}, actor=desk["colleague"])
    client.force_login(desk["agent"])
    response = client.post(
        update_url(ticket), {"field": "status", "value": ticket.status, "version": seen}, headers=HTMX
    )
    assert response.status_code == 409


# --- Merges -------------------------------------------------------------------------------------


def test_a_merge_redirect_keeps_a_crafted_queue_inside_the_query_string(client, desk):
    """The posted `queue` goes into the target's address encoded: it cannot add parameters of its own
    nor send the agent to another site."""
    source = desk["ticket"]
    target = make_ticket(desk["customer"], team=desk["support"], subject="Second")
    client.force_login(desk["supervisor"])
    queue = "status=new&next=1#x\r\nLocation: //evil.example"
    response = client.post(
        merge_url(source),
        {"confirm": "merge", "into": target.reference, "version": source.version, "queue": queue},
    )
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert (location.scheme, location.netloc, location.fragment) == ("", "", "")
    assert location.path == ws(target)
    assert parse_qs(location.query) == {"queue": [queue]}


def test_a_ticket_merged_into_one_since_deleted_does_not_link_to_it(client, desk):
    """A merged into B, B merged into C, then C deleted: an agent opening A is not sent to C (a 404 for
    them) and the page still opens."""
    customer, supervisor = desk["customer"], desk["supervisor"]
    a = desk["ticket"]
    b = make_ticket(customer, team=desk["support"], subject="Second")
    c = make_ticket(customer, team=desk["support"], subject="Third")
    services.ticket_merge(a, into=b, actor=supervisor)
    services.ticket_merge(fresh(b), into=c, actor=supervisor)
    Ticket.objects.filter(pk=c.pk).update(is_deleted=True, deleted_at=timezone.now())
    client.force_login(desk["agent"])
    response = client.get(ws(a))
    assert response.status_code == 200
    assert ws(c) not in page_text(response)


# --- kb_export's marker ---------------------------------------------------------------------------


def test_the_full_thread_link_carries_an_odd_queue_encoded(client, desk):
    """The "Show earlier messages" link keeps the queue the workspace was opened from, encoded: a queue
    holding &, # or = reads back as the same queue and adds no parameter of its own."""
    from html import unescape

    from tickets.models import TicketMessage
    from tickets.selectors import THREAD_WINDOW

    customer = desk["customer"]
    ticket = make_ticket(customer, team=desk["support"], subject="Long one")
    TicketMessage.objects.bulk_create(
        TicketMessage(ticket=ticket, author=customer, body=f"m{i}", body_html=f"<p>m{i}</p>")
        for i in range(THREAD_WINDOW + 3)
    )
    client.force_login(desk["agent"])
    queue = "q=a&b c#d&thread=none"
    page = client.get(ws(ticket), {"queue": queue})
    link = unescape(re.search(r'<li class="thread-gap"><a href="([^"#]+)', page.content.decode()).group(1))
    assert parse_qs(urlsplit(link).query) == {"queue": [queue], "thread": ["all"]}


@pytest.mark.parametrize(
    ("field", "theirs", "mine", "named"),
    [
        ("priority", {"priority": "high"}, "urgent", "“Urgent”"),
        ("team", {"priority": "high"}, None, "“Billing”"),
        ("assignee", {"priority": "high"}, "", "“Unassigned”"),
    ],
)
def test_a_menu_edit_refused_as_stale_names_the_choice_that_was_not_saved(
    client, desk, field, theirs, mine, named
):
    """A colleague changed the ticket while the agent chose Urgent (or a team, or no assignee): the 409
    names the agent's choice, since the menu comes back on the colleague's. Before the fix it said "save
    it again", and saving the menu as it came back saved the colleague's value and answered "Saved."."""
    ticket = desk["ticket"]
    seen = ticket.version
    services.ticket_update_fields(ticket, changes=theirs, actor=desk["colleague"])
    client.force_login(desk["agent"])
    value = str(desk["billing"].pk) if mine is None else mine
    response = client.post(
        update_url(ticket), {"field": field, "value": value, "version": seen}, headers=HTMX
    )
    assert response.status_code == 409
    assert f"Yours, {named}, was not saved" in page_text(response)


def test_saving_the_team_menu_as_it_stands_on_a_team_closed_since_changes_nothing_and_is_not_refused(
    client, desk
):
    """The ticket's team was closed after it came in; the menu shows it chosen and the agent saves it as
    it stands: nothing changes and nothing is refused. Before the fix: 422 "Support no longer works
    tickets", though no team was chosen. Moving a ticket into a closed team is still refused."""
    ticket = desk["ticket"]
    desk["support"].is_active = False
    desk["support"].save()
    client.force_login(desk["agent"])
    post = {"field": "team", "value": str(desk["support"].pk), "version": ticket.version}
    assert client.post(update_url(ticket), post, headers=HTMX).status_code == 200
    assert fresh(ticket).version == ticket.version
    closed = TeamFactory(name="Old team", is_active=False)
    moved = {"field": "team", "value": str(closed.pk), "version": ticket.version}
    assert client.post(update_url(ticket), moved, headers=HTMX).status_code == 422
    assert fresh(ticket).team_id == desk["support"].pk
