"""The portal when a customer repeats themselves or the ticket moved on: a reply sent twice, a form
reused for another request, a submission over the rate limit, a reply on a merged ticket, a search
for a reference, attachment errors beside the file input."""

import re
import uuid
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

from tests.factories import TeamFactory, make_administrator, make_customer, make_ticket
from tickets import services
from tickets.models import Ticket, TicketMessage
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

SUBMIT = reverse("tickets:portal_submit")


def posted_key(html: str) -> str:
    return re.search(r'name="submission_key" value="([^"]+)"', html).group(1)


def test_a_reply_sent_twice_is_kept_once(client):
    customer = make_customer()
    ticket = make_ticket(customer, team=TeamFactory())
    client.force_login(customer)
    url = reverse("tickets:portal_reply", args=[ticket.number])
    page = client.get(reverse("tickets:portal_detail", args=[ticket.number])).content.decode()
    form = {"body": "Still slow!", "submission_key": posted_key(page)}
    first, second = client.post(url, form), client.post(url, form, follow=True)
    assert first.status_code == 302 and second.status_code == 200
    assert list(ticket.messages.values_list("body", flat=True)) == [ticket.description, "Still slow!"]
    assert unescape(second.content.decode()).count("Your reply was sent.") == 1


def test_a_reply_sent_twice_on_a_closed_ticket_opens_one_follow_up(client):
    customer, team = make_customer(), TeamFactory()
    ticket = make_ticket(customer, team=team)
    services.ticket_transition(ticket, status=Status.CLOSED, actor=None)
    client.force_login(customer)
    url = reverse("tickets:portal_reply", args=[ticket.number])
    form = {"body": "It is slow again.", "submission_key": str(uuid.uuid4())}
    first, second = client.post(url, form), client.post(url, form)
    follow_ups = Ticket.objects.filter(follow_up_of=ticket)
    assert follow_ups.count() == 1
    assert (
        first["Location"]
        == second["Location"]
        == reverse("tickets:portal_detail", args=[follow_ups[0].number])
    )


def test_a_reply_form_that_comes_back_gets_a_fresh_key(client):
    customer = make_customer()
    ticket = make_ticket(customer, team=TeamFactory())
    client.force_login(customer)
    url = reverse("tickets:portal_reply", args=[ticket.number])
    key = str(uuid.uuid4())
    response = client.post(url, {"body": "   ", "submission_key": key})
    assert response.status_code == 422 and posted_key(response.content.decode()) != key


