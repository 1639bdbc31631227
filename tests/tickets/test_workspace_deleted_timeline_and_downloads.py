"""The ticket workspace: a deleted ticket is read-only, refused writes keep what was typed, inline edits
and merges refuse what they must, the timeline reaches its first change, downloads are inert."""

import re
import uuid
from html import unescape
from urllib.parse import unquote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.conftest import made_once_per_module
from tests.factories import TeamFactory, make_administrator, make_ticket
from tests.tickets.conftest import (
    fresh,
    make_desk,
    merge_url,
    page_text,
    reply_url,
    seen_text,
    update_url,
    ws,
)
from tickets import services
from tickets.models import Attachment, TicketActivity, TicketMessage
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

_desk_rows, desk = made_once_per_module(make_desk, "desk")

HTMX = {"HX-Request": "true"}


def text_file(name="notes.txt", content=b"hello there"):
    return SimpleUploadedFile(name, content, content_type="text/plain")


def timeline(response) -> str:
    page = page_text(response)
    return re.sub(r"\s+", " ", re.search(r'<ol class="timeline".*?</ol>', page, re.S).group(0))


# Composer


def test_reply_and_pend_refused_by_the_workflow_keeps_the_message_and_files_and_writes_nothing(client, desk):
    """Reply and pend on a ticket that was solved meanwhile (Resolved -> Pending is not a transition):
    a serious helpdesk refuses with the workflow's reason, sends nothing to the customer, stores no file,
    and gives back the typed message and the chosen file."""
    ticket, agent = desk["ticket"], desk["agent"]
    services.ticket_transition(ticket, status=Status.RESOLVED, actor=desk["supervisor"])
    ticket = fresh(ticket)
    client.force_login(agent)
    response = client.post(
        reply_url(ticket),
        {"kind": "reply", "body": "Please send the logs", "status_after": "pending",
         "version": ticket.version, "submission_key": str(uuid.uuid4()), "attachments": text_file()},
    )  # fmt: skip
    page = page_text(response)
    assert response.status_code == 422
    assert "cannot go from Resolved to Pending" in page
    assert "Please send the logs" in page
    assert re.search(r'name="held" value="[^"]+"[^>]* checked>\s*notes.txt', page)
    assert not TicketMessage.objects.filter(ticket=ticket, body="Please send the logs").exists()
    assert Attachment.objects.count() == 0
    assert fresh(ticket).status == Status.RESOLVED


def test_a_reply_on_a_ticket_closed_meanwhile_is_not_sent_and_the_text_is_kept(client, desk):
    """A colleague closed the ticket while the agent typed a public reply: nothing reaches the customer,
    the message comes back as typed, and the composer now offers an internal note only; sending the
    reply again says closed tickets take no replies; the same text as a note is accepted."""
    ticket, agent = desk["ticket"], desk["agent"]
    version = ticket.version
    services.ticket_transition(ticket, status=Status.CLOSED, actor=desk["supervisor"])
    client.force_login(agent)
    data = {
        "kind": "reply",
        "body": "Here is the fix",
        "version": version,
        "submission_key": str(uuid.uuid4()),
    }
    response = client.post(reply_url(ticket), data)
    page = page_text(response)
    assert response.status_code == 422
    assert "Here is the fix" in page
    assert 'value="reply" id="kind-reply" disabled' in page
    assert not TicketMessage.objects.filter(ticket=ticket, body="Here is the fix").exists()
    again = client.post(reply_url(ticket), {**data, "version": fresh(ticket).version,
                                            "submission_key": str(uuid.uuid4())})  # fmt: skip
    assert again.status_code == 422
    assert services.CLOSED_TO_STAFF in page_text(again)
    note = client.post(reply_url(ticket), {**data, "kind": "note", "version": fresh(ticket).version,
                                           "submission_key": str(uuid.uuid4())})  # fmt: skip
    assert note.status_code == 302
    assert TicketMessage.objects.get(ticket=ticket, body="Here is the fix").is_internal


