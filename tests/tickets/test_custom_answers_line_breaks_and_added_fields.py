"""Ticket forms with custom fields: portal submission (TicketSubmitForm + schema.form_field), what the
portal and the desk show, the desk's inline edit of the answers, and the admin's schema editing."""

import re
import uuid
from html import unescape

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from helpdesk.models import SiteConfiguration
from tests.conftest import made_once_per_module
from tests.factories import (
    OrganizationFactory,
    TeamFactory,
    TicketFormFactory,
    make_agent,
    make_customer,
    make_ticket,
)
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

EVERY_KIND = [
    {"name": "t", "label": "Order reference", "type": "text"},
    {"name": "ta", "label": "What happened", "type": "textarea"},
    {"name": "sel", "label": "Plan", "type": "select", "choices": ["Basic", "Pro"]},
    {"name": "ms", "label": "Areas", "type": "multi_select", "choices": ["Mail", "Web", "Phone"]},
    {"name": "cb", "label": "Urgent", "type": "checkbox"},
    {"name": "num", "label": "Amount", "type": "number", "decimal_places": 2},
    {"name": "d", "label": "Since", "type": "date"},
    {"name": "em", "label": "Contact", "type": "email"},
]
XSS = "<img src=x onerror=alert(1)>"


def url(form) -> str:
    return reverse("tickets:portal_submit_form", args=[form.slug])


def post(client, form, files=None, **custom):
    data = {"subject": "Help", "description": "Please", "submission_key": str(uuid.uuid4())}
    data.update({f"cf_{name}": value for name, value in custom.items()})
    if files:
        data["attachments"] = files
    return client.post(url(form), data)


def desk_edit(client, ticket, **values):
    data = {"field": "custom_fields", "version": ticket.version}
    data.update({f"cf-{name}": value for name, value in values.items()})
    return client.post(reverse("tickets:desk_update", args=[ticket.number]), data)


def page(response) -> str:
    return unescape(response.content.decode())


def visitors_may_submit(allowed: bool) -> None:
    SiteConfiguration.objects.filter(pk=SiteConfiguration.objects.get_current().pk).update(
        anonymous_submission=allowed
    )
    cache.clear()


def make_world():
    team = TeamFactory(name="Support")
    agent = make_agent(team, name="Alex Agent")
    customer = make_customer(name="Carla Customer")
    form = TicketFormFactory(schema=EVERY_KIND, default_team=team)
    return {"team": team, "agent": agent, "customer": customer, "form": form}


_world_rows, world = made_once_per_module(make_world, "world")


# ---------------------------------------------------------------------------------------------------
# Answers as the browser sends them, and fields added since
# ---------------------------------------------------------------------------------------------------


def test_a_one_line_text_answer_is_not_stored_with_a_line_break_the_desk_then_calls_a_type_change(
    client, world
):
    """A "text" field is a one-line input. A crafted post (or any client other than a browser) sends
    "A-1\\nB-2": stored on one line (as subjects are, helpdesk.forms.one_line). Before the fix it was
    stored with the line break, and the agent's edit form then showed the answer as "Kept from before
    this field changed" although the field never changed type."""
    client.force_login(world["customer"])
    assert post(client, world["form"], t="A-1\nB-2").status_code == 302
    ticket = Ticket.objects.get(form=world["form"])
    client.force_login(world["agent"])
    workspace = page(client.get(reverse("tickets:desk_ticket", args=[ticket.number])))
    assert "Kept from before this field changed" not in workspace
    assert "\n" not in ticket.custom_fields["t"]


def test_direction_controls_in_a_text_answer_do_not_reach_the_desk(client, world):
    """Subjects and names lose their direction overrides (helpdesk.forms.DIRECTION_CONTROLS: "Invoice
    \\u202efdp.exe" shows as "Invoice exe.pdf"). A custom one-line answer loses them too: before the fix
    a customer's "Order \\u202e4321" read "Order 1234" to the agent working the ticket."""
    client.force_login(world["customer"])
    assert post(client, world["form"], t="Order \u202e4321").status_code == 302
    ticket = Ticket.objects.get(form=world["form"])
    assert "\u202e" not in ticket.custom_fields["t"]
    client.force_login(world["agent"])
    assert "\u202e" not in page(client.get(reverse("tickets:desk_ticket", args=[ticket.number])))


