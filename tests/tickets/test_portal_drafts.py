"""A request or a reply typed by someone whose session ended comes back to them, and to them only, once
they have signed in again: on their organisation's own form too, with the answers to its fields; a
reply in the ticket's composer, an agent's as it was set."""

import re
import uuid
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from helpdesk.middleware import DRAFT_KEPT_MIDWAY, SIGNED_OUT_MIDWAY
from tests.factories import (
    TEST_PASSWORD,
    OrganizationFactory,
    TeamFactory,
    TicketFormFactory,
    make_agent,
    make_customer,
    make_ticket,
)
from tickets.views.portal import REPLY_RESTORED

pytestmark = pytest.mark.django_db

SUBMIT = reverse("tickets:portal_submit")
LOGIN = reverse("accounts:login")


def drafted_by(response) -> str:
    """The signed name of the customer a form page was shown to (its hidden drafted_by)."""
    return re.search(r'name="drafted_by" value="([^"]+)"', response.content.decode()).group(1)


def _sign_in(client, user):
    response = client.post(LOGIN, {"username": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 302, response.content[:500]


def test_a_draft_kept_over_sign_in_is_not_given_to_another_person_signing_in_on_that_browser(client):
    """Anonymous submission is off. Customer A's session ends while they type a private request; the
    POST keeps the draft in the (now anonymous) session. A walks away; customer B signs in on the same
    shared browser and opens the new-request form: B must not be shown A's request (it is kept under
    the path only, not the person who typed it, and login() keeps an anonymous session's data)."""
    organization = OrganizationFactory()
    alice = make_customer(organization, email="alice@example.org")
    bob = make_customer(OrganizationFactory(), email="bob@example.org")
    client.force_login(alice)
    owner = drafted_by(client.get(SUBMIT))
    client.logout()
    secret = "My salary slip shows 4321 and my bank account is DE00 1234"
    response = client.post(
        SUBMIT,
        {
            "subject": "Salary question",
            "description": secret,
            "submission_key": str(uuid.uuid4()),
            "drafted_by": owner,
        },
    )
    assert response.status_code == 422
    _sign_in(client, bob)
    page = client.get(SUBMIT).content.decode()
    assert secret not in page, "another person's draft is shown to the one who signed in"


def test_a_signed_out_customer_on_their_organisations_form_is_asked_to_sign_in_and_gets_it_back(client):
    """A customer fills in a form private to their organisation; their session ends meanwhile. The form
    still exists and is theirs, though a visitor cannot see it: the page asks them to sign in (not
    that the form is gone), and once they have, the form comes back with what they typed, the answers
    to its own fields too."""
    organization = OrganizationFactory()
    customer = make_customer(organization)
    TicketFormFactory(slug="acme-orders", organization=organization)
    url = reverse("tickets:portal_submit_form", args=["acme-orders"])
    client.force_login(customer)
    owner = drafted_by(client.get(url))
    client.logout()
    response = client.post(
        url,
        {
            "subject": "Order broken",
            "description": "It arrived broken",
            "cf_order_number": "ORD-777",
            "cf_product": "Pro",
            "submission_key": str(uuid.uuid4()),
            "drafted_by": owner,
        },
    )
    page = response.content.decode()
    assert response.status_code == 422 and "You are no longer signed in" in page
    assert "no longer available" not in page and "ORD-777" not in page  # a visitor sees none of the form
    _sign_in(client, customer)
    page = client.get(url).content.decode()
    assert "It arrived broken" in page
    assert 'value="ORD-777"' in page


def _reply_typed_as_the_session_ends(client, user, page: str, reply: str, fields: dict) -> str:
    """`user` opens `page`, their session ends, and the reply form is sent: where it sends them."""
    client.force_login(user)
    owner = drafted_by(client.get(page))
    client.logout()
    sent = client.post(
        reply, fields | {"submission_key": str(uuid.uuid4()), "drafted_by": owner},
        headers={"Referer": f"http://testserver{page}"},
    )  # fmt: skip
    assert sent.status_code == 302
    return sent["Location"]


def test_a_reply_typed_as_the_session_ended_comes_back_in_the_composer_after_signing_in(client):
    """Before the fix the customer was sent to sign in and back to the ticket with an empty composer:
    the reply they had typed was gone (the request form already came back; replies did not)."""
    customer = make_customer(OrganizationFactory())
    ticket = make_ticket(customer)
    page = reverse("tickets:portal_detail", args=[ticket.number])
    typed = "Here is everything I tried, step by step, over the last hour"
    login = _reply_typed_as_the_session_ends(
        client, customer, page, reverse("tickets:portal_reply", args=[ticket.number]), {"body": typed}
    )
    assert login == f"{LOGIN}?{urlencode({'next': page})}"
    signed_in = client.post(login, {"username": customer.email, "password": TEST_PASSWORD}, follow=True)
    assert signed_in.redirect_chain[-1][0] == page
    html = signed_in.content.decode()
    composer = re.search(rf"<textarea[^>]*>\s*{typed}</textarea>", html)
    assert composer, "the composer is not filled in"
    assert "autofocus" in composer.group(0)  # where the work left off
    assert REPLY_RESTORED in html and DRAFT_KEPT_MIDWAY in html
    assert not ticket.messages.filter(body=typed).exists()  # given back to send, not sent
    assert typed not in client.get(page).content.decode()  # once


def test_an_agents_reply_typed_as_the_session_ended_comes_back_as_it_was_set(client):
    agent = make_agent(team := TeamFactory())
    ticket = make_ticket(make_customer(), team=team)
    page = reverse("tickets:desk_ticket", args=[ticket.number])
    fields = {"body": "Replaced the fuser; it prints again.", "kind": "note", "status_after": "pending"}
    login = _reply_typed_as_the_session_ends(
        client, agent, page, reverse("tickets:desk_reply", args=[ticket.number]), fields
    )
    client.post(login, {"username": agent.email, "password": TEST_PASSWORD})
    form = client.get(page).context["reply_form"]
    assert {name: form[name].value() for name in fields} == fields
    assert form.fields["body"].widget.attrs.get("autofocus")


def test_a_reply_kept_over_sign_in_goes_to_the_person_who_typed_it_only(client):
    """Customer A's reply kept as their session ended; B signs in on that shared browser and opens A's
    ticket's address (their own organisation's manager, say, who may read it): not shown A's draft."""
    organization = OrganizationFactory()
    alice = make_customer(organization)
    manager = make_customer(organization, manager=True)
    ticket = make_ticket(alice)
    page = reverse("tickets:portal_detail", args=[ticket.number])
    secret = "My card number is 4111 1111 1111 1111"
    login = _reply_typed_as_the_session_ends(
        client, alice, page, reverse("tickets:portal_reply", args=[ticket.number]), {"body": secret}
    )
    client.post(login, {"username": manager.email, "password": TEST_PASSWORD})
    opened = client.get(page)
    assert opened.status_code == 200 and secret not in opened.content.decode()
    _sign_in(client, alice)
    assert secret not in client.get(page).content.decode()  # dropped when another account read the page


def test_a_reply_without_the_pages_name_of_its_writer_is_not_kept(client):
    """A post that names no account (a page from before, made by hand) keeps nothing: no draft could be
    given back to a person, and the message says only that nothing was sent."""
    customer = make_customer(OrganizationFactory())
    ticket = make_ticket(customer)
    page = reverse("tickets:portal_detail", args=[ticket.number])
    sent = client.post(
        reverse("tickets:portal_reply", args=[ticket.number]), {"body": "Hello"},
        headers={"Referer": f"http://testserver{page}"},
    )  # fmt: skip
    signed_in = client.post(
        sent["Location"], {"username": customer.email, "password": TEST_PASSWORD}, follow=True
    )
    html = signed_in.content.decode()
    assert SIGNED_OUT_MIDWAY in html and REPLY_RESTORED not in html


def test_a_box_ticked_as_the_session_ended_comes_back_ticked(client):
    """The draft holds the browser's "on": the box shows it ticked (before the fix the tick box showed
    only a Python True ticked, so the answer came back unticked and, sent as shown, was lost)."""
    organization = OrganizationFactory()
    customer = make_customer(organization)
    TicketFormFactory(
        slug="outage", organization=organization,
        schema=[{"name": "blocking", "label": "This blocks our whole team", "type": "checkbox"}],
    )  # fmt: skip
    url = reverse("tickets:portal_submit_form", args=["outage"])
    client.force_login(customer)
    owner = drafted_by(client.get(url))
    client.logout()
    client.post(url, {"subject": "Mail down", "description": "Since 9:00", "cf_blocking": "on",
                      "submission_key": str(uuid.uuid4()), "drafted_by": owner})  # fmt: skip
    _sign_in(client, customer)
    page = client.get(url).content.decode()
    assert "Since 9:00" in page
    assert "checked" in re.search(r'<input[^>]*name="cf_blocking"[^>]*>', page).group(0)
