"""The customer portal (/portal/..., /): lists, ticket pages, replies, statuses, anonymous submission
and accessibility."""

import re
import uuid
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from helpdesk.services import site_configuration_update
from tests.factories import OrganizationFactory, TeamFactory, make_agent, make_customer, make_ticket
from tests.tickets.conftest import insert_tickets
from tickets import services
from tickets.models import Ticket, TicketMessage
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

LIST = reverse("tickets:portal_list")
SUBMIT = reverse("tickets:portal_submit")


def detail(ticket):
    return reverse("tickets:portal_detail", args=[ticket.number])


def reply_url(ticket):
    return reverse("tickets:portal_reply", args=[ticket.number])


def status_url(ticket):
    return reverse("tickets:portal_status", args=[ticket.number])


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response) -> str:
    return unescape(response.content.decode())


def set_status(ticket, status):
    Ticket.objects.filter(pk=ticket.pk).update(status=status)
    ticket.refresh_from_db()
    return ticket


@pytest.fixture
def world():
    team = TeamFactory(name="Support")
    agent = make_agent(team, name="Alex Agent")
    acme = OrganizationFactory(name="Acme")
    manager = make_customer(acme, manager=True, name="Mia Manager")
    member = make_customer(acme, name="Colin Colleague")
    ticket = make_ticket(member, team=team, subject="Colleague's printer")
    return {
        "team": team,
        "agent": agent,
        "acme": acme,
        "manager": manager,
        "member": member,
        "ticket": ticket,
    }


# --- My tickets list -----------------------------------------------------------------------------


def test_a_non_manager_crafting_scope_organization_sees_only_their_own_tickets(world):
    """A member who adds ?scope=organization to the address expects their own list, never a colleague's."""
    other_member = make_customer(world["acme"], name="Olga Other")
    response = signed_in(other_member).get(LIST, {"scope": "organization", "status": "all"})
    assert response.status_code == 200
    assert "Colleague's printer" not in text(response)
    assert signed_in(other_member).get(detail(world["ticket"])).status_code == 404


def test_the_manager_switches_to_the_organisations_tickets(world):
    """The organisation manager's switch lists a colleague's ticket, with its requester."""
    response = signed_in(world["manager"]).get(LIST, {"scope": "organization"})
    page = text(response)
    assert "Colleague's printer" in page and "Colin Colleague" in page


@pytest.mark.parametrize(
    "query",
    [
        {"status": "bogus"},
        {"scope": ["mine", "organization", "x"]},
        {"page": "-1"},
        {"page": "999999999999999999999999"},
        {"page": "abc"},
        {"q": "x" * 5000},
        {"q": "\x00"},
        {"status": "\x00"},
        {"q": "T-99999999999999999999"},
        {"q": "#0"},
    ],
)
def test_malformed_list_parameters_never_crash(world, query):
    """Odd filter values answer a page, never a server error."""
    response = signed_in(world["manager"]).get(LIST, query)
    assert response.status_code in (200, 400, 422)


def test_a_former_manager_who_left_the_organisation_no_longer_sees_its_tickets(world):
    """A manager moved out of Acme (organisation cleared) must not list nor open Acme's tickets."""
    manager = world["manager"]
    manager.organization = OrganizationFactory(name="Globex")
    manager.is_organization_manager = False
    manager.save()
    client = signed_in(manager)
    assert "Colleague's printer" not in text(client.get(LIST, {"scope": "organization", "status": "all"}))
    assert client.get(detail(world["ticket"])).status_code == 404


def test_a_member_who_left_still_sees_their_own_tickets_but_not_the_colleagues(world):
    member = world["member"]
    make_ticket(member, subject="My own thing")
    member.organization = None
    member.save()
    client = signed_in(member)
    page = text(client.get(LIST, {"status": "all"}))
    assert "My own thing" in page


