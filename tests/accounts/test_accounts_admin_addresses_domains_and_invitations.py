"""The accounts admin: a user's address changed there (IDN, case,
a pending account's, spaces), what that does to verification, the audit trail, a pending address-change
link and sessions; organisations with domains stored before the host-name rule; invitations with
IDN / upper-case / spaced addresses and the sign-up with them. Every refusal is a 422 with the form
refilled, never a 500."""

import re

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from guardian.shortcuts import assign_perm

from accounts import services
from accounts.admin import NOT_MAILED_WITHOUT_ADDRESS
from accounts.models import NOT_A_DOMAIN, EmailChangeRequest, Invitation, Organization, User
from audit.models import AuditEvent
from helpdesk.services import site_configuration_update
from tests.accounts.test_sessions import FIREFOX, IPHONE, is_signed_in, signed_in
from tests.admin_pages import change_url, changelist_url, form_data, messages_of, post_change, run_action
from tests.factories import (
    TEST_PASSWORD,
    InvitationFactory,
    OrganizationFactory,
    TeamFactory,
    give_custom_role,
    make_administrator,
    make_agent,
    make_customer,
    make_pending_account,
)

pytestmark = pytest.mark.django_db

IDN_UNICODE = "anna@bücher.example"
IDN_ASCII = "anna@xn--bcher-kva.example"
NEW_PASSWORD = "a-long-passphrase-9"
SIGNUP = reverse("accounts:signup")


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    settings.RATE_LIMITS_ENABLED = False


@pytest.fixture
def clerk_client(client):
    """A staff clerk whose role may only view and change users."""
    clerk = give_custom_role(
        make_agent(TeamFactory()), "User clerks", [("accounts", "view_user"), ("accounts", "change_user")]
    )
    client.force_login(clerk)
    client.clerk = clerk
    return client


def verified_customer(email: str, **fields) -> User:
    customer = make_customer(email=email, **fields)
    services.user_email_verify(customer, actor=customer)
    customer.refresh_from_db()
    return customer


def last_update(user: User) -> AuditEvent | None:
    return AuditEvent.objects.filter(object_id=str(user.pk), action="update").order_by("-sequence").first()


def asked_change(user: User, new: str) -> EmailChangeRequest:
    services.user_email_change_request(
        user, new_email=new, password=TEST_PASSWORD, actor=user, domain="testserver", use_https=False
    )
    return EmailChangeRequest.objects.get(user=user)


def link_state(change: EmailChangeRequest, viewer: User) -> str:
    change = EmailChangeRequest.objects.select_related("user").get(pk=change.pk)
    return services.email_change_link_state(change, viewer=User.objects.get(pk=viewer.pk))


def refused_with_form_refilled(response, field: str, typed: str) -> str:
    assert response.status_code == 422, response.status_code
    form = response.context["adminform"].form
    assert field in form.errors, form.errors
    assert form[field].value() == typed or typed in response.content.decode()
    return " ".join(form.errors[field])


# =============================================================== the user admin: changing an address


@pytest.mark.parametrize("as_clerk", [False, True], ids=["admin", "clerk"])
def test_an_idn_address_typed_in_unicode_is_stored_in_xn_form_and_unverified(
    superuser_client, clerk_client, as_clerk
):
    client = clerk_client if as_clerk else superuser_client
    customer = verified_customer("anna@example.org")
    response = post_change(client, customer, email="Anna@BÜCHER.example")
    assert response.status_code == 302, response.content.decode()[:500]
    customer.refresh_from_db()
    assert customer.email == "Anna@xn--bcher-kva.example"
    assert customer.email_verified_at is None
    event = last_update(customer)
    assert event.changes["email"] == ["anna@example.org", "Anna@xn--bcher-kva.example"]
    assert event.changes["email_verified_at"][1] is None


def test_an_idn_address_another_account_holds_in_xn_form_is_refused_in_unicode_capitals(superuser_client):
    make_customer(email=IDN_ASCII)
    bob = make_customer(email="bob@example.org")
    typed = "ANNA@BÜCHER.EXAMPLE"
    response = post_change(superuser_client, bob, email=typed)
    message = refused_with_form_refilled(response, "email", typed)
    assert "already exists" in message
    bob.refresh_from_db()
    assert bob.email == "bob@example.org"


