"""An account's address counts as verified (email_verified_at) only where its owner has shown they read
mail sent to it: an invitation issued to that address, or a link mailed to it (tests/accounts/
test_password_reset.py). Open sign-up verifies nothing: anybody can type somebody else's address."""

import pytest

from accounts import services
from audit.models import AuditEvent
from tests.factories import TEST_PASSWORD, InvitationFactory, make_customer

pytestmark = pytest.mark.django_db


def signup(email: str, code: str = "", open_signup: bool = False):
    return services.user_signup(
        email=email, name="New Person", password=TEST_PASSWORD, invitation_code=code,
        open_signup=open_signup, actor=None,
    )  # fmt: skip


def test_signing_up_with_an_invitation_issued_to_the_address_verifies_it():
    invitation = InvitationFactory(email="Invited@Example.org")
    user = signup("invited@example.org", invitation.code)
    assert user.email_verified_at is not None
    event = AuditEvent.objects.get(action="create", object_id=str(user.pk))
    assert event.changes["email_verified_at"][0] is None and event.changes["email_verified_at"][1]


def test_open_sign_up_leaves_the_address_unverified():
    assert signup("anyone@example.org", open_signup=True).email_verified_at is None


def test_a_shared_invitation_code_leaves_the_address_unverified():
    invitation = InvitationFactory(max_uses=10)  # for anybody who has the code, whatever their address
    assert signup("someone@example.org", invitation.code).email_verified_at is None


def test_verifying_twice_keeps_the_first_time_and_records_it_once():
    user = make_customer()
    services.user_email_verify(user, actor=user)
    first = user.email_verified_at
    services.user_email_verify(user, actor=user)
    user.refresh_from_db()
    assert user.email_verified_at == first
    assert AuditEvent.objects.filter(action="email_verified").count() == 1
