"""The account security lifecycle end to end - lockouts, password resets and history, sessions,
two-factor sign-in, suspension - and how these interact, with the audit trail checked for secrets."""

import json
import re
import time

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken

from accounts import roles, services, two_factor
from accounts.models import PasswordHistory, SealedTOTPDevice, User, UserSession
from audit.models import AuditEvent
from helpdesk.services import site_configuration_update
from tests.admin_pages import changelist_url, post_change
from tests.factories import (
    TEST_PASSWORD,
    TeamFactory,
    ensure_roles,
    make_administrator,
    make_agent,
    make_customer,
)

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
VERIFY = reverse("accounts:two_factor_verify")
TWO_FACTOR = reverse("accounts:two_factor")
PROFILE = reverse("accounts:profile")
DESK = reverse("tickets:desk_queue")


# --- helpers -------------------------------------------------------------------------------------------


def code_for(device: SealedTOTPDevice, *, steps_ahead: int = 0) -> str:
    generator = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    generator.time = time.time() + steps_ahead * device.step
    return f"{generator.token():0{device.digits}d}"


def sign_in(client: Client, email: str, password: str = TEST_PASSWORD):
    return client.post(LOGIN, {"username": email, "password": password})


def is_signed_in(client: Client) -> bool:
    return client.get(PROFILE).status_code == 200


def enrol(user) -> tuple[SealedTOTPDevice, list[str], Client, str]:
    """Turn two-factor on from a fresh session; returns the device, the recovery codes shown, the
    session's client and the code that confirmed the set-up."""
    client = Client()
    client.force_login(user)
    client.post(TWO_FACTOR, {"action": "start"})
    device = SealedTOTPDevice.objects.get(user=user, confirmed=False)
    code = code_for(device)
    response = client.post(TWO_FACTOR, {"action": "confirm", "code": code, "password": TEST_PASSWORD})
    assert response.status_code == 200, response.content.decode()[:2000]
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", response.content.decode())
    assert len(codes) == two_factor.RECOVERY_CODE_COUNT
    return SealedTOTPDevice.objects.get(pk=device.pk), codes, client, code


def reset_link(user) -> str:
    user.refresh_from_db()
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return reverse("accounts:password_reset_confirm", kwargs={"uidb64": uid, "token": token})


def use_link(client: Client, link: str, password: str):
    """Open the mailed link (Django moves the token into the session) and set `password`."""
    opened = client.get(link)
    if opened.status_code != 302:
        return opened  # the "no longer valid" page
    return client.post(opened["Location"], {"new_password1": password, "new_password2": password})


def link_is_refused(client: Client, link: str) -> bool:
    opened = client.get(link)
    if opened.status_code == 302:
        opened = client.get(opened["Location"])
    return opened.status_code == 200 and opened.context["validlink"] is False


def admin_client() -> tuple[User, Client]:
    admin = make_administrator(is_superuser=True)
    client = Client()
    client.force_login(admin)
    return admin, client


def set_password_in_admin(client: Client, user, password: str):
    return client.post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {"password1": password, "password2": password, "usable_password": "true"},
    )


def change_password_on_profile(client: Client, old: str, new: str):
    return client.post(
        PROFILE,
        {"change_password": "1", "old_password": old, "new_password1": new, "new_password2": new},
    )


# --- two-factor across role changes -----------------------------------------------------------------


def test_an_agent_demoted_to_customer_who_is_still_asked_for_codes_can_still_manage_them():
    """An agent who set up two-factor and is then demoted to customer is still asked for a code at every
    sign-in (the devices stay). Signing in with a recovery code tells them to "move to a new one on the
    two-factor page" - so that page must still be theirs to use (renew codes, switch it off), or the
    demotion must take the second factor off. It must not be a 404 while sign-in keeps demanding codes."""
    agent = make_agent(TeamFactory())
    _, codes, _, _ = enrol(agent)
    services.role_revoke(agent, roles.AGENT, actor=None)
    services.role_assign(agent, roles.CUSTOMER, actor=None)

    client = Client()
    assert sign_in(client, agent.email)["Location"] == VERIFY  # still asked for the second factor
    response = client.post(VERIFY, {"code": codes[0]}, follow=True)
    assert "on the two-factor page" in response.content.decode()
    # The page the message points to:
    assert client.get(TWO_FACTOR).status_code == 200


