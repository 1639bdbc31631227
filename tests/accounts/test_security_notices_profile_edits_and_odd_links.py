"""A person's own account: a password change and two-factor switched off are mailed to the account's
address; the profile keeps long and right-to-left names and refuses invisible ones and bad zones; odd
links answer cleanly; an address change mails the old address; open sign-up is audited."""

import time

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp.oath import TOTP

from accounts import two_factor
from accounts.models import EmailChangeRequest, SealedTOTPDevice, User, UserSession
from audit.models import AuditEvent
from tests.factories import (
    TEST_PASSWORD,
    TeamFactory,
    make_agent,
    make_customer,
)

pytestmark = pytest.mark.django_db

PROFILE = reverse("accounts:profile")
TWO_FACTOR = reverse("accounts:two_factor")
NEW_PASSWORD = "a-brand-new-passphrase-91"


def code_for(device, *, steps_ahead: int = 0) -> str:
    generator = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    generator.time = time.time() + steps_ahead * device.step
    return f"{generator.token():0{device.digits}d}"


def enrol(client: Client, user) -> SealedTOTPDevice:
    client.force_login(user)
    client.post(TWO_FACTOR, {"action": "start"})
    device = SealedTOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(
        TWO_FACTOR, {"action": "confirm", "code": code_for(device), "password": TEST_PASSWORD}
    )
    assert response.status_code == 200, response.content.decode()
    return SealedTOTPDevice.objects.get(pk=device.pk)


def change_password(client: Client):
    return client.post(
        PROFILE,
        {
            "change_password": "1",
            "old_password": TEST_PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )


# --- Security notices --------------------------------------------------------------------------------


def test_password_change_on_the_profile_mails_a_notice_to_the_account(
    client, immediate_tasks, django_capture_on_commit_callbacks
):
    """A person (or someone at their unlocked computer, who knows nothing but the old password a
    browser filled in) changes the password on the profile: the account's address is told, so its owner
    can react to a change they did not make (as Zendesk and Freshdesk mail "your password was changed",
    and as an address change is mailed to the old address)."""
    user = make_customer(name="Pat Person", email_verified_at=timezone.now())
    client.force_login(user)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = change_password(client)
    assert response.status_code == 302
    assert User.objects.get(pk=user.pk).check_password(NEW_PASSWORD)
    assert [message.to for message in mail.outbox] == [[user.email]], "no notice of the password change"


def test_switching_two_factor_off_mails_a_notice_to_the_account(
    client, immediate_tasks, django_capture_on_commit_callbacks
):
    """An agent switches two-factor sign-in off on the two-factor page. The account is now protected by
    its password alone, so its address is told: a session taken over (with the password and a recovery
    code from the same desk drawer) does not downgrade the account silently."""
    agent = make_agent(TeamFactory(), name="Alex Agent")
    device = enrol(client, agent)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            TWO_FACTOR,
            {
                "action": "disable",
                "disable-code": code_for(device, steps_ahead=1),
                "disable-password": TEST_PASSWORD,
            },
        )
    assert response.status_code == 302
    assert not two_factor.is_enabled(agent)
    assert [message.to for message in mail.outbox] == [[agent.email]], "no notice that 2FA went off"


# --- Passwords, profile, links and sign-up ----------------------------------------------------------


def test_password_change_is_audited_and_ends_other_sessions(client):
    user = make_customer(name="Pat Person")
    other = Client()
    other.force_login(user)
    client.force_login(user)
    assert UserSession.objects.filter(user=user).count() == 2
    assert change_password(client).status_code == 302
    assert AuditEvent.objects.filter(action="password_change", object_id=str(user.pk)).exists()
    assert UserSession.objects.filter(user=user).count() == 1
    assert client.get(PROFILE).status_code == 200  # this session stays signed in


