"""Account pages: profile, password change and reset (which activates pending accounts)."""

import itertools
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import User
from tests.factories import TEST_PASSWORD, make_customer

pytestmark = pytest.mark.django_db

PROFILE = reverse("accounts:profile")


def test_profile_requires_sign_in(client):
    response = client.get(PROFILE)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_profile_saves_name_and_time_zone(client):
    user = make_customer()
    client.force_login(user)
    response = client.post(PROFILE, {"save_profile": "1", "name": "Renamed", "timezone": "Asia/Tokyo"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.name, user.timezone) == ("Renamed", "Asia/Tokyo")


def test_profile_with_unknown_time_zone_answers_422_and_keeps_the_name(client):
    user = make_customer(name="Before")
    client.force_login(user)
    response = client.post(PROFILE, {"save_profile": "1", "name": "Typed name", "timezone": "Mars/Olympus"})
    assert response.status_code == 422
    assert 'value="Typed name"' in response.content.decode()
    user.refresh_from_db()
    assert user.name == "Before"


def test_password_change_keeps_this_session(client):
    user = make_customer()
    client.force_login(user)
    response = client.post(
        PROFILE,
        {
            "change_password": "1",
            "old_password": TEST_PASSWORD,
            "new_password1": "a-new-long-passphrase",
            "new_password2": "a-new-long-passphrase",
        },
    )
    assert response.status_code == 302
    assert client.get(PROFILE).status_code == 200
    user.refresh_from_db()
    assert user.check_password("a-new-long-passphrase")


def test_password_change_with_wrong_old_password_is_422(client):
    client.force_login(make_customer())
    response = client.post(
        PROFILE,
        {
            "change_password": "1",
            "old_password": "nope",
            "new_password1": "a-new-long-passphrase",
            "new_password2": "a-new-long-passphrase",
        },
    )
    assert response.status_code == 422


@pytest.mark.usefixtures("immediate_tasks")
def test_password_reset_activates_a_pending_account(client):
    user = make_customer(email="pending@example.org", status=User.Status.PENDING)
    user.set_unusable_password()
    user.save()
    response = client.post(reverse("accounts:password_reset"), {"email": "Pending@example.org"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    set_password_url = form_page.redirect_chain[-1][0]
    response = client.post(
        set_password_url, {"new_password1": "fresh-long-passphrase", "new_password2": "fresh-long-passphrase"}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.status == User.Status.ACTIVE
    assert user.email_verified_at is not None
    assert (
        client.post(
            reverse("accounts:login"),
            {"username": "pending@example.org", "password": "fresh-long-passphrase"},
        ).status_code
        == 302
    )


@pytest.mark.usefixtures("immediate_tasks")
def test_password_reset_sends_nothing_to_suspended_or_unknown_addresses(client):
    make_customer(email="gone@example.org", status=User.Status.SUSPENDED)
    client.post(reverse("accounts:password_reset"), {"email": "gone@example.org"})
    client.post(reverse("accounts:password_reset"), {"email": "nobody@example.org"})
    assert mail.outbox == []


def test_the_last_five_passwords_cannot_be_reused(client, settings):
    from accounts.password_validation import REUSED

    settings.RATE_LIMITS_ENABLED = False  # eight changes in a row; the limit has its own test

    user = make_customer()
    client.force_login(user)
    passwords = [TEST_PASSWORD] + [f"fresh-passphrase-number-{n}" for n in range(1, 6)]

    def change(old: str, new: str):
        return client.post(PROFILE, {"change_password": "1", "old_password": old,
                                     "new_password1": new, "new_password2": new})  # fmt: skip

    response = change(TEST_PASSWORD, TEST_PASSWORD)
    assert response.status_code == 422 and REUSED.format(count=5) in response.content.decode()
    for old, new in itertools.pairwise(passwords):
        assert change(old, new).status_code == 302
    # The first password is now six changes ago, so it may come back; the second-newest may not.
    assert change(passwords[-1], passwords[-2]).status_code == 422
    assert change(passwords[-1], TEST_PASSWORD).status_code == 302
    assert user.password_history.count() == 5


@pytest.mark.usefixtures("immediate_tasks")
def test_password_reset_reaches_a_user_whose_suspension_has_run_out(client, clock):
    user = make_customer(email="back@example.org")
    services.user_suspend(user, until=timezone.now() + timedelta(hours=1), reason="Cooling off", actor=None)
    client.post(reverse("accounts:password_reset"), {"email": "back@example.org"})
    assert mail.outbox == []  # still suspended
    clock.shift(timedelta(hours=2))  # over, though the nightly job has not stored it yet
    client.post(reverse("accounts:password_reset"), {"email": "back@example.org"})
    assert [message.to for message in mail.outbox] == [["back@example.org"]]


def test_the_password_in_use_cannot_be_chosen_again_even_without_a_history(client):
    """Accounts loaded from a fixture have no history rows."""
    from accounts.password_validation import REUSED

    user = make_customer()
    user.password_history.all().delete()
    client.force_login(user)
    same = {"old_password": TEST_PASSWORD, "new_password1": TEST_PASSWORD, "new_password2": TEST_PASSWORD}
    response = client.post(PROFILE, {"change_password": "1", **same})
    assert response.status_code == 422 and REUSED.format(count=5) in response.content.decode()


def test_an_empty_sign_up_post_is_a_422_that_marks_the_required_fields(client):
    response = client.post(reverse("accounts:signup"), {})
    assert response.status_code == 422
    assert response.content.decode().count('aria-invalid="true"') >= 3  # name, e-mail, password


@pytest.mark.usefixtures("immediate_tasks")
def test_links_in_mails_go_to_the_sites_own_address_whatever_host_the_request_named(
    client, settings, django_capture_on_commit_callbacks
):
    """With ALLOWED_HOSTS=.example.com any subdomain passes: a reset asked for with Host:
    attacker.example.com mailed a link there, and the victim's click handed over the token. SITE_URL
    names the site's own address, and every mail's links go there (helpdesk.links)."""
    from django.test import RequestFactory

    from helpdesk.links import mail_link

    settings.ALLOWED_HOSTS = [".example.com"]
    settings.SITE_URL = "https://help.example.com"
    make_customer(email="victim@example.org")
    attacker = {"HTTP_HOST": "attacker.example.com"}
    client.post(reverse("accounts:password_reset"), {"email": "victim@example.org"}, **attacker)
    (reset,) = mail.outbox
    assert "https://help.example.com/accounts/reset/" in reset.body and "attacker" not in reset.body
    client.force_login(make_customer(email="unconfirmed@example.org"))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:email_verification_send"), **attacker)
    assert "https://help.example.com/accounts/verify-email/" in mail.outbox[-1].body
    # The receipt's links too (tickets/views/portal.py builds them with mail_link).
    request = RequestFactory().get("/", **attacker)
    assert mail_link(request, "/portal/tickets/1/") == "https://help.example.com/portal/tickets/1/"
    settings.SITE_URL = ""
    assert mail_link(request, "/portal/tickets/1/") == "http://attacker.example.com/portal/tickets/1/"


@pytest.mark.parametrize(
    "value, errors",
    [("", []), ("https://help.example.com", []), ("http://localhost:8000", []),
     ("help.example.com", ["helpdesk.E020"]), ("https://help.example.com/desk", ["helpdesk.E020"]),
     ("ftp://help.example.com", ["helpdesk.E020"])],
)  # fmt: skip
def test_site_url_is_checked_to_be_an_address(settings, value, errors):
    from helpdesk.checks import check_site_url

    settings.SITE_URL = value
    assert [error.id for error in check_site_url(None)] == errors