def test_a_pending_accounts_address_is_refused_in_any_case(superuser_client):
    """A pending account (an anonymous submitter's tickets) keeps its address: the admin cannot hand it to
    another account, which would then be the one the submitter's future mail files under."""
    make_pending_account("visitor@example.org")
    bob = make_customer(email="bob@example.org")
    response = post_change(superuser_client, bob, email=" Visitor@EXAMPLE.org ")
    assert response.status_code == 422
    assert "email" in response.context["adminform"].form.errors
    bob.refresh_from_db()
    assert bob.email == "bob@example.org"
    assert User.objects.with_email("visitor@example.org").get().status == User.Status.PENDING


def test_the_same_address_with_the_local_part_in_capitals_keeps_verification(superuser_client):
    customer = verified_customer("anna@example.org")
    verified_at = customer.email_verified_at
    response = post_change(superuser_client, customer, email="ANNA@example.org")
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.email == "ANNA@example.org"
    assert customer.email_verified_at == verified_at  # untouched: not cut to the seconds the widget shows
    # Still the same account for sign-in in either spelling.
    signing_in = {"username": "anna@example.org", "password": TEST_PASSWORD}
    assert Client().post(reverse("accounts:login"), signing_in).status_code == 302


def test_the_same_address_retyped_with_the_domain_in_capitals_records_no_phantom_change(superuser_client):
    """An administrator retypes anna@example.org as anna@EXAMPLE.ORG: the model stores the domain in lower
    case again, so nothing changes in the database. The audit trail should not claim the address became
    'anna@EXAMPLE.ORG' (a value never stored): either no event, or one whose after is what was stored."""
    customer = verified_customer("anna@example.org")
    response = post_change(superuser_client, customer, email="anna@EXAMPLE.ORG")
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.email == "anna@example.org"
    assert customer.email_verified_at is not None
    event = last_update(customer)
    if event is not None and "email" in event.changes:
        assert event.changes["email"][1] == customer.email, event.changes


def test_surrounding_spaces_are_trimmed_and_the_same_address_changes_nothing(superuser_client):
    customer = verified_customer("anna@example.org")
    events = AuditEvent.objects.count()
    response = post_change(superuser_client, customer, email="  anna@example.org  ")
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.email, customer.email_verified_at is not None) == ("anna@example.org", True)
    assert AuditEvent.objects.count() == events

    response = post_change(superuser_client, customer, email="  anna@new.example\t")
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.email == "anna@new.example"
    assert customer.email_verified_at is None


@pytest.mark.parametrize(
    "typed",
    ["anna@straße.example", "v\u0131ctim@example.org", "anna@bücher.example.", "anna@exa mple.org",
     "anna@\u200bexample.org", "a" * 250 + "@example.org"],
    ids=["deviation", "dotless-i", "idn-trailing-dot", "space", "zero-width", "too-long"],
)  # fmt: skip
def test_an_unusable_address_is_a_422_with_the_form_refilled(superuser_client, typed):
    customer = verified_customer("anna@example.org")
    response = post_change(superuser_client, customer, email=typed, name="Anna Renamed")
    assert response.status_code == 422
    assert "email" in response.context["adminform"].form.errors
    assert 'value="Anna Renamed"' in response.content.decode()
    customer.refresh_from_db()
    assert customer.email == "anna@example.org"


def test_a_pending_address_change_link_is_spent_when_the_admin_changes_the_address(superuser_client):
    customer = verified_customer("anna@example.org")
    change = asked_change(customer, "anna@home.example")
    assert link_state(change, customer) == "ready"
    assert post_change(superuser_client, customer, email="anna@work.example").status_code == 302
    assert link_state(change, customer) == "invalid"


def test_a_pending_link_is_spent_by_a_change_of_case_only(superuser_client):
    """Probe: account_state hashes the address as stored, so even a case change spends the link (safe)."""
    customer = verified_customer("anna@example.org")
    change = asked_change(customer, "anna@home.example")
    assert post_change(superuser_client, customer, email="Anna@example.org").status_code == 302
    assert link_state(change, customer) == "invalid"


def test_a_pending_link_survives_an_unrelated_admin_edit(superuser_client):
    """Probe: renaming the customer in the admin does not spend their address-change link."""
    customer = verified_customer("anna@example.org")
    change = asked_change(customer, "anna@home.example")
    assert post_change(superuser_client, customer, name="Anna Renamed").status_code == 302
    assert link_state(change, customer) == "ready"


