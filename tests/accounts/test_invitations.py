"""Invitations: sign-up with a code joins the organisation, within limits of uses, expiry and state; an
invitation to the address of a pending account (an anonymous submission's) activates that account."""

import threading
from datetime import timedelta

import pytest
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts import rbac, services
from accounts.models import Invitation, User
from audit.models import AuditEvent
from helpdesk.services import site_configuration_update
from tests.factories import TEST_PASSWORD, InvitationFactory, ensure_roles, make_customer, make_ticket
from tickets.services import anonymous_requester

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
def test_the_signup_page_names_the_password_rules_a_new_account_meets(client):
    body = client.get(SIGNUP).content.decode()
    assert "at least" in body and "characters" in body  # the length rule
    assert "last 5 passwords" not in body  # a new account has no earlier passwords
    change = PasswordChangeForm(make_customer()).fields["new_password1"].help_text
    assert "last 5 passwords" in change  # where it applies, the rule is still shown


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


def pending_account(email: str) -> User:
    """The account an anonymous ticket submission leaves behind: pending, no password, a customer."""
    ensure_roles()
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    return anonymous_requester(email=email, name="Visitor")


@pytest.mark.django_db
def test_an_invitation_to_a_pending_accounts_address_activates_it_with_its_tickets():
    visitor = pending_account("visitor@example.org")
    ticket = make_ticket(visitor, subject="My earlier question")
    invitation = InvitationFactory(email="Visitor@example.org", makes_manager=True)
    user = signup("visitor@example.org", invitation.code)
    assert user.pk == visitor.pk
    user.refresh_from_db()
    assert (user.status, user.name, user.organization, user.is_organization_manager) == (
        User.Status.ACTIVE, "New Person", invitation.organization, True,
    )  # fmt: skip
    assert user.check_password(TEST_PASSWORD) and user.email_verified_at is not None
    assert rbac.active_roles(user) == {"Customer"}
    assert list(user.tickets.all()) == [ticket]
    invitation.refresh_from_db()
    assert invitation.uses == 1
    event = AuditEvent.objects.get(action="activate", object_id=str(user.pk))
    assert event.changes["status"] == ["pending", "active"]
    # The invitation, never its code: one still open would let whoever reads the trail join.
    assert event.changes["invitation"][0] is None and invitation.code not in str(event.changes)
    assert event.changes["organization"] == [None, str(invitation.organization)]


@pytest.mark.django_db
def test_the_activated_pending_account_signs_in_from_the_signup_page(client):
    pending_account("visitor@example.org")
    invitation = InvitationFactory(email="visitor@example.org")
    form = {"name": "Vera Visitor", "email": "visitor@example.org", "password": TEST_PASSWORD,
            "invitation_code": invitation.code}  # fmt: skip
    response = client.post(SIGNUP, form)
    assert response.status_code == 302
    assert client.get(reverse("accounts:profile")).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("open_signup", [True, False])
def test_a_pending_account_is_not_claimed_without_an_invitation_to_its_address(open_signup):
    visitor = pending_account("visitor@example.org")
    shared_code = InvitationFactory(max_uses=10).code  # an organisation's code, not sent to this address
    with pytest.raises(ValidationError) as refused:
        signup("visitor@example.org", "" if open_signup else shared_code, open_signup=open_signup)
    assert refused.value.message_dict == {"email": [services.EMAIL_PENDING]}
    visitor.refresh_from_db()
    assert (visitor.status, visitor.has_usable_password()) == (User.Status.PENDING, False)


@pytest.mark.django_db
@pytest.mark.parametrize("status", [User.Status.ACTIVE, User.Status.SUSPENDED])
def test_an_invitation_to_an_active_or_suspended_accounts_address_is_refused(status):
    ensure_roles()
    existing = make_customer(email="taken@example.org", status=status)
    invitation = InvitationFactory(email="taken@example.org")
    with pytest.raises(ValidationError) as refused:
        signup("taken@example.org", invitation.code)
    assert refused.value.message_dict == {"email": [services.EMAIL_TAKEN]}
    existing.refresh_from_db()
    assert (existing.status, existing.check_password(TEST_PASSWORD)) == (status, True)
    invitation.refresh_from_db()
    assert invitation.uses == 0


@pytest.mark.django_db
def test_a_code_typed_in_another_case_or_with_spaces_is_the_same_invitation(client):
    """Codes are typed from a letter or a slide: "acme-welcome-2026 " finds ACME-WELCOME-2026."""
    invitation = InvitationFactory(code="ACME-WELCOME-2026")
    user = signup("typed@example.org", " acme-welcome-2026 ")
    assert user.organization == invitation.organization
    invitation.refresh_from_db()
    assert invitation.uses == 1


@pytest.mark.django_db
def test_two_codes_differing_only_in_case_cannot_both_exist(superuser_client):
    """An administrator adding "Acme-Welcome" beside "ACME-WELCOME" is told, not given two codes one
    typed answer would have to choose between."""
    first = InvitationFactory(code="ACME-WELCOME")
    page = superuser_client.get(reverse("admin:accounts_invitation_add"))
    assert page.status_code == 200
    response = superuser_client.post(
        reverse("admin:accounts_invitation_add"),
        {
            "code": "Acme-Welcome",
            "organization": first.organization.pk,
            "max_uses": 5,
            "uses": 0,
            "is_active": "on",
            "created_at_0": "2026-12-01",
            "created_at_1": "09:00:00",
        },
    )
    assert response.status_code in (200, 422)
    assert "codes are read in any case" in response.content.decode()
    assert Invitation.objects.count() == 1


@pytest.mark.django_db
def test_an_invitation_to_an_internationalised_address_is_redeemed_in_either_spelling():
    """The admin takes anna@bücher.example; sign-up takes addresses in their xn-- form. Both spellings
    are one address: the invitation stores the form sign-up takes, and one stored as typed still lets
    that address in."""
    invitation = InvitationFactory(email="anna@bücher.example", max_uses=2)
    invitation.full_clean()
    assert invitation.email == "anna@xn--bcher-kva.example"
    kept_as_typed = InvitationFactory(email="bob@bücher.example", organization=invitation.organization)
    assert signup("Bob@xn--bcher-kva.example", kept_as_typed.code).organization == invitation.organization
    assert signup("anna@xn--bcher-kva.example", invitation.code).organization == invitation.organization
    with pytest.raises(ValidationError):
        signup("eve@xn--bcher-kva.example", invitation.code)


@pytest.mark.django_db
def test_an_invitation_to_a_domain_that_is_no_name_is_a_form_error():
    invitation = InvitationFactory.build(email="anna@b\u00fccher..example")
    with pytest.raises(ValidationError) as refused:
        invitation.full_clean(exclude=["organization", "created_by"])
    assert "email" in refused.value.message_dict
