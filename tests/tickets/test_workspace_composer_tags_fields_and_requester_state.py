"""The agent workspace (/desk/tickets/<number>/) and its composer: statuses set on send,
internal notes' files, inline tags and custom fields with odd input, assignments and edits from stale
pages, Previous/Next in a filtered queue, the requester panel and the keyboard help."""

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts import rbac
from accounts import services as account_services
from accounts.models import TeamMember
from tests.conftest import made_once_per_module
from tests.factories import TicketFormFactory, make_administrator, make_customer, make_ticket
from tests.tickets.conftest import (
    download_url,
    edit,
    fresh,
    make_desk,
    page_text,
    reply_data,
    reply_url,
    update_url,
    ws,
)  # fmt: skip
from tickets import services
from tickets.models import Attachment
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

_desk_rows, desk = made_once_per_module(make_desk, "desk")

HTMX = {"HX-Request": "true", "HX-Target": "properties"}


def _set_status(ticket, status, actor):
    services.ticket_transition(ticket, status=status, actor=actor)
    return fresh(ticket)


# ---- composer: set status on send -------------------------------------------------------------------


def test_reply_solves_a_pending_ticket(client, desk):
    ticket = _set_status(desk["ticket"], Status.PENDING, desk["agent"])
    client.force_login(desk["agent"])
    response = client.post(reply_url(ticket), reply_data(ticket, status_after="resolved"))
    assert response.status_code == 302
    assert fresh(ticket).status == Status.RESOLVED


def test_reply_pends_a_new_ticket(client, desk):
    ticket = desk["ticket"]
    assert ticket.status == Status.NEW
    client.force_login(desk["agent"])
    response = client.post(reply_url(ticket), reply_data(ticket, status_after="pending"))
    assert response.status_code == 302
    assert fresh(ticket).status == Status.PENDING


def test_reply_on_a_closed_ticket_is_refused_with_the_text_kept(client, desk):
    ticket = _set_status(desk["ticket"], Status.RESOLVED, desk["agent"])
    ticket = _set_status(ticket, Status.CLOSED, desk["supervisor"])
    client.force_login(desk["agent"])
    response = client.post(reply_url(ticket), reply_data(ticket, body="Typed reply 55123"))
    assert response.status_code == 422
    page = page_text(response)
    assert "Typed reply 55123" in page
    assert "closed" in page.lower()
    assert fresh(ticket).messages.count() == 1  # the description only


# ---- internal note's files --------------------------------------------------------------------------


def test_a_notes_file_is_never_downloadable_by_the_customer(client, desk):
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    response = client.post(
        reply_url(ticket),
        reply_data(ticket, kind="note", body="Internal: see log",
                   attachments=SimpleUploadedFile("secret-log.txt", b"password=hunter2", "text/plain")),
    )  # fmt: skip
    assert response.status_code == 302
    attachment = Attachment.objects.get(filename__icontains="secret-log")
    client.force_login(desk["customer"])
    portal = client.get(f"/portal/tickets/{ticket.number}/")
    assert portal.status_code == 200
    assert "secret-log" not in page_text(portal) and "Internal: see log" not in page_text(portal)
    assert client.get(download_url(attachment)).status_code == 404
    # An agent of another team neither.
    client.force_login(desk["biller"])
    assert client.get(download_url(attachment)).status_code == 404


# ---- tags inline ------------------------------------------------------------------------------------


def test_tags_alike_in_case_are_one_and_accents_stay_apart(client, desk):
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    tags = edit("tags", "Urgent, urgent,URGENT , ürgent,,", ticket.version)
    response = client.post(update_url(ticket), tags, headers=HTMX)
    assert response.status_code == 200
    names = sorted(fresh(ticket).tags.values_list("name", flat=True))
    assert len(names) == 2, names


def test_a_tag_of_a_thousand_characters_is_refused_with_the_text_kept(client, desk):
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    long = "a" * 1000
    for headers in (HTMX, {}):
        response = client.post(
            update_url(ticket), edit("tags", f"billing, {long}", ticket.version), headers=headers
        )
        assert response.status_code == 422
        assert long in page_text(response)
    assert not fresh(ticket).tags.exists()