def test_a_double_submitted_reply_and_solve_with_a_file_is_sent_once(client, desk):
    """The same composer form posted twice (double click) with "reply and solve" and a file: one
    reply, one file, one status change, and the second answer is not an error."""
    ticket, agent = desk["ticket"], desk["agent"]
    client.force_login(agent)
    key = str(uuid.uuid4())
    for _ in range(2):
        response = client.post(
            reply_url(ticket),
            {"kind": "reply", "body": "Fixed it", "status_after": "resolved", "version": ticket.version,
             "submission_key": key, "attachments": text_file()},
        )  # fmt: skip
        assert response.status_code == 302, page_text(response)[:2000]
    assert TicketMessage.objects.filter(ticket=ticket, body="Fixed it").count() == 1
    assert Attachment.objects.count() == 1
    assert fresh(ticket).status == Status.RESOLVED
    statuses = TicketActivity.objects.filter(ticket=ticket, action=TicketActivity.Action.STATUS)
    assert list(statuses.values_list("new_value", flat=True)) == [Status.RESOLVED]


def test_an_administrator_cannot_send_a_public_reply_on_a_deleted_ticket(client, desk):
    """A deleted ticket is hidden from the customer (and every list); a public reply on it answers a
    conversation the customer cannot open. A serious helpdesk keeps a deleted ticket read-only until it
    is restored (the page itself says "Restore it in the admin"), as the merge service already does."""
    admin = make_administrator(name="Ada Admin")
    ticket = desk["ticket"]
    services.ticket_delete(ticket, actor=admin)
    ticket = fresh(ticket)
    client.force_login(admin)
    assert client.get(ws(ticket)).status_code == 200
    response = client.post(
        reply_url(ticket),
        {"kind": "reply", "body": "Answer on a deleted ticket", "version": ticket.version,
         "submission_key": str(uuid.uuid4())},
    )  # fmt: skip
    assert response.status_code in (404, 409, 422)
    assert not TicketMessage.objects.filter(body="Answer on a deleted ticket").exists()


def test_an_administrator_cannot_edit_fields_of_a_deleted_ticket(client, desk):
    """Inline edits (priority) on a deleted ticket are refused until it is restored, as replies are."""
    admin = make_administrator(name="Ada Admin")
    ticket = desk["ticket"]
    services.ticket_delete(ticket, actor=admin)
    ticket = fresh(ticket)
    client.force_login(admin)
    response = client.post(
        update_url(ticket), {"field": "priority", "value": "urgent", "version": ticket.version}
    )
    assert response.status_code in (404, 409, 422)
    assert fresh(ticket).priority != "urgent"


# Inline edits


def test_a_priority_outside_the_choices_is_refused_with_htmx_and_without(client, desk):
    """A forged priority changes nothing; the answer is 422 with a message, not a 500 or a silent save."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    edit = {"field": "priority", "value": "apocalyptic", "version": ticket.version}
    fragment = client.post(update_url(ticket), edit, headers=HTMX)
    assert fragment.status_code == 422
    assert 'id="edit-error"' in fragment.content.decode()
    page = client.post(update_url(ticket), edit)
    assert page.status_code == 422
    assert 'id="edit-error"' in page.content.decode()
    assert fresh(ticket).priority == ticket.priority
    assert fresh(ticket).version == ticket.version


def test_assigning_to_an_agent_of_another_team_or_a_customer_is_refused(client, desk):
    """The assignee must be an agent who works the ticket's team: an agent of Billing (not offered in
    the picker, posted anyway) or the customer are refused with the service's message."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    for person in (desk["biller"], desk["customer"]):
        response = client.post(
            update_url(ticket), {"field": "assignee", "value": person.pk, "version": ticket.version},
            headers=HTMX,
        )  # fmt: skip
        assert response.status_code in (409, 422)
        assert services.ASSIGNEE_NOT_AGENT in page_text(response)
        assert fresh(ticket).assignee_id is None


def test_a_team_that_does_not_exist_or_is_inactive_is_refused(client, desk):
    """A forged or closed-down team changes nothing and says why."""
    ticket = desk["ticket"]
    closed = TeamFactory(name="Closed down", is_active=False)
    client.force_login(desk["agent"])
    for value in ("999999", "abc", str(closed.pk)):
        response = client.post(
            update_url(ticket), {"field": "team", "value": value, "version": ticket.version}, headers=HTMX
        )
        assert response.status_code == 422, value
        assert 'id="edit-error"' in response.content.decode()
    assert fresh(ticket).team_id == desk["support"].pk