def test_a_link_to_an_address_the_admin_gave_another_account_says_taken(superuser_client):
    customer = verified_customer("anna@example.org")
    change = asked_change(customer, "anna@home.example")
    bob = make_customer(email="bob@example.org")
    assert post_change(superuser_client, bob, email="ANNA@home.example").status_code == 302
    assert link_state(change, customer) == "taken"
    client = signed_in(customer, FIREFOX)
    from accounts.tokens import email_change_token

    response = client.post(
        reverse("accounts:email_change_confirm", kwargs={"token": email_change_token(change.pk)})
    )
    assert response.status_code in (409, 422)
    customer.refresh_from_db()
    assert customer.email == "anna@example.org"


def test_the_admin_moving_an_address_to_a_new_mailbox_leaves_sessions_and_the_old_mailbox_uninformed(
    superuser_client, immediate_tasks
):
    """Documentation probe (not asserted as a defect): the profile's change ends the other sessions and
    mails the old address; the admin's change does neither. A helpdesk administrator fixing a typo or a
    company move expects the customer to stay signed in; one acting on a compromise has 'Sign selected
    users out everywhere'. Recorded so a change of this decision is noticed."""
    from django.core import mail

    customer = verified_customer("anna@example.org")
    browser = signed_in(customer, IPHONE)
    mail.outbox.clear()
    assert post_change(superuser_client, customer, email="anna@work.example").status_code == 302
    assert is_signed_in(browser)
    assert [m.to for m in mail.outbox if "anna@example.org" in m.to] == []


def test_the_admins_change_of_a_login_address_is_a_security_event(superuser_client):
    """The profile's own change records 'email_change' in the security category (the login moves to
    another mailbox, from which a password reset takes the account). The same move made in the admin
    is recorded as a plain business 'update': a security review filtering on the security category
    (SecurityIncident, seed 004) does not see an administrator or clerk handing an account to another
    mailbox. Category security, as for password and permission changes in UserAdmin."""
    customer = verified_customer("anna@example.org")
    assert post_change(superuser_client, customer, email="anna@elsewhere.example").status_code == 302
    event = last_update(customer)
    assert "email" in event.changes
    assert event.category == AuditEvent.Category.SECURITY


def test_an_admin_cannot_move_their_own_login_to_another_mailbox_from_a_borrowed_session(clerk_client):
    """UserAdmin.user_change_password sends one's own password change to the profile ('a borrowed session
    must not lock its owner out'), and the profile's address change asks for the password and a link
    mailed to the new address. The admin's change page takes one's own new address with neither: whoever
    sits at a signed-in clerk's browser sets the clerk's address to their own mailbox, and a password
    reset then takes the account (and its admin rights). One's own address is refused here
    (or sent to the profile), as one's own password is."""
    clerk = clerk_client.clerk
    response = post_change(clerk_client, clerk, email="thief@evil.example")
    clerk.refresh_from_db()
    assert clerk.email != "thief@evil.example", "own login address moved without password or link"
    assert response.status_code in (302, 403, 422)


def test_a_clerk_cannot_change_an_administrators_address(clerk_client):
    admin = make_administrator(email="boss@example.org")
    page = clerk_client.get(change_url(admin))
    assert page.status_code in (200, 403)
    response = clerk_client.post(change_url(admin), {"email": "thief@evil.example", "name": "Boss"})
    assert response.status_code == 403
    admin.refresh_from_db()
    assert admin.email == "boss@example.org"


def test_a_clerk_marking_a_new_address_verified_is_recorded_as_a_verification(clerk_client):
    """Probe: an address set and marked verified in one save is verified through user_email_verify (a
    security event) and the domain's organisation is joined."""
    org = OrganizationFactory(email_domains=["work.example"])
    customer = make_customer(email="anna@example.org")
    User.objects.filter(pk=customer.pk).update(organization=None)
    page = clerk_client.get(change_url(customer))
    data = form_data(page, email="anna@work.example", email_verified_at_0="2026-01-05",
                     email_verified_at_1="09:00:00")  # fmt: skip
    response = clerk_client.post(change_url(customer), data)
    assert response.status_code == 302, response.content.decode()[:500]
    customer.refresh_from_db()
    assert customer.email == "anna@work.example"
    assert customer.email_verified_at is not None
    assert customer.organization == org
    assert AuditEvent.objects.filter(action="email_verified", object_id=str(customer.pk)).exists()


