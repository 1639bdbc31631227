"""Ticket forms with custom fields, end to end (portal submission, portal page, desk workspace inline
edit, services), under odd input and schemas changed by an administrator after submission."""

import json
import re
import uuid
from html import unescape

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from accounts import rbac, roles
from tests.conftest import made_once_per_module
from tests.factories import (
    TeamFactory,
    TicketFormFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_ticket,
)
from tickets import schema, services
from tickets.models import Ticket, TicketForm

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


ORDER_NUMBER = {"name": "order_number", "label": "Order number", "type": "text"}


def make_desk():
    support = TeamFactory(name="Support")
    agent = make_agent(support, name="Alex Agent")
    customer = make_customer(name="Carla Customer")
    return {"support": support, "agent": agent, "customer": customer}


_desk_rows, desk = made_once_per_module(make_desk, "desk")


def workspace_html(client, user, ticket) -> str:
    client.force_login(user)
    response = client.get(reverse("tickets:desk_ticket", args=[ticket.number]))
    assert response.status_code == 200
    return response.content.decode()


def portal_html(client, user, ticket) -> str:
    client.force_login(user)
    response = client.get(reverse("tickets:portal_detail", args=[ticket.number]))
    assert response.status_code == 200
    return response.content.decode()


def edit(client, ticket, data: dict, *, htmx: bool):
    url = reverse("tickets:desk_update", args=[ticket.number])
    payload = {"field": "custom_fields", "version": ticket.version, **data}
    return client.post(url, payload, headers=HTMX if htmx else {})


def sent_with(desk, form: TicketForm, values: dict) -> Ticket:
    """A Support ticket of the desk's customer, sent with `form` and these custom-field values."""
    return make_ticket(desk["customer"], team=desk["support"], form=form, custom_fields=values)


