"""The portal when a customer repeats themselves or the ticket moved on: a reply sent twice, a form
reused for another request, a submission over the rate limit, a reply on a merged ticket, a search
for a reference, attachment errors beside the file input."""

import re
import uuid
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.urls import reverse

from accounts.models import User
from helpdesk.services import site_configuration_update
from tests.factories import (
    PNG,
    TeamFactory,
    TicketFormFactory,
    make_administrator,
    make_customer,
    make_ticket,
)
from tests.tickets.conftest import held_boxes, submission
from tickets import services
from tickets.models import Attachment, Ticket, TicketMessage
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


@override_settings(RATE_LIMITS={"ticket_submit": ("60/h", "1/h")})
@pytest.mark.parametrize("anonymous", [False, True], ids=["customer", "visitor"])
def test_a_second_click_at_the_rate_limit_lands_on_the_ticket_uncounted(client, settings, clock, anonymous):
    """The request the limit still let through made the ticket: its second click is a repeat, not a 429
    with a fresh key (sent again after the wait, that page made the ticket twice)."""
    settings.RATE_LIMITS_ENABLED = True
    form = submission(subject="Scanner broken", description="It smokes")
    if anonymous:
        site_configuration_update(changes={"anonymous_submission": True}, actor=None)
        form |= {"email": "walk-in@example.org", "name": "Walk In"}
    else:
        client.force_login(make_customer())
    first = client.post(SUBMIT, form)
    assert first.status_code == 302
    second = client.post(SUBMIT, form)
    assert (second.status_code, second["Location"]) == (302, first["Location"])
    assert Ticket.objects.filter(subject="Scanner broken").count() == 1
    # Another request is over the limit all the same.
    another = form | {"subject": "Another", "submission_key": str(uuid.uuid4())}
    assert client.post(SUBMIT, another).status_code == 429


def test_a_reference_finds_its_ticket_whatever_the_status_filter(client):
    customer = make_customer()
    closed = make_ticket(customer, subject="Dashboard slow")
    services.ticket_transition(closed, status=Status.CLOSED, actor=None)
    make_ticket(customer, subject="Closed tickets are many")
    client.force_login(customer)
    for query in (closed.reference, f"#{closed.number}", f"#{closed.reference}", str(closed.number)):
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


def test_a_form_sent_again_with_a_changed_answer_is_refused_not_dropped(client):
    """Sent, then Back, another plan chosen and sent again from the same page (same key): a request
    that differs from the first is refused with the answers as typed, not answered with the first
    ticket and its old answer."""
    TicketFormFactory(
        slug="plans",
        schema=[{"name": "plan", "label": "Plan", "type": "select", "choices": ["Basic", "Pro"]}],
    )
    url = reverse("tickets:portal_submit_form", args=["plans"])
    client.force_login(make_customer())
    data = submission(cf_plan="Basic")
    assert client.post(url, data).status_code == 302
    again = client.post(url, {**data, "cf_plan": "Pro"})
    assert again.status_code == 422
    assert services.SUBMIT_AGAIN in unescape(again.content.decode())
    assert again.context["form"]["cf_plan"].value() == "Pro"
    assert [ticket.custom_fields for ticket in Ticket.objects.all()] == [{"plan": "Basic"}]
    assert client.post(url, data).status_code == 302  # the very same request again: the first ticket
    assert Ticket.objects.count() == 1


def test_a_form_sent_again_with_a_file_added_is_refused_with_the_file_kept(client):
    """The forgotten screenshot attached and the same page sent again: refused, the file offered
    (kept) for the next sending, not silently dropped."""
    client.force_login(make_customer())
    data = submission()
    assert client.post(SUBMIT, data).status_code == 302
    again = client.post(SUBMIT, {**data, "attachments": [SimpleUploadedFile("screen.png", PNG)]})
    assert again.status_code == 422
    assert services.SUBMIT_AGAIN in unescape(again.content.decode())
    assert list(held_boxes(again)) == ["screen.png (56 bytes)"]
    assert not Attachment.objects.exists()


def test_a_reply_sent_again_with_a_file_added_is_refused_with_the_file_kept(client):
    customer = make_customer()
    ticket = make_ticket(customer)
    client.force_login(customer)
    url = reverse("tickets:portal_reply", args=[ticket.number])
    data = {"body": "Here is the log", "submission_key": str(uuid.uuid4())}
    assert client.post(url, data).status_code == 302
    again = client.post(url, {**data, "attachments": [SimpleUploadedFile("app.log", b"boom\n")]})
    assert again.status_code == 422
    assert services.SEND_AGAIN in unescape(again.content.decode())
    assert not Attachment.objects.exists()
    assert ticket.messages.filter(body="Here is the log").count() == 1


def test_the_same_form_with_the_same_file_sent_twice_makes_one_ticket_with_the_file(client):
    """A double click with a file chosen: one ticket, the file on it once."""
    client.force_login(make_customer())
    data = submission()
    first = client.post(SUBMIT, {**data, "attachments": [SimpleUploadedFile("screen.png", PNG)]})
    second = client.post(SUBMIT, {**data, "attachments": [SimpleUploadedFile("screen.png", PNG)]})
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Ticket.objects.count() == 1
    assert list(Attachment.objects.values_list("filename", flat=True)) == ["screen.png"]


