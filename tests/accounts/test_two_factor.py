"""Two-factor sign-in: enrolment, the second sign-in step, recovery codes, throttling, the site-wide
requirement for staff, administrators' reset, and the admin's sign-in door."""

import importlib
import re
import time
from base64 import b32decode

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice as PlainTOTPDevice

from accounts import sealing, services, two_factor
from accounts.models import SealedTOTPDevice as TOTPDevice
from accounts.models import UserSession
from accounts.views import TWO_FACTOR_PENDING_SECONDS
from audit.models import AuditEvent
from helpdesk.models import SiteConfiguration
from tests.factories import TEST_PASSWORD, TeamFactory, make_administrator, make_agent, make_customer

pytestmark = pytest.mark.django_db

SETTINGS = reverse("accounts:two_factor")
VERIFY = reverse("accounts:two_factor_verify")


def code_for(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """What the user's app shows; `steps_ahead` picks a later 30-second window, since a code works once
    and the device accepts one window of clock drift."""
    generator = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    generator.time = time.time() + steps_ahead * device.step
    return f"{generator.token():0{device.digits}d}"


def password_step(client: Client, user, next_url: str = "") -> object:
    data = {"username": user.email, "password": TEST_PASSWORD}
    if next_url:
        data["next"] = next_url
    return client.post(reverse("accounts:login"), data)


def confirming(code: str, password: str = TEST_PASSWORD) -> dict[str, str]:
    """The form that turns two-factor on: a code from the new app and the current password."""
    return {"action": "confirm", "code": code, "password": password}


def disabling(code: str, password: str = TEST_PASSWORD) -> dict[str, str]:
    """The form that switches two-factor off: the current password and a code."""
    return {"action": "disable", "disable-code": code, "disable-password": password}


def enrol(client: Client, user) -> tuple[TOTPDevice, list[str]]:
    client.force_login(user)
    client.post(SETTINGS, {"action": "start"})
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(SETTINGS, confirming(code_for(device)))
    assert response.status_code == 200, response.content.decode()
    return TOTPDevice.objects.get(pk=device.pk), shown_codes(response)


def shown_codes(response) -> list[str]:
    """The recovery codes a page shows (the only place they exist in clear)."""
    return re.findall(r"<li><code>([a-z2-7]{8})</code></li>", response.content.decode())


def stored_codes(user) -> set[str]:
    return set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))


def test_agent_enrols_with_a_code_from_the_app_and_gets_recovery_codes(client):
    agent = make_agent(TeamFactory())
    client.force_login(agent)
    assert "Set up two-factor sign-in" in client.get(SETTINGS).content.decode()
    assert client.post(SETTINGS, {"action": "start"}).status_code == 302
    page = client.get(SETTINGS).content.decode()
    device = TOTPDevice.objects.get(user=agent, confirmed=False)
    secret = two_factor.pending_enrolment(agent, device.pk).secret
    assert secret in page and 'src="data:image/svg+xml' in page
    assert b32decode(secret) == device.bin_key

    wrong = client.post(SETTINGS, confirming("000000"))
    assert wrong.status_code == 422 and two_factor.CODE_INVALID in wrong.content.decode()
    assert not two_factor.is_enabled(agent)

    device.refresh_from_db()
    device.throttle_reset()
    response = client.post(SETTINGS, confirming(code_for(device)))
    page = response.content.decode()
    assert response.status_code == 200 and two_factor.is_enabled(agent)
    codes = shown_codes(response)
    assert len(set(codes)) == two_factor.RECOVERY_CODE_COUNT
    # Stored as keyed hashes only: a copy of the database holds no usable code.
    assert stored_codes(agent) == {two_factor.recovery_code_digest(code) for code in codes}
    assert not stored_codes(agent) & set(codes) and not any(code in page for code in stored_codes(agent))
    assert AuditEvent.objects.filter(action="two_factor_enable", actor=agent).exists()
    # The enrolling session is verified: work goes on without a second prompt.
    assert client.get(reverse("tickets:desk_queue")).status_code == 200