def current(ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def submit(client, slug: str, **custom):
    data = {"subject": "Help", "description": "Please", "submission_key": str(uuid.uuid4()), **custom}
    return client.post(reverse("tickets:portal_submit_form", args=[slug]), data)


# ---------------------------------------------------------------------------------------------------
# Schema changed by an administrator after tickets were submitted
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("htmx", [True, False])
def test_removed_field_value_survives_a_custom_fields_save(client, desk, htmx):
    """A field the administrator removed from the form: its stored value must not vanish the next time
    an agent saves the (remaining) custom fields."""
    form = TicketFormFactory(
        schema=[
            {"name": "order_number", "label": "Order number", "type": "text"},
            {"name": "serial", "label": "Serial", "type": "text"},
        ]
    )
    ticket = sent_with(desk, form, {"order_number": "A-1", "serial": "SN-9"})
    form.schema = [{"name": "order_number", "label": "Order number", "type": "text"}]
    form.save()
    client.force_login(desk["agent"])
    response = edit(client, ticket, {"cf-order_number": "A-2"}, htmx=htmx)
    assert response.status_code in (200, 302)
    stored = current(ticket).custom_fields
    assert stored["order_number"] == "A-2"
    assert stored.get("serial") == "SN-9", f"the removed field's stored value was dropped: {stored}"


def test_removed_field_value_survives_a_service_update(desk):
    form = TicketFormFactory(
        schema=[
            {"name": "order_number", "label": "Order number", "type": "text"},
            {"name": "serial", "label": "Serial", "type": "text"},
        ]
    )
    ticket = make_ticket(desk["customer"], form=form, custom_fields={"order_number": "A-1", "serial": "SN-9"})
    form.schema = form.schema[:1]
    form.save()
    services.ticket_update_fields(ticket, changes={"custom_fields": {"order_number": "A-2"}}, actor=None)
    assert current(ticket).custom_fields == {"order_number": "A-2", "serial": "SN-9"}


def test_removed_field_value_is_shown_to_the_agent_and_the_customer(client, desk):
    form = TicketFormFactory(schema=[ORDER_NUMBER, {"name": "serial_no", "label": "Serial", "type": "text"}])
    ticket = sent_with(desk, form, {"order_number": "A-1", "serial_no": "SN-9"})
    form.schema = [ORDER_NUMBER]
    form.save()
    shown = "<dt>Serial no (no longer on the form)</dt><dd>SN-9</dd>"
    assert shown in workspace_html(client, desk["agent"], ticket)
    assert shown in portal_html(client, desk["customer"], ticket)


@pytest.mark.parametrize(
    ("new_type", "stored", "typed"),
    [
        ("number", "about forty", "42"),
        ("date", "next Tuesday", "2026-12-08"),
        ("email", "call me", "carla@example.com"),
        ("text", "x" * 600, "short now"),
    ],
)
def test_value_the_changed_field_type_refuses_stays_until_replaced(client, desk, new_type, stored, typed):
    """The field was text (or long text) when the ticket was sent and is now a number, a date...: the
    workspace shows the old value as text, saving the details as they are keeps it, and a value of
    the new type replaces it."""
    form = TicketFormFactory(schema=[ORDER_NUMBER, {"name": "detail", "label": "Detail", "type": "textarea"}])
    ticket = sent_with(desk, form, {"order_number": "A-1", "detail": stored})
    form.schema = [ORDER_NUMBER, {"name": "detail", "label": "Detail", "type": new_type, "required": True}]
    form.save()
    page = workspace_html(client, desk["agent"], ticket)
    field = re.search(r'<input[^>]*name="cf-detail"[^>]*>', page).group(0)
    assert 'type="text"' in field and f'value="{stored}"' in field
    assert "Kept from before this field changed" in page

    response = edit(client, ticket, {"cf-order_number": "A-2", "cf-detail": stored}, htmx=True)
    assert response.status_code == 200
    assert current(ticket).custom_fields == {"order_number": "A-2", "detail": stored}

    refused = edit(client, current(ticket), {"cf-order_number": "A-2", "cf-detail": ""}, htmx=True)
    assert refused.status_code == 422
    assert current(ticket).custom_fields["detail"] == stored

    edit(client, current(ticket), {"cf-order_number": "A-2", "cf-detail": typed}, htmx=True)
    assert current(ticket).custom_fields["detail"] == (42 if new_type == "number" else typed)


def test_select_value_whose_choice_was_removed_is_still_shown_in_the_workspace(client, desk):
    """The choice "Legacy" was removed after the ticket was sent: the workspace's edit form still offers
    it, selected, so saving the details form (as a browser posts it) keeps it."""
    form = TicketFormFactory(
        schema=[
            {"name": "order_number", "label": "Order number", "type": "text"},
            {"name": "plan", "label": "Plan", "type": "select", "choices": ["Basic", "Legacy"]},
        ]
    )
    ticket = sent_with(desk, form, {"order_number": "A-1", "plan": "Legacy"})
    form.schema = [
        {"name": "order_number", "label": "Order number", "type": "text"},
        {"name": "plan", "label": "Plan", "type": "select", "choices": ["Basic", "Pro"]},
    ]
    form.save()
    assert "<dt>Plan</dt><dd>Legacy</dd>" in portal_html(client, desk["customer"], ticket)
    page = workspace_html(client, desk["agent"], ticket)
    select = re.search(r'<select name="cf-plan".*?</select>', page, re.S).group(0)
    assert "Legacy" in select, f"the stored choice is not offered or shown: {select}"


def test_multi_select_value_whose_choice_was_removed_is_still_shown_in_the_workspace(client, desk):
    form = TicketFormFactory(
        schema=[
            {"name": "areas", "label": "Areas", "type": "multi_select", "choices": ["Mail", "Fax", "Web"]}
        ]
    )
    ticket = make_ticket(
        desk["customer"], team=desk["support"], form=form, custom_fields={"areas": ["Mail", "Fax"]}
    )
    form.schema = [{"name": "areas", "label": "Areas", "type": "multi_select", "choices": ["Mail", "Web"]}]
    form.save()
    assert "<dt>Areas</dt><dd>Mail, Fax</dd>" in portal_html(client, desk["customer"], ticket)
    page = workspace_html(client, desk["agent"], ticket)
    assert "Fax" in page, "the stored choice Fax is shown nowhere in the workspace"


def test_decimal_places_added_later_do_not_round_the_stored_number(client, desk):
    """Amount 49.999 was stored under a plain number field; the administrator then set decimal_places 2:
    the pages show what the customer sent (not 50.00), and saving another field keeps it."""
    form = TicketFormFactory(schema=[ORDER_NUMBER, {"name": "amount", "label": "Amount", "type": "number"}])
    ticket = sent_with(desk, form, {"order_number": "A-1", "amount": "49.999"})
    assert current(ticket).custom_fields["amount"] == 49.999
    form.schema[1]["decimal_places"] = 2
    form.save()
    portal = portal_html(client, desk["customer"], ticket)
    workspace = workspace_html(client, desk["agent"], ticket)
    assert "<dt>Amount</dt><dd>49.999</dd>" in portal, re.search(r"<dt>Amount</dt><dd>[^<]*</dd>", portal)
    assert 'name="cf-amount" value="49.999"' in workspace


def test_decimal_places_added_later_saving_another_field_keeps_the_number(client, desk):
    form = TicketFormFactory(schema=[ORDER_NUMBER, {"name": "amount", "label": "Amount", "type": "number"}])
    ticket = sent_with(desk, form, {"order_number": "A-1", "amount": "49.999"})
    form.schema[1]["decimal_places"] = 2
    form.save()
    page = workspace_html(client, desk["agent"], ticket)
    shown = re.search(r'name="cf-amount" value="([^"]*)"', page).group(1)
    # The agent changes only the order number and submits the form as the page rendered it.
    edit(client, ticket, {"cf-order_number": "A-2", "cf-amount": shown}, htmx=True)
    assert current(ticket).custom_fields["amount"] == 49.999


def test_changed_field_types_do_not_break_the_pages_or_unrelated_saves(client, desk):
    """number→text, text→number, select→multi_select, checkbox→text, text→date: the ticket pages
    render and a priority change saves without touching the stored values."""
    form = TicketFormFactory(
        schema=[
            {"name": "n", "label": "N", "type": "number"},
            {"name": "t", "label": "T", "type": "text"},
            {"name": "s", "label": "S", "type": "select", "choices": ["a", "b"]},
            {"name": "c", "label": "C", "type": "checkbox"},
            {"name": "d", "label": "D", "type": "text"},
        ]
    )
    values = {"n": "42.5", "t": "abc", "s": "a", "c": "on", "d": "next week"}
    ticket = make_ticket(desk["customer"], team=desk["support"], form=form, custom_fields=values)
    stored = current(ticket).custom_fields
    form.schema = [
        {"name": "n", "label": "N", "type": "text"},
        {"name": "t", "label": "T", "type": "number", "decimal_places": 2},
        {"name": "s", "label": "S", "type": "multi_select", "choices": ["a", "b"]},
        {"name": "c", "label": "C", "type": "text"},
        {"name": "d", "label": "D", "type": "date"},
    ]
    form.save()
    portal_html(client, desk["customer"], ticket)
    workspace_html(client, desk["agent"], ticket)
    for htmx in (True, False):
        ticket = current(ticket)
        response = client.post(
            reverse("tickets:desk_update", args=[ticket.number]),
            {"field": "priority", "value": "high" if htmx else "low", "version": ticket.version},
            headers=HTMX if htmx else {},
        )
        assert response.status_code in (200, 302)
    assert current(ticket).custom_fields == stored


# ---------------------------------------------------------------------------------------------------
# Display: the same value on the portal and in the desk
# ---------------------------------------------------------------------------------------------------


def test_agent_without_provide_support_still_sees_the_custom_fields(client, desk):
    """Without provide_support the workspace lists priority, team, tags and the custom fields read-only:
    the agent sees what the customer entered without the edit form."""
    form = TicketFormFactory()
    ticket = sent_with(desk, form, {"order_number": "A-77", "product": "Pro"})
    agent = desk["agent"]
    Group.objects.get(name=roles.AGENT).permissions.remove(
        Permission.objects.get(codename="provide_support", content_type__app_label="accounts")
    )
    rbac.forget(agent)
    page = workspace_html(client, agent, ticket)
    assert 'name="cf-order_number"' not in page  # no edit form
    assert "A-77" in page and "Order number" in page, "custom fields are not shown read-only"
    # and the edit itself is refused
    response = edit(client, ticket, {"cf-order_number": "Z"}, htmx=True)
    assert response.status_code == 409
    assert current(ticket).custom_fields["order_number"] == "A-77"


def test_timeline_shows_custom_field_changes_as_the_fields_show_them(client, desk):
    """The activity timeline shows custom-field changes as the pages show the fields: labels, and
    0.000001 / 49.90 rather than "1e-06" / "49.9"."""
    form = TicketFormFactory(
        schema=[
            {"name": "fee", "label": "Fee", "type": "number"},
            {"name": "amount", "label": "Amount", "type": "number", "decimal_places": 2},
        ]
    )
    ticket = make_ticket(
        desk["customer"], team=desk["support"], form=form, custom_fields={"fee": "1", "amount": "1"}
    )
    client.force_login(desk["agent"])
    response = edit(client, ticket, {"cf-fee": "0.000001", "cf-amount": "49.90"}, htmx=False)
    assert response.status_code == 302
    assert current(ticket).custom_fields == {"fee": 0.000001, "amount": 49.9}
    portal = portal_html(client, desk["customer"], ticket)
    assert "<dt>Fee</dt><dd>0.000001</dd>" in portal and "<dt>Amount</dt><dd>49.90</dd>" in portal
    page = unescape(workspace_html(client, desk["agent"], ticket))
    assert "1e-06" not in page, "the timeline shows the number in scientific notation"
    assert "Amount: 49.90" in page


# ---------------------------------------------------------------------------------------------------
# Odd input on the portal
# ---------------------------------------------------------------------------------------------------


ODD = [
    {"name": "note", "label": "Note", "type": "text"},
    {"name": "story", "label": "Story", "type": "textarea"},
    {"name": "areas", "label": "Areas", "type": "multi_select", "choices": ["Mail", "Web"]},
    {"name": "amount", "label": "Amount", "type": "number"},
    {"name": "since", "label": "Since", "type": "date"},
    {"name": "contact", "label": "Contact", "type": "email"},
    {"name": "agree", "label": "I agree", "type": "checkbox", "required": True},
]


@pytest.fixture
def odd_form(desk):
    TicketFormFactory(slug="odd", schema=ODD, default_team=desk["support"])
    return "odd"


def test_multi_select_duplicates_are_stored_once(client, desk, odd_form):
    """cf_areas=Mail&cf_areas=Mail is stored once: ["Mail"], not "Mail, Mail" on the portal."""
    client.force_login(desk["customer"])
    response = submit(client, odd_form, cf_areas=["Mail", "Mail"], cf_agree="on")
    assert response.status_code == 302
    assert Ticket.objects.get().custom_fields["areas"] == ["Mail"]


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("1e5", 100000), ("-0", 0), (" 42 ", 42), ("-0.000001", -0.000001), ("0E+999999", 0)],
)
def test_odd_numbers_are_stored_as_numbers(client, desk, odd_form, typed, stored):
    client.force_login(desk["customer"])
    response = submit(client, odd_form, cf_amount=typed, cf_agree="on")
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.custom_fields["amount"] == stored and type(ticket.custom_fields["amount"]) is type(stored)
    shown = schema.shown_number({"type": "number"}, stored)
    assert f"<dt>Amount</dt><dd>{shown}</dd>" in portal_html(client, desk["customer"], ticket)
    assert f'name="cf-amount" value="{shown}"' in workspace_html(client, desk["agent"], ticket)


