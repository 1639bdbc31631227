"""The request context of audit events: the request id is our own, unless our proxy sends a well-formed
one."""

import uuid

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from tests.factories import TEST_PASSWORD, make_customer

pytestmark = pytest.mark.django_db

PROXY_ID = "7f3c9a2e-1b4d-4e8f-9a6b-2c5d8e1f0a3b"


def sign_in(client, request_id: str):
    user = make_customer()
    return client.post(reverse("accounts:login"), {"username": user.email, "password": TEST_PASSWORD},
                       HTTP_X_REQUEST_ID=request_id)  # fmt: skip


def is_fresh_id(value: str) -> bool:
    return len(value) == 32 and uuid.UUID(hex=value).hex == value


def test_a_clients_request_id_is_ignored_without_a_trusted_proxy(client, settings):
    settings.BEHIND_TLS_PROXY = False
    response = sign_in(client, PROXY_ID)
    event = AuditEvent.objects.get(action="login")
    assert event.request_id != PROXY_ID and is_fresh_id(event.request_id)
    assert response["X-Request-ID"] == event.request_id


@pytest.mark.parametrize("sent", [PROXY_ID, "0123abcd", "a1b2c3d4e5f6" * 5])
def test_behind_the_proxy_its_well_formed_request_id_is_kept(client, settings, sent):
    settings.BEHIND_TLS_PROXY = True
    response = sign_in(client, sent)
    assert AuditEvent.objects.get(action="login").request_id == sent == response["X-Request-ID"]


@pytest.mark.parametrize(
    "sent",
    ["", "abc123", "x" * 20, "0123abcd<script>", "0123abcd 0123", "f" * 65, "Robert'); DROP TABLE--",
     "0123abcd\n0123abcd"],
)  # fmt: skip
def test_behind_the_proxy_a_malformed_request_id_is_replaced(client, settings, sent):
    settings.BEHIND_TLS_PROXY = True
    response = sign_in(client, sent)
    event = AuditEvent.objects.get(action="login")
    assert is_fresh_id(event.request_id) and response["X-Request-ID"] == event.request_id
