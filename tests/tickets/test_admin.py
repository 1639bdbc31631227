"""The ticket admin: edits go through the services, and a save from a stale page is refused."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from guardian.models import GroupObjectPermission

from audit.models import AuditEvent
from tests.factories import TeamFactory, make_administrator, make_agent, make_customer, make_ticket
from tickets import services
from tickets.models import Ticket, TicketActivity
from tickets.workflow import Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def setting():
    team = TeamFactory()
    agent = make_agent(team)
    ticket = make_ticket(make_customer(), team=team, subject="Printer on fire")
    administrator = make_administrator(is_superuser=True)
    return {"team": team, "agent": agent, "ticket": ticket, "administrator": administrator}


def change_page_data(response) -> dict:
    """What the browser would post back from the admin's change page, unchanged."""
    form = response.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        data[name] = "" if value is None else value
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
    return data


def test_admin_edit_goes_through_the_services(client, setting):
    ticket = setting["ticket"]
    url = reverse("admin:tickets_ticket_change", args=[ticket.pk])
    client.force_login(setting["administrator"])
    data = change_page_data(client.get(url))
    response = client.post(url, {**data, "priority": "urgent"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.version) == ("urgent", 2)
    assert TicketActivity.objects.filter(ticket=ticket, field="priority", new_value="urgent").exists()


def test_admin_save_from_a_stale_page_is_refused_and_keeps_the_colleagues_change(client, setting):
    ticket = setting["ticket"]
    url = reverse("admin:tickets_ticket_change", args=[ticket.pk])
    client.force_login(setting["administrator"])
    stale = change_page_data(client.get(url))
    # Meanwhile an agent raises the priority from the desk.
    services.ticket_update_fields(ticket, changes={"priority": "high"}, actor=setting["agent"])
    response = client.post(url, {**stale, "subject": "Printer on fire (edited)"})
    assert response.status_code == 200  # the form again, with what was typed
    assert services.STALE in response.content.decode()
    assert 'value="Printer on fire (edited)"' in response.content.decode()
    ticket = Ticket.objects.get(pk=ticket.pk)
    assert (ticket.subject, ticket.priority) == ("Printer on fire", "high")


def test_admin_change_the_workflow_refuses_is_reported_without_a_success_message(client, setting):
    ticket = setting["ticket"]
    Ticket.objects.filter(pk=ticket.pk).update(status="closed")
    url = reverse("admin:tickets_ticket_change", args=[ticket.pk])
    client.force_login(setting["administrator"])
    data = change_page_data(client.get(url))
    response = client.post(url, {**data, "status": "open"}, follow=True)
    notes = [str(message) for message in response.context["messages"]]
    assert notes == ["Not saved: A ticket cannot go from Closed to Open."]
    assert Ticket.objects.get(pk=ticket.pk).status == "closed"


def test_administrator_deletes_and_restores_tickets_from_the_admin(client, setting):
    ticket, agent = setting["ticket"], setting["agent"]
    changelist = reverse("admin:tickets_ticket_changelist")
    workspace = reverse("tickets:desk_ticket", args=[ticket.number])
    client.force_login(setting["administrator"])
    response = client.post(
        changelist, {"action": "delete_tickets", "_selected_action": [ticket.pk]}, follow=True
    )
    assert f"Deleted 1 ticket(s): {ticket.reference}." in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.is_deleted and ticket.deleted_at is not None
    assert "only administrators see this ticket" in client.get(workspace).content.decode()
    client.force_login(agent)
    assert client.get(workspace).status_code == 404
    client.force_login(ticket.requester)
    assert client.get(reverse("tickets:portal_detail", args=[ticket.number])).status_code == 404

    client.force_login(setting["administrator"])
    client.post(changelist, {"action": "restore_tickets", "_selected_action": [ticket.pk]})
    client.force_login(agent)
    assert client.get(workspace).status_code == 200
    actions = list(TicketActivity.objects.filter(ticket=ticket).values_list("action", flat=True))
    assert actions[-2:] == ["deleted", "restored"]


def test_only_administrators_may_delete_a_ticket(setting):
    with pytest.raises(services.TicketNotAllowed):
        services.ticket_delete(setting["ticket"], actor=setting["agent"])
    ticket = Ticket.objects.get(pk=setting["ticket"].pk)
    assert not ticket.is_deleted and ticket.status == Status.NEW


def test_administrator_grants_one_ticket_to_an_agent_of_another_team(client, setting):
    ticket = setting["ticket"]
    outsider = make_agent(TeamFactory(name="Billing"))
    workspace = reverse("tickets:desk_ticket", args=[ticket.number])
    client.force_login(outsider)
    assert client.get(workspace).status_code == 404

    client.force_login(setting["administrator"])
    url = reverse("admin:tickets_ticket_permissions_manage_user", args=[ticket.pk, outsider.pk])
    form = client.get(url).content.decode()
    assert 'value="view_ticket"' in form and 'value="change_ticket"' not in form
    client.post(url, {"permissions": ["view_ticket"]})
    event = AuditEvent.objects.filter(action="permission_change").latest("sequence")
    assert (event.actor, event.changes) == (setting["administrator"], {"permissions": [[], ["view_ticket"]]})
    client.force_login(outsider)
    assert client.get(workspace).status_code == 200

    client.force_login(setting["administrator"])
    client.post(url, {"permissions": [], "csrfmiddlewaretoken": "x"})  # as a browser posts it
    client.force_login(outsider)
    assert client.get(workspace).status_code == 404


def test_tickets_are_not_granted_to_roles(client, setting):
    client.force_login(setting["administrator"])
    role = Group.objects.get(name="Agent")
    url = reverse("admin:tickets_ticket_permissions_manage_group", args=[setting["ticket"].pk, role.pk])
    response = client.post(url, {"permissions": ["view_ticket"]}, follow=True)
    assert "Tickets are granted to people, not to roles" in response.content.decode()
    assert not GroupObjectPermission.objects.exists()