@pytest.mark.parametrize("typed", ["NaN", "Infinity", "-inf", "sNaN", "1e40", "9" * 5000, "0x10", "1,5"])
def test_non_finite_and_huge_numbers_are_refused_with_422(client, desk, odd_form, typed):
    client.force_login(desk["customer"])
    response = submit(client, odd_form, cf_amount=typed, cf_agree="on", cf_note="kept")
    assert response.status_code == 422 and not Ticket.objects.exists()
    assert 'value="kept"' in response.content.decode()


@pytest.mark.parametrize(("typed", "shown"), [("0001-01-01", "1 Jan 1"), ("9999-12-31", "31 Dec 9999")])
def test_extreme_dates_round_trip(client, desk, odd_form, typed, shown):
    client.force_login(desk["customer"])
    assert submit(client, odd_form, cf_since=typed, cf_agree="on").status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.custom_fields["since"] == typed
    # Shown as the site writes every date.
    assert f"<dt>Since</dt><dd>{shown}</dd>" in portal_html(client, desk["customer"], ticket)


@pytest.mark.parametrize("typed", ["2026-02-30", "10000-01-01", "0000-01-01", "2026-13-01"])
def test_impossible_dates_are_refused_with_422(client, desk, odd_form, typed):
    client.force_login(desk["customer"])
    response = submit(client, odd_form, cf_since=typed, cf_agree="on")
    assert response.status_code == 422 and not Ticket.objects.exists()
    assert f'value="{typed}"' in response.content.decode()


