"""An account's life (sign-up, invitations, organisation domains, pending accounts, e-mail
verification, suspension, sign-in refusals, account pages seen by outsiders)."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts import services
from accounts.models import Invitation, Organization, User
from accounts.tokens import email_verification_token
from helpdesk.services import site_configuration_update
from tests.concurrency import run_while_another_transaction_waits
from tests.factories import (
    TEST_PASSWORD,
    InvitationFactory,
    OrganizationFactory,
    TeamFactory,
    ensure_roles,
    make_agent,
    make_customer,
    make_pending_account,
    make_ticket,
)
from tickets.models import Ticket

SIGNUP = reverse("accounts:signup")
LOGIN = reverse("accounts:login")
PROFILE = reverse("accounts:profile")
NEW_PASSWORD = "a-long-passphrase-9"


def signup(email: str, code: str = "", *, open_signup: bool = False) -> User:
    return services.user_signup(
        email=email, name="New Person", password=NEW_PASSWORD, invitation_code=code,
        open_signup=open_signup, actor=None,
    )  # fmt: skip


def post_signup(client, email: str, code: str = "", **extra):
    data = {"name": "New Person", "email": email, "password": NEW_PASSWORD, "invitation_code": code, **extra}
    return client.post(SIGNUP, data)


def login_error(client, email: str, password: str) -> tuple[int, str]:
    response = client.post(LOGIN, {"username": email, "password": password})
    body = response.content.decode()
    found = re.search(r'<div class="form-errors" role="alert">(.*?)</div>', body, re.S)
    return response.status_code, (found.group(1).strip() if found else "")


# --- Invitations ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_invitation_code_typed_in_other_case_with_spaces_joins_and_counts_one_use(client):
    """A code read off a slide, typed in lower case with spaces around it, joins the organisation and
    uses the invitation once."""
    site_configuration_update(changes={"open_signup": False}, actor=None)
    invitation = InvitationFactory(code="ACME-WELCOME-2026", max_uses=5)
    response = post_signup(client, "kim@example.org", "  acme-welcome-2026  ")
    assert response.status_code == 302
    assert User.objects.get(email="kim@example.org").organization == invitation.organization
    assert Invitation.objects.get(pk=invitation.pk).uses == 1


@pytest.mark.django_db
def test_a_sign_up_refused_for_its_password_does_not_spend_a_use_of_the_invitation(client):
    """A form sent back (weak password) keeps the input and the invitation keeps its last use."""
    invitation = InvitationFactory(max_uses=1)
    response = post_signup(client, "kim@example.org", invitation.code, password="123")
    assert response.status_code == 422
    assert 'value="kim@example.org"' in response.content.decode()
    assert Invitation.objects.get(pk=invitation.pk).uses == 0
    assert post_signup(Client(), "kim@example.org", invitation.code).status_code == 302
    assert Invitation.objects.get(pk=invitation.pk).uses == 1


@pytest.mark.django_db
def test_an_invitation_of_an_inactive_organisation_is_refused_with_a_clear_message(client):
    """An organisation switched off takes no new members: its still-active code is refused, 422."""
    invitation = InvitationFactory(max_uses=5)
    Organization.objects.filter(pk=invitation.organization_id).update(is_active=False)
    response = post_signup(client, "kim@example.org", invitation.code)
    assert response.status_code == 422
    assert services.INVITATION_INACTIVE in response.content.decode()
    assert not User.objects.filter(email="kim@example.org").exists()


@pytest.mark.django_db
def test_an_invitation_expiring_exactly_now_is_expired(clock):
    """The invitation stops working at its expiry time."""
    invitation = InvitationFactory(max_uses=5, expires_at=timezone.now())
    with pytest.raises(ValidationError, match=services.INVITATION_EXPIRED):
        signup("late@example.org", invitation.code)


@pytest.mark.django_db(transaction=True)
def test_two_sign_ups_racing_for_the_last_use_only_one_succeeds():
    """While one sign-up holds the last use, the other waits and is refused; uses never exceeds max."""
    ensure_roles()
    invitation = InvitationFactory(max_uses=2, uses=1)
    refused = []

    def second() -> None:
        try:
            signup("second@example.org", invitation.code.lower())
        except ValidationError as error:
            refused.append(error.message_dict)

    run_while_another_transaction_waits(lambda: signup("first@example.org", invitation.code), second)
    assert refused and services.INVITATION_USED_UP in refused[0]["invitation_code"]
    assert Invitation.objects.get(pk=invitation.pk).uses == 2


# --- Pending accounts (anonymous submissions) -----------------------------------------------------------


@pytest.mark.django_db
def test_open_sign_up_with_a_pending_address_does_not_take_its_tickets(client):
    """Someone signing up with the address of an anonymous submitter (without proving the mailbox) must
    not get the account nor its tickets; the pending account stays as it was."""
    site_configuration_update(changes={"open_signup": True}, actor=None)
    pending = make_pending_account("victim@example.org")
    ticket = make_ticket(pending, subject="My private problem")
    response = post_signup(client, "Victim@Example.org")
    assert response.status_code == 422
    assert services.EMAIL_PENDING in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == User.Status.PENDING and not pending.has_usable_password()
    assert "_auth_user_id" not in client.session
    assert Ticket.objects.get(pk=ticket.pk).requester_id == pending.pk


@pytest.mark.django_db
def test_a_shared_invitation_code_does_not_claim_a_pending_account_nor_spend_a_use(client):
    """A code for anybody proves no mailbox: the pending account is refused, the use is not spent."""
    pending = make_pending_account("victim@example.org")
    invitation = InvitationFactory(max_uses=1)
    response = post_signup(client, "victim@example.org", invitation.code)
    assert response.status_code == 422
    pending.refresh_from_db()
    assert pending.status == User.Status.PENDING and pending.organization_id != invitation.organization_id
    assert Invitation.objects.get(pk=invitation.pk).uses == 0


@pytest.mark.django_db
def test_an_invitation_to_the_pending_address_claims_it_with_its_tickets(client):
    """An invitation sent to the address activates the pending account (its tickets kept), signs in."""
    pending = make_pending_account("bob@example.org")
    ticket = make_ticket(pending, subject="Earlier request")
    invitation = InvitationFactory(max_uses=1, email="bob@example.org")
    response = post_signup(client, "BOB@example.org", invitation.code)
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.status == User.Status.ACTIVE and pending.email_verified_at is not None
    assert client.session["_auth_user_id"] == str(pending.pk)
    assert Ticket.objects.get(pk=ticket.pk).requester_id == pending.pk
    assert Invitation.objects.get(pk=invitation.pk).uses == 1


@pytest.mark.django_db
def test_an_invitation_to_an_unclaimed_address_whose_timed_suspension_ended_claims_it(clock):
    """A pending account whose timed suspension has ended is pending again (effective_status): an
    invitation sent to its address claims it, as it would any other pending account, instead of saying
    an account "already exists, sign in" (it has no password to sign in with)."""
    pending = make_pending_account("carol@example.org")
    services.user_suspend(pending, until=timezone.now() + timedelta(hours=1), reason="spam", actor=None)
    clock.shift(timedelta(hours=2))
    assert User.objects.get(pk=pending.pk).effective_status() == User.Status.PENDING
    invitation = InvitationFactory(max_uses=1, email="carol@example.org")
    user = signup("carol@example.org", invitation.code)
    assert user.pk == pending.pk
    claimed = User.objects.get(pk=pending.pk)
    assert claimed.effective_status() == User.Status.ACTIVE
    assert claimed.status == User.Status.ACTIVE
    assert (claimed.suspended_until, claimed.suspension_reason) == (None, "")


# --- Organisation domains ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_verified_address_in_upper_case_at_the_domain_joins_the_organisation():
    """BOB@ACME.EXAMPLE is at acme.example: verified, the customer joins Acme."""
    acme = OrganizationFactory(email_domains=["acme.example"])
    site_configuration_update(changes={"open_signup": True}, actor=None)
    user = signup("BOB@ACME.EXAMPLE", open_signup=True)
    assert user.organization is None
    services.user_email_verify(user, actor=user)
    assert User.objects.get(pk=user.pk).organization == acme


@pytest.mark.django_db
def test_verified_address_at_an_internationalised_domain_joins_the_organisation():
    """An organisation with bücher.example takes anna@bücher.example (stored in its xn-- form)."""
    org = Organization(name="Bücher", slug="buecher", email_domains=["Bücher.example"])
    org.full_clean()
    org.save()
    user = signup("anna@bücher.example", open_signup=True)
    assert user.email == "anna@xn--bcher-kva.example"
    services.user_email_verify(user, actor=user)
    assert User.objects.get(pk=user.pk).organization == org


@pytest.mark.django_db
def test_a_look_alike_subdomain_or_parent_domain_does_not_join():
    """evil-acme.example, acme.example.evil and example are not acme.example."""
    acme = OrganizationFactory(email_domains=["acme.example"])
    for email in ["x@evil-acme.example", "y@acme.example.evil", "z@example"]:
        assert services.organization_for_address(email) is None, email
    assert services.organization_for_address("w@acme.example") == acme


@pytest.mark.django_db
def test_a_verified_address_at_an_inactive_organisations_domain_joins_nobody():
    org = OrganizationFactory(email_domains=["closed.example"])
    Organization.objects.filter(pk=org.pk).update(is_active=False)
    user = signup("x@closed.example", open_signup=True)
    services.user_email_verify(user, actor=user)
    assert User.objects.get(pk=user.pk).organization is None


# --- Sign-in messages -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_sign_in_refusals_do_not_tell_unknown_wrong_password_pending_and_suspended_apart():
    """Without the right password, unknown, active, pending and suspended addresses read the same."""
    make_customer(email="active@example.org")
    make_pending_account("pending@example.org")
    services.user_suspend(make_customer(email="sus@example.org"), until=None, reason="Spam", actor=None)
    answers = {
        email: login_error(Client(), email, "wrong-password-1")
        for email in ["nobody@example.org", "active@example.org", "pending@example.org", "sus@example.org"]
    }
    assert len(set(answers.values())) == 1, answers
    assert answers["nobody@example.org"][0] == 422


@pytest.mark.django_db
def test_a_pending_account_from_an_anonymous_submission_and_an_empty_password_reads_as_unknown():
    """An empty password is a form error for every address alike."""
    make_pending_account("pending@example.org")
    assert login_error(Client(), "pending@example.org", "") == login_error(Client(), "no@example.org", "")


@pytest.mark.django_db
def test_suspension_message_shows_the_end_in_the_accounts_own_time_zone(client):
    """Told in their own zone: 09:30 UTC is 11:30 in Berlin in summer."""
    user = make_customer(email="sus@example.org", timezone="Europe/Berlin")
    end = timezone.now().replace(month=7, day=1, hour=9, minute=30, second=0, microsecond=0)
    end = end.replace(year=timezone.now().year + 1)
    services.user_suspend(user, until=end, reason="Cool down", actor=None)
    status, error = login_error(client, "sus@example.org", TEST_PASSWORD)
    assert status == 422
    assert "11:30" in error and "Europe/Berlin" in error, error


@pytest.mark.django_db
def test_a_suspension_ended_in_the_past_lets_the_person_sign_in(client, clock):
    user = make_customer(email="back@example.org")
    services.user_suspend(user, until=timezone.now() + timedelta(minutes=5), reason="", actor=None)
    clock.shift(timedelta(minutes=6))
    assert client.post(LOGIN, {"username": "back@example.org", "password": TEST_PASSWORD}).status_code == 302


@pytest.mark.django_db
def test_a_suspension_in_the_past_is_refused_by_the_service():
    user = make_customer()
    with pytest.raises(ValidationError):
        services.user_suspend(user, until=timezone.now() - timedelta(seconds=1), reason="", actor=None)


# --- Suspended agents -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_suspended_agents_session_ends_and_the_desk_is_closed_to_it():
    team = TeamFactory()
    agent = make_agent(team, email="agent@example.org")
    browser = Client()
    browser.force_login(agent)
    assert browser.get(reverse("tickets:desk_queue")).status_code == 200
    services.user_suspend(agent, until=timezone.now() + timedelta(days=1), reason="", actor=None)
    response = browser.get(reverse("tickets:desk_queue"))
    assert response.status_code == 302 and LOGIN in response["Location"]


# --- Account pages as outsiders ---------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["profile", "two_factor"])
def test_account_pages_send_anonymous_visitors_to_sign_in(client, name):
    response = client.get(reverse(f"accounts:{name}"))
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


@pytest.mark.django_db
def test_another_persons_verification_link_with_a_made_up_token_tells_nothing(client):
    """A link naming someone's account with a wrong token shows neither their address nor that they exist."""
    victim = make_customer(email="victim@example.org")
    intruder = make_customer(email="intruder@example.org")
    client.force_login(intruder)
    uid = urlsafe_base64_encode(force_bytes(victim.pk))
    for token in ["made-up", email_verification_token.make_token(intruder)]:
        page = client.get(reverse("accounts:email_verify", args=[uid, token])).content.decode()
        assert "victim@example.org" not in page
        nobody = client.get(reverse("accounts:email_verify", args=[urlsafe_base64_encode(b"999999"), token]))
        strip = lambda text: re.sub(r"[A-Za-z0-9]{64}|verify-email/[^/]+/", "", text)  # noqa: E731
        assert strip(page) == strip(nobody.content.decode())
    assert client.post(reverse("accounts:email_verify", args=[uid, "made-up"])).status_code == 422
    assert User.objects.get(pk=victim.pk).email_verified_at is None


