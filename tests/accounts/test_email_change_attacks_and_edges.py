"""Moving an account to a new e-mail address, from attackers' and confused users' angles: the profile
form, the mailed link, the confirm page, and what the move does to sign-in, resets, verification,
organisations, the audit trail and stored task arguments."""

import json
import re

import pytest
from axes.models import AccessAttempt
from django.core import mail, signing
from django.test import Client, TestCase
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from accounts import roles, services
from accounts.models import EmailChangeRequest, User
from accounts.tasks import send_email_change_mail
from accounts.tokens import EMAIL_CHANGE_SALT, account_state, email_change_request_pk
from audit.models import AuditEvent
from tests.accounts.test_sessions import FIREFOX, IPHONE, is_signed_in, signed_in
from tests.accounts.test_two_factor import code_for, enrol, password_step
from tests.factories import (
    TEST_PASSWORD,
    OrganizationFactory,
    make_agent,
    make_customer,
    make_pending_account,
    make_user_with_role,
)

pytestmark = pytest.mark.django_db

PROFILE = reverse("accounts:profile")
LOGIN = reverse("accounts:login")
RESET = reverse("accounts:password_reset")
LINK = re.compile(r"http://testserver(/accounts/change-email/\S+/)")
RESET_LINK = re.compile(r"http://testserver(/accounts/reset/\S+/)")
VERIFY_LINK = re.compile(r"http://testserver(/accounts/verify-email/\S+/)")
NEW_PASSWORD = "a-fresh-long-passphrase-42"


def ask(client: Client, email: str, password: str = TEST_PASSWORD, **extra):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(PROFILE, {"change_email": "1", "email": email, "password": password, **extra})


def press(client: Client, link: str, **headers):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(link, **headers)


def links_to(to: str, pattern=LINK) -> list[str]:
    return [pattern.search(m.body).group(1) for m in mail.outbox if m.to == [to] and pattern.search(m.body)]


def link_to(to: str, pattern=LINK) -> str:
    (link,) = links_to(to, pattern)
    return link


def signs_in(email: str, password: str = TEST_PASSWORD) -> bool:
    return Client().post(LOGIN, {"username": email, "password": password}).status_code == 302


def token_of(link: str) -> str:
    return link.rstrip("/").rsplit("/", 1)[1]


def confirm_url(token: str) -> str:
    return reverse("accounts:email_change_confirm", kwargs={"token": token})


def customer_asked(email="old@example.org", new="new@example.org", **fields):
    user = make_customer(email=email, **fields)
    client = signed_in(user, FIREFOX)
    assert ask(client, new).status_code == 302
    return user, client, link_to(new)


# ---------------------------------------------------------------- token tampering


@pytest.mark.usefixtures("immediate_tasks")
def test_the_payload_is_readable_but_swapping_the_request_breaks_the_signature():
    user, client, link = customer_asked()
    token = token_of(link)
    # The signed value can be unpacked by anyone (it is signed, not encrypted): point it at another request.
    payload = signing.loads(token, salt=EMAIL_CHANGE_SALT)
    other = EmailChangeRequest.objects.create(
        user=make_customer(), new_email="evil@example.org", account_state="x"
    )
    value, _, signature = token.rpartition(":")
    forged_payload = signing.b64_encode(json.dumps({**payload, "r": other.pk}).encode()).decode()
    _, stamp = value.rsplit(":", 1)
    forged = f"{forged_payload}:{stamp}:{signature}"
    assert email_change_request_pk(forged) is None
    response = press(client, confirm_url(forged))
    assert response.status_code == 422
    # A token signed with another salt (e.g. a plain signing.dumps of the same payload) is refused too.
    other_salt = signing.dumps({**payload, "r": other.pk})
    assert press(client, confirm_url(other_salt)).status_code == 422
    user.refresh_from_db()
    assert user.email == "old@example.org"


@pytest.mark.usefixtures("immediate_tasks")
def test_a_link_of_one_account_does_not_move_another_even_when_the_other_is_signed_in():
    victim, _, link = customer_asked()
    other = make_customer(email="other@example.org")
    other_client = signed_in(other, IPHONE)
    assert press(other_client, link).status_code == 403
    other.refresh_from_db()
    victim.refresh_from_db()
    assert (other.email, victim.email) == ("other@example.org", "old@example.org")


