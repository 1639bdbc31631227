"""The customer portal as customers, organisation managers and visitors use it — odd files,
double submits, stale actions, managers losing their view, visitors when anonymous submission changes,
hostile list parameters."""

import uuid
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import User
from helpdesk.services import site_configuration_update
from tests.factories import PNG, OrganizationFactory, make_customer, make_ticket
from tests.tickets.conftest import held_boxes, submission
from tickets.models import Attachment, Ticket

pytestmark = pytest.mark.django_db

SUBMIT = reverse("tickets:portal_submit")
LIST = reverse("tickets:portal_list")


def text(response) -> str:
    return unescape(response.content.decode())


def visitors_allowed(on: bool = True) -> None:
    site_configuration_update(changes={"anonymous_submission": on}, actor=None)


# --- visitors' names -------------------------------------------------------------------------------


def test_a_visitors_name_that_grows_when_composed_is_refused_not_a_server_error(client):
    """A visitor (anonymous submission on) types a name of 150 characters that Unicode composition
    makes longer (U+0958 becomes two characters, as the model's save() stores it): the form takes it
    (150 fits its max_length) and the account's INSERT fails on the 150-character column -> 500, and
    everything typed is lost. Expected: 422 with the name refused beside the field, as the sign-up
    form (OneLineNameField) and User.clean_fields do."""
    visitors_allowed()
    client.raise_request_exception = False
    response = client.post(
        SUBMIT, submission(email="vera@example.net", name="\u0958" * 150, subject="Keep me")
    )
    assert response.status_code == 422
    assert "Keep me" in text(response)
    assert not Ticket.objects.exists()


def test_a_visitors_name_of_only_invisible_characters_is_refused(client):
    """A visitor types a name of zero-width spaces only: the submission form's name field is a plain
    CharField, so it is taken and the new account is called "\u200b\u200b" (shown as nothing where
    the desk and the portal name the requester, and not falling back to the address). Expected: 422,
    "This field is required." as the sign-up form's OneLineNameField says for such a name."""
    visitors_allowed()
    response = client.post(SUBMIT, submission(email="zw@example.net", name="\u200b\u200b"))
    assert response.status_code == 422
    assert not User.objects.filter(email="zw@example.net").exists()


# --- files -----------------------------------------------------------------------------------------


def test_a_file_name_with_path_and_direction_override_is_stored_plain(client):
    customer = make_customer()
    client.force_login(customer)
    upload = SimpleUploadedFile("..\\..\\etc/inv\u202eoice\u202atxt.txt", b"hello", content_type="text/plain")
    response = client.post(SUBMIT, submission(attachments=[upload]))
    assert response.status_code == 302
    attachment = Attachment.objects.get()
    assert attachment.filename == "invoicetxt.txt"
    download = client.get(reverse("tickets:attachment_download", args=[attachment.pk]))
    assert download["Content-Disposition"] == 'attachment; filename="invoicetxt.txt"'


def test_a_lying_content_type_header_is_not_trusted(client):
    customer = make_customer()
    client.force_login(customer)
    upload = SimpleUploadedFile("shot.png", PNG, content_type="text/html")
    assert client.post(SUBMIT, submission(attachments=[upload])).status_code == 302
    attachment = Attachment.objects.get()
    assert attachment.content_type == "image/png"
    download = client.get(reverse("tickets:attachment_download", args=[attachment.pk]))
    assert download["Content-Type"] == "image/png"
    assert download["X-Content-Type-Options"] == "nosniff"


def test_a_lone_empty_file_comes_back_422_named_with_everything_typed(client):
    customer = make_customer()
    client.force_login(customer)
    empty = SimpleUploadedFile("notes.txt", b"", content_type="text/plain")
    response = client.post(
        SUBMIT, submission(subject="Subject kept", description="Body kept", attachments=[empty])
    )
    assert response.status_code == 422
    page = text(response)
    assert "Subject kept" in page and "Body kept" in page
    assert "notes.txt" in page
    assert not Ticket.objects.exists()


# --- double submit -----------------------------------------------------------------------------------


def test_the_same_post_twice_lands_on_the_first_ticket(client):
    customer = make_customer()
    client.force_login(customer)
    data = submission()
    first = client.post(SUBMIT, data)
    second = client.post(SUBMIT, data)
    assert Ticket.objects.count() == 1
    assert (
        first["Location"]
        == second["Location"]
        == reverse("tickets:portal_detail", args=[Ticket.objects.get().number])
    )


