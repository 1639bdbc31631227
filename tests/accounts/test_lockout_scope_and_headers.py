"""A successful sign-in lifts only its own account's lockout (never the address's, nor a victim's), and
every page, even a forged host's 400, the admin and the error pages, carries the security headers."""

import re
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import path, reverse
from django_otp.oath import TOTP

from accounts import services
from accounts.models import SealedTOTPDevice, User, UserSession
from helpdesk.models import SiteConfiguration
from tests.factories import (
    TEST_PASSWORD,
    InvitationFactory,
    TeamFactory,
    UserFactory,
    make_administrator,
    make_agent,
    make_customer,
)

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
SIGNUP = reverse("accounts:signup")
TWO_FACTOR = reverse("accounts:two_factor")
VERIFY = reverse("accounts:two_factor_verify")
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle=\"", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+=\"", re.I)


def sign_in(client: Client, email: str, password: str = TEST_PASSWORD):
    return client.post(LOGIN, {"username": email, "password": password})


def code_for(device, *, steps_ahead: int = 0) -> str:
    generator = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    generator.time = time.time() + steps_ahead * device.step
    return f"{generator.token():0{device.digits}d}"


def enrol(user) -> SealedTOTPDevice:
    client = Client()
    client.force_login(user)
    client.post(TWO_FACTOR, {"action": "start"})
    device = SealedTOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(
        TWO_FACTOR, {"action": "confirm", "code": code_for(device), "password": TEST_PASSWORD}
    )
    assert response.status_code == 200
    return SealedTOTPDevice.objects.get(pk=device.pk)


def assert_no_inline_code(response, where: str) -> None:
    body = response.content.decode()
    csp = response.get("Content-Security-Policy", "")
    assert csp, f"{where}: no Content-Security-Policy header"
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp, where
    assert not INLINE_SCRIPT.search(body), f"{where}: inline <script>: {INLINE_SCRIPT.search(body).group(0)}"
    match = INLINE_STYLE.search(body)
    assert not match, f"{where}: inline style: {body[max(0, match.start() - 80) : match.end() + 80]}"
    match = INLINE_HANDLER.search(body)
    assert not match, f"{where}: inline event handler: {body[max(0, match.start() - 80) : match.end() + 80]}"


# --- django-axes lockouts ------------------------------------------------------------------------------


def test_signing_in_to_ones_own_account_does_not_unlock_a_victim_locked_from_the_same_address(settings):
    """A locked account stays locked until the cool-off, a reset or an administrator lifts it: an attacker
    who guessed at a victim's password must not wipe the victim's failure count by signing in to their
    own account from the same address (then guess again, for ever)."""
    victim = make_customer(email="victim@example.org")
    make_customer(email="mallory@example.org")
    attacker = Client(REMOTE_ADDR="203.0.113.66")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(attacker, victim.email, "guess")
    assert sign_in(Client(REMOTE_ADDR="198.51.100.9"), victim.email).status_code == 429
    assert sign_in(attacker, "mallory@example.org").status_code == 302  # the attacker's own account
    attacker.post(reverse("accounts:logout"))
    # Still locked, wherever the right password comes from, until the cool-off.
    assert sign_in(Client(REMOTE_ADDR="198.51.100.10"), victim.email).status_code == 429


def test_a_lockout_holds_at_the_code_step_of_a_sign_in_already_past_its_password(settings):
    """The password was right a moment ago; then the account is locked (someone hammers it from
    elsewhere). The code step is part of signing in: refused with the lockout page while it lasts,
    and the lockout is not lifted by it."""
    agent = make_agent(TeamFactory(), email="pendinglock@example.org")
    device = enrol(agent)
    client = Client()
    assert sign_in(client, agent.email)["Location"] == VERIFY
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(Client(REMOTE_ADDR="192.0.2.77"), agent.email, "wrong-password")
    response = client.post(VERIFY, {"code": code_for(device, steps_ahead=1)})
    assert response.status_code == 429 and "_auth_user_id" not in client.session
    assert client.get(VERIFY)["Location"] == LOGIN  # the half sign-in is over
    assert sign_in(Client(REMOTE_ADDR="198.51.100.12"), agent.email).status_code == 429


