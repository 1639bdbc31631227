"""What an unauthenticated visitor can do and the limits around it — anonymous submission (the
pending account it leaves, what the visitor sees, staff/suspended/look-alike addresses), rate limits per
IP and per account (the friendly 429, Retry-After, case/space variants, X-Forwarded-For, windows), and
the mailed e-mail confirmation link."""

import uuid
from datetime import timedelta
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import User
from accounts.tokens import email_verification_token
from helpdesk.services import site_configuration_update
from tests.factories import OrganizationFactory, make_administrator, make_agent, make_customer
from tickets import services as ticket_services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

SUBMIT = reverse("tickets:portal_submit")
LOGIN = reverse("accounts:login")
SIGNUP = reverse("accounts:signup")
RESET = reverse("accounts:password_reset")
SUGGEST = reverse("knowledge:suggest")
SEARCH = reverse("knowledge:search")


@pytest.fixture(autouse=True)
def open_site(settings):
    settings.RATE_LIMITS_ENABLED = True
    settings.BEHIND_TLS_PROXY = False
    site_configuration_update(changes={"open_signup": True, "anonymous_submission": True}, actor=None)


@pytest.fixture
def tight(settings, clock):
    """Small limits, a clock standing still (fixed windows): (per IP, per account)."""
    settings.RATE_LIMITS = {scope: ("4/h", "2/h") for scope in settings.RATE_LIMITS}
    return clock


def visitor(ip: str = "198.51.100.20", **headers) -> Client:
    return Client(REMOTE_ADDR=ip, **headers)


def anonymous_data(email: str, subject: str = "Printer jams", **extra) -> dict:
    return {"name": "Vera Visitor", "email": email, "subject": subject,
            "description": "It jams on page two", "submission_key": str(uuid.uuid4()), **extra}  # fmt: skip


def verified(user: User) -> User:
    User.objects.filter(pk=user.pk).update(email_verified_at="2026-01-05T09:00:00Z")
    return User.objects.get(pk=user.pk)


# --- anonymous submission: the pending account and what the visitor sees -------------------------------


def test_a_new_address_leaves_a_pending_customer_account_without_a_password():
    """A visitor's first request makes a pending customer account for the address: no usable password,
    not verified, not staff; the visitor lands on a receipt page that names only their reference."""
    response = visitor().post(SUBMIT, anonymous_data("  New.Person@Example.ORG "), follow=True)
    assert response.status_code == 200
    user = User.objects.get(email__iexact="new.person@example.org")
    assert user.status == User.Status.PENDING
    assert not user.has_usable_password()
    assert user.email_verified_at is None
    assert not user.is_staff and not user.is_superuser
    ticket = Ticket.objects.get()
    assert ticket.requester == user
    assert ticket.reference in response.content.decode()


def test_a_second_visitor_with_the_same_address_sees_only_their_own_receipt_and_no_thread():
    """Two strangers typing one address share its pending account, but the second one's browser shows
    only the second reference; neither can open the list or the thread without signing in."""
    first = visitor("198.51.100.21")
    first.post(SUBMIT, anonymous_data("shared@example.org", "Salary slip question"))
    earlier = Ticket.objects.get()
    second = visitor("198.51.100.22")
    page = second.post(SUBMIT, anonymous_data("shared@example.org", "Other thing"), follow=True)
    body = page.content.decode()
    later = Ticket.objects.exclude(pk=earlier.pk).get()
    assert later.reference in body
    assert earlier.reference not in body and "Salary slip question" not in body
    for url in (reverse("tickets:portal_list"), reverse("tickets:portal_detail", args=[earlier.number])):
        response = second.get(url)
        assert response.status_code == 302 and response["Location"].startswith(LOGIN)


@pytest.mark.parametrize("spelling", ["agent@example.org", "AGENT@Example.org", " agent@example.org "])
def test_a_visitor_cannot_file_a_request_as_an_agent_in_any_spelling(spelling):
    """An agent's address (verified or not, in any letter case or with spaces) must sign in: nothing is
    filed under the agent, nothing created, and the form comes back at 422 with what was typed."""
    verified(make_agent(email="agent@example.org"))
    response = visitor().post(SUBMIT, anonymous_data(spelling, "Urgent: refund me"))
    assert response.status_code == 422
    assert ticket_services.SIGN_IN_TO_SUBMIT in unescape(response.content.decode())
    assert "Urgent: refund me" in unescape(response.content.decode())
    assert not Ticket.objects.exists()
    assert User.objects.count() == 1


def test_a_visitor_cannot_file_a_request_as_a_superuser_without_the_administrator_role():
    """A superuser who holds no staff role is still staff: a visitor cannot file under them."""
    admin = verified(make_administrator(email="root@example.org", is_superuser=True))
    admin.groups.clear()
    response = visitor().post(SUBMIT, anonymous_data("Root@example.org"))
    assert response.status_code == 422
    assert not Ticket.objects.exists()


