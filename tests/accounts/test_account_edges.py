"""Account edges: a suspension ends the sessions it refuses (so lifting it revives none), a password
reset ends a sign-in waiting for its second factor, a retired time zone does not break the profile,
`next` never leaves the site, and reset links work once and expire."""

from datetime import timedelta

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts import services
from accounts.models import User
from helpdesk.services import site_configuration_update
from tests.factories import TEST_PASSWORD, TeamFactory, make_agent, make_customer

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
PROFILE = reverse("accounts:profile")
SIGNUP = reverse("accounts:signup")


def signed_in(user, **extra) -> Client:
    client = Client(**extra)
    response = client.post(LOGIN, {"username": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 302, response.content.decode()[:2000]
    return client


def is_signed_in(client: Client) -> bool:
    return client.get(PROFILE).status_code == 200


def test_a_timed_suspension_does_not_bring_back_the_sessions_it_signed_out(clock):
    user = make_customer()
    client = signed_in(user)
    services.user_suspend(user, until=timezone.now() + timedelta(hours=1), reason="Cool down", actor=None)
    assert not is_signed_in(client)  # "signed out on the next request"
    clock.shift(timedelta(hours=2))
    # The suspension is over, but this browser never signed in again.
    assert not is_signed_in(client)


def test_lifting_a_suspension_does_not_revive_a_session_it_ended():
    user = make_customer()
    client = signed_in(user)
    services.user_suspend(user, until=None, reason="Stolen session", actor=None)
    assert not is_signed_in(client)
    services.user_activate(User.objects.get(pk=user.pk), actor=None)
    assert not is_signed_in(client)


def test_sign_in_with_spaces_around_the_address():
    make_customer(email="jo@example.org")
    client = Client()
    response = client.post(LOGIN, {"username": "  Jo@Example.org  ", "password": TEST_PASSWORD})
    assert response.status_code == 302


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",
        "/\\evil.com",
        "\\\\evil.com",
        "javascript:alert(1)",
        "https://evil.com/",
        "///evil.com",
        " //evil.com",
        "\t//evil.com",
        "http:/evil.com",
    ],
)
def test_next_never_leaves_the_site(target):
    make_customer(email="jo@example.org")
    client = Client()
    page = client.get(LOGIN, {"next": target}).content.decode()
    assert "evil" not in page and "javascript" not in page
    response = client.post(LOGIN, {"username": "jo@example.org", "password": TEST_PASSWORD, "next": target})
    assert response.status_code == 302
    assert response["Location"].startswith("/") and not response["Location"].startswith(("//", "/\\"))


def test_the_profile_escapes_the_name():
    user = make_customer(name='<script>alert("x")</script>')
    client = Client()
    client.force_login(user)
    page = client.get(PROFILE).content.decode()
    assert "<script>alert" not in page


def reset_link(user) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return reverse("accounts:password_reset_confirm", args=[uid, default_token_generator.make_token(user)])


def use_link(client: Client, link: str, password: str):
    response = client.get(link)
    if response.status_code != 302:
        return response
    return client.post(response["Location"], {"new_password1": password, "new_password2": password})


def test_a_reset_link_works_once():
    user = make_customer()
    link = reset_link(user)
    assert use_link(Client(), link, "a-brand-new-passphrase-1").status_code == 302
    second = use_link(Client(), link, "a-brand-new-passphrase-2")
    assert second.status_code != 302 or "reset/done" not in second.get("Location", "")
    user.refresh_from_db()
    assert user.check_password("a-brand-new-passphrase-1")


def test_staff_required_to_use_two_factor_cannot_reach_the_profile_without_it():
    agent = make_agent(TeamFactory())
    site_configuration_update(changes={"require_two_factor": True}, actor=None)
    client = signed_in(agent)
    response = client.get(PROFILE)
    assert response.status_code == 302 and response["Location"] == reverse("accounts:two_factor")


def code_for(device, *, steps_ahead: int = 0) -> str:
    import time

    from django_otp.oath import TOTP

    generator = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    generator.time = time.time() + steps_ahead * device.step
    return f"{generator.token():0{device.digits}d}"


def enrolled_agent():
    from accounts.models import SealedTOTPDevice

    agent = make_agent(TeamFactory())
    client = Client()
    client.force_login(agent)
    client.post(reverse("accounts:two_factor"), {"action": "start"})
    device = SealedTOTPDevice.objects.get(user=agent, confirmed=False)
    response = client.post(
        reverse("accounts:two_factor"),
        {"action": "confirm", "code": code_for(device), "password": TEST_PASSWORD},
    )
    assert response.status_code == 200
    return agent, SealedTOTPDevice.objects.get(pk=device.pk)