@pytest.mark.django_db
def test_the_verification_link_of_someone_else_does_not_verify_when_another_user_presses_it(client):
    """A genuine link of account A opened by signed-in account B asks to sign in; B's POST changes nothing."""
    victim = make_customer(email="victim@example.org")
    User.objects.filter(pk=victim.pk).update(email_verified_at=None)
    victim.refresh_from_db()
    token = email_verification_token.make_token(victim)
    other = make_customer(email="other@example.org")
    client.force_login(other)
    url = reverse("accounts:email_verify", args=[urlsafe_base64_encode(force_bytes(victim.pk)), token])
    assert client.post(url).status_code == 403
    assert User.objects.get(pk=victim.pk).email_verified_at is None


@pytest.mark.django_db
def test_sign_up_mails_a_verification_link_that_its_owner_confirms(client, immediate_tasks):
    site_configuration_update(changes={"open_signup": True}, actor=None)
    assert post_signup(client, "new@example.org").status_code == 302
    (message,) = mail.outbox
    link = re.search(r"https?://\S+/accounts/verify-email/\S+/", message.body).group(0)
    path = link.split("://", 1)[1].split("/", 1)[1]
    assert client.post("/" + path).status_code == 302
    assert User.objects.get(email="new@example.org").email_verified_at is not None


