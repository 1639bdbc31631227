"""The account pages used alone, as a user or an attacker would: where sign-in, sign-up and sign-out
send people (`next` naming the sign-out URL), invitation codes pasted with invisible characters,
password-reset answers alike for every address, open sign-up switched off mid-form, an abandoned
two-factor set-up, and the sign-up limit per address counting only sendings the form accepts."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.models import Invitation, SealedTOTPDevice, User
from helpdesk.services import site_configuration_update
from tests.accounts.test_two_factor import code_for, enrol, password_step
from tests.factories import TEST_PASSWORD, OrganizationFactory, TeamFactory, make_agent, make_customer

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
LOGOUT = reverse("accounts:logout")
SIGNUP = reverse("accounts:signup")
PROFILE = reverse("accounts:profile")
RESET = reverse("accounts:password_reset")
TWO_FACTOR = reverse("accounts:two_factor")
VERIFY = reverse("accounts:two_factor_verify")


def is_signed_in(client: Client) -> bool:
    return client.get(PROFILE).status_code == 200


def field_errors(response) -> list[str]:
    return re.findall(r'<ul class="errors" id="([^"]+)"', response.content.decode())


# --- next= naming the sign-out URL -------------------------------------------------------------------


@pytest.mark.parametrize("target", [LOGOUT, LOGOUT + "?next=/kb/"])
def test_sign_in_with_next_naming_the_sign_out_url_does_not_end_on_the_405_page(target):
    """A visitor opens a sign-in link whose next= names /accounts/logout/ and signs in: they are sent on to
    the sign-out URL by GET and land on the "This address does not open as a page" 405 page right after
    signing in. Such a next should be no destination (as LoginView already does for its own path, and
    helpdesk.views.admin_login does for the admin's sign-out): the home page."""
    make_customer(email="jo@example.org")
    client = Client()
    data = {"username": "jo@example.org", "password": TEST_PASSWORD, "next": target}
    response = client.post(LOGIN, data, follow=True)
    assert response.status_code == 200, response.redirect_chain
    assert is_signed_in(client)


def test_the_sign_in_page_of_a_signed_in_person_with_next_naming_sign_out_is_no_405():
    """Someone signed in opens /accounts/login/?next=/accounts/logout/: redirect_authenticated_user sends
    them to the sign-out URL by GET, a 405 page. They should go home."""
    client = Client()
    client.force_login(make_customer())
    response = client.get(LOGIN, {"next": LOGOUT}, follow=True)
    assert response.status_code == 200, response.redirect_chain


def test_sign_up_with_next_naming_sign_out_is_no_405():
    """Sign-up goes on to `next` (is_site_path only checks it is on the site): the new customer's first
    page after creating the account is the 405 page of the sign-out URL."""
    site_configuration_update(changes={"open_signup": True}, actor=None)
    data = {"name": "Kim", "email": "kim@example.org", "password": TEST_PASSWORD, "next": LOGOUT}
    response = Client().post(SIGNUP, data, follow=True)
    assert User.objects.filter(email="kim@example.org").exists()
    assert response.status_code == 200, response.redirect_chain


def test_two_factor_sign_in_with_next_naming_sign_out_is_no_405():
    """The same through the code step: the pending sign-in keeps next=/accounts/logout/ and, after the
    right code, sends the agent to a 405 page."""
    agent = make_agent(TeamFactory())
    device, _ = enrol(Client(), agent)
    client = Client()
    assert password_step(client, agent, LOGOUT).status_code == 302
    response = client.post(VERIFY, {"code": code_for(device, steps_ahead=1)}, follow=True)
    assert response.status_code == 200, response.redirect_chain


def test_signing_out_with_next_naming_the_sign_out_url_shows_the_sites_page_not_the_django_admins():
    """A customer posts the sign-out form with next=/accounts/logout/: Django's LogoutView, finding the
    redirect to be the page itself, renders `registration/logged_out.html`, which only the Django admin
    provides: "Logged out | Django site admin", admin branding and links to /admin/. It should redirect
    home like any other sign-out."""
    client = Client()
    client.force_login(make_customer())
    response = client.post(LOGOUT, {"next": LOGOUT})
    assert not is_signed_in(client)
    body = response.content.decode()
    assert "Django site admin" not in body and "Django administration" not in body
    assert response.status_code == 302


# --- invitation codes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    ["ACME-WELCOME\u200b", "\ufeffacme-welcome", "acme-\u00adwelcome"],
    ids=["zero-width-space", "byte-order-mark", "soft-hyphen"],
)
def test_an_invitation_code_pasted_with_invisible_characters_is_the_same_code(typed):
    """A person pastes the code from a chat or a PDF (which carry a zero-width space, a BOM or a soft
    hyphen): the box shows ACME-WELCOME, but sign-up answers "This invitation code is not valid." Only
    strip() and letter case are forgiven (services._locked_invitation); invisible characters, which the
    product drops elsewhere when telling texts apart (helpdesk.forms.SHOWS_NO_DIFFERENCE), should be too."""
    site_configuration_update(changes={"open_signup": False}, actor=None)
    Invitation.objects.create(organization=OrganizationFactory(), code="ACME-WELCOME", max_uses=5)
    data = {"name": "Kim", "email": "kim@example.org", "password": TEST_PASSWORD, "invitation_code": typed}
    response = Client().post(SIGNUP, data)
    assert response.status_code == 302, field_errors(response)
    assert User.objects.get(email="kim@example.org").organization is not None