@pytest.mark.parametrize("field", ["cf_note", "cf_story", "cf_contact", "cf_since", "cf_amount", "cf_areas"])
def test_nul_bytes_in_any_custom_field_are_a_422_not_a_500(client, desk, odd_form, field):
    client.force_login(desk["customer"])
    response = submit(client, odd_form, **{field: "a\x00b", "cf_agree": "on"})
    assert response.status_code == 422 and not Ticket.objects.exists()


def test_text_lengths(client, desk, odd_form):
    client.force_login(desk["customer"])
    too_long = submit(client, odd_form, cf_note="x" * 501, cf_agree="on")
    assert too_long.status_code == 422 and "at most 500 characters" in unescape(too_long.content.decode())
    ok = submit(client, odd_form, cf_story="y" * 10_000, cf_agree="on")
    assert ok.status_code == 302
    assert Ticket.objects.get().custom_fields["story"] == "y" * 10_000


def test_required_checkbox_unticked_is_refused_and_other_values_kept(client, desk, odd_form):
    client.force_login(desk["customer"])
    response = submit(client, odd_form, cf_note="kept", cf_areas=["Web"])
    assert response.status_code == 422 and not Ticket.objects.exists()
    body = response.content.decode()
    assert 'value="kept"' in body and re.search(r'value="Web"[^>]*checked', body)