def test_a_suspended_customer_cannot_be_written_for_anonymously(clock):
    """A suspended (verified) customer's address is refused while the suspension lasts, and accepted
    again once a timed suspension has ended."""
    customer = verified(make_customer(email="banned@example.org"))
    User.objects.filter(pk=customer.pk).update(
        status=User.Status.SUSPENDED, suspended_until=timezone.now() + timedelta(hours=2)
    )
    assert visitor().post(SUBMIT, anonymous_data("banned@example.org")).status_code == 422
    assert not Ticket.objects.exists()
    clock.shift(3 * 3600)
    assert visitor().post(SUBMIT, anonymous_data("banned@example.org")).status_code == 302
    assert Ticket.objects.get().requester == customer


@pytest.mark.parametrize(
    "lookalike",
    [
        "\uff56\uff49\uff43\uff54\uff49\uff4d@example.org",
        "vic\u200btim@example.org",
        "v\u0131ctim@example.org",
        "\u212aate@example.org",
    ],
)
def test_a_non_ascii_spelling_of_an_address_files_nothing_and_creates_nothing(lookalike):
    """Full-width letters, a zero-width space inside, a dotless i or the Kelvin sign are refused at 422:
    no pending look-alike account and no ticket under the real customer. (Around the address, invisible
    characters are trimmed as spaces are: pasted from a mail, the address is the one it shows.)"""
    verified(make_customer(email="victim@example.org"))
    verified(make_customer(email="kate@example.org"))
    response = visitor().post(SUBMIT, anonymous_data(lookalike))
    assert response.status_code == 422
    assert not Ticket.objects.exists()
    assert User.objects.count() == 2


def test_an_organisation_domain_does_not_make_the_visitor_a_manager_or_active():
    """A visitor typing an address of an organisation's domain gets at most a pending, non-manager
    account (never active, never a manager, no password), so nobody reads Acme's tickets through it."""
    acme = OrganizationFactory(email_domains=["acme.example"])
    make_customer(acme, manager=True)
    assert visitor().post(SUBMIT, anonymous_data("ceo@ACME.example")).status_code == 302
    pending = User.objects.get(email__iexact="ceo@acme.example")
    assert pending.status == User.Status.PENDING and not pending.is_organization_manager
    assert not pending.has_usable_password()
    # Signing up with that address (open sign-up) does not claim the pending account.
    signup = visitor("198.51.100.30").post(
        SIGNUP, {"name": "Mallory", "email": "CEO@acme.example", "password": "a-long-passphrase-9"}
    )
    assert signup.status_code == 422
    pending.refresh_from_db()
    assert pending.status == User.Status.PENDING and not pending.has_usable_password()


# --- rate limits -------------------------------------------------------------------------------------


def test_anonymous_submission_past_the_limit_is_a_429_that_keeps_everything_typed(tight):
    """The request past the per-address limit answers 429 with Retry-After, says to wait and send again,
    shows the form with the subject and description typed, and files nothing / creates no account."""
    client = visitor("198.51.100.40")
    for n in range(2):
        assert client.post(SUBMIT, anonymous_data("busy@example.org", f"Problem {n}")).status_code == 302
    refused = client.post(SUBMIT, anonymous_data("busy@example.org", "The scanner too"))
    page = unescape(refused.content.decode())
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert "Please wait" in page and 'value="The scanner too"' in page and "It jams on page two" in page
    assert 'value="busy@example.org"' in page
    assert "Traceback" not in page
    assert Ticket.objects.count() == 2


def test_the_per_address_submission_limit_holds_across_case_spaces_and_addresses(tight):
    """Changing the letter case of the address, adding spaces, or coming from another IP does not
    reset the per-address count."""
    spellings = ["limit@example.org", "LIMIT@example.org", "  Limit@Example.Org  "]
    codes = [
        visitor(f"198.51.100.{50 + n}").post(SUBMIT, anonymous_data(spelling)).status_code
        for n, spelling in enumerate(spellings)
    ]
    assert codes == [302, 302, 429]