@pytest.mark.usefixtures("immediate_tasks")
def test_a_link_from_before_an_admin_changed_the_address_is_spent():
    user, client, link = customer_asked()
    User.objects.filter(pk=user.pk).update(email="admin-set@example.org")
    assert "expired or is not valid" in client.get(link).content.decode()
    assert press(client, link).status_code == 422
    user.refresh_from_db()
    assert user.email == "admin-set@example.org"


@pytest.mark.usefixtures("immediate_tasks")
def test_a_used_link_stays_spent_after_the_address_is_moved_back():
    """A user expects a link that 'works once' (mail, commit message, page text) to work once. The account
    moves old→new with the link, then back new→old (the owner with a second link, or support 'giving the
    account its old address back' as the notice promises): the first link's state hash (pk|email|password)
    matches again, so the spent link is 'ready' once more and moves the account to new@ a second time. With
    a hijack, an attacker's still-open session re-takes the account with the link it already used."""
    user, client, first_link = customer_asked()
    assert press(client, first_link).status_code == 302
    assert ask(client, "old@example.org").status_code == 302
    assert press(client, link_to("old@example.org")).status_code == 302
    user.refresh_from_db()
    assert user.email == "old@example.org"
    response = press(client, first_link)
    user.refresh_from_db()
    assert user.email == "old@example.org", "a spent link moved the account a second time"
    assert response.status_code == 422
    assert AuditEvent.objects.filter(action="email_change").count() == 2


def test_the_link_is_bound_to_the_account_as_it_was_when_asked_not_when_the_mail_went_out():
    """If the owner changes the password while the mail is still queued (worker busy or down), the link
    is spent all the same: the account's state is taken when the change is asked, and the mail is not
    sent at all."""
    user = make_customer(email="old@example.org")
    client = signed_in(user, FIREFOX)
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(PROFILE, {"change_email": "1", "email": "evil@example.org", "password": TEST_PASSWORD})
    (queued,) = DBTaskResult.objects.filter(task_path="accounts.tasks.send_email_change_mail")
    # The owner takes the account back before the worker gets to the mail.
    services.user_password_change(user, password=NEW_PASSWORD, actor=user, keep_session_key=None)
    assert not send_email_change_mail.call(*queued.args_kwargs["args"], **queued.args_kwargs["kwargs"])
    assert not [m for m in mail.outbox if m.to == ["evil@example.org"]]
    (change,) = EmailChangeRequest.objects.filter(user=user)
    user.refresh_from_db()
    assert services.email_change_link_state(change, viewer=user) == "invalid"


@pytest.mark.usefixtures("immediate_tasks")
def test_a_2000_character_token_and_odd_tokens_answer_the_invalid_page():
    client = signed_in(make_customer(), FIREFOX)
    for token in ["A" * 2000, "." + "x" * 1999, "a:b:c", "%00", "é" * 50, ":::", "...."]:
        url = confirm_url(token)
        assert client.get(url).status_code == 200
        response = client.post(url)
        assert response.status_code == 422, token
        assert "expired or is not valid" in response.content.decode()


# ---------------------------------------------------------------- two pending requests


@pytest.mark.usefixtures("immediate_tasks")
def test_two_pending_requests_using_the_newer_spends_the_older():
    user = make_customer(email="old@example.org")
    client = signed_in(user, FIREFOX)
    ask(client, "first@example.org")
    ask(client, "second@example.org")
    first, second = link_to("first@example.org"), link_to("second@example.org")
    # Asking again spends the link asked before: only the newest one works.
    assert "expired or is not valid" in client.get(first).content.decode()
    assert "Change my address" in client.get(second).content.decode()
    assert press(client, second).status_code == 302
    assert "expired or is not valid" in client.get(first).content.decode()
    assert press(client, first).status_code == 422
    user.refresh_from_db()
    assert user.email == "second@example.org"


@pytest.mark.usefixtures("immediate_tasks")
def test_two_accounts_asking_for_the_same_address_only_the_first_to_confirm_gets_it():
    _one, one_client, one_link = customer_asked(email="one@example.org", new="shared@example.org")
    two = make_customer(email="two@example.org")
    two_client = signed_in(two, IPHONE)
    assert ask(two_client, "SHARED@example.org").status_code == 302
    (two_link,) = [LINK.search(m.body).group(1) for m in mail.outbox if m.to == ["SHARED@example.org"]]
    assert press(one_client, one_link).status_code == 302
    response = press(two_client, two_link)
    assert response.status_code == 422 and "Another account uses" in response.content.decode()
    two.refresh_from_db()
    assert two.email == "two@example.org"


