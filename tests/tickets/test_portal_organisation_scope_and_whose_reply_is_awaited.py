"""The customer portal as an organisation manager and as plain organisation members.

Spec (DESIGN §4): organisation managers see their organisation's tickets; customers see their own; a
customer never sees another organisation's data; refusals answer 404."""

import re
import uuid
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import User
from audit.models import AuditEvent
from tests.conftest import made_once_per_module
from tests.factories import OrganizationFactory, TeamFactory, make_agent, make_customer, make_ticket
from tests.tickets.conftest import download_url, portal_detail_url, portal_reply_url, portal_status_url
from tickets import services
from tickets.models import Attachment, Ticket, TicketActivity, TicketMessage
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

LIST = reverse("tickets:portal_list")


def key() -> str:
    return str(uuid.uuid4())


def txt(name="plan.txt", content=b"acme plan\n"):
    return SimpleUploadedFile(name, content, content_type="text/plain")


def numbers(response) -> set[str]:
    return set(re.findall(r'href="/portal/tickets/(\d+)/"', response.content.decode()))


def row_of(page: str, ticket):
    return re.search(rf'<tr>\s*<td><a href="/portal/tickets/{ticket.number}/".*?</tr>', page, re.S)


def text(response) -> str:
    return unescape(response.content.decode())


def make_world():
    acme, globex = OrganizationFactory(name="Acme"), OrganizationFactory(name="Globex")
    team = TeamFactory(name="Support")
    agent = make_agent(team, name="Alex Agent")
    manager = make_customer(acme, manager=True, name="Mona Manager")
    rita = make_customer(acme, name="Rita Requester")
    colin = make_customer(acme, name="Colin Colleague")
    outsider = make_customer(globex, name="Gus Globex")
    outsider_manager = make_customer(globex, manager=True, name="Gina Globex")
    ticket = make_ticket(rita, team=team, subject="Printer on fire", uploads=[txt()])
    return {
        "acme": acme, "globex": globex, "team": team, "agent": agent, "manager": manager, "rita": rita,
        "colin": colin, "outsider": outsider, "outsider_manager": outsider_manager, "ticket": ticket,
    }  # fmt: skip


_world_rows, world = made_once_per_module(make_world, "world")


def every_portal_answer(client, ticket) -> list[int]:
    """detail, reply, status change and each public file download of `ticket`, as status codes."""
    codes = [
        client.get(portal_detail_url(ticket)).status_code,
        client.post(portal_reply_url(ticket), {"body": "sneaky", "submission_key": key()}).status_code,
        client.post(portal_status_url(ticket), {"status": "resolved"}).status_code,
    ]
    for attachment in Attachment.objects.filter(owner_id__in=ticket.messages.values("pk")):
        codes.append(client.get(download_url(attachment)).status_code)
    return codes


# --- Whose reply a pending ticket waits for ----------------------------------------------------


def test_waiting_badge_on_a_colleagues_ticket_does_not_tell_the_manager_it_waits_for_them(client, world):
    """In "My organisation's tickets" the manager reads colleagues' tickets. A colleague's pending ticket
    waits for the colleague's reply: its row, its page and the filter say so ("Waiting for the
    requester's reply", "Waiting for a reply"), as Zendesk's organisation requests list does, not
    "Waiting for your reply", which would tell the manager it is their move. Their own pending ticket
    still waits for them."""
    services.ticket_reply(
        world["ticket"], body="Which printer?", actor=world["agent"], status_after="pending"
    )
    client.force_login(world["manager"])
    page = text(client.get(LIST, {"scope": "organization", "status": "waiting"}))
    row = row_of(page, world["ticket"])
    assert row is not None
    assert "Waiting for your reply" not in row.group(0)
    assert "Waiting for the requester's reply" in row.group(0)
    assert "Waiting for a reply</option>" in page
    assert "Waiting for the requester's reply" in text(client.get(portal_detail_url(world["ticket"])))
    own = make_ticket(world["manager"], team=world["team"], subject="My own question")
    services.ticket_reply(own, body="Which one?", actor=world["agent"], status_after="pending")
    page = text(client.get(LIST, {"scope": "organization", "status": "waiting"}))
    assert "Waiting for your reply" in row_of(page, own).group(0)
    assert "Waiting for your reply" in text(client.get(portal_detail_url(own)))
    client.force_login(world["rita"])
    assert (
        "Waiting for your reply" in row_of(text(client.get(LIST, {"status": "waiting"})), world["ticket"])[0]
    )


# --- Scope, refusals, what a manager does and sees, query budgets ---------------------------------


def test_org_list_never_lists_another_organisation_whatever_the_filters(client, world):
    globex_ticket = make_ticket(world["outsider"], team=world["team"], subject="Printer on fire too")
    pending = make_ticket(world["colin"], team=world["team"], subject="Printer pending")
    services.ticket_reply(pending, body="?", actor=world["agent"], status_after="pending")
    services.ticket_reply(globex_ticket, body="?", actor=world["agent"], status_after="pending")
    client.force_login(world["manager"])
    for params in (
        {"status": "all"}, {"status": "open"}, {"status": "waiting"}, {"status": "solved"},
        {"q": "printer", "status": "all"}, {"q": str(globex_ticket.number)},
        {"q": globex_ticket.reference, "status": "waiting"}, {"page": "2"}, {"sort": "-requester"},
    ):  # fmt: skip
        found = numbers(client.get(LIST, {"scope": "organization", **params}))
        assert str(globex_ticket.number) not in found, params
    waiting = numbers(client.get(LIST, {"scope": "organization", "status": "waiting"}))
    assert waiting == {str(pending.number)}


