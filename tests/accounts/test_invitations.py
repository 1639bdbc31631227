"""Invitations: sign-up with a code joins the organisation, within limits of uses, expiry and state."""

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts import rbac, services
from accounts.models import Invitation, User
from helpdesk.services import site_configuration_update
from tests.factories import TEST_PASSWORD, InvitationFactory, ensure_roles

SIGNUP = reverse("accounts:signup")


def signup(email: str, code: str = "", open_signup: bool = False) -> User:
    return services.user_signup(
        email=email,
        name="New Person",
        password=TEST_PASSWORD,
        invitation_code=code,
        open_signup=open_signup,
        actor=None,
    )


@pytest.mark.django_db
def test_signup_with_code_joins_the_organisation_as_customer():
    invitation = InvitationFactory(max_uses=3, makes_manager=True)
    user = signup("new@example.org", invitation.code)
    assert user.organization == invitation.organization
    assert user.is_organization_manager
    assert rbac.active_roles(user) == {"Customer"}
    invitation.refresh_from_db()
    assert invitation.uses == 1


@pytest.mark.django_db
def test_invitation_stops_at_max_uses():
    invitation = InvitationFactory(max_uses=2)
    signup("a@example.org", invitation.code)
    signup("b@example.org", invitation.code)
    with pytest.raises(ValidationError, match=services.INVITATION_USED_UP):
        signup("c@example.org", invitation.code)
    assert not User.objects.filter(email="c@example.org").exists()


@pytest.mark.django_db
def test_expired_invitation_is_refused(clock):
    invitation = InvitationFactory(max_uses=5, expires_at=timezone.now() + timedelta(days=1))
    clock.shift(timedelta(days=1, seconds=1))
    with pytest.raises(ValidationError, match=services.INVITATION_EXPIRED):
        signup("late@example.org", invitation.code)


@pytest.mark.django_db
def test_inactive_and_unknown_and_wrong_email_invitations_are_refused():
    inactive = InvitationFactory(is_active=False)
    with pytest.raises(ValidationError, match=services.INVITATION_INACTIVE):
        signup("x@example.org", inactive.code)
    with pytest.raises(ValidationError, match=services.INVITATION_UNKNOWN):
        signup("x@example.org", "no-such-code")
    personal = InvitationFactory(email="only.her@example.org")
    with pytest.raises(ValidationError, match=services.INVITATION_WRONG_EMAIL):
        signup("someone.else@example.org", personal.code)
    assert signup("ONLY.HER@example.org", personal.code).organization == personal.organization


@pytest.mark.django_db
def test_without_open_signup_a_code_is_needed_and_the_form_keeps_the_input(client):
    site_configuration_update(changes={"open_signup": False}, actor=None)
    response = client.post(SIGNUP, {"name": "Kim", "email": "kim@example.org", "password": TEST_PASSWORD})
    assert response.status_code == 422
    body = response.content.decode()
    assert 'value="kim@example.org"' in body and 'value="Kim"' in body
    assert not User.objects.filter(email="kim@example.org").exists()


@pytest.mark.django_db
def test_open_signup_creates_a_customer_without_organisation_and_signs_in(client):
    site_configuration_update(changes={"open_signup": True}, actor=None)
    response = client.post(SIGNUP, {"name": "Kim", "email": "kim@example.org", "password": TEST_PASSWORD})
    assert response.status_code == 302
    user = User.objects.get(email="kim@example.org")
    assert user.organization is None
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.django_db
def test_signup_with_a_used_up_code_shows_the_error_beside_the_code(client):
    invitation = InvitationFactory(max_uses=1, uses=1)
    response = client.post(
        SIGNUP,
        {
            "name": "Kim",
            "email": "kim@example.org",
            "password": TEST_PASSWORD,
            "invitation_code": invitation.code,
        },
    )
    assert response.status_code == 422
    assert services.INVITATION_USED_UP in response.content.decode()


@pytest.mark.django_db
def test_signup_refuses_an_existing_email_in_another_case():
    invitation = InvitationFactory(max_uses=2)
    signup("dup@example.org", invitation.code)
    with pytest.raises(ValidationError, match="already exists"):
        signup("DUP@example.org", invitation.code)


@pytest.mark.django_db(transaction=True)
def test_concurrent_signups_never_exceed_max_uses():
    ensure_roles()  # an earlier transactional test may have flushed them
    invitation = InvitationFactory(max_uses=2)
    outcomes: list[str] = []

    def attempt(number: int) -> None:
        try:
            signup(f"racer{number}@example.org", invitation.code)
            outcomes.append("ok")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok", "ok"] + ["refused"] * 4
    assert Invitation.objects.get(pk=invitation.pk).uses == 2
