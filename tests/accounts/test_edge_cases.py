"""Edge cases in accounts: the lockout page, odd input on the sign-in forms, the sessions count,
recovery codes, health checks and the site_config command."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import two_factor
from accounts.models import UserSession
from audit.models import AuditEvent
from helpdesk.models import SiteConfiguration
from tests.factories import TEST_PASSWORD, TeamFactory, make_agent, make_customer

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")


def test_the_lockout_page_says_how_long_in_words_not_iso_8601(client, settings):
    make_customer(email="locked@example.org")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(LOGIN, {"username": "locked@example.org", "password": "guess"})
    response = client.post(LOGIN, {"username": "locked@example.org", "password": TEST_PASSWORD})
    assert response.status_code == 429
    page = response.content.decode()
    assert "PT15M" not in page
    assert "Try again in 15 minutes" in page


@pytest.mark.parametrize(
    ("url", "data"),
    [
        (LOGIN, {"username": "jo\x00@example.org", "password": "x"}),
        (reverse("accounts:signup"), {"name": "Jo", "email": "jo\x00@example.org", "password": "x"}),
        (reverse("accounts:password_reset"), {"email": "jo\x00@example.org"}),
    ],
)
def test_a_nul_character_in_the_email_is_a_form_error_not_a_crash(client, url, data):
    response = client.post(url, data)
    assert response.status_code == 422


def test_signing_out_other_sessions_counts_only_the_sessions_the_page_listed(client):
    user = make_customer(email="jo@example.org")
    other = Client()
    other.force_login(user)
    stale = Client()
    stale.force_login(user)
    UserSession.objects.filter(session_key=stale.session.session_key).update(
        expire_date=timezone.now() - timedelta(days=1)
    )
    client.force_login(user)
    response = client.post(reverse("accounts:sessions_sign_out"), follow=True)
    assert "Signed out 1 other session." in response.content.decode()
    event = AuditEvent.objects.get(action="sign_out")
    assert event.changes == {"sessions": [1, 0]}


def test_every_recovery_code_signs_in_even_when_one_would_be_only_digits(monkeypatch):
    agent = make_agent(TeamFactory())
    device = two_factor.two_factor_start(agent, actor=agent)
    from django_otp.oath import TOTP

    made = iter(["23456723", *(f"abcdefg{letter}" for letter in "abcdefghijk")])
    monkeypatch.setattr("django_otp.plugins.otp_static.models.StaticToken.random_token", lambda: next(made))
    _, codes = two_factor.two_factor_enable(
        agent,
        device_id=device.pk,
        token=f"{TOTP(device.bin_key).token():06d}",
        password=TEST_PASSWORD,
        actor=agent,
    )
    assert len(codes) == two_factor.RECOVERY_CODE_COUNT
    for code in codes:
        assert two_factor.verify(agent, code) is not None


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_checks_answer_head_requests(client, path):
    assert client.head(path).status_code == 200


def run_site_config(*args) -> str:
    out = StringIO()
    call_command("site_config", *args, stdout=out)
    return out.getvalue()


def test_site_config_refuses_a_custom_key_without_a_name():
    with pytest.raises(CommandError, match="Unknown setting"):
        run_site_config("set", "custom.", "1")


@pytest.mark.parametrize("value", ["[1, 2]", '"text"', "3"])
def test_site_config_refuses_custom_settings_that_are_not_an_object(value):
    with pytest.raises(CommandError, match="JSON object"):
        run_site_config("set", "custom_settings", value)
    assert SiteConfiguration.objects.get_current().custom_settings == {}
    run_site_config("set", "custom.colour", "teal")  # still a dict to add to


@pytest.mark.parametrize("value", ["NaN", "Infinity"])
def test_site_config_keeps_nan_and_infinity_as_text_in_custom_settings(value):
    run_site_config("set", "custom.limit", value)
    assert SiteConfiguration.objects.get_current().custom_settings == {"limit": value}


def test_site_config_refuses_nan_in_a_json_field():
    with pytest.raises(CommandError, match="takes JSON"):
        run_site_config("set", "custom_settings", '{"limit": NaN}')


def test_saving_the_profile_records_only_what_changed(client):
    user = make_customer(email="jo@example.org", name="Jo", timezone="UTC")
    client.force_login(user)
    profile = reverse("accounts:profile")
    client.post(profile, {"save_profile": "1", "name": "Jo Bloggs", "timezone": "UTC"})
    assert AuditEvent.objects.get(action="update").changes == {"name": ["Jo", "Jo Bloggs"]}
    client.post(profile, {"save_profile": "1", "name": "Jo Bloggs", "timezone": "UTC"})
    assert AuditEvent.objects.filter(action="update").count() == 1


@pytest.mark.usefixtures("immediate_tasks")
def test_during_maintenance_staff_who_forgot_their_password_can_still_reset_it(client, mailoutbox):
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    from helpdesk.services import site_configuration_update

    agent = make_agent(TeamFactory(), email="agent@example.org")
    site_configuration_update(changes={"maintenance_mode": True}, actor=None)
    response = client.post(reverse("accounts:password_reset"), {"email": "agent@example.org"})
    assert response.status_code == 302
    assert client.get(response["Location"]).status_code == 200
    assert len(mailoutbox) == 1
    uid, token = urlsafe_base64_encode(force_bytes(agent.pk)), default_token_generator.make_token(agent)
    confirm = client.get(reverse("accounts:password_reset_confirm", args=[uid, token]), follow=True)
    assert confirm.status_code == 200
    done = client.post(
        confirm.redirect_chain[-1][0],
        {"new_password1": "a-new-passphrase-42", "new_password2": "a-new-passphrase-42"},
    )
    assert done.status_code == 302
    assert client.get(done["Location"]).status_code == 200
    assert (
        client.post(LOGIN, {"username": "agent@example.org", "password": "a-new-passphrase-42"}).status_code
        == 302
    )
