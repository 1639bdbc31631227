"""Sign-up from a sign-in prompt goes on to the page that asked (never another site), an invitation's link
fills in its address and says what to do when another account is signed in, quoted addresses are
refused, and the big mail providers' regional domains count as public."""

import re
from urllib.parse import quote

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.models import EMAIL_QUOTED, Organization, User
from accounts.views import INVITATION_SIGNED_IN
from helpdesk.services import site_configuration_update
from tests.conftest import notes
from tests.factories import InvitationFactory, ensure_roles, make_customer

pytestmark = pytest.mark.django_db

SIGNUP = reverse("accounts:signup")
LOGIN = reverse("accounts:login")
SUBMIT = reverse("tickets:portal_submit")
PASSWORD = "a-long-passphrase-9"


@pytest.fixture
def site(db):
    ensure_roles()
    return site_configuration_update


def sign_up(client: Client, email: str = "newcomer@example.org", *, path: str = SIGNUP, **extra):
    data = {"name": "New Person", "email": email, "password": PASSWORD, "invitation_code": "", **extra}
    return client.post(path, data)


def test_signing_up_from_a_sign_in_prompt_goes_on_to_the_page_that_asked(client, site):
    site(changes={"open_signup": True, "anonymous_submission": False}, actor=None)
    prompt = client.get(SUBMIT)
    assert prompt.status_code == 302 and prompt["Location"] == f"{LOGIN}?next={quote(SUBMIT)}"
    login_page = client.get(prompt["Location"]).content.decode()
    signup_link = f"{SIGNUP}?next={quote(SUBMIT)}"
    assert f'href="{signup_link}"' in login_page
    form = client.get(signup_link).content.decode()
    assert f'name="next" value="{SUBMIT}"' in form
    assert f'href="{LOGIN}?next={quote(SUBMIT)}"' in form  # and back to sign in, still going there
    refused = sign_up(client, path=signup_link, next=SUBMIT, password="short")
    assert refused.status_code == 422 and f'name="next" value="{SUBMIT}"' in refused.content.decode()

    response = sign_up(client, path=signup_link, next=SUBMIT)
    assert response.status_code == 302 and response["Location"] == SUBMIT
    assert client.get(SUBMIT).status_code == 200


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "javascript:alert(1)",
        "http:/evil.example",
    ],
)
def test_sign_up_never_goes_on_to_another_site(client, site, target):
    site(changes={"open_signup": True}, actor=None)
    form = client.get(f"{SIGNUP}?next={quote(target)}").content.decode()
    assert 'name="next"' not in form and "evil" not in form
    response = sign_up(client, path=f"{SIGNUP}?next={quote(target)}", next=target)
    assert response.status_code == 302 and response["Location"] == reverse("home")


def test_an_invitation_link_opened_while_another_account_is_signed_in_says_how_to_accept(client, site):
    site(changes={"open_signup": False}, actor=None)
    InvitationFactory(code="JOIN-ACME", email="invited@example.org")
    client.force_login(make_customer(email="colleague@example.org"))

    response = client.get(f"{SIGNUP}?code=JOIN-ACME")
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert notes(response) == [INVITATION_SIGNED_IN.format(email="colleague@example.org")]
    client.get(reverse("home"))  # the note shown
    assert notes(client.get(SIGNUP)) == []  # no link, nothing to say


def test_a_mailed_invitation_link_fills_in_the_invited_address(
    site, immediate_tasks, django_capture_on_commit_callbacks
):
    site(changes={"open_signup": False}, actor=None)
    invitation = InvitationFactory(code="FOR-ANNA", email="anna@acme.example")
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_mail(invitation, actor=None, domain="testserver", use_https=False)
    (message,) = mail.outbox
    link = re.search(r"http://testserver(/accounts/signup/\S+)", message.body).group(1)

    page = Client().get(link).content.decode()
    assert 'value="anna@acme.example"' in page and 'value="FOR-ANNA"' in page
    response = sign_up(Client(), "anna@acme.example", invitation_code="FOR-ANNA")
    assert response.status_code == 302
    assert User.objects.get(email="anna@acme.example").organization == invitation.organization


@pytest.mark.parametrize("address", ['"customer"@example.org', '"cust omer"@example.org'])
def test_a_quoted_address_is_refused_not_a_second_account_for_the_mailbox(client, site, address):
    site(changes={"open_signup": True}, actor=None)
    make_customer(email="customer@example.org")
    response = sign_up(client, address)
    assert response.status_code == 422
    assert EMAIL_QUOTED in response.content.decode().replace("&quot;", '"')
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    "domain",
    ["yahoo.co.uk", "hotmail.co.uk", "hotmail.fr", "outlook.de", "yahoo.fr", "pm.me", "tutanota.com"],
)
def test_regional_domains_of_public_mail_providers_are_refused(db, domain):
    organization = Organization(name="Acme", slug="acme", email_domains=[domain])
    with pytest.raises(ValidationError, match="mail provider anyone can have an address at"):
        organization.full_clean()


def test_more_public_mail_domains_are_added_from_the_environment(db, settings):
    settings.PUBLIC_MAIL_DOMAINS = settings.PUBLIC_MAIL_DOMAINS | {"mail.acme-isp.example"}
    organization = Organization(name="Acme", slug="acme", email_domains=["acme.example"])
    organization.full_clean()  # a company's own domain is not one
    organization.email_domains = ["mail.acme-isp.example"]
    with pytest.raises(ValidationError, match="mail provider anyone can have an address at"):
        organization.full_clean()
