"""Who sees what: each role against own, same-organisation, other-organisation and other-team tickets,
for the ticket page, its replies, its attachments and the actions on it. Outsiders get 404."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from guardian.shortcuts import assign_perm

from tests.factories import (
    OrganizationFactory,
    TeamFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tickets import services
from tickets.models import Attachment, Ticket, TicketMessage

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    acme, globex = OrganizationFactory(slug="acme"), OrganizationFactory(slug="globex")
    support, billing = TeamFactory(slug="support"), TeamFactory(slug="billing")
    people = {
        "requester": make_customer(acme),
        "manager": make_customer(acme, manager=True),
        "colleague": make_customer(acme),
        "other_org": make_customer(globex),
        "other_org_manager": make_customer(globex, manager=True),
        "agent": make_agent(support),
        "other_team_agent": make_agent(billing),
        "supervisor": make_supervisor(support),
        "other_team_supervisor": make_supervisor(billing),
        "admin": make_administrator(),
    }
    ticket = make_ticket(
        people["requester"],
        team=support,
        uploads=[SimpleUploadedFile("public.txt", b"visible to the customer")],
    )
    services.ticket_add_note(
        ticket,
        body="Secret note",
        actor=people["agent"],
        uploads=[SimpleUploadedFile("note.txt", b"internal only")],
    )
    public_file = Attachment.objects.get(filename="public.txt")
    note_file = Attachment.objects.get(filename="note.txt")
    return people, ticket, public_file, note_file


SEES_TICKET = {"requester", "manager", "agent", "supervisor", "admin"}
SEES_NOTES = {"agent", "supervisor", "admin"}
EVERYONE = [
    "requester", "manager", "colleague", "other_org", "other_org_manager", "agent", "other_team_agent",
    "supervisor", "other_team_supervisor", "admin",
]  # fmt: skip


@pytest.mark.parametrize("who", EVERYONE)
def test_ticket_page_and_files(client, world, who):
    people, ticket, public_file, note_file = world
    client.force_login(people[who])
    page = client.get(reverse("tickets:portal_detail", args=[ticket.number]))
    public = client.get(reverse("tickets:attachment_download", args=[public_file.pk]))
    note = client.get(reverse("tickets:attachment_download", args=[note_file.pk]))
    if who in SEES_TICKET:
        assert page.status_code == 200
        assert public.status_code == 200
        assert b"".join(public.streaming_content) == b"visible to the customer"
        assert "Secret note" not in page.content.decode(), "the portal never shows internal notes"
    else:
        assert page.status_code == 404
        assert ticket.subject not in page.content.decode()
        assert public.status_code == 404
    assert note.status_code == (200 if who in SEES_NOTES else 404)


@pytest.mark.parametrize("who", EVERYONE)
def test_querysets_match_the_matrix(world, who):
    people, ticket, _, _ = world
    user = people[who]
    assert Ticket.objects.visible_to(user).filter(pk=ticket.pk).exists() == (who in SEES_TICKET)
    notes = TicketMessage.objects.visible_to(user).filter(ticket=ticket, is_internal=True)
    assert notes.exists() == (who in SEES_NOTES)


@pytest.mark.parametrize("who", EVERYONE)
def test_a_thread_read_through_seen_by_matches_the_matrix(world, who):
    """The workspace's short cut (no visibility sub-selects for a ticket read with seen_by) shows the
    same messages as the general rule, and a ticket marked for one person is not a pass for another."""
    people, ticket, _, _ = world
    user = people[who]
    seen = Ticket.objects.seen_by(user).filter(pk=ticket.pk).first()
    assert (seen is not None) == (who in SEES_TICKET)
    if seen is not None:
        thread = TicketMessage.objects.visible_to(user, ticket=seen)
        assert thread.filter(is_internal=True).exists() == (who in SEES_NOTES)
        assert thread.filter(is_internal=False).exists()
    marked_for_admin = Ticket.objects.seen_by(people["admin"]).get(pk=ticket.pk)
    notes = TicketMessage.objects.visible_to(user, ticket=marked_for_admin).filter(is_internal=True)
    assert notes.exists() == (who in SEES_NOTES)


def test_an_agent_who_requested_a_ticket_elsewhere_sees_it_without_notes():
    support, billing = TeamFactory(), TeamFactory()
    agent = make_agent(support)
    ticket = make_ticket(agent, team=billing)
    services.ticket_add_note(ticket, body="Billing only", actor=make_agent(billing))
    seen = Ticket.objects.seen_by(agent).get(pk=ticket.pk)
    assert not seen.seen_as_staff
    assert not TicketMessage.objects.visible_to(agent, ticket=seen).filter(is_internal=True).exists()


@pytest.mark.parametrize("who", ["colleague", "other_org", "other_team_agent", "other_team_supervisor"])
def test_outsiders_cannot_reply_or_change_status(client, world, who):
    people, ticket, _, _ = world
    client.force_login(people[who])
    reply = client.post(reverse("tickets:portal_reply", args=[ticket.number]), {"body": "Injected"})
    status = client.post(reverse("tickets:portal_status", args=[ticket.number]), {"status": "resolved"})
    assert (reply.status_code, status.status_code) == (404, 404)
    assert not TicketMessage.objects.filter(body="Injected").exists()
    assert Ticket.objects.get(pk=ticket.pk).status == "new"


def test_anonymous_visitors_are_sent_to_sign_in(client, world):
    _, ticket, public_file, _ = world
    for url in (
        reverse("tickets:portal_detail", args=[ticket.number]),
        reverse("tickets:attachment_download", args=[public_file.pk]),
        reverse("tickets:portal_list"),
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_ticket_grant_opens_one_ticket_to_an_agent_of_another_team(world):
    people, ticket, _, _ = world
    outsider = people["other_team_agent"]
    assign_perm("tickets.view_ticket", outsider, ticket)
    assert Ticket.objects.visible_to(outsider).filter(pk=ticket.pk).exists()
    assert not Ticket.objects.visible_to(outsider).exclude(pk=ticket.pk).exists()


def test_assignee_sees_a_ticket_outside_their_teams(world):
    people, ticket, _, _ = world
    Ticket.objects.filter(pk=ticket.pk).update(assignee=people["other_team_agent"])
    assert Ticket.objects.visible_to(people["other_team_agent"]).filter(pk=ticket.pk).exists()


def test_soft_deleted_tickets_are_seen_by_administrators_only(world):
    people, ticket, _, _ = world
    Ticket.objects.filter(pk=ticket.pk).update(is_deleted=True)
    assert Ticket.objects.visible_to(people["admin"]).filter(pk=ticket.pk).exists()
    for who in ("requester", "manager", "agent", "supervisor"):
        assert not Ticket.objects.visible_to(people[who]).filter(pk=ticket.pk).exists(), who


def test_my_tickets_lists_only_what_each_customer_may_see(client, world):
    people, ticket, _, _ = world
    other = make_ticket(people["other_org"], subject="Globex only")
    colleague_ticket = make_ticket(people["colleague"], subject="Colleague's ticket")
    client.force_login(people["manager"])
    mine = client.get(reverse("tickets:portal_list")).content.decode()
    organization = client.get(reverse("tickets:portal_list"), {"scope": "organization"}).content.decode()
    assert ticket.subject not in mine
    assert ticket.reference in organization and colleague_ticket.reference in organization
    assert other.reference not in organization
    client.force_login(people["colleague"])
    listed = client.get(reverse("tickets:portal_list"), {"scope": "organization"}).content.decode()
    assert colleague_ticket.reference in listed and ticket.reference not in listed