@pytest.mark.django_db(transaction=True)
def test_two_accounts_confirming_the_same_address_at_the_same_moment():
    from tests.concurrency import run_while_another_transaction_waits

    one, two = make_customer(email="one@example.org"), make_customer(email="two@example.org")
    token_one, token_two = (
        EmailChangeRequest.objects.create(
            user=one, new_email="same@example.org", account_state=account_state(one)
        ),
        EmailChangeRequest.objects.create(
            user=two, new_email="same@example.org", account_state=account_state(two)
        ),
    )
    outcome = {}

    def second():
        try:
            services.user_email_change(token_two, actor=two, keep_session_key=None)
        except Exception as error:
            outcome["error"] = error

    run_while_another_transaction_waits(
        lambda: services.user_email_change(token_one, actor=one, keep_session_key=None), second
    )
    from django.core.exceptions import ValidationError

    assert isinstance(outcome.get("error"), ValidationError), outcome
    assert "email" in outcome["error"].error_dict
    assert User.objects.get(pk=one.pk).email == "same@example.org"
    assert User.objects.get(pk=two.pk).email == "two@example.org"


# ---------------------------------------------------------------- two-factor, status, staff


@pytest.mark.usefixtures("immediate_tasks")
def test_a_two_factor_user_signs_in_with_password_and_code_from_the_link_then_moves():
    agent = make_agent(email="agent@example.org")
    owner, _ = (Client(), None)
    device, _ = enrol(owner, agent)
    assert ask(owner, "agent.new@example.org").status_code == 302
    link = link_to("agent.new@example.org")

    visitor = Client()
    shown = visitor.get(link).content.decode()
    assert "Sign in to change it" in shown
    step = password_step(visitor, agent, next_url=link)
    assert step.status_code == 302 and step.url == reverse("accounts:two_factor_verify")
    done = visitor.post(reverse("accounts:two_factor_verify"), {"code": code_for(device, steps_ahead=1)})
    assert done.status_code == 302 and done.url == link
    assert "Change my address" in visitor.get(link).content.decode()
    assert press(visitor, link).status_code == 302
    agent.refresh_from_db()
    assert agent.email == "agent.new@example.org"
    # Two-factor stays on: the new address plus the password alone does not sign in.
    step = password_step(Client(), agent)
    assert step.status_code == 302 and step.url == reverse("accounts:two_factor_verify")


@pytest.mark.usefixtures("immediate_tasks")
def test_a_pending_account_half_way_through_two_factor_cannot_use_the_link():
    agent = make_agent(email="agent@example.org")
    owner = Client()
    enrol(owner, agent)
    ask(owner, "agent.new@example.org")
    link = link_to("agent.new@example.org")
    half = Client()
    password_step(half, agent, next_url=link)  # password right, code not yet given
    assert half.post(link).status_code == 403
    agent.refresh_from_db()
    assert agent.email == "agent@example.org"


@pytest.mark.usefixtures("immediate_tasks")
def test_a_suspended_account_is_mailed_no_link_and_its_old_link_does_nothing():
    user, client, link = customer_asked()
    services.user_suspend(user, until=None, reason="abuse", actor=None)
    assert not is_signed_in(client)
    services.user_activate(user, actor=None)  # lifted: the link is still bound to the same state
    # While suspended the task sends nothing.
    services.user_suspend(user, until=None, reason="abuse", actor=None)
    mail.outbox.clear()
    assert (
        send_email_change_mail.call(
            EmailChangeRequest.objects.get(user=user).pk, domain="testserver", use_https=False
        )
        is False
    )
    assert mail.outbox == []
    assert Client().post(link).status_code == 422  # not even "sign in": the link is dead while suspended
    user.refresh_from_db()
    assert user.email == "old@example.org"


@pytest.mark.usefixtures("immediate_tasks")
def test_a_pending_account_cannot_be_moved_by_a_made_link():
    pending = make_pending_account("visitor@example.org")
    change = EmailChangeRequest.objects.create(
        user=pending, new_email="elsewhere@example.org", account_state=account_state(pending)
    )
    assert services.email_change_link_state(change, viewer=pending) == "invalid"


@pytest.mark.usefixtures("immediate_tasks")
def test_staff_moving_to_an_organisations_domain_do_not_join_it():
    OrganizationFactory(slug="acme", email_domains=["acme.example"])
    agent = make_agent(email="agent@example.org")
    client = signed_in(agent, FIREFOX)
    ask(client, "agent@acme.example")
    assert press(client, link_to("agent@acme.example")).status_code == 302
    agent.refresh_from_db()
    assert agent.email == "agent@acme.example" and agent.organization_id is None