# --- Invitation codes as people type them ---------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("ΚΩΔΙΚΟΣ-2026", "ΚΩΔΙΚΟΣ-2026"),  # Greek, typed exactly as given (final sigma)
        ("KİT-2026", "KİT-2026"),  # Turkish dotted capital I, typed exactly as given
        ("ÉTÉ-2026", "E\u0301TE\u0301-2026"),  # the same letters, typed decomposed (macOS input)
    ],
)
def test_an_invitation_code_the_admin_accepted_is_redeemable_as_given(stored, typed):
    """The admin accepts any code that shows text; the person typing it exactly as printed (or as their
    keyboard composes the same letters) redeems it. Before the fix codes were compared with Python's
    str.lower() against PostgreSQL's lower() and without Unicode normalisation, which disagree for these
    letters: the exact code was refused as "not valid"."""
    invitation = InvitationFactory(code=stored, max_uses=1)
    user = signup("kim@example.org", typed)
    assert user.organization_id == invitation.organization_id


@pytest.mark.django_db
def test_an_unknown_code_is_refused_even_when_sign_up_is_open(client):
    """With open sign-up a mistyped code is said, not silently ignored (the person wanted to join)."""
    site_configuration_update(changes={"open_signup": True}, actor=None)
    InvitationFactory(code="REAL-CODE", max_uses=1)
    response = post_signup(client, "kim@example.org", "REAL-C0DE")
    assert response.status_code == 422
    assert services.INVITATION_UNKNOWN in response.content.decode()
    assert not User.objects.filter(email="kim@example.org").exists()