def test_a_hundred_tags(client, desk):
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    value = ",".join(f"tag{n}" for n in range(100))
    response = client.post(update_url(ticket), edit("tags", value, ticket.version), headers=HTMX)
    assert response.status_code == 200
    assert fresh(ticket).tags.count() == 100


# ---- custom fields inline ---------------------------------------------------------------------------

SCHEMA = [
    {"name": "amount", "label": "Amount", "type": "number", "decimal_places": 2},
    {"name": "when", "label": "When", "type": "date"},
    {"name": "contact", "label": "Contact", "type": "email"},
    {"name": "plan", "label": "Plan", "type": "select", "choices": ["Basic", "Pro"]},
    {"name": "extras", "label": "Extras", "type": "multi_select", "choices": ["A", "B"]},
    {"name": "ok", "label": "OK", "type": "checkbox"},
    {"name": "note", "label": "Note", "type": "text"},
]


@pytest.mark.parametrize(
    "name,bad",
    [("amount", "12abc"), ("amount", "1e999"), ("amount", "1.234"), ("when", "2026-02-30"),
     ("when", "99999-01-01"), ("contact", "not-an-address"), ("plan", "Enterprise"), ("extras", "Z"),
     ("note", "x\x00y")],
)  # fmt: skip
def test_an_invalid_custom_field_is_refused_and_refilled(client, desk, name, bad):
    form = TicketFormFactory(schema=SCHEMA)
    ticket = make_ticket(desk["customer"], team=desk["support"], form=form, custom_fields={})
    before = fresh(ticket).custom_fields
    client.force_login(desk["agent"])
    data = edit("custom_fields", "", ticket.version, **{f"cf-{name}": bad, "cf-note": "kept 8841"})
    if name == "note":
        data["cf-note"] = bad
    response = client.post(update_url(ticket), data, headers=HTMX)
    assert response.status_code == 422, response.status_code
    if name != "note":
        assert "kept 8841" in page_text(response)
    assert fresh(ticket).custom_fields == before


# ---- assignment to someone who lost access ----------------------------------------------------------


def test_assigning_to_an_agent_who_left_the_team_is_refused(client, desk):
    ticket = desk["ticket"]
    colleague = desk["colleague"]
    client.force_login(desk["agent"])
    page = client.get(ws(ticket))
    assert f'value="{colleague.pk}"' in page.content.decode()
    TeamMember.objects.filter(user=colleague).delete()
    rbac.forget(colleague)
    response = client.post(update_url(ticket), edit("assignee", colleague.pk, ticket.version), headers=HTMX)
    assert response.status_code in (409, 422)
    assert "not an agent who can see this ticket" in page_text(response)
    assert fresh(ticket).assignee_id is None


def test_assigning_to_a_suspended_agent_is_refused(client, desk):
    ticket = desk["ticket"]
    colleague = desk["colleague"]
    client.force_login(desk["agent"])
    client.get(ws(ticket))
    account_services.user_suspend(colleague, until=None, reason="left", actor=None)
    response = client.post(update_url(ticket), edit("assignee", colleague.pk, ticket.version), headers=HTMX)
    assert response.status_code in (409, 422)
    assert fresh(ticket).assignee_id is None


def test_assigning_to_a_customer_or_nobody_id_is_refused(client, desk):
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    for value in (desk["customer"].pk, 99999999, "abc", "-1", "1" * 40):
        response = client.post(update_url(ticket), edit("assignee", value, ticket.version), headers=HTMX)
        assert response.status_code in (409, 422), (value, response.status_code)
    assert fresh(ticket).assignee_id is None


# ---- stale pages ------------------------------------------------------------------------------------


def test_priority_and_team_from_two_stale_pages(client, desk):
    ticket = desk["ticket"]
    seen = ticket.version
    other = client.__class__()
    other.force_login(desk["colleague"])
    client.force_login(desk["agent"])
    first = other.post(update_url(ticket), edit("priority", "urgent", seen), headers=HTMX)
    assert first.status_code == 200
    second = client.post(update_url(ticket), edit("team", desk["billing"].pk, seen), headers=HTMX)
    assert second.status_code == 409
    assert "Someone changed this ticket" in page_text(second)
    ticket = fresh(ticket)
    assert ticket.priority == "urgent" and ticket.team == desk["support"]
    third = client.post(update_url(ticket), edit("priority", "low", seen), headers=HTMX)
    assert third.status_code == 409 and "Low" in page_text(third)
    assert fresh(ticket).priority == "urgent"