def test_list_query_count_is_constant(world):
    """The list costs the same number of queries with 3 tickets as with 60 (and on page 2)."""
    client = signed_in(world["manager"])
    insert_tickets(3, requester=world["member"], team=world["team"])
    with CaptureQueriesContext(connection) as few:
        assert client.get(LIST, {"scope": "organization"}).status_code == 200
    insert_tickets(60, requester=world["member"], team=world["team"])
    with CaptureQueriesContext(connection) as many:
        assert client.get(LIST, {"scope": "organization"}).status_code == 200
    with CaptureQueriesContext(connection) as second:
        assert client.get(LIST, {"scope": "organization", "page": "2"}).status_code == 200
    assert len(many) == len(few) and len(second) == len(few)


def test_an_internal_note_does_not_move_the_ticket_in_the_customers_list(world):
    """A note is invisible to the customer: the list's "Updated" time and order do not change."""
    member, agent = world["member"], world["agent"]
    older = world["ticket"]
    make_ticket(member, team=world["team"], subject="Newer one")
    before = Ticket.objects.get(pk=older.pk).public_updated_at
    services.ticket_add_note(older, body="Customer is grumpy", actor=agent)
    after = Ticket.objects.get(pk=older.pk)
    assert after.public_updated_at == before
    page = text(signed_in(member).get(LIST))
    assert page.index("Newer one") < page.index("Colleague's printer")
    assert "grumpy" not in text(signed_in(member).get(detail(older)))