def test_a_password_reset_ends_a_half_finished_sign_in_with_the_old_password():
    """Someone who guessed the old password waits at the code step; the owner resets the password
    ("a reset ends all sessions"). The code step must not still sign in on the strength of the old one."""
    agent, device = enrolled_agent()
    intruder = Client()
    response = intruder.post(LOGIN, {"username": agent.email, "password": TEST_PASSWORD})
    assert response["Location"] == reverse("accounts:two_factor_verify")
    owner = Client()
    assert use_link(owner, reset_link(agent), "the-owners-new-passphrase-1").status_code == 302
    intruder.post(reverse("accounts:two_factor_verify"), {"code": code_for(device, steps_ahead=1)})
    assert "_auth_user_id" not in intruder.session


def test_saving_the_profile_of_someone_with_a_retired_time_zone_is_no_server_error():
    user = make_customer(name="Old Name")
    User.objects.filter(pk=user.pk).update(timezone="US/Pacific-New")  # valid when the account was made
    client = Client(raise_request_exception=False)
    client.force_login(user)
    page = client.get(PROFILE)
    assert page.status_code == 200
    response = client.post(PROFILE, {"save_profile": "1", "name": "New Name", "timezone": "US/Pacific-New"})
    assert response.status_code in (302, 422)
    response = client.post(PROFILE, {"save_profile": "1", "name": "New Name", "timezone": "Europe/Paris"})
    assert response.status_code == 302


@pytest.mark.usefixtures("immediate_tasks")
def test_a_reset_asked_for_in_another_case_with_spaces_reaches_the_account():
    from django.core import mail

    make_customer(email="jo@example.org")
    Client().post(reverse("accounts:password_reset"), {"email": "  JO@Example.ORG "})
    assert [message.to for message in mail.outbox] == [["jo@example.org"]]


def test_a_reset_link_expires(clock, settings):
    user = make_customer()
    link = reset_link(user)
    clock.shift(timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60))
    use_link(Client(), link, "a-brand-new-passphrase-1")
    user.refresh_from_db()
    assert user.check_password(TEST_PASSWORD)


GROWS_WHEN_COMPOSED = "\u0958" * 150  # 150 characters typed, 300 once composed (NFC)


def test_a_name_that_grows_when_composed_is_refused_not_a_server_error(client):
    """The form counted 150 characters, the stored name was 300: the database refused it (a 500)."""
    signup = {"name": GROWS_WHEN_COMPOSED, "email": "long@example.org", "password": "A-long-new-pass-1234"}
    response = client.post(SIGNUP, signup)
    assert response.status_code == 422 and "at most 150 characters" in response.content.decode()
    assert not User.objects.filter(email="long@example.org").exists()
    customer = make_customer(name="Short Name")
    profile = signed_in(customer).post(
        PROFILE, {"save_profile": "1", "name": GROWS_WHEN_COMPOSED, "timezone": "UTC"}
    )
    assert profile.status_code == 422 and User.objects.get(pk=customer.pk).name == "Short Name"


@pytest.mark.parametrize(
    "name",
    ["\u200b\u200b", "\u202e\u202e", "\u00ad", "\ufeff\u200d", "\u2800", "\x07\x1b", "\x08\x7f", "\x9b"],
)
def test_a_name_of_invisible_characters_is_no_name(client, name):
    response = client.post(
        SIGNUP, {"name": name, "email": "blank@example.org", "password": "A-long-new-pass-1234"}
    )
    assert response.status_code == 422 and not User.objects.filter(email="blank@example.org").exists()
    customer = make_customer(name="Visible")
    profile = signed_in(customer).post(PROFILE, {"save_profile": "1", "name": name, "timezone": "UTC"})
    assert profile.status_code == 422 and User.objects.get(pk=customer.pk).name == "Visible"


@pytest.mark.parametrize("name", ["Jo\x07nes", "Jo\x1b[31mnes", "Jo\x08\x08Al", "Jo\x7fnes", "Jo\x9bnes"])
def test_control_characters_in_a_name_are_dropped(name):
    """A name pasted with a terminal escape, backspaces or a C1 control is stored without them (they
    show nothing on a page and rewrite what a terminal reading an export shows). Before the fix they
    were stored as typed, and a name of nothing else was saved as a blank name."""
    customer = make_customer(name="Before")
    response = signed_in(customer).post(PROFILE, {"save_profile": "1", "name": name, "timezone": "UTC"})
    assert response.status_code == 302
    assert User.objects.get(pk=customer.pk).name == name.translate(
        dict.fromkeys(range(0x20)) | dict.fromkeys(range(0x7F, 0xA0))
    )


def test_the_same_name_typed_decomposed_or_double_spaced_is_no_change():
    """ "Cafe\u0301  Owner" is stored as "Café Owner": saving it again records nothing."""
    from audit.models import AuditEvent

    customer = make_customer(name="Café Owner", timezone="UTC")
    before = AuditEvent.objects.count()
    signed_in(customer).post(PROFILE, {"save_profile": "1", "name": "Cafe\u0301  Owner", "timezone": "UTC"})
    assert AuditEvent.objects.filter(action="update").count() == 0
    assert AuditEvent.objects.count() - before <= 1  # the sign-in itself