def test_a_textarea_answer_the_browser_let_through_is_not_refused_for_its_line_breaks(client, world):
    """A browser's textarea maxlength counts a line break as one character, but sends it as \\r\\n.
    An answer the page's own maxlength="10000" accepted (9,999 characters on screen, 19 line breaks)
    is taken, stored with "\\n" line breaks (before the fix: 422, "at most 10000 characters (it has
    10018)", and the customer could not find what to shorten)."""
    answer = "\r\n".join(["y" * 499] * 20)
    assert len(answer.replace("\r\n", "\n")) <= 10_000 < len(answer)
    client.force_login(world["customer"])
    response = post(client, world["form"], ta=answer)
    assert response.status_code == 302, re.findall(r'class="errors"[^>]*><li>(.*?)</li>', page(response))
    assert Ticket.objects.get().custom_fields["ta"] == answer.replace("\r\n", "\n")


def test_a_description_the_browser_let_through_is_not_refused_for_its_line_breaks(client, world):
    """The request's own description (maxlength 50,000) counts line breaks as the browser does too."""
    description = "\r\n".join(["z" * 999] * 50)
    assert len(description.replace("\r\n", "\n")) <= 50_000 < len(description)
    client.force_login(world["customer"])
    data = {"subject": "Long", "description": description, "submission_key": str(uuid.uuid4())}
    response = client.post(reverse("tickets:portal_submit"), data)
    assert response.status_code == 302, re.findall(r'class="errors"[^>]*><li>(.*?)</li>', page(response))
    assert Ticket.objects.get().messages.get().body == description.replace("\r\n", "\n")


def test_a_required_checkbox_added_later_does_not_make_the_agent_tick_it_for_the_customer(client, world):
    """The form gains "I accept the terms" (required checkbox) after a ticket was sent. The agent fixes
    the old ticket's order reference: saved, the box left unanswered (schema.edit_field). Before the
    fix it was refused at 422 until they ticked the box, and once they did, the ticket said the customer
    accepted the terms, a consent the customer never gave."""
    form = TicketFormFactory(schema=[{"name": "order", "label": "Order", "type": "text"}])
    ticket = make_ticket(world["customer"], team=world["team"], form=form, custom_fields={"order": "A-1"})
    form.schema = [*form.schema, {"name": "agree", "label": "I accept the terms", "type": "checkbox",
                                  "required": True}]  # fmt: skip
    form.save()
    client.force_login(world["agent"])
    response = desk_edit(client, ticket, order="A-2")
    assert response.status_code == 302, re.findall(r'id="edit-error"[^>]*>(.*?)</p>', page(response))
    assert Ticket.objects.get(pk=ticket.pk).custom_fields == {"order": "A-2"}


@pytest.mark.parametrize(
    ("added", "stored"),
    [
        ({"name": "agree", "label": "I accept the terms", "type": "checkbox"}, {"agree": False}),
        ({"name": "serial", "label": "Serial number", "type": "text"}, {}),
        ({"name": "plan", "label": "Plan", "type": "select", "choices": ["Basic", "Pro"]}, {}),
        ({"name": "serial", "label": "Serial number", "type": "text"}, {"serial": ""}),
    ],
)
def test_a_field_made_required_since_the_ticket_holds_no_answer_for_is_not_required_of_the_agent(
    client, world, added, stored
):
    """A box the customer left unticked, or a text or choice the ticket has no answer for, made required
    since: the agent fixing the order reference is not made to give the customer's answer, and the field
    stays as it was. Before the fix only a box added since was spared; a box made required since (the
    ticket holding "no") had to be ticked, a consent the customer never gave."""
    form = TicketFormFactory(schema=[{"name": "order", "label": "Order", "type": "text"}, {**added}])
    ticket = make_ticket(
        world["customer"], team=world["team"], form=form, custom_fields={"order": "A-1", **stored}
    )
    before = Ticket.objects.get(pk=ticket.pk).custom_fields
    form.schema = [form.schema[0], {**added, "required": True}]
    form.save()
    client.force_login(world["agent"])
    response = desk_edit(client, ticket, order="A-2")
    assert response.status_code == 302, re.findall(r'id="edit-error"[^>]*>(.*?)</p>', page(response))
    assert Ticket.objects.get(pk=ticket.pk).custom_fields == {**before, "order": "A-2"}