# --- sign-up rate limit -------------------------------------------------------------------------------


def test_reset_answers_alike_for_known_unknown_pending_and_suspended_addresses():
    make_customer(email="known@example.org")
    pending = make_customer(email="pending@example.org")
    services.user_set_pending(pending, actor=None)
    suspended = make_customer(email="sus@example.org")
    services.user_suspend(suspended, until=None, reason="x", actor=None)

    def answer(email):
        response = Client().post(RESET, {"email": email})
        return (
            response.status_code,
            response.get("Location"),
            tuple(sorted(response.cookies)),
            response.content,
        )

    addresses = ["known@example.org", "nobody@example.org", "pending@example.org", "sus@example.org"]
    assert len({answer(address) for address in addresses}) == 1


def test_open_sign_up_switched_off_between_get_and_post_keeps_the_input_and_marks_the_code():
    site_configuration_update(changes={"open_signup": True}, actor=None)
    client = Client()
    assert client.get(SIGNUP).status_code == 200
    site_configuration_update(changes={"open_signup": False}, actor=None)
    response = client.post(SIGNUP, {"name": "Kim", "email": "kim@example.org", "password": TEST_PASSWORD})
    body = response.content.decode()
    assert response.status_code == 422
    assert 'value="Kim"' in body and 'value="kim@example.org"' in body and TEST_PASSWORD not in body
    assert field_errors(response) == ["id_invitation_code_error"]
    assert "Sign-up is by invitation" in body


def test_an_abandoned_two_factor_set_up_changes_no_sign_in_and_is_not_finished_elsewhere():
    agent = make_agent(TeamFactory())
    first = Client()
    first.force_login(agent)
    first.post(TWO_FACTOR, {"action": "start"})
    abandoned = SealedTOTPDevice.objects.get(user=agent, confirmed=False)
    first.post(LOGOUT)
    second = Client()
    assert password_step(second, agent)["Location"] == "/"  # no code asked: the set-up was never finished
    page = second.get(TWO_FACTOR).content.decode()
    assert "totp-secret" not in page and abandoned.config_url not in page
    response = second.post(
        TWO_FACTOR, {"action": "confirm", "code": code_for(abandoned), "password": TEST_PASSWORD}
    )
    assert response.status_code == 422
    assert not SealedTOTPDevice.objects.filter(user=agent, confirmed=True).exists()


def test_three_refused_passwords_do_not_shut_the_person_out_of_sign_up_for_an_hour():
    """With the default limits, a person whose password was refused three times (too short, too common,
    too like the address) then typed a good one and got the 429 page ("wait 60 minutes", what they typed
    gone): the per-address limit (3/h) counted every sending, refused forms included. It counts only
    those that pass the form's own checks now."""
    site_configuration_update(changes={"open_signup": True}, actor=None)
    client = Client()
    statuses = [
        client.post(SIGNUP, {"name": "Kim", "email": "kim@example.org", "password": password}).status_code
        for password in ["short", "password123", "kim@example.org", TEST_PASSWORD]
    ]
    assert statuses[:3] == [422, 422, 422]
    assert statuses[3] == 302, statuses


def test_a_stranger_cannot_block_an_invited_persons_sign_up_with_bad_posts():
    """From another network, three bad sign-ups with the invited address; the invited person, with the
    right code and a good password, was told to wait an hour."""
    site_configuration_update(changes={"open_signup": False}, actor=None)
    Invitation.objects.create(
        organization=OrganizationFactory(), code="ACME-WELCOME", email="kim@example.org", max_uses=1
    )
    stranger = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(3):
        stranger.post(
            SIGNUP, {"name": "X", "email": "kim@example.org", "password": "x", "invitation_code": "x"}
        )
    data = {
        "name": "Kim",
        "email": "kim@example.org",
        "password": TEST_PASSWORD,
        "invitation_code": "ACME-WELCOME",
    }
    response = Client(REMOTE_ADDR="198.51.100.7").post(SIGNUP, data)
    assert response.status_code == 302, response.status_code