# =============================================================== organisations and their domains


def org_post(client, org=None, **fields):
    data = {"name": "Acme", "slug": "acme", "email_domains": "[]", "settings": "{}", "is_active": "on"}
    data |= fields
    url = change_url(org) if org else reverse("admin:accounts_organization_add")
    if org is not None:
        page = client.get(url)
        assert page.status_code == 200
        data = form_data(page, **fields)
    return client.post(url, data)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ('["ACME.Example", "Beta.EXAMPLE"]', ["acme.example", "beta.example"]),
        ('[" acme.example " ,  "beta.example"]', ["acme.example", "beta.example"]),
        ('["bücher.example"]', ["xn--bcher-kva.example"]),
        ('["acme.example."]', ["acme.example"]),
        ('["acme.example", "ACME.example", "acme.example.", " acme.example"]', ["acme.example"]),
        ('["BÜCHER.example", "xn--bcher-kva.example"]', ["xn--bcher-kva.example"]),
    ],
    ids=["upper", "spaces", "idn", "trailing-dot", "duplicates", "idn-duplicates"],
)
def test_organisation_domains_are_normalised_on_save(superuser_client, typed, stored):
    response = org_post(superuser_client, email_domains=typed)
    assert response.status_code == 302, response.content.decode()[:600]
    assert Organization.objects.get(slug="acme").email_domains == stored


@pytest.mark.parametrize(
    "typed",
    ["acme.example, beta.example", '["*.acme.example"]', '["straße.example"]', '[""]', "[1]",
     '"acme.example"', "null", '{"a": 1}', '["acme..example"]', '["-acme.example"]',
     '["' + "a" * 64 + '.example"]', '["acme.example\\u0000"]', '["acme"]'],
    ids=["not-json", "wildcard", "deviation", "empty", "number", "string", "null", "object", "double-dot",
         "hyphen", "long-label", "nul", "one-label"],
)  # fmt: skip
def test_an_unusable_domain_list_is_a_422_with_the_form_refilled(superuser_client, typed):
    response = org_post(superuser_client, email_domains=typed, name="Acme Refilled")
    assert response.status_code == 422
    form = response.context["adminform"].form
    assert "email_domains" in form.errors, form.errors
    assert 'value="Acme Refilled"' in response.content.decode()
    assert not Organization.objects.exists()


def test_a_settings_value_with_a_nul_is_a_422_not_a_500(superuser_client):
    response = org_post(superuser_client, settings='{"greeting": "hi\\u0000"}')
    assert response.status_code in (302, 422)


@pytest.fixture
def legacy_org():
    org = OrganizationFactory(name="Acme", slug="acme", email_domains=["acme.example"])
    Organization.objects.filter(pk=org.pk).update(
        email_domains=["acme.example", "*.acme.example", "beta.example"]
    )
    return Organization.objects.get(pk=org.pk)


def test_a_legacy_organisation_opens_in_the_admin(superuser_client, legacy_org):
    assert superuser_client.get(change_url(legacy_org)).status_code == 200
    assert superuser_client.get(reverse("admin:accounts_organization_changelist")).status_code == 200


def test_a_legacy_organisations_error_names_the_domain_to_fix(superuser_client, legacy_org):
    """An administrator renaming an organisation whose domains were stored before the host-name rule (the
    migration leaves "*.acme.example" for them to fix, "saving the organisation says what to fix") gets
    the generic 'Give domains such as acme.example…'. With several domains in the box they have to guess
    which one is wrong. The message names *.acme.example."""
    response = org_post(superuser_client, legacy_org, name="Acme Ltd")
    message = refused_with_form_refilled(response, "email_domains", "*.acme.example")
    assert 'value="Acme Ltd"' in response.content.decode()
    legacy_org.refresh_from_db()
    assert legacy_org.name == "Acme"
    assert "*.acme.example" in message, message


