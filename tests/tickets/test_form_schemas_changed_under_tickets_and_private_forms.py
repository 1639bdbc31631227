"""Ticket forms (seed 004 FormTemplate) and their custom fields over time: the admin's schema
checks, who may see and send a form, and tickets whose form's schema changed after they were sent (the
desk workspace, its inline edit, the portal's detail page)."""

import json
import re
import uuid
from html import unescape

import pytest
from django.urls import reverse

from helpdesk.services import site_configuration_update
from tests.admin_pages import post_change
from tests.factories import (
    OrganizationFactory,
    TeamFactory,
    TicketFormFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_ticket,
)
from tickets.models import Ticket, TicketForm

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------


@pytest.fixture
def support():
    return TeamFactory(name="Support")


@pytest.fixture
def agent(support):
    return make_agent(support, name="Alex Agent")


@pytest.fixture
def customer():
    return make_customer(name="Carla Customer")


@pytest.fixture
def admin_client(client):
    client.force_login(make_administrator(is_superuser=True))
    return client


def text(response) -> str:
    return unescape(response.content.decode())


def submit_url(form) -> str:
    return reverse("tickets:portal_submit_form", args=[form.slug])


def submission(**extra) -> dict:
    return {
        "subject": "Printer jam",
        "description": "Paper stuck",
        "submission_key": str(uuid.uuid4()),
        **extra,
    }


def filed(customer, team, form, values: dict) -> Ticket:
    """A ticket sent with `form` holding `values` as they were stored then."""
    ticket = make_ticket(customer, team=team, form=form, custom_fields={})
    Ticket.objects.filter(pk=ticket.pk).update(custom_fields=values)
    return Ticket.objects.get(pk=ticket.pk)


def ws(ticket) -> str:
    return reverse("tickets:desk_ticket", args=[ticket.number])


def update_url(ticket) -> str:
    return reverse("tickets:desk_update", args=[ticket.number])


def portal_detail(ticket) -> str:
    return reverse("tickets:portal_detail", args=[ticket.number])


def workspace_form_post(response) -> dict:
    """What the workspace's custom-fields form posts back unchanged (the form object the page was built
    from, as its inputs hold it)."""
    form = response.context["custom_fields_form"]
    data = {}
    for bound in form:
        value = bound.value()
        if value is None or value is False:
            continue
        if value is True:
            data[bound.html_name] = "on"
        elif isinstance(value, list):
            data[bound.html_name] = [str(item) for item in value]
        else:
            data[bound.html_name] = str(value)
    return data


def save_details(client, ticket, **changes):
    page = client.get(ws(ticket))
    assert page.status_code == 200
    data = workspace_form_post(page) | {"field": "custom_fields", "version": str(ticket.version)} | changes
    return client.post(update_url(ticket), data)


def change_schema(form, new_schema):
    TicketForm.objects.filter(pk=form.pk).update(schema=new_schema)


# ---------------------------------------------------------------------------------------------------
# Admin: the schema checked, a bad one a form error
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "[{",  # not JSON
        '{"name": "x"}',  # not a list
        '[{"name": "order number", "label": "Order", "type": "text"}]',  # space
        '[{"name": "größe", "label": "Size", "type": "text"}]',  # unicode
        '[{"name": "' + "a" * 60 + '", "label": "Long", "type": "text"}]',
        '[{"name": "a", "label": "A", "type": "text"}, {"name": "a", "label": "B", "type": "text"}]',
        '[{"name": "p", "label": "P", "type": "select", "choices": ["x", "x"]}]',
        '[{"name": "p", "label": "P", "type": "select", "choices": []}]',
        '[{"name": "p", "label": "P", "type": "colour"}]',
        '[{"name": "p", "label": "P", "type": "number", "decimal_places": 1.5}]',
    ],
)
def test_admin_refuses_a_bad_schema_with_a_message(admin_client, bad):
    form = TicketFormFactory()
    before = form.schema
    response = post_change(admin_client, form, schema=bad)
    assert response.status_code == 422
    assert response.context["adminform"].form.errors.get("schema")
    assert TicketForm.objects.get(pk=form.pk).schema == before


