"""The portal loses nothing a customer typed when the page they typed it on went stale: a form switched
off or given to another organisation meanwhile, a session that ended, more files than allowed; and
numbers kept from a changed form read as they were typed."""

import uuid
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from helpdesk import display
from helpdesk.services import site_configuration_update
from tests.factories import (
    TEST_PASSWORD,
    OrganizationFactory,
    TicketFormFactory,
    make_customer,
    make_ticket,
)
from tests.tickets.test_portal_drafts import drafted_by
from tickets.attachments import MAX_FILES
from tickets.models import Attachment, Ticket, TicketForm

pytestmark = pytest.mark.django_db

SUBMIT = reverse("tickets:portal_submit")
LOGIN = reverse("accounts:login")


def submission(**extra) -> dict:
    return {
        "subject": "Printer jam",
        "description": "A long description I typed for ten minutes",
        "submission_key": str(uuid.uuid4()),
        **extra,
    }


def main_of(response) -> str:
    page = unescape(response.content.decode())
    return page[page.find("<main") :]


# --- Stale submission pages ------------------------------------------------------------------------


def test_a_form_switched_off_while_the_customer_typed_keeps_what_they_wrote(client):
    """A customer opens a request form, an administrator switches the form off meanwhile, and the
    customer presses Submit: like any refused form (and like anonymous submission switched off
    meanwhile) the page comes back with everything they typed and says why, instead of a bare
    "Page not found" that throws the text away."""
    client.force_login(make_customer())
    form = TicketFormFactory(slug="orders")
    url = reverse("tickets:portal_submit_form", args=["orders"])
    assert client.get(url).status_code == 200
    TicketForm.objects.filter(pk=form.pk).update(is_active=False)
    response = client.post(url, submission(cf_order_number="A-1", cf_product="Pro"))
    assert response.status_code != 404
    assert "A long description I typed for ten minutes" in main_of(response)
    assert not Ticket.objects.exists()


def test_a_form_made_private_to_another_organisation_meanwhile_keeps_what_was_typed(client):
    """The same for a form an administrator restricted to another organisation while the customer
    typed: their text comes back with a message, never a 404 that loses it."""
    client.force_login(make_customer())
    form = TicketFormFactory(slug="orders")
    url = reverse("tickets:portal_submit_form", args=["orders"])
    assert client.get(url).status_code == 200
    TicketForm.objects.filter(pk=form.pk).update(organization=OrganizationFactory())
    response = client.post(url, submission(cf_order_number="A-1"))
    assert response.status_code != 404
    assert "A long description I typed for ten minutes" in main_of(response)


def test_a_customer_whose_session_ended_is_asked_to_sign_in_not_for_a_name_and_address(client):
    """Anonymous submission is off. A signed-in customer's session ends while they write a request;
    pressing Submit must keep what they typed and tell them to sign in. Asking instead for "Your
    name" and "Your e-mail address" (fields they never saw) leads nowhere: filled in, the request is
    refused again with "Sign in to submit a request"."""
    customer = make_customer()
    client.force_login(customer)
    assert client.get(SUBMIT).status_code == 200
    client.logout()  # the session ended
    response = client.post(SUBMIT, submission())
    page = main_of(response)
    assert "A long description I typed for ten minutes" in page
    assert "sign in" in page.lower(), "nothing tells the customer to sign in"
    assert 'id="id_email_error"' not in page, "asked for an e-mail address anonymous visitors may not use"
    assert not Ticket.objects.exists()


def test_a_visitor_following_a_link_to_an_organisations_form_is_asked_to_sign_in(client):
    """With anonymous submission on, a visitor who is not signed in follows a link to a form private to
    their organisation. As the ticket pages do (and as the same link does with anonymous submission
    off), they are sent to sign in and brought back, not told that the page does not exist."""
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    TicketFormFactory(slug="acme-orders", organization=OrganizationFactory())
    url = reverse("tickets:portal_submit_form", args=["acme-orders"])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


# --- Attachments -----------------------------------------------------------------------------------


def test_choosing_more_files_than_django_parses_still_says_the_limit_and_keeps_the_text(client):
    """A customer selects a folder of 101 screenshots. The portal allows 10 files and says so: the form
    must come back (422) with that limit and the text typed, not a bare "That request could not be
    understood" page that throws away the whole request."""
    client.force_login(make_customer())
    files = [SimpleUploadedFile(f"shot-{n}.txt", b"hello") for n in range(101)]
    response = client.post(SUBMIT, submission(attachments=files))
    assert response.status_code == 422
    page = main_of(response)
    assert f"Attach at most {MAX_FILES} files" in page
    assert "A long description I typed for ten minutes" in page
    assert not Attachment.objects.exists()


def test_choosing_too_many_files_for_a_reply_keeps_the_reply(client):
    """The same in the reply composer: 101 files chosen give the 10-file limit and keep the reply."""
    customer = make_customer()
    ticket = make_ticket(customer)
    client.force_login(customer)
    files = [SimpleUploadedFile(f"shot-{n}.txt", b"hello") for n in range(101)]
    response = client.post(
        reverse("tickets:portal_reply", args=[ticket.number]),
        {"body": "My careful answer", "attachments": files, "submission_key": str(uuid.uuid4())},
    )
    assert response.status_code == 422
    page = main_of(response)
    assert f"Attach at most {MAX_FILES} files" in page and "My careful answer" in page


# --- Custom fields as the customer reads them ------------------------------------------------------


