"""Whom a ticket sent without signing in is filed under, and what that lets a visitor do.

A visitor types any address in the portal's request form (anonymous submission switched on). The
address is proof of nothing: it cannot be used to act as staff, to get round a suspension, to find out
through the success page or the receipt which addresses have accounts, or to send the site's mail with
the visitor's words to a real customer.
"""

import re
import uuid
from html import unescape

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from helpdesk.services import site_configuration_update
from tests.conftest import made_once_per_module
from tests.factories import (
    OrganizationFactory,
    TeamFactory,
    make_administrator,
    make_agent,
    make_customer,
)
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

SUBMIT = reverse("tickets:portal_submit")
SUBMITTED = reverse("tickets:portal_submitted")
PORTAL_LIST = reverse("tickets:portal_list")
SIGN_IN_TO_SUBMIT = "Sign in to submit a request with this e-mail address."


def page(response) -> str:
    return unescape(response.content.decode())


def visible_text(response) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def visitor_data(email: str, **extra) -> dict:
    return {
        "name": "Mallory Visitor",
        "email": email,
        "subject": "Printer jam",
        "description": "Paper stuck in tray 2",
        "submission_key": str(uuid.uuid4()),
        **extra,
    }


def make_world():
    team = TeamFactory(name="Support")
    site_configuration_update(changes={"anonymous_submission": True, "default_team": team}, actor=None)
    acme = OrganizationFactory(name="Acme", slug="acme", email_domains=["acme.example"])
    victim = make_customer(
        acme, name="Victoria Victim", email="victim@acme.example", email_verified_at=timezone.now()
    )
    manager = make_customer(
        acme, manager=True, name="Mona Manager", email="mona@acme.example", email_verified_at=timezone.now()
    )
    agent = make_agent(
        team, name="Alex Agent", email="alex@helpdesk.example", email_verified_at=timezone.now()
    )
    admin = make_administrator(
        name="Ada Admin", email="ada@helpdesk.example", email_verified_at=timezone.now()
    )
    return {"team": team, "acme": acme, "victim": victim, "manager": manager, "agent": agent, "admin": admin}


_world_rows, world = made_once_per_module(make_world, "world")


def submit(client, email: str, **extra):
    return client.post(SUBMIT, visitor_data(email, **extra))


# --------------------------------------------------------------------------------------------------
# (1) The address of an existing, verified customer
# --------------------------------------------------------------------------------------------------


def test_victims_address_files_under_victim_without_changing_the_account(client, world):
    """As mail from that address would, the request lands on the known customer; the visitor's typed
    name does not rename the account, and the visitor is not signed in as them."""
    victim = world["victim"]
    response = submit(client, "victim@acme.example")
    assert response.status_code == 302 and response["Location"] == SUBMITTED
    ticket = Ticket.objects.get()
    assert ticket.requester == victim
    assert ticket.created_by is None
    victim.refresh_from_db()
    assert victim.name == "Victoria Victim" and victim.status == User.Status.ACTIVE
    # Not signed in: the visitor reads nothing of the victim.
    assert "_auth_user_id" not in client.session
    for url in (PORTAL_LIST, reverse("tickets:portal_detail", args=[ticket.number])):
        assert client.get(url).status_code == 302


def test_success_page_echoes_nothing_of_the_victim(client, world):
    response = submit(client, "victim@acme.example", follow=False)
    assert response.status_code == 302
    text = visible_text(client.get(SUBMITTED))
    for secret in ("Victoria", "Victim", "victim@acme.example", "Acme"):
        assert secret not in text


def test_agent_sees_the_impersonated_request_marked_not_signed_in(client, world):
    submit(client, "victim@acme.example")
    ticket = Ticket.objects.get()
    client.force_login(world["agent"])
    response = client.get(reverse("tickets:desk_ticket", args=[ticket.number]))
    assert response.status_code == 200
    assert "(not signed in)" in visible_text(response)


