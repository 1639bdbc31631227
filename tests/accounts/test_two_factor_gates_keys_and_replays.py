"""Two-factor sign-in under pressure: what an unverified staff session reaches while the site requires
it, the session key across the two steps, replayed and raced codes, recovery codes, back-off and the
audit trail (accounts/two_factor.py, accounts/views.py)."""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticToken

from accounts import two_factor
from accounts.models import SealedTOTPDevice as TOTPDevice
from audit.models import AuditEvent
from helpdesk.models import SiteConfiguration
from tests.accounts.test_two_factor import (
    SETTINGS,
    VERIFY,
    code_for,
    confirming,
    enrol,
    password_step,
    shown_codes,
)
from tests.concurrency import run_while_another_transaction_waits
from tests.factories import (
    TEST_PASSWORD,
    TeamFactory,
    ensure_roles,
    make_administrator,
    make_agent,
    make_customer,
    make_supervisor,
)

LOGIN = reverse("accounts:login")


def require_two_factor(on: bool = True) -> None:
    """As an administrator does it (the admin, `site_config set`): through the service."""
    from helpdesk.services import site_configuration_update

    site_configuration_update(changes={"require_two_factor": on}, actor=None)
    assert SiteConfiguration.objects.get_current().require_two_factor is on


# --- the site requirement: an unverified staff session reaches nothing but the set-up page ----------

GUARDED_GETS = [
    "/desk/",
    "/desk/tickets/1/",
    "/desk/tickets/T-1/",
    "/admin/",
    "/admin/accounts/user/",
    "/admin/helpdesk/siteconfiguration/",
    "/audit/",
    "/audit/export/",
    "/kb/manage/",
    "/kb/manage/new/",
    "/kb/manage/picker/",
    "/portal/attachments/1/",
    "/portal/tickets/",
    "/accounts/profile/",
    "/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", GUARDED_GETS)
def test_an_unverified_administrator_reaches_no_page_but_the_set_up_while_it_is_required(client, path):
    require_two_factor()
    client.force_login(make_administrator(is_superuser=True))
    response = client.get(path)
    assert response.status_code == 302 and response["Location"] == SETTINGS, (path, response.status_code)


GUARDED_POSTS = [
    "/desk/bulk/",
    "/desk/views/",
    "/desk/tickets/1/reply/",
    "/desk/tickets/1/update/",
    "/kb/manage/new/",
    "/kb/manage/preview/",
    "/accounts/profile/",
    "/accounts/profile/sessions/sign-out/",
    "/accounts/profile/verify-email/",
    "/admin/accounts/user/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", GUARDED_POSTS)
def test_an_unverified_agent_posts_nothing_while_it_is_required(path):
    require_two_factor()
    agent = make_supervisor(TeamFactory())
    client = Client()
    client.force_login(agent)
    before = AuditEvent.objects.count()
    response = client.post(path, {"title": "x", "body": "y", "name": "z", "save_profile": "1"})
    assert response.status_code == 302 and response["Location"] == SETTINGS
    assert AuditEvent.objects.count() == before
    htmx = client.post(path, {"body": "y"}, headers={"HX-Request": "true"})
    assert htmx.status_code == 200 and htmx["HX-Redirect"] == SETTINGS


@pytest.mark.django_db
def test_turning_the_requirement_on_mid_session_stops_a_signed_in_agent_at_the_next_request():
    agent = make_agent(TeamFactory())
    client = Client()
    client.force_login(agent)
    assert client.get("/desk/").status_code == 200
    require_two_factor()
    assert client.get("/desk/")["Location"] == SETTINGS
    htmx = client.get("/desk/", headers={"HX-Request": "true"})
    assert htmx["HX-Redirect"] == SETTINGS
    # ...and turning it off again lets them through
    require_two_factor(False)
    assert client.get("/desk/").status_code == 200


@pytest.mark.django_db
def test_a_customer_promoted_to_agent_mid_session_is_stopped_when_required():
    from accounts import roles, services

    require_two_factor()
    customer = make_customer()
    client = Client()
    client.force_login(customer)
    assert client.get("/portal/tickets/").status_code == 200
    services.role_assign(customer, roles.AGENT, actor=None)
    assert client.get("/portal/tickets/")["Location"] == SETTINGS