def test_unicode_email_domain_is_kept_and_unicode_local_part_refused(client, desk, odd_form):
    client.force_login(desk["customer"])
    assert submit(client, odd_form, cf_contact="üser@example.com", cf_agree="on").status_code == 422
    assert submit(client, odd_form, cf_contact="user@exämple.com", cf_agree="on").status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.custom_fields["contact"] == "user@exämple.com"
    assert "<dt>Contact</dt><dd>user@exämple.com</dd>" in portal_html(client, desk["customer"], ticket)


# ---------------------------------------------------------------------------------------------------
# Escaping of choices and labels
# ---------------------------------------------------------------------------------------------------

NASTY = "<b>\"Gold\", 'Plus' & more</b>"


def test_choices_with_html_quotes_and_commas_are_escaped_everywhere(client, desk):
    form = TicketFormFactory(
        slug="nasty",
        schema=[
            {"name": "plan", "label": "Plan", "type": "select", "choices": [NASTY, "Basic"]},
            {"name": "areas", "label": "Areas", "type": "multi_select", "choices": [NASTY, "a, b"]},
        ],
        default_team=desk["support"],
    )
    client.force_login(desk["customer"])
    page = client.get(reverse("tickets:portal_submit_form", args=[form.slug])).content.decode()
    assert "<b>" not in page.split("<main", 1)[-1]
    response = submit(client, form.slug, cf_plan=NASTY, cf_areas=[NASTY, "a, b"])
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.custom_fields == {"plan": NASTY, "areas": [NASTY, "a, b"]}
    for html in (
        portal_html(client, desk["customer"], ticket),
        workspace_html(client, desk["agent"], ticket),
    ):
        assert '<b>"Gold"' not in html
        assert "&lt;b&gt;" in html
    workspace = workspace_html(client, desk["agent"], ticket)
    assert re.search(
        r'<option value="&lt;b&gt;&quot;Gold&quot;, &#x27;Plus&#x27; &amp; more&lt;/b&gt;" selected>',
        workspace,
    )
    # a 422 on the portal keeps the nasty choice selected, escaped
    bad = submit(client, form.slug, cf_plan=NASTY, cf_areas=["nope"])
    assert bad.status_code == 422
    assert re.search(
        r'value="&lt;b&gt;&quot;Gold&quot;, &#x27;Plus&#x27; &amp; more&lt;/b&gt;" selected',
        bad.content.decode(),
    )


# ---------------------------------------------------------------------------------------------------
# Workspace edits: stale versions, 422 refill, htmx and not
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("htmx", [True, False])
def test_stale_custom_field_edit_is_refused_and_keeps_what_was_typed(client, desk, htmx):
    form = TicketFormFactory()
    ticket = make_ticket(
        desk["customer"], team=desk["support"], form=form, custom_fields={"order_number": "A-1"}
    )
    stale_version = ticket.version
    services.ticket_update_fields(ticket, changes={"priority": "urgent"}, actor=None)
    client.force_login(desk["agent"])
    response = client.post(
        reverse("tickets:desk_update", args=[ticket.number]),
        {
            "field": "custom_fields",
            "version": stale_version,
            "cf-order_number": "TYPED-9",
            "cf-product": "Pro",
        },
        headers=HTMX if htmx else {},
    )
    assert response.status_code == 409
    body = response.content.decode()
    assert 'value="TYPED-9"' in body and "Someone changed this ticket" in body
    assert current(ticket).custom_fields["order_number"] == "A-1"
    # the refreshed form carries the current version, so saving again goes through
    fresh = re.search(
        r'name="field" value="custom_fields"><input type="hidden" name="version" value="(\d+)"', body
    )
    assert fresh and int(fresh.group(1)) == current(ticket).version