@pytest.mark.django_db
def test_the_code_in_the_link_is_prefilled_and_escaped(client):
    body = client.get(SIGNUP, {"code": '"><script>alert(1)</script>'}).content.decode()
    assert "<script>alert(1)" not in body
    assert 'value="&quot;&gt;&lt;script&gt;' in body


@pytest.mark.django_db
def test_a_name_of_only_spaces_is_refused_with_the_input_kept(client):
    site_configuration_update(changes={"open_signup": True}, actor=None)
    response = post_signup(client, "kim@example.org", name="   ")
    assert response.status_code == 422
    assert 'value="kim@example.org"' in response.content.decode()
    assert not User.objects.filter(email="kim@example.org").exists()


# --- More sign-in refusals -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_suspension_reason_with_markup_is_shown_escaped(client):
    user = make_customer(email="sus@example.org")
    services.user_suspend(user, until=None, reason="<b>spam</b><script>x()</script>", actor=None)
    body = client.post(LOGIN, {"username": "sus@example.org", "password": TEST_PASSWORD}).content.decode()
    assert "<script>x()" not in body and "&lt;b&gt;spam" in body


@pytest.mark.django_db
def test_an_account_set_back_to_pending_is_told_how_to_activate_and_a_reset_lets_it_in(client):
    user = make_customer(email="again@example.org")
    services.user_set_pending(user, actor=None)
    status, error = login_error(client, "again@example.org", TEST_PASSWORD)
    assert status == 422 and "not activated yet" in error
    services.user_password_reset(User.objects.get(pk=user.pk), actor=user)
    assert User.objects.get(pk=user.pk).effective_status() == User.Status.ACTIVE