# --- Ticket page: replies ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "after"),
    [
        (Status.NEW, Status.NEW),
        (Status.OPEN, Status.OPEN),
        (Status.PENDING, Status.OPEN),
        (Status.ON_HOLD, Status.ON_HOLD),
        (Status.RESOLVED, Status.OPEN),
    ],
)
def test_a_customer_reply_on_each_status(world, status, after):
    """A reply lands on the ticket; pending and resolved go back to the team."""
    ticket = set_status(world["ticket"], status)
    response = signed_in(world["member"]).post(
        reply_url(ticket), {"body": "More details", "submission_key": str(uuid.uuid4())}
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == after
    assert ticket.messages.filter(body="More details").exists()


def test_a_reply_on_a_closed_ticket_opens_a_linked_follow_up(world):
    ticket = set_status(world["ticket"], Status.CLOSED)
    client = signed_in(world["member"])
    response = client.post(reply_url(ticket), {"body": "It broke again", "submission_key": str(uuid.uuid4())})
    follow_up = Ticket.objects.get(follow_up_of=ticket)
    assert response.status_code == 302 and response.url == detail(follow_up)
    assert follow_up.messages.get().body == "It broke again"
    assert not ticket.messages.filter(body="It broke again").exists()
    assert Ticket.objects.get(pk=ticket.pk).status == Status.CLOSED
    page = text(client.get(detail(follow_up)))
    assert ticket.reference in page


def test_the_same_reply_sent_twice_makes_one_message(world):
    """A double click (same submission key) leaves one message."""
    ticket, client = world["ticket"], signed_in(world["member"])
    data = {"body": "Only once please", "submission_key": str(uuid.uuid4())}
    assert client.post(reply_url(ticket), data).status_code == 302
    assert client.post(reply_url(ticket), data).status_code == 302
    assert TicketMessage.objects.filter(body="Only once please").count() == 1


def test_the_same_follow_up_sent_twice_makes_one_follow_up(world):
    ticket, client = set_status(world["ticket"], Status.CLOSED), signed_in(world["member"])
    data = {"body": "Again and again", "submission_key": str(uuid.uuid4())}
    client.post(reply_url(ticket), data)
    client.post(reply_url(ticket), data)
    assert Ticket.objects.filter(follow_up_of=ticket).count() == 1


def test_a_reply_with_a_refused_file_type_keeps_the_text(world):
    """An .exe is refused at 422 with the typed text still in the box."""
    upload = SimpleUploadedFile("virus.exe", b"MZ\x90\x00binary", content_type="application/octet-stream")
    response = signed_in(world["member"]).post(
        reply_url(world["ticket"]),
        {"body": "See the attached tool", "submission_key": str(uuid.uuid4()), "attachments": upload},
    )
    assert response.status_code == 422
    assert "See the attached tool" in text(response)
    assert not TicketMessage.objects.filter(body="See the attached tool").exists()


def test_a_reply_with_a_too_large_file_keeps_the_text(world, settings):
    settings.ATTACHMENT_MAX_BYTES = 100
    upload = SimpleUploadedFile("notes.txt", b"x" * 500, content_type="text/plain")
    response = signed_in(world["member"]).post(
        reply_url(world["ticket"]),
        {"body": "Here is the big log", "submission_key": str(uuid.uuid4()), "attachments": upload},
    )
    assert response.status_code == 422
    page = text(response)
    assert "Here is the big log" in page
    assert "notes.txt" in page


def test_internal_notes_and_their_files_never_reach_the_customer(world):
    ticket, agent = world["ticket"], world["agent"]
    upload = SimpleUploadedFile("secret.txt", b"internal only", content_type="text/plain")
    note = services.ticket_add_note(ticket, body="Secret note body", actor=agent, uploads=[upload])
    attachment = note.attachments.get()
    client = signed_in(world["member"])
    page = text(client.get(detail(ticket)))
    assert "Secret note body" not in page and "secret.txt" not in page
    assert client.get(reverse("tickets:attachment_download", args=[attachment.pk])).status_code == 404
    assert text(client.get(LIST)).count("Colleague's printer") == 1


def test_the_ticket_page_costs_the_same_with_many_messages(world):
    ticket, agent, member = world["ticket"], world["agent"], world["member"]
    client = signed_in(member)
    with CaptureQueriesContext(connection) as few:
        assert client.get(detail(ticket)).status_code == 200
    for n in range(15):
        services.ticket_reply(
            ticket,
            body=f"agent {n}",
            actor=agent,
            uploads=[SimpleUploadedFile(f"a{n}.txt", b"hello", content_type="text/plain")],
        )
        services.ticket_reply(ticket, body=f"customer {n}", actor=member)
        services.ticket_add_note(ticket, body=f"note {n}", actor=agent)
    with CaptureQueriesContext(connection) as many:
        assert client.get(detail(ticket)).status_code == 200
    assert len(many) == len(few)


# --- Statuses --------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD])
def test_the_customer_marks_a_ticket_solved(world, status):
    ticket = set_status(world["ticket"], status)
    client = signed_in(world["member"])
    assert "Mark as solved" in text(client.get(detail(ticket)))
    client.post(status_url(ticket), {"status": "resolved"})
    assert Ticket.objects.get(pk=ticket.pk).status == Status.RESOLVED


def test_the_customer_reopens_a_resolved_ticket(world):
    ticket = set_status(world["ticket"], Status.RESOLVED)
    client = signed_in(world["member"])
    assert "Reopen" in text(client.get(detail(ticket)))
    client.post(status_url(ticket), {"status": "open"})
    assert Ticket.objects.get(pk=ticket.pk).status == Status.OPEN


@pytest.mark.parametrize("target", ["closed", "pending", "on_hold", "new", "bogus", ""])
def test_the_customer_cannot_force_other_statuses(world, target):
    ticket = world["ticket"]
    response = signed_in(world["member"]).post(status_url(ticket), {"status": target})
    assert response.status_code == 302
    assert Ticket.objects.get(pk=ticket.pk).status == Status.NEW


def test_a_closed_ticket_cannot_be_reopened_by_the_customer(world):
    ticket = set_status(world["ticket"], Status.CLOSED)
    client = signed_in(world["member"])
    page = text(client.get(detail(ticket)))
    assert "Reopen" not in page and "Mark as solved" not in page
    client.post(status_url(ticket), {"status": "open"})
    assert Ticket.objects.get(pk=ticket.pk).status == Status.CLOSED


def test_reopening_an_on_hold_ticket_does_not_claim_it_was_reopened(world):
    """A ticket on hold shows as open to the customer; a crafted "reopen" changes nothing, so the
    customer is told it is open already, not "T-n is reopened."."""
    ticket = set_status(world["ticket"], Status.ON_HOLD)
    response = signed_in(world["member"]).post(status_url(ticket), {"status": "open"}, follow=True)
    assert Ticket.objects.get(pk=ticket.pk).status == Status.ON_HOLD
    assert "is reopened" not in text(response)
    assert f"{ticket.reference} is open already; nothing changed." in text(response)


def test_status_labels_are_in_the_customers_words(world):
    ticket = set_status(world["ticket"], Status.ON_HOLD)
    client = signed_in(world["member"])
    page = text(client.get(detail(ticket)))
    assert "On hold" not in page and "on_hold" not in page
    set_status(ticket, Status.PENDING)
    assert "Waiting for your reply" in text(client.get(detail(ticket)))


def test_marking_solved_from_a_stale_page_after_support_wrote(world):
    """Support answered after the page was loaded: the click is refused with a message to read it."""
    ticket, client = world["ticket"], signed_in(world["member"])
    page = text(client.get(detail(ticket)))
    seen = re.search(r'name="seen" value="(\d+)"', page).group(1)
    services.ticket_reply(ticket, body="We fixed it, can you check?", actor=world["agent"])
    response = client.post(status_url(ticket), {"status": "resolved", "seen": seen}, follow=True)
    assert Ticket.objects.get(pk=ticket.pk).status == Status.OPEN
    assert services.NEWER_MESSAGE in text(response)


# --- Anonymous submission ------------------------------------------------------------------------


@pytest.fixture
def open_to_visitors():
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)