def test_profile_keeps_rtl_and_long_names_and_refuses_too_long_or_invisible(client):
    user = make_customer(name="Pat Person")
    client.force_login(user)
    rtl = "مريم الحسيني"
    response = client.post(PROFILE, {"save_profile": "1", "name": rtl, "timezone": "Asia/Riyadh"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.name, user.timezone) == (rtl, "Asia/Riyadh")
    assert AuditEvent.objects.filter(action="update", object_id=str(user.pk)).exists()
    assert (
        client.post(PROFILE, {"save_profile": "1", "name": "x" * 150, "timezone": "UTC"}).status_code == 302
    )
    for name in ["x" * 151, "\u202e\u200b", "   "]:
        response = client.post(PROFILE, {"save_profile": "1", "name": name, "timezone": "UTC"})
        assert response.status_code == 422, name
    # An override character does not survive into a stored name.
    client.post(PROFILE, {"save_profile": "1", "name": "Eve \u202egnaM", "timezone": "UTC"})
    assert "\u202e" not in User.objects.get(pk=user.pk).name


@pytest.mark.parametrize("zone", ["", "Mars/Olympus", "localtime", "x" * 500])
def test_profile_bad_time_zone_is_422(client, zone):
    user = make_customer(name="Pat Person")
    client.force_login(user)
    response = client.post(PROFILE, {"save_profile": "1", "name": "Pat", "timezone": zone})
    assert response.status_code == 422


def test_odd_links_are_not_500(client):
    user = make_customer(name="Pat Person")
    huge = urlsafe_base64_encode(force_bytes(10**30))
    for url in [
        reverse("accounts:email_verify", args=[huge, "abc-def"]),
        reverse("accounts:email_verify", args=["!!", "abc-def"]),
        reverse("accounts:password_reset_confirm", args=[huge, "abc-def"]),
        reverse("accounts:email_change_confirm", args=["not-a-token"]),
    ]:
        assert client.get(url).status_code in {200, 302, 403, 404, 422}, url
    client.force_login(user)
    assert client.post(reverse("accounts:email_verify", args=[huge, "x"])).status_code == 422
    response = client.post(reverse("accounts:sessions_sign_out"), {"session": "nope" * 40})
    assert response.status_code == 302


def test_email_change_to_own_address_in_capitals_is_refused(client):
    user = make_customer(name="Pat Person", email="pat@acme-profile.example")
    client.force_login(user)
    response = client.post(
        PROFILE, {"change_email": "1", "email": "PAT@ACME-PROFILE.EXAMPLE", "password": TEST_PASSWORD}
    )
    assert response.status_code == 422


def test_open_signup_is_audited_mails_a_link_and_joins_no_organisation_unverified(
    client, immediate_tasks, settings
):
    from accounts.models import Organization

    Organization.objects.create(
        name="Acme Profile", slug="acme-profile", email_domains=["acme-profile.example"]
    )
    from helpdesk.services import site_configuration_update

    site_configuration_update(changes={"open_signup": True}, actor=None)
    response = client.post(
        reverse("accounts:signup"),
        {"name": "Nia New", "email": "nia@acme-profile.example", "password": NEW_PASSWORD},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(email="nia@acme-profile.example")
    assert user.organization_id is None and user.email_verified_at is None  # not yet: unverified
    assert AuditEvent.objects.filter(action="create", object_id=str(user.pk)).exists()
    assert len(mail.outbox) == 1


def test_an_address_change_mails_the_old_address(client, immediate_tasks, django_capture_on_commit_callbacks):
    """The way the two notice tests above read mail does catch the notice the product sends already."""
    from accounts.tokens import email_change_token

    user = make_customer(
        name="Pat Person", email="pat@acme-profile.example", email_verified_at=timezone.now()
    )
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            PROFILE, {"change_email": "1", "email": "pat2@acme-profile.example", "password": TEST_PASSWORD}
        )
    change = EmailChangeRequest.objects.get(user=user)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:email_change_confirm", args=[email_change_token(change.pk)]))
    assert response.status_code == 302
    assert User.objects.get(pk=user.pk).email == "pat2@acme-profile.example"
    assert [message.to for message in mail.outbox] == [["pat@acme-profile.example"]]
    assert AuditEvent.objects.filter(action="email_change", object_id=str(user.pk)).exists()