def test_a_stale_team_edit_without_javascript_says_so_and_keeps_the_colleagues_value(client, desk):
    """Without JavaScript, a team change from a page opened before a colleague's priority change comes
    back as a page with the stale message and the colleague's change shown; nothing is moved."""
    ticket = desk["ticket"]
    version = ticket.version
    services.ticket_update_fields(ticket, changes={"priority": "urgent"}, actor=desk["colleague"])
    client.force_login(desk["agent"])
    response = client.post(
        update_url(ticket), {"field": "team", "value": desk["billing"].pk, "version": version}
    )
    assert response.status_code == 409
    page = page_text(response)
    assert "Someone changed this ticket" in page
    assert '<option value="urgent" selected>' in page
    assert fresh(ticket).team_id == desk["support"].pk


def test_taking_a_ticket_held_by_a_colleague_records_both_names(client, desk):
    """Take it on a ticket assigned to a colleague: assigned to me, the timeline names who had it and
    who took it."""
    ticket = desk["ticket"]
    services.ticket_assign(ticket, assignee=desk["colleague"], actor=desk["supervisor"])
    ticket = fresh(ticket)
    client.force_login(desk["agent"])
    response = client.post(update_url(ticket), {"field": "take", "version": ticket.version}, headers=HTMX)
    assert response.status_code == 200
    assert fresh(ticket).assignee_id == desk["agent"].pk
    line = timeline(response)
    assert "Casey Colleague → Alex Agent" in seen_text(line)


# Merges


def test_merging_into_a_ticket_that_was_merged_names_where_it_went(client, desk):
    """A merged into B; merging C into A (typed by the agent) is refused with a message naming A as merged,
    nothing moves, and the number stays as typed."""
    customer, supervisor = desk["customer"], desk["supervisor"]
    a = desk["ticket"]
    b = make_ticket(customer, team=desk["support"], subject="Second")
    c = make_ticket(customer, team=desk["support"], subject="Third")
    services.ticket_merge(a, into=b, actor=supervisor)
    client.force_login(supervisor)
    response = client.post(merge_url(c), {"confirm": "merge", "into": a.reference, "version": c.version})
    assert response.status_code == 422
    page = page_text(response)
    assert a.reference in page and "merged" in page
    assert f'value="{a.reference}"' in page
    assert fresh(c).merged_into_id is None


def test_merging_into_a_deleted_ticket_as_a_supervisor_reads_as_no_such_ticket(client, desk):
    """A deleted ticket is invisible to a supervisor: merging into it says there is no such ticket."""
    customer, supervisor = desk["customer"], desk["supervisor"]
    target = make_ticket(customer, team=desk["support"], subject="Target")
    services.ticket_delete(target, actor=make_administrator())
    source = desk["ticket"]
    client.force_login(supervisor)
    response = client.post(
        merge_url(source), {"confirm": "merge", "into": str(target.number), "version": source.version}
    )
    assert response.status_code == 422
    assert f"There is no ticket “{target.number}” that you can work." in page_text(response)
    assert fresh(source).merged_into_id is None


# Timeline


def test_the_timeline_keeps_the_earliest_changes_reachable(client, desk):
    """Each change is listed: on a ticket with many changes the latest 100 are shown, and a link leads to
    the whole timeline at the first change not shown (its creation included), never silently dropped."""
    ticket = desk["ticket"]
    for n in range(110):
        priority = ["low", "high"][n % 2]
        services.ticket_update_fields(fresh(ticket), changes={"priority": priority}, actor=desk["agent"])
    client.force_login(desk["agent"])
    line = timeline(client.get(ws(ticket)))
    shown = re.findall(r'<li id="activity-(\d+)">', line)
    assert len(shown) == 100 and " created" not in line
    link = re.search(
        r'<li class="thread-gap"><a href="([^"]+)#activity-(\d+)">Show earlier changes</a>', line
    )
    assert link, line[-300:]
    whole = timeline(client.get(unescape(link.group(1))))
    listed = re.findall(r'<li id="activity-(\d+)">', whole)
    assert len(listed) == 111 and " created" in whole  # 110 changes and the creation
    assert listed.index(link.group(2)) == 100  # the link lands on the first change not shown before


def test_a_system_change_is_shown_as_system(client, desk):
    """A change made by the system (no actor) is listed under "System" with its old and new values."""
    ticket = desk["ticket"]
    services.ticket_transition(ticket, status=Status.RESOLVED, actor=None)
    client.force_login(desk["agent"])
    line = timeline(client.get(ws(ticket)))
    assert re.search(r"<strong>System</strong> [^<]*status.*?Resolved", line), line


