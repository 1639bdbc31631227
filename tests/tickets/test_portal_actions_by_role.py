"""What each kind of portal user can do on a ticket, state by state, through the portal pages
(requester, organisation manager, non-manager colleague, another organisation's customer, an agent who
is the requester of their own request, an anonymous visitor)."""

import uuid
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from tests.conftest import made_once_per_module
from tests.factories import (
    OrganizationFactory,
    TeamFactory,
    TicketFormFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_pending_account,
    make_ticket,
)
from tests.tickets.conftest import fresh, portal_detail_url, portal_reply_url, portal_status_url
from tickets import services
from tickets.models import Attachment, Ticket, TicketActivity, TicketMessage
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


def download(attachment) -> str:
    return reverse("tickets:attachment_download", args=[attachment.pk])


def text(response) -> str:
    return unescape(response.content.decode())


def txt(name: str = "notes.txt", content: bytes = b"plain text\n") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/plain")


def key() -> str:
    return str(uuid.uuid4())


def writes(ticket) -> tuple:
    """What a refused action must leave as it was."""
    t = fresh(ticket)
    return (
        t.status,
        t.version,
        TicketMessage.objects.count(),
        TicketActivity.objects.count(),
        Attachment.objects.count(),
        Ticket.objects.count(),
    )


def make_org():
    acme = OrganizationFactory(name="Acme")
    globex = OrganizationFactory(name="Globex")
    team = TeamFactory(name="Support")
    agent = make_agent(team, name="Alex Agent")
    rita = make_customer(acme, name="Rita Requester")
    colin = make_customer(acme, name="Colin Colleague")
    mona = make_customer(acme, manager=True, name="Mona Manager")
    olga = make_customer(globex, name="Olga Other")
    ticket = make_ticket(rita, team=team, subject="Printer on fire")
    return {"acme": acme, "team": team, "agent": agent, "rita": rita, "colin": colin, "mona": mona,
            "olga": olga, "ticket": ticket}  # fmt: skip


_org_rows, org = made_once_per_module(make_org, "org")


def put_in_state(ticket, state: str, agent) -> Ticket:
    """The ticket moved to `state` by its agent (closed by way of resolved)."""
    if state == Status.NEW:
        return fresh(ticket)
    if state == Status.CLOSED:
        services.ticket_transition(ticket, status=Status.RESOLVED, actor=agent)
        services.ticket_transition(fresh(ticket), status=Status.CLOSED, actor=agent)
    else:
        services.ticket_transition(ticket, status=state, actor=agent)
    return fresh(ticket)


ALL_STATES = [Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.RESOLVED, Status.CLOSED]
SOLVABLE = {Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD}


# --- What the page offers, state by state, to the requester and the manager ---------------------------


@pytest.mark.parametrize("state", ALL_STATES)
@pytest.mark.parametrize("who", ["rita", "mona"])
def test_the_page_offers_solve_reopen_and_reply_by_state(client, org, state, who):
    ticket = put_in_state(org["ticket"], state, org["agent"])
    client.force_login(org[who])
    page = client.get(portal_detail_url(ticket))
    assert page.status_code == 200
    body = text(page)
    assert ("Mark as solved" in body) == (state in SOLVABLE)
    assert ("Reopen" in body) == (state == Status.RESOLVED)
    if state == Status.CLOSED:
        assert "Open a follow-up" in body
    else:
        assert ">Reply<" in body
    # Never anything of the desk's: no subject or field editing, no status picker, no notes.
    assert 'name="subject"' not in body and 'name="priority"' not in body and 'name="kind"' not in body


# --- Refusals: what the page does not offer is refused, saying why, and nothing is written ------------

