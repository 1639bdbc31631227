"""E-mail addresses everywhere they are typed (sign-up, sign-in, password reset, anonymous
submission, invitations, the admin's user and organisation forms). The same address must be taken or
refused alike everywhere, normalised alike, and every refusal is a 422 with the form refilled."""

# ruff: noqa: RUF002 (look-alike letters on purpose)

import uuid

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.models import Invitation, Organization, User
from helpdesk.services import site_configuration_update
from tests.admin_pages import change_url, post_change
from tests.factories import (
    TEST_PASSWORD,
    InvitationFactory,
    OrganizationFactory,
    make_customer,
)
from tests.helpdesk.test_admin_integrity import NO_ROLE_ROWS
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

SIGNUP = reverse("accounts:signup")
LOGIN = reverse("accounts:login")
RESET = reverse("accounts:password_reset")
SUBMIT = reverse("tickets:portal_submit")


IDN_UNICODE = "anna@bücher.example"
IDN_ASCII = "anna@xn--bcher-kva.example"
NEW_PASSWORD = "a-long-passphrase-9"


@pytest.fixture(autouse=True)
def _open(settings):
    settings.RATE_LIMITS_ENABLED = False
    site_configuration_update(changes={"open_signup": True, "anonymous_submission": True}, actor=None)


def signup_post(client, email, name="Anna Example"):
    return client.post(SIGNUP, {"name": name, "email": email, "password": NEW_PASSWORD})


def submit_post(client, email, name="Visitor Person", subject="Printer jam"):
    data = {"name": name, "email": email, "subject": subject, "description": "Paper stuck",
            "submission_key": str(uuid.uuid4())}  # fmt: skip
    return client.post(SUBMIT, data)


def verified_customer(email: str) -> User:
    customer = make_customer(email=email)
    services.user_email_verify(customer, actor=customer)
    customer.refresh_from_db()
    return customer


# --- Unicode IDN domains: the same address, two spellings ------------------------------------------------