@pytest.mark.parametrize(
    ("later_schema", "why"),
    [
        ([], "field removed from the form"),
        ([{"name": "amount", "label": "Amount", "type": "text"}], "now text"),
    ],
)
def test_a_kept_number_is_shown_as_typed_not_in_scientific_notation(client, later_schema, why):
    """A request sent with "Amount: 0.00001"; the administrator later removes the field (or makes it a
    text field). Tickets keep and show such values; the customer must read the amount as they typed
    it, as they did while the field was a number, not as Python's float "1e-05"."""
    customer = make_customer()
    form = TicketFormFactory(slug="refunds", schema=[{"name": "amount", "label": "Amount", "type": "number"}])
    client.force_login(customer)
    response = client.post(
        reverse("tickets:portal_submit_form", args=["refunds"]), submission(cf_amount="0.00001")
    )
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    detail = reverse("tickets:portal_detail", args=[ticket.number])
    assert "<dd>0.00001</dd>" in client.get(detail).content.decode()
    form.schema = later_schema
    form.save()
    page = client.get(detail).content.decode()
    assert "1e-05" not in page, why
    assert "<dd>0.00001</dd>" in page


def test_the_form_that_is_gone_carries_its_answers_into_the_description(client):
    """The custom answers are not thrown away with the form: each becomes a line of the general
    request's description, named as the page sent it, and the page now posts to the general form."""
    client.force_login(make_customer())
    form = TicketFormFactory(slug="orders")
    url = reverse("tickets:portal_submit_form", args=["orders"])
    TicketForm.objects.filter(pk=form.pk).update(is_active=False)
    response = client.post(url, submission(cf_order_number="A-1", cf_colours=["red", "blue"]))
    assert response.status_code == 422
    page = main_of(response)
    assert "A long description I typed for ten minutes\n\norder_number: A-1\ncolours: red, blue" in page
    assert "This request form is no longer available" in page
    assert f'action="{SUBMIT}"' in page


def test_a_post_to_a_form_address_that_never_existed_reads_like_one_that_is_gone(client):
    """Whether a form exists for another organisation must not be learnt by posting to its address."""
    client.force_login(make_customer())
    TicketFormFactory(slug="acme-orders", organization=OrganizationFactory())
    taken = client.post(reverse("tickets:portal_submit_form", args=["acme-orders"]), submission())
    never = client.post(reverse("tickets:portal_submit_form", args=["no-such-form"]), submission())
    assert taken.status_code == never.status_code == 422
    assert client.get(reverse("tickets:portal_submit_form", args=["acme-orders"])).status_code == 404


def test_a_visitor_is_sent_to_sign_in_for_any_form_they_cannot_use(client):
    """With anonymous submission on, a form address a visitor cannot use sends them to sign in whether
    or not a form is there, so the answer reveals nothing."""
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    TicketFormFactory(slug="acme-orders", organization=OrganizationFactory())
    for slug in ("acme-orders", "no-such-form"):
        response = client.get(reverse("tickets:portal_submit_form", args=[slug]))
        assert response.status_code == 302 and response["Location"].startswith(LOGIN), slug


def test_after_signing_in_again_the_form_comes_back_with_what_was_typed_once(client):
    """The request refused for an ended session is kept in the visitor's session; once signed in, the
    same form opens filled in with it (custom answers too) and says so, and only that once."""
    customer = make_customer()
    TicketFormFactory(
        slug="orders", schema=[{"name": "order_number", "label": "Order number", "type": "text"}]
    )
    url = reverse("tickets:portal_submit_form", args=["orders"])
    client.force_login(customer)
    owner = drafted_by(client.get(url))
    client.logout()
    response = client.post(url, submission(cf_order_number="A-1", drafted_by=owner))
    assert response.status_code == 422
    assert f'href="{LOGIN}?next={url}"' in response.content.decode()
    signed_in = client.post(LOGIN, {"username": customer.email, "password": TEST_PASSWORD, "next": url})
    assert signed_in.status_code == 302 and signed_in["Location"] == url
    page = main_of(client.get(url))
    assert "Here is the request you wrote before signing in" in page
    assert 'value="Printer jam"' in page and 'value="A-1"' in page
    assert "A long description I typed for ten minutes" in page
    again = main_of(client.get(url))
    assert 'value="Printer jam"' not in again and "A long description I typed" not in again


def test_a_draft_kept_for_one_form_does_not_fill_another(client):
    customer = make_customer()
    TicketFormFactory(slug="orders")
    url = reverse("tickets:portal_submit_form", args=["orders"])
    client.force_login(customer)
    owner = drafted_by(client.get(url))
    client.logout()
    client.post(url, submission(drafted_by=owner))
    client.force_login(customer)
    assert 'value="Printer jam"' not in main_of(client.get(SUBMIT))
    assert 'value="Printer jam"' in main_of(client.get(url))


def test_a_request_that_names_no_customer_keeps_no_draft(client):
    """Without the page's signed drafted_by (a forged or very old page) nothing is kept for later."""
    customer = make_customer()
    client.post(SUBMIT, submission(drafted_by="forged"))
    client.force_login(customer)
    assert 'value="Printer jam"' not in main_of(client.get(SUBMIT))


def test_timelines_and_the_audit_trail_show_kept_numbers_as_typed():
    """The before/after values of a timeline entry or an audit event read as typed, too."""
    assert display.shown_value(0.00001) == "0.00001"
    assert display.shown_value([1e16, 2.5]) == "10000000000000000, 2.5"
    assert display.shown_value(True) == "yes" and display.shown_value(3) == "3"