REFUSED = [
    # (state, posted status, words expected in the flashed message)
    (Status.NEW, Status.CLOSED, "cannot go from"),
    (Status.OPEN, Status.CLOSED, "cannot go from"),
    (Status.OPEN, Status.PENDING, "cannot go from"),
    (Status.NEW, Status.OPEN, "cannot go from"),
    (Status.PENDING, Status.OPEN, "waiting for your reply"),
    (Status.RESOLVED, Status.CLOSED, "cannot go from"),
    (Status.CLOSED, Status.OPEN, "closed"),
    (Status.CLOSED, Status.RESOLVED, "closed"),
    (Status.OPEN, "bogus", "Unknown status"),
    (Status.OPEN, "", "Unknown status"),
]


@pytest.mark.parametrize(("state", "target", "words"), REFUSED)
@pytest.mark.parametrize("who", ["rita", "mona"])
def test_a_status_the_customer_may_not_set_is_refused_with_a_message(client, org, state, target, words, who):
    ticket = put_in_state(org["ticket"], state, org["agent"])
    before = writes(ticket)
    client.force_login(org[who])
    response = client.post(portal_status_url(ticket), {"status": target}, follow=True)
    assert response.status_code == 200
    said = " ".join(str(m) for m in response.context["messages"])
    assert words.lower() in said.lower(), said
    assert writes(ticket) == before


@pytest.mark.parametrize("who", ["colin", "olga"])
def test_a_colleague_or_another_organisation_gets_404_everywhere_and_writes_nothing(client, org, who):
    ticket = org["ticket"]
    public = services.ticket_reply(ticket, body="Answer", actor=org["agent"], uploads=[txt("answer.txt")])
    first_file = public.attachments.get()
    before = writes(ticket)
    client.force_login(org[who])
    assert client.get(portal_detail_url(ticket)).status_code == 404
    assert client.post(portal_reply_url(ticket), {"body": "sneaky", "submission_key": key(),
                                           "attachments": [txt("x.txt")]}).status_code == 404  # fmt: skip
    assert client.post(portal_status_url(ticket), {"status": "resolved"}).status_code == 404
    assert client.get(download(first_file)).status_code == 404
    body = text(client.get(portal_detail_url(ticket)))
    assert "Printer on fire" not in body
    assert writes(ticket) == before


@pytest.mark.parametrize("who", ["rita", "mona"])
def test_a_deleted_ticket_is_404_on_every_action_for_customers(client, org, who):
    ticket = org["ticket"]
    public = services.ticket_reply(ticket, body="Answer", actor=org["agent"], uploads=[txt("answer.txt")])
    services.ticket_delete(ticket, actor=make_administrator())
    before = writes(ticket)
    client.force_login(org[who])
    assert client.get(portal_detail_url(ticket)).status_code == 404
    assert client.post(portal_reply_url(ticket), {"body": "hi", "submission_key": key()}).status_code == 404
    assert client.post(portal_status_url(ticket), {"status": "resolved"}).status_code == 404
    assert client.get(download(public.attachments.get())).status_code == 404
    assert writes(ticket) == before


@pytest.mark.parametrize("url", ["reply", "status"])
def test_csrf_is_required_on_reply_and_status(org, url):
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(org["rita"])
    ticket = org["ticket"]
    before = writes(ticket)
    target = portal_reply_url(ticket) if url == "reply" else portal_status_url(ticket)
    response = csrf_client.post(target, {"body": "x", "submission_key": key(), "status": "resolved"})
    assert response.status_code == 403
    assert writes(ticket) == before


def test_get_on_the_action_addresses_changes_nothing(client, org):
    ticket = org["ticket"]
    before = writes(ticket)
    client.force_login(org["rita"])
    assert client.get(portal_status_url(ticket), {"status": "resolved"}).status_code == 405
    assert client.get(portal_reply_url(ticket), {"body": "hi"}).status_code == 405
    assert writes(ticket) == before


def test_anonymous_visitor_is_sent_to_sign_in_and_nothing_is_written(client, org):
    ticket = org["ticket"]
    public = services.ticket_reply(ticket, body="Answer", actor=org["agent"], uploads=[txt("answer.txt")])
    before = writes(ticket)
    for response in (
        client.get(portal_detail_url(ticket)),
        client.post(portal_reply_url(ticket), {"body": "hi", "submission_key": key()}),
        client.post(portal_status_url(ticket), {"status": "resolved"}),
        client.get(download(public.attachments.get())),
    ):
        assert response.status_code == 302 and reverse("accounts:login") in response["Location"]
    assert writes(ticket) == before