def test_a_right_code_during_the_back_off_after_a_wrong_one_is_told_to_wait_not_that_it_is_wrong(
    client, clock
):
    # The clock stands still: on a busy machine a second could pass between the two posts, and the
    # back-off with it.
    agent = make_agent(TeamFactory())
    client.force_login(agent)
    client.post(SETTINGS, {"action": "start"})
    device = TOTPDevice.objects.get(user=agent, confirmed=False)
    assert client.post(SETTINGS, confirming("000000")).status_code == 422
    right_too_soon = client.post(SETTINGS, confirming(code_for(device)))
    page = right_too_soon.content.decode()
    assert right_too_soon.status_code == 422
    assert two_factor.CODE_THROTTLED in page and two_factor.CODE_INVALID not in page
    assert not two_factor.is_enabled(agent)


def test_sign_in_asks_for_the_code_before_the_account_is_signed_in():
    agent = make_agent(TeamFactory())
    device, _ = enrol(Client(), agent)
    client = Client()
    response = password_step(client, agent, next_url="/desk/")
    assert response.status_code == 302 and response["Location"] == VERIFY
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("tickets:desk_queue")).status_code == 302  # still signed out

    wrong = client.post(VERIFY, {"code": "123456"})
    assert wrong.status_code == 422 and "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="two_factor_failed").exists()

    device.refresh_from_db()
    device.throttle_reset()
    response = client.post(VERIFY, {"code": code_for(device, steps_ahead=1)})
    assert response.status_code == 302 and response["Location"] == "/desk/"
    assert client.get(reverse("tickets:desk_queue")).status_code == 200


def test_a_code_works_once():
    agent = make_agent(TeamFactory())
    device, _ = enrol(Client(), agent)
    code = code_for(device, steps_ahead=1)
    first, second = Client(), Client()
    password_step(first, agent)
    assert first.post(VERIFY, {"code": code}).status_code == 302
    password_step(second, agent)
    assert second.post(VERIFY, {"code": code}).status_code == 422


def test_recovery_code_signs_in_once():
    agent = make_agent(TeamFactory())
    _, codes = enrol(Client(), agent)
    client = Client()
    password_step(client, agent)
    assert client.post(VERIFY, {"code": codes[0].upper()}).status_code == 302
    assert StaticToken.objects.filter(device__user=agent).count() == two_factor.RECOVERY_CODE_COUNT - 1
    # Told on the next page, since whoever needs one may have lost their phone.
    assert "You signed in with a recovery code; 9 left." in client.get("/").content.decode()
    assert AuditEvent.objects.get(action="recovery_code_used").changes == {"codes_left": [10, 9]}
    again = Client()
    password_step(again, agent)
    assert again.post(VERIFY, {"code": codes[0]}).status_code == 422


def test_recovery_codes_survive_a_secret_key_rotation_with_the_old_key_as_fallback(settings):
    agent = make_agent(TeamFactory())
    _, codes = enrol(Client(), agent)
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-secret-key-" + "x" * 40, [old_key]
    client = Client()
    password_step(client, agent)
    assert client.post(VERIFY, {"code": codes[1]}).status_code == 302
    settings.SECRET_KEY_FALLBACKS = []  # once the old key is retired, its codes stop working
    again = Client()
    password_step(again, agent)
    assert again.post(VERIFY, {"code": codes[2]}).status_code == 422


def test_the_migration_hashes_codes_stored_in_clear():
    from importlib import import_module

    from django.apps import apps

    migration = import_module("accounts.migrations.0004_hash_recovery_codes")
    agent = make_agent(TeamFactory())
    _, codes = enrol(Client(), agent)
    StaticToken.objects.filter(device__user=agent).delete()
    device = StaticDevice.objects.get(user=agent)
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)  # as before
    migration.hash_clear_codes(apps, None)
    assert stored_codes(agent) == {two_factor.recovery_code_digest(code) for code in codes}
    client = Client()
    password_step(client, agent)
    assert client.post(VERIFY, {"code": codes[0]}).status_code == 302


def test_wrong_codes_are_throttled_even_when_the_next_one_is_right(clock):  # a second of back-off: held still
    agent = make_agent(TeamFactory())
    device, _ = enrol(Client(), agent)
    client = Client()
    password_step(client, agent)
    client.post(VERIFY, {"code": "111111"})
    response = client.post(VERIFY, {"code": code_for(device, steps_ahead=1)})
    assert response.status_code == 422 and two_factor.CODE_THROTTLED in response.content.decode()