@pytest.mark.usefixtures("immediate_tasks")
def test_receipt_to_a_verified_customer_does_not_carry_the_visitors_words(
    client, world, django_capture_on_commit_callbacks
):
    """A visitor types a real customer's (verified) address and, as the subject, a phishing line. The
    receipt is mailed by the site to that customer, and its subject carries the visitor's words:
    "[T-…] Helpdesk received your request: Your account is locked, log in at evil.example".

    tickets/tasks.py puts the subject in only when the requester's address is verified, reasoning that
    then "the subject goes only to an address shown to be its owner's". That proves the owner reads the
    mailbox, not that the owner wrote the request: for an anonymous submission nobody has shown that the
    sender is the address's owner. Zendesk/Freshdesk receipts of unauthenticated web requests do not
    relay attacker text under the site's name to arbitrary customers. Expected: a receipt of a request
    sent without signing in never quotes the subject (or any visitor-typed text)."""
    lure = "Your account is locked, log in at evil.example"
    with django_capture_on_commit_callbacks(execute=True):
        response = submit(client, "victim@acme.example", subject=lure)
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    receipt = mail.outbox[0]
    assert receipt.to == ["victim@acme.example"]
    assert "evil.example" not in receipt.subject
    assert "evil.example" not in receipt.body


# --------------------------------------------------------------------------------------------------
# (2) An address at an organisation's domain, no account yet
# --------------------------------------------------------------------------------------------------


def test_new_domain_address_gets_a_pending_account(client, world):
    response = submit(client, "newbie@acme.example")
    assert response.status_code == 302
    newbie = User.objects.get(email="newbie@acme.example")
    assert newbie.status == User.Status.PENDING
    assert not newbie.has_usable_password()
    assert newbie.email_verified_at is None


def test_plus_address_is_its_own_account_not_the_victims(client, world):
    """victim+x@acme.example is another address (as Zendesk treats it): not filed under the victim."""
    response = submit(client, "victim+x@acme.example")
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.requester != world["victim"]
    assert ticket.requester.status == User.Status.PENDING
    client.force_login(world["victim"])
    assert "Printer jam" not in visible_text(client.get(PORTAL_LIST, {"status": ""}))


# --------------------------------------------------------------------------------------------------
# (3) Spellings of the same address
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling", ["Victim@ACME.example", "  victim@acme.example  ", "VICTIM@Acme.Example"]
)
def test_case_and_spacing_reach_the_same_account(client, world, spelling):
    response = submit(client, spelling)
    assert response.status_code == 302
    assert Ticket.objects.get().requester == world["victim"]
    assert User.objects.filter(email__iexact="victim@acme.example").count() == 1


def test_trailing_dot_domain_is_not_a_second_account_of_the_same_mailbox(client, world):
    """victim@acme.example. (a fully qualified domain with its final dot) is delivered to the same
    mailbox as victim@acme.example. Either the address is refused as invalid (422), or it is the
    victim's account; what must not happen is a second, pending account for the victim's mailbox that
    escapes the per-address rate limit, the staff/suspension checks and the victim's own ticket list."""
    response = submit(client, "victim@acme.example.")
    if response.status_code == 302:
        assert Ticket.objects.get().requester == world["victim"]
    else:
        assert response.status_code == 422
        assert not Ticket.objects.exists()
    assert not User.objects.filter(email__istartswith="victim@acme.example.").exists()


def test_homograph_local_part_is_refused_with_a_message(client, world):
    """A Cyrillic letter in the local part ("vi\u0441tim", with a Cyrillic es) is not the victim's
    address: refused, said so."""
    response = submit(client, "vi\u0441tim@acme.example")
    assert response.status_code == 422
    assert not Ticket.objects.exists()
    assert 'aria-invalid="true"' in response.content.decode() or "e-mail" in visible_text(response).lower()


def test_homograph_domain_is_a_different_account_not_acme(client, world):
    """A Cyrillic a (U+0430) in the domain is another domain (stored as xn--): not the victim, not Acme."""
    response = submit(client, "victim@\u0430cme.example")
    assert response.status_code in (302, 422)
    if response.status_code == 302:
        ticket = Ticket.objects.get()
        assert ticket.requester != world["victim"]
        assert ticket.organization_id is None
        assert ticket.requester.email.isascii()


