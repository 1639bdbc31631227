"""The composer on a closed ticket: the reply shortcut leaves it on "Internal note", and an error on the
"Send as" choice is shown beside it."""

import pytest
from django.test import Client

from accounts.models import Team, User
from tests.e2e.conftest import signed_in
from tests.factories import make_ticket
from tickets.models import Ticket
from tickets.workflow import Status

pytestmark = [pytest.mark.django_db(transaction=True)]


def _closed_ticket() -> Ticket:
    customer = User.objects.get(email="customer@example.com")
    ticket = make_ticket(customer, subject="Dashboard slow again", team=Team.objects.get(slug="support"))
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.CLOSED)
    ticket.refresh_from_db()
    return ticket


@pytest.mark.e2e
@pytest.mark.usefixtures("demo")
def test_r_on_a_closed_ticket_does_not_break_the_internal_note(page, live_server):
    """On a closed ticket the composer offers only "Internal note" ("Public reply" is disabled). The `r`
    shortcut still ticks the disabled "Public reply" radio, which unticks "Internal note"; the note the
    agent then types and sends is refused with "Please correct the fields marked below." and no field
    is marked. `r` should leave the composer on "Internal note" (or do nothing)."""
    ticket = _closed_ticket()
    signed_in(page, live_server, "agent@example.com")
    page.goto(f"{live_server.url}/desk/tickets/{ticket.number}/")
    assert page.locator("#kind-reply").is_disabled()

    page.keyboard.press("r")
    page.keyboard.type("Customer phoned; nothing more to do.")
    page.locator(".composer-send").click()

    page.get_by_text("Note added on").wait_for()
    assert ticket.messages.filter(body="Customer phoned; nothing more to do.", is_internal=True).exists()


@pytest.mark.usefixtures("demo")
def test_a_refused_composer_kind_is_explained_beside_the_field():
    """The composer's "Send as" radios are written out by hand and never show their error: a post
    without a usable kind comes back with "Please correct the fields marked below." and nothing marked,
    so the agent cannot tell what to fix."""
    ticket = _closed_ticket()
    client = Client()
    client.force_login(User.objects.get(email="agent@example.com"))
    response = client.post(
        f"/desk/tickets/{ticket.number}/reply/",
        {"body": "Customer phoned.", "status_after": "", "version": ticket.version},
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "Please correct the fields marked below." in html
    # Beside the "Send as" choice, which the fieldset points at.
    assert 'aria-describedby="kind-error"' in html
    assert '<ul class="errors" id="kind-error"><li>This field is required.</li></ul>' in html
