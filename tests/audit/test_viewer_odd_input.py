"""The audit viewer given digits that are not ASCII in the actor filter and the page cursor, and cursors
with nothing past them."""

import pytest
from django.urls import reverse

import audit
from audit.models import AuditEvent
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


def test_a_page_read_after_a_cursor_offers_older_events_only_if_one_matches(client):
    """after=0, or a Newer link made before retention pruned the older events: the oldest events, with no
    Older link to an empty page; a page with older events beyond it keeps the link."""
    for n in range(3):
        audit.record("update", actor=None, object_repr=f"thing {n}")
    client.force_login(make_administrator())
    first = AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True).first()
    oldest = client.get(LIST, {"after": first - 1}).context["page"]
    assert oldest.events[-1].sequence == first and oldest.older_than is None
    later = client.get(LIST, {"after": first}).context["page"]
    assert later.events[-1].sequence == first + 1 and later.older_than == first + 1