def test_a_pending_account_from_an_anonymous_request_cannot_sign_in(client, org):
    visitor = make_pending_account("walkin@example.net")
    ticket = make_ticket(visitor, team=org["team"], actor=None)
    assert not visitor.has_usable_password()
    signing_in = client.post(reverse("accounts:login"), {"username": "walkin@example.net", "password": ""})
    assert signing_in.status_code != 302
    assert client.get(portal_detail_url(ticket)).status_code == 302


# --- Actions and who they are attributed to ---------------------------------------------------------


def test_the_managers_reply_with_a_file_on_a_colleagues_ticket_is_the_managers(client, org):
    ticket = put_in_state(org["ticket"], Status.PENDING, org["agent"])
    client.force_login(org["mona"])
    response = client.post(
        portal_reply_url(ticket),
        {
            "body": "Mona here: still broken",
            "submission_key": key(),
            "attachments": [txt("photo.txt", b"pic")],
        },
    )
    assert response.status_code == 302
    message = TicketMessage.objects.get(body="Mona here: still broken")
    assert message.author == org["mona"] and not message.from_staff and not message.is_internal
    attachment = message.attachments.get()
    assert attachment.uploaded_by == org["mona"]
    after = fresh(ticket)
    assert after.status == Status.OPEN  # a customer reply puts it back in the queue
    reply = ticket.activities.get(action=TicketActivity.Action.REPLY)
    status = ticket.activities.filter(action=TicketActivity.Action.STATUS).latest("pk")
    assert reply.actor == org["mona"] and status.actor == org["mona"]
    assert AuditEvent.objects.filter(action="ticket.reply", actor=org["mona"]).exists()
    # Rita sees the manager's words by name, and downloads the file.
    client.force_login(org["rita"])
    page = text(client.get(portal_detail_url(ticket)))
    assert "Mona Manager" in page and "Mona here: still broken" in page and "photo.txt" in page
    assert client.get(download(attachment)).status_code == 200
    # Colin, a colleague who is no manager, does not.
    client.force_login(org["colin"])
    assert client.get(download(attachment)).status_code == 404


def test_the_managers_mark_as_solved_and_reopen_are_the_managers(client, org):
    ticket = org["ticket"]
    client.force_login(org["mona"])
    seen = ticket.messages.latest("pk").pk
    client.post(portal_status_url(ticket), {"status": "resolved", "seen": seen})
    assert fresh(ticket).status == Status.RESOLVED
    client.post(portal_status_url(ticket), {"status": "open", "seen": seen})
    assert fresh(ticket).status == Status.OPEN
    actors = list(
        ticket.activities.filter(action=TicketActivity.Action.STATUS).values_list("actor", flat=True)
    )
    assert actors == [org["mona"].pk, org["mona"].pk]


def test_a_managers_follow_up_of_a_colleagues_closed_ticket(client, org):
    ticket = put_in_state(org["ticket"], Status.CLOSED, org["agent"])
    client.force_login(org["mona"])
    response = client.post(portal_reply_url(ticket), {"body": "Again!", "submission_key": key(),
                                                "attachments": [txt("again.txt")]})  # fmt: skip
    follow_up = Ticket.objects.get(follow_up_of=ticket)
    assert response.status_code == 302 and response["Location"] == portal_detail_url(follow_up)
    assert follow_up.requester == org["rita"] and follow_up.created_by == org["mona"]
    first = follow_up.messages.get()
    assert first.author == org["mona"] and not first.from_staff
    assert ticket.activities.get(action=TicketActivity.Action.FOLLOW_UP).actor == org["mona"]
    client.force_login(org["rita"])
    assert client.get(portal_detail_url(follow_up)).status_code == 200
    assert client.get(download(first.attachments.get())).status_code == 200