@pytest.mark.parametrize(
    ("field", "answer", "cleared"),
    [
        ({"name": "serial", "label": "Serial number", "type": "text", "required": True}, "SN-1", ""),
        ({"name": "seats", "label": "Seats", "type": "number", "required": True}, 0, ""),
        ({"name": "agree", "label": "I accept the terms", "type": "checkbox", "required": True}, True, None),
    ],
)
def test_a_required_answer_the_ticket_holds_cannot_be_cleared(client, world, field, answer, cleared):
    """An answer the customer gave to a required field (0 seats, a ticked box too) stays required: the
    agent cannot clear it."""
    form = TicketFormFactory(schema=[field])
    ticket = make_ticket(
        world["customer"], team=world["team"], form=form, custom_fields={field["name"]: answer}
    )
    client.force_login(world["agent"])
    values = {} if cleared is None else {field["name"]: cleared}
    assert desk_edit(client, ticket, **values).status_code == 422
    assert Ticket.objects.get(pk=ticket.pk).custom_fields == {field["name"]: answer}


# ---------------------------------------------------------------------------------------------------
# Refusals, escaping and the admin
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["NaN", "Infinity", "-Infinity", "1e400", "1e-400", "1,5", "0x10",
                                   "1" * 40, "1.005"])  # fmt: skip
def test_hostile_numbers_are_refused_at_422_with_the_answers_refilled(client, world, typed):
    """Non-finite, huge, comma-decimal and too-precise numbers come back at 422 beside the field, with
    what was typed and the other answers still in the form; no ticket is made."""
    client.force_login(world["customer"])
    response = post(client, world["form"], num=typed, t="A-17", sel="Pro", ms=["Web"])
    body = page(response)
    assert response.status_code == 422 and not Ticket.objects.exists()
    assert f'value="{typed}"' in body and 'value="A-17"' in body
    assert re.search(r'value="Pro" selected', body) and re.search(r'value="Web"[^>]*checked', body)
    assert 'aria-describedby="id_cf_num_error"' in body and 'id="id_cf_num_error"' in body


@pytest.mark.parametrize("typed", ["0000-01-01", "10000-01-01", "2026-02-30", "2026-W01", "20260102"])
def test_impossible_dates_are_refused_at_422(client, world, typed):
    client.force_login(world["customer"])
    response = post(client, world["form"], d=typed)
    assert response.status_code == 422 and "Enter a valid date." in page(response)
    assert not Ticket.objects.exists()


def test_choices_not_offered_are_refused_and_repeats_are_stored_once(client, world):
    client.force_login(world["customer"])
    assert post(client, world["form"], sel="Enterprise").status_code == 422
    assert post(client, world["form"], ms=["Web", "Fax"]).status_code == 422
    assert post(client, world["form"], ms=["Web", "Mail", "Web"]).status_code == 302
    assert Ticket.objects.get().custom_fields["ms"] == ["Mail", "Web"]


def test_required_checkbox_and_multi_select_errors_are_tied_to_their_inputs(client, world):
    """Unticked required checkbox, empty required multi-select: 422; each error is announced through
    aria-describedby (the group's fieldset for the multi-select), and the group says it is required."""
    form = TicketFormFactory(schema=[
        {"name": "agree", "label": "I agree", "type": "checkbox", "required": True, "help_text": "Read it"},
        {"name": "pick", "label": "Pick", "type": "multi_select", "choices": ["X", "Y"], "required": True},
    ])  # fmt: skip
    client.force_login(world["customer"])
    body = page(post(client, form))
    assert 'aria-describedby="id_cf_agree_helptext id_cf_agree_error"' in body
    assert '<fieldset class="field field-group field-invalid" aria-describedby="id_cf_pick_error">' in body
    assert "Pick <span" in body and "(required)" in body
    assert not Ticket.objects.exists()


