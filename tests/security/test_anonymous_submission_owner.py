"""An anonymous submission joins an existing account only when that account's owner has shown they read
the address (email_verified_at), or when an earlier anonymous submission made it and nobody has claimed
it: open sign-up checks no address, so signing up with a victim's address must not read the requests the
victim later sends without signing in."""

import uuid

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from helpdesk.services import site_configuration_update
from tests.factories import make_customer
from tickets import services as ticket_services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

SUBMIT = reverse("tickets:portal_submit")
VICTIM = "victim@example.org"


@pytest.fixture(autouse=True)
def open_site():
    site_configuration_update(changes={"open_signup": True, "anonymous_submission": True}, actor=None)


def submit_anonymously(email: str, subject: str = "My salary slip"):
    data = {"name": "Vic", "email": email, "subject": subject, "description": "Private details",
            "submission_key": str(uuid.uuid4())}  # fmt: skip
    return Client().post(SUBMIT, data)


def test_signing_up_with_a_victims_address_reads_none_of_their_later_anonymous_requests():
    attacker = Client()
    signup = {"name": "Mallory", "email": VICTIM, "password": "a-long-passphrase-9"}
    assert attacker.post(reverse("accounts:signup"), signup).status_code == 302
    assert User.objects.get(email=VICTIM).email_verified_at is None  # nobody checked the address

    response = submit_anonymously(VICTIM)
    assert response.status_code == 422
    assert ticket_services.SIGN_IN_TO_SUBMIT in response.content.decode()
    assert not Ticket.objects.exists()
    assert "My salary slip" not in attacker.get(reverse("tickets:portal_list")).content.decode()


def test_an_anonymous_submission_joins_the_account_of_a_verified_address():
    customer = make_customer(email=VICTIM)
    User.objects.filter(pk=customer.pk).update(email_verified_at="2026-01-05T09:00:00Z")
    assert submit_anonymously("Victim@Example.org").status_code == 302
    assert Ticket.objects.get().requester == customer


def test_anonymous_submissions_from_one_new_address_share_its_pending_account():
    assert submit_anonymously(VICTIM, "First").status_code == 302
    assert submit_anonymously(VICTIM, "Second").status_code == 302
    requesters = set(Ticket.objects.values_list("requester", flat=True))
    assert len(requesters) == 1
    assert User.objects.get(pk=requesters.pop()).status == User.Status.PENDING