@pytest.mark.parametrize("htmx", [True, False])
def test_invalid_number_and_date_in_workspace_come_back_as_typed(client, desk, htmx):
    form = TicketFormFactory(
        schema=[
            {"name": "amount", "label": "Amount", "type": "number", "decimal_places": 2},
            {"name": "since", "label": "Since", "type": "date"},
            {"name": "agree", "label": "Agree", "type": "checkbox", "required": True},
        ]
    )
    ticket = make_ticket(
        desk["customer"], team=desk["support"], form=form,
        custom_fields={"amount": "1.50", "since": "2026-01-01", "agree": "on"},
    )  # fmt: skip
    client.force_login(desk["agent"])
    response = edit(client, ticket, {"cf-amount": "1.505", "cf-since": "2026-02-30"}, htmx=htmx)
    assert response.status_code == 422
    body = unescape(response.content.decode())
    assert 'value="1.505"' in body and 'value="2026-02-30"' in body
    assert "Agree: This field is required." in body
    assert current(ticket).custom_fields == {"amount": 1.5, "since": "2026-01-01", "agree": True}


def test_agent_edit_with_unicode_and_extreme_values_round_trips_to_the_portal(client, desk):
    form = TicketFormFactory(
        schema=[
            {"name": "since", "label": "Since", "type": "date"},
            {"name": "amount", "label": "Amount", "type": "number", "decimal_places": 0},
            {"name": "contact", "label": "Contact", "type": "email"},
        ]
    )
    ticket = sent_with(desk, form, {})
    client.force_login(desk["agent"])
    typed = {"cf-since": "0001-01-01", "cf-amount": "1e5", "cf-contact": "a@exämple.com"}
    response = edit(client, ticket, typed, htmx=True)
    assert response.status_code == 200
    assert current(ticket).custom_fields == {
        "since": "0001-01-01",
        "amount": 100000,
        "contact": "a@exämple.com",
    }
    body = response.content.decode()
    assert 'name="cf-since" value="0001-01-01"' in body and 'name="cf-amount" value="100000"' in body
    portal = portal_html(client, desk["customer"], ticket)
    assert "<dt>Since</dt><dd>1 Jan 1</dd>" in portal and "<dt>Amount</dt><dd>100000</dd>" in portal


def test_textarea_line_breaks_show_on_the_portal(client, desk):
    """A textarea answer keeps its lines on the portal too, not run together in one line."""
    form = TicketFormFactory(schema=[{"name": "story", "label": "Story", "type": "textarea"}])
    ticket = make_ticket(
        desk["customer"], team=desk["support"], form=form, custom_fields={"story": "Line one\r\nLine two"}
    )
    portal = portal_html(client, desk["customer"], ticket)
    shown = re.search(r"<dt>Story</dt><dd[^>]*>(.*?)</dd>", portal, re.S).group(0)
    assert "<br>" in shown or "pre-wrap" in shown or "pre-line" in shown, shown


@pytest.mark.parametrize(
    ("places", "typed", "stored"), [(0, "5.0", 5), (2, "49.900", 49.9), (None, "0.0000000", 0)]
)
def test_trailing_zeros_do_not_count_as_extra_decimal_places(client, desk, places, typed, stored):
    """A whole-number field (decimal_places 0) takes "5.0" and a money field "49.900", as the browser's
    <input type=number step=1 / step=0.01> does: trailing zeros are not extra decimal places."""
    definition = {"name": "amount", "label": "Amount", "type": "number"}
    if places is not None:
        definition["decimal_places"] = places
    TicketFormFactory(slug="zeros", schema=[definition], default_team=desk["support"])
    client.force_login(desk["customer"])
    response = submit(client, "zeros", cf_amount=typed)
    assert response.status_code == 302, unescape(response.content.decode()).count("decimal places")
    assert Ticket.objects.get().custom_fields == {"amount": stored}


@pytest.mark.parametrize("where", ["label", "choice", "help_text"])
def test_nul_in_an_admin_schema_is_a_form_error_not_a_500(client, where):
    """PostgreSQL's jsonb refuses \\u0000: a NUL in a label, choice or help text must come back as a
    form error, never reach the database (it does)."""
    client.force_login(make_administrator(is_superuser=True))
    form = TicketFormFactory()
    field = {"name": "plan", "label": "Plan", "type": "select", "choices": ["a", "b"], "help_text": "h"}
    field["choices" if where == "choice" else where] = ["a\x00b", "c"] if where == "choice" else "a\x00b"
    text = json.dumps([field])  # the NUL travels as the JSON escape \u0000
    assert "\\u0000" in text
    response = client.post(
        reverse("admin:tickets_ticketform_change", args=[form.pk]),
        {"slug": form.slug, "title": form.title, "schema": text, "success_message": "ok",
         "is_active": "on", "position": 0},
    )  # fmt: skip
    assert response.status_code == 422
    assert "errornote" in response.content.decode()
    assert TicketForm.objects.get(pk=form.pk).schema == form.schema


