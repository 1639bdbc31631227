"""A merge confirmed twice and a bulk action posted twice (a double click, one after the other or both in
flight at once) are answered as the first was: not "someone changed this ticket", which blames a colleague
who does not exist and says the opposite of what happened. A colleague's change is still stale."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.concurrency import run_while_another_transaction_waits
from tests.conftest import notes
from tests.factories import TeamFactory, ensure_roles, make_agent, make_customer, make_supervisor, make_ticket
from tests.tickets.conftest import fresh, merge_url, page_text
from tickets import services
from tickets.models import Ticket, TicketActivity
from tickets.views import desk as desk_views
from tickets.workflow import Status

BULK = reverse("tickets:desk_bulk")


def world():
    ensure_roles()
    team = TeamFactory(name="Support")
    customer = make_customer(name="Carla Customer")
    return {
        "team": team,
        "agent": make_agent(team, name="Alex Agent"),
        "colleague": make_agent(team, name="Casey Colleague"),
        "supervisor": make_supervisor(team, name="Sam Supervisor"),
        "customer": customer,
        "ticket": make_ticket(customer, team=team, subject="Printer on fire"),
    }


def signed_in(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def merge_confirmation(source: Ticket, into: Ticket) -> dict:
    return {
        "into": into.reference,
        "version": source.version,
        "into_version": into.version,
        "confirm": "merge",
    }


@pytest.mark.django_db
def test_a_merge_confirmed_twice_is_answered_as_merged(client):
    w = world()
    source, into = make_ticket(w["customer"], team=w["team"], subject="Printer still on fire"), w["ticket"]
    client.force_login(w["supervisor"])
    confirm = merge_confirmation(source, into)
    assert client.post(merge_url(source), confirm).status_code == 302
    second = client.post(merge_url(source), confirm)
    assert second.status_code == 302 and second["Location"].endswith(f"/{into.number}/")
    assert f"Merged {source.reference} into {into.reference}." in notes(second)
    assert TicketActivity.objects.filter(ticket=into, action=TicketActivity.Action.MERGE).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_merge_confirmed_twice_at_once_merges_once_and_says_merged():
    w = world()
    source, into = make_ticket(w["customer"], team=w["team"], subject="Printer still on fire"), w["ticket"]
    responses, browser = [], signed_in(w["supervisor"])  # signed in first: a sign-in writes the audit chain
    run_while_another_transaction_waits(
        lambda: services.ticket_merge(
            Ticket.objects.get(pk=source.pk), into=Ticket.objects.get(pk=into.pk), actor=w["supervisor"],
            expected_version=source.version, expected_into_version=into.version,
        ),
        lambda: responses.append(browser.post(merge_url(source), merge_confirmation(source, into))),
    )  # fmt: skip
    assert responses[0].status_code == 302
    assert fresh(source).merged_into_id == into.pk
    assert TicketActivity.objects.filter(ticket=into, action=TicketActivity.Action.MERGE).count() == 1


@pytest.mark.django_db
def test_a_merge_confirmed_after_a_colleagues_merge_is_still_refused(client):
    """The same source merged by someone else meanwhile: not this supervisor's merge, so not "Merged"."""
    w = world()
    source, into = make_ticket(w["customer"], team=w["team"], subject="Printer still on fire"), w["ticket"]
    confirm = merge_confirmation(source, into)
    other = make_supervisor(w["team"], name="Other Supervisor")
    services.ticket_merge(Ticket.objects.get(pk=source.pk), into=into, actor=other)
    client.force_login(w["supervisor"])
    response = client.post(merge_url(source), confirm)
    assert response.status_code == 422
    assert desk_views.MERGE_STALE in page_text(response) + " ".join(notes(response))


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["priority:urgent", "assign_me", "add_tag", "remove_tag", "team"])
def test_a_bulk_action_posted_twice_is_already_so(client, action):
    w = world()
    ticket = w["ticket"]
    other_team = TeamFactory(name="Billing")
    w["agent"].team_memberships.create(team=other_team)
    if action == "remove_tag":
        services.ticket_set_tags(ticket, add=["printer"], actor=w["colleague"])
        ticket = fresh(ticket)
    client.force_login(w["agent"])
    data = {"tickets": [f"{ticket.pk}:{ticket.version}"], "action": action}
    if action in ("add_tag", "remove_tag"):
        data["value"] = "Printer"
    if action == "team":
        data["action"], data["value"] = "team", str(other_team.pk)
    assert client.post(BULK, data).status_code == 302
    assert fresh(ticket).version == ticket.version + 1
    second = client.post(BULK, data)
    assert second.status_code == 302
    assert not any(services.BULK_STALE.format(ticket=ticket.reference) in line for line in notes(second))
    assert any(line.startswith("Already so") for line in notes(second)), notes(second)
    assert fresh(ticket).version == ticket.version + 1


@pytest.mark.django_db(transaction=True)
def test_a_bulk_close_confirmed_twice_at_once_is_already_so():
    """Both posts read the ticket before the first commits, so only the row lock tells them apart."""
    w = world()
    ticket = w["ticket"]
    data = {"tickets": [f"{ticket.pk}:{ticket.version}"], "action": "status:closed", "confirm": "close"}
    responses, browser = [], signed_in(w["agent"])
    run_while_another_transaction_waits(
        lambda: services.tickets_bulk_apply(
            [Ticket.objects.get(pk=ticket.pk)], action="status", value="closed", actor=w["agent"],
            versions={ticket.pk: ticket.version},
        ),
        lambda: responses.append(browser.post(BULK, data)),
    )  # fmt: skip
    assert responses[0].status_code == 302
    assert fresh(ticket).status == Status.CLOSED
    assert not any(
        services.BULK_STALE.format(ticket=ticket.reference) in line for line in notes(responses[0])
    )


@pytest.mark.django_db
def test_a_bulk_action_after_a_colleagues_change_is_still_stale(client):
    """A colleague set the priority the agent asks for: their change, so the queue is stale, not "mine"."""
    w = world()
    ticket = w["ticket"]
    data = {"tickets": [f"{ticket.pk}:{ticket.version}"], "action": "priority:urgent"}
    services.ticket_update_fields(ticket, changes={"priority": "urgent"}, actor=w["colleague"])
    client.force_login(w["agent"])
    response = client.post(BULK, data)
    assert any(services.BULK_STALE.format(ticket=ticket.reference) in line for line in notes(response))