def test_outsiders_get_404_on_every_portal_address_of_an_org_ticket(client, world):
    for who in ("outsider", "outsider_manager", "colin"):
        client.force_login(world[who])
        assert every_portal_answer(client, world["ticket"]) == [404] * 3 + [404], who
    client.logout()
    assert client.get(portal_detail_url(world["ticket"])).status_code == 302  # sign in first
    assert world["ticket"].messages.count() == 1


def test_demoted_manager_gets_404_everywhere_at_once(client, world):
    client.force_login(world["manager"])
    assert client.get(portal_detail_url(world["ticket"])).status_code == 200
    User.objects.filter(pk=world["manager"].pk).update(is_organization_manager=False)
    assert every_portal_answer(client, world["ticket"]) == [404] * 4


def test_manager_reply_and_solve_on_a_colleagues_ticket_are_the_managers(client, world):
    client.force_login(world["manager"])
    response = client.post(
        portal_reply_url(world["ticket"]), {"body": "Mona here: try the other tray", "submission_key": key()}
    )
    assert response.status_code == 302
    message = TicketMessage.objects.filter(ticket=world["ticket"]).latest("created_at")
    assert message.author == world["manager"] and not message.from_staff and not message.is_internal
    seen = message.pk
    solved = client.post(portal_status_url(world["ticket"]), {"status": "resolved", "seen": seen})
    assert solved.status_code == 302
    ticket = Ticket.objects.get(pk=world["ticket"].pk)
    assert ticket.status == Status.RESOLVED and ticket.requester == world["rita"]
    status_change = TicketActivity.objects.get(ticket=ticket, action=TicketActivity.Action.STATUS)
    assert status_change.actor == world["manager"]
    assert AuditEvent.objects.filter(action="ticket.status", actor=world["manager"]).exists()
    client.force_login(world["rita"])
    page = text(client.get(portal_detail_url(ticket)))
    assert "Mona Manager" in page and "Mona Manager · Support" not in page


def test_manager_never_sees_notes_or_desk_activity(client, world):
    ticket = world["ticket"]
    services.ticket_add_note(
        ticket, body="quokka internal", actor=world["agent"], uploads=[txt("note.txt", b"secret")]
    )
    services.ticket_assign(ticket, assignee=world["agent"], actor=world["agent"])
    client.force_login(world["manager"])
    page = text(client.get(portal_detail_url(ticket)))
    assert "quokka" not in page and "note.txt" not in page and "Alex Agent" not in page
    note_file = Attachment.objects.get(filename="note.txt")
    assert client.get(download_url(note_file)).status_code == 404
    assert str(ticket.number) not in numbers(client.get(LIST, {"scope": "organization", "q": "quokka"}))


def test_nameless_colleague_is_named_by_address_in_the_requester_column(client, world):
    nameless = make_customer(world["acme"], name="")
    ticket = make_ticket(nameless, subject="Nameless request")
    client.force_login(world["manager"])
    page = text(client.get(LIST, {"scope": "organization"}))
    row = row_of(page, ticket)
    assert nameless.email in row.group(0)


def test_merged_colleague_ticket_leads_manager_to_its_home(client, world):
    home = make_ticket(world["rita"], team=world["team"], subject="Printer again")
    supervisor = make_agent(world["team"], role="Supervisor")
    services.ticket_merge(world["ticket"], into=home, actor=supervisor)
    client.force_login(world["manager"])
    page = text(client.get(portal_detail_url(world["ticket"])))
    assert home.reference in page
    client.force_login(world["outsider_manager"])
    assert client.get(portal_detail_url(home)).status_code == 404


@pytest.mark.parametrize("count", [3, 45])
def test_org_list_query_budget_is_flat(client, world, django_assert_max_num_queries, count):
    for number in range(count):
        ticket = make_ticket(make_customer(world["acme"]), subject=f"Printer {number}")
        if number % 3 == 0:
            services.ticket_reply(ticket, body="?", actor=None, status_after="pending")
    client.force_login(world["manager"])
    for params in ({"status": "all", "page": "2"}, {"status": "waiting"}, {"q": "printer", "status": "all"}):
        with django_assert_max_num_queries(6):
            response = client.get(LIST, {"scope": "organization", **params})
        assert response.status_code == 200


@pytest.mark.parametrize("replies", [1, 30])
def test_manager_detail_of_a_colleagues_ticket_costs_the_same_for_any_thread(
    client, world, django_assert_max_num_queries, replies
):
    ticket = world["ticket"]
    for number in range(replies):
        author = world["agent"] if number % 2 else world["rita"]
        services.ticket_reply(ticket, body=f"message {number}", actor=author, uploads=[txt(f"f{number}.txt")])
    client.force_login(world["manager"])
    with django_assert_max_num_queries(14):
        response = client.get(portal_detail_url(ticket), {"thread": "all"})
    assert response.status_code == 200 and f"message {replies - 1}" in text(response)