def test_the_pending_step_expires(time_machine):
    time_machine.move_to(time.time(), tick=False)
    agent = make_agent(TeamFactory())
    enrol(Client(), agent)
    client = Client()
    password_step(client, agent)
    time_machine.shift(TWO_FACTOR_PENDING_SECONDS + 1)
    response = client.get(VERIFY)
    assert response.status_code == 302 and response["Location"] == reverse("accounts:login")


def test_verify_without_a_password_step_sends_to_sign_in(client):
    assert client.get(VERIFY)["Location"] == reverse("accounts:login")
    assert client.post(VERIFY, {"code": "123456"})["Location"] == reverse("accounts:login")


def test_enrolling_signs_out_other_sessions():
    agent = make_agent(TeamFactory())
    other = Client()
    password_step(other, agent)
    assert other.get(reverse("accounts:profile")).status_code == 200
    enrol(Client(), agent)
    assert other.get(reverse("accounts:profile")).status_code == 302


def test_recovery_codes_can_be_renewed_and_two_factor_switched_off_with_a_code(client):
    agent = make_agent(TeamFactory())
    device, old_codes = enrol(client, agent)
    static_device_id = StaticToken.objects.filter(device__user=agent).first().device_id
    response = client.post(SETTINGS, {"action": "codes", "code": old_codes[0]})
    new_codes = set(shown_codes(response))
    assert len(new_codes) == two_factor.RECOVERY_CODE_COUNT and not new_codes & set(old_codes)
    assert stored_codes(agent) == {two_factor.recovery_code_digest(code) for code in new_codes}
    # The recovery-code device stays, so a session verified with one of its codes stays verified.
    assert StaticToken.objects.filter(device__user=agent).first().device_id == static_device_id
    client.post(SETTINGS, disabling(code_for(device, steps_ahead=1)))
    assert not two_factor.is_enabled(agent)
    assert not StaticToken.objects.filter(device__user=agent).exists()
    assert AuditEvent.objects.filter(action="two_factor_disable", actor=agent).exists()


@pytest.mark.parametrize("action", ["codes", "disable", "replace"])
def test_changes_to_an_enabled_second_factor_need_a_current_code(client, action):
    agent = make_agent(TeamFactory())
    _, codes = enrol(client, agent)
    data = disabling("999999") if action == "disable" else {"action": action, "code": "999999"}
    response = client.post(SETTINGS, data)
    assert response.status_code == 422 and two_factor.CODE_INVALID in response.content.decode()
    assert two_factor.is_enabled(agent)
    assert stored_codes(agent) == {two_factor.recovery_code_digest(code) for code in codes}
    assert not TOTPDevice.objects.filter(user=agent, confirmed=False).exists()
    client.post(SETTINGS, {"action": "start"})  # the button of the first set-up does not skip the code
    assert not TOTPDevice.objects.filter(user=agent, confirmed=False).exists()


# The current password is asked before the second factor goes on or off


def test_turning_two_factor_on_asks_for_the_current_password_and_keeps_the_code_on_a_wrong_one(client):
    agent = make_agent(TeamFactory())
    client.force_login(agent)  # a session someone else may be holding
    client.post(SETTINGS, {"action": "start"})
    device = TOTPDevice.objects.get(user=agent, confirmed=False)
    code = code_for(device)
    for password in ("not-my-password", ""):
        response = client.post(SETTINGS, confirming(code, password=password))
        assert response.status_code == 422 and not two_factor.is_enabled(agent)
        page = response.content.decode()
        assert f'value="{code}"' in page and 'name="password"' in page  # the code kept, to send again
        if password:
            assert password not in page  # a password is never sent back
    assert services.PASSWORD_INCORRECT in client.post(SETTINGS, confirming(code, "nope")).content.decode()
    assert not AuditEvent.objects.filter(action="two_factor_enable").exists()
    # A mistyped password cost no code: the same code, with the right password, turns it on.
    response = client.post(SETTINGS, confirming(code))
    assert response.status_code == 200 and two_factor.is_enabled(agent)


def test_switching_two_factor_off_asks_for_the_current_password(client):
    agent = make_agent(TeamFactory())
    device, _ = enrol(client, agent)
    code = code_for(device, steps_ahead=1)
    response = client.post(SETTINGS, disabling(code, password="not-my-password"))
    assert response.status_code == 422 and services.PASSWORD_INCORRECT in response.content.decode()
    assert f'value="{code}"' in response.content.decode()
    assert two_factor.is_enabled(agent)
    assert client.post(SETTINGS, disabling(code)).status_code == 302
    assert not two_factor.is_enabled(agent)