def test_an_administrator_can_reset_the_second_factor_of_a_demoted_customer():
    """The administrator's reset (lost phone) works whatever the person's role is now."""
    agent = make_agent(TeamFactory())
    enrol(agent)
    services.role_revoke(agent, roles.AGENT, actor=None)
    _, client = admin_client()
    response = client.post(
        changelist_url(User), {"action": "reset_two_factor", "_selected_action": [agent.pk]}
    )
    assert response.status_code == 302
    assert not two_factor.is_enabled(agent)
    assert sign_in(Client(), agent.email)["Location"] != VERIFY


# --- the site requirement switched on mid-session ----------------------------------------------------


def test_requirement_switched_on_while_signed_in_sends_to_set_up_and_the_set_up_page_stays_usable():
    """An agent signed in before the site required two-factor: the next page (full or htmx) sends them
    to the set-up page, which they can use to the end; the desk opens again afterwards."""
    agent = make_agent(TeamFactory())
    client = Client()
    assert sign_in(client, agent.email).status_code == 302
    assert client.get(DESK).status_code == 200
    site_configuration_update(changes={"require_two_factor": True}, actor=None)

    response = client.get(DESK)
    assert response.status_code == 302 and response["Location"] == TWO_FACTOR
    htmx = client.get(DESK, headers={"HX-Request": "true"})
    assert htmx.headers.get("HX-Redirect") == TWO_FACTOR
    # The page of other sessions is closed too (a session without the second factor).
    assert client.post(reverse("accounts:sessions_sign_out")).status_code == 302
    assert client.get(TWO_FACTOR).status_code == 200
    assert client.post(TWO_FACTOR, {"action": "start"}).status_code == 302
    device = SealedTOTPDevice.objects.get(user=agent, confirmed=False)
    confirmed = client.post(
        TWO_FACTOR, {"action": "confirm", "code": code_for(device), "password": TEST_PASSWORD}
    )
    assert confirmed.status_code == 200
    assert client.get(DESK).status_code == 200


# --- replays ----------------------------------------------------------------------------------------


def test_the_code_that_confirmed_the_set_up_cannot_be_replayed_to_sign_in():
    """A TOTP code works once: the code typed to finish the set-up, seen over the shoulder, does not
    sign in elsewhere within the same 30 seconds."""
    agent = make_agent(TeamFactory())
    _, _, _, used = enrol(agent)
    intruder = Client()
    assert sign_in(intruder, agent.email)["Location"] == VERIFY
    assert intruder.post(VERIFY, {"code": used}).status_code == 422
    assert "_auth_user_id" not in intruder.session


def test_a_recovery_code_that_signed_in_cannot_also_switch_two_factor_off():
    """A recovery code is single-use across every purpose: once it signed in, it is refused for
    switching the second factor off (with the right password)."""
    agent = make_agent(TeamFactory())
    _, codes, _, _ = enrol(agent)
    client = Client()
    sign_in(client, agent.email)
    assert client.post(VERIFY, {"code": codes[3]}).status_code == 302
    response = client.post(
        TWO_FACTOR, {"action": "disable", "disable-code": codes[3], "disable-password": TEST_PASSWORD}
    )
    assert response.status_code == 422
    assert two_factor.is_enabled(agent)


# --- administrator resets and sign-outs -----------------------------------------------------------------


def test_admin_two_factor_reset_ends_sessions_and_the_next_sign_in_must_set_it_up_again():
    """Lost phone: the administrator resets two-factor. Every session of the person ends (the phone may
    have gone with a signed-in browser), their sessions list starts afresh, and where the site requires
    two-factor the next sign-in leads to the set-up page, not into the desk."""
    agent = make_agent(TeamFactory())
    _, _, browser, _ = enrol(agent)
    assert browser.get(DESK).status_code == 200
    _, admin = admin_client()
    admin.post(changelist_url(User), {"action": "reset_two_factor", "_selected_action": [agent.pk]})
    site_configuration_update(changes={"require_two_factor": True}, actor=None)
    assert not is_signed_in(browser)
    assert not UserSession.objects.filter(user=agent).exists()

    fresh = Client()
    assert sign_in(fresh, agent.email).status_code == 302
    assert fresh.get(DESK)["Location"] == TWO_FACTOR
    # Only this one session is listed (as the two-factor page is the only one open, read the rows).
    assert list(UserSession.objects.filter(user=agent).values_list("session_key", flat=True)) == [
        fresh.session.session_key
    ]


