"""The portal at its edges: tickets deleted or merged (twice) under the customer, forms changed while
they typed, long and right-to-left subjects, look-alike domains, organisation managers, and
unknown sort and filter keys."""

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from helpdesk.services import site_configuration_update
from tests.factories import (
    OrganizationFactory,
    TeamFactory,
    TicketFormFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_ticket,
)
from tests.tickets.conftest import portal_detail_url as detail
from tickets import services
from tickets.models import Attachment, Ticket, TicketForm
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

LIST = reverse("tickets:portal_list")


def submission(**extra) -> dict:
    return {
        "subject": "Printer jam",
        "description": "Paper stuck",
        "submission_key": str(uuid.uuid4()),
        **extra,
    }


def test_a_soft_deleted_ticket_answers_404_on_every_portal_url(client):
    """A ticket an administrator deleted is gone for its requester: page, reply, status, file all 404."""
    customer = make_customer()
    ticket = make_ticket(customer, uploads=[SimpleUploadedFile("a.txt", b"secret")])
    attachment = Attachment.objects.get()
    services.ticket_delete(ticket, actor=make_administrator())
    client.force_login(customer)
    assert client.get(detail(ticket)).status_code == 404
    reply = client.post(reverse("tickets:portal_reply", args=[ticket.number]), {"body": "hello?"})
    assert reply.status_code == 404
    status = client.post(reverse("tickets:portal_status", args=[ticket.number]), {"status": "resolved"})
    assert status.status_code == 404
    assert client.get(reverse("tickets:attachment_download", args=[attachment.pk])).status_code == 404
    listing = client.get(LIST, {"status": "all", "q": ticket.reference}).content.decode()
    assert detail(ticket) not in listing
    assert Ticket.objects.get(pk=ticket.pk).messages.count() == 1


def test_deleting_a_ticket_takes_the_tickets_merged_into_it_along_and_restoring_brings_them_back(client):
    """A merged ticket does not stand empty before a deleted one: it goes and comes back with it."""
    customer, team = make_customer(), TeamFactory()
    source, middle, target = (make_ticket(customer, team=team) for _ in range(3))
    alone = make_ticket(customer, team=team)
    admin = make_administrator()
    services.ticket_merge(source, into=middle, actor=admin)
    services.ticket_merge(middle, into=target, actor=admin)
    services.ticket_merge(alone, into=target, actor=admin)
    services.ticket_delete(alone, actor=admin)  # deleted on its own before: it stays deleted
    services.ticket_delete(target, actor=admin)
    client.force_login(customer)
    for ticket in (source, middle, target):
        assert client.get(detail(ticket)).status_code == 404
        reply = client.post(reverse("tickets:portal_reply", args=[ticket.number]), {"body": "Any news?"})
        assert reply.status_code == 404
    services.ticket_restore(target, actor=admin)
    assert client.get(detail(source)).status_code == 200
    assert not Ticket.objects.get(pk=middle.pk).is_deleted and Ticket.objects.get(pk=alone.pk).is_deleted


def test_a_merged_ticket_is_not_restored_alone_while_the_ticket_it_went_into_is_deleted(client):
    """Restored alone it would stand empty before a ticket no one sees, and a reply on it would fail:
    refused, naming the ticket to restore, which brings it back. In the admin, both chosen, the target
    goes first and both come back without a refusal."""
    customer, team, admin = make_customer(), TeamFactory(), make_administrator()
    source, middle, target = (make_ticket(customer, team=team) for _ in range(3))
    services.ticket_merge(source, into=middle, actor=admin)
    services.ticket_merge(middle, into=target, actor=admin)
    services.ticket_delete(target, actor=admin)
    with pytest.raises(services.TicketNotAllowed, match=f"restore {target.reference} \\(this one comes back"):
        services.ticket_restore(Ticket.objects.get(pk=source.pk), actor=admin)
    assert Ticket.objects.get(pk=source.pk).is_deleted
    client.force_login(admin)
    chosen = [str(source.pk), str(target.pk)]
    page = client.post(
        reverse("admin:tickets_ticket_changelist"),
        {"action": "restore_tickets", "_selected_action": chosen},
        follow=True,
    ).content.decode()
    assert not Ticket.objects.filter(is_deleted=True).exists()
    assert f"Restored 2 tickets: {target.reference}, {source.reference}" in page
    assert "ticket that is deleted" not in page