def test_admin_saves_a_good_schema_change(admin_client):
    form = TicketFormFactory()
    new = [
        {"name": "serial", "label": "Serial", "type": "text", "required": True, "help_text": "On the back"}
    ]
    response = post_change(admin_client, form, schema=json.dumps(new))
    assert response.status_code == 302
    assert TicketForm.objects.get(pk=form.pk).schema == new


def test_admin_takes_an_emptied_schema_box_as_no_custom_fields(admin_client):
    """The schema is optional (TicketForm.schema is blank=True, default=list, and the admin does not mark
    it required): an administrator who empties the box to drop every custom field saves the form with
    none, as a blank optional field does everywhere else in the admin, without having to type []."""
    form = TicketFormFactory()
    response = post_change(admin_client, form, schema="")
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    assert TicketForm.objects.get(pk=form.pk).schema == []


# ---------------------------------------------------------------------------------------------------
# Who may see and send a form
# ---------------------------------------------------------------------------------------------------


@pytest.fixture
def private_form():
    return TicketFormFactory(
        slug="acme-returns",
        title="Acme returns",
        organization=OrganizationFactory(name="Acme"),
        schema=[{"name": "secret_serial", "label": "Acme serial", "type": "text"}],
    )


def test_customers_of_another_organisation_get_404_and_cannot_post(client, private_form):
    outsider = make_customer()
    client.force_login(outsider)
    assert client.get(submit_url(private_form)).status_code == 404
    response = client.post(submit_url(private_form), submission(cf_secret_serial="X1"))
    assert response.status_code in (404, 422)
    assert not Ticket.objects.exists()
    assert "Acme serial" not in text(response) and "Acme returns" not in text(response)


def test_visitors_cannot_see_or_send_an_organisations_form(client, private_form):
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    page = client.get(submit_url(private_form))
    assert page.status_code in (302, 404)
    response = client.post(
        submit_url(private_form), submission(name="V", email="v@example.com", cf_secret_serial="X1")
    )
    assert response.status_code in (404, 422)
    assert not Ticket.objects.exists()
    assert "Acme serial" not in text(response)


def test_members_of_the_organisation_may_send_it(client, private_form):
    member = make_customer(private_form.organization)
    client.force_login(member)
    assert client.get(submit_url(private_form)).status_code == 200
    response = client.post(submit_url(private_form), submission(cf_secret_serial="X1"))
    assert response.status_code == 302
    assert Ticket.objects.get().custom_fields == {"secret_serial": "X1"}


def test_an_inactive_form_is_404_and_takes_no_ticket(client, customer):
    form = TicketFormFactory(is_active=False)
    client.force_login(customer)
    assert client.get(submit_url(form)).status_code == 404
    response = client.post(submit_url(form), submission(cf_order_number="A-1", cf_product="Pro"))
    assert response.status_code in (404, 422)
    assert not Ticket.objects.exists()


def test_maintenance_page_does_not_reveal_the_fields_of_a_form_the_sender_may_not_see(client, private_form):
    """A form given to one organisation is "not there" for everyone else (its page is a 404). During
    maintenance, a POST to its address gets the maintenance page, which gives back what was typed: labelled
    with the form's own field labels only for a form the sender may see (TicketForm.objects.active_for),
    or any visitor would learn that the private (or retired) form exists and what its questions are
    called ("Acme serial")."""
    site_configuration_update(changes={"maintenance_mode": True}, actor=None)
    response = client.post(submit_url(private_form), submission(cf_secret_serial="anything"))
    assert response.status_code == 503
    assert "Acme serial" not in text(response)


def test_default_team_and_priority_are_applied(client, customer, support):
    form = TicketFormFactory(default_team=support, default_priority="urgent")
    client.force_login(customer)
    response = client.post(submit_url(form), submission(cf_order_number="A-1"))
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert (ticket.team, ticket.priority) == (support, "urgent")