def test_a_legacy_organisation_is_fixed_in_one_save(superuser_client, legacy_org):
    response = org_post(
        superuser_client, legacy_org, name="Acme Ltd", email_domains='["acme.example", "beta.example"]'
    )
    assert response.status_code == 302, response.content.decode()[:600]
    legacy_org.refresh_from_db()
    assert (legacy_org.name, legacy_org.email_domains) == ("Acme Ltd", ["acme.example", "beta.example"])
    event = AuditEvent.objects.filter(object_id=str(legacy_org.pk), action="update").latest("sequence")
    assert set(event.changes) >= {"name", "email_domains"}


def test_a_legacy_inactive_organisation_can_be_deactivated_then_still_must_fix_domains(superuser_client):
    """Probe: an organisation stored with a wildcard domain can be switched off... only after fixing the
    domain (the rule applies to inactive ones too). The refusal must be a 422, not a 500."""
    org = OrganizationFactory(name="Old", slug="old", email_domains=[])
    Organization.objects.filter(pk=org.pk).update(email_domains=["*.old.example"])
    response = org_post(superuser_client, org, is_active="")
    assert response.status_code in (302, 422)


def test_two_legacy_organisations_claiming_one_domain_say_which(superuser_client):
    first = OrganizationFactory(name="First", slug="first", email_domains=["shared.example"])
    second = OrganizationFactory(name="Second", slug="second", email_domains=[])
    Organization.objects.filter(pk=second.pk).update(email_domains=["shared.example"])
    response = org_post(superuser_client, second, name="Second Ltd")
    message = refused_with_form_refilled(response, "email_domains", "shared.example")
    assert "shared.example (First)" in message
    assert first.pk


def test_a_domain_in_its_unicode_spelling_clashing_with_another_names_it(superuser_client):
    OrganizationFactory(name="Books", slug="books", email_domains=["xn--bcher-kva.example"])
    response = org_post(superuser_client, email_domains='["BÜCHER.example"]')
    message = refused_with_form_refilled(response, "email_domains", "BÜCHER.example")
    assert "xn--bcher-kva.example (Books)" in message


# =============================================================== invitations


def invitation_post(client, org, *, follow=False, **fields):
    data = {"organization": org.pk, "code": "WELCOME-1", "email": "", "max_uses": "1", "is_active": "on"}
    return client.post(reverse("admin:accounts_invitation_add"), data | fields, follow=follow)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [(" Anna@BÜCHER.example ", "Anna@xn--bcher-kva.example"), ("ANNA@ACME.EXAMPLE", "ANNA@acme.example"),
     ("\tanna@acme.example  ", "anna@acme.example")],
    ids=["idn", "upper", "spaces"],
)  # fmt: skip
def test_an_invitation_address_is_stored_as_sign_up_will_compare_it_and_redeemed(
    superuser_client, typed, stored
):
    org = OrganizationFactory()
    response = invitation_post(superuser_client, org, email=typed)
    assert response.status_code == 302, response.content.decode()[:600]
    invitation = Invitation.objects.get()
    assert invitation.email == stored
    local = stored.split("@")[0].lower()
    for spelling in (f"{local}@bücher.example" if "xn--" in stored else f" {local}@Acme.Example ",):
        response = Client().post(SIGNUP, {"name": "Anna", "email": spelling, "password": NEW_PASSWORD,
                                          "invitation_code": " welcome-1 "})  # fmt: skip
        assert response.status_code == 302, response.content.decode()[:600]
    user = User.objects.get(organization=org)
    assert user.email_verified_at is not None
    assert user.email.lower() == stored.lower()


@pytest.mark.parametrize(
    "typed",
    ["anna@straße.example", "v\u0131ctim@example.org", "anna@\u200bacme.example", "anna@acme.example.",
     "anna@@acme.example"],
    ids=["deviation", "dotless-i", "zero-width", "trailing-dot", "double-at"],
)  # fmt: skip
def test_an_unusable_invitation_address_is_a_422_with_the_form_refilled(superuser_client, typed):
    org = OrganizationFactory()
    response = invitation_post(superuser_client, org, email=typed, code="KEEP-ME")
    assert response.status_code == 422
    assert "email" in response.context["adminform"].form.errors
    assert 'value="KEEP-ME"' in response.content.decode()
    assert not Invitation.objects.exists()


