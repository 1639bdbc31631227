"""The client's address: REMOTE_ADDR, or behind our own proxy the last X-Forwarded-For entry, for
audit events, rate limits and lockouts alike."""

import pytest
from django.test import RequestFactory

from helpdesk.client_ip import address_key, client_ip, client_network

pytestmark = pytest.mark.django_db


def request(**meta):
    return RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", **meta)


def test_without_a_proxy_the_header_is_ignored(settings):
    settings.BEHIND_TLS_PROXY = False
    assert client_ip(request(HTTP_X_FORWARDED_FOR="198.51.100.1")) == "10.0.0.2"


def test_behind_the_proxy_the_entry_it_appended_counts_not_the_clients_own(settings):
    settings.BEHIND_TLS_PROXY = True
    assert client_ip(request(HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7")) == "203.0.113.7"
    assert client_ip(request(HTTP_X_FORWARDED_FOR="not-an-address")) == "10.0.0.2"
    assert client_ip(request()) == "10.0.0.2"


def test_rate_limits_and_audit_use_it(settings, client, clock):
    from django.urls import reverse

    from audit.models import AuditEvent

    settings.BEHIND_TLS_PROXY = True
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": ("2/m", "100/m")}
    data = {"username": "x@example.org", "password": "wrong"}
    codes = [
        client.post(
            reverse("accounts:login"), data, HTTP_X_FORWARDED_FOR=f"9.9.9.9, 203.0.113.{n % 2}"
        ).status_code
        for n in range(5)
    ]
    assert codes == [422, 422, 422, 422, 429]  # two clients behind one proxy, two attempts each
    assert AuditEvent.objects.filter(action="login_failed", ip="203.0.113.1").exists()


@pytest.mark.parametrize(
    ("address", "counted_as"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::"),  # one host's /64: one counter
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("not-an-address", "not-an-address"),
    ],
)
def test_limits_and_lockouts_count_an_ipv6_client_by_its_network(address, counted_as):
    assert address_key(address) == counted_as
    assert client_network(RequestFactory().get("/", REMOTE_ADDR=address)) == counted_as
