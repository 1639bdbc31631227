"""Look-alike e-mail addresses: a letter PostgreSQL's UPPER() folds onto another (the dotless i, U+0131,
becomes "I") must neither claim, reach nor unlock someone else's account."""

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import EMAIL_NOT_ASCII, User
from helpdesk.services import site_configuration_update
from tests.factories import TEST_PASSWORD, make_customer
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

DOTLESS_I = "\u0131"
VICTIM = "victim@example.org"
LOOKALIKE = VICTIM.replace("i", DOTLESS_I, 1)  # "v", a dotless i, "ctim@example.org"
LOGIN = reverse("accounts:login")


def test_the_lookalike_and_the_address_are_different_spellings_to_the_lookups():
    victim = make_customer(email=VICTIM)
    assert User.objects.with_email(" Victim@EXAMPLE.org ").get() == victim
    assert not User.objects.with_email(LOOKALIKE).exists()


def test_sign_up_with_a_lookalike_address_is_refused_with_the_form_refilled(client, settings):
    settings.RATE_LIMITS_ENABLED = False
    site_configuration_update(changes={"open_signup": True}, actor=None)
    response = client.post(
        reverse("accounts:signup"), {"name": "Mallory", "email": LOOKALIKE, "password": "a-long-passphrase-9"}
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert EMAIL_NOT_ASCII.split(" (")[0] in body
    assert 'value="Mallory"' in body
    assert not User.objects.filter(email=LOOKALIKE).exists()


def test_anonymous_submission_with_a_lookalike_address_files_nothing_under_the_real_customer(client):
    victim = make_customer(email=VICTIM)
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    response = client.post(
        reverse("tickets:portal_submit"),
        {"name": "Mallory", "email": LOOKALIKE, "subject": "Hello", "description": "Anything",
         "submission_key": "a" * 32},
    )  # fmt: skip
    assert response.status_code == 422
    assert not Ticket.objects.exists()
    assert not User.objects.exclude(pk=victim.pk).filter(email__startswith="v").exists()


def test_a_lookalike_address_does_not_sign_in_to_the_account(client):
    make_customer(email=VICTIM)
    response = client.post(LOGIN, {"username": LOOKALIKE, "password": TEST_PASSWORD})
    assert response.status_code == 422
    assert "_auth_user_id" not in client.session


def test_a_locked_account_stays_locked_whatever_letters_spell_it(client, settings):
    make_customer(email=VICTIM)
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        client.post(LOGIN, {"username": VICTIM, "password": "guess"}, REMOTE_ADDR=f"203.0.113.{attempt + 1}")
    for spelling in (VICTIM, LOOKALIKE, VICTIM.upper()):
        client.post(LOGIN, {"username": spelling, "password": TEST_PASSWORD}, REMOTE_ADDR="198.51.100.1")
        assert "_auth_user_id" not in client.session, spelling


@pytest.mark.usefixtures("immediate_tasks")
def test_password_reset_for_a_lookalike_address_sends_nothing(client, settings):
    settings.RATE_LIMITS_ENABLED = False
    make_customer(email=VICTIM)
    client.post(reverse("accounts:password_reset"), {"email": LOOKALIKE})
    assert mail.outbox == []
    client.post(reverse("accounts:password_reset"), {"email": VICTIM.upper()})
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [VICTIM]