@pytest.mark.django_db
def test_the_set_up_page_does_nothing_on_get():
    require_two_factor()
    agent = make_agent(TeamFactory())
    client = Client()
    client.force_login(agent)
    assert client.get(SETTINGS + "?action=start").status_code == 200
    assert not TOTPDevice.objects.filter(user=agent).exists()


@pytest.mark.django_db
def test_the_two_factor_page_and_the_code_step_need_the_csrf_token():
    agent = make_agent(TeamFactory())
    device, _ = enrol(Client(), agent)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(make_agent(TeamFactory()))
    assert strict.post(SETTINGS, {"action": "start"}).status_code == 403
    strict = Client(enforce_csrf_checks=True)
    # the password step itself needs a token: take one from the page
    page = strict.get(LOGIN)
    token = page.cookies["csrftoken"].value
    strict.post(LOGIN, {"username": agent.email, "password": TEST_PASSWORD, "csrfmiddlewaretoken": token})
    assert strict.post(VERIFY, {"code": code_for(device, steps_ahead=1)}).status_code == 403
    assert "_auth_user_id" not in strict.session


# --- enrolment ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_wrong_code_at_enrolment_keeps_the_same_secret_and_answers_422():
    agent = make_agent(TeamFactory())
    client = Client()
    client.force_login(agent)
    client.post(SETTINGS, {"action": "start"})
    device = TOTPDevice.objects.get(user=agent, confirmed=False)
    secret = two_factor.pending_enrolment(agent, device.pk).secret
    response = client.post(SETTINGS, confirming("000000"))
    assert response.status_code == 422
    assert secret in response.content.decode()
    assert list(TOTPDevice.objects.filter(user=agent).values_list("pk", flat=True)) == [device.pk]
    device.refresh_from_db()
    device.throttle_reset()
    assert client.post(SETTINGS, confirming(code_for(device))).status_code == 200


@pytest.mark.django_db
def test_a_customer_can_neither_see_nor_start_an_enrolment():
    customer = make_customer()
    client = Client()
    client.force_login(customer)
    assert client.get(SETTINGS).status_code == 404
    assert client.post(SETTINGS, {"action": "start"}).status_code == 404
    assert not TOTPDevice.objects.filter(user=customer).exists()


@pytest.mark.django_db
def test_the_page_showing_recovery_codes_is_kept_by_no_cache_and_shown_once():
    agent = make_agent(TeamFactory())
    client = Client()
    client.force_login(agent)
    client.post(SETTINGS, {"action": "start"})
    device = TOTPDevice.objects.get(user=agent, confirmed=False)
    response = client.post(SETTINGS, confirming(code_for(device)))
    codes = shown_codes(response)
    assert len(codes) == two_factor.RECOVERY_CODE_COUNT
    assert "no-store" in response["Cache-Control"]
    again = client.get(SETTINGS).content.decode()
    assert not any(code in again for code in codes)
    stored = set(StaticToken.objects.filter(device__user=agent).values_list("token", flat=True))
    assert not stored & set(codes)


@pytest.mark.django_db
def test_the_page_showing_the_secret_being_set_up_is_kept_by_no_cache():
    agent = make_agent(TeamFactory())
    client = Client()
    client.force_login(agent)
    client.post(SETTINGS, {"action": "start"})
    response = client.get(SETTINGS)
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_audit_events_of_two_factor_hold_no_code_or_secret():
    agent = make_agent(TeamFactory())
    client = Client()
    device, codes = enrol(client, agent)
    signing_in = Client()
    password_step(signing_in, agent)
    signing_in.post(VERIFY, {"code": codes[0]})
    client.post(SETTINGS, {"action": "codes", "code": codes[1]})
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"two_factor_enable", "recovery_code_used", "recovery_codes_regenerate"} <= actions
    secret = device.bin_key.hex()
    for event in AuditEvent.objects.all():
        text = repr(event.changes) + repr(getattr(event, "context", ""))
        assert secret not in text
        assert not any(code in text for code in codes)