def test_sign_out_everywhere_leaves_only_later_sessions_in_the_list():
    """After an administrator signs a user out everywhere, the user's old browsers are signed out and
    the profile of a new sign-in lists that one session only."""
    user = make_customer()
    old = [Client(REMOTE_ADDR=f"203.0.113.{n}") for n in (1, 2)]
    for client in old:
        assert sign_in(client, user.email).status_code == 302
    _, admin = admin_client()
    admin.post(changelist_url(User), {"action": "sign_out_everywhere", "_selected_action": [user.pk]})
    assert not any(is_signed_in(client) for client in old)
    new = Client(REMOTE_ADDR="198.51.100.7")
    sign_in(new, user.email)
    page = new.get(PROFILE)
    assert [row.session_key for row in page.context["sessions"]] == [new.session.session_key]
    assert "198.51.100.7" in page.content.decode()
    event = AuditEvent.objects.get(action="sign_out", object_id=str(user.pk))
    assert event.changes == {"sessions": [2, 0]}


# --- password resets and their interactions ---------------------------------------------------------------


def spray(settings, address: str, victim_email: str) -> Client:
    """From `address`: four guesses at the victim (under the account's limit) and guesses at other names
    until the address reaches AXES_IP_FAILURE_LIMIT, so everyone there is paused."""
    sprayer = Client(REMOTE_ADDR=address)
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(sprayer, victim_email, f"Summer2026-{n}!")
    for n in range(settings.AXES_IP_FAILURE_LIMIT - (settings.AXES_FAILURE_LIMIT - 1)):
        sign_in(sprayer, f"someone{n}@example.org", "Summer2026!")
    return sprayer


def test_a_victims_reset_does_not_lift_the_sprayers_address_lockout(settings, clock):
    """A password spray from one address pauses everyone there (AXES_IP_FAILURE_LIMIT). The lockout page
    and the admin promise that lifting an account's lockout (a password reset, the admin's unlock) does
    not lift an address's: the attacker may still sit there. So a victim resetting their password from
    home must not hand the sprayer's address fresh guesses."""
    user = make_customer(email="sprayed@example.org")
    make_customer(email="other-victim@example.org")
    sprayer = spray(settings, "203.0.113.50", user.email)
    clock.shift(61)  # past the per-minute rate limit of the sign-in page
    assert sign_in(sprayer, "other-victim@example.org", "Winter2026!").status_code == 429
    new = "a-fresh-passphrase-after-spray"
    assert use_link(Client(REMOTE_ADDR="198.51.100.3"), reset_link(user), new).status_code == 302
    assert sign_in(Client(REMOTE_ADDR="198.51.100.3"), user.email, new).status_code == 302
    # The address is still paused for everyone, the sprayer's next guess included.
    assert sign_in(sprayer, "other-victim@example.org", "Winter2026!").status_code == 429


def test_a_victims_own_sign_in_from_home_does_not_lift_the_sprayers_address_lockout(settings, clock):
    """As above, for the victim's ordinary successful sign-in from another address: it forgets the
    failures of their account, but the sprayer's address stays paused."""
    user = make_customer(email="sprayed2@example.org")
    make_customer(email="other-victim2@example.org")
    sprayer = spray(settings, "203.0.113.51", user.email)
    clock.shift(61)
    assert sign_in(sprayer, "other-victim2@example.org", "Winter2026!").status_code == 429
    assert sign_in(Client(REMOTE_ADDR="198.51.100.4"), user.email).status_code == 302
    assert sign_in(sprayer, "other-victim2@example.org", "Winter2026!").status_code == 429


def test_a_reset_link_stops_working_when_an_administrator_changes_the_address():
    """A reset link mailed to the old address must not work once an administrator moved the account to
    a new address (the old mailbox may belong to someone who left)."""
    user = make_customer(email="old-address@example.org")
    link = reset_link(user)
    _, admin = admin_client()
    response = post_change(admin, user, email="new-address@example.org")
    assert response.status_code == 302, response.content.decode()[:3000]
    assert User.objects.get(pk=user.pk).email == "new-address@example.org"
    assert link_is_refused(Client(), link)


def test_a_reset_link_stops_working_when_an_administrator_sets_a_password():
    user = make_customer()
    link = reset_link(user)
    _, admin = admin_client()
    assert set_password_in_admin(admin, user, "an-admin-chosen-passphrase-9").status_code == 302
    assert link_is_refused(Client(), link)


def test_a_reset_does_not_sign_in_or_skip_the_second_factor():
    """Whoever holds the mailbox can set a new password, but the account still asks for its second
    factor at the next sign-in, and the reset page itself signs nobody in."""
    agent = make_agent(TeamFactory())
    enrol(agent)
    client = Client()
    new = "a-new-passphrase-for-the-agent"
    assert use_link(client, reset_link(agent), new).status_code == 302
    assert "_auth_user_id" not in client.session
    assert sign_in(client, agent.email, new)["Location"] == VERIFY
    assert two_factor.is_enabled(agent)


