"""A request typed by a customer whose session ended comes back to them, and to them only, once they
have signed in again: on their organisation's own form too, with the answers to its fields."""

import re
import uuid

import pytest
from django.urls import reverse

from tests.factories import TEST_PASSWORD, OrganizationFactory, TicketFormFactory, make_customer

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