def test_an_invitation_code_differing_only_in_case_is_a_422(superuser_client):
    org = OrganizationFactory()
    InvitationFactory(organization=org, code="welcome-1")
    response = invitation_post(superuser_client, org, code="WELCOME-1")
    assert response.status_code == 422
    assert Invitation.objects.count() == 1


def test_an_invitation_code_with_spaces_is_redeemed_as_typed_on_the_letter(superuser_client):
    org = OrganizationFactory()
    assert invitation_post(superuser_client, org, code="  Spring-2026  ").status_code == 302
    assert Invitation.objects.get().code == "Spring-2026"


def test_an_invitation_that_allows_no_use_is_refused(superuser_client):
    """InvitationAdminForm says 'a new code that nobody could redeem is a mistake to say, not to save'
    (inactive organisation, expiry passed). A new active code with 'Max uses' 0 can never be redeemed
    either (invitation_check: uses >= max_uses → 'already been used as many times as it allows', a
    misleading message for a fresh code). Refused with a 422 at max_uses."""
    org = OrganizationFactory()
    response = invitation_post(superuser_client, org, max_uses="0")
    assert response.status_code == 422
    assert "max_uses" in response.context["adminform"].form.errors


def test_an_invitation_to_a_pending_accounts_idn_address_claims_it_on_sign_up(superuser_client):
    pending = make_pending_account(IDN_ASCII)
    org = OrganizationFactory()
    assert invitation_post(superuser_client, org, email=" ANNA@BÜCHER.EXAMPLE ").status_code == 302
    site_configuration_update(changes={"open_signup": False}, actor=None)
    response = Client().post(SIGNUP, {"name": "Anna", "email": IDN_UNICODE, "password": NEW_PASSWORD,
                                      "invitation_code": "welcome-1"})  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:600]
    pending.refresh_from_db()
    assert (pending.status, pending.organization) == (User.Status.ACTIVE, org)
    assert User.objects.count() == 2  # the superuser and Anna


def test_sign_up_with_the_invitation_from_another_address_is_a_422_with_the_form_refilled(superuser_client):
    org = OrganizationFactory()
    assert invitation_post(superuser_client, org, email="anna@acme.example").status_code == 302
    response = Client().post(SIGNUP, {"name": "Mallory", "email": "mallory@acme.example",
                                      "password": NEW_PASSWORD, "invitation_code": "WELCOME-1"})  # fmt: skip
    assert response.status_code == 422
    assert 'value="Mallory"' in response.content.decode()
    assert services.INVITATION_WRONG_EMAIL in response.content.decode()


# =============================================================== more probes


def test_the_idn_address_retyped_in_unicode_capitals_changes_nothing(superuser_client):
    customer = verified_customer(IDN_ASCII)
    events = AuditEvent.objects.count()
    assert post_change(superuser_client, customer, email="anna@BÜCHER.EXAMPLE").status_code == 302
    customer.refresh_from_db()
    assert (customer.email, customer.email_verified_at is not None) == (IDN_ASCII, True)
    assert AuditEvent.objects.count() == events


def test_a_deviation_letter_domain_error_names_the_domain(superuser_client):
    """Among several domains, 'straße.example' is refused with 'Give domains such as acme.example (an
    internationalised one as typed or in its xn-- form)': it says typed IDNs are taken (this one is not,
    because of the ß) and does not say which of the domains is refused. The message names
    straße.example (and that its xn-- form is wanted)."""
    response = org_post(superuser_client, email_domains='["acme.example", "straße.example", "beta.example"]')
    message = refused_with_form_refilled(response, "email_domains", "straße.example")
    assert "straße.example" in message, message


def test_a_legacy_organisation_cannot_be_switched_off_without_fixing_its_domains_but_is_told_why(
    superuser_client,
):
    org = OrganizationFactory(name="Old", slug="old", email_domains=[])
    Organization.objects.filter(pk=org.pk).update(email_domains=["*.old.example"])
    response = org_post(superuser_client, org, is_active="")
    assert response.status_code == 422
    assert NOT_A_DOMAIN in " ".join(response.context["adminform"].form.errors["email_domains"])