@pytest.mark.django_db(transaction=True)
def test_a_suspension_committed_while_a_reset_link_is_being_used_is_not_undone():
    """An administrator suspends an account at the moment its owner (or whoever holds the mailbox) sends
    the new password from a reset link. The reset waits for the suspension's row lock; once it gets the
    row, it must not write back the account as it read it before (active) - the suspension stands, and
    the reset is refused or at least leaves the status suspended."""
    from tests.concurrency import run_while_another_transaction_waits

    ensure_roles()
    user = make_customer(email="racing@example.org")
    admin = make_administrator()
    client = Client()
    form_url = client.get(reset_link(user))["Location"]
    new = "a-passphrase-sent-during-suspension"

    def suspend():
        services.user_suspend(
            User.objects.get(pk=user.pk), until=None, reason="Fraud investigation", actor=admin
        )

    answers = []
    run_while_another_transaction_waits(
        suspend,
        lambda: answers.append(client.post(form_url, {"new_password1": new, "new_password2": new})),
    )
    user.refresh_from_db()
    assert user.status == User.Status.SUSPENDED, (answers[0].status_code, user.status)
    assert user.suspension_reason == "Fraud investigation"


# --- password history ------------------------------------------------------------------------------------


def test_passwords_set_by_an_administrator_count_in_the_history():
    """An administrator cannot set one of the last five passwords either, and a password an
    administrator set cannot be chosen again by the user on the profile."""
    user = make_customer()
    _, admin = admin_client()
    assert set_password_in_admin(admin, user, TEST_PASSWORD).status_code == 422  # the one in use
    assert set_password_in_admin(admin, user, "temporary-admin-passphrase-1").status_code == 302
    stored = PasswordHistory.objects.filter(user=user).values_list("password", flat=True)
    assert all(not value.startswith(("temporary",)) for value in stored)  # hashes, not the words
    client = Client()
    sign_in(client, user.email, "temporary-admin-passphrase-1")
    response = change_password_on_profile(
        client, "temporary-admin-passphrase-1", "temporary-admin-passphrase-1"
    )
    assert response.status_code == 422
    ok = change_password_on_profile(client, "temporary-admin-passphrase-1", "my-own-passphrase-2")
    assert ok.status_code == 302
    again = set_password_in_admin(admin, user, "temporary-admin-passphrase-1")
    assert again.status_code == 422


def test_after_six_changes_mixed_between_admin_and_profile_the_sixth_oldest_is_allowed_again():
    user = make_customer()
    _, admin = admin_client()
    passwords = [f"history-passphrase-number-{n}" for n in range(1, 7)]
    for password in passwords:
        assert set_password_in_admin(admin, user, password).status_code == 302
    # In use: 6; the last five are 2..6, so 1 is allowed and 2 is not.
    assert set_password_in_admin(admin, user, passwords[1]).status_code == 422
    assert set_password_in_admin(admin, user, passwords[0]).status_code == 302
    assert PasswordHistory.objects.filter(user=user).count() == 5


# --- e-mail spelling at sign-in ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("strasse@example.org", "STRAßE@example.org"),  # ß is not "ss" in an address
        ("tim@example.org", "T\u0130M@example.org"),  # Turkish dotted capital I lower-cases to i + dot
        ("tim@example.org", "t\u0131m@example.org"),  # Turkish dotless i
    ],
)
def test_unicode_spellings_that_only_case_fold_alike_do_not_sign_in(stored, typed):
    """Only the address itself in any ASCII letter case signs in; a spelling that is equal only under
    Unicode case folding is another address, answered with the usual words."""
    make_customer(email=stored)
    response = sign_in(Client(), typed)
    assert response.status_code == 422
    assert "do not match an account" in response.content.decode()


def test_a_compatibility_spelling_that_does_sign_in_counts_towards_the_same_lockout(settings):
    """The sign-in form folds compatibility characters (the Kelvin sign K is K), so such a spelling
    reaches the account: its failures must count against the same account, not buy new guesses."""
    user = make_customer(email="kate@example.org")
    client = Client(REMOTE_ADDR="203.0.113.77")
    spellings = ["\u212aate@example.org", "KATE@example.org", "  kate@example.org  ", "\uff4bate@example.org"]
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, spellings[n % len(spellings)], f"wrong-{n}")
    assert sign_in(Client(REMOTE_ADDR="198.51.100.77"), user.email).status_code == 429