@pytest.mark.django_db
def test_moving_to_a_new_phone_is_audited_as_a_replacement():
    agent = make_agent(TeamFactory())
    client = Client()
    _, codes = enrol(client, agent)
    client.post(SETTINGS, {"action": "replace", "code": codes[0]})
    device = TOTPDevice.objects.get(user=agent, confirmed=False)
    assert client.post(SETTINGS, confirming(code_for(device))).status_code == 200
    last = AuditEvent.objects.filter(action="two_factor_enable").latest("pk")
    assert last.changes == {"two_factor": [True, True]}


@pytest.mark.django_db
def test_switching_off_is_audited_and_not_possible_without_a_code():
    agent = make_agent(TeamFactory())
    client = Client()
    enrol(client, agent)
    response = client.post(
        SETTINGS, {"action": "disable", "disable-code": "", "disable-password": TEST_PASSWORD}
    )
    assert response.status_code == 422 and two_factor.is_enabled(agent)
    assert not AuditEvent.objects.filter(action="two_factor_disable").exists()


@pytest.mark.django_db
def test_wrong_codes_on_the_settings_page_are_throttled_too(clock):  # the back-off's seconds held still
    """A borrowed session guessing codes to renew the recovery codes is held back as at sign-in."""
    agent = make_agent(TeamFactory())
    client = Client()
    device, _ = enrol(client, agent)
    for _ in range(3):
        client.post(SETTINGS, {"action": "codes", "code": "000000"})
    response = client.post(SETTINGS, {"action": "codes", "code": code_for(device, steps_ahead=1)})
    assert response.status_code == 422 and two_factor.CODE_THROTTLED in response.content.decode()


@pytest.mark.django_db
def test_an_administrator_cannot_reset_their_own_two_factor_from_the_admin():
    admin = make_administrator()
    client = Client()
    enrol(client, admin)
    response = client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "reset_two_factor", "_selected_action": [admin.pk]},
    )
    assert response.status_code in (200, 302)
    assert two_factor.is_enabled(admin)


# --- the code step ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_session_cookie_planted_before_the_password_step_does_not_carry_the_half_finished_sign_in():
    """A user expects the sign-in to change the session identifier when the password is accepted
    (OWASP: rotate on every change of privilege). Today the password step of an account with
    two-factor keeps the session key it had before, so whoever planted or knew that cookie (session
    fixation) holds the password-checked state and is asked only for the 6-digit code."""
    agent = make_agent(TeamFactory())
    enrol(Client(), agent)
    victim = Client()
    planted = victim.session.session_key  # a session that existed before signing in
    assert password_step(victim, agent)["Location"] == VERIFY
    attacker = Client()
    attacker.cookies["sessionid"] = planted
    response = attacker.get(VERIFY)
    assert response.status_code == 302 and response["Location"] == LOGIN, (
        "the planted cookie reached the code step"
    )


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/"])
def test_next_given_on_the_code_step_itself_is_ignored(target):
    agent = make_agent(TeamFactory())
    device, _ = enrol(Client(), agent)
    client = Client()
    password_step(client, agent)
    assert client.get(VERIFY, {"next": target}).status_code == 200
    response = client.post(
        VERIFY + "?next=" + target, {"code": code_for(device, steps_ahead=1), "next": target}
    )
    assert response.status_code == 302 and "evil" not in response["Location"]


@pytest.mark.django_db
def test_a_next_naming_the_code_step_does_not_tell_a_signed_in_person_to_sign_in_again():
    """After the code, a `next` of the code step's own address should land somewhere sensible, not on
    "Please sign in again" while signed in."""
    agent = make_agent(TeamFactory())
    device, _ = enrol(Client(), agent)
    client = Client()
    password_step(client, agent, next_url=VERIFY)
    response = client.post(VERIFY, {"code": code_for(device, steps_ahead=1)}, follow=True)
    assert response.status_code == 200
    assert "_auth_user_id" in client.session
    assert "Please sign in again" not in response.content.decode()