def test_the_user_add_form_refuses_a_pending_accounts_address_in_other_case(superuser_client):
    from tests.helpdesk.test_admin_integrity import NO_ROLE_ROWS

    make_pending_account("visitor@example.org")
    response = superuser_client.post(
        reverse("admin:accounts_user_add"),
        {"email": " VISITOR@Example.org ", "name": "Visitor Two", "password1": NEW_PASSWORD,
         "password2": NEW_PASSWORD, "usable_password": "true", **NO_ROLE_ROWS},
    )  # fmt: skip
    assert response.status_code == 422
    assert 'value="Visitor Two"' in response.content.decode()
    assert User.objects.with_email("visitor@example.org").count() == 1


def test_the_object_permissions_screen_finds_a_user_by_their_idn_address_typed_in_unicode(superuser_client):
    org = OrganizationFactory()
    agent = make_agent(TeamFactory(), email=IDN_ASCII)
    url = reverse("admin:accounts_organization_permissions", args=[org.pk])
    response = superuser_client.post(url, {"user": "ANNA@BÜCHER.example", "submit_manage_user": "1"})
    assert response.status_code == 302, response.status_code
    assert str(agent.pk) in response["Location"]


# --- Invitations mailed, and what an invitation or a domain cannot do ---------------------------------


def test_an_invitation_for_an_address_is_mailed_there_with_its_code_and_sign_up_link(
    superuser_client, immediate_tasks, django_capture_on_commit_callbacks
):
    """Sign-up takes a code for a named address as proof that its owner reads that mailbox: the code
    must go there. Before the fix nothing mailed invitations (the form's help spoke of "your invitation
    e-mail"); the administrator copied codes out by hand."""
    organization = OrganizationFactory(name="Acme")
    with django_capture_on_commit_callbacks(execute=True):
        response = invitation_post(superuser_client, organization, email="anna@acme.example", follow=True)
    assert "Mailed the invitation to anna@acme.example." in messages_of(response)
    [sent] = mail.outbox
    assert sent.to == ["anna@acme.example"] and "Acme" in sent.body and "WELCOME-1" in sent.body
    link = re.search(r"http://testserver(/accounts/signup/\?code=\S+)", sent.body).group(1)
    page = Client().get(link).content.decode()
    assert 'value="WELCOME-1"' in page  # the link fills the code in
    invitation = Invitation.objects.get(code="WELCOME-1")
    assert AuditEvent.objects.filter(action="invitation_mail", object_id=str(invitation.pk)).exists()
    # Mailed again on asking (the admin action); one that can no longer be used is not, and says why.
    with django_capture_on_commit_callbacks(execute=True):
        run_action(superuser_client, Invitation, "mail_invitations", [invitation.pk])
    assert len(mail.outbox) == 2
    Invitation.objects.filter(pk=invitation.pk).update(is_active=False)
    response = run_action(superuser_client, Invitation, "mail_invitations", [invitation.pk])
    assert f"Not mailed: anna@acme.example: {services.INVITATION_INACTIVE}" in messages_of(response)
    assert len(mail.outbox) == 2


def test_an_invitation_without_an_address_says_to_pass_its_code_on(superuser_client, immediate_tasks):
    response = invitation_post(superuser_client, OrganizationFactory(), follow=True)
    assert NOT_MAILED_WITHOUT_ADDRESS.format(code="WELCOME-1") in messages_of(response)
    assert mail.outbox == []
    with pytest.raises(ValidationError, match="names no address"):
        services.invitation_mail(Invitation.objects.get(), actor=None, domain="testserver", use_https=False)


def test_an_invitation_for_an_address_with_an_account_is_refused_unless_that_account_is_pending(
    superuser_client,
):
    """Nobody could redeem it (sign-up says the address has an account): said at once, at 422, with what
    to do instead. A pending account (an anonymous submitter's) may be claimed with a code."""
    organization = OrganizationFactory()
    make_customer(email="bea@acme.example")
    refused = invitation_post(superuser_client, organization, email="BEA@acme.example")
    assert refused.status_code == 422
    assert "has an account already" in refused.context["adminform"].form.errors["email"][0]
    make_pending_account("walk-in@acme.example")
    assert invitation_post(superuser_client, organization, email="walk-in@acme.example").status_code == 302