def posted_choices(page: str, name: str) -> list[str]:
    """What a browser posts for the select or checkboxes `name` of the page as it is: the selected
    options, or the checked boxes."""
    select = re.search(rf'<select name="{name}".*?</select>', page, re.S)
    if select:
        return re.findall(r'<option value="([^"]*)"[^>]*\bselected\b', select.group(0))
    boxes = re.findall(rf'<input type="checkbox" name="{name}" value="([^"]*)"[^>]*>', page)
    checked = re.findall(rf'<input type="checkbox" name="{name}" value="([^"]*)"[^>]*\bchecked\b', page)
    assert boxes, f"no select or checkboxes named {name}"
    return [unescape(value) for value in checked]


def test_answers_of_a_multi_select_now_a_select_stay_until_one_is_chosen(client, desk):
    """The field was multi_select when the customer ticked Mail and Fax; it is now a select. The
    workspace offers both answers as one kept option, selected: saving the form as the browser posts
    it keeps both, and choosing another answer replaces them."""
    areas = {"name": "areas", "label": "Areas", "type": "multi_select", "choices": ["Mail", "Fax", "Web"]}
    form = TicketFormFactory(schema=[ORDER_NUMBER, areas])
    ticket = sent_with(desk, form, {"order_number": "A-1", "areas": ["Mail", "Fax"]})
    form.schema = [ORDER_NUMBER, {**areas, "type": "select"}]
    form.save()

    page = workspace_html(client, desk["agent"], ticket)
    [kept] = posted_choices(page, "cf-areas")
    assert f'<option value="{kept}" selected>Mail, Fax (kept from before this field changed)</option>' in page
    response = edit(client, ticket, {"cf-order_number": "A-2", "cf-areas": kept}, htmx=True)
    assert response.status_code == 200
    assert current(ticket).custom_fields == {"order_number": "A-2", "areas": ["Mail", "Fax"]}

    edit(client, current(ticket), {"cf-order_number": "A-2", "cf-areas": "Web"}, htmx=True)
    assert current(ticket).custom_fields["areas"] == "Web"


KEPT = [schema.KEPT_OPTION]


@pytest.mark.parametrize(("kind", "stored", "ticked"), [("select", "Fax", ["Fax"]), ("number", 3, KEPT),
                                                        ("checkbox", True, KEPT)])  # fmt: skip
def test_a_single_answer_in_a_field_now_multi_select_stays_ticked(client, desk, kind, stored, ticked):
    """A select's answer, a number or a yes/no stored before the field became multi_select: the
    workspace shows it ticked (offered although not among the choices), so saving the form as the
    browser posts it keeps the value as it was, and ticking a choice beside it keeps both."""
    ticket = sent_with(desk, TicketFormFactory(schema=[ORDER_NUMBER]), {"order_number": "A-1"})
    Ticket.objects.filter(pk=ticket.pk).update(custom_fields={"order_number": "A-1", "areas": stored})
    ticket.form.schema = [
        ORDER_NUMBER,
        {"name": "areas", "label": "Areas", "type": "multi_select", "choices": ["Mail", "Web"]},
    ]
    ticket.form.save()

    page = workspace_html(client, desk["agent"], current(ticket))
    assert posted_choices(page, "cf-areas") == ticked
    response = edit(client, current(ticket), {"cf-order_number": "A-1", "cf-areas": ticked}, htmx=True)
    assert response.status_code == 200
    assert current(ticket).custom_fields["areas"] == stored
    assert not current(ticket).activities.filter(action="custom_fields").exists()

    edit(client, current(ticket), {"cf-order_number": "A-1", "cf-areas": [*ticked, "Web"]}, htmx=True)
    assert sorted(current(ticket).custom_fields["areas"]) == sorted([schema.shown_value({}, stored), "Web"])