@pytest.mark.django_db
def test_the_lockout_page_is_the_same_for_known_and_unknown_addresses(settings):
    """After the failure limit, a known and an unknown address get the same page (no hint of accounts)."""
    make_customer(email="known@example.org")
    pages = []
    for email in ["known@example.org", "unknown@example.org"]:
        browser = Client(REMOTE_ADDR=f"10.0.{len(pages)}.1")
        for _ in range(settings.AXES_FAILURE_LIMIT):
            browser.post(LOGIN, {"username": email, "password": "wrong-password-1"})
        response = browser.post(LOGIN, {"username": email, "password": "wrong-password-1"})
        pages.append((response.status_code, re.sub(r"[A-Za-z0-9]{64}", "", response.content.decode())))
    assert pages[0] == pages[1]
    assert pages[0][0] != 422


# --- Suspended agents' tickets --------------------------------------------------------------------


@pytest.mark.django_db
def test_a_suspended_agent_keeps_no_new_work_and_their_tickets_can_be_reassigned():
    """A suspended agent cannot be given a ticket; a supervisor moves their tickets to a colleague."""
    from accounts import roles
    from tickets import services as ticket_services

    team = TeamFactory()
    agent = make_agent(team)
    colleague = make_agent(team)
    supervisor = make_agent(team, role=roles.SUPERVISOR)
    ticket = make_ticket(make_customer(), team=team)
    ticket_services.ticket_assign(ticket, assignee=agent, actor=supervisor)
    other = make_ticket(make_customer(), team=team)
    services.user_suspend(agent, until=None, reason="", actor=None)
    with pytest.raises(ticket_services.InvalidAssignee):
        ticket_services.ticket_assign(other, assignee=User.objects.get(pk=agent.pk), actor=supervisor)
    ticket_services.ticket_assign(Ticket.objects.get(pk=ticket.pk), assignee=colleague, actor=supervisor)
    assert Ticket.objects.get(pk=ticket.pk).assignee_id == colleague.pk