def test_a_422_keeps_the_chosen_file_ticked_with_the_custom_answers(client, world):
    client.force_login(world["customer"])
    shot = SimpleUploadedFile("shot.txt", b"hello")
    response = post(client, world["form"], files=[shot], num="NaN", ta="line one\nline two", cb="on")
    body = page(response)
    assert response.status_code == 422
    assert re.search(r'name="held" value="[^"]+"[^>]*checked[^>]*>\s*shot\.txt', body)
    assert "line one\nline two</textarea>" in body and re.search(r'name="cf_cb"[^>]*checked', body)


def test_organisation_forms_are_for_their_members_and_inactive_forms_are_404(client, world):
    acme, globex = OrganizationFactory(name="Acme"), OrganizationFactory(name="Globex")
    member, outsider = make_customer(acme), make_customer(globex)
    form = TicketFormFactory(organization=acme, schema=[{"name": "o", "label": "O", "type": "text"}])
    retired = TicketFormFactory(is_active=False)
    client.force_login(member)
    assert client.get(url(form)).status_code == 200 and client.get(url(retired)).status_code == 404
    assert post(client, form, o="x").status_code == 302
    client.force_login(outsider)
    assert client.get(url(form)).status_code == 404
    assert form.title not in page(client.get(reverse("tickets:portal_submit")))
    assert post(client, form, o="x").status_code == 422
    assert Ticket.objects.filter(form=form).count() == 1
    client.logout()
    visitors_may_submit(True)
    assert client.get(url(form)).status_code == 302  # to sign in, like any address
    data = {"subject": "Hi", "description": "x", "submission_key": str(uuid.uuid4()), "cf_o": "x",
            "name": "V", "email": member.email}  # fmt: skip
    assert client.post(url(form), data).status_code == 422
    assert Ticket.objects.filter(form=form).count() == 1


def test_labels_help_and_choices_are_escaped_even_after_the_choice_is_removed(client, world):
    form = TicketFormFactory(schema=[
        {"name": "a", "label": "L" + XSS, "type": "select", "choices": ["C" + XSS, "D"], "help_text": XSS},
        {"name": "b", "label": "M" + XSS, "type": "multi_select", "choices": ["E" + XSS, "F"]},
    ], title="T" + XSS, default_team=world["team"])  # fmt: skip
    client.force_login(world["customer"])
    assert XSS not in client.get(url(form)).content.decode()
    assert post(client, form, a="C" + XSS, b=["E" + XSS]).status_code == 302
    ticket = Ticket.objects.get(form=form)
    form.schema = [{"name": "a", "label": "L" + XSS, "type": "select", "choices": ["D"]},
                   {"name": "b", "label": "M", "type": "multi_select", "choices": ["F"]}]  # fmt: skip
    form.save()
    portal = client.get(reverse("tickets:portal_detail", args=[ticket.number]))
    assert portal.status_code == 200 and XSS not in portal.content.decode()
    assert "C" + XSS in page(portal) and "E" + XSS in page(portal)
    client.force_login(world["agent"])
    workspace = client.get(reverse("tickets:desk_ticket", args=[ticket.number]))
    assert workspace.status_code == 200 and XSS not in workspace.content.decode()
    assert "(no longer offered)" in page(workspace)


@pytest.mark.parametrize("text", [
    "[" * 50000 + "]" * 50000, "{}", "null", "NaN", '"[]"',
    '[{"name": "a b", "label": "x", "type": "text"}]',
    '[{"name": "ä", "label": "x", "type": "text"}]',
    '[{"name": "a", "label": "x", "type": "text"}, {"name": "a", "label": "y", "type": "text"}]',
    '[{"name": "a", "label": "x", "type": "select"}]',
    '[{"name": "a", "label": "x", "type": ["text"]}]',
    '[{"name": "a", "label": "x\\ud800", "type": "text"}]',
    '[{"name": "a", "label": "x\\u0000", "type": "text"}]',
])  # fmt: skip
def test_admin_bad_schemas_are_form_errors(superuser_client, text):
    data = {"slug": "probe", "title": "Probe", "intro": "", "schema": text, "success_message": "Thanks",
            "is_active": "on", "organization": "", "default_team": "", "default_priority": "",
            "position": "0"}  # fmt: skip
    response = superuser_client.post("/admin/tickets/ticketform/add/", data)
    assert response.status_code in (200, 422) and 'id="id_schema_error"' in response.content.decode()