def test_success_message_title_and_intro_are_escaped(client, customer):
    form = TicketFormFactory(
        title="<b>T</b>",
        intro="<script>alert(1)</script>\nline two",
        success_message="<img src=x onerror=alert(1)>Done",
    )
    client.force_login(customer)
    page = client.get(submit_url(form))
    body = page.content.decode()
    assert "<script>alert(1)" not in body and "&lt;script&gt;" in body
    assert "<b>T</b>" not in body
    done = client.post(submit_url(form), submission(cf_order_number="A-1"), follow=True)
    body = done.content.decode()
    assert "<img src=x" not in body and "&lt;img src=x onerror=alert(1)&gt;Done" in body


def test_visitors_success_message_is_escaped(client):
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    form = TicketFormFactory(success_message="<img src=x onerror=alert(1)>Done")
    done = client.post(
        submit_url(form), submission(name="V", email="v@example.com", cf_order_number="A-1"), follow=True
    )
    body = done.content.decode()
    assert "Request received" in body
    assert "<img src=x" not in body and "&lt;img src=x onerror=alert(1)&gt;Done" in body


# ---------------------------------------------------------------------------------------------------
# The schema changed after tickets were sent
# ---------------------------------------------------------------------------------------------------

NOTE = {"name": "note", "label": "Note", "type": "text"}


def field(name, kind, **extra):
    return {"name": name, "label": name.replace("_", " ").title(), "type": kind, **extra}


CHANGES = {
    # id: (definition before, stored value, definition after, what a page should show of the value)
    "field-removed": (field("serial", "text"), "SN-1", None, "SN-1"),
    "key-renamed": (field("serial", "text"), "SN-1", field("serial_number", "text", required=True), "SN-1"),
    "text-to-number": (field("serial", "text"), "SN-1", field("serial", "number"), "SN-1"),
    "text-to-number-required": (
        field("serial", "text"),
        "SN-1",
        field("serial", "number", required=True),
        "SN-1",
    ),
    "choice-removed": (
        field("plan", "select", choices=["Basic", "Legacy"]),
        "Legacy",
        field("plan", "select", choices=["Basic", "Pro"], required=True),
        "Legacy",
    ),
    "multi-choice-removed": (
        field("extras", "multi_select", choices=["A", "B", "C"]),
        ["A", "C"],
        field("extras", "multi_select", choices=["A", "B"]),
        "A, C",
    ),
    "select-to-multi": (
        field("plan", "select", choices=["Basic", "Pro"]),
        "Pro",
        field("plan", "multi_select", choices=["Basic"]),
        "Pro",
    ),
    "multi-to-select": (
        field("extras", "multi_select", choices=["A", "B"]),
        ["A", "B"],
        field("extras", "select", choices=["A", "B"]),
        "A, B",
    ),
    "checkbox-to-select": (
        field("agree", "checkbox"),
        True,
        field("agree", "select", choices=["Maybe"]),
        "Yes",
    ),
    "select-to-checkbox": (
        field("plan", "select", choices=["Pro"]),
        "Pro",
        field("plan", "checkbox", required=True),
        "Pro",
    ),
    "number-to-date": (field("count", "number"), 12.5, field("count", "date"), "12.5"),
    "date-to-number": (field("when", "date"), "2024-02-29", field("when", "number"), "2024"),
    "textarea-to-text": (
        field("story", "textarea"),
        "line one\nline two",
        field("story", "text"),
        "line one",
    ),
    "text-to-email": (field("contact", "text"), "call me", field("contact", "email"), "call me"),
    "number-fewer-places": (
        field("amount", "number", decimal_places=3),
        1.125,
        field("amount", "number", decimal_places=0),
        "1.125",
    ),
    "text-to-date-invalid": (field("when", "text"), "2024-02-30", field("when", "date"), "2024-02-30"),
    "made-required-unanswered": (field("serial", "text"), None, field("serial", "text", required=True), None),
    "checkbox-made-required-unticked": (
        field("agree", "checkbox"),
        False,
        field("agree", "checkbox", required=True),
        None,
    ),
}