def visitor_post(client, email, subject="Cannot log in", **extra):
    data = {"name": "Vera Visitor", "email": email, "subject": subject, "description": "Help me please",
            "submission_key": str(uuid.uuid4()), **extra}  # fmt: skip
    return client.post(SUBMIT, data)


def test_an_anonymous_submission_confirms_and_mails_a_link_to_follow_it(
    open_to_visitors, immediate_tasks, mailoutbox, django_capture_on_commit_callbacks
):
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        response = visitor_post(client, "vera@example.org")
    ticket = Ticket.objects.get()
    assert response.status_code == 302 and response.url == reverse("tickets:portal_submitted")
    assert str(ticket.number) not in response.url
    page = text(client.get(response.url))
    assert ticket.reference in page
    [mail] = mailoutbox
    assert mail.to == ["vera@example.org"] and ticket.reference in mail.subject
    assert detail(ticket) in mail.body
    # Later, the visitor (not signed in) is sent to sign in, not shown the ticket.
    later = client.get(detail(ticket))
    assert later.status_code == 302 and reverse("accounts:login") in later.url
    assert "Cannot log in" not in text(client.get(LIST, follow=True))


def test_an_anonymous_submission_with_a_verified_customers_address_reveals_nothing(
    open_to_visitors, immediate_tasks, mailoutbox, django_capture_on_commit_callbacks
):
    """The visitor sees the same confirmation as for a new address; nothing of the account shows."""
    owner = make_customer(email="owner@example.org", name="Olivia Owner")
    type(owner).objects.filter(pk=owner.pk).update(email_verified_at="2026-01-05T09:00:00Z")
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        response = visitor_post(client, "owner@example.org")
    assert response.status_code == 302
    page = text(client.get(response.url))
    assert "Olivia" not in page and "Owner" not in page
    # The account owner is told by mail (not silently attached).
    assert [mail.to for mail in mailoutbox] == [["owner@example.org"]]
    assert "Olivia" in mailoutbox[0].body