def test_guessing_the_password_on_the_two_factor_page_is_rate_limited(client, settings, clock):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "password_change": ("100/h", "3/h")}
    agent = make_agent(TeamFactory())
    client.force_login(agent)
    client.post(SETTINGS, {"action": "start"})
    device = TOTPDevice.objects.get(user=agent, confirmed=False)
    statuses = [client.post(SETTINGS, confirming("000000", f"guess-{n}")).status_code for n in range(3)]
    assert statuses == [422, 422, 422]
    # Past the limit even the right password is not checked.
    assert client.post(SETTINGS, confirming(code_for(device))).status_code == 429
    assert not two_factor.is_enabled(agent)


def test_moving_to_a_new_phone_keeps_the_old_app_until_the_new_one_is_confirmed(client):
    agent = make_agent(TeamFactory())
    _, codes = enrol(client, agent)
    assert client.post(SETTINGS, {"action": "replace", "code": codes[0]}).status_code == 302
    new_device = TOTPDevice.objects.get(user=agent, confirmed=False)
    assert two_factor.is_enabled(agent)  # the old app still works meanwhile
    client.post(SETTINGS, confirming(code_for(new_device)))
    assert list(TOTPDevice.objects.filter(user=agent).values_list("pk", flat=True)) == [new_device.pk]


def test_site_requirement_sends_staff_to_set_up_and_keeps_it_on(client):
    SiteConfiguration.objects.filter(pk=1).update(require_two_factor=True)
    agent = make_agent(TeamFactory())
    client.force_login(agent)
    response = client.get(reverse("tickets:desk_queue"))
    assert response.status_code == 302 and response["Location"] == SETTINGS
    assert client.post(reverse("accounts:logout")).status_code == 302  # signing out stays possible

    client.force_login(agent)
    client.post(SETTINGS, {"action": "start"})
    device = TOTPDevice.objects.get(user=agent)
    client.post(SETTINGS, confirming(code_for(device)))
    assert client.get(reverse("tickets:desk_queue")).status_code == 200
    response = client.post(SETTINGS, disabling(code_for(device, steps_ahead=1)))
    assert two_factor.REQUIRED in response.content.decode()
    assert two_factor.is_enabled(agent)


def test_site_requirement_does_not_touch_customers(client):
    SiteConfiguration.objects.filter(pk=1).update(require_two_factor=True)
    client.force_login(make_customer())
    assert client.get(reverse("tickets:portal_list")).status_code == 200
    assert client.get(SETTINGS).status_code == 404


def test_administrator_resets_a_lost_second_factor(client):
    """The reset switches two-factor off, is audited, and signs the agent out everywhere (a lost phone may
    have gone with a signed-in browser); the agent then signs in with the password alone."""
    agent = make_agent(TeamFactory())
    enrol(Client(), agent)
    Client().force_login(agent)  # the browser that went with the phone
    assert UserSession.objects.filter(user=agent).exists()
    admin = make_administrator()
    client.force_login(admin)
    response = client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "reset_two_factor", "_selected_action": [agent.pk]},
    )
    assert response.status_code == 302
    assert not two_factor.is_enabled(agent)
    assert AuditEvent.objects.filter(
        action="two_factor_disable", actor=admin, object_id=str(agent.pk)
    ).exists()
    assert not UserSession.objects.filter(user=agent).exists()
    # The agent signs in with the password alone again.
    fresh = Client()
    assert password_step(fresh, agent)["Location"] != VERIFY


def test_only_an_administrator_resets_someone_elses_two_factor():
    agent, colleague = make_agent(TeamFactory()), make_agent(TeamFactory())
    enrol(Client(), agent)
    with pytest.raises(two_factor.ValidationError):
        two_factor.two_factor_disable(agent, actor=colleague, site_requires=False)
    assert two_factor.is_enabled(agent)


