"""The composer on a closed ticket: the reply shortcut leaves it on "Internal note", closing the ticket
inline turns it to notes only at once, and an error on the "Send as" choice is shown beside it."""

import pytest
from django.test import Client

from accounts.models import Team, User
from tests.e2e.conftest import signed_in
from tests.e2e.test_accessibility import problems_here
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
    """On a closed ticket the composer offers only "Internal note" ("Public reply" is disabled): `r`
    leaves it there, so the note typed next is sent as a note, not refused for a disabled choice."""
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
    """The composer's "Send as" radios are written out by hand: a post without a usable kind comes back
    with the error beside them, the fieldset pointing at it."""
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


@pytest.mark.e2e
@pytest.mark.usefixtures("demo")
def test_closing_inline_turns_the_composer_to_notes_only(page, live_server):
    """What the page offers matches what the server takes, without a reload: notes only."""
    customer = User.objects.get(email="customer@example.com")
    ticket = make_ticket(customer, subject="Done and dusted", team=Team.objects.get(slug="support"))
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.RESOLVED)
    signed_in(page, live_server, "supervisor@example.com")
    page.goto(f"{live_server.url}/desk/tickets/{ticket.number}/")
    assert page.locator("#kind-reply").is_enabled()
    page.select_option("#edit-status", "closed")
    page.click("#save-status")
    # Closed is final: asked once more, the focus on the answer, so Enter closes it.
    close = page.get_by_role("button", name=f"Close {ticket.reference}")
    close.wait_for()
    assert close.evaluate("button => button === document.activeElement")
    assert page.locator("#kind-reply").is_enabled()  # nothing changed yet
    assert problems_here(page, "the close question") == []
    page.keyboard.press("Enter")
    page.locator("#properties-status", has_text="Saved.").wait_for()
    assert page.locator("#kind-reply").is_disabled() and page.locator("#kind-note").is_checked()
    page.locator("#composer textarea").fill("Closed after the call.")
    page.locator(".composer-send").click()
    page.get_by_text("Note added on").wait_for()