def test_the_kelvin_sign_spelling_signs_in_to_the_account():
    user = make_customer(email="kate@example.org")
    client = Client()
    assert sign_in(client, "\u212aATE@EXAMPLE.ORG ").status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


# --- suspension and pending -------------------------------------------------------------------------------


def test_a_suspended_agent_with_two_factor_is_told_why_at_the_password_step_not_asked_for_a_code():
    agent = make_agent(TeamFactory())
    enrol(agent)
    services.user_suspend(agent, until=None, reason="Under review", actor=None)
    response = sign_in(Client(), agent.email)
    assert response.status_code == 422
    assert "This account is suspended" in response.content.decode()
    assert "Under review" in response.content.decode()


# --- the audit trail holds no secrets --------------------------------------------------------------------


def test_the_lifecycle_audit_trail_holds_no_password_hash_token_code_or_session_key(settings):
    """Walk an account through lockout, unlock, reset, two-factor set-up, recovery use, renewal,
    administrator reset, password changes and sign-outs; no audit event may hold a password (or its
    hash), a TOTP secret or code, a recovery code (or its digest), a reset token or a session key."""
    agent = make_agent(TeamFactory(), email="lifecycle@example.org")
    secrets: set[str] = {TEST_PASSWORD}
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(attacker, agent.email, f"guess-{n}")
    _, admin_http = admin_client()
    admin_http.post(changelist_url(User), {"action": "unlock_sign_in", "_selected_action": [agent.pk]})

    link = reset_link(agent)
    secrets.add(link.rstrip("/").rsplit("/", 1)[-1])
    new = "a-lifecycle-passphrase-1"
    secrets.add(new)
    use_link(Client(), link, new)

    agent.refresh_from_db()
    client = Client()
    sign_in(client, agent.email, new)
    client.post(TWO_FACTOR, {"action": "start"})
    device = SealedTOTPDevice.objects.get(user=agent, confirmed=False)
    enable_code = code_for(device)
    secrets |= {enable_code, device.key, device.bin_key.hex()}
    page = client.post(TWO_FACTOR, {"action": "confirm", "code": enable_code, "password": new})
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", page.content.decode())
    secrets |= set(codes) | {two_factor.recovery_code_digest(code) for code in codes}
    secrets.add(client.session.session_key)

    second = Client()
    sign_in(second, agent.email, new)
    second.post(VERIFY, {"code": codes[0]})
    secrets.add(second.session.session_key)
    renew_code = code_for(SealedTOTPDevice.objects.get(user=agent), steps_ahead=1)
    secrets.add(renew_code)
    renewed = client.post(TWO_FACTOR, {"action": "codes", "code": renew_code})
    more = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", renewed.content.decode())
    secrets |= set(more) | set(StaticToken.objects.filter(device__user=agent).values_list("token", flat=True))
    client.post(VERIFY, {"code": "000000"})
    client.post(TWO_FACTOR, {"action": "codes", "code": "999999"})  # a wrong one, audited as a failure

    newer = "a-lifecycle-passphrase-2"
    secrets.add(newer)
    change_password_on_profile(client, new, newer)
    client.post(reverse("accounts:sessions_sign_out"))
    admin_http.post(changelist_url(User), {"action": "reset_two_factor", "_selected_action": [agent.pk]})
    set_password_in_admin(admin_http, agent, "a-lifecycle-passphrase-3")
    secrets.add("a-lifecycle-passphrase-3")
    admin_http.post(changelist_url(User), {"action": "sign_out_everywhere", "_selected_action": [agent.pk]})

    agent.refresh_from_db()
    secrets.add(agent.password)
    secrets |= set(PasswordHistory.objects.filter(user=agent).values_list("password", flat=True))
    # The hash's salt and digest parts, which would do as well as the whole.
    secrets |= {part for value in list(secrets) for part in value.split("$")[1:] if len(part) >= 8}

    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"lockout", "unlock", "password_change", "two_factor_enable", "recovery_code_used",
            "recovery_codes_regenerate", "two_factor_disable", "sign_out"} <= actions  # fmt: skip
    for event in AuditEvent.objects.all():
        text = json.dumps(event.changes) + event.object_repr + event.actor_repr
        leaked = sorted(secret for secret in secrets if secret and secret.lower() in text.lower())
        assert not leaked, (event.action, leaked, text)
