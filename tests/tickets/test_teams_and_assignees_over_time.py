"""What the desk shows when people and teams change under the tickets: a team deleted with views shared
with it, an assignee suspended or no longer an agent, and counts after one's own change elsewhere."""

import re

import pytest
from django.urls import reverse

from accounts import services as account_services
from accounts.models import User
from tests.factories import (
    OrganizationFactory,
    SavedViewFactory,
    TeamFactory,
    make_agent,
    make_customer,
    make_ticket,
)
from tickets import services
from tickets.freshness import TICKETS_CHANGED
from tickets.models import SavedView, Ticket
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

QUEUE = reverse("tickets:desk_queue")


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def chosen_assignee(html: str) -> tuple[str, str] | None:
    """The (value, label) of the option chosen in the workspace's assignee picker."""
    picker = re.search(r'<select id="edit-assignee"[^>]*>(.*?)</select>', html, re.S)
    assert picker, "the assignee picker is on the page"
    chosen = re.findall(r'<option value="([^"]*)" selected>([^<]*)</option>', picker.group(1))
    return chosen[0] if chosen else None


def test_deleting_a_team_keeps_the_views_shared_with_it_as_their_owners_own(superuser_client):
    """A team deleted in the admin takes no agent's saved view with it: a view shared with it becomes
    private to its owner."""
    team = TeamFactory(name="Night shift")
    agent = make_agent(team)
    view = SavedViewFactory(owner=agent, team=team, name="My urgent ones", query="priority=urgent")
    response = superuser_client.post(reverse("admin:accounts_team_delete", args=[team.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not type(team).objects.filter(pk=team.pk).exists()
    kept = SavedView.objects.get(pk=view.pk)
    assert (kept.owner, kept.team, kept.query) == (agent, None, "priority=urgent")


@pytest.mark.parametrize("change", ["suspended", "no longer an agent"])
def test_the_picker_names_an_assignee_who_can_no_longer_be_chosen_and_saving_it_keeps_them(client, change):
    """A ticket still assigned to an agent since suspended (or whose Agent role was taken away) shows them
    as the picker's choice, marked, not "Unassigned"; saving the picker as it stands keeps them, and
    assigning them anew is still refused."""
    team = TeamFactory()
    holder, colleague = make_agent(team, name="Holly Holder"), make_agent(team, name="Colin Colleague")
    ticket = services.ticket_assign(make_ticket(make_customer(), team=team), assignee=holder, actor=None)
    if change == "suspended":
        account_services.user_suspend(fresh(holder), until=None, reason="left", actor=None)
    else:
        account_services.role_revoke(fresh(holder), "Agent", actor=None)
    client.force_login(colleague)
    page = client.get(reverse("tickets:desk_ticket", args=[ticket.number])).content.decode()
    assert chosen_assignee(page) == (str(holder.pk), "Holly Holder (can no longer be assigned)")

    ticket = fresh(ticket)
    saved = client.post(
        reverse("tickets:desk_update", args=[ticket.number]),
        {"field": "assignee", "value": holder.pk, "version": ticket.version},
    )
    assert saved.status_code in (200, 302)
    assert fresh(ticket).assignee_id == holder.pk and fresh(ticket).version == ticket.version

    services.ticket_assign(fresh(ticket), assignee=None, actor=colleague)
    with pytest.raises(services.InvalidAssignee):
        services.ticket_assign(fresh(ticket), assignee=User.objects.get(pk=holder.pk), actor=colleague)


def test_an_agents_own_change_in_the_portal_is_counted_at_once_on_the_desk(client):
    """An agent who marks a ticket of their own team solved from the portal (as its requester) sees the
    desk's view counts follow at once, as after a change made from the desk."""
    team = TeamFactory()
    agent = make_agent(team)
    ticket = make_ticket(agent, team=team, subject="My laptop")
    services.ticket_transition(fresh(ticket), status=Status.OPEN, actor=None)
    client.force_login(agent)
    before = client.get(QUEUE).context["counts"]
    assert (before["team_open"], before["solved"]) == (1, 0)
    response = client.post(
        reverse("tickets:portal_status", args=[ticket.number]), {"status": Status.RESOLVED}
    )
    assert response.status_code == 302
    after = client.get(QUEUE).context["counts"]
    assert (after["team_open"], after["solved"]) == (0, 1)


def test_a_change_made_in_the_admin_marks_its_maker_as_having_changed_tickets(superuser_client):
    """A ticket action taken in the Django admin sets the mark the desk's counts are never older than
    (administrators count deleted tickets too, so the count itself does not move here)."""
    ticket = make_ticket(make_customer(OrganizationFactory()), team=TeamFactory())
    assert TICKETS_CHANGED not in superuser_client.session
    response = superuser_client.post(
        reverse("admin:tickets_ticket_changelist"),
        {"action": "delete_tickets", "_selected_action": [ticket.pk]},
    )
    assert response.status_code == 302
    assert Ticket.objects.get(pk=ticket.pk).is_deleted
    assert TICKETS_CHANGED in superuser_client.session
