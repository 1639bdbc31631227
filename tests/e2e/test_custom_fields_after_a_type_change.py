"""Custom fields in the browser after a field's type changed: an answer typed for the field's old type
(05/01/2026 in a text field since made a date) is still on the ticket after an agent saves another
field, though the browser's date or number input could not hold it."""

import pytest
from django.urls import reverse

from accounts.models import Team, User
from tests.e2e.conftest import signed_in
from tests.factories import make_ticket
from tickets.models import Ticket, TicketForm

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.usefixtures("demo")
@pytest.mark.parametrize(("new", "stored"), [("date", "05/01/2026"), ("number", "+5")])
def test_in_the_browser_saving_another_custom_field_keeps_an_old_text_answer(page, live_server, new, stored):
    """ "Purchase date" was a text field where the customer typed 05/01/2026 (or a number field's "+5");
    the administrator made it a date (a number). The agent opens the ticket in the browser, changes only
    "Other" and clicks Save details: the customer's answer must still be on the ticket."""
    form = TicketForm.objects.create(
        slug="purchase", title="Purchase", is_active=True,
        schema=[{"name": "x", "label": "Purchase detail", "type": new},
                {"name": "other", "label": "Other", "type": "text"}],
    )  # fmt: skip
    customer = User.objects.get(email="customer@example.com")
    ticket = make_ticket(customer, subject="Broken on arrival", team=Team.objects.get(slug="support"))
    Ticket.objects.filter(pk=ticket.pk).update(form=form, custom_fields={"x": stored, "other": "before"})
    signed_in(page, live_server, "agent@example.com")
    page.goto(live_server.url + reverse("tickets:desk_ticket", args=[ticket.number]))
    page.get_by_label("Other", exact=True).fill("after")
    page.locator("#save-custom-fields").click()
    page.wait_for_function(
        "() => { const other = document.querySelector('#id_cf-other');"
        " return other && other.value === 'after' && !document.querySelector('.htmx-request'); }"
    )
    ticket.refresh_from_db()
    assert ticket.custom_fields["other"] == "after"
    assert ticket.custom_fields.get("x") == stored, ticket.custom_fields