@pytest.mark.usefixtures("immediate_tasks")
def test_a_customer_without_an_organisation_joins_the_one_of_the_new_domain():
    acme = OrganizationFactory(slug="acme", email_domains=["acme.example"])
    user = make_user_with_role(roles.CUSTOMER, organization=None, email="solo@example.org")
    client = signed_in(user, FIREFOX)
    ask(client, "solo@acme.example")
    assert press(client, link_to("solo@acme.example")).status_code == 302
    user.refresh_from_db()
    assert user.organization == acme


@pytest.mark.usefixtures("immediate_tasks")
def test_a_customer_in_an_organisation_stays_in_it_when_moving_to_another_domain():
    OrganizationFactory(slug="acme", email_domains=["acme.example"])
    user, client, link = customer_asked(new="me@acme.example")
    before = user.organization_id
    assert press(client, link).status_code == 302
    user.refresh_from_db()
    assert user.organization_id == before


# ---------------------------------------------------------------- after the move


@pytest.mark.usefixtures("immediate_tasks")
def test_after_the_move_the_old_address_gets_no_reset_and_the_new_one_resets_the_password():
    _user, client, link = customer_asked()
    press(client, link)
    mail.outbox.clear()
    with TestCase.captureOnCommitCallbacks(execute=True):
        Client().post(RESET, {"email": "old@example.org"})
    assert mail.outbox == []
    with TestCase.captureOnCommitCallbacks(execute=True):
        Client().post(RESET, {"email": "new@example.org"})
    reset = link_to("new@example.org", RESET_LINK)
    visitor = Client()
    shown = visitor.get(reset, follow=True)
    form_url = shown.redirect_chain[-1][0]
    response = visitor.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert signs_in("new@example.org", NEW_PASSWORD)
    assert not signs_in("old@example.org", NEW_PASSWORD)


@pytest.mark.usefixtures("immediate_tasks")
def test_a_reset_link_mailed_to_the_old_address_before_the_move_stops_working():
    user = make_customer(email="old@example.org")
    with TestCase.captureOnCommitCallbacks(execute=True):
        Client().post(RESET, {"email": "old@example.org"})
    reset = link_to("old@example.org", RESET_LINK)
    client = signed_in(user, FIREFOX)
    ask(client, "new@example.org")
    press(client, link_to("new@example.org"))
    shown = Client().get(reset, follow=True)
    assert shown.context["validlink"] is False
    form_url = shown.redirect_chain[-1][0] if shown.redirect_chain else reset
    Client().post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert not signs_in("new@example.org", NEW_PASSWORD) and signs_in("new@example.org")


@pytest.mark.usefixtures("immediate_tasks")
def test_a_verification_link_mailed_to_the_old_address_does_nothing_after_the_move():
    user = make_customer(email="old@example.org", email_verified_at=None)
    client = signed_in(user, FIREFOX)
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(reverse("accounts:email_verification_send"))
    verify = link_to("old@example.org", VERIFY_LINK)
    ask(client, "new@example.org")
    press(client, link_to("new@example.org"))
    user.refresh_from_db()
    verified_at = user.email_verified_at
    # Later the new address is unverified again (an admin edit): the old link must not confirm it.
    User.objects.filter(pk=user.pk).update(email_verified_at=None)
    response = client.post(verify)
    assert response.status_code == 422
    user.refresh_from_db()
    assert user.email_verified_at is None and verified_at is not None


@pytest.mark.usefixtures("immediate_tasks")
def test_a_lockout_of_the_old_address_does_not_follow_and_failures_on_the_new_count(settings):
    user, client, link = customer_asked()
    for _ in range(2):
        Client().post(LOGIN, {"username": "old@example.org", "password": "wrong"})
    press(client, link)
    assert signs_in("new@example.org")
    # An administrator's unlock of the account forgets attempts under its current address.
    for _ in range(2):
        Client().post(LOGIN, {"username": "new@example.org", "password": "wrong"})
    assert AccessAttempt.objects.filter(username="new@example.org").exists()
    user.refresh_from_db()
    services.user_unlock(user, actor=None)
    assert not AccessAttempt.objects.filter(username="new@example.org").exists()


@pytest.mark.usefixtures("immediate_tasks")
def test_the_confirming_session_stays_others_end_and_the_notice_goes_to_the_old_address_only():
    user, client, link = customer_asked()
    phone = signed_in(user, IPHONE)
    mail.outbox.clear()
    press(client, link)
    assert is_signed_in(client) and not is_signed_in(phone)
    assert [m.to for m in mail.outbox] == [["old@example.org"]]
    assert token_of(link) not in mail.outbox[0].body