def test_a_merged_ticket_deleted_on_its_own_before_is_told_to_wait_for_its_target_then_comes_back():
    """Deleted on its own before its target was, it does not come back with the target: the refusal
    says to restore the target first and then this one, and that order works."""
    customer, team, admin = make_customer(), TeamFactory(), make_administrator()
    source, target = make_ticket(customer, team=team), make_ticket(customer, team=team)
    services.ticket_merge(source, into=target, actor=admin)
    services.ticket_delete(Ticket.objects.get(pk=source.pk), actor=admin)
    services.ticket_delete(Ticket.objects.get(pk=target.pk), actor=admin)
    with pytest.raises(services.TicketNotAllowed, match=f"restore {target.reference} first, then this one"):
        services.ticket_restore(Ticket.objects.get(pk=source.pk), actor=admin)
    services.ticket_restore(Ticket.objects.get(pk=target.pk), actor=admin)
    assert Ticket.objects.get(pk=source.pk).is_deleted
    services.ticket_restore(Ticket.objects.get(pk=source.pk), actor=admin)
    assert not Ticket.objects.filter(is_deleted=True).exists()


def test_the_ticket_page_links_to_no_ticket_the_customer_cannot_open(client):
    """A follow-up whose original ticket was deleted does not link the customer to a 404."""
    customer, team = make_customer(), TeamFactory()
    original = make_ticket(customer, team=team)
    services.ticket_transition(original, status=Status.CLOSED, actor=None)
    client.force_login(customer)
    client.post(
        reverse("tickets:portal_reply", args=[original.number]),
        {"body": "It broke again", "submission_key": str(uuid.uuid4())},
    )
    follow_up = Ticket.objects.get(follow_up_of=original)
    services.ticket_delete(original, actor=make_administrator())
    page = client.get(detail(follow_up)).content.decode()
    assert client.get(detail(original)).status_code == 404
    assert f'href="{detail(original)}"' not in page


def test_a_choice_removed_while_the_customer_typed_is_refused_with_422_and_the_rest_kept(client):
    """The admin removes the choice the customer picked: 422, a clear error, everything else typed kept."""
    client.force_login(make_customer())
    form = TicketFormFactory(slug="orders")
    url = reverse("tickets:portal_submit_form", args=["orders"])
    assert client.get(url).status_code == 200
    TicketForm.objects.filter(pk=form.pk).update(
        schema=[
            {"name": "order_number", "label": "Order number", "type": "text", "required": True},
            {"name": "product", "label": "Product", "type": "select", "choices": ["Basic", "Enterprise"]},
        ]
    )
    response = client.post(url, submission(cf_order_number="A-17", cf_product="Pro", description="Kept text"))
    body = response.content.decode()
    assert response.status_code == 422
    assert "Select a valid choice" in body
    assert 'value="A-17"' in body and "Kept text" in body
    assert not Ticket.objects.exists()


def test_a_field_removed_while_the_customer_typed_does_not_block_the_request(client):
    """A field removed from the form between page load and submit: the request still goes through."""
    client.force_login(make_customer())
    form = TicketFormFactory(slug="orders")
    url = reverse("tickets:portal_submit_form", args=["orders"])
    TicketForm.objects.filter(pk=form.pk).update(
        schema=[{"name": "order_number", "label": "Order number", "type": "text", "required": True}]
    )
    response = client.post(url, submission(cf_order_number="A-17", cf_product="Pro"))
    assert response.status_code == 302
    assert Ticket.objects.get().custom_fields == {"order_number": "A-17"}


def test_customer_cannot_close_or_reopen_a_closed_ticket_through_the_status_url(client):
    """Only the solved/open moves are the customer's: closed, new and unknown statuses change nothing."""
    customer = make_customer()
    ticket = make_ticket(customer)
    client.force_login(customer)
    url = reverse("tickets:portal_status", args=[ticket.number])
    for status in ("closed", "new", "pending", "bogus", ""):
        response = client.post(url, {"status": status})
        assert response.status_code == 302
        assert Ticket.objects.get(pk=ticket.pk).status == Status.NEW
    services.ticket_transition(ticket, status=Status.CLOSED, actor=None)
    client.post(url, {"status": "open"})
    assert Ticket.objects.get(pk=ticket.pk).status == Status.CLOSED


def test_unicode_rtl_and_long_subjects_round_trip_on_the_list_and_page(client):
    """A 200-character RTL subject with emoji shows as typed on the list and the ticket page, without
    the direction overrides, which would make it read in another order (helpdesk.forms.one_line)."""
    customer = make_customer()
    client.force_login(customer)
    subject = ("שלום עולם 🖨️ \u202e" * 20)[:200]
    response = client.post(reverse("tickets:portal_submit"), submission(subject=subject))
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.subject == " ".join(subject.replace("\u202e", "").split())
    assert ticket.subject in client.get(LIST).content.decode()
    assert ticket.subject in client.get(detail(ticket)).content.decode()


