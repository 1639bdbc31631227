"""The portal at its edges: a reply form sent again with other words or on another ticket, numbers in
custom fields, searches the filter form cannot take, follow-ups of a colleague's ticket, who wrote in
the meantime, a required group of check boxes, submission switched off mid-way, HEAD requests, and an
agent writing on their own request in their own team."""

import re
import uuid
from html import unescape

import pytest
from django.urls import reverse

from helpdesk.services import site_configuration_update
from tests.factories import (
    OrganizationFactory,
    TeamFactory,
    TicketFormFactory,
    make_agent,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tests.tickets.test_portal_repeats import posted_key
from tickets import services
from tickets.models import Ticket
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

SUBMIT = reverse("tickets:portal_submit")


def test_a_reply_form_sent_again_with_other_words_is_refused_with_them_kept(client):
    customer = make_customer()
    ticket = make_ticket(customer, team=TeamFactory())
    client.force_login(customer)
    url = reverse("tickets:portal_reply", args=[ticket.number])
    key = str(uuid.uuid4())
    client.post(url, {"body": "First thing", "submission_key": key}, follow=True)
    again = client.post(url, {"body": "First thing", "submission_key": key})  # a second click: one message
    assert again.status_code == 302
    response = client.post(url, {"body": "Second, different thing", "submission_key": key})
    assert response.status_code == 422
    page = unescape(response.content.decode())
    assert services.SEND_AGAIN in page and "Second, different thing" in page
    assert (
        list(ticket.messages.filter(from_staff=False).values_list("body", flat=True)).count("First thing")
        == 1
    )
    assert posted_key(page) != key  # a fresh form: sending it again works
    assert (
        client.post(url, {"body": "Second, different thing", "submission_key": posted_key(page)}).status_code
        == 302
    )


def test_a_reply_key_used_on_another_ticket_is_refused_not_sent_there(client):
    customer = make_customer()
    team = TeamFactory()
    first, second = make_ticket(customer, team=team), make_ticket(customer, team=team)
    client.force_login(customer)
    key = str(uuid.uuid4())
    client.post(reverse("tickets:portal_reply", args=[first.number]), {"body": "On A", "submission_key": key})
    response = client.post(
        reverse("tickets:portal_reply", args=[second.number]), {"body": "On A", "submission_key": key}
    )
    assert response.status_code == 422
    assert not second.messages.filter(body="On A").exists()


def submit_number(client, typed: str):
    TicketFormFactory(slug="numbers", schema=[{"name": "amount", "label": "Amount", "type": "number"}])
    client.force_login(make_customer())
    data = {
        "subject": "Refund",
        "description": "Please",
        "submission_key": str(uuid.uuid4()),
        "cf_amount": typed,
    }
    return client.post(reverse("tickets:portal_submit_form", args=["numbers"]), data)


def test_a_number_with_more_digits_than_are_kept_exactly_is_refused(client):
    response = submit_number(client, "123456789012.123456")  # 18 digits: a float keeps 15-17
    assert response.status_code == 422 and not Ticket.objects.exists()
    assert "no more than 15 digits" in unescape(response.content.decode())


@pytest.mark.parametrize("typed", ["0.000001", "123456789.123456", "42"])
def test_a_number_is_shown_as_typed(client, typed):
    assert submit_number(client, typed).status_code == 302
    ticket = Ticket.objects.get()
    page = client.get(reverse("tickets:portal_detail", args=[ticket.number])).content.decode()
    assert f"<dd>{typed}</dd>" in page  # not 1e-06 (a bare "e-0" can be in the page's random form key)


@pytest.mark.parametrize("query", ["x" * 201, "invoice\x00"])
def test_a_search_the_filter_form_cannot_take_still_searches(client, query):
    customer = make_customer()
    make_ticket(customer, subject="Unrelated printer")
    make_ticket(customer, subject="Invoice twice")
    client.force_login(customer)
    page = client.get(reverse("tickets:portal_list"), {"q": query}).content.decode()
    assert "Unrelated printer" not in page
    assert ("Invoice twice" in page) == query.startswith("invoice")


def test_a_managers_follow_up_of_a_colleagues_closed_ticket_stays_with_the_organisation(client):
    organization = OrganizationFactory()
    manager = make_customer(organization, manager=True)
    colleague = make_customer(organization)
    ticket = make_ticket(colleague, team=TeamFactory())
    services.ticket_transition(ticket, status=Status.CLOSED, actor=None)
    colleague.organization = OrganizationFactory()  # moved on since
    colleague.save()
    client.force_login(manager)
    response = client.post(
        reverse("tickets:portal_reply", args=[ticket.number]),
        {"body": "Same problem again", "submission_key": str(uuid.uuid4())},
        follow=True,
    )
    assert response.status_code == 200
    follow_up = Ticket.objects.get(follow_up_of=ticket)
    assert follow_up.organization == organization and response.context["ticket"] == follow_up


def test_a_colleagues_message_in_the_meantime_is_not_called_support_writing(client):
    organization = OrganizationFactory()
    requester = make_customer(organization)
    manager = make_customer(organization, manager=True)
    ticket = make_ticket(requester, team=TeamFactory())
    client.force_login(requester)
    page = client.get(reverse("tickets:portal_detail", args=[ticket.number])).content.decode()
    seen = re.search(r'name="seen" value="(\d+)"', page).group(1)
    services.ticket_reply(ticket, body="Manager adds a detail", actor=manager)
    response = client.post(
        reverse("tickets:portal_status", args=[ticket.number]),
        {"status": "resolved", "seen": seen},
        follow=True,
    )
    html = unescape(response.content.decode())
    assert services.NEWER_MESSAGE_OTHER in html and services.NEWER_MESSAGE not in html
    assert Ticket.objects.get(pk=ticket.pk).status != Status.RESOLVED


def test_the_customers_own_message_from_another_tab_does_not_stop_them(client):
    requester = make_customer()
    ticket = make_ticket(requester, team=TeamFactory())
    client.force_login(requester)
    page = client.get(reverse("tickets:portal_detail", args=[ticket.number])).content.decode()
    seen = re.search(r'name="seen" value="(\d+)"', page).group(1)
    services.ticket_reply(ticket, body="One more detail", actor=requester)
    client.post(reverse("tickets:portal_status", args=[ticket.number]), {"status": "resolved", "seen": seen})
    assert Ticket.objects.get(pk=ticket.pk).status == Status.RESOLVED


def test_a_required_group_of_check_boxes_ties_its_help_and_error_and_says_it_is_required(client):
    schema = [{"name": "areas", "label": "Areas", "type": "multi_select", "choices": ["Mail", "Web"],
               "required": True, "help_text": "Tick every area that is down."}]  # fmt: skip
    TicketFormFactory(slug="areas", schema=schema)
    client.force_login(make_customer())
    response = client.post(
        reverse("tickets:portal_submit_form", args=["areas"]),
        {"subject": "Down", "description": "All down", "submission_key": str(uuid.uuid4())},
    )
    assert response.status_code == 422
    html = response.content.decode()
    group = re.search(r"<fieldset[^>]*field-group[^>]*>", html).group(0)
    assert 'aria-describedby="id_cf_areas_helptext id_cf_areas_error"' in group
    assert 'id="id_cf_areas_helptext"' in html and 'id="id_cf_areas_error"' in html
    legend = re.search(r"<legend>Areas.*?</legend>", html, re.S).group(0)
    assert '<span class="visually-hidden"> (required)</span>' in legend


def test_a_visitors_request_sent_after_anonymous_submission_was_switched_off_keeps_its_text(client):
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    assert client.get(SUBMIT).status_code == 200
    site_configuration_update(changes={"anonymous_submission": False}, actor=None)
    data = {"subject": "Long story", "description": "A text I typed for ten minutes", "name": "Visitor",
            "email": "visitor@example.org", "submission_key": str(uuid.uuid4())}  # fmt: skip
    response = client.post(SUBMIT, data)
    assert response.status_code == 422
    page = unescape(response.content.decode())
    assert services.ANONYMOUS_CLOSED in page and "A text I typed for ten minutes" in page
    assert not Ticket.objects.exists()
    assert client.get(SUBMIT).status_code == 302  # arriving now, the visitor is sent to sign in


def test_head_requests_are_answered_like_get(client):
    customer = make_customer()
    ticket = make_ticket(customer, team=TeamFactory())
    client.force_login(customer)
    for url in (
        reverse("tickets:portal_list"),
        reverse("tickets:portal_detail", args=[ticket.number]),
        SUBMIT,
    ):
        response = client.head(url)
        assert response.status_code == 200 and response.content == b"", url


def test_an_agents_own_request_and_its_follow_up_are_the_requesters_words_not_support_replies(client):
    """An agent files a request of their own through the portal: its first message (and that of a
    follow-up they open on it once closed) reads as the requester's in the portal and in the workspace of
    the team that works it, not as a support reply."""
    support, billing = TeamFactory(name="Support"), TeamFactory(name="Billing")
    agent = make_agent(support, name="Alex Agent")
    client.force_login(agent)
    data = {"subject": "My own laptop", "description": "The screen flickers", "submission_key": uuid.uuid4()}
    assert client.post(SUBMIT, data).status_code == 302
    ticket = Ticket.objects.get(subject="My own laptop")
    Ticket.objects.filter(pk=ticket.pk).update(team=billing)
    assert not ticket.messages.get().from_staff
    page = client.get(reverse("tickets:portal_detail", args=[ticket.number])).content.decode()
    assert "The screen flickers" in page and "Alex Agent · Support" not in page

    Ticket.objects.filter(pk=ticket.pk).update(status=Status.CLOSED)
    message = services.ticket_reply(ticket, body="It flickers again", actor=agent)
    assert message.ticket.follow_up_of_id == ticket.pk and not message.from_staff


def _portal_reply(client, ticket: Ticket, body: str):
    return client.post(
        reverse("tickets:portal_reply", args=[ticket.number]), {"body": body, "submission_key": uuid.uuid4()}
    )


def test_an_agent_writes_on_their_own_closed_request_in_their_own_team_as_its_requester(client):
    """The portal offers them the follow-up composer: it opens a follow-up, not the desk's refusal
    ("add an internal note"), which the portal cannot do."""
    support = TeamFactory(name="Support")
    agent = make_agent(support, name="Alex Agent")
    ticket = make_ticket(agent, team=support, subject="My own laptop")
    services.ticket_transition(ticket, status=Status.CLOSED, actor=None)
    client.force_login(agent)
    assert _portal_reply(client, ticket, "It flickers again").status_code == 302
    follow_up = Ticket.objects.get(follow_up_of=ticket)
    assert not follow_up.messages.get().from_staff


def test_an_agent_writes_on_their_own_merged_request_in_their_own_team_where_it_continues(client):
    support = TeamFactory(name="Support")
    agent = make_agent(support)
    source = make_ticket(agent, team=support, subject="Laptop")
    into = make_ticket(agent, team=support, subject="Laptop again")
    services.ticket_merge(source, into=into, actor=make_supervisor(support))
    client.force_login(agent)
    response = _portal_reply(client, source, "Any news?")
    assert response.status_code == 302 and response["Location"].endswith(f"/{into.number}/")
    message = into.messages.get(body="Any news?")
    assert not message.from_staff and not message.is_internal


def test_an_agents_reply_on_their_own_open_request_reads_as_the_requesters(client):
    """Not a support reply: it reopens the request pending on them, as a customer's answer does."""
    support = TeamFactory(name="Support")
    agent = make_agent(support)
    ticket = make_ticket(agent, team=support, subject="My own laptop")
    services.ticket_transition(ticket, status=Status.PENDING, actor=make_agent(support))
    client.force_login(agent)
    assert _portal_reply(client, ticket, "Here is the serial number").status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert not ticket.messages.get(body="Here is the serial number").from_staff


def test_an_agent_sets_the_status_of_their_own_request_in_the_portal_as_its_customer(client):
    """The portal's choices are the customer's (mark solved, reopen): a desk status posted there is not."""
    support = TeamFactory(name="Support")
    agent = make_agent(support)
    ticket = make_ticket(agent, team=support, subject="My own laptop")
    client.force_login(agent)
    url = reverse("tickets:portal_status", args=[ticket.number])
    client.post(url, {"status": Status.PENDING})
    assert Ticket.objects.get(pk=ticket.pk).status == Status.NEW
    client.post(url, {"status": Status.RESOLVED})
    assert Ticket.objects.get(pk=ticket.pk).status == Status.RESOLVED