def test_guessing_between_own_sign_ins_never_exceeds_the_account_limit(settings, clock):
    """Per-account lockout: however the guesses are spread around the attacker's own successful sign-ins
    (a minute apart, so the per-account rate limit of 10/min is not what stops them), the victim's account
    takes at most AXES_FAILURE_LIMIT wrong passwords within the cool-off before it locks."""
    victim = make_customer(email="victim2@example.org")
    make_customer(email="mallory2@example.org")
    attacker = Client(REMOTE_ADDR="203.0.113.67")
    for _ in range(3):
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            sign_in(attacker, victim.email, "guess")
        assert sign_in(attacker, "mallory2@example.org").status_code == 302
        attacker.post(reverse("accounts:logout"))
        clock.shift(61)
    # 12 wrong passwords in 3 minutes: the account must be locked by now.
    assert sign_in(Client(REMOTE_ADDR="198.51.100.11"), victim.email).status_code == 429


def test_a_password_spray_from_one_address_is_not_reset_by_the_sprayers_own_sign_in(settings, clock):
    """Per-IP lockout: AXES_IP_FAILURE_LIMIT failures from one address pause it, even if the sprayer signs
    in to an account of their own in between."""
    make_customer(email="sprayer@example.org")
    make_customer(email="colleague3@example.org")
    sprayer = Client(REMOTE_ADDR="203.0.113.68")
    for round_ in range(2):
        for attempt in range(settings.AXES_IP_FAILURE_LIMIT - 1):
            sign_in(sprayer, f"victim{round_}-{attempt}@example.org", "Summer2026!")
            if attempt % 10 == 9:
                clock.shift(61)  # under the per-IP rate limit of 30/min
        sign_in(sprayer, "sprayer@example.org")  # signed in the first time round, paused the second
        sprayer.post(reverse("accounts:logout"))
        clock.shift(61)
    # 38 failures from this address within the cool-off: it is paused.
    assert sign_in(sprayer, "colleague3@example.org").status_code == 429


def test_the_bad_request_page_for_a_forged_host_carries_the_csp():
    """Even a 400 (a Host header not in ALLOWED_HOSTS) is an HTML page of the site: it carries the CSP with
    frame-ancestors 'none' and X-Frame-Options like every other page."""
    response = Client(raise_request_exception=False).get(LOGIN, HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response.get("X-Frame-Options") == "DENY"
    assert_no_inline_code(response, "400")


# --- security headers on every page --------------------------------------------------------------------


def test_admin_pages_carry_the_csp_and_no_inline_scripts_or_styles(client):
    """The administrators' pages are pages too: CSP header, and nothing inline that the policy blocks."""
    administrator = make_administrator(is_superuser=True)
    customer = make_customer()
    client.force_login(administrator)
    for url in (
        reverse("admin:index"),
        reverse("admin:accounts_user_changelist"),
        reverse("admin:accounts_user_change", args=[customer.pk]),
        reverse("admin:accounts_user_add"),
        reverse("admin:accounts_invitation_add"),
        reverse("admin:accounts_organization_add"),
        reverse("admin:helpdesk_siteconfiguration_changelist"),
    ):
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
        assert_no_inline_code(response, url)


def test_the_csrf_failure_page_carries_the_csp_and_no_inline_styles():
    """A refused form (expired CSRF token) shows the site's error page under the same policy."""
    client = Client(enforce_csrf_checks=True)
    response = client.post(LOGIN, {"username": "a@example.org", "password": "x"})
    assert response.status_code == 403
    assert_no_inline_code(response, "403 csrf")


def boom(request):
    raise RuntimeError("boom")


urlpatterns = [path("boom/", boom)]


def test_the_server_error_page_carries_the_csp_and_no_inline_code(settings):
    """A 500 is still the site's page, under the same policy and frame-ancestors."""
    settings.ROOT_URLCONF = __name__
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    assert response.status_code == 500
    assert_no_inline_code(response, "500")
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


def test_the_rate_limit_page_is_a_friendly_429_under_the_csp(settings, clock):
    """Too many sign-ups: 429 with Retry-After, words a person understands, and the usual headers."""
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "signup": ("1/h", "1/h")}
    client = Client(REMOTE_ADDR="203.0.113.90")
    data = {"name": "A", "email": "a@example.org", "password": "x"}
    client.post(SIGNUP, data)
    response = client.post(SIGNUP, data)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "try again" in response.content.decode()
    assert_no_inline_code(response, "429")


def test_the_lockout_page_carries_the_csp_and_says_when_to_try_again(settings):
    """The "too many attempts" page is under the same policy, and says in Retry-After, as the site's other
    429s do, how long the pause lasts at most."""
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    make_customer(email="locked@example.org")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "locked@example.org", "guess")
    response = sign_in(client, "locked@example.org")
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assert_no_inline_code(response, "lockout")