def test_version_missing_or_garbage_is_refused_as_stale(client, desk):
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    for version in ("", "abc", "-5", "9" * 30):
        response = client.post(update_url(ticket), edit("priority", "low", version), headers=HTMX)
        assert response.status_code in (200, 409), (version, response.status_code)
    # No version at all: none of these may be a 500.


# ---- Previous / Next in a filtered queue ------------------------------------------------------------


def test_neighbours_kept_when_the_ticket_left_the_filter(client, desk):
    support, customer = desk["support"], desk["customer"]
    a = make_ticket(customer, team=support, subject="A")
    b = make_ticket(customer, team=support, subject="B")
    c = make_ticket(customer, team=support, subject="C")
    client.force_login(desk["agent"])
    query = "status=new"
    response = client.post(
        reply_url(b), reply_data(b, status_after="pending", queue=query, previous=c.number, next=a.number)
    )
    assert response.status_code == 302
    page = client.get(response.url)
    assert page.status_code == 200
    html = page.content.decode()
    assert f"/desk/tickets/{c.number}/" in html and f"/desk/tickets/{a.number}/" in html


# ---- requester panel --------------------------------------------------------------------------------


def test_requester_without_an_organisation(client, desk):
    customer = make_customer()
    customer.organization = None
    customer.save(update_fields=["organization"])
    ticket = make_ticket(customer, team=desk["support"])
    client.force_login(desk["agent"])
    response = client.get(ws(ticket))
    assert response.status_code == 200
    assert re.search(r"<dt>Organisation</dt><dd>—</dd>", response.content.decode())


def test_a_deleted_ticket_is_not_among_the_requesters_others(client, desk):
    customer = desk["customer"]
    gone = make_ticket(customer, team=desk["support"], subject="Spam 4471")
    make_ticket(customer, team=desk["support"], subject="Real 4472")
    services.ticket_delete(gone, actor=make_administrator())
    client.force_login(desk["agent"])
    page = page_text(client.get(ws(desk["ticket"])))
    assert "Real 4472" in page and "Spam 4471" not in page


def _requester_card(client, ticket) -> str:
    response = client.get(ws(ticket))
    assert response.status_code == 200
    card = re.search(r'<section class="card" aria-labelledby="requester-title">.*?</section>',
                     response.content.decode(), re.S).group(0)  # fmt: skip
    return " ".join(card.split())


def test_the_requester_panel_says_when_the_requester_cannot_sign_in(client, desk):
    """An agent sees at a glance that the requester cannot sign in to read a reply (suspended, or an
    account nobody has set a password for): else they write a portal reply and set the ticket Pending,
    waiting on someone who cannot come back. An active requester's card has no such line."""
    customer = desk["customer"]
    client.force_login(desk["agent"])
    assert "<dt>Account</dt>" not in _requester_card(client, desk["ticket"])
    until = timezone.now() + timedelta(days=7)
    account_services.user_suspend(customer, until=until, reason="abuse", actor=None)
    card = _requester_card(client, desk["ticket"])
    assert "<dt>Account</dt><dd><strong>Suspended</strong> until " in card
    assert "cannot sign in to read replies" in card
    customer.refresh_from_db()
    customer.status, customer.suspended_until = customer.Status.PENDING, None
    customer.set_unusable_password()
    customer.save()
    assert "Pending: no password set yet" in _requester_card(client, desk["ticket"])


# ---- keyboard help ----------------------------------------------------------------------------------


def test_keyboard_help_is_a_labelled_dialog(client, desk):
    client.force_login(desk["agent"])
    html = client.get(ws(desk["ticket"])).content.decode()
    assert '<dialog id="shortcuts-help"' in html and 'aria-labelledby="shortcuts-title"' in html
    assert 'id="shortcuts-title"' in html
    # Its opener is hidden without JavaScript (the shortcuts need it): no dead button.
    assert re.search(r"<button[^>]*data-help-open[^>]*hidden>", html)