def test_a_kept_value_that_reads_as_a_real_choice_is_that_choice(client, desk):
    """A yes/no answer (stored True, shown "Yes") in a field now a select offering Yes and No: the page
    selects the real "Yes" (no kept option beside it), saving keeps the answer, and "No" replaces it."""
    ticket = sent_with(desk, TicketFormFactory(schema=[ORDER_NUMBER]), {"order_number": "A-1"})
    Ticket.objects.filter(pk=ticket.pk).update(custom_fields={"order_number": "A-1", "ok": True})
    ticket.form.schema = [
        ORDER_NUMBER,
        {"name": "ok", "label": "OK", "type": "select", "choices": ["Yes", "No"]},
    ]
    ticket.form.save()
    page = workspace_html(client, desk["agent"], current(ticket))
    assert posted_choices(page, "cf-ok") == ["Yes"] and "kept from before" not in page
    edit(client, current(ticket), {"cf-order_number": "A-1", "cf-ok": "Yes"}, htmx=True)
    assert schema.shown_value({}, current(ticket).custom_fields["ok"]) == "Yes"
    edit(client, current(ticket), {"cf-order_number": "A-1", "cf-ok": "No"}, htmx=True)
    assert current(ticket).custom_fields["ok"] == "No"


def test_a_real_choice_replaces_a_kept_answer_that_reads_the_same():
    """A yes/no field (stored True, shown "Yes") became a select offering "Yes" and "No": the select's own
    "Yes" and "No" are each stored as chosen."""
    urgent = {"name": "urgent", "label": "Urgent", "type": "select", "choices": ["Yes", "No"]}
    assert schema.clean_values([urgent], {"urgent": "No"}, stored={"urgent": True}) == {"urgent": "No"}
    assert schema.clean_values([urgent], {"urgent": "Yes"}, stored={"urgent": True}) == {"urgent": "Yes"}


def _sent(client, form, **answers):
    data = {"subject": "Help", "description": "Please", "submission_key": str(uuid.uuid4())}
    return client.post(reverse("tickets:portal_submit_form", args=[form.slug]), data | answers)


def test_several_answers_to_a_question_made_single_choice_meanwhile_are_refused_not_cut_to_the_last(client):
    """Ticked "Mail" and "Web"; the question became a one-choice select while the page was open. Before
    the fix the ticket kept "Web" (the last value sent) and "Mail" was lost without a word."""
    channel = {"name": "channel", "label": "Channel", "type": "multi_select", "choices": ["Mail", "Web"]}
    form = TicketFormFactory(schema=[channel])
    client.force_login(make_customer())
    TicketForm.objects.filter(pk=form.pk).update(schema=[channel | {"type": "select"}])
    refused = _sent(client, form, cf_channel=["Mail", "Web"])
    assert refused.status_code == 422
    assert refused.context["form"].errors["cf_channel"] == [schema.MANY_ANSWERS]
    assert not Ticket.objects.exists()
    assert _sent(client, form, cf_channel="Web").status_code == 302


@pytest.mark.parametrize(
    ("sent", "stored"),
    [("on", True), ("true", True), ("1", True), ("yes", True), ("no", False), ("off", False), ("0", False),
     ("false", False), ("", False), ("maybe", None)],
)  # fmt: skip
def test_a_tick_box_takes_a_tick_or_a_yes_no_and_refuses_other_text(client, sent, stored):
    """A text answer sent to a question made a tick box meanwhile (or a script's): before the fix any
    text but "false" and "0" was stored as ticked, so a typed "no" read "Urgent: Yes" on the desk."""
    form = TicketFormFactory(schema=[{"name": "urgent", "label": "Urgent?", "type": "checkbox"}])
    client.force_login(make_customer())
    response = _sent(client, form, cf_urgent=sent)
    if stored is None:
        assert response.status_code == 422
        assert response.context["form"].errors["cf_urgent"] == [schema.TICK_OR_UNTICK]
    else:
        assert response.status_code == 302
        assert Ticket.objects.get().custom_fields["urgent"] is stored


def test_the_admin_shows_a_tickets_answers_under_their_questions(superuser_client):
    """Before the fix the admin showed the stored JSON: field names, null for unanswered, ISO dates."""
    form = TicketFormFactory(schema=[ORDER_NUMBER, {"name": "since", "label": "Since", "type": "date"}])
    ticket = make_ticket(
        make_customer(), form=form, custom_fields={"order_number": "<b>A-17</b>", "since": "2026-01-05"}
    )
    page = superuser_client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk])).content.decode()
    shown = re.search(r'field-answers.*?<div class="readonly">(.*?)</div>', page, re.S).group(1)
    assert "<dt>Order number</dt><dd>&lt;b&gt;A-17&lt;/b&gt;</dd>" in shown
    assert "<dt>Since</dt>" in shown and "2026-01-05" not in shown and "order_number" not in shown