# --------------------------------------------------------------------------------------------------
# (4) Staff addresses, (5) suspended accounts
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["agent", "admin"])
def test_staff_address_is_refused_and_files_nothing(client, world, who):
    email = world[who].email.upper()
    response = submit(client, email)
    assert response.status_code == 422
    assert SIGN_IN_TO_SUBMIT in page(response)
    assert "Paper stuck in tray 2" in page(response)  # what was typed is kept
    assert not Ticket.objects.exists()
    assert not mail.outbox


def test_suspended_address_is_refused(client, world):
    victim = world["victim"]
    User.objects.filter(pk=victim.pk).update(status=User.Status.SUSPENDED)
    response = submit(client, "victim@acme.example")
    assert response.status_code == 422
    assert not Ticket.objects.exists()


# --------------------------------------------------------------------------------------------------
# (6) Rate limits
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def tight_limits(settings):
    settings.RATE_LIMITS_ENABLED = True
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "ticket_submit": ("4/h", "2/h")}
    return settings


@pytest.mark.usefixtures("tight_limits")
def test_per_address_limit_counts_every_spelling_from_any_ip(client, world):
    spellings = ["victim@acme.example", "Victim@ACME.example", " VICTIM@acme.example "]
    statuses = [
        client.post(SUBMIT, visitor_data(email), REMOTE_ADDR=f"198.51.100.{n}").status_code
        for n, email in enumerate(spellings, start=1)
    ]
    assert statuses == [302, 302, 429]
    third = client.post(SUBMIT, visitor_data("victim@acme.example"), REMOTE_ADDR="198.51.100.9")
    assert third.status_code == 429
    assert int(third["Retry-After"]) > 0
    assert "many requests in a short time" in page(third)
    assert "Paper stuck in tray 2" in page(third)
    assert Ticket.objects.count() == 2


@pytest.mark.usefixtures("tight_limits")
def test_per_ip_limit_counts_different_addresses(client, world):
    statuses = [
        client.post(SUBMIT, visitor_data(f"p{n}@elsewhere.example"), REMOTE_ADDR="203.0.113.5").status_code
        for n in range(5)
    ]
    assert statuses == [302, 302, 302, 302, 429]


@pytest.mark.usefixtures("tight_limits")
def test_refused_staff_address_still_counts_against_the_ip(client, world):
    """Probing addresses costs the visitor's rate like sending requests does."""
    statuses = [
        client.post(SUBMIT, visitor_data(world["agent"].email), REMOTE_ADDR="203.0.113.7").status_code
        for _ in range(3)
    ]
    assert statuses[-1] == 429


# --------------------------------------------------------------------------------------------------
# (7) No enumeration through the success page or the receipt
# --------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("immediate_tasks")
def test_success_page_is_the_same_for_known_and_new_addresses(
    client, world, django_capture_on_commit_callbacks
):
    def receipt_page(email: str) -> str:
        with django_capture_on_commit_callbacks(execute=True):
            assert submit(client, email).status_code == 302
        text = visible_text(client.get(SUBMITTED))
        return re.sub(r"T-\d+", "T-?", text)

    known = receipt_page("victim@acme.example")
    new = receipt_page("nobody@elsewhere.example")
    assert known == new
    # Each mail goes to the typed address only (never to the visitor elsewhere), one each.
    assert sorted(address for message in mail.outbox for address in message.to) == [
        "nobody@elsewhere.example",
        "victim@acme.example",
    ]


@pytest.mark.usefixtures("immediate_tasks")
def test_receipt_to_an_unknown_address_quotes_no_visitor_text(
    client, world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        submit(client, "stranger@elsewhere.example", name="Click evil.example now",
               subject="Log in at evil.example")  # fmt: skip
    (receipt,) = mail.outbox
    assert "evil.example" not in receipt.subject and "evil.example" not in receipt.body


def test_victim_finds_the_request_filed_under_them_and_can_answer_it(client, world):
    """As with a mail from their address, the request is the victim's to follow (and to deny)."""
    submit(client, "victim@acme.example")
    ticket = Ticket.objects.get()
    client.force_login(world["victim"])
    assert "Printer jam" in visible_text(client.get(PORTAL_LIST))
    assert client.get(reverse("tickets:portal_detail", args=[ticket.number])).status_code == 200
