"""What the site's mails say to an address nobody has confirmed (no name a stranger chose), how they name
the site, and the deploy check that keeps their links on HTTPS and on the site's own host."""

import re
import uuid

import pytest
from django.core import mail
from django.core.checks.registry import registry
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts import tasks as account_tasks
from helpdesk.checks import check_mailed_links
from helpdesk.services import site_configuration_update
from tests.factories import make_customer

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https?://\S+")


@pytest.mark.usefixtures("immediate_tasks")
def test_a_name_a_stranger_gave_someone_elses_address_is_not_mailed_to_them(
    client, django_capture_on_commit_callbacks
):
    """A visitor files a request with a victim's address and the name "https://evil.example/claim", then
    asks a password reset for it: the victim's two genuine mails greet them with "Hello," and hold the
    site's links only. Before the fix both began "Hello https://evil.example/claim,", a link above the
    site's own. A confirmed address is greeted by its owner's name."""
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    request = {"name": "https://evil.example/claim Support", "email": "victim@example.org",
               "subject": "Printer jam", "description": "Paper stuck",
               "submission_key": str(uuid.uuid4())}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("tickets:portal_submit"), request)
        client.post(reverse("accounts:password_reset"), {"email": "victim@example.org"})
    receipt, reset = mail.outbox
    for message in (receipt, reset):
        assert message.to == ["victim@example.org"] and message.body.startswith("Hello,\n")
        assert all("evil.example" not in link for link in LINK.findall(message.body)), message.body
    make_customer(email="anna@example.org", name="Anna Berg", email_verified_at=timezone.now())
    account_tasks.send_password_reset_mail.call("anna@example.org", domain="help.example", use_https=True)
    assert mail.outbox[-1].body.startswith("Hello Anna,\n")


def test_the_reset_mail_names_the_site_on_one_line_as_the_others_do():
    """A site name with a line break reads "Acme Support" in the reset mail's subject and body, as in the
    other mails. Before the fix the subject ran the words together ("AcmeSupport")."""
    call_command("site_config", "set", "site_name", "Acme\nSupport", verbosity=0)
    make_customer(email="anna@example.org")
    account_tasks.send_password_reset_mail.call("anna@example.org", domain="help.example", use_https=True)
    (reset,) = mail.outbox
    assert reset.subject == "Choose a new password for Acme Support"
    assert "your account at Acme Support." in reset.body


@pytest.fixture
def deploy_settings(settings):
    settings.SECURE_SSL_REDIRECT = settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = 31536000
    return settings


@pytest.mark.parametrize(
    ("site_url", "allowed_hosts", "warned"),
    [
        ("http://help.example.com", ["help.example.com"], ["helpdesk.W021"]),
        ("HTTP://help.example.com", ["help.example.com"], ["helpdesk.W021"]),
        ("", [".example.com"], ["helpdesk.W022"]),
        ("", ["*"], ["helpdesk.W022"]),
        ("https://help.example.com", [".example.com"], []),
        ("", ["help.example.com"], []),
    ],
)
def test_the_deploy_check_warns_of_mailed_links_over_http_or_to_any_host(
    deploy_settings, site_url, allowed_hosts, warned
):
    """SITE_URL over http on a site served over HTTPS only (a reset link's token would cross the network
    in clear), or unset while ALLOWED_HOSTS holds a wildcard (a Host header would choose where links
    go): `check --deploy` warns. Before the fix it passed both."""
    deploy_settings.SITE_URL, deploy_settings.ALLOWED_HOSTS = site_url, allowed_hosts
    assert check_mailed_links in registry.get_checks(include_deployment_checks=True)
    assert check_mailed_links not in registry.get_checks()
    assert [message.id for message in check_mailed_links(None)] == warned