def test_anonymous_double_submission_makes_one_ticket_and_one_receipt(
    open_to_visitors, immediate_tasks, mailoutbox, django_capture_on_commit_callbacks
):
    client = Client()
    data = {"name": "Vera", "email": "vera@example.org", "subject": "Twice", "description": "Body",
            "submission_key": str(uuid.uuid4())}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        client.post(SUBMIT, data)
        client.post(SUBMIT, data)
    assert Ticket.objects.count() == 1
    assert len(mailoutbox) == 1


def test_an_anonymous_submission_with_errors_comes_back_at_422_with_the_text(open_to_visitors):
    response = Client().post(
        SUBMIT,
        {
            "name": "Vera",
            "email": "not-an-address",
            "subject": "Kept subject",
            "description": "Kept body",
            "submission_key": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 422
    page = text(response)
    assert "Kept subject" in page and "Kept body" in page and 'value="not-an-address"' in page


def test_putting_a_ticket_on_hold_does_not_move_it_in_the_customers_list(world):
    """On hold is shown to the customer as Open: a change they cannot see must not move the ticket up
    their list nor change its "Updated" time (as an internal note does not)."""
    member, agent = world["member"], world["agent"]
    older = set_status(world["ticket"], Status.OPEN)
    make_ticket(member, team=world["team"], subject="Newer one")
    before = Ticket.objects.get(pk=older.pk).public_updated_at
    services.ticket_transition(older, status=Status.ON_HOLD, actor=agent)
    assert Ticket.objects.get(pk=older.pk).public_updated_at == before
    services.ticket_transition(Ticket.objects.get(pk=older.pk), status=Status.OPEN, actor=agent)
    assert Ticket.objects.get(pk=older.pk).public_updated_at == before
    page = text(signed_in(member).get(LIST))
    assert page.index("Newer one") < page.index("Colleague's printer")
    # Waiting for their reply is news to them.
    services.ticket_transition(Ticket.objects.get(pk=older.pk), status=Status.PENDING, actor=agent)
    assert Ticket.objects.get(pk=older.pk).public_updated_at > before


def test_a_note_that_puts_the_ticket_on_hold_does_not_move_it_for_the_customer(world):
    older = set_status(world["ticket"], Status.OPEN)
    before = Ticket.objects.get(pk=older.pk).public_updated_at
    services.ticket_add_note(
        older, body="Waiting on the vendor", actor=world["agent"], status_after=Status.ON_HOLD
    )
    assert Ticket.objects.get(pk=older.pk).public_updated_at == before


def test_error_on_reply_is_tied_to_the_field(world):
    """A refused empty reply: the box is marked invalid and described by its error."""
    response = signed_in(world["member"]).post(
        reply_url(world["ticket"]), {"body": "  ", "submission_key": str(uuid.uuid4())}
    )
    assert response.status_code == 422
    page = response.content.decode()
    textarea = re.search(r"<textarea[^>]*>", page).group(0)
    assert 'aria-invalid="true"' in textarea
    assert "id_body_error" in textarea


def test_reopening_from_a_stale_page_after_the_ticket_closed_says_what_to_do(world):
    """The page showed "Reopen" on a solved ticket; it was closed (auto-close) before the click. The
    customer should learn that writing below opens a follow-up, not a bare workflow refusal."""
    ticket = set_status(world["ticket"], Status.RESOLVED)
    client = signed_in(world["member"])
    page = text(client.get(detail(ticket)))
    seen = re.search(r'name="seen" value="(\d+)"', page).group(1)
    services.ticket_transition(ticket, status=Status.CLOSED, actor=None)
    response = client.post(status_url(ticket), {"status": "open", "seen": seen}, follow=True)
    shown = text(response)
    assert Ticket.objects.get(pk=ticket.pk).status == Status.CLOSED
    assert "follow-up" in re.search(r'<div class="messages".*?</div>', shown, re.S).group(0)