@pytest.fixture
def changed(request, customer, support):
    before, stored, after, shown = CHANGES[request.param]
    form = TicketFormFactory(schema=[before, NOTE])
    values = {"note": "first"} | ({} if stored is None else {before["name"]: stored})
    ticket = filed(customer, support, form, values)
    change_schema(form, [d for d in (after, NOTE) if d is not None])
    return ticket, before["name"], stored, shown


@pytest.mark.parametrize("changed", list(CHANGES), indirect=True)
def test_old_tickets_still_show_on_the_desk_and_the_portal(client, agent, customer, changed):
    ticket, _name, _stored, shown = changed
    client.force_login(agent)
    page = client.get(ws(ticket))
    assert page.status_code == 200
    if shown:
        for piece in shown.split(", "):
            assert piece in text(page)
    client.force_login(customer)
    detail = client.get(portal_detail(ticket))
    assert detail.status_code == 200
    if shown:
        assert shown in text(detail)


@pytest.mark.parametrize("changed", list(CHANGES), indirect=True)
def test_editing_another_answer_keeps_the_old_one(client, agent, changed):
    ticket, name, stored, _shown = changed
    client.force_login(agent)
    response = save_details(client, ticket, **{"cf-note": "second"})
    assert response.status_code in (200, 302), text(response)[:3000]
    after = Ticket.objects.get(pk=ticket.pk).custom_fields
    assert after["note"] == "second", text(response)
    if stored is not None:  # kept as it was (a select's answer may become a multi-select's list of it)
        assert after.get(name) in (stored, [stored])


# ---------------------------------------------------------------------------------------------------
# Odd answers sent to the portal
# ---------------------------------------------------------------------------------------------------

ALL_KINDS = [
    field("serial", "text"),
    field("story", "textarea"),
    field("plan", "select", choices=["Basic", "Pro"]),
    field("extras", "multi_select", choices=["A", "B", "C"]),
    field("agree", "checkbox", required=True),
    field("amount", "number", decimal_places=2),
    field("when", "date"),
    field("contact", "email"),
]


@pytest.fixture
def every_kind():
    return TicketFormFactory(schema=ALL_KINDS)


@pytest.mark.parametrize(
    "name, value",
    [
        ("amount", "1e309"),
        ("amount", "NaN"),
        ("amount", "Infinity"),
        ("amount", "-Infinity"),
        ("amount", "1.005"),
        ("amount", "1e16"),
        ("amount", "0x10"),
        ("when", "2024-02-30"),
        ("when", "10000-01-01"),
        ("when", "0000-01-01"),
        ("extras", "Z"),
        ("plan", "Enterprise"),
        ("contact", "not an address"),
        ("agree", "maybe"),
    ],
)
def test_odd_answers_are_refused_with_the_typed_values_kept(client, customer, every_kind, name, value):
    client.force_login(customer)
    typed = {
        "cf_serial": "SN-77", "cf_story": "Once upon", "cf_plan": "Pro", "cf_extras": ["A", "C"],
        "cf_agree": "on", "cf_amount": "12.50", "cf_when": "2024-02-29", "cf_contact": "me@example.com",
    }  # fmt: skip
    typed[f"cf_{name}"] = value
    response = client.post(submit_url(every_kind), submission(**typed))
    assert response.status_code == 422
    assert not Ticket.objects.exists()
    form = response.context["form"]
    assert form.errors.get(f"cf_{name}")
    body = response.content.decode()
    for other in ("SN-77", "Once upon", "Printer jam", "Paper stuck"):
        assert other in body