def test_the_maintenance_page_carries_the_csp(client):
    """The maintenance page (503) is under the same policy."""
    SiteConfiguration.objects.filter(pk=1).update(maintenance_mode=True)
    response = client.get(reverse("tickets:portal_list"))
    assert response.status_code == 503
    assert_no_inline_code(response, "503")


def test_pages_with_forms_have_no_inline_code(client):
    """Sign-in, sign-up, reset, profile, two-factor pages: nothing inline that the CSP would block."""
    agent = make_agent(TeamFactory())
    for url in (LOGIN, SIGNUP, reverse("accounts:password_reset")):
        assert_no_inline_code(client.get(url), url)
    client.force_login(agent)
    for url in (reverse("accounts:profile"), TWO_FACTOR, reverse("tickets:desk_queue")):
        assert_no_inline_code(client.get(url), url)
    client.post(TWO_FACTOR, {"action": "start"})
    assert_no_inline_code(client.get(TWO_FACTOR), "two-factor enrolment with QR code")


# --- two-factor --------------------------------------------------------------------------------------


def test_after_the_password_step_the_desk_and_admin_stay_closed():
    """The password alone is half a sign-in: going straight to /desk/ or /admin/ does not open them."""
    administrator = make_administrator()
    enrol(administrator)
    client = Client()
    assert sign_in(client, administrator.email)["Location"] == VERIFY
    for url in (
        reverse("tickets:desk_queue"),
        reverse("admin:index"),
        reverse("accounts:profile"),
        TWO_FACTOR,
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response["Location"], url
    assert "_auth_user_id" not in client.session


def test_a_superuser_without_a_role_is_held_to_the_site_two_factor_requirement():
    """Required for administrators means everyone who can open the admin, a superuser made with
    createsuperuser included."""
    SiteConfiguration.objects.filter(pk=1).update(require_two_factor=True)
    superuser = User.objects.create_superuser("root@example.org", TEST_PASSWORD, name="Root")
    client = Client()
    client.force_login(superuser)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and response["Location"] == TWO_FACTOR


def test_someone_with_admin_site_access_is_held_to_the_site_two_factor_requirement():
    """A user given admin site access (is_staff) without a role is an administrator in practice."""
    SiteConfiguration.objects.filter(pk=1).update(require_two_factor=True)
    user = UserFactory(is_staff=True)
    client = Client()
    client.force_login(user)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and response["Location"] == TWO_FACTOR


# --- sign-up with invitations --------------------------------------------------------------------------


def test_an_invitation_is_not_used_up_by_a_sign_up_that_failed(settings):
    """A sign-up refused for its password leaves the invitation's uses as they were."""
    settings.RATE_LIMITS_ENABLED = False
    invitation = InvitationFactory(max_uses=1)
    response = Client().post(
        SIGNUP,
        {"name": "New", "email": "new@example.org", "password": "123", "invitation_code": invitation.code},
    )
    assert response.status_code == 422
    invitation.refresh_from_db()
    assert invitation.uses == 0


# --- passwords -----------------------------------------------------------------------------------------


def test_a_reset_through_the_link_refuses_one_of_the_last_five_passwords(client, immediate_tasks):
    """The history rule holds on the reset page as on the profile."""
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    user = make_customer(email="hist@example.org")
    for password in ("first-pass-phrase-1", "second-pass-phrase-2", "third-pass-phrase-3"):
        services.user_password_change(user, password=password, actor=user, keep_session_key=None)
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    response = client.get(reverse("accounts:password_reset_confirm", args=[uid, token]), follow=True)
    form_url = response.redirect_chain[-1][0]
    response = client.post(
        form_url, {"new_password1": "first-pass-phrase-1", "new_password2": "first-pass-phrase-1"}
    )
    assert response.status_code == 422
    user.refresh_from_db()
    assert user.check_password("third-pass-phrase-3")


def test_suspending_deletes_the_users_session_rows():
    """Sessions of a suspended user end in the table, not only by being refused."""
    customer = make_customer()
    client = Client()
    sign_in(client, customer.email)
    assert UserSession.objects.filter(user=customer).exists()
    services.user_suspend(customer, until=None, reason="Abuse", actor=None)
    assert not UserSession.objects.filter(user=customer).exists()