# --- Files and what else the portal shows --------------------------------------------------------------


@pytest.mark.parametrize("who", ["rita", "mona"])
def test_public_files_download_and_note_files_never(client, org, who):
    ticket = org["ticket"]
    public = services.ticket_reply(
        ticket, body="See file", actor=org["agent"], uploads=[txt("fix.txt", b"fix")]
    )
    note = services.ticket_add_note(ticket, body="Internal secret", actor=org["agent"],
                                    uploads=[txt("secret.txt", b"s")])  # fmt: skip
    client.force_login(org[who])
    page = text(client.get(portal_detail_url(ticket)))
    assert "fix.txt" in page and "secret.txt" not in page and "Internal secret" not in page
    response = client.get(download(public.attachments.get()))
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    assert client.get(download(note.attachments.get())).status_code == 404


def test_the_portal_page_shows_no_desk_work(client, org):
    """Priority, team, tags, assignee, internal notes, staff field edits' history: none on the page."""
    form = TicketFormFactory(schema=[{"name": "order", "label": "Order number", "type": "text"}])
    ticket = services.ticket_create(
        requester=org["rita"], subject="Broken heater", description="It clicks", form=form,
        custom_fields={"order": "A-17"}, actor=org["rita"],
    )  # fmt: skip
    billing = TeamFactory(name="Billing-Queue-Xyz")
    services.ticket_update_fields(ticket, changes={"team": org["team"]}, actor=None)
    services.ticket_update_fields(ticket, changes={"priority": "urgent"}, actor=None)
    services.ticket_set_tags(fresh(ticket), names=["angry-vip"], actor=org["agent"])
    services.ticket_update_fields(fresh(ticket), changes={"custom_fields": {"order": "A-18"}}, actor=None)
    services.ticket_add_note(fresh(ticket), body="Note-xyz", actor=None)
    services.ticket_update_fields(fresh(ticket), changes={"team": billing}, actor=None)
    for who in ("rita", "mona"):
        client.force_login(org[who])
        page = text(client.get(portal_detail_url(ticket)))
        assert "A-18" in page  # the form's answer as it stands (documented: the customer's to see)
        for secret in (
            "Urgent",
            "urgent",
            "angry-vip",
            "Billing-Queue-Xyz",
            "Note-xyz",
            "A-17",
            "Alex Agent",
        ):
            assert secret not in page, secret


# --- Merged sources ----------------------------------------------------------------------------------


def merge(source, into):
    admin = make_administrator()
    services.ticket_merge(source, into=into, actor=admin)
    return fresh(source), fresh(into)


@pytest.mark.parametrize("who", ["rita", "mona"])
def test_a_merged_source_offers_no_status_and_a_reply_goes_to_its_home(client, org, who):
    home = make_ticket(org["rita"], team=org["team"], subject="Home ticket")
    source, home = merge(org["ticket"], home)
    client.force_login(org[who])
    body = text(client.get(portal_detail_url(source)))
    assert "Mark as solved" not in body and "Reopen" not in body
    assert f"Reply on {home.reference}" in body
    before = writes(source)
    response = client.post(portal_status_url(source), {"status": "resolved"}, follow=True)
    said = " ".join(str(m) for m in response.context["messages"])
    assert home.reference in said and writes(source) == before
    client.post(portal_reply_url(source), {"body": f"hello from {who}", "submission_key": key()})
    message = TicketMessage.objects.get(body=f"hello from {who}")
    assert message.ticket_id == home.pk and message.author == org[who]


def test_deleting_a_merge_home_takes_its_merged_sources_along_for_customers(client, org):
    home = make_ticket(org["rita"], team=org["team"], subject="Home ticket")
    source, home = merge(org["ticket"], home)
    services.ticket_delete(home, actor=make_administrator())
    client.force_login(org["rita"])
    before = writes(source)
    assert client.get(portal_detail_url(source)).status_code == 404
    response = client.post(portal_reply_url(source), {"body": "hello?", "submission_key": key()})
    assert response.status_code == 404
    assert writes(source) == before