# ---------------------------------------------------------------- the confirm URL's methods


@pytest.mark.usefixtures("immediate_tasks")
def test_head_put_delete_and_htmx_on_the_confirm_url():
    user, client, link = customer_asked()
    assert client.head(link).status_code == 200
    for method in (client.put, client.delete, client.patch, client.options):
        assert method(link).status_code == 405
    user.refresh_from_db()
    assert user.email == "old@example.org"
    response = press(client, link, headers={"HX-Request": "true"})
    assert response.status_code in (200, 302) and response.status_code < 500
    user.refresh_from_db()
    assert user.email == "new@example.org"


@pytest.mark.usefixtures("immediate_tasks")
def test_the_confirm_post_needs_the_csrf_token():
    user = make_customer(email="old@example.org")
    client = Client(enforce_csrf_checks=True, HTTP_USER_AGENT=FIREFOX)
    client.force_login(user)
    shown = client.get(PROFILE).content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', shown).group(1)
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(PROFILE, {"change_email": "1", "email": "new@example.org", "password": TEST_PASSWORD,
                              "csrfmiddlewaretoken": csrf})  # fmt: skip
    link = link_to("new@example.org")
    assert client.post(link).status_code == 403
    user.refresh_from_db()
    assert user.email == "old@example.org"


@pytest.mark.usefixtures("immediate_tasks")
def test_the_link_pages_escape_the_address_and_do_not_show_the_owner_to_others():
    _user, _client, link = customer_asked()
    anonymous = Client().get(link).content.decode()
    assert "old@example.org" not in anonymous
    assert "new@example.org" in anonymous


# ---------------------------------------------------------------- audit and stored tasks


def test_no_token_in_audit_rows_or_stored_task_arguments():
    """With the suite's DatabaseBackend: the request stores a task whose arguments hold no link."""
    user = make_customer(email="old@example.org")
    client = signed_in(user, FIREFOX)
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(PROFILE, {"change_email": "1", "email": "new@example.org", "password": TEST_PASSWORD})
    (queued,) = DBTaskResult.objects.filter(task_path="accounts.tasks.send_email_change_mail")
    assert queued.args_kwargs == {
        "args": [EmailChangeRequest.objects.get(user=user).pk],
        "kwargs": {"domain": "testserver", "use_https": False},
    }
    send_email_change_mail.call(*queued.args_kwargs["args"], **queued.args_kwargs["kwargs"])
    token = token_of(link_to("new@example.org"))
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert client.post(confirm_url(token)).status_code == 302
    stored = json.dumps(list(AuditEvent.objects.values()), default=str)
    stored += json.dumps(list(DBTaskResult.objects.values()), default=str)
    assert token not in stored and token[:20] not in stored
    assert TEST_PASSWORD not in stored
    request_event = AuditEvent.objects.get(action="email_change_request")
    assert request_event.changes == {"email": ["old@example.org", "new@example.org"]}
    assert request_event.category == AuditEvent.Category.SECURITY
    change_event = AuditEvent.objects.get(action="email_change")
    assert change_event.actor == user and change_event.changes["email"] == [
        "old@example.org",
        "new@example.org",
    ]
    notice = DBTaskResult.objects.get(task_path="accounts.tasks.send_email_changed_notice")
    assert notice.args_kwargs["args"] == [user.pk, "old@example.org"]


# ---------------------------------------------------------------- the profile page


@pytest.mark.usefixtures("immediate_tasks")
def test_a_refused_change_refills_only_its_own_form_and_the_rest_of_the_page_is_intact():
    user = make_customer(email="old@example.org", name="Ada Lovelace")
    client = signed_in(user, FIREFOX)
    response = ask(client, "new@example.org", "wrong-password")
    body = response.content.decode()
    assert response.status_code == 422
    assert 'value="new@example.org"' in body
    assert "wrong-password" not in body
    assert 'value="Ada Lovelace"' in body  # the details form shows the stored name
    assert services.PASSWORD_INCORRECT.replace("'", "&#x27;") in body
    # The error is in the e-mail form only: the password-change form is shown without errors.
    assert body.count('class="form-errors"') == 1
    assert 'id="email-change-password_error"' in body
    assert 'aria-invalid="true"' in body and 'id="id_old_password"' in body
    assert body.count('aria-invalid="true"') == 1
    # A refused change of the password next to it does not show the e-mail form as failed.
    other = client.post(PROFILE, {"change_password": "1", "old_password": "x", "new_password1": "a",
                                  "new_password2": "b"}).content.decode()  # fmt: skip
    assert 'id="email-change-email_error"' not in other and 'id="email-change-password_error"' not in other