@pytest.mark.parametrize("domain", ["gmail.com", "GMAIL.com", "outlook.com."])
def test_an_organisation_cannot_claim_a_public_mail_providers_domain(superuser_client, domain):
    """Claimed, every customer who verifies an address at gmail.com would join the organisation and
    every anonymous request from one would be filed with it, where its managers read it."""
    response = org_post(superuser_client, email_domains=f'["acme.example", "{domain}"]')
    assert response.status_code == 422
    error = response.context["adminform"].form.errors["email_domains"][0]
    assert error.startswith(domain.lower().rstrip(".") + " is a mail provider anyone can have an address at")
    assert not Organization.objects.exists()


def test_a_sign_up_that_makes_a_manager_and_the_admins_manager_flag_are_recorded_as_grants(superuser_client):
    """Managing an organisation gives every ticket of it: the sign-up's "create" event says so, and the
    admin's tick is a security event, as the object permission that gives the same is."""
    organization = OrganizationFactory()
    invitation = InvitationFactory(organization=organization, makes_manager=True)
    boss = services.user_signup(
        email="boss@acme.example", name="Boss", password=NEW_PASSWORD, invitation_code=invitation.code,
        open_signup=False, actor=None,
    )  # fmt: skip
    created = AuditEvent.objects.get(action="create", object_id=str(boss.pk), object_type__model="user")
    assert created.changes["is_organization_manager"] == [None, True]
    member = make_customer(organization)
    assert post_change(superuser_client, member, is_organization_manager="on").status_code == 302
    event = AuditEvent.objects.get(object_id=str(member.pk), changes__has_key="is_organization_manager")
    assert event.category == AuditEvent.Category.SECURITY


def test_a_manager_making_code_is_shown_only_to_those_who_see_its_organisations_tickets(client):
    """Signing up with such a code gives every ticket of the organisation: a clerk whose role may view
    invitations but who sees none of Acme's tickets read its code in the list before the fix."""
    acme = OrganizationFactory(name="Acme")
    managers = InvitationFactory(organization=acme, makes_manager=True, code="ACME-BOSSES-77")
    members = InvitationFactory(organization=acme, code="ACME-STAFF-12")
    clerk = give_custom_role(make_agent(TeamFactory()), "Onboarding", [("accounts", "view_invitation")])
    client.force_login(clerk)
    listed = client.get(changelist_url(Invitation)).content.decode()
    assert members.code in listed and managers.code not in listed
    assert client.get(change_url(managers)).status_code == 302  # "doesn't exist", as for any other id
    assign_perm("accounts.view_organization_tickets", clerk, acme)  # now they see Acme's tickets
    assert managers.code in client.get(changelist_url(Invitation)).content.decode()


def test_an_address_moved_in_the_admin_is_told_at_the_old_one(
    superuser_client, immediate_tasks, django_capture_on_commit_callbacks
):
    """As a move the owner makes from the profile is: whoever holds the address holds the account, so a
    move they did not ask for (a clerk talked into it, a borrowed staff session) must reach them. Before
    the fix the admin saved it without a word to the old address. The same mailbox in other capitals is
    no move."""
    customer = make_customer(email="anna@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        assert post_change(superuser_client, customer, email="Anna@EXAMPLE.org").status_code == 302
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        assert post_change(superuser_client, customer, email="thief@evil.example").status_code == 302
    [notice] = mail.outbox
    assert notice.to == ["Anna@example.org"] and "thief@evil.example" in notice.body


def test_an_invitation_whose_address_has_had_an_account_since_is_not_mailed(
    superuser_client, immediate_tasks, django_capture_on_commit_callbacks
):
    """Sign-up would refuse it ("has an account already"): the action says so instead of mailing a code
    that can only fail (before the fix it mailed it)."""
    invitation = InvitationFactory(organization=OrganizationFactory(), email="bea@acme.example")
    make_customer(email="bea@acme.example")
    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(superuser_client, Invitation, "mail_invitations", [invitation.pk])
    reason = services.INVITED_HAS_ACCOUNT.format(email="bea@acme.example")
    assert f"Not mailed: bea@acme.example: {reason}" in messages_of(response)
    assert mail.outbox == []


def test_a_public_mail_domain_claimed_before_it_was_refused_places_nobody():
    """An organisation stored with gmail.com before the rule (or from a fixture) would still take every
    gmail.com customer: addresses are never placed by a public provider's domain."""
    Organization.objects.create(name="Acme", email_domains=["acme.example", "gmail.com"])
    assert services.organization_for_address("boss@acme.example") is not None
    assert services.organization_for_address("stranger@gmail.com") is None
