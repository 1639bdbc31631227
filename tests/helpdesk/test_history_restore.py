"""htmx's history restore (Back to an address htmx pushed, with no copy kept in the browser) asks for
the whole page with HX-Request and HX-History-Restore-Request: it gets the plain page, with none of its
parts marked for an out-of-band swap (htmx would move them out of the page it puts back)."""

import pytest
from django.urls import reverse

from tests.factories import (
    OrganizationFactory,
    TeamFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_ticket,
)

pytestmark = pytest.mark.django_db

RESTORE = {"HX-Request": "true", "HX-History-Restore-Request": "true"}


def test_a_restored_queue_page_is_the_plain_page(client):
    """The queue asked for by a history restore has one heading, one list of views and no element
    marked hx-swap-oob, as the page asked for without htmx."""
    team = TeamFactory()
    customer = make_customer(OrganizationFactory())
    for number in range(30):
        make_ticket(customer, team=team, subject=f"Laptop battery report {number}")
    client.force_login(make_agent(team))
    address = reverse("tickets:desk_queue") + "?scope=teams&status=new&page=2"
    plain = client.get(address).content.decode()
    restored = client.get(address, headers=RESTORE).content.decode()
    for page in (plain, restored):
        assert (page.count('id="queue-title"'), page.count('id="view-lists"'), page.count("hx-swap-oob")) == (
            1,
            1,
            0,
        )
    # A request from the page's own htmx (the table's target) still gets the fragment, whose counts
    # and heading go out of band.
    fragment = client.get(address, headers={"HX-Request": "true", "HX-Target": "queue-table"}).content
    assert b"<main" not in fragment and b'id="view-lists" hx-swap-oob="true"' in fragment


def test_a_restored_audit_trail_keeps_its_filter_form(client):
    """The audit trail asked for by a history restore after a filter has its filter form as a plain part
    of the page, not marked for an out-of-band swap."""
    client.force_login(make_administrator())
    restored = client.get(reverse("audit:event_list") + "?action=role_change", headers=RESTORE)
    assert restored.status_code == 200
    page = restored.content.decode()
    assert 'id="audit-filters"' in page and "hx-swap-oob" not in page