# --- An agent who is the requester of their own request ---------------------------------------------


def test_an_agent_requester_in_their_team_acts_as_customer_in_the_portal(client, org):
    agent = org["agent"]
    ticket = make_ticket(agent, team=org["team"], subject="My laptop")
    services.ticket_add_note(ticket, body="Note-about-own", actor=make_agent(org["team"]),
                             uploads=[txt("own-secret.txt")])  # fmt: skip
    client.force_login(agent)
    page = text(client.get(portal_detail_url(ticket)))
    assert "Note-about-own" not in page and "own-secret.txt" not in page
    assert "Mark as solved" in page
    before = writes(ticket)
    response = client.post(portal_status_url(ticket), {"status": "closed"}, follow=True)
    assert writes(ticket) == before, "the portal does not close, even for staff on their own request"
    client.post(portal_reply_url(ticket), {"body": "My own words", "submission_key": key()})
    message = TicketMessage.objects.get(body="My own words")
    assert not message.from_staff
    assert fresh(ticket).first_response_at is None
    client.post(portal_status_url(ticket), {"status": "resolved", "seen": message.pk})
    assert fresh(ticket).status == Status.RESOLVED
    assert ticket.activities.filter(action=TicketActivity.Action.STATUS).latest("pk").actor == agent
    assert response.status_code == 200


# --- Possible defects --------------------------------------------------------------------------------


def test_a_manager_who_is_also_an_agent_writes_a_colleagues_follow_up_as_a_customer_too(client, org):
    """An organisation's manager who also holds the Agent role (the customer's IT person, given desk
    access for another team) writes on a colleague's open ticket from the portal as a customer: their
    message is not a support reply (from_staff False). Writing on the same colleague's *closed* ticket
    opens a follow-up, and the first message of that follow-up should be the same kind of message —
    the manager's customer words, not a support reply ("· Support" to the requester)."""
    other_team = TeamFactory(name="Elsewhere")
    manager_agent = make_agent(
        other_team, name="Ida IT", organization=org["acme"], is_organization_manager=True
    )
    open_ticket = make_ticket(org["rita"], team=org["team"], subject="Open one")
    client.force_login(manager_agent)
    assert client.get(portal_detail_url(open_ticket)).status_code == 200
    client.post(portal_reply_url(open_ticket), {"body": "On the open one", "submission_key": key()})
    on_open = TicketMessage.objects.get(body="On the open one")
    assert not on_open.from_staff  # as a customer: consistent with the portal
    closed = put_in_state(org["ticket"], Status.CLOSED, org["agent"])
    client.post(portal_reply_url(closed), {"body": "On the closed one", "submission_key": key()})
    on_closed = TicketMessage.objects.get(body="On the closed one")
    assert on_closed.from_staff == on_open.from_staff, (
        "the same person writing from the same portal page is a support reply on a follow-up only"
    )


def test_administrator_portal_page_of_a_deleted_ticket_offers_no_action_it_would_refuse(client, org):
    """An administrator opens any ticket by its number, deleted ones too (README). On the portal's page
    of a deleted ticket the service refuses "Mark as solved" and replies (restore it first): the page
    offers neither, and says it is deleted, as the desk's workspace does."""
    admin = make_administrator()
    ticket = org["ticket"]
    services.ticket_delete(ticket, actor=admin)
    client.force_login(admin)
    page = client.get(portal_detail_url(ticket))
    assert page.status_code == 200
    body = text(page)
    before = writes(ticket)
    response = client.post(portal_reply_url(ticket), {"body": "hi", "submission_key": key()})
    assert response.status_code == 422 and writes(ticket) == before  # refused, nothing written
    assert "Mark as solved" not in body and 'id="reply-send"' not in body, (
        "a deleted ticket's portal page offers actions that are always refused"
    )
