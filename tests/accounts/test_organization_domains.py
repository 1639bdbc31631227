"""Organisations' e-mail domains place customers: a new anonymous address of that domain files with the
organisation, and a signed-up customer joins once their address is shown to be theirs."""

import uuid

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import Organization, User
from helpdesk.services import site_configuration_update
from tests.admin_pages import post_change
from tests.factories import InvitationFactory, OrganizationFactory, make_customer
from tickets.models import Ticket
from tickets.services import anonymous_requester

pytestmark = pytest.mark.django_db

SUBMIT = reverse("tickets:portal_submit")


def submit_anonymously(email: str) -> None:
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    data = {"name": "New Colleague", "email": email, "subject": "Printer", "description": "It jams",
            "submission_key": str(uuid.uuid4())}  # fmt: skip
    response = Client().post(SUBMIT, data)
    assert response.status_code == 302, response.content.decode()[:2000]


def test_an_anonymous_request_from_the_domain_files_with_the_organisation(client):
    acme = OrganizationFactory(name="Acme", email_domains=["acme.example"])
    manager = make_customer(acme, manager=True)
    submit_anonymously("New.Person@ACME.example")
    ticket = Ticket.objects.get(subject="Printer")
    assert ticket.requester.organization == acme and ticket.organization == acme
    client.force_login(manager)
    page = client.get(reverse("tickets:portal_list"), {"scope": "organization"}).content.decode()
    assert "Printer" in page


def test_a_domain_two_organisations_claim_places_nobody():
    OrganizationFactory(email_domains=["shared.example"])
    OrganizationFactory(email_domains=["shared.example"])
    submit_anonymously("someone@shared.example")
    assert User.objects.get(email="someone@shared.example").organization is None


def test_a_signed_up_customer_joins_when_their_address_is_verified_not_before():
    acme = OrganizationFactory(email_domains=["acme.example"])
    customer = make_customer(organization=None, email="bob@acme.example")
    User.objects.filter(pk=customer.pk).update(organization=None)
    customer.refresh_from_db()
    assert customer.organization is None  # open sign-up proves nothing about the address
    services.user_email_verify(customer, actor=customer)
    assert User.objects.get(pk=customer.pk).organization == acme


def test_a_customer_of_another_organisation_stays_where_they_are():
    OrganizationFactory(email_domains=["acme.example"])
    globex = OrganizationFactory()
    customer = make_customer(globex, email="consultant@acme.example")
    services.user_email_verify(customer, actor=customer)
    assert User.objects.get(pk=customer.pk).organization == globex


def test_a_pending_account_claimed_by_a_password_reset_joins_the_domain_registered_since():
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    pending = anonymous_requester(email="carol@newco.example", name="Carol")
    assert pending.status == User.Status.PENDING and pending.organization is None
    newco = OrganizationFactory(email_domains=["newco.example"])  # registered after the request
    pending.set_password("a-long-passphrase-9")
    pending.save()
    services.user_password_reset(pending, actor=pending)  # what PasswordResetConfirmView runs
    pending.refresh_from_db()
    assert pending.status == User.Status.ACTIVE and pending.email_verified_at is not None
    assert pending.organization == newco


def test_an_inactive_organisation_takes_no_new_members_and_keeps_the_ones_it_has(client):
    """Deactivated: its domain places nobody and its invitations stop working; a member and their
    tickets stay as they were."""
    acme = OrganizationFactory(email_domains=["acme.example"])
    member = make_customer(acme, manager=True)
    invitation = InvitationFactory(organization=acme, max_uses=5)
    acme.is_active = False
    acme.save()
    submit_anonymously("newcomer@acme.example")
    assert User.objects.get(email="newcomer@acme.example").organization is None
    with pytest.raises(ValidationError, match=services.INVITATION_INACTIVE):
        services.user_signup(email="late@acme.example", name="Late", password="a-long-passphrase-9",
                             invitation_code=invitation.code, open_signup=True, actor=None)  # fmt: skip
    client.force_login(member)
    assert client.get(reverse("tickets:portal_list"), {"scope": "organization"}).status_code == 200
    assert User.objects.get(pk=member.pk).organization == acme


def test_domains_stored_with_a_trailing_dot_lose_it_in_the_migration():
    import importlib

    from django.apps import apps

    organization = OrganizationFactory()
    Organization.objects.filter(pk=organization.pk).update(
        email_domains=["acme.example.", "acme.example", "b.example"]
    )
    module = importlib.import_module("accounts.migrations.0015_organisation_domains_without_trailing_dots")
    module.drop_trailing_dots(apps, None)
    assert Organization.objects.get(pk=organization.pk).email_domains == ["acme.example", "b.example"]


@pytest.mark.parametrize("way_back", ["password reset", "address confirmed"])
def test_a_customer_an_administrator_took_out_stays_out_whatever_the_domain(superuser_client, way_back):
    """An administrator empties Carla's organisation in the admin: neither her next password reset (her
    address long verified) nor confirming an address she never had verified puts her back by its domain,
    where Acme's manager would read her new tickets again."""
    acme = OrganizationFactory(name="Acme", email_domains=["acme.example"])
    verified = timezone.now() if way_back == "password reset" else None
    carla = make_customer(acme, email="carla@acme.example", email_verified_at=verified)
    response = post_change(superuser_client, carla, organization="")
    assert response.status_code == 302, response.content.decode()[:2000]
    carla = User.objects.get(pk=carla.pk)
    assert carla.organization is None and carla.left_organization_at is not None
    if way_back == "password reset":
        services.user_password_reset(carla, actor=carla)
    else:
        services.user_email_verify(carla, actor=carla)
    assert User.objects.get(pk=carla.pk).organization is None
    # A person may still put her back.
    assert post_change(superuser_client, carla, organization=acme.pk).status_code == 302
    assert User.objects.get(pk=carla.pk).organization == acme


def test_a_manager_moved_to_another_organisation_does_not_manage_it_by_the_old_tick(superuser_client):
    """Acme's manager moved to Globex in the admin kept the tick and managed Globex, every ticket of it,
    by a decision taken for Acme. The move is refused until the tick is taken off; ticked again after the
    move, they manage Globex."""
    acme, globex = OrganizationFactory(name="Acme"), OrganizationFactory(name="Globex")
    boss = make_customer(acme, manager=True)
    response = post_change(superuser_client, boss, organization=globex.pk)
    assert response.status_code == 422
    assert "manages Acme" in response.content.decode()
    assert User.objects.get(pk=boss.pk).organization == acme
    assert (
        post_change(superuser_client, boss, organization=globex.pk, is_organization_manager="").status_code
        == 302
    )
    moved = User.objects.get(pk=boss.pk)
    assert (moved.organization, moved.is_organization_manager) == (globex, False)
    assert post_change(superuser_client, moved, is_organization_manager="on").status_code == 302
    assert User.objects.get(pk=boss.pk).is_organization_manager