@pytest.mark.parametrize(
    "name, value, stored",
    [
        ("when", "0001-01-01", "0001-01-01"),
        ("when", "9999-12-31", "9999-12-31"),
        ("amount", "49.90", 49.9),
        ("amount", "-0", 0),
        ("amount", "1e2", 100),
        ("contact", "user@bücher.example", "user@bücher.example"),
    ],
)
def test_edge_answers_are_stored(client, customer, every_kind, name, value, stored):
    client.force_login(customer)
    typed = {"cf_agree": "on", f"cf_{name}": value}
    response = client.post(submit_url(every_kind), submission(**typed))
    assert response.status_code == 302, response.context["form"].errors
    ticket = Ticket.objects.get()
    assert ticket.custom_fields[name] == stored
    assert client.get(portal_detail(ticket)).status_code == 200


def test_a_required_checkbox_must_be_ticked(client, customer, every_kind):
    client.force_login(customer)
    response = client.post(submit_url(every_kind), submission(cf_serial="SN-1"))
    assert response.status_code == 422
    assert response.context["form"].errors.get("cf_agree")
    assert "SN-1" in response.content.decode()


def test_a_refused_form_keeps_every_kind_of_answer(client, customer, every_kind):
    client.force_login(customer)
    typed = {
        "cf_serial": "SN-77", "cf_story": "Once upon", "cf_plan": "Pro", "cf_extras": ["A", "C"],
        "cf_agree": "on", "cf_amount": "12.50", "cf_when": "2024-02-29", "cf_contact": "me@example.com",
    }  # fmt: skip
    response = client.post(submit_url(every_kind), submission(subject="", **typed))
    assert response.status_code == 422
    body = response.content.decode()
    assert 'value="SN-77"' in body and ">\nOnce upon</textarea>" in body
    assert 'value="Pro" selected' in body
    assert 'value="A" id="id_cf_extras_0" checked' in body and 'value="C" id="id_cf_extras_2" checked' in body
    assert 'value="B" id="id_cf_extras_1" checked' not in body
    assert re.search(r'<input type="checkbox" name="cf_agree"[^>]* checked', body)
    assert 'value="12.50"' in body and 'value="2024-02-29"' in body and 'value="me@example.com"' in body


# ---------------------------------------------------------------------------------------------------
# Escaping of what the administrator typed, and listing of forms
# ---------------------------------------------------------------------------------------------------


def test_labels_and_choices_are_escaped_on_every_page(client, agent, customer, support):
    form = TicketFormFactory(
        title="<i>Returns</i>",
        schema=[
            {"name": "plan", "label": "<b>Plan</b>", "type": "select", "choices": ["<u>Old</u>", "New"]},
            {"name": "note", "label": "<s>Note</s>", "type": "text", "help_text": "<em>help</em>"},
        ],
    )
    ticket = filed(customer, support, form, {"plan": "<u>Old</u>", "note": "<script>x</script>"})
    change_schema(form, [
        {"name": "plan", "label": "<b>Plan</b>", "type": "select", "choices": ["New"]},
        {"name": "note", "label": "<s>Note</s>", "type": "text", "help_text": "<em>help</em>"},
    ])  # fmt: skip
    client.force_login(agent)
    response = save_details(client, ticket, **{"cf-note": "<script>y</script>"})
    assert response.status_code in (200, 302)
    for page in (client.get(ws(ticket)), client.get(submit_url(form))):
        body = page.content.decode()
        for raw in ("<b>Plan", "<s>Note", "<u>Old", "<em>help", "<script>x", "<script>y", "<i>Returns"):
            assert raw not in body
    client.force_login(customer)
    body = client.get(portal_detail(ticket)).content.decode()
    assert "&lt;u&gt;Old&lt;/u&gt;" in body and "<u>Old" not in body and "<script>y" not in body


def test_the_home_page_lists_only_the_forms_a_person_may_send(client, private_form):
    public = TicketFormFactory(title="Public returns")
    retired = TicketFormFactory(title="Retired form", is_active=False)
    client.force_login(make_customer())
    body = text(client.get(reverse("home")))
    assert public.title in body and private_form.title not in body and retired.title not in body
    client.force_login(make_customer(private_form.organization))
    body = text(client.get(reverse("home")))
    assert private_form.title in body and retired.title not in body