@pytest.mark.django_db
def test_a_signed_in_person_visiting_the_code_step_is_not_told_to_sign_in_again():
    """Someone signed in who opens the code step (back button, bookmark) expects their home page, not a
    "Please sign in again" notice while they are signed in."""
    client = Client()
    client.force_login(make_agent(TeamFactory()))
    response = client.get(VERIFY, follow=True)
    assert response.status_code == 200
    assert "Please sign in again" not in response.content.decode()


@pytest.mark.django_db
def test_a_pending_sign_in_is_not_carried_into_a_sign_in_of_another_account():
    """Password for A (two-factor), then password for B (no two-factor) in the same browser: B is
    signed in, as B."""
    a = make_agent(TeamFactory())
    enrol(Client(), a)
    b = make_agent(TeamFactory())
    client = Client()
    password_step(client, a)
    password_step(client, b)
    assert int(client.session["_auth_user_id"]) == b.pk


@pytest.mark.django_db
def test_a_password_change_between_the_two_steps_ends_the_pending_sign_in():
    from accounts import services

    agent = make_agent(TeamFactory())
    device, _ = enrol(Client(), agent)
    client = Client()
    password_step(client, agent)
    services.user_password_change(
        agent, password="An0ther-long-passphrase!", actor=agent, keep_session_key=None
    )
    response = client.post(VERIFY, {"code": code_for(device, steps_ahead=1)})
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_code_steps_back_off_holds_across_browsers_and_addresses(clock):
    """The device's back-off holds across browsers and addresses: a brute force of the 6 digits is slow."""
    agent = make_agent(TeamFactory())
    device, _ = enrol(Client(), agent)
    for n in range(5):
        client = Client(REMOTE_ADDR=f"198.51.100.{n}")
        password_step(client, agent)
        assert client.post(VERIFY, {"code": f"{n:06d}"}).status_code == 422
        clock.shift(2**n + 1)  # past the back-off, so each guess is really tried
    device.refresh_from_db()
    assert device.throttling_failure_count == 5
    clock.shift(-(2**4 + 1) + 5)  # 5 s after the fifth wrong code: inside its 16 s back-off
    client = Client(REMOTE_ADDR="198.51.100.99")
    password_step(client, agent)
    response = client.post(VERIFY, {"code": code_for(device, steps_ahead=1)})
    assert response.status_code == 422 and "_auth_user_id" not in client.session


# --- codes work once, also at the same moment ----------------------------------------------------------


def _enrolled_agent():
    ensure_roles()
    agent = make_agent(TeamFactory())
    device = two_factor.two_factor_start(agent, actor=agent)
    _, codes = two_factor.two_factor_enable(
        agent, device_id=device.pk, token=code_for(device), password=TEST_PASSWORD, actor=agent
    )
    return agent, TOTPDevice.objects.get(pk=device.pk), codes


@pytest.mark.django_db(transaction=True)
def test_an_app_code_sent_twice_at_the_same_moment_signs_in_once():
    """RFC 6238: a code is accepted once, also when two requests race (django-otp locks the device)."""
    agent, device, _ = _enrolled_agent()
    code = code_for(device, steps_ahead=1)
    outcomes = []

    def second() -> None:
        try:
            two_factor.verify(agent, code)
            outcomes.append("accepted")
        except ValidationError:
            outcomes.append("refused")

    run_while_another_transaction_waits(lambda: two_factor.verify(agent, code), second)
    assert outcomes == ["refused"]


@pytest.mark.django_db(transaction=True)
def test_a_recovery_code_used_twice_at_the_same_moment_works_once():
    """Recovery codes are single-use, also when two sign-ins race with the same one."""
    agent, _, codes = _enrolled_agent()
    outcomes = []

    def second() -> None:
        try:
            two_factor.verify(agent, codes[0])
            outcomes.append("accepted")
        except ValidationError:
            outcomes.append("refused")

    run_while_another_transaction_waits(lambda: two_factor.verify(agent, codes[0]), second)
    assert outcomes == ["refused"]
