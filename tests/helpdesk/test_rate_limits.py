"""Rate limits per IP and per account on sign-in, sign-up, password reset, two-factor, ticket
submission and search: the request past the limit gets a friendly 429 with Retry-After and does nothing."""

import time
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.models import User
from helpdesk.ratelimit import parse_rate
from helpdesk.services import site_configuration_update
from tests.factories import TeamFactory, make_agent, make_customer
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def limits(settings, clock):
    # Counted in fixed windows: the clock stands still, so no test straddles a window's end by chance.
    settings.RATE_LIMITS = {scope: ("4/m", "2/m") for scope in settings.RATE_LIMITS}
    return settings


def client_from(ip: str) -> Client:
    return Client(REMOTE_ADDR=ip)


def test_rates_are_parsed():
    assert parse_rate("10/m") == (10, 60)
    assert parse_rate("5/15m") == (5, 900)
    assert parse_rate("3/h") == (3, 3600)


def test_sign_in_is_limited_per_account_with_a_friendly_page(limits):
    client = client_from("198.51.100.1")
    data = {"username": "someone@example.org", "password": "wrong"}
    assert [client.post(reverse("accounts:login"), data).status_code for _ in range(2)] == [422, 422]
    response = client.post(reverse("accounts:login"), data)
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert "Please slow down" in response.content.decode()
    # Another account from the same address is not held up by the first one's limit.
    other = {"username": "other@example.org", "password": "wrong"}
    assert client.post(reverse("accounts:login"), other).status_code == 422
    # Only sign-in attempts count: reading the page does not.
    assert client.get(reverse("accounts:login")).status_code == 200


def test_sign_in_is_limited_per_ip_across_accounts(limits):
    client = client_from("198.51.100.2")
    codes = [
        client.post(reverse("accounts:login"), {"username": f"u{n}@example.org", "password": "x"}).status_code
        for n in range(5)
    ]
    assert codes == [422, 422, 422, 422, 429]
    assert (
        client_from("198.51.100.3")
        .post(reverse("accounts:login"), {"username": "u9@example.org", "password": "x"})
        .status_code
        == 422
    )


def test_signup_limited_and_nothing_created_past_the_limit(limits):
    """Per IP every sending counts (4 a minute here); per address only those the form accepts (2), which
    come back past the limit as the form, refilled, with how long to wait."""
    client = client_from("198.51.100.4")
    data = {"name": "Spam", "email": "spam@example.org", "password": "short", "invitation_code": "x"}
    statuses = [client.post(reverse("accounts:signup"), data).status_code for _ in range(5)]
    assert statuses == [422, 422, 422, 422, 429]
    wrong_code = {**data, "password": "a-long-and-good-passphrase-73", "invitation_code": "NOT-A-CODE"}
    elsewhere = client_from("198.51.100.44")
    statuses = [elsewhere.post(reverse("accounts:signup"), wrong_code).status_code for _ in range(3)]
    assert statuses == [422, 422, 429]
    refused = elsewhere.post(reverse("accounts:signup"), wrong_code)
    page = refused.content.decode()
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "sent for sign-up too often" in page
    assert 'value="spam@example.org"' in page and "NOT-A-CODE" in page
    assert "a-long-and-good-passphrase-73" not in page
    assert not User.objects.filter(email="spam@example.org").exists()


@pytest.mark.usefixtures("immediate_tasks")
def test_password_reset_limited_per_address(limits, mailoutbox):
    make_customer(email="victim@example.org")
    client = client_from("198.51.100.5")
    for _ in range(3):
        response = client.post(reverse("accounts:password_reset"), {"email": "Victim@example.org"})
    assert response.status_code == 429
    assert len(mailoutbox) == 2  # nobody can flood a mailbox with reset mail


def test_ticket_submission_limited_per_customer(limits):
    client = client_from("198.51.100.6")
    client.force_login(make_customer())
    submit = reverse("tickets:portal_submit")
    codes = [
        client.post(
            submit, {"subject": "Help", "description": "x", "submission_key": str(uuid.uuid4())}
        ).status_code
        for _ in range(3)
    ]
    assert codes == [302, 302, 429]
    assert Ticket.objects.count() == 2


