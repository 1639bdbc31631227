"""Ticket services: creation, replies, notes, assignment, fields, tags, stale edits, auto-close."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from helpdesk.services import site_configuration_update
from tests.factories import (
    TeamFactory,
    TicketFormFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_ticket,
)
from tickets import services
from tickets.models import Ticket, TicketActivity, TicketMessage
from tickets.workflow import Status

pytestmark = pytest.mark.django_db


def test_create_numbers_the_ticket_and_writes_the_first_message_and_activity(customer):
    site_configuration_update(changes={"default_ticket_priority": "high"}, actor=None)
    ticket = make_ticket(customer, subject="  Broken  ", description="Help **me**")
    assert ticket.reference == f"T-{ticket.number}" and ticket.number >= 1001
    assert ticket.status == Status.NEW and ticket.priority == "high"
    assert ticket.organization == customer.organization
    message = ticket.messages.get()
    assert (message.body, message.body_html) == ("Help **me**", "<p>Help <strong>me</strong></p>")
    assert not message.is_internal and message.author == customer
    assert ticket.activities.get().action == TicketActivity.Action.CREATED
    assert ticket.subject == "Broken"


def test_customer_cannot_choose_priority_or_team_but_the_form_defaults_apply(customer, team):
    form = TicketFormFactory(default_team=team, default_priority="urgent", schema=[])
    ticket = make_ticket(customer, form=form, priority="low", team=None)
    assert (ticket.team, ticket.priority) == (team, "urgent")
    other_team = TeamFactory()
    ticket = services.ticket_create(
        requester=customer, subject="s", description="d", actor=customer, priority="low", team=other_team
    )
    assert ticket.team is None and ticket.priority == "medium"


def test_custom_fields_are_validated_against_the_form_schema(customer):
    form = TicketFormFactory()
    with pytest.raises(ValidationError) as error:
        make_ticket(customer, form=form, custom_fields={"product": "Enterprise"})
    assert set(error.value.message_dict) == {"order_number", "product"}
    assert not Ticket.objects.exists()
    ticket = make_ticket(
        customer, form=form, custom_fields={"order_number": "A-7", "product": "Pro", "junk": "x"}
    )
    assert ticket.custom_fields == {"order_number": "A-7", "product": "Pro"}


def test_same_submission_key_creates_one_ticket(customer):
    import uuid

    key = uuid.uuid4()
    first = make_ticket(customer, submission_key=key)
    second = make_ticket(customer, submission_key=key)
    assert first.pk == second.pk
    assert Ticket.objects.count() == 1


def test_agent_reply_sets_first_response_and_opens_a_new_ticket(customer, agent, team):
    ticket = make_ticket(customer, team=team)
    message = services.ticket_reply(ticket, body="On it", actor=agent)
    ticket.refresh_from_db()
    assert message.from_staff and ticket.first_response_at == message.created_at
    assert ticket.status == Status.OPEN


def test_reply_and_set_status_on_send(customer, agent, team):
    ticket = make_ticket(customer, team=team)
    services.ticket_reply(ticket, body="Please confirm", actor=agent, status_after=Status.PENDING)
    assert Ticket.objects.get(pk=ticket.pk).status == Status.PENDING


@pytest.mark.parametrize("status", [Status.PENDING, Status.RESOLVED])
def test_customer_reply_reopens_pending_and_resolved(customer, team, status):
    ticket = make_ticket(customer, team=team)
    Ticket.objects.filter(pk=ticket.pk).update(status=status)
    services.ticket_reply(ticket, body="Still broken", actor=customer)
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert ticket.last_customer_message_at is not None


def test_customer_reply_on_closed_ticket_opens_a_linked_follow_up(customer, team):
    ticket = make_ticket(customer, team=team)
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.CLOSED)
    message = services.ticket_reply(ticket, body="It broke again", actor=customer)
    follow_up = message.ticket
    assert follow_up.pk != ticket.pk and follow_up.follow_up_of == ticket
    assert Ticket.objects.get(pk=ticket.pk).status == Status.CLOSED
    assert ticket.activities.filter(action=TicketActivity.Action.FOLLOW_UP).exists()


def test_a_managers_follow_up_on_a_colleagues_closed_ticket_is_written_in_the_managers_name(customer, team):
    manager = make_customer(customer.organization, manager=True)
    ticket = make_ticket(customer, team=team)
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.CLOSED)
    message = services.ticket_reply(ticket, body="Still broken here", actor=manager)
    assert message.ticket.requester == customer
    assert message.author == manager


def test_staff_reply_on_closed_ticket_is_refused(customer, agent, team):
    ticket = make_ticket(customer, team=team)
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.CLOSED)
    with pytest.raises(services.TransitionRefused, match="no more public replies") as refused:
        services.ticket_reply(ticket, body="Hi", actor=agent)
    assert "follow-up ticket instead" not in str(refused.value), "the customer's words, not the agent's"
    note = services.ticket_add_note(ticket, body="Customer called; nothing to do.", actor=agent)
    assert note.is_internal


def test_empty_reply_is_refused(customer):
    ticket = make_ticket(customer)
    with pytest.raises(ValidationError):
        services.ticket_reply(ticket, body="   ", actor=customer)


def test_internal_note_is_for_staff_only(customer, agent, team):
    ticket = make_ticket(customer, team=team)
    note = services.ticket_add_note(ticket, body="Customer is VIP", actor=agent)
    assert note.is_internal
    with pytest.raises(services.TicketNotAllowed):
        services.ticket_add_note(ticket, body="sneaky", actor=customer)
    with pytest.raises(services.TicketNotAllowed):
        services.ticket_add_note(ticket, body="outside", actor=make_agent(TeamFactory()))


def test_assignee_must_be_an_agent_who_can_see_the_ticket(customer, agent, team):
    ticket = make_ticket(customer, team=team)
    colleague = make_agent(team)
    ticket = services.ticket_assign(ticket, assignee=colleague, actor=agent)
    assert ticket.assignee == colleague
    entry = ticket.activities.get(action=TicketActivity.Action.ASSIGNEE)
    assert entry.new_value == str(colleague)
    with pytest.raises(services.InvalidAssignee):
        services.ticket_assign(ticket, assignee=make_agent(TeamFactory()), actor=agent)
    with pytest.raises(services.InvalidAssignee):
        services.ticket_assign(ticket, assignee=customer, actor=agent)
    assert services.ticket_assign(ticket, assignee=None, actor=agent).assignee is None


def test_a_new_ticket_given_to_someone_opens_and_stays_open_when_given_back(customer, agent, team):
    """ "New" is a ticket nobody has picked up: assigned, it is open, with both changes in its history;
    unassigned again it stays open, and a ticket on hold given to someone keeps its status."""
    ticket = make_ticket(customer, team=team)
    assert ticket.status == Status.NEW
    ticket = services.ticket_assign(ticket, assignee=agent, actor=agent)
    assert Ticket.objects.get(pk=ticket.pk).status == Status.OPEN
    changes = ticket.activities.order_by("pk").values_list("action", "old_value", "new_value")
    assert list(changes)[-2:] == [
        (TicketActivity.Action.ASSIGNEE, None, str(agent)),
        (TicketActivity.Action.STATUS, Status.NEW, Status.OPEN),
    ]
    ticket = services.ticket_assign(ticket, assignee=None, actor=agent)
    assert Ticket.objects.get(pk=ticket.pk).status == Status.OPEN
    held = services.ticket_transition(make_ticket(customer, team=team), status=Status.ON_HOLD, actor=agent)
    services.ticket_assign(held, assignee=agent, actor=agent)
    assert Ticket.objects.get(pk=held.pk).status == Status.ON_HOLD


def test_customers_cannot_touch_internal_fields(customer, team):
    ticket = make_ticket(customer, team=team)
    with pytest.raises(services.TicketNotAllowed):
        services.ticket_update_fields(ticket, changes={"priority": "urgent"}, actor=customer)
    with pytest.raises(services.TicketNotAllowed):
        services.ticket_assign(ticket, assignee=None, actor=customer)
    with pytest.raises(services.TicketNotAllowed):
        services.ticket_set_tags(ticket, names=["vip"], actor=customer)
    assert Ticket.objects.get(pk=ticket.pk).priority == "medium"


def test_update_fields_writes_activity_per_field_and_refuses_unknown_fields(customer, agent, team):
    ticket = make_ticket(customer, team=team)
    billing = TeamFactory(name="Billing")
    closed_down = TeamFactory(name="Old desk", is_active=False)
    with pytest.raises(ValidationError, match="no longer works tickets"):
        services.ticket_update_fields(ticket, changes={"team": closed_down}, actor=agent)
    ticket = services.ticket_update_fields(
        ticket, changes={"priority": "urgent", "team": billing}, actor=agent
    )
    entries = {
        entry.field: (entry.old_value, entry.new_value) for entry in ticket.activities.all() if entry.field
    }
    assert entries == {"priority": ("medium", "urgent"), "team": ("Support", "Billing")}
    with pytest.raises(services.TicketNotAllowed):
        services.ticket_update_fields(ticket, changes={"requester": agent}, actor=make_administrator())


def test_tags_are_normalised_and_changes_recorded(customer, agent, team):
    ticket = make_ticket(customer, team=team)
    services.ticket_set_tags(ticket, names=["VIP", " billing  issue ", "vip"], actor=agent)
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["billing issue", "vip"]
    with pytest.raises(ValidationError):
        services.ticket_set_tags(ticket, names=["<script>"], actor=agent)
    entry = ticket.activities.get(action=TicketActivity.Action.TAGS)
    assert entry.old_value == [] and entry.new_value == ["billing issue", "vip"]


def test_change_from_a_stale_page_is_refused_and_nothing_is_overwritten(customer, agent, team):
    ticket = make_ticket(customer, team=team)
    seen_version = ticket.version
    services.ticket_update_fields(ticket, changes={"priority": "high"}, actor=make_agent(team))
    with pytest.raises(services.StaleTicket, match="Someone changed this ticket"):
        services.ticket_update_fields(
            ticket, changes={"priority": "low"}, actor=agent, expected_version=seen_version
        )
    with pytest.raises(services.StaleTicket):
        services.ticket_transition(ticket, status=Status.PENDING, actor=agent, expected_version=seen_version)
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert (fresh.priority, fresh.status) == ("high", Status.NEW)
    assert (
        services.ticket_update_fields(
            fresh, changes={"priority": "low"}, actor=agent, expected_version=fresh.version
        ).priority
        == "low"
    )


def test_resolved_tickets_close_after_the_configured_days(customer, agent, team, settings):
    settings.TICKET_AUTO_CLOSE_DAYS = 3
    old = make_ticket(customer, team=team)
    recent = make_ticket(customer, team=team)
    services.ticket_transition(old, status=Status.RESOLVED, actor=agent)
    services.ticket_transition(recent, status=Status.RESOLVED, actor=agent)
    Ticket.objects.filter(pk=old.pk).update(resolved_at=timezone.now() - timedelta(days=3, minutes=1))
    assert services.tickets_close_resolved() == 1
    assert Ticket.objects.get(pk=old.pk).status == Status.CLOSED
    assert Ticket.objects.get(pk=recent.pk).status == Status.RESOLVED
    closing = Ticket.objects.get(pk=old.pk).activities.get(action="status", new_value="closed")
    assert closing.actor is None


@pytest.mark.usefixtures("immediate_tasks")  # the receipt is a task
def test_anonymous_requester_is_a_pending_account_and_gets_a_receipt(django_capture_on_commit_callbacks):
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    requester = services.anonymous_requester(email="Visitor@Example.org", name="Vi")
    assert requester.status == requester.Status.PENDING and not requester.has_usable_password()
    assert services.anonymous_requester(email="visitor@example.org", name="Other") == requester
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket(requester, actor=None)
        services.send_submission_receipt(ticket, portal_url="http://x/p", reset_url="http://x/r")
    assert len(mail.outbox) == 1
    assert ticket.reference in mail.outbox[0].subject
    assert "token" not in mail.outbox[0].body.lower()


def test_message_html_is_cached_on_the_row(customer):
    ticket = make_ticket(customer, description="[site](https://example.com)")
    stored = TicketMessage.objects.values_list("body_html", flat=True).get(ticket=ticket)
    assert 'href="https://example.com"' in stored


@pytest.mark.django_db(transaction=True)  # db_worker closes stale connections between tasks
def test_auto_close_command_runs_the_task(customer, agent, team, settings):
    from io import StringIO

    from django.core.management import call_command

    settings.TICKET_AUTO_CLOSE_DAYS = 0
    ticket = make_ticket(customer, team=team)
    services.ticket_transition(ticket, status=Status.RESOLVED, actor=agent)
    out = StringIO()
    call_command("close_resolved_tickets", stdout=out)
    assert "READY" in out.getvalue()
    assert Ticket.objects.get(pk=ticket.pk).status == Status.RESOLVED
    call_command("db_worker", batch=True, startup_delay=False, reload=False, verbosity=0)
    assert Ticket.objects.get(pk=ticket.pk).status == Status.CLOSED


def test_anonymous_requester_is_refused_when_the_site_does_not_allow_it():
    site_configuration_update(changes={"anonymous_submission": False}, actor=None)
    with pytest.raises(services.TicketNotAllowed):
        services.anonymous_requester(email="visitor@example.org", name="Vi")