def test_a_visitors_second_click_with_the_address_in_other_case_lands_on_the_first_ticket(client):
    """Visitor double-submits; the second sending has the same key and the address typed in other case
    or with a trailing space (autofill). Expect one ticket and the same receipt page."""
    visitors_allowed()
    data = submission(email="Vera@Example.net", name="Vera")
    assert client.post(SUBMIT, data).status_code == 302
    again = client.post(SUBMIT, {**data, "email": " vera@example.net "})
    assert again.status_code == 302
    assert Ticket.objects.count() == 1


# --- statuses ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["", "bogus", "RESOLVED", "resolved\x00", "closed", "new", "on_hold"])
def test_odd_status_values_change_nothing_and_answer_a_redirect(client, status):
    customer = make_customer()
    ticket = make_ticket(customer)
    client.force_login(customer)
    before = Ticket.objects.get(pk=ticket.pk)
    response = client.post(reverse("tickets:portal_status", args=[ticket.number]), {"status": status})
    assert response.status_code == 302
    after = Ticket.objects.get(pk=ticket.pk)
    assert (after.status, after.version) == (before.status, before.version)


@pytest.mark.parametrize("seen", ["abc", "-1", "1e3", "99999999999999999999", "\x00", "١٢"])
def test_odd_seen_values_never_500(client, seen):
    customer = make_customer()
    ticket = make_ticket(customer)
    client.force_login(customer)
    response = client.post(
        reverse("tickets:portal_status", args=[ticket.number]), {"status": "resolved", "seen": seen}
    )
    assert response.status_code == 302


# --- list parameters --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "sort=-requester__password",
        "order_by=password",
        "status=__all__&scope=organization",
        "page=1%00",
        "page=9223372036854775808",
        "page=-0",
        "q=%ED%A0%80",
        "status[]=open",
        "scope=organization&scope=mine",
        "q=" + "a" * 5000,
        "thread=all",
    ],
)
def test_odd_list_parameters_answer_200(client, query):
    manager = make_customer(manager=True)
    make_ticket(manager)
    client.force_login(manager)
    assert client.get(f"{LIST}?{query}").status_code == 200


# --- outsiders ---------------------------------------------------------------------------------------


def test_another_organisations_manager_gets_404_everywhere(client):
    organization = OrganizationFactory()
    customer = make_customer(organization)
    ticket = make_ticket(customer, uploads=[SimpleUploadedFile("a.txt", b"hello", content_type="text/plain")])
    outsider = make_customer(manager=True)
    client.force_login(outsider)
    attachment = Attachment.objects.get()
    assert client.get(reverse("tickets:portal_detail", args=[ticket.number])).status_code == 404
    assert client.get(reverse("tickets:attachment_download", args=[attachment.pk])).status_code == 404
    reply = client.post(reverse("tickets:portal_reply", args=[ticket.number]), {"body": "x"})
    status = client.post(reverse("tickets:portal_status", args=[ticket.number]), {"status": "resolved"})
    assert reply.status_code == status.status_code == 404
    assert ticket.number not in [t.number for t in Ticket.objects.filter(messages__author=outsider)]


# --- a second sending after the form changed ---------------------------------------------------------


def test_a_retried_submission_after_its_form_was_switched_off_lands_on_the_ticket_it_made(client):
    """A customer sends a request on a form; the ticket is made but the answer is lost on the way (a
    retried request, a second click as the page loads). Meanwhile an administrator switches the form
    off. The browser sends the very same POST again (same submission key): the view takes the form as
    gone and answers 422 "This request form is no longer available ... send it again" with a fresh key,
    although the request was received -- sending it again makes a second ticket. Expected: as with a
    rate limit or visitors switched off (both checked against the key first), the second sending
    lands on the ticket the first made."""
    from tests.factories import TicketFormFactory

    form = TicketFormFactory(slug="orders")
    customer = make_customer()
    client.force_login(customer)
    url = reverse("tickets:portal_submit_form", args=["orders"])
    data = submission(cf_order_number="A-1", cf_product="Pro")
    assert client.post(url, data).status_code == 302
    first = Ticket.objects.get()
    form.is_active = False
    form.save()
    again = client.post(url, data)
    assert again.status_code == 302
    assert again["Location"] == reverse("tickets:portal_detail", args=[first.number])
    assert Ticket.objects.count() == 1


def test_a_retried_submission_after_a_field_was_made_required_lands_on_the_ticket_it_made(client):
    """As above, but the administrator added a required question to the form between the two sendings
    of the same POST: the second comes back 422 asking for it (and, answered, would make a second
    ticket). Expected: the sending that already made a ticket lands on it."""
    from tests.factories import TicketFormFactory

    form = TicketFormFactory(slug="orders")
    customer = make_customer()
    client.force_login(customer)
    url = reverse("tickets:portal_submit_form", args=["orders"])
    data = submission(cf_order_number="A-1", cf_product="Pro")
    assert client.post(url, data).status_code == 302
    form.schema = [*form.schema, {"name": "serial", "label": "Serial", "type": "text", "required": True}]
    form.save()
    again = client.post(url, data)
    assert again.status_code == 302
    assert Ticket.objects.count() == 1