def test_a_reply_on_a_merged_ticket_continues_the_conversation_where_it_was_merged(client):
    customer, team = make_customer(), TeamFactory()
    source, target = make_ticket(customer, team=team), make_ticket(customer, team=team)
    services.ticket_merge(source, into=target, actor=make_administrator())
    client.force_login(customer)
    page = client.get(reverse("tickets:portal_detail", args=[source.number])).content.decode()
    assert f"This ticket was merged into {target.reference}." in page
    assert f"Reply on {target.reference}" in page
    url = reverse("tickets:portal_reply", args=[source.number])
    response = client.post(url, {"body": "Any news?", "submission_key": str(uuid.uuid4())}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("tickets:portal_detail", args=[target.number])
    assert f"your message was added to {target.reference}" in unescape(response.content.decode())
    assert TicketMessage.objects.filter(ticket=target, body="Any news?").exists()
    assert not Ticket.objects.filter(follow_up_of=source).exists()


def test_a_submission_form_reused_for_another_request_is_refused_with_everything_kept(client):
    customer = make_customer()
    client.force_login(customer)
    key = str(uuid.uuid4())
    client.post(SUBMIT, {"subject": "First problem", "description": "Printer jam", "submission_key": key})
    again = {"subject": "Second, different problem", "description": "VPN down", "submission_key": key}
    response = client.post(SUBMIT, again)
    page = unescape(response.content.decode())
    assert response.status_code == 422 and services.SUBMIT_AGAIN in page
    assert 'value="Second, different problem"' in page and "VPN down" in page
    fresh = posted_key(page)
    assert fresh != key
    client.post(SUBMIT, {**again, "submission_key": fresh})
    assert set(Ticket.objects.filter(requester=customer).values_list("subject", flat=True)) == {
        "First problem",
        "Second, different problem",
    }


def test_a_submission_with_a_broken_key_can_be_sent_again(client):
    customer = make_customer()
    client.force_login(customer)
    form = {"subject": "Printer jam", "description": "Paper stuck", "submission_key": "not-a-key"}
    response = client.post(SUBMIT, form)
    assert response.status_code == 422
    response = client.post(SUBMIT, {**form, "submission_key": posted_key(response.content.decode())})
    assert response.status_code == 302 and Ticket.objects.filter(requester=customer).count() == 1


def test_a_submission_sent_twice_confirms_once(client):
    customer = make_customer()
    client.force_login(customer)
    form = {"subject": "Printer jam", "description": "Paper stuck", "submission_key": str(uuid.uuid4())}
    client.post(SUBMIT, form)
    response = client.post(SUBMIT, form, follow=True)
    assert unescape(response.content.decode()).count("Your reference is") == 1


@override_settings(RATE_LIMITS={"ticket_submit": ("3/h", "2/h")})
def test_signed_in_customers_are_limited_per_account_not_per_address(client, settings, clock):
    settings.RATE_LIMITS_ENABLED = True
    busy, colleague = make_customer(), make_customer()
    client.force_login(busy)
    for number in range(2):
        client.post(
            SUBMIT, {"subject": f"Problem {number}", "description": "d", "submission_key": uuid.uuid4()}
        )
    form = {
        "subject": "One more thing",
        "description": "The scanner too",
        "submission_key": str(uuid.uuid4()),
    }
    refused = client.post(SUBMIT, form)
    page = unescape(refused.content.decode())
    # Over their own limit: the form comes back with what they wrote, and when to try again.
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "You have sent many requests in a short time" in page
    assert 'value="One more thing"' in page and "The scanner too" in page
    # A colleague behind the same address is not held back by it.
    client.force_login(colleague)
    for number in range(2):
        response = client.post(
            SUBMIT, {"subject": f"Theirs {number}", "description": "d", "submission_key": uuid.uuid4()}
        )
        assert response.status_code == 302
    assert Ticket.objects.filter(requester=colleague).count() == 2


def test_a_reference_finds_its_ticket_whatever_the_status_filter(client):
    customer = make_customer()
    closed = make_ticket(customer, subject="Dashboard slow")
    services.ticket_transition(closed, status=Status.CLOSED, actor=None)
    make_ticket(customer, subject="Closed tickets are many")
    client.force_login(customer)
    for query in (closed.reference, f"#{closed.number}", str(closed.number)):
        page = client.get(reverse("tickets:portal_list"), {"q": query}).content.decode()
        assert "Dashboard slow" in page, query
    # Words still search within the chosen status.
    page = client.get(reverse("tickets:portal_list"), {"q": "Dashboard"}).content.decode()
    assert "Dashboard slow" not in page


def test_a_refused_file_is_named_beside_the_file_input(client):
    customer = make_customer()
    ticket = make_ticket(customer, team=TeamFactory())
    client.force_login(customer)
    upload = SimpleUploadedFile("x.html", b"<script>alert(1)</script>", content_type="text/html")
    url = reverse("tickets:portal_reply", args=[ticket.number])
    response = client.post(url, {"body": "See file", "attachments": [upload]})
    page = unescape(response.content.decode())
    field = re.search(r'<ul class="errors" id="id_attachments_error">(.*?)</ul>', page, re.S).group(1)
    assert "x.html is not an allowed type of file" in field
    assert 'name="held"' not in page, "a refused file is not kept for the next sending"
    assert "up to 10 files of at most" in page.lower()


def test_a_follow_up_links_to_the_ticket_it_follows_and_back(client):
    customer, team = make_customer(), TeamFactory()
    ticket = make_ticket(customer, team=team)
    services.ticket_transition(ticket, status=Status.CLOSED, actor=None)
    follow_up = services.ticket_reply(ticket, body="Again", actor=customer).ticket
    client.force_login(customer)
    page = client.get(reverse("tickets:portal_detail", args=[follow_up.number])).content.decode()
    assert (
        f'<a href="{reverse("tickets:portal_detail", args=[ticket.number])}">{ticket.reference}</a>' in page
    )
    page = client.get(reverse("tickets:portal_detail", args=[ticket.number])).content.decode()
    assert (
        f'<a href="{reverse("tickets:portal_detail", args=[follow_up.number])}">{follow_up.reference}</a>'
        in page
    )
    assert 'href="/portal/tickets/" data-nav="my-tickets" aria-current="page"' in page


def test_a_reply_with_a_key_another_customer_used_is_refused_and_kept(client):
    first, second = make_customer(), make_customer()
    first_ticket, second_ticket = make_ticket(first), make_ticket(second)
    key = str(uuid.uuid4())
    client.force_login(first)
    client.post(
        reverse("tickets:portal_reply", args=[first_ticket.number]), {"body": "Hi", "submission_key": key}
    )
    client.force_login(second)
    reply = reverse("tickets:portal_reply", args=[second_ticket.number])
    response = client.post(reply, {"body": "Keep me", "submission_key": key})
    page = unescape(response.content.decode())
    assert response.status_code == 422
    assert services.SEND_AGAIN in page and "Keep me" in page
    assert client.post(reply, {"body": "Keep me", "submission_key": posted_key(page)}).status_code == 302
    assert list(second_ticket.messages.values_list("body", flat=True).order_by("pk"))[-1] == "Keep me"