def test_the_admin_sign_in_page_is_the_sites_sign_in(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login") + "?next=%2Fadmin%2F"
    assert client.get("/admin/")["Location"].startswith("/admin/login/")


def test_otp_devices_are_not_editable_in_the_admin(client):
    client.force_login(make_administrator())
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404


def test_the_requirement_is_a_site_setting_with_an_audit_trail():
    from django.core.management import call_command

    call_command("site_config", "set", "require_two_factor", "true")
    assert SiteConfiguration.objects.get_current().require_two_factor is True
    assert AuditEvent.objects.get(action="settings_change").changes == {"require_two_factor": [False, True]}


def test_no_code_path_signs_in_an_enrolled_account_without_the_second_factor():
    agent = make_agent(TeamFactory())
    enrol(Client(), agent)
    client = Client()
    client.force_login(agent)  # a sign-in that skipped the verification step
    assert client.get(reverse("tickets:desk_queue")).status_code == 302
    assert AuditEvent.objects.filter(action="two_factor_bypass_refused", actor=agent).exists()


def test_code_guessing_is_rate_limited_per_pending_account(settings, clock):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "two_factor": ("100/m", "3/m")}
    agent = make_agent(TeamFactory())
    device, _ = enrol(Client(), agent)
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)
    statuses = []
    for n in range(4):
        client = Client(REMOTE_ADDR=f"192.0.2.{n}")  # a new address each time: the account limit holds
        password_step(client, agent)
        statuses.append(client.post(VERIFY, {"code": "000000"}).status_code)
    assert statuses == [422, 422, 422, 429]


def test_signed_in_people_without_admin_access_get_a_403_not_a_redirect_loop(client):
    client.force_login(make_agent(TeamFactory()))
    response = client.get("/admin/", follow=True)
    assert response.status_code == 403
    assert len(response.redirect_chain) == 1


# Authenticator secrets are stored sealed


def test_the_stored_secret_is_sealed_not_the_key_itself(client):
    agent = make_agent(TeamFactory())
    device, _ = enrol(client, agent)
    (stored,) = TOTPDevice.objects.filter(pk=device.pk).values_list("key", flat=True)
    assert stored.startswith(sealing.PREFIX) and device.bin_key.hex() not in stored
    assert len(device.bin_key) == 20 and len(stored) <= TOTPDevice._meta.get_field("key").max_length
    assert two_factor.verify(agent, code_for(device, steps_ahead=1)) == device


def test_after_a_secret_key_rotation_the_app_works_while_the_old_key_is_a_fallback(client, settings):
    agent = make_agent(TeamFactory())
    device, _ = enrol(client, agent)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-" + "x" * 40
    device = TOTPDevice.objects.get(pk=device.pk)
    assert two_factor.verify(agent, code_for(device, steps_ahead=1)) == device
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY_FALLBACKS"):
        two_factor.verify(agent, "123456")


def test_the_migration_seals_secrets_stored_in_clear():
    agent = make_agent(TeamFactory())
    clear = PlainTOTPDevice.objects.create(user=agent, name="Authenticator app", confirmed=True)
    key = clear.key
    migration = importlib.import_module("accounts.migrations.0006_sealed_totp_device")
    migration.seal_keys(django_apps, None)
    sealed = TOTPDevice.objects.get(pk=clear.pk)
    assert sealed.key.startswith(sealing.PREFIX) and sealed.bin_key == bytes.fromhex(key)
    migration.seal_keys(django_apps, None)  # already sealed: left alone
    assert TOTPDevice.objects.get(pk=clear.pk).key == sealed.key
    migration.unseal_keys(django_apps, None)
    assert PlainTOTPDevice.objects.get(pk=clear.pk).key == key


def test_a_wrong_code_is_marked_on_the_code_input_in_every_form(client):
    """At sign-in, at enrolment and when switching off: the error is the code field's, so the input is
    marked invalid and described by it, not only announced above the form."""
    agent = make_agent(TeamFactory())
    enrolled = Client()
    enrol(enrolled, agent)
    browser = Client()
    password_step(browser, agent)
    pages = [browser.post(VERIFY, {"code": "000000"}), enrolled.post(SETTINGS, disabling("000000"))]
    other = make_agent(TeamFactory())
    client.force_login(other)
    client.post(SETTINGS, {"action": "start"})
    pages.append(client.post(SETTINGS, confirming("000000")))
    for response in pages:
        assert response.status_code == 422
        typed = r'<input[^>]*name="(?:disable-)?code" value="000000"[^>]*>'
        field = re.search(typed, response.content.decode()).group(0)
        assert 'aria-invalid="true"' in field and "code_error" in field, field
