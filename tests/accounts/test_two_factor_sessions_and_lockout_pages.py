"""Accounts as their owners meet them: a two-factor set-up kept to the session that started it, double
clicks and abandoned set-ups, replayed and renewed codes, session times across a password change,
the lockout page of a paused address, and odd sign-up and link input."""

from datetime import timedelta

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

from accounts import services, two_factor
from accounts.models import SealedTOTPDevice as TOTPDevice
from accounts.models import User, UserSession
from tests.accounts.test_two_factor import (
    SETTINGS,
    VERIFY,
    code_for,
    confirming,
    enrol,
    password_step,
    shown_codes,
)
from tests.factories import TEST_PASSWORD, InvitationFactory, TeamFactory, make_agent, make_customer

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
PROFILE = reverse("accounts:profile")
SIGN_OUT = reverse("accounts:sessions_sign_out")
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"


def signed_in(user, user_agent: str = FIREFOX, ip: str = "127.0.0.1", **kwargs) -> Client:
    client = Client(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=ip, **kwargs)
    response = client.post(LOGIN, {"username": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 302
    return client


# --- two-factor enrolment --------------------------------------------------------------------------


def test_another_session_of_the_account_is_not_shown_the_secret_being_enrolled():
    """Another session of the account (perhaps a stolen cookie) does not see the secret being set up."""
    agent = make_agent(TeamFactory())
    owner, other = signed_in(agent), signed_in(agent)
    owner.post(SETTINGS, {"action": "start"})
    secret = two_factor.pending_enrolment(agent, owner.session["two_factor_enrolment"]).secret
    assert secret in owner.get(SETTINGS).content.decode()
    assert secret not in other.get(SETTINGS).content.decode()


def test_pressing_turn_on_twice_is_not_a_silent_422_that_hides_the_recovery_codes():
    """A double-clicked "Turn on" says the set-up was finished and how to get codes, not a bare 422."""
    agent = make_agent(TeamFactory())
    client = Client()
    client.force_login(agent)
    client.post(SETTINGS, {"action": "start"})
    device = TOTPDevice.objects.get(user=agent, confirmed=False)
    data = confirming(code_for(device))
    first = client.post(SETTINGS, data)
    assert first.status_code == 200 and two_factor.is_enabled(agent)
    second = client.post(SETTINGS, data)
    page = second.content.decode()
    assert 'role="alert"' in page and two_factor.ALREADY_ON.split(":")[0] in page
    assert 'value="codes"' in page and two_factor.is_enabled(agent)


def test_a_started_move_to_a_new_phone_still_offers_the_other_controls():
    """While a move to a new phone is unfinished, the page still lets the user renew codes or switch off."""
    agent = make_agent(TeamFactory())
    client = Client()
    _, codes = enrol(client, agent)
    assert client.post(SETTINGS, {"action": "replace", "code": codes[0]}).status_code == 302
    page = client.get(SETTINGS).content.decode()
    assert 'value="codes"' in page and 'value="disable"' in page


def test_cancelling_a_move_to_a_new_phone_keeps_the_app_in_use():
    """ "Cancel the set-up" drops the new secret; the app in use keeps working and can be moved again."""
    agent = make_agent(TeamFactory())
    client = Client()
    device, codes = enrol(client, agent)
    client.post(SETTINGS, {"action": "replace", "code": codes[0]})
    assert TOTPDevice.objects.filter(user=agent, confirmed=False).exists()
    response = client.post(SETTINGS, {"action": "cancel"}, follow=True)
    page = response.content.decode()
    assert "The set-up was cancelled." in page and 'value="replace"' in page
    assert list(TOTPDevice.objects.filter(user=agent).values_list("pk", "confirmed")) == [(device.pk, True)]


def test_a_set_up_replaced_in_another_session_is_explained_where_it_was_started():
    """Confirming a set-up another session has since replaced says so (422), instead of a blank form."""
    agent = make_agent(TeamFactory())
    first, second = signed_in(agent), signed_in(agent)
    first.post(SETTINGS, {"action": "start"})
    stale = TOTPDevice.objects.get(user=agent, confirmed=False)
    second.post(SETTINGS, {"action": "start"})
    response = first.post(SETTINGS, confirming(code_for(stale)))
    assert response.status_code == 422 and two_factor.NOT_ENROLLED in response.content.decode()
    empty = first.post(SETTINGS, {"action": "confirm", "code": "", "password": ""})
    assert empty.status_code == 422 and two_factor.NOT_ENROLLED in empty.content.decode()
    assert not two_factor.is_enabled(agent)


def test_the_code_that_signed_in_cannot_be_replayed_to_renew_recovery_codes():
    """A TOTP code used for sign-in cannot be used again (same time step) to renew recovery codes."""
    agent = make_agent(TeamFactory())
    device, _ = enrol(Client(), agent)
    client = Client()
    password_step(client, agent)
    code = code_for(device, steps_ahead=1)
    assert client.post(VERIFY, {"code": code}).status_code == 302
    response = client.post(SETTINGS, {"action": "codes", "code": code})
    assert response.status_code == 422
    assert StaticToken.objects.filter(device__user=agent).count() == two_factor.RECOVERY_CODE_COUNT


def test_an_old_recovery_code_is_refused_after_renewal():
    """Once recovery codes are renewed, the old (unused) ones no longer sign in."""
    agent = make_agent(TeamFactory())
    client = Client()
    _, old = enrol(client, agent)
    new = shown_codes(client.post(SETTINGS, {"action": "codes", "code": old[0]}))
    assert len(new) == two_factor.RECOVERY_CODE_COUNT
    other = Client()
    password_step(other, agent)
    assert other.post(VERIFY, {"code": old[1]}).status_code == 422
    StaticDevice.objects.get(user=agent).throttle_reset()
    other2 = Client()
    password_step(other2, agent)
    assert other2.post(VERIFY, {"code": new[0][:4] + "-" + new[0][4:].upper()}).status_code == 302


def test_a_suspension_between_password_and_code_ends_the_half_finished_sign_in():
    """An account suspended after the password step is not signed in by the right code."""
    agent = make_agent(TeamFactory())
    device, _ = enrol(Client(), agent)
    client = Client()
    password_step(client, agent)
    services.user_suspend(User.objects.get(pk=agent.pk), until=None, reason="x", actor=None)
    response = client.post(VERIFY, {"code": code_for(device, steps_ahead=1)})
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("code", ["12\x003456", "x" * 5000])
def test_odd_codes_on_the_verify_step_are_a_form_error(code):
    """A NUL byte or a huge value typed as the code is a 422 form error, not a crash."""
    agent = make_agent(TeamFactory())
    enrol(Client(), agent)
    client = Client()
    password_step(client, agent)
    assert client.post(VERIFY, {"code": code}).status_code == 422


# --- sessions ----------------------------------------------------------------------------------------


def test_signing_out_other_sessions_needs_the_csrf_token():
    """A cross-site POST without the CSRF token signs nothing out."""
    user = make_customer()
    other = signed_in(user)
    cross_site = Client(enforce_csrf_checks=True)
    cross_site.force_login(user)
    assert cross_site.post(SIGN_OUT).status_code == 403
    assert other.get(PROFILE).status_code == 200


def test_changing_the_password_keeps_when_this_session_signed_in(clock):
    """The session list's "Signed in" time of this device is not reset by a password change."""
    user = make_customer()
    client = signed_in(user)
    started = UserSession.objects.get(user=user).created_at
    clock.shift(timedelta(hours=3))
    new = "another-long-passphrase-77"
    response = client.post(PROFILE, {"change_password": "1", "old_password": TEST_PASSWORD,
                                     "new_password1": new, "new_password2": new})  # fmt: skip
    assert response.status_code == 302
    assert UserSession.objects.get(user=user).created_at == started


def test_session_times_are_shown_in_the_users_time_zone(clock):
    """The session list's times are in the account's time zone, not UTC."""
    user = make_customer(timezone="Asia/Tokyo")
    client = signed_in(user)
    page = client.get(PROFILE).content.decode()
    local = timezone.localtime(UserSession.objects.get(user=user).last_seen, user.zone)
    assert local.isoformat() in page


# --- lockouts ----------------------------------------------------------------------------------------


def test_the_ip_lockout_page_does_not_promise_a_password_reset_lets_you_in(settings):
    """When a whole address is paused, the page does not advise a password reset, which would not help."""
    settings.AXES_IP_FAILURE_LIMIT = 3
    user = make_customer(email="colleague@example.org")
    office = Client(REMOTE_ADDR="203.0.113.50")
    for n in range(3):
        office.post(LOGIN, {"username": f"someone{n}@example.org", "password": "wrong"})
    locked = office.post(LOGIN, {"username": user.email, "password": TEST_PASSWORD})
    assert locked.status_code == 429
    link = reverse(
        "accounts:password_reset_confirm",
        kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                "token": default_token_generator.make_token(user)},
    )  # fmt: skip
    form = office.get(link)["Location"]
    new = "a-brand-new-passphrase-42"
    assert office.post(form, {"new_password1": new, "new_password2": new}).status_code == 302
    again = office.post(LOGIN, {"username": user.email, "password": new})
    assert again.status_code == 429
    assert "reset your password" not in locked.content.decode() and "your network" in locked.content.decode()


def test_the_lockout_page_advises_a_reset_only_where_the_account_alone_is_paused(settings):
    """An account paused from a quiet address is told a reset helps; one paused from an address that is
    paused too (its own typos were most of the address's) is not."""
    settings.AXES_FAILURE_LIMIT, settings.AXES_IP_FAILURE_LIMIT = 3, 5
    alone, crowded = make_customer(), make_customer()
    home, office = Client(REMOTE_ADDR="198.51.100.7"), Client(REMOTE_ADDR="203.0.113.60")
    for client, user, tries in ((home, alone, 3), (office, crowded, 5)):
        for _ in range(tries):
            client.post(LOGIN, {"username": user.email, "password": "wrong"})
    at_home = home.post(LOGIN, {"username": alone.email, "password": TEST_PASSWORD})
    at_office = office.post(LOGIN, {"username": crowded.email, "password": TEST_PASSWORD})
    assert at_home.status_code == at_office.status_code == 429
    assert "reset your password" in at_home.content.decode()
    assert "reset your password" not in at_office.content.decode()


# --- sign-up and verification ------------------------------------------------------------------------


def test_a_nul_byte_in_the_invitation_code_is_a_form_error(client):
    """A NUL byte in the invitation code is a 422 with the fields kept, not a crash."""
    response = client.post(reverse("accounts:signup"), {"name": "Jo", "email": "jo@example.org",
                           "password": "a-long-enough-pass-1", "invitation_code": "AB\x00CD"})  # fmt: skip
    assert response.status_code == 422
    assert 'value="jo@example.org"' in response.content.decode()
    assert "a-long-enough-pass-1" not in response.content.decode()


def test_an_overlong_uid_in_a_verification_link_is_not_a_server_error(client):
    """A verification link with a huge user id answers the 'invalid link' page, not a 500."""
    uid = urlsafe_base64_encode(force_bytes(10**30))
    response = client.get(reverse("accounts:email_verify", kwargs={"uidb64": uid, "token": "x-y"}))
    assert response.status_code == 200 and "not valid" in response.content.decode()


def test_the_profile_keeps_the_typed_name_on_a_422_and_never_the_password(client):
    """A rejected password change does not echo any typed password back into the page."""
    user = make_customer()
    client.force_login(user)
    response = client.post(PROFILE, {"change_password": "1", "old_password": "my-wrong-secret-pw",
                                     "new_password1": "short", "new_password2": "short"})  # fmt: skip
    page = response.content.decode()
    assert response.status_code == 422
    assert "my-wrong-secret-pw" not in page and 'value="short"' not in page


def test_a_signup_with_an_invitation_code_and_spaces_joins_the_organisation(client):
    """An invitation code pasted with spaces around it still works."""
    invitation = InvitationFactory(code="Team-Code-123")
    data = {"name": "Jo", "email": "jo@example.org", "password": "a-long-enough-pass-1",
            "invitation_code": "  Team-Code-123 "}  # fmt: skip
    response = client.post(reverse("accounts:signup"), data)
    assert response.status_code == 302
    assert User.objects.get(email="jo@example.org").organization == invitation.organization


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil.example"])
def test_next_through_the_two_factor_step_never_leaves_the_site(target):
    """An outside `next` given at the password step is not followed after the code step."""
    agent = make_agent(TeamFactory())
    device, _ = enrol(Client(), agent)
    client = Client()
    assert password_step(client, agent, next_url=target)["Location"] == VERIFY
    response = client.post(VERIFY, {"code": code_for(device, steps_ahead=1)})
    assert response.status_code == 302 and "evil" not in response["Location"]


def test_signing_out_with_an_outside_next_stays_on_the_site():
    """Sign-out's `next` never sends the browser to another site."""
    client = signed_in(make_customer())
    response = client.post(reverse("accounts:logout"), {"next": "https://evil.example/"})
    assert response.status_code == 302 and "evil" not in response["Location"]
