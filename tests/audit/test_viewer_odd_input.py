"""The audit viewer given digits that are not ASCII in the actor filter and the page cursor."""

import pytest
from django.urls import reverse

import audit
from tests.factories import make_administrator

pytestmark = pytest.mark.django_db

LIST = reverse("audit:event_list")
EXPORT = reverse("audit:event_export")


@pytest.mark.parametrize(
    "params",
    [{"actor": "²"}, {"actor": "①"}, {"before": "²"}, {"after": "³"}, {"before": "٣"}],
)
def test_digits_that_int_cannot_read_are_plain_text_not_a_crash(client, params):
    audit.record("update", actor=None, object_repr="thing")
    client.force_login(make_administrator())
    assert client.get(LIST, params).status_code == 200
    assert client.post(EXPORT, params).status_code == 200
