"""The customer portal as organisations use it: organisation managers and their colleagues, people
moving between organisations, merges, follow-ups, outsiders and query budgets."""

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import User
from tests.factories import (
    OrganizationFactory,
    TeamFactory,
    make_agent,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tests.tickets.conftest import portal_detail_url as detail
from tickets import services
from tickets.models import Attachment, Ticket
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

LIST = reverse("tickets:portal_list")


def listed(client, **params) -> str:
    return client.get(LIST, {"status": "all", **params}).content.decode()


# --- A merge never moves one organisation's thread into another organisation's ticket ------------


@pytest.fixture
def moved_requester():
    """A requester who moved from Acme to Globex: their old Acme ticket carries a reply (with a file)
    from Acme's manager; their new ticket belongs to Globex. Both have the same requester, so the desk
    lets a supervisor merge them as duplicates."""
    acme, globex = OrganizationFactory(name="Acme"), OrganizationFactory(name="Globex")
    team = TeamFactory()
    requester = make_customer(acme)
    acme_manager = make_customer(acme, manager=True)
    old = make_ticket(requester, team=team, subject="VPN broken")
    services.ticket_reply(
        old,
        body="Acme-confidential: the VPN secret is hunter2",
        actor=acme_manager,
        uploads=[SimpleUploadedFile("acme-network.txt", b"acme internal network plan")],
    )
    requester.organization = globex
    requester.save()
    new = make_ticket(requester, team=team, subject="VPN still broken")
    assert (old.organization, new.organization) == (acme, globex)
    return {
        "supervisor": make_supervisor(team),
        "old": old,
        "new": new,
        "acme_manager": acme_manager,
        "globex_manager": make_customer(globex, manager=True),
    }


def test_merge_refuses_tickets_of_different_organisations_and_each_keeps_its_thread(client, moved_requester):
    """The requester moved: their old ticket stays Acme's, the new one is Globex's. Merged, Acme's manager
    would lose the conversation and Globex's manager read it (and download Acme's file)."""
    world = moved_requester
    with pytest.raises(services.TicketNotAllowed, match="different organisations"):
        services.ticket_merge(world["old"], into=world["new"], actor=world["supervisor"])
    assert Ticket.objects.get(pk=world["old"].pk).merged_into_id is None
    attachment = Attachment.objects.get(filename="acme-network.txt")
    client.force_login(world["globex_manager"])
    assert "hunter2" not in client.get(detail(world["new"])).content.decode()
    assert client.get(reverse("tickets:attachment_download", args=[attachment.pk])).status_code == 404
    client.force_login(world["acme_manager"])
    assert "hunter2" in client.get(detail(world["old"])).content.decode()


# --- The desk's organisation filter keeps a deactivated organisation it filters by ---------------------


def test_the_desk_organisation_filter_shows_a_deactivated_organisation_it_filters_by(client):
    """The workspace links every ticket's organisation to /desk/?organization=<id>. For a deactivated one
    the menu offers it too (else it would read "Any organisation" and the next Apply drop the filter)."""
    team = TeamFactory()
    agent = make_agent(team)
    acme, globex = OrganizationFactory(name="Acme"), OrganizationFactory(name="Globex")
    acme_ticket = make_ticket(make_customer(acme), team=team, subject="Acme ticket")
    globex_ticket = make_ticket(make_customer(globex), team=team, subject="Globex ticket")
    acme.is_active = False
    acme.save()
    client.force_login(agent)
    workspace = client.get(reverse("tickets:desk_ticket", args=[acme_ticket.number])).content.decode()
    assert f"?organization={acme.pk}" in workspace
    page = client.get(reverse("tickets:desk_queue"), {"organization": acme.pk}).content.decode()
    assert acme_ticket.reference in page and globex_ticket.reference not in page  # it does filter
    assert f'<option value="{acme.pk}" selected>Acme (inactive)</option>' in page


# --- What holds: managers, colleagues and moves ------------------------------------------------------


def test_removing_the_manager_flag_ends_the_organisation_view_at_once(client):
    acme = OrganizationFactory()
    manager = make_customer(acme, manager=True)
    colleague_ticket = make_ticket(make_customer(acme), subject="Colleague's printer")
    own = make_ticket(manager, subject="My own printer")
    client.force_login(manager)
    assert colleague_ticket.reference in listed(client, scope="organization")
    User.objects.filter(pk=manager.pk).update(is_organization_manager=False)
    page = listed(client, scope="organization")
    assert colleague_ticket.reference not in page and own.reference in page
    assert 'name="scope"' not in page, "no scope menu for a former manager"
    assert client.get(detail(colleague_ticket)).status_code == 404
    reply = client.post(reverse("tickets:portal_reply", args=[colleague_ticket.number]), {"body": "Hi"})
    status = client.post(
        reverse("tickets:portal_status", args=[colleague_ticket.number]), {"status": "resolved"}
    )
    assert (reply.status_code, status.status_code) == (404, 404)
    assert colleague_ticket.messages.count() == 1


def test_a_manager_who_moves_sees_the_new_organisation_only(client):
    acme, globex = OrganizationFactory(), OrganizationFactory()
    manager = make_customer(acme, manager=True)
    acme_ticket = make_ticket(make_customer(acme), subject="Acme printer")
    globex_ticket = make_ticket(make_customer(globex), subject="Globex printer")
    own_acme_ticket = make_ticket(manager, subject="Filed while at Acme")
    User.objects.filter(pk=manager.pk).update(organization=globex)
    client.force_login(manager)
    organization = listed(client, scope="organization")
    assert globex_ticket.reference in organization and acme_ticket.reference not in organization
    assert own_acme_ticket.reference not in organization  # it stays Acme's
    assert own_acme_ticket.reference in listed(client), "their own requests stay theirs"
    assert client.get(detail(acme_ticket)).status_code == 404
    assert client.get(detail(globex_ticket)).status_code == 200


def test_a_requester_who_moves_leaves_old_tickets_with_the_old_organisation(client):
    acme, globex = OrganizationFactory(), OrganizationFactory()
    requester = make_customer(acme)
    acme_manager, globex_manager = make_customer(acme, manager=True), make_customer(globex, manager=True)
    old = make_ticket(requester, subject="Filed at Acme")
    User.objects.filter(pk=requester.pk).update(organization=globex)
    requester.refresh_from_db()
    new = make_ticket(requester, subject="Filed at Globex")
    client.force_login(acme_manager)
    page = listed(client, scope="organization")
    assert old.reference in page and new.reference not in page
    assert client.get(detail(new)).status_code == 404
    client.force_login(globex_manager)
    page = listed(client, scope="organization")
    assert new.reference in page and old.reference not in page
    assert client.get(detail(old)).status_code == 404


def test_a_customer_without_an_organisation_flagged_manager_sees_no_organisation(client):
    """A stray flag (set in the database, past User.clean) must not open the tickets of every customer
    without an organisation."""
    loner = make_customer()
    other = make_customer()
    User.objects.filter(pk__in=[loner.pk, other.pk]).update(organization=None)
    User.objects.filter(pk=loner.pk).update(is_organization_manager=True)
    other.refresh_from_db()
    orphan = make_ticket(other, subject="No organisation")
    assert orphan.organization is None
    client.force_login(loner)
    page = listed(client, scope="organization", q=orphan.reference)
    assert detail(orphan) not in page and 'name="scope"' not in page
    assert client.get(detail(orphan)).status_code == 404


def test_suspended_and_pending_colleagues_tickets_stay_in_the_organisation_list(client):
    acme = OrganizationFactory()
    manager = make_customer(acme, manager=True)
    suspended, pending = make_customer(acme), make_customer(acme)
    suspended_ticket = make_ticket(suspended, subject="From a suspended colleague")
    pending_ticket = make_ticket(pending, subject="From a pending colleague")
    User.objects.filter(pk=suspended.pk).update(status=User.Status.SUSPENDED)
    User.objects.filter(pk=pending.pk).update(status=User.Status.PENDING)
    client.force_login(manager)
    page = listed(client, scope="organization")
    assert suspended_ticket.reference in page and pending_ticket.reference in page
    assert client.get(detail(suspended_ticket)).status_code == 200


def test_internal_notes_stay_out_of_a_managers_portal_list_search_and_detail(client):
    team = TeamFactory()
    acme = OrganizationFactory()
    manager, colleague, agent = make_customer(acme, manager=True), make_customer(acme), make_agent(team)
    ticket = make_ticket(colleague, team=team, subject="Router")
    services.ticket_add_note(
        ticket, body="zebra-secret in a note", actor=agent, uploads=[SimpleUploadedFile("n.txt", b"note")]
    )
    note_file = Attachment.objects.get(filename="n.txt")
    client.force_login(manager)
    assert "zebra-secret" not in client.get(detail(ticket)).content.decode()
    search = listed(client, scope="organization", q="zebra-secret")
    assert ticket.reference not in search
    assert client.get(reverse("tickets:attachment_download", args=[note_file.pk])).status_code == 404


# --- Follow-ups and outsiders ---------------------------------------------------------------------------


def test_outsiders_get_404_on_an_organisations_follow_up(client):
    """A follow-up a manager opened on a colleague's closed ticket: the manager sees both and the link
    between them; another organisation's manager and an agent of another team get 404 everywhere."""
    support, billing = TeamFactory(), TeamFactory()
    acme = OrganizationFactory()
    manager = make_customer(acme, manager=True)
    ticket = make_ticket(make_customer(acme), team=support, uploads=[SimpleUploadedFile("f.txt", b"x")])
    services.ticket_transition(ticket, status=Status.CLOSED, actor=None)
    client.force_login(manager)
    client.post(
        reverse("tickets:portal_reply", args=[ticket.number]),
        {
            "body": "Again",
            "submission_key": str(uuid.uuid4()),
            "attachments": SimpleUploadedFile("g.txt", b"y"),
        },
    )
    follow_up = Ticket.objects.get(follow_up_of=ticket)
    assert follow_up.organization == acme and follow_up.team == support
    assert follow_up.reference in client.get(detail(ticket)).content.decode()
    assert ticket.reference in client.get(detail(follow_up)).content.decode()
    for outsider in (make_customer(OrganizationFactory(), manager=True), make_agent(billing)):
        client.force_login(outsider)
        for each in (ticket, follow_up):
            assert client.get(detail(each)).status_code == 404
            reply = client.post(reverse("tickets:portal_reply", args=[each.number]), {"body": "x"})
            status = client.post(reverse("tickets:portal_status", args=[each.number]), {"status": "resolved"})
            assert (reply.status_code, status.status_code) == (404, 404)
        for attachment in Attachment.objects.all():
            assert client.get(reverse("tickets:attachment_download", args=[attachment.pk])).status_code == 404
        page = listed(client, scope="organization", q=follow_up.reference)
        assert detail(follow_up) not in page
    assert Ticket.objects.get(pk=follow_up.pk).status == Status.NEW


def test_odd_portal_list_input_never_breaks_the_organisation_list(client):
    acme = OrganizationFactory()
    manager = make_customer(acme, manager=True)
    ticket = make_ticket(make_customer(acme), subject="Plain ticket")
    client.force_login(manager)
    for odd in ["abc", "-1", "9" * 30, "%", "\x00", "T-" + "9" * 30, "#", "' OR 1=1 --", "\u0661"]:
        response = client.get(LIST, {"q": odd, "scope": "organization", "page": odd, "status": odd})
        assert response.status_code == 200, odd
    # An unknown scope falls back to the manager's own tickets, never to more.
    assert ticket.reference not in listed(client, scope="everything")


# --- Query budget ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [5, 50])
def test_organisation_list_costs_the_same_for_5_or_50_colleagues(
    client, django_assert_max_num_queries, count
):
    acme = OrganizationFactory()
    manager = make_customer(acme, manager=True)
    for number in range(count):
        make_ticket(make_customer(acme), subject=f"Colleague ticket {number}")
    client.force_login(manager)
    with django_assert_max_num_queries(6):
        response = client.get(
            LIST, {"scope": "organization", "status": "all", "page": 2 if count > 20 else 1}
        )
    assert response.content.decode().count("<tr>") == min(count, 20) + 1