# --- hostile form input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"held": ["garbage", "", "\x00", "a" * 5000, "1:2:3"]},
        {"submission_key": ["not-a-uuid", str(uuid.uuid4())]},
        {"subject": "Nul\x00here"},
        {"description": "Nul\x00here"},
        {"cf_x": "field of no form"},
        {"drafted_by": "\x00"},
    ],
)
def test_hostile_submission_fields_never_500(client, extra):
    customer = make_customer()
    client.force_login(customer)
    response = client.post(SUBMIT, submission(**extra))
    assert response.status_code in (302, 422)
    if response.status_code == 422:
        assert "Paper stuck" in text(response) or "Nul" in text(response)


@pytest.mark.parametrize(
    "extra",
    [
        {"body": "Nul\x00here"},
        {"body": "ok", "held": ["garbage", "\x00"]},
        {"body": "ok", "submission_key": "\x00"},
        {"body": "x" * 50_001},
    ],
)
def test_hostile_reply_fields_never_500(client, extra):
    customer = make_customer()
    ticket = make_ticket(customer)
    client.force_login(customer)
    response = client.post(reverse("tickets:portal_reply", args=[ticket.number]), extra)
    assert response.status_code in (302, 422)


def test_a_visitors_post_typed_before_visitors_were_switched_off_keeps_everything(client):
    """...and offers the way on: a Sign in button that comes back to the form."""
    visitors_allowed()
    page = client.get(SUBMIT)
    assert page.status_code == 200
    visitors_allowed(False)
    response = client.post(
        SUBMIT, submission(email="late@example.net", name="Late Visitor", subject="Kept subject")
    )
    assert response.status_code == 422
    body = text(response)
    assert "Kept subject" in body and "late@example.net" in body and "Late Visitor" in body
    assert "Sign in to submit a request." in body
    assert f'href="{reverse("accounts:login")}?next={SUBMIT}">Sign in</a>' in response.content.decode()
    assert not Ticket.objects.exists()


def test_a_visitors_files_sent_after_visitors_were_switched_off_are_said_to_be_dropped(client):
    """A visitor fills in the request form (visitors may submit), attaches report.txt and sends it just
    after an administrator switched anonymous submission off. The page comes back 422 with the text and
    "Sign in to submit a request.", but the file is silently gone: it is not kept (rightly: nothing is
    stored for visitors then), the browser has emptied its file input, and nothing on the page names
    the file or says to choose it again. Expected: the file is named / FILES_NOT_KEPT or
    FILES_AFTER_SIGN_IN ("Files cannot wait over a sign-in: once signed in, choose them again.") beside
    the file input, as the view does for a customer whose session ended. Now FILES_AFTER_SIGN_IN."""
    visitors_allowed()
    client.get(SUBMIT)
    visitors_allowed(False)
    upload = SimpleUploadedFile("report.txt", b"the log", content_type="text/plain")
    response = client.post(
        SUBMIT, submission(email="late@example.net", name="Late Visitor", attachments=[upload])
    )
    assert response.status_code == 422
    body = text(response)
    assert "Files cannot wait over a sign-in: once signed in, choose them again." in body


def test_a_visitors_kept_files_sent_after_visitors_were_switched_off_are_said_to_be_dropped(client):
    """A visitor's first sending came back (subject missing) with report.txt kept and ticked. They fix the
    subject and send again, after anonymous submission was switched off meanwhile: the page comes back
    422 and the kept file is no longer listed nor named -- dropped unsaid. Expected: named, with what to
    do (sign in, then choose it again): FILES_AFTER_SIGN_IN."""
    visitors_allowed()
    upload = SimpleUploadedFile("report.txt", b"the log", content_type="text/plain")
    first = client.post(
        SUBMIT, submission(subject="", email="late@example.net", name="Late Visitor", attachments=[upload])
    )
    assert first.status_code == 422
    [(token, _)] = held_boxes(first).values()
    visitors_allowed(False)
    response = client.post(SUBMIT, submission(email="late@example.net", name="Late Visitor", held=[token]))
    assert response.status_code == 422
    body = text(response)
    assert "Files cannot wait over a sign-in: once signed in, choose them again." in body


def test_a_huge_unknown_status_is_refused_without_echoing_it_all(client):
    customer = make_customer()
    ticket = make_ticket(customer)
    client.force_login(customer)
    response = client.post(
        reverse("tickets:portal_status", args=[ticket.number]), {"status": "<b>x</b>" * 500}, follow=True
    )
    assert response.status_code == 200
    assert "<b>x</b>" not in response.content.decode()