def test_a_forged_forwarded_for_header_does_not_reset_the_per_ip_limit_without_a_proxy(tight):
    """Not behind our proxy, X-Forwarded-For is the client's to invent: a new value each time does not
    give a new per-IP allowance (4/h here) for anonymous submissions."""
    codes = [
        visitor("198.51.100.60")
        .post(SUBMIT, anonymous_data(f"person{n}@example.org"), HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
        .status_code
        for n in range(5)
    ]
    assert codes == [302, 302, 302, 302, 429]


def test_plus_tags_still_count_against_the_per_ip_limit(tight):
    """bob+1@, bob+2@ … are new addresses, but the per-IP limit still stops a script cycling them."""
    codes = [
        visitor("198.51.100.61").post(SUBMIT, anonymous_data(f"bob+{n}@example.org")).status_code
        for n in range(5)
    ]
    assert codes == [302, 302, 302, 302, 429]
    assert User.objects.filter(email__startswith="bob+").count() == 4


def test_the_submission_limit_lifts_when_the_window_ends(tight):
    """After the Retry-After time the same visitor can send again."""
    client = visitor("198.51.100.62")
    for _ in range(2):
        client.post(SUBMIT, anonymous_data("again@example.org"))
    refused = client.post(SUBMIT, anonymous_data("again@example.org"))
    assert refused.status_code == 429
    tight.shift(int(refused["Retry-After"]) + 1)
    assert client.post(SUBMIT, anonymous_data("again@example.org")).status_code == 302


@pytest.mark.parametrize(
    ("url", "field", "extra"),
    [
        (LOGIN, "username", {"password": "wrong-guess"}),
        # A form sign-up accepts (per address it counts only those), with a code it then refuses.
        (SIGNUP, "email", {"name": "Bot", "password": "a-long-and-good-phrase-73", "invitation_code": "X"}),
        (RESET, "email", {}),
    ],
    ids=["login", "signup", "password-reset"],
)
def test_per_account_limits_are_not_bypassed_by_case_spaces_or_other_addresses(tight, url, field, extra):
    """Sign-in, sign-up and password reset count one address together however it is spelled and
    wherever it comes from; the refusal is the friendly 429 page with Retry-After and no trace."""
    make_customer(email="target@example.org")
    spellings = ["target@example.org", "TARGET@Example.org", " Target@example.ORG "]
    responses = [
        visitor(f"198.51.100.{70 + n}").post(url, {field: spelling, **extra})
        for n, spelling in enumerate(spellings)
    ]
    assert responses[-1].status_code == 429, [r.status_code for r in responses]
    page = responses[-1].content.decode()
    assert "Please slow down" in page and "Traceback" not in page
    assert 0 < int(responses[-1]["Retry-After"]) <= 3600


@pytest.mark.parametrize(("url", "params"), [(SUGGEST, {"subject": "reset my password"}),
                                             (SEARCH, {"q": "password"})])  # fmt: skip
def test_an_htmx_type_ahead_past_the_limit_gets_a_429_htmx_can_report(tight, url, params):
    """A type-ahead request (HX-Request) past the limit answers 429 with Retry-After (htmx does not swap
    it and the page's script says to wait), not a 200 page swapped into the suggestions box."""
    client = visitor("198.51.100.80", HTTP_HX_REQUEST="true")
    codes = [client.get(url, params).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 200, 429]
    refused = client.get(url, params)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "Traceback" not in refused.content.decode()


def test_reading_the_forms_does_not_use_up_the_limits(tight):
    """Only sending counts: a visitor reloading the submission, sign-up and reset pages is never 429."""
    client = visitor("198.51.100.81")
    codes = {client.get(url).status_code for url in (SUBMIT, SIGNUP, RESET, LOGIN) for _ in range(6)}
    assert codes == {200}


# --- the mailed confirmation link --------------------------------------------------------------------


def link_for(user: User, token: str) -> str:
    return reverse("accounts:email_verify", args=[urlsafe_base64_encode(force_bytes(user.pk)), token])


def test_a_confirmation_token_mailed_for_one_account_does_not_confirm_another():
    """A link's token belongs to the account and address it was mailed for. Someone who signed up with
    another person's address (3bob@…, account 900012) and reads the mail of their own account 9000123
    (bob@…) must not confirm the stranger's address with their own link's token: the hash of
    pk + address reads "90001233bob@…" for both."""
    borrowed = make_customer(pk=900012, email="3bob@example.org")  # not the signer-up's mailbox
    own = make_customer(pk=9000123, email="bob@example.org")  # their own mailbox: they get its link
    token = email_verification_token.make_token(own)
    attacker = Client()
    attacker.force_login(borrowed)
    response = attacker.post(link_for(borrowed, token))
    borrowed.refresh_from_db()
    assert borrowed.email_verified_at is None, "another account's token confirmed this address"
    assert response.status_code == 422


def test_a_confirmation_link_cannot_be_used_twice_nor_after_it_expired(settings, clock):
    """Once used the link confirms nothing more (the page says 'confirmed already' to the owner only);
    a link older than PASSWORD_RESET_TIMEOUT is refused with 422."""
    user = make_customer(email="late@example.org")
    token = email_verification_token.make_token(user)
    owner = Client()
    owner.force_login(user)
    clock.shift(settings.PASSWORD_RESET_TIMEOUT + 60)
    assert owner.post(link_for(user, token)).status_code == 422
    user.refresh_from_db()
    assert user.email_verified_at is None
    fresh = email_verification_token.make_token(user)
    assert owner.post(link_for(user, fresh)).status_code == 302
    stranger = Client()
    stranger.force_login(make_customer())
    page = stranger.get(link_for(user, fresh)).content.decode()
    assert "confirmed already" not in page and "late@example.org" not in page


def test_a_pending_accounts_link_does_not_confirm_or_activate_it():
    """A pending account (an anonymous submission's) is claimed by a password reset, not by a
    confirmation link: such a link is refused and the account stays pending and unverified."""
    visitor().post(SUBMIT, anonymous_data("pending@example.org"))
    pending = User.objects.get(email="pending@example.org")
    token = email_verification_token.make_token(pending)
    response = Client().post(link_for(pending, token))
    assert response.status_code == 422
    pending.refresh_from_db()
    assert pending.status == User.Status.PENDING and pending.email_verified_at is None
