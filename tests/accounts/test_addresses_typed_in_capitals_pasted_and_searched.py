"""Identity text as people type it: e-mail addresses at sign-in, sign-up, reset, invitations and
organisation domains; names as they are searched for and shown."""

# ruff: noqa: RUF002, RUF003 (look-alike, Greek and full-width letters on purpose)

import uuid

import pytest
from django.core import mail
from django.urls import reverse

from accounts import services
from accounts.models import Organization, User
from helpdesk.services import site_configuration_update
from tests.admin_pages import changelist_url
from tests.factories import (
    TEST_PASSWORD,
    InvitationFactory,
    OrganizationFactory,
    TeamFactory,
    make_agent,
    make_customer,
    make_ticket,
)

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
SIGNUP = reverse("accounts:signup")
RESET = reverse("accounts:password_reset")
SUBMIT = reverse("tickets:portal_submit")
DESK = reverse("tickets:desk_queue")
NEW_PASSWORD = "a-long-passphrase-9"

IDN_ASCII = "anna@xn--bcher-kva.example"
# A hyphenated Greek domain, "Odos Athina" (Athens Street), as UTS 46 (browsers, mail systems) writes it
# typed in capitals: every capital Σ is the plain σ, wherever it stands.
GREEK_DOMAIN = "οδοσ-αθηνα.example".encode("idna").decode()
GREEK_ADDRESS = f"eleni@{GREEK_DOMAIN}"


@pytest.fixture(autouse=True)
def _open(settings):
    settings.RATE_LIMITS_ENABLED = False
    site_configuration_update(changes={"open_signup": True, "anonymous_submission": True}, actor=None)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def signup_post(client, email, name="Anna Example", **extra):
    return client.post(SIGNUP, {"name": name, "email": email, "password": NEW_PASSWORD, **extra})


def submit_post(client, email, name="Visitor Person", subject="Printer jam"):
    data = {"name": name, "email": email, "subject": subject, "description": "Paper stuck",
            "submission_key": str(uuid.uuid4())}  # fmt: skip
    return client.post(SUBMIT, data)


# --- Greek capital sigma in an internationalised domain ----------------------------------------------


def test_an_idn_address_typed_in_greek_capitals_signs_in(client):
    """Expected: eleni@ΟΔΟΣ-ΑΘΗΝΑ.example (the domain typed in capitals, as on a business card) signs
    in to the account stored at the xn-- form of οδοσ-αθηνα.example, as anna@BÜCHER.example signs in
    to anna@xn--bcher-kva.example. Instead: email_key lower-cases with Python's str.lower(), which
    writes a capital Σ before the hyphen (a word's end to Unicode's Final_Sigma rule) as the FINAL
    sigma ς; ascii_domain then refuses the domain as holding an IDNA "deviation" letter (ς) and the
    key stays in Unicode, so no account matches. UTS 46 (what browsers and mail systems use) maps Σ
    to the plain σ wherever it stands. A Greek customer typing their address in capitals is told
    the address and password do not match."""
    customer = make_customer(email=GREEK_ADDRESS)
    client.post(LOGIN, {"username": "eleni@οδοσ-αθηνα.example", "password": TEST_PASSWORD})
    assert signed_in(client), "control: the lower-case Unicode spelling signs in"
    client.logout()
    client.post(LOGIN, {"username": "eleni@ΟΔΟΣ-ΑΘΗΝΑ.example", "password": TEST_PASSWORD})
    assert signed_in(client), "the capitals of the same domain did not sign in"
    assert int(client.session["_auth_user_id"]) == customer.pk


def test_an_organisation_domain_typed_in_greek_capitals_is_taken():
    """Expected: an administrator typing the organisation's domain as ΟΔΟΣ-ΑΘΗΝΑ.example has it stored
    in its xn-- form (the same as typing οδοσ-αθηνα.example), as BÜCHER.example is. Instead:
    Organization.clean -> ascii_domain lower-cases the Σ before the hyphen to the final sigma ς and
    refuses the domain with "one with ß, ς or a joiner in its xn-- form only", naming a letter the
    administrator never typed; its members never join by domain."""
    org = Organization(name="Odos", slug="odos", email_domains=["ΟΔΟΣ-ΑΘΗΝΑ.example"])
    org.clean()
    assert org.email_domains == [GREEK_DOMAIN]


def test_the_lower_case_greek_domain_is_taken_and_places_people(client):
    org = Organization(name="Odos", slug="odos", email_domains=["οδοσ-αθηνα.example"])
    org.clean()
    org.save()
    assert org.email_domains == [GREEK_DOMAIN]
    assert services.organization_for_address(GREEK_ADDRESS) == org


# --- an address pasted with invisible characters ---------------------------------------------------


@pytest.mark.parametrize("invisible", ["\u200b", "\ufeff"], ids=["zwsp", "bom"])
def test_an_address_pasted_with_a_trailing_invisible_character_signs_in(client, invisible):
    """Expected: kim@example.org copied from a mail or a chat with a zero-width space (or a byte order
    mark, a word joiner) stuck to its end signs in, as the invitation code pasted from the same mail is
    read without them (services._locked_invitation drops SHOWS_NO_DIFFERENCE). Instead: the login's
    UsernameField only NFKC-normalises and email_key only strips whitespace, so the lookup misses and the
    person is told "That e-mail address and password do not match an account" for an address that looks
    exactly like theirs, with no way to see why."""
    make_customer(email="kim@example.org")
    response = client.post(LOGIN, {"username": f"kim@example.org{invisible}", "password": TEST_PASSWORD})
    assert signed_in(client), response.context["form"].non_field_errors()