@pytest.mark.usefixtures("immediate_tasks")
def test_a_blank_submission_says_both_fields_are_required():
    client = signed_in(make_customer(email="old@example.org"), FIREFOX)
    response = ask(client, "", "")
    body = response.content.decode()
    assert response.status_code == 422
    assert 'id="email-change-email_error"' in body and 'id="email-change-password_error"' in body
    assert mail.outbox == []


@pytest.mark.usefixtures("immediate_tasks")
def test_the_success_message_escapes_and_the_mail_has_no_html():
    user = make_customer(email="old@example.org", name="<b>Bob</b>")
    client = signed_in(user, FIREFOX)
    ask(client, "new@example.org")
    shown = client.get(PROFILE).content.decode()
    assert "<b>Bob</b>" not in shown
    (message,) = mail.outbox
    assert message.subject.startswith("Confirm your new e-mail address")
    assert "\n" not in message.subject


@pytest.mark.usefixtures("immediate_tasks")
def test_asking_for_an_address_of_a_pending_account_is_refused_without_a_500():
    make_pending_account("visitor@example.org")
    client = signed_in(make_customer(email="old@example.org"), FIREFOX)
    response = ask(client, "Visitor@Example.org")
    assert response.status_code == 422 and "waiting to be activated" in response.content.decode()


@pytest.mark.usefixtures("immediate_tasks")
def test_a_link_opened_after_the_address_became_a_pending_account_says_taken():
    user, client, link = customer_asked()
    make_pending_account("new@example.org")
    response = press(client, link)
    assert response.status_code == 422
    user.refresh_from_db()
    assert user.email == "old@example.org"


@pytest.mark.usefixtures("immediate_tasks")
def test_opening_the_link_signed_out_leads_through_sign_in_with_the_old_address_and_back():
    user, _, link = customer_asked()
    visitor = Client()
    shown = visitor.get(link).content.decode()
    login_link = re.search(r'href="(/accounts/login/\?next=[^"]+)"', shown).group(1)
    signed = visitor.post(
        login_link.replace("&amp;", "&"), {"username": "old@example.org", "password": TEST_PASSWORD}
    )
    assert signed.status_code == 302 and signed.url == link
    assert press(visitor, link).status_code == 302
    user.refresh_from_db()
    assert user.email == "new@example.org"
    assert "has the address" in visitor.get(link).content.decode()  # opened again: done, not an error


def test_a_double_clicked_change_button_tells_the_second_click_the_address_moved(
    monkeypatch, immediate_tasks
):
    """Two sendings at once: the second read the link before the first moved the account, and the locked
    check then finds it used. It hears what a later click hears (done), not that the link is dead."""
    user = make_customer(email="old@example.org")
    client = signed_in(user, FIREFOX)
    ask(client, "new@example.org")
    link = link_to("new@example.org")
    as_read_before = services.email_change_for_link(token_of(link))  # the second sending's read
    assert press(client, link).status_code == 302
    monkeypatch.setattr("accounts.views.services.email_change_for_link", lambda _token: as_read_before)
    second = press(client, link)
    assert second.status_code == 200 and "not valid any more" not in second.content.decode()
    assert "new@example.org" in second.content.decode()
    assert User.objects.get(pk=user.pk).email == "new@example.org"


def test_a_change_link_spent_by_a_newer_request_while_pressed_is_refused_not_a_server_error(
    monkeypatch, immediate_tasks
):
    """Another tab asked for yet another address while this press waited (its request is gone): the
    press is refused as a link no longer valid, and the answer to it reads the state again without the
    request."""
    user = make_customer(email="old@example.org")
    client = signed_in(user, FIREFOX)
    ask(client, "new@example.org")
    original = services.user_email_change

    def newer_request_commits_first(change, **kwargs):
        EmailChangeRequest.objects.filter(pk=change.pk).delete()
        return original(change, **kwargs)

    monkeypatch.setattr("accounts.views.services.user_email_change", newer_request_commits_first)
    response = press(client, link_to("new@example.org"))
    assert response.status_code == 422 and "not valid any more" in response.content.decode()
    assert User.objects.get(pk=user.pk).email == "old@example.org"