# Attachments


def test_a_notes_file_downloads_for_the_agent_as_an_attachment_never_for_the_customer(client, desk):
    """An internal note's file: the agent gets it as a download with nosniff; the customer gets 404,
    also after the ticket was merged into another one."""
    ticket = desk["ticket"]
    note = services.ticket_add_note(
        ticket, body="Internal", actor=desk["agent"], uploads=[text_file("secret.txt")]
    )
    attachment = Attachment.objects.get(owner_id=note.pk)
    url = reverse("tickets:attachment_download", args=[attachment.pk])
    client.force_login(desk["agent"])
    response = client.get(url)
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment;")
    client.force_login(desk["customer"])
    assert client.get(url).status_code == 404
    target = make_ticket(desk["customer"], team=desk["support"], subject="Target")
    services.ticket_merge(fresh(ticket), into=target, actor=desk["supervisor"])
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    ("uploaded", "expected"),
    [
        ('re"port".txt', "report.txt"),
        ("line\r\nbreak.txt", "linebreak.txt"),
        ("Prüfbericht äöü 日本.txt", "Prüfbericht äöü 日本.txt"),
        ("evil\u202etxt.exe.txt", "eviltxt.exe.txt"),
    ],
)
def test_odd_filenames_give_a_safe_content_disposition(client, desk, uploaded, expected):
    """Quotes, line breaks, non-ASCII and bidi overrides in a file name: the download answers 200 with a
    single-line Content-Disposition naming the file safely (RFC 6266 / 5987)."""
    note = services.ticket_add_note(
        desk["ticket"], body="Files", actor=desk["agent"], uploads=[text_file(uploaded)]
    )
    attachment = Attachment.objects.get(owner_id=note.pk)
    client.force_login(desk["agent"])
    response = client.get(reverse("tickets:attachment_download", args=[attachment.pk]))
    assert response.status_code == 200
    header = response["Content-Disposition"]
    assert "\n" not in header and "\r" not in header
    match = re.search(r"filename\*=utf-8''(\S+)", header) or re.search(
        r'filename="((?:[^"\\]|\\.)*)"', header
    )
    assert match, header
    assert unquote(match.group(1)) == expected, header


def test_a_very_long_filename_is_shortened_keeping_its_extension(client, desk):
    """A 400-character name is shortened for the header and the page, the extension kept."""
    name = "a" * 400 + ".txt"
    note = services.ticket_add_note(
        desk["ticket"], body="Files", actor=desk["agent"], uploads=[text_file(name)]
    )
    attachment = Attachment.objects.get(owner_id=note.pk)
    client.force_login(desk["agent"])
    response = client.get(reverse("tickets:attachment_download", args=[attachment.pk]))
    assert response.status_code == 200
    header = response["Content-Disposition"]
    assert header.endswith('.txt"') and len(header) < 300, header


# Shortcut help overlay


def test_the_shortcut_help_overlay_is_an_accessible_dialog_listing_every_shortcut(client, desk):
    """The workspace and the queue carry a labelled dialog listing j/k, o, r, n, a, / and ?, opened by a
    button that says it opens a dialog."""
    client.force_login(desk["agent"])
    for url in (ws(desk["ticket"]), reverse("tickets:desk_queue")):
        page = page_text(client.get(url))
        dialog = re.search(
            r'<dialog id="shortcuts-help"[^>]*aria-labelledby="shortcuts-title".*?</dialog>', page, re.S
        )
        assert dialog, url
        for key in ("j", "k", "o", "r", "n", "a", "/", "?"):
            assert f"<kbd>{key}</kbd>" in dialog.group(0), (url, key)
        assert re.search(r'<button[^>]*data-help-open[^>]*aria-haspopup="dialog"', page), url


def test_a_customer_cannot_download_a_reply_file_of_a_deleted_ticket(client, desk):
    """A deleted ticket is gone for the customer, its files with it (404)."""
    ticket = desk["ticket"]
    reply = services.ticket_reply(ticket, body="Here", actor=desk["agent"], uploads=[text_file("public.txt")])
    attachment = Attachment.objects.get(owner_id=reply.pk)
    url = reverse("tickets:attachment_download", args=[attachment.pk])
    client.force_login(desk["customer"])
    assert client.get(url).status_code == 200
    services.ticket_delete(fresh(ticket), actor=make_administrator())
    assert client.get(url).status_code == 404