def test_an_invitation_code_pasted_with_invisible_characters_is_redeemed(client):
    org = OrganizationFactory()
    invitation = InvitationFactory(organization=org)
    code = f"\u200b {invitation.code.upper()}\ufeff"
    response = signup_post(client, "new@example.org", invitation_code=code)
    assert response.status_code == 302, response.context["form"].errors
    assert User.objects.get(email="new@example.org").organization == org


# --- admin search for people ------------------------------------------------------------------------


def test_the_admin_user_list_finds_a_name_typed_without_its_accents(superuser_client):
    """Expected: searching the admin's user list for "jose nunez" finds José Núñez, as the desk's search
    does ("jose" finds José: tickets.filters._person) and the admin's ticket list does (it uses the desk's
    search). Instead: UserAdmin keeps Django's plain search_fields (icontains on name/email), which
    compares accents literally, so an administrator looking up a requester whose name they typed on an
    English keyboard is told there is no such user."""
    make_customer(email="jn@example.org", name="José Núñez")
    control = superuser_client.get(changelist_url(User), {"q": "José Núñez"})
    assert "jn@example.org" in control.content.decode(), "control: the name as stored is found"
    response = superuser_client.get(changelist_url(User), {"q": "jose nunez"})
    assert response.status_code == 200
    assert "jn@example.org" in response.content.decode(), "not found without its accents"


def test_the_admin_user_list_finds_a_name_searched_in_decomposed_form(superuser_client):
    """Expected: a search pasted in decomposed form ("Jose\u0301", as macOS file names and many exports
    write it) finds José, stored composed (User.save -> one_line -> nfc), as the desk's search does
    (query_text/ticket_search nfc the query). Instead: the admin's search term goes to icontains as
    pasted, and "Jose\u0301" is no substring of "José"."""
    make_customer(email="jn@example.org", name="José Núñez")
    response = superuser_client.get(changelist_url(User), {"q": "Jose\u0301"})
    assert "jn@example.org" in response.content.decode(), "not found by the decomposed spelling"


def test_the_admin_user_list_finds_an_idn_address_typed_in_unicode(superuser_client):
    """Expected: an administrator searching the user list for anna@bücher.example (as the person wrote
    it) finds the account stored as anna@xn--bcher-kva.example, as the object-permissions screen and the
    desk's requester search do (both go through email_key). Instead: the term is compared with icontains
    as typed, so the user "does not exist"."""
    make_customer(email=IDN_ASCII, name="Anna Buch")
    control = superuser_client.get(changelist_url(User), {"q": IDN_ASCII})
    assert IDN_ASCII in control.content.decode(), "control: the stored spelling is found"
    response = superuser_client.get(changelist_url(User), {"q": "anna@bücher.example"})
    assert IDN_ASCII in response.content.decode(), "not found by the Unicode spelling"


def test_the_desk_finds_a_requester_by_an_idn_address_typed_in_unicode(client):
    team = TeamFactory()
    agent = make_agent(team)
    customer = make_customer(email=IDN_ASCII, name="Anna Buch")
    ticket = make_ticket(customer, team=team, subject="Printer jam")
    client.force_login(agent)
    page = client.get(DESK, {"q": "ANNA@BÜCHER.example"}).content.decode()
    assert ticket.reference in page


# --- the same person, whatever spelling the browser sends ------------------------------------


def test_nfd_capital_idn_spellings_sign_in_reset_and_make_no_second_account(client, immediate_tasks):
    make_customer(email=IDN_ASCII)
    decomposed_caps = "ANNA@BU\u0308CHER.EXAMPLE"
    assert signup_post(client, decomposed_caps).status_code == 422
    assert User.objects.count() == 1
    client.post(LOGIN, {"username": decomposed_caps, "password": TEST_PASSWORD})
    assert signed_in(client)
    client.logout()
    mail.outbox.clear()
    client.post(RESET, {"email": "anna@bu\u0308cher.example"})
    assert [message.to for message in mail.outbox] == [[IDN_ASCII]]


def test_full_width_spelling_stays_locked_out(client):
    """Sign-in NFKC-normalises the address before axes counts it, so a full-width spelling is counted
    as the account's own and no fresh guesses are bought."""
    make_customer(email="kim@example.org")
    for _ in range(5):
        client.post(LOGIN, {"username": "kim@example.org", "password": "wrong"})
    client.post(LOGIN, {"username": "\uff4bim@example.org", "password": TEST_PASSWORD})
    assert not signed_in(client)


def test_an_organisation_domain_with_a_trailing_dot_in_nfd_capitals_places_visitors(client):
    org = Organization(name="Bücher", slug="buecher", email_domains=["BU\u0308CHER.example."])
    org.clean()
    org.save()
    assert submit_post(client, "visitor@bücher.example").status_code == 302
    assert User.objects.get(email="visitor@xn--bcher-kva.example").organization == org


def test_an_invitation_for_an_idn_address_is_redeemed_in_the_other_spelling(client):
    org = OrganizationFactory()
    invitation = InvitationFactory(organization=org, email="anna@bücher.example")
    invitation.full_clean()
    invitation.save()
    response = signup_post(client, "ANNA@XN--BCHER-KVA.EXAMPLE", invitation_code=invitation.code)
    assert response.status_code == 302, response.context["form"].errors
    assert User.objects.with_email(IDN_ASCII).get().organization == org


def test_direction_overrides_are_dropped_from_a_signed_up_name(client):
    response = signup_post(client, "bidi@example.org", name="Ann\u202eamoc.lapyap\u202c Berg")
    assert response.status_code == 302
    assert User.objects.get(email="bidi@example.org").name == "Annamoc.lapyap Berg"


def test_direction_overrides_are_dropped_from_a_ticket_subject():
    ticket = make_ticket(make_customer(), subject="Invoice \u202efdp.exe")
    assert "\u202e" not in ticket.subject