def test_a_201_character_subject_is_refused_with_422_and_kept(client):
    """One character over the limit: 422 and the text comes back, no ticket."""
    client.force_login(make_customer())
    response = client.post(
        reverse("tickets:portal_submit"), submission(subject="x" * 201, description="Mine")
    )
    assert response.status_code == 422 and "Mine" in response.content.decode()
    assert not Ticket.objects.exists()


def test_the_forms_own_success_message_is_shown_after_submitting(client):
    """The form's success message and the reference appear on the page the customer lands on."""
    client.force_login(make_customer())
    TicketFormFactory(slug="orders", success_message="Our order desk answers within 2 days.", schema=[])
    url = reverse("tickets:portal_submit_form", args=["orders"])
    response = client.post(url, submission(), follow=True)
    ticket = Ticket.objects.get()
    body = response.content.decode()
    assert "Our order desk answers within 2 days." in body and ticket.reference in body


def test_a_visitors_request_gets_the_forms_success_message(client):
    """An anonymous visitor lands on a receipt with the form's message and the reference."""
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    TicketFormFactory(slug="contact", success_message="We answer within a day.", schema=[])
    url = reverse("tickets:portal_submit_form", args=["contact"])
    response = client.post(url, submission(name="Vera Visitor", email="vera@example.net"), follow=True)
    body = response.content.decode()
    assert "We answer within a day." in body and Ticket.objects.get().reference in body


def test_a_visitor_with_a_lookalike_domain_is_not_filed_with_the_organisation(client):
    """acme.example.evil.test and evil-acme.example are not acme.example: no organisation membership."""
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    acme = OrganizationFactory(email_domains=["acme.example"])
    manager = make_customer(acme, manager=True)
    for address in ("x@acme.example.evil.test", "y@evil-acme.example", "z@sub.acme.example"):
        response = client.post(reverse("tickets:portal_submit"), submission(name="Eve", email=address))
        assert response.status_code == 302, address
    assert not Ticket.objects.filter(organization=acme).exists()
    client.force_login(manager)
    page = client.get(LIST, {"scope": "organization", "status": "all"}).content.decode()
    assert "No tickets here" in page


def test_a_visitor_with_the_organisations_domain_in_capitals_is_filed_with_it(client):
    """X@ACME.EXAMPLE is an address of acme.example: the manager sees the request."""
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    acme = OrganizationFactory(email_domains=["acme.example"])
    response = client.post(reverse("tickets:portal_submit"), submission(name="Al", email="Al@ACME.EXAMPLE"))
    assert response.status_code == 302
    assert Ticket.objects.get().organization == acme


@pytest.mark.parametrize("follow_ups", [1, 15])
def test_a_closed_tickets_page_costs_the_same_with_1_or_15_follow_ups(
    client, django_assert_max_num_queries, follow_ups
):
    """The closed ticket's page lists its follow-ups without a query per follow-up."""
    customer = make_customer()
    ticket = make_ticket(customer, uploads=[SimpleUploadedFile("a.txt", b"x")])
    services.ticket_transition(ticket, status=Status.CLOSED, actor=None)
    ticket = Ticket.objects.get(pk=ticket.pk)
    for number in range(follow_ups):
        services.ticket_reply(ticket, body=f"Again {number}", actor=customer)
    client.force_login(customer)
    with django_assert_max_num_queries(12):
        page = client.get(detail(ticket)).content.decode()
    assert page.count("Follow-up") >= 1 and Ticket.objects.filter(follow_up_of=ticket).count() == follow_ups


def test_paging_keeps_the_organisation_scope_and_status(client):
    """The Next link of the organisation list keeps scope and status, so page 2 is the same list."""
    acme = OrganizationFactory()
    manager = make_customer(acme, manager=True)
    colleague = make_customer(acme)
    for _ in range(21):
        make_ticket(colleague)
    client.force_login(manager)
    page = client.get(LIST, {"scope": "organization", "status": "all"}).content.decode()
    assert "scope=organization" in page.split('rel="next"')[0].rsplit("href=", 1)[1]
    second = client.get(LIST, {"scope": "organization", "status": "all", "page": "2"}).content.decode()
    assert second.count("<tr>") == 2