def test_lookups_find_the_account_of_an_idn_address_in_either_spelling(client, immediate_tasks):
    """Probe: sign-in and password reset find anna@xn--bcher-kva.example typed as anna@bücher.example."""
    account = verified_customer(IDN_ASCII)
    response = client.post(LOGIN, {"username": IDN_UNICODE, "password": TEST_PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(account.pk)
    client.logout()
    mail.outbox.clear()
    assert client.post(RESET, {"email": IDN_UNICODE}).status_code == 302
    assert [message.to for message in mail.outbox] == [[IDN_ASCII]]


def test_anonymous_submission_takes_the_unicode_spelling_of_a_known_customers_idn_address(client):
    """A customer whose account is anna@xn--bcher-kva.example signs in and resets their password by
    typing anna@bücher.example; on the portal's anonymous form the very same spelling is refused (422,
    "use the xn-- form"), although the service would file the ticket under that account. The same
    address should be taken the same way in every form."""
    account = verified_customer(IDN_ASCII)
    response = submit_post(client, IDN_UNICODE)
    assert response.status_code == 302, response.content.decode()[:400]
    assert Ticket.objects.get().requester == account


def test_anonymous_submission_takes_a_new_unicode_idn_address_in_its_xn_form(client):
    """Organisation domains and invitations take bücher.example and store xn--bcher-kva.example; a
    visitor typing their address as they read it (anna@bücher.example) is refused with a message about
    "xn-- form" that a customer cannot act on. Stored as anna@xn--bcher-kva.example."""
    response = submit_post(client, IDN_UNICODE)
    assert response.status_code == 302, response.content.decode()[:400]
    assert User.objects.get().email == IDN_ASCII


def test_signup_takes_a_unicode_idn_address_in_its_xn_form(client):
    """Sign-up refuses anna@bücher.example (422, "use its xn-- form"), while sign-in and password
    reset accept that spelling and an invitation to it is stored converted. The account is
    created as anna@xn--bcher-kva.example."""
    response = signup_post(client, IDN_UNICODE)
    assert response.status_code == 302, response.content.decode()[:400]
    assert User.objects.get().email == IDN_ASCII


def test_a_unicode_idn_signup_refusal_is_a_422_with_the_form_refilled(client):
    """Probe: whatever the decision, a refused IDN address comes back at 422 with the form refilled."""
    response = signup_post(client, IDN_UNICODE)
    if response.status_code == 302:
        return
    assert response.status_code == 422
    body = response.content.decode()
    assert 'value="Anna Example"' in body
    assert "bücher.example" in body


def test_an_invitation_to_an_idn_address_is_redeemed_with_the_address_as_typed_in_the_invitation(client):
    """The administrator types the invitation for anna@bücher.example (accepted, stored as xn--); the
    invited person types the address they were invited with on the sign-up page and is refused with
    "use its xn-- form". The sign-up with the invited spelling succeeds."""
    invitation = InvitationFactory(email=IDN_UNICODE)
    invitation.full_clean()
    invitation.save()
    response = client.post(
        SIGNUP,
        {"name": "Anna", "email": IDN_UNICODE, "password": NEW_PASSWORD, "invitation_code": invitation.code},
    )
    assert response.status_code == 302, response.content.decode()[:400]
    assert User.objects.get().organization == invitation.organization


def test_the_admin_creates_a_user_at_an_idn_address_as_it_takes_invitations_to_it(superuser_client):
    """In the same admin, an invitation and an organisation domain take bücher.example (stored in the
    xn-- form), but the user add form refuses anna@bücher.example. The user is created as
    anna@xn--bcher-kva.example, as the invitation admin would store it."""
    response = superuser_client.post(
        reverse("admin:accounts_user_add"),
        {"email": IDN_UNICODE, "name": "Anna", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD,
         "usable_password": "true", **NO_ROLE_ROWS},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:400]
    assert User.objects.filter(email=IDN_ASCII).exists()


def test_no_two_accounts_differ_only_in_their_idn_spelling(client):
    """Probe: an account at the xn-- spelling blocks any second account for the Unicode spelling."""
    make_customer(email=IDN_ASCII)
    signup_post(client, IDN_UNICODE.replace("anna", "Anna"))
    submit_post(client, IDN_UNICODE)
    assert User.objects.filter(email__iendswith="xn--bcher-kva.example").count() == 1
    assert not User.objects.filter(email__contains="ü").exists()


# --- letter case and whitespace -------------------------------------------------------------------------


def test_signup_stores_the_domain_in_lower_case_and_the_other_case_signs_in(client):
    response = signup_post(client, "  Anna.Smith@EXAMPLE.ORG  ")
    assert response.status_code == 302
    assert User.objects.get().email == "Anna.Smith@example.org"
    client.logout()
    response = client.post(LOGIN, {"username": " anna.smith@Example.Org ", "password": NEW_PASSWORD})
    assert response.status_code == 302


def test_no_two_accounts_differ_only_in_case_by_any_route(superuser_client):
    make_customer(email="anna@example.org")
    assert signup_post(Client(), "ANNA@Example.org").status_code == 422
    assert submit_post(Client(), "ANNA@Example.org").status_code == 422  # unverified: sign in first
    response = superuser_client.post(
        reverse("admin:accounts_user_add"),
        {"email": "Anna@EXAMPLE.org", "name": "Anna", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD,
         "usable_password": "true"},
    )  # fmt: skip
    assert response.status_code == 422
    assert "already exists" in response.content.decode()
    assert User.objects.filter(email__iexact="anna@example.org").count() == 1


def test_the_admin_cannot_rename_one_account_to_anothers_address_in_other_case(superuser_client):
    make_customer(email="anna@example.org")
    bob = make_customer(email="bob@example.org")
    response = post_change(superuser_client, bob, email="ANNA@example.ORG")
    assert response.status_code == 422
    bob.refresh_from_db()
    assert bob.email == "bob@example.org"


def test_an_anonymous_submission_in_other_case_files_under_the_pending_account(client):
    first = submit_post(client, "Visitor@Example.org", subject="First")
    assert first.status_code == 302
    second = submit_post(client, " visitor@EXAMPLE.ORG ", subject="Second")
    assert second.status_code == 302
    assert User.objects.count() == 1
    assert User.objects.get().email == "Visitor@example.org"
    assert Ticket.objects.filter(requester=User.objects.get()).count() == 2


def test_the_admin_writing_the_same_address_in_capitals_keeps_it_verified(superuser_client):
    """An administrator who retypes a customer's address with the domain in capitals (ANNA@EXAMPLE.ORG
    for anna@example.org) changes nothing: the model stores the domain lower-cased again and every
    look-up is case-insensitive. Yet the admin treats it as a new address and clears the verification,
    so the customer can no longer submit anonymously and must confirm again. Still verified."""
    customer = verified_customer("anna@example.org")
    response = post_change(superuser_client, customer, email="anna@EXAMPLE.ORG")
    assert response.status_code == 302, response.content.decode()[:400]
    customer.refresh_from_db()
    assert customer.email == "anna@example.org"
    assert customer.email_verified_at is not None


def test_the_admin_changing_the_address_to_another_mailbox_unverifies_it(superuser_client):
    """Probe: a genuinely new address is unverified."""
    customer = verified_customer("anna@example.org")
    response = post_change(superuser_client, customer, email="anna@elsewhere.example")
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.email_verified_at is None


# --- malformed input: trailing dots, control characters, length ---------------------------------------


@pytest.mark.parametrize(
    "email",
    [
        "anna@example.org.",
        "anna@example..org",
        "anna@exa mple.org",
        "anna\x00@example.org",
        "anna@example.org\x00",
        "anna\x01@example.org",
        "anna\n@example.org",
        "anna@example.org\r\nBcc: x@example.org",
    ],
    ids=["trailing-dot", "double-dot", "space", "nul-local", "nul-end", "control", "newline", "header"],
)
def test_a_malformed_address_is_refused_alike_everywhere_with_a_422(client, email):
    signup = signup_post(client, email)
    assert signup.status_code == 422
    assert 'value="Anna Example"' in signup.content.decode()
    submit = submit_post(client, email)
    assert submit.status_code == 422
    assert "Printer jam" in submit.content.decode()
    assert client.post(RESET, {"email": email}).status_code == 422
    login = client.post(LOGIN, {"username": email, "password": TEST_PASSWORD})
    assert login.status_code == 422
    assert not User.objects.exists()
    assert not Ticket.objects.exists()


def long_address(length: int) -> str:
    domain = ".".join(["d" * 60] * 3) + ".example"  # 191 characters
    local = "a" * (length - len(domain) - 1)
    address = f"{local}@{domain}"
    assert len(address) == length
    return address


@pytest.mark.parametrize("length", [255, 300, 320, 330])
def test_an_address_over_254_characters_is_refused_alike_everywhere(client, length):
    email = long_address(length)
    signup = signup_post(client, email)
    assert signup.status_code == 422
    assert "Anna Example" in signup.content.decode()
    submit = submit_post(client, email)
    assert submit.status_code == 422
    assert client.post(RESET, {"email": email}).status_code == 422
    assert client.post(LOGIN, {"username": email, "password": "x"}).status_code == 422
    assert not User.objects.exists()


def test_a_254_character_address_is_taken_everywhere(client, immediate_tasks):
    email = long_address(254)
    response = signup_post(client, email)
    assert response.status_code == 302, response.content.decode()[:300]
    client.logout()
    assert client.post(LOGIN, {"username": email.upper(), "password": NEW_PASSWORD}).status_code == 302


def test_the_signup_length_message_is_the_same_as_the_other_forms(client):
    """Probe: a too-long address is refused beside the address field on sign-up, not as a page error."""
    response = signup_post(client, long_address(300))
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert "email" in errors


# --- look-alike letters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "letter", ["\u212a", "\u017f", "\u0131", "\u0130"], ids=["kelvin", "long-s", "dotless-i", "dotted-I"]
)
def test_a_lookalike_letter_makes_no_account_anywhere(client, letter):
    address = f"{letter}im@example.org"
    assert signup_post(client, address).status_code == 422
    assert submit_post(client, address).status_code == 422
    assert not User.objects.exists()


def test_a_kelvin_sign_password_reset_mails_only_the_stored_address(client, immediate_tasks):
    """Probe: "Kim" spelled with U+212A KELVIN SIGN lower-cases to kim@: the mail goes to the account's
    own address, never to the address as typed."""
    make_customer(email="kim@example.org")
    mail.outbox.clear()
    client.post(RESET, {"email": "\u212aim@example.org"})
    for message in mail.outbox:
        assert message.to == ["kim@example.org"]


def test_a_lookalike_locked_out_account_stays_locked_for_the_kelvin_spelling(client):
    make_customer(email="kim@example.org")
    for _ in range(5):
        client.post(LOGIN, {"username": "kim@example.org", "password": "wrong"})
    response = client.post(LOGIN, {"username": "\u212aim@example.org", "password": TEST_PASSWORD})
    assert "_auth_user_id" not in client.session
    assert response.status_code in (403, 422, 429)


# --- organisation domains -------------------------------------------------------------------------------


def test_domain_matching_is_exact_not_a_suffix_or_a_lookalike(client):
    acme = OrganizationFactory(email_domains=["example.com"])
    for address in ["a@evil-example.com", "b@example.com.evil.test", "c@sub.example.com", "d@notexample.com"]:
        assert submit_post(client, address).status_code == 302
        assert User.objects.get(email=address).organization is None, address
    assert submit_post(client, "e@EXAMPLE.COM").status_code == 302
    assert User.objects.get(email="e@example.com").organization == acme


def test_an_idn_domain_places_addresses_whichever_spelling_the_admin_typed():
    org = Organization(name="Bücher", slug="buecher", email_domains=["BÜCHER.example"])
    org.full_clean()
    org.save()
    assert services.organization_for_address(IDN_ASCII) == org
    assert services.organization_for_address("Anna@XN--BCHER-KVA.EXAMPLE") == org


@pytest.mark.parametrize(
    "typed",
    [
        "acme.example.",
        "@acme.example",
        "*.acme.example",
        "acme .example",
        "http://acme.example",
        "acme..example",
    ],
)
def test_an_organisation_domain_that_can_never_match_is_refused_or_normalised(typed):
    """An administrator who registers "acme.example." (trailing dot, as in DNS), "*.acme.example" or
    "http://acme.example" expects people at acme.example to join. The domain is stored as typed and never
    matches an address, silently. Refused with a clear message, or normalised to acme.example
    (an internationalised domain with ".." is already refused with NOT_A_DOMAIN)."""
    org = Organization(name="Acme", slug="acme", email_domains=[typed])
    try:
        org.full_clean()
    except Exception as refusal:
        assert "email_domains" in refusal.message_dict  # type: ignore[attr-defined]
        return
    org.save()
    assert services.organization_for_address("someone@acme.example") == org, org.email_domains


def test_the_organisation_admin_refuses_a_domain_that_can_never_match_with_a_422(superuser_client):
    """Through the admin page: a domain with a trailing dot is saved and then never places anybody."""
    response = superuser_client.post(
        reverse("admin:accounts_organization_add"),
        {"name": "Acme", "slug": "acme", "email_domains": '["acme.example."]', "settings": "{}",
         "is_active": "on"},
    )  # fmt: skip
    if response.status_code == 302:
        org = Organization.objects.get(slug="acme")
        assert services.organization_for_address("someone@acme.example") == org, org.email_domains
    else:
        assert response.status_code == 422


def test_two_organisations_cannot_claim_one_domain_in_different_spellings():
    OrganizationFactory(email_domains=["xn--bcher-kva.example"])
    for typed in ["Bücher.example", "XN--BCHER-KVA.EXAMPLE", " bücher.example "]:
        org = Organization(name=f"Other {typed}", slug=f"other-{abs(hash(typed))}", email_domains=[typed])
        with pytest.raises(Exception) as refusal:
            org.full_clean()
        assert "email_domains" in refusal.value.message_dict  # type: ignore[attr-defined]


# --- invitations -----------------------------------------------------------------------------------------


def test_an_invitation_address_in_other_case_and_spaces_is_redeemed(client):
    invitation = InvitationFactory(email="Anna@ACME.example")
    invitation.full_clean()
    invitation.save()
    response = client.post(
        SIGNUP,
        {"name": "Anna", "email": " anna@acme.EXAMPLE ", "password": NEW_PASSWORD,
         "invitation_code": invitation.code.upper()},
    )  # fmt: skip
    assert response.status_code == 302
    assert User.objects.get().organization == invitation.organization


def test_an_invitation_for_a_malformed_address_is_refused_in_the_admin(superuser_client):
    org = OrganizationFactory()
    response = superuser_client.post(
        reverse("admin:accounts_invitation_add"),
        {"organization": org.pk, "code": "WELCOME-1", "email": "anna@example.org.", "max_uses": "1",
         "is_active": "on", "makes_manager": ""},
    )  # fmt: skip
    assert response.status_code == 422
    assert not Invitation.objects.exists()


def test_an_invitation_for_a_lookalike_address_is_refused_in_the_admin(superuser_client):
    """An invitation to vıctim@example.org (dotless i) could never be redeemed: sign-up takes ASCII
    addresses only. The invitation admin should refuse it as the user admin refuses such an address."""
    org = OrganizationFactory()
    response = superuser_client.post(
        reverse("admin:accounts_invitation_add"),
        {"organization": org.pk, "code": "WELCOME-2", "email": "v\u0131ctim@example.org", "max_uses": "1",
         "is_active": "on"},
    )  # fmt: skip
    assert response.status_code == 422
    assert not Invitation.objects.exists()


def test_an_invitation_address_over_254_characters_is_refused_in_the_admin(superuser_client):
    org = OrganizationFactory()
    response = superuser_client.post(
        reverse("admin:accounts_invitation_add"),
        {"organization": org.pk, "code": "WELCOME-3", "email": long_address(300), "max_uses": "1",
         "is_active": "on"},
    )  # fmt: skip
    assert response.status_code == 422


def test_the_admin_user_page_opens_for_an_idn_user(superuser_client):
    user = make_customer(email=IDN_ASCII)
    assert superuser_client.get(change_url(user)).status_code == 200


@pytest.mark.parametrize("typed", ["ANNA@Example.org", "anna@example.org", " anna@example.org "])
def test_createsuperuser_refuses_an_address_an_account_has_in_another_case(typed, monkeypatch):
    """`manage.py createsuperuser --noinput` with an address an account already has (in any case, even
    the same spelling) should stop with Django's "That e-mail address is already taken" (CommandError),
    as sign-up and the admin refuse it. It crashes with an IntegrityError traceback from the
    user_email_case_insensitive_unique constraint instead: Django's command checks uniqueness only for a
    username field with unique=True, and User.email is unique through a Lower() constraint only."""
    from django.core.management import CommandError, call_command

    make_customer(email="anna@example.org")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", NEW_PASSWORD)
    with pytest.raises(CommandError):
        call_command("createsuperuser", interactive=False, email=typed, name="Admin", verbosity=0)
    assert User.objects.filter(email__iexact="anna@example.org").count() == 1


def test_createsuperuser_takes_a_unicode_idn_address_like_the_signup_page(monkeypatch):
    from django.core.management import call_command

    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", NEW_PASSWORD)
    call_command("createsuperuser", interactive=False, email=IDN_UNICODE, name="Admin", verbosity=0)
    assert User.objects.get().email == IDN_ASCII
