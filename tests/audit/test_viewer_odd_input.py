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


def test_a_filter_refused_in_place_brings_its_marked_form_along(client):
    """The filter form asks htmx for the events only; when a value is refused, the answer carries the
    form with the field marked, and the status says the filter was not applied (not a count that reads
    as its result)."""
    audit.record("update", actor=None, object_repr="thing")
    client.force_login(make_administrator())
    response = client.get(
        LIST, {"date_from": "20000-01-01"}, headers={"HX-Request": "true", "HX-Target": "events"}
    )
    page = response.content.decode()
    assert response.status_code == 422
    form = page[page.index('<form method="get"') : page.index("</form>")]
    assert 'id="audit-filters"' in form and 'hx-swap-oob="true"' in form
    assert "Enter a valid date." in form and 'aria-invalid="true"' in form
    assert "The filter was not applied: correct the fields marked." in page
    assert "1 event." not in page