def test_unknown_sort_and_filter_keys_are_ignored(client):
    """?sort=password&order=-requester__password and friends answer the ordinary list."""
    customer = make_customer()
    ticket = make_ticket(customer)
    client.force_login(customer)
    odd = [
        {"sort": "requester__password"},
        {"o": "-pk"},
        {"status": "deleted"},
        {"scope": "all"},
        {"page": "99999999999999999999999"},
        {"page": "-1"},
        {"status": ["open", "all"]},
    ]
    for params in odd:
        response = client.get(LIST, params)
        assert response.status_code == 200, params
        assert ticket.reference in response.content.decode(), params


def test_a_manager_marks_a_colleagues_ticket_solved_and_the_colleague_reads_it(client):
    """An organisation manager may mark a colleague's ticket solved from the portal."""
    acme = OrganizationFactory()
    manager, colleague = make_customer(acme, manager=True), make_customer(acme)
    ticket = make_ticket(colleague)
    client.force_login(manager)
    response = client.post(reverse("tickets:portal_status", args=[ticket.number]), {"status": "resolved"})
    assert response.status_code == 302
    assert Ticket.objects.get(pk=ticket.pk).status == Status.RESOLVED


def test_a_manager_who_leaves_the_organisation_cannot_reply_on_a_colleagues_ticket(client):
    """The manager's page is open when they are moved out: their reply answers 404 and adds nothing."""
    acme, globex = OrganizationFactory(), OrganizationFactory()
    manager, colleague = make_customer(acme, manager=True), make_customer(acme)
    ticket = make_ticket(colleague)
    client.force_login(manager)
    assert client.get(detail(ticket)).status_code == 200
    type(manager).objects.filter(pk=manager.pk).update(organization=globex)
    response = client.post(
        reverse("tickets:portal_reply", args=[ticket.number]),
        {"body": "x", "submission_key": str(uuid.uuid4())},
    )
    assert response.status_code == 404
    assert Ticket.objects.get(pk=ticket.pk).messages.count() == 1


def test_the_ticket_page_shows_no_internal_fields(client):
    """Priority, team, assignee, tags and internal notes never appear on the customer's page."""
    team = TeamFactory(name="Secret Escalations Squad")
    customer = make_customer()
    agent = make_agent(team, name="Zed Hiddenagent")
    ticket = make_ticket(customer, team=team)
    services.ticket_assign(ticket, assignee=agent, actor=agent)
    services.ticket_add_note(Ticket.objects.get(pk=ticket.pk), body="internal-zebra-note", actor=agent)
    client.force_login(customer)
    page = client.get(detail(ticket)).content.decode()
    assert "Secret Escalations Squad" not in page
    assert "Zed Hiddenagent" not in page
    assert "internal-zebra-note" not in page


def _merged_twice(customer):
    """S merged into T2, then T2 merged into T3 (T2 was still open, so the desk allows it)."""
    team = TeamFactory()
    first, second, third = (make_ticket(customer, team=team, subject=f"Issue {n}") for n in (1, 2, 3))
    admin = make_administrator()
    services.ticket_merge(first, into=second, actor=admin)
    services.ticket_merge(Ticket.objects.get(pk=second.pk), into=third, actor=admin)
    return first, second, third


def test_a_reply_on_a_ticket_merged_twice_says_where_it_went_truthfully(client):
    """The reply lands on the last ticket of the merge chain; the notice must not call it a new follow-up."""
    customer = make_customer()
    first, _second, third = _merged_twice(customer)
    client.force_login(customer)
    response = client.post(
        reverse("tickets:portal_reply", args=[first.number]),
        {"body": "Still broken", "submission_key": str(uuid.uuid4())},
        follow=True,
    )
    assert Ticket.objects.get(pk=third.pk).messages.filter(body="Still broken").exists()
    body = response.content.decode()
    assert "so your message opened" not in body
    assert "which is closed" not in body


def test_a_double_clicked_reply_on_a_ticket_merged_twice_stands_as_sent(client):
    """The same reply form sent twice on a twice-merged ticket is one message, not a refusal."""
    customer = make_customer()
    first, _second, third = _merged_twice(customer)
    client.force_login(customer)
    data = {"body": "Still broken", "submission_key": str(uuid.uuid4())}
    url = reverse("tickets:portal_reply", args=[first.number])
    assert client.post(url, data).status_code == 302
    again = client.post(url, data)
    assert again.status_code == 302
    assert Ticket.objects.get(pk=third.pk).messages.filter(body="Still broken").count() == 1