def test_a_required_answer_of_only_invisible_characters_is_refused(client):
    """A zero-width space (what a paste often leaves) shows nothing: a required text or textarea answer
    of such characters is as empty as the subject would be."""
    TicketFormFactory(
        slug="order",
        schema=[
            {"name": "order", "label": "Order", "type": "text", "required": True},
            {"name": "story", "label": "Story", "type": "textarea", "required": True},
        ],
    )
    client.force_login(make_customer())
    url = reverse("tickets:portal_submit_form", args=["order"])
    response = client.post(url, submission(cf_order="\u200b\u200b", cf_story="\ufeff \u00ad"))
    assert response.status_code == 422
    assert set(response.context["form"].errors) == {"cf_order", "cf_story"}
    assert not Ticket.objects.exists()
    assert client.post(url, submission(cf_order="A-1", cf_story="It broke")).status_code == 302


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("invoice.pdf", b"Invoice 42\nTotal: 10 EUR\n"),
        ("photo.png", b"GIF89a not quite"),
        ("notes.txt", b"\x00\x01\x02"),
    ],
)
def test_a_file_of_an_allowed_name_whose_content_is_not_that_type_is_told_so(client, name, content):
    """A .pdf whose bytes are not a PDF (a failed download) is told it does not look like a .pdf, not
    that .pdf files are not allowed (the list that follows names .pdf)."""
    client.force_login(make_customer())
    response = client.post(SUBMIT, submission(attachments=[SimpleUploadedFile(name, content)]))
    assert response.status_code == 422 and not Attachment.objects.exists()
    error = response.context["form"].errors.as_text()
    assert f"{name} does not look like a" in error and "not an allowed type" not in error, error


def test_an_empty_file_among_several_is_named_and_the_others_kept(client):
    client.force_login(make_customer())
    files = [
        SimpleUploadedFile("a.txt", b"one"),
        SimpleUploadedFile("empty.log", b""),
        SimpleUploadedFile("c.txt", b"3"),
    ]
    response = client.post(SUBMIT, submission(attachments=files))
    assert response.status_code == 422 and not Attachment.objects.exists()
    assert "empty.log: The submitted file is empty." in response.context["form"].errors.as_text()
    assert set(held_boxes(response)) == {"a.txt (3 bytes)", "c.txt (1 byte)"}


def test_the_very_same_form_sent_again_after_an_agent_changed_an_answer_is_the_first_ticket():
    """A restored tab sends exactly what was sent (same key, words and answer) after an agent corrected
    the answer on the ticket: the customer sent nothing different, so it is the first ticket, not a
    refusal whose new key would make the next press a duplicate."""
    form = TicketFormFactory(
        slug="plans",
        schema=[{"name": "plan", "label": "Plan", "type": "select", "choices": ["Basic", "Pro"]}],
    )
    customer = make_customer()
    sent = {
        "requester": customer, "subject": "Upgrade", "description": "Please upgrade us", "actor": customer,
        "form": form, "custom_fields": {"plan": "Basic"}, "submission_key": uuid.uuid4(),
    }  # fmt: skip
    first = services.ticket_create(**sent)
    services.ticket_update_fields(
        first, changes={"custom_fields": {"plan": "Pro"}}, actor=make_administrator()
    )
    assert services.ticket_create(**sent).pk == first.pk
    assert Ticket.objects.count() == 1


def test_a_visitors_second_click_lands_on_the_ticket_after_visitors_were_switched_off():
    """The first click made the ticket; the second (the same page) arrives after an administrator switched
    anonymous submission off. It is the request that was sent: the visitor lands on it, not on "sign in to
    submit", which would have them send it again as a second ticket."""
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    visitor = Client()
    data = submission(name="Vera Visitor", email="Vera@Example.org")
    assert visitor.post(SUBMIT, data).status_code == 302
    site_configuration_update(changes={"anonymous_submission": False}, actor=None)
    response = visitor.post(SUBMIT, {**data, "email": "vera@example.org"})
    assert response.status_code == 302 and response["Location"] == reverse("tickets:portal_submitted")
    assert Ticket.objects.count() == 1
    refused = visitor.post(SUBMIT, {**data, "submission_key": str(uuid.uuid4())})
    assert refused.status_code == 422 and services.ANONYMOUS_CLOSED in unescape(refused.content.decode())


def test_a_visitors_address_with_a_nul_comes_back_422():
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    response = Client().post(SUBMIT, submission(name="Vera Visitor", email="vera@example.org\x00"))
    assert response.status_code == 422 and "Paper stuck" in response.content.decode()
    assert not Ticket.objects.exists() and not User.objects.exists()


@override_settings(RATE_LIMITS={"ticket_submit": ("60/h", "1/h")})
def test_replies_that_open_follow_ups_count_with_the_requests_a_customer_opens(client, settings, clock):
    """A reply to a closed ticket opens a new ticket. Before the fix those replies were never counted: a
    script (or a stuck mail client) opened tickets without limit while the request form said 429."""
    settings.RATE_LIMITS_ENABLED = True
    customer = make_customer()
    closed, still_open = make_ticket(customer), make_ticket(customer)
    services.ticket_transition(closed, status=Status.CLOSED, actor=None)
    client.force_login(customer)
    reply = reverse("tickets:portal_reply", args=[closed.number])
    first = {"body": "Still broken", "submission_key": str(uuid.uuid4())}
    assert client.post(reply, first).status_code == 302  # a follow-up: the one request of the hour
    assert client.post(reply, first).status_code == 302  # its second click: the same, uncounted
    refused = client.post(reply, {"body": "And the fax beeps", "submission_key": str(uuid.uuid4())})
    page = unescape(refused.content.decode())
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "would open a new request" in page and "And the fax beeps" in page
    assert Ticket.objects.filter(follow_up_of=closed).count() == 1
    # A reply on an open ticket opens nothing: not counted, not refused.
    answered = client.post(
        reverse("tickets:portal_reply", args=[still_open.number]),
        {"body": "Any news?", "submission_key": str(uuid.uuid4())},
    )
    assert answered.status_code == 302
    assert client.post(SUBMIT, submission(subject="Fax", description="Beeps")).status_code == 429
