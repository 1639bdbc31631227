"""The agent's ticket workspace (/desk/tickets/<number>/ and its POSTs): no ticket is assigned to a desk user
who cannot answer it; every post of a colleague who lost access is 404; notes and their files stay
internal; a refused note comes back whole; team moves, cross-team assignees and merges across
requesters."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import TeamMember
from tests.conftest import made_once_per_module
from tests.factories import (
    PDF,
    TeamMemberFactory,
    give_custom_role,
    make_customer,
    make_ticket,
    make_user_with_role,
)
from tests.tickets.conftest import (
    download_url,
    edit,
    fresh,
    make_desk,
    merge_url,
    page_text,
    portal_detail_url,
    reply_data,
    reply_url,
    update_url,
    ws,
)
from tickets import services
from tickets.models import Attachment, TicketMessage
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

_desk_rows, desk = made_once_per_module(make_desk, "desk")


def _viewer(team):
    """A desk user whose role opens the queue but does not answer tickets (a Zendesk "light agent")."""
    user = make_user_with_role("Customer", name="Vic Viewer")
    user.groups.clear()
    user = give_custom_role(user, "Viewer", [("accounts", "view_support_queue")])
    TeamMemberFactory(team=team, user=user, role=TeamMember.Role.AGENT)
    return user


def test_a_ticket_cannot_be_assigned_to_a_desk_user_who_may_not_answer_it(client, desk):
    """A supervisor picks, in the assignee menu, a colleague whose role only reads the queue (no
    "provide support"). The ticket is assigned to them: it now sits in "My open tickets" of someone who
    cannot reply, add a note or change anything on it, and leaves "Unassigned" where the team would pick
    it up. Zendesk refuses to assign tickets to light agents; here ticket_assign should refuse such an
    assignee (and the picker should not offer them)."""
    viewer = _viewer(desk["support"])
    ticket = desk["ticket"]
    client.force_login(desk["supervisor"])
    page = page_text(client.get(ws(ticket)))
    offered = f'value="{viewer.pk}"' in page
    response = client.post(update_url(ticket), edit("assignee", str(viewer.pk), ticket.version))
    assert fresh(ticket).assignee_id != viewer.pk, "assigned to someone who may not answer it"
    assert response.status_code in (409, 422)
    assert not offered, "the assignee menu offers a desk user who may not answer tickets"


def test_solving_an_unassigned_ticket_makes_the_solver_its_assignee(client, desk):
    """An agent answers an unassigned ticket of their team with "Send and set Resolved": the ticket is
    theirs (Zendesk's assign upon solve), so who solved it stays known and a customer's reopening answer
    goes back to them; the step is in the ticket's history. A supervisor's bulk close does the same; the
    System's closes assign nobody."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    assert client.post(reply_url(ticket), reply_data(ticket, status_after="resolved")).status_code == 302
    after = fresh(ticket)
    assert after.status == Status.RESOLVED and after.assignee_id == desk["agent"].pk
    assert after.activities.filter(action="assignee", new_value=str(desk["agent"])).exists()
    services.ticket_reply(after, body="Back again", actor=desk["customer"], as_requester=True)
    assert fresh(ticket).status == Status.OPEN and fresh(ticket).assignee_id == desk["agent"].pk

    other = make_ticket(desk["customer"], team=desk["support"], subject="Another")
    services.ticket_transition(other, status=Status.CLOSED, actor=desk["supervisor"])
    assert fresh(other).assignee_id == desk["supervisor"].pk
    by_system = make_ticket(desk["customer"], team=desk["support"], subject="Swept")
    services.ticket_transition(by_system, status=Status.RESOLVED, actor=None)
    assert fresh(by_system).assignee_id is None


# ---- lost access, notes, refusals, moves and merges ---------------------------------------------------


def _lose_access(user):
    TeamMember.objects.filter(user=user).delete()


def test_every_post_from_a_colleague_who_lost_access_is_404_and_changes_nothing(client, desk):
    ticket = desk["ticket"]
    other = make_ticket(desk["customer"], team=desk["support"], subject="Second")
    agent = desk["agent"]
    client.force_login(agent)
    assert client.get(ws(ticket)).status_code == 200
    version = ticket.version
    _lose_access(agent)
    posts = [
        (reply_url(ticket), reply_data(ticket)),
        (reply_url(ticket), reply_data(ticket, kind="note", status_after="pending")),
        (update_url(ticket), edit("priority", "urgent", version)),
        (update_url(ticket), edit("take", "", version)),
        (update_url(ticket), edit("status", "pending", version)),
        (update_url(ticket), edit("tags", "vip", version)),
        (merge_url(ticket), {"into": str(other.number), "version": version, "confirm": "merge"}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 404, url
    after = fresh(ticket)
    assert after.version == version and after.merged_into_id is None
    assert after.messages.count() == 1


def test_a_note_and_its_file_never_reach_the_customer(client, desk):
    ticket, customer = desk["ticket"], desk["customer"]
    client.force_login(desk["agent"])
    upload = SimpleUploadedFile("secret.pdf", PDF, content_type="application/pdf")
    data = reply_data(ticket, body="Internal only 4471", kind="note", status_after="on_hold")
    assert client.post(reply_url(ticket), {**data, "attachments": upload}).status_code == 302
    note = TicketMessage.objects.get(body__contains="4471")
    assert note.is_internal
    attachment = Attachment.objects.get(owner_id=note.pk)
    client.force_login(customer)
    page = page_text(client.get(portal_detail_url(ticket)))
    assert "4471" not in page and "secret.pdf" not in page and "On hold" not in page
    assert client.get(download_url(attachment)).status_code == 404
    # Merged into another ticket of theirs, the note moves with the thread and stays hidden.
    target = make_ticket(customer, team=desk["support"], subject="Same printer")
    services.ticket_merge(fresh(ticket), into=target, actor=desk["supervisor"])
    page = page_text(client.get(portal_detail_url(target)))
    assert "4471" not in page and "secret.pdf" not in page
    assert client.get(download_url(attachment)).status_code == 404


def test_a_refused_note_comes_back_whole(client, desk):
    """An empty note (only spaces) with a status and a file: 422, kind, status and file kept."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    upload = SimpleUploadedFile("log.pdf", PDF, content_type="application/pdf")
    data = reply_data(ticket, body="   ", kind="note", status_after="pending")
    response = client.post(reply_url(ticket), {**data, "attachments": upload})
    assert response.status_code == 422
    page = page_text(response)
    assert "log.pdf" in page
    assert 'value="note" id="kind-note" checked' in page
    assert '<option value="pending" selected>' in page


def test_moving_the_ticket_to_a_team_its_assignee_does_not_work_unassigns_it(client, desk):
    ticket = services.ticket_assign(desk["ticket"], assignee=desk["colleague"], actor=desk["supervisor"])
    client.force_login(desk["supervisor"])
    response = client.post(update_url(ticket), edit("team", str(desk["billing"].pk), ticket.version))
    assert response.status_code in (200, 302)
    after = fresh(ticket)
    assert after.team_id == desk["billing"].pk and after.assignee_id is None


def test_assigning_to_an_agent_of_another_team_is_refused(client, desk):
    ticket = desk["ticket"]
    client.force_login(desk["supervisor"])
    response = client.post(update_url(ticket), edit("assignee", str(desk["biller"].pk), ticket.version))
    assert response.status_code == 409
    assert fresh(ticket).assignee_id is None


def test_merging_tickets_of_different_requesters_is_refused(client, desk):
    stranger = make_customer(name="Other Person")
    target = make_ticket(stranger, team=desk["support"], subject="Theirs")
    ticket = desk["ticket"]
    client.force_login(desk["supervisor"])
    data = {"into": str(target.number), "version": ticket.version}
    response = client.post(merge_url(ticket), data)
    assert response.status_code == 422
    assert fresh(ticket).merged_into_id is None