def test_a_submission_the_form_refuses_is_not_counted(limits):
    """A customer whose form comes back three times for an empty subject has made no ticket and used up
    none of their two submissions a minute; a visitor likewise, per address and per IP."""
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    customer = client_from("198.51.100.16")
    customer.force_login(make_customer())
    visitor = client_from("198.51.100.17")
    submit = reverse("tickets:portal_submit")

    def send(client, subject: str, **visitor_fields) -> int:
        data = {"subject": subject, "description": "x", "submission_key": str(uuid.uuid4())}
        return client.post(submit, data | visitor_fields).status_code

    assert [send(customer, "") for _ in range(3)] == [422, 422, 422]
    assert [send(customer, "Help") for _ in range(3)] == [302, 302, 429]
    anonymous = {"email": "visitor@example.org", "name": "Vi"}
    assert [send(visitor, "", **anonymous) for _ in range(3)] == [422, 422, 422]
    assert [send(visitor, "Help", **anonymous) for _ in range(3)] == [302, 302, 429]
    assert Ticket.objects.count() == 4


def test_search_limited_per_ip_for_visitors(limits):
    client = client_from("198.51.100.7")
    codes = [client.get(reverse("knowledge:search"), {"q": "password"}).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 200, 429]
    assert client_from("198.51.100.8").get(reverse("knowledge:suggest"), {"q": "pass"}).status_code == 200


def test_my_tickets_searches_are_limited_per_account_and_plain_lists_are_not(limits):
    """A customer's search of "my tickets" is a full-text query as the KB search is: the same limit per
    account (2 a minute here); paging and filtering the list without one is not counted. (The desk's
    queue is staff work, within its query budget: not limited.)"""
    client = client_from("198.51.100.18")
    client.force_login(make_customer())
    tickets = reverse("tickets:portal_list")
    codes = [client.get(tickets, {"q": "printer"}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert [client.get(tickets, {"q": " ", "page": "1"}).status_code for _ in range(3)] == [200, 200, 200]
    other = client_from("198.51.100.18")  # the same office: the IP allows 4, this account has its 2
    other.force_login(make_customer())
    assert other.get(tickets, {"q": "printer"}).status_code == 200
    agent = client_from("198.51.100.18")
    agent.force_login(make_agent(TeamFactory()))
    codes = {agent.get(reverse("tickets:desk_queue"), {"q": "printer"}).status_code for _ in range(3)}
    assert codes == {200}


def test_a_new_window_lets_requests_through_again(limits, time_machine):
    time_machine.move_to(time.time(), tick=False)
    client = client_from("198.51.100.9")
    data = {"username": "late@example.org", "password": "wrong"}
    for _ in range(3):
        response = client.post(reverse("accounts:login"), data)
    assert response.status_code == 429
    time_machine.shift(int(response["Retry-After"]) + 1)
    assert client.post(reverse("accounts:login"), data).status_code == 422


def test_limits_can_be_switched_off(limits):
    limits.RATE_LIMITS_ENABLED = False
    client = client_from("198.51.100.10")
    codes = {client.get(reverse("knowledge:search"), {"q": "x"}).status_code for _ in range(6)}
    assert codes == {200}


def test_counters_live_in_an_unlogged_table():
    with connection.cursor() as cursor:
        cursor.execute("SELECT relpersistence FROM pg_class WHERE relname = 'helpdesk_ratelimitcounter'")
        assert cursor.fetchone() == ("u",)


def test_guessing_the_current_password_on_the_profile_is_limited_but_saving_the_profile_is_not(limits):
    user = make_customer()
    client = client_from("198.51.100.9")
    client.force_login(user)
    guess = {"change_password": "1", "old_password": "guess", "new_password1": "n3w-Passphrase!",
             "new_password2": "n3w-Passphrase!"}  # fmt: skip
    profile = reverse("accounts:profile")
    assert [client.post(profile, guess).status_code for _ in range(2)] == [422, 422]
    assert client.post(profile, guess).status_code == 429
    save = {"save_profile": "1", "name": "Renamed", "timezone": "UTC"}
    assert [client.post(profile, save).status_code for _ in range(3)] == [302, 302, 302]


def test_a_per_ip_limit_counts_an_ipv6_network_not_each_address(settings, clock):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "signup": ("2/h", "100/h")}
    site_configuration_update(changes={"open_signup": True}, actor=None)
    answers = []
    for n in range(1, 5):
        data = {"name": "Bot", "email": f"bot{n}@example.org", "password": "a-long-passphrase-9"}
        client = Client(REMOTE_ADDR=f"2001:db8:1:2::{n}")  # a new address of one /64 each time
        answers.append(client.post(reverse("accounts:signup"), data).status_code)
    assert answers == [302, 302, 429, 429]
    other_network = Client(REMOTE_ADDR="2001:db8:1:3::1")
    data = {"name": "Neighbour", "email": "neighbour@example.org", "password": "a-long-passphrase-9"}
    assert other_network.post(reverse("accounts:signup"), data).status_code == 302
