"""Ticket form field schemas (seed 004 FormTemplate) - the admin's schema validation, portal
submission of every field type under odd input, and schemas changed after tickets were filed (portal page,
desk workspace display and edit), with escaping throughout."""

import json
import re
import uuid
from datetime import date
from html import unescape
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import made_once_per_module
from tests.factories import TeamFactory, TicketFormFactory, make_administrator, make_agent, make_customer
from tickets import schema
from tickets.models import Ticket, TicketActivity, TicketForm

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def make_desk():
    support = TeamFactory(name="Support")
    agent = make_agent(support, name="Alex Agent")
    customer = make_customer(name="Carla Customer")
    return {"support": support, "agent": agent, "customer": customer}


_desk_rows, desk = made_once_per_module(make_desk, "desk")


def submit(client, slug: str, **custom):
    data = {"subject": "Help", "description": "Please", "submission_key": str(uuid.uuid4()), **custom}
    return client.post(reverse("tickets:portal_submit_form", args=[slug]), data)


def filed(desk, form: TicketForm, values: dict) -> Ticket:
    """A ticket sent with `form`, holding `values` as stored then (the schema may have changed since)."""
    from tests.factories import make_ticket

    ticket = make_ticket(desk["customer"], team=desk["support"], form=form, custom_fields={})
    Ticket.objects.filter(pk=ticket.pk).update(custom_fields=values)
    return Ticket.objects.get(pk=ticket.pk)


def fetch(client, user, name: str, ticket: Ticket) -> str:
    client.force_login(user)
    response = client.get(reverse(name, args=[ticket.number]))
    assert response.status_code == 200
    return response.content.decode()


# ---------------------------------------------------------------------------------------------------
# A browser's view of the workspace's custom-fields form: what it would send back, untouched
# ---------------------------------------------------------------------------------------------------

VALID_FLOAT = re.compile(r"-?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?\Z", re.ASCII)
VALID_DATE = re.compile(r"\d{4,}-\d\d-\d\d\Z", re.ASCII)


def _sanitized(kind: str, value: str) -> str:
    """The HTML value sanitization algorithm of an <input type=kind> (what the browser keeps)."""
    if kind in ("text", "search", "tel", "password", "email"):
        value = value.replace("\r", "").replace("\n", "")
        return value.strip(" \t\f") if kind == "email" else value
    if kind == "number":
        return value if VALID_FLOAT.match(value) else ""
    if kind == "date":
        if not VALID_DATE.match(value):
            return ""
        try:
            date.fromisoformat(value)
        except ValueError:
            return ""
        return value
    return value


class _FormReader(HTMLParser):
    def __init__(self, form_class: str) -> None:
        super().__init__()
        self.form_class, self.inside = form_class, False
        self.entries: list[tuple[str, str]] = []
        self.select: dict | None = None
        self.option: dict | None = None
        self.textarea: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and self.form_class in (attrs.get("class") or "").split():
            self.inside = True
        if not self.inside:
            return
        if tag == "input" and attrs.get("name"):
            kind = (attrs.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.entries.append((attrs["name"], attrs.get("value", "on")))
            elif kind not in ("submit", "button", "file"):
                self.entries.append((attrs["name"], _sanitized(kind, attrs.get("value") or "")))
        elif tag == "select":
            self.select = {"name": attrs.get("name"), "multiple": "multiple" in attrs, "options": []}
        elif tag == "option" and self.select is not None:
            self.option = {"value": attrs.get("value"), "selected": "selected" in attrs, "text": ""}
            self.select["options"].append(self.option)
        elif tag == "textarea":
            self.textarea = {"name": attrs.get("name"), "text": ""}

    def handle_data(self, data):
        if self.option is not None:
            self.option["text"] += data
        if self.textarea is not None:
            self.textarea["text"] += data

    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "option":
            self.option = None
        elif tag == "select" and self.select is not None:
            options = self.select["options"]
            chosen = [option for option in options if option["selected"]]
            if not chosen and options and not self.select["multiple"]:
                chosen = options[:1]
            for option in chosen:
                value = option["value"] if option["value"] is not None else option["text"]
                self.entries.append((self.select["name"], value))
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            text = self.textarea["text"]
            self.entries.append((self.textarea["name"], text[1:] if text.startswith("\n") else text))
            self.textarea = None


def browser_post(html: str, form_class: str = "custom-fields", **changes) -> dict:
    """What a browser sends for the form as the page shows it (line breaks as CRLF), with `changes`."""
    reader = _FormReader(form_class)
    reader.feed(html)
    data: dict[str, list[str]] = {}
    for name, value in reader.entries:
        value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
        data.setdefault(name, []).append(value)
    data.pop("csrfmiddlewaretoken", None)
    for name, value in changes.items():
        data[name] = [value]
    return data


def save_workspace_form(client, agent, ticket, **changes):
    html = fetch(client, agent, "tickets:desk_ticket", ticket)
    data = browser_post(html, **changes)
    assert data.get("field") == ["custom_fields"], data
    return client.post(reverse("tickets:desk_update", args=[ticket.number]), data)


# ---------------------------------------------------------------------------------------------------
# The admin: odd schemas are a form error (422), never a 500, and nothing is saved
# ---------------------------------------------------------------------------------------------------


def admin_add(client, schema_value) -> "object":
    client.force_login(make_administrator(is_superuser=True))
    return client.post(
        reverse("admin:tickets_ticketform_add"),
        {
            "slug": "odd-form",
            "title": "Odd form",
            "intro": "",
            "schema": schema_value if isinstance(schema_value, str) else json.dumps(schema_value),
            "success_message": "Thanks",
            "is_active": "on",
            "position": 0,
        },
    )


def text(name="a", label="A", **more):
    return {"name": name, "label": label, "type": "text", **more}


ODD_SCHEMAS = {
    "duplicate names": [text("a", "A"), text("a", "B")],
    "name subject": [text("subject")],
    "name description": [text("description")],
    "name attachments": [text("attachments")],
    "name submission_key": [text("submission_key")],
    "name with a space": [text("order number")],
    "name with a dot": [text("order.number")],
    "name with a dash": [text("order-number")],
    "unicode name": [text("naïve")],
    "upper-case name": [text("Order")],
    "name starting with a digit": [text("1st")],
    "name of 51 characters": [text("a" * 51)],
    "name not text": [{"name": 5, "label": "A", "type": "text"}],
    "select without choices": [{"name": "a", "label": "A", "type": "select"}],
    "select with empty choices": [{"name": "a", "label": "A", "type": "select", "choices": []}],
    "multi_select with empty choices": [{"name": "a", "label": "A", "type": "multi_select", "choices": []}],
    "duplicate choices": [{"name": "a", "label": "A", "type": "select", "choices": ["x", "y", "x"]}],
    "number choices": [{"name": "a", "label": "A", "type": "select", "choices": [1, 2]}],
    "null choice": [{"name": "a", "label": "A", "type": "select", "choices": ["x", None]}],
    "boolean choice": [{"name": "a", "label": "A", "type": "select", "choices": [True]}],
    "object choice": [{"name": "a", "label": "A", "type": "select", "choices": [{"value": "x"}]}],
    "choices as an object": [{"name": "a", "label": "A", "type": "select", "choices": {"x": "X"}}],
    "choices as a string": [{"name": "a", "label": "A", "type": "select", "choices": "x,y"}],
    "blank choice": [{"name": "a", "label": "A", "type": "select", "choices": ["x", "  "]}],
    "choice of 201 characters": [{"name": "a", "label": "A", "type": "select", "choices": ["x" * 201]}],
    "201 choices": [{"name": "a", "label": "A", "type": "select", "choices": [f"c{i}" for i in range(201)]}],
    "reserved kept-value choice": [{"name": "a", "label": "A", "type": "select", "choices": ["kept-value"]}],
    "number min above max": [{"name": "a", "label": "A", "type": "number", "min": 10, "max": 1}],
    "default not among choices": [
        {"name": "a", "label": "A", "type": "select", "choices": ["x"], "default": "nope"}
    ],
    "internal-only flag": [text(internal=True)],
    "placeholder key": [text(placeholder="Type here")],
    "unknown type": [{"name": "a", "label": "A", "type": "phone"}],
    "type in capitals": [{"name": "a", "label": "A", "type": "TEXT"}],
    "type as a list": [{"name": "a", "label": "A", "type": ["text"]}],
    "missing type": [{"name": "a", "label": "A"}],
    "missing label": [{"name": "a", "type": "text"}],
    "blank label": [text(label="   ")],
    "label not text": [text(label=["A"])],
    "labels alike": [text("a", "Order  number"), text("b", "order number")],
    "label of 201 characters": [text(label="L" * 201)],
    "help text not text": [text(help_text=["x"])],
    "help text of 1001 characters": [text(help_text="h" * 1001)],
    "required as a string": [text(required="true")],
    "required as 1": [text(required=1)],
    "decimal places on text": [text(decimal_places=2)],
    "decimal places negative": [{"name": "a", "label": "A", "type": "number", "decimal_places": -1}],
    "decimal places as a string": [{"name": "a", "label": "A", "type": "number", "decimal_places": "2"}],
    "101 fields": [text(f"f{i}", f"F{i}") for i in range(101)],
    "schema an object": {"fields": []},
    "schema a string": '"text"',
    "schema a number": "5",
    "schema null": "null",
    "field a string": ["a"],
    "field a list": [["a", "A", "text"]],
    "not JSON": "[{name: 'a'}]",
    "NaN in JSON": '[{"name": "a", "label": "A", "type": "number", "decimal_places": NaN}]',
    "nested past the parser": "[" * 100_000 + "]" * 100_000,
}


@pytest.mark.parametrize("odd", ODD_SCHEMAS.values(), ids=ODD_SCHEMAS.keys())
def test_admin_refuses_odd_schemas_with_a_form_error(client, odd):
    """An administrator saving a schema the portal could not render (or would render wrongly) gets the
    form back at 422 with an error beside the schema, never a 500; no form is created."""
    response = admin_add(client, odd)
    assert response.status_code == 422, response.status_code
    assert not TicketForm.objects.filter(slug="odd-form").exists()
    body = response.content.decode()
    assert "errornote" in body or "errorlist" in body


INVISIBLE_LABELS = {"zero-width space": "\u200b", "soft hyphen": "\u00ad", "byte-order mark": "\ufeff"}


@pytest.mark.parametrize("label", INVISIBLE_LABELS.values(), ids=INVISIBLE_LABELS.keys())
def test_admin_refuses_a_label_that_shows_nothing(client, label):
    """A field's label is what names it on the portal form, to screen readers, on the ticket and in the
    timeline: one made only of zero-width characters shows nothing, as one of spaces does (which the
    schema refuses), and leaves an unnamed input. The site's own rule (helpdesk.forms.shows_text)
    counts such text as empty everywhere else."""
    response = admin_add(client, [text(label=label)])
    assert response.status_code == 422
    assert not TicketForm.objects.filter(slug="odd-form").exists()


def test_admin_refuses_a_choice_that_shows_nothing(client):
    """A select's choice of only zero-width characters is an option without words, as a blank one
    (refused) is."""
    response = admin_add(client, [{"name": "a", "label": "A", "type": "select", "choices": ["x", "\u200b"]}])
    assert response.status_code == 422


ALIKE = {
    "trailing space": ["Pro", "Pro "],
    "two spaces": ["Pro plan", "Pro  plan"],
    "composed and decomposed": ["Caf\u00e9", "Cafe\u0301"],
    "zero-width inside": ["Pro", "Pr\u200bo"],
}


@pytest.mark.parametrize("choices", ALIKE.values(), ids=ALIKE.keys())
def test_admin_refuses_choices_that_read_alike(client, choices):
    """Two choices that read the same on the page ("Pro" and "Pro ") cannot be told apart by the
    customer choosing one, nor by the agent reading the answer: the schema refuses them as it refuses
    labels that read alike, rather than only exact duplicates."""
    response = admin_add(client, [{"name": "plan", "label": "Plan", "type": "select", "choices": choices}])
    assert response.status_code == 422
    assert not TicketForm.objects.filter(slug="odd-form").exists()


def test_a_choice_with_a_line_break_can_be_chosen_as_a_browser_sends_it(client, desk):
    """A choice the schema accepts must be choosable. A browser sends an option's value with its line
    breaks as CRLF (HTML form-data line-break normalisation), so a choice "Line one\\nline two" arrives as
    "Line one\\r\\nline two": either the schema refuses line breaks in choices, or the portal takes
    the option it offered."""
    choice = "Line one\nline two"
    problems = schema.schema_errors(
        [{"name": "plan", "label": "Plan", "type": "select", "choices": [choice]}]
    )
    if problems:
        return  # refused by the schema: fine
    TicketFormFactory(slug="lines", schema=[{"name": "plan", "label": "Plan", "type": "select",
                                             "choices": [choice, "Other"]}])  # fmt: skip
    client.force_login(desk["customer"])
    response = submit(client, "lines", cf_plan="Line one\r\nline two")
    assert response.status_code == 302, "the option the form offered is refused as not a valid choice"


# ---------------------------------------------------------------------------------------------------
# Names that read like the pages' own fields are harmless (every custom field is prefixed)
# ---------------------------------------------------------------------------------------------------

CLASHING = ["csrfmiddlewaretoken", "held", "version", "field", "queue", "kind", "body", "status", "value"]


def test_names_like_the_pages_own_fields_work_on_the_portal_and_the_desk(client, desk):
    """A schema may name its fields like the portal's and the desk's own inputs (csrfmiddlewaretoken,
    held, version, field, value, ...): the portal stores each answer, and the desk edit stores each
    change, without one input standing for another."""
    definitions = [text(name, name.capitalize()) for name in CLASHING]
    assert schema.schema_errors(definitions) == []
    TicketFormFactory(slug="clash", schema=definitions, default_team=desk["support"])
    client.force_login(desk["customer"])
    response = submit(client, "clash", **{f"cf_{name}": f"answer {name}" for name in CLASHING})
    assert response.status_code == 302, response.content.decode()[:2000]
    ticket = Ticket.objects.get()
    assert ticket.custom_fields == {name: f"answer {name}" for name in CLASHING}
    response = save_workspace_form(client, desk["agent"], ticket, **{"cf-version": "v2", "cf-field": "f2"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.custom_fields["version"] == "v2" and ticket.custom_fields["field"] == "f2"
    assert ticket.custom_fields["value"] == "answer value"


# ---------------------------------------------------------------------------------------------------
# Portal submission: every type under odd input, stored typed, refused at 422 with everything refilled
# ---------------------------------------------------------------------------------------------------

EVERY_TYPE = [
    {"name": "note", "label": "Note", "type": "text"},
    {"name": "story", "label": "Story", "type": "textarea"},
    {"name": "plan", "label": "Plan", "type": "select", "choices": ["Basic", "Pro"]},
    {"name": "areas", "label": "Areas", "type": "multi_select", "choices": ["Mail", "Web", "Phone"]},
    {"name": "amount", "label": "Amount", "type": "number"},
    {"name": "count", "label": "Count", "type": "number", "decimal_places": 0},
    {"name": "since", "label": "Since", "type": "date"},
    {"name": "contact", "label": "Contact", "type": "email"},
    {"name": "urgent", "label": "Urgent", "type": "checkbox"},
    {"name": "agree", "label": "I agree", "type": "checkbox", "required": True},
]


@pytest.fixture
def every(desk):
    TicketFormFactory(slug="every", schema=EVERY_TYPE, default_team=desk["support"])
    return "every"


@pytest.mark.parametrize(
    ("field", "typed", "stored"),
    [
        ("cf_amount", "\uff11\uff12", 12),  # full-width digits read as the number they are
        ("cf_amount", "999999999999999", 999999999999999),
        ("cf_amount", "-999999999999999", -999999999999999),
        ("cf_amount", "0.000001", 0.000001),
        ("cf_amount", "123456789.123456", 123456789.123456),
        ("cf_count", "1e3", 1000),
        ("cf_count", "-0", 0),
        ("cf_urgent", "on", True),
        ("cf_urgent", "false", False),
        ("cf_urgent", "False", False),
        ("cf_since", "2024-02-29", "2024-02-29"),
        ("cf_contact", "someone@b\u00fccher.example", "someone@b\u00fccher.example"),
        ("cf_plan", "Pro", "Pro"),
    ],
)
def test_odd_but_valid_answers_are_stored_typed(client, desk, every, field, typed, stored):
    """Answers are stored as their type (a number as a JSON number, a tick as true/false, a date as its
    ISO date): the same value whichever way it was written."""
    client.force_login(desk["customer"])
    response = submit(client, every, **{field: typed, "cf_agree": "on"})
    assert response.status_code == 302, response.content.decode()[:3000]
    value = Ticket.objects.get().custom_fields[field.removeprefix("cf_")]
    assert value == stored and type(value) is type(stored)


REFUSED = [
    ("cf_amount", "1e400"),
    ("cf_amount", "NaN"),
    ("cf_amount", "12345678901234567890"),
    ("cf_amount", "1e-7"),
    ("cf_amount", "1.2.3"),
    ("cf_count", "1.5"),
    ("cf_since", "2026-02-30"),
    ("cf_since", "2026-01-05T10:00"),
    ("cf_since", "2026-01-05 10:00:00"),
    ("cf_since", "tomorrow"),
    ("cf_contact", "not an address"),
    ("cf_contact", "Name <a@example.com>"),
    ("cf_plan", "Enterprise"),
    ("cf_plan", "pro"),
]


@pytest.mark.parametrize(("field", "typed"), REFUSED)
def test_invalid_answers_are_refused_at_422_with_everything_refilled(client, desk, every, field, typed):
    """A refused answer comes back at 422 beside its field, and every other answer is still there:
    the text, the select, the ticked boxes, the number, the date and the address."""
    client.force_login(desk["customer"])
    answers = {
        "cf_note": "my note",
        "cf_story": "line one\r\nline two",
        "cf_plan": "Basic",
        "cf_areas": ["Web", "Phone"],
        "cf_amount": "42.5",
        "cf_count": "7",
        "cf_since": "2025-12-24",
        "cf_contact": "me@example.com",
        "cf_urgent": "on",
        "cf_agree": "on",
    }
    answers[field] = typed
    response = submit(client, every, **answers)
    assert response.status_code == 422
    assert not Ticket.objects.exists()
    body = response.content.decode()
    for name, value in answers.items():
        if name == field:
            continue
        if name == "cf_plan":
            assert re.search(r'<option value="Basic" selected>', body)
        elif name == "cf_areas":
            for area in value:
                assert re.search(rf'value="{area}"[^>]*checked', body), area
        elif name in ("cf_urgent", "cf_agree"):
            assert re.search(rf'name="{name}"[^>]*checked', body), name
        elif name == "cf_story":
            assert "line one\r\nline two</textarea>" in body or "line one\nline two</textarea>" in body
        else:
            assert f'value="{value}"' in body, name
    if field != "cf_plan":
        assert f'value="{typed}"' in unescape(body) or typed in unescape(body)


@pytest.mark.parametrize("typed", [["Mail", "Fax"], ["Fax"], ["Mail", "Mail", "Web", "Mail"]])
def test_multi_select_answers_not_offered_are_refused_and_repeats_stored_once(client, desk, every, typed):
    """A multi-select answer not among the choices is refused (422); the same choice ticked several
    times is stored once, in the order the choices are offered."""
    client.force_login(desk["customer"])
    response = submit(client, every, cf_areas=typed, cf_agree="on")
    if "Fax" in typed:
        assert response.status_code == 422 and not Ticket.objects.exists()
    else:
        assert response.status_code == 302
        assert Ticket.objects.get().custom_fields["areas"] == ["Mail", "Web"]


@pytest.mark.parametrize("typed", ["false", "False", "", "off", "0", "no"])
def test_a_required_checkbox_is_not_ticked_by_false(client, desk, every, typed):
    """A required tick box sent as "false", "off", "0" or "no" (a script) or empty is not a tick:
    refused. A browser sends a ticked box's value ("on") or nothing. (Django's CheckboxInput read "off"
    and "no" as ticks, and so did the form before schema.TickBoxField.)"""
    client.force_login(desk["customer"])
    response = submit(client, every, cf_agree=typed)
    assert response.status_code == 422 and not Ticket.objects.exists()


def test_the_same_form_sent_twice_with_every_type_lands_on_one_ticket(client, desk, every):
    """A double click sends the same form twice with the same key: the second lands on the first
    ticket (typed values compare equal however they were written), not on a refusal or a second one."""
    client.force_login(desk["customer"])
    data = {
        "subject": "Help", "description": "Please", "submission_key": str(uuid.uuid4()),
        "cf_note": "n", "cf_story": "a\r\nb", "cf_plan": "Pro", "cf_areas": ["Web", "Mail"],
        "cf_amount": "49.90", "cf_count": "3", "cf_since": "2025-01-02", "cf_contact": "x@example.com",
        "cf_urgent": "on", "cf_agree": "on",
    }  # fmt: skip
    url = reverse("tickets:portal_submit_form", args=[every])
    first = client.post(url, data)
    second = client.post(url, data)
    assert first.status_code == second.status_code == 302
    assert Ticket.objects.count() == 1
    assert Ticket.objects.get().custom_fields["amount"] == 49.9


def test_a_choice_removed_while_the_page_was_open_comes_back_at_422_refilled(client, desk, every):
    """The administrator removes "Pro" while a customer fills in the form: their answer is refused at
    422 (the form as it is now), the rest of what they typed kept."""
    client.force_login(desk["customer"])
    TicketForm.objects.filter(slug=every).update(
        schema=[
            *(d for d in EVERY_TYPE if d["name"] != "plan"),
            {"name": "plan", "label": "Plan", "type": "select", "choices": ["Basic"]},
        ]
    )
    response = submit(client, every, cf_plan="Pro", cf_note="kept note", cf_agree="on")
    assert response.status_code == 422 and not Ticket.objects.exists()
    assert 'value="kept note"' in response.content.decode()


# ---------------------------------------------------------------------------------------------------
# Schema changed after tickets were filed: every type to every other type
# ---------------------------------------------------------------------------------------------------

CHOICES = ["Basic", "Pro", "Mail", "Web"]
OLD_VALUES = {
    "text": "abc",
    "textarea": "first line\r\nsecond line",
    "select": "Pro",
    "multi_select": ["Mail", "Web"],
    "checkbox": True,
    "number": 1.5,
    "date": "2026-02-03",
    "email": "someone@example.com",
}


def definition(kind: str) -> dict:
    field = {"name": "x", "label": "Changed field", "type": kind}
    if kind in schema.CHOICE_KINDS:
        field["choices"] = CHOICES
    return field


PAIRS = [(old, new) for old in OLD_VALUES for new in OLD_VALUES if old != new]


@pytest.mark.parametrize(("old", "new"), PAIRS, ids=[f"{old}-to-{new}" for old, new in PAIRS])
def test_a_type_change_keeps_old_answers_through_an_unrelated_edit_in_a_browser(client, desk, old, new):
    """After a field's type changed, the portal ticket page and the workspace still open and show the
    old answer; an agent saving the custom-fields form as a browser sends it, having changed only
    another field, leaves the old answer reading as it did."""
    form = TicketFormFactory(schema=[definition(new), text("other", "Other")])
    stored = OLD_VALUES[old]
    ticket = filed(desk, form, {"x": stored, "other": "before"})
    shown = schema.shown_value(definition(new), stored)
    assert shown
    portal = unescape(fetch(client, desk["customer"], "tickets:portal_detail", ticket))
    assert (
        f"<dt>Changed field</dt><dd>{shown.replace(chr(13), '').replace(chr(10), '<br>')}"
        in portal.replace("\r", "")
    )
    response = save_workspace_form(client, desk["agent"], ticket, **{"cf-other": "after"})
    assert response.status_code == 302, unescape(response.content.decode())[-3000:]
    ticket.refresh_from_db()
    assert ticket.custom_fields["other"] == "after"
    assert schema.shown_value(definition(new), ticket.custom_fields.get("x")) == shown, ticket.custom_fields


# The same, for old answers a customer plausibly typed in a text field that a browser's own input
# types cannot hold (value sanitization empties them): a date typed the British way, a signed number.
BROWSER_EMPTIED = {
    "date typed 05/01/2026": ("date", "05/01/2026"),
    "date typed 2026-1-5": ("date", "2026-1-5"),
    "number typed +5": ("number", "+5"),
    "number typed 5.": ("number", "5."),
    "number typed in full-width digits": ("number", "\uff15"),
    "text answer with a line break (was a textarea)": ("text", "first line\r\nsecond line"),
}


@pytest.mark.parametrize(("new", "stored"), BROWSER_EMPTIED.values(), ids=BROWSER_EMPTIED.keys())
def test_old_text_answers_the_new_input_type_cannot_hold_survive_an_unrelated_edit(client, desk, new, stored):
    """A field that was text becomes a date, a number (or a textarea becomes text): an answer like
    "05/01/2026" or "+5" still validates server-side, so the workspace puts it in an
    <input type=date|number>, which the browser empties (or whose line breaks it strips) before sending.
    Saving another custom field then silently erases or changes the customer's answer. It is
    kept as it was (as KeptValueField keeps values the field refuses, in a text input)."""
    form = TicketFormFactory(schema=[definition(new), text("other", "Other")])
    ticket = filed(desk, form, {"x": stored, "other": "before"})
    response = save_workspace_form(client, desk["agent"], ticket, **{"cf-other": "after"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.custom_fields["other"] == "after"
    assert schema.shown_value(definition(new), ticket.custom_fields.get("x")) == schema.shown_value(
        definition(new), stored
    ), ticket.custom_fields


def test_a_removed_field_and_a_removed_choice_survive_an_edit_and_show_everywhere(client, desk):
    """Fields removed and choices withdrawn after filing: their answers still show on the portal
    and in the workspace and stay through an unrelated edit in the browser."""
    form = TicketFormFactory(schema=[
        {"name": "plan", "label": "Plan", "type": "select", "choices": ["Basic"]},
        {"name": "areas", "label": "Areas", "type": "multi_select", "choices": ["Mail"]},
        text("other", "Other"),
    ])  # fmt: skip
    values = {"plan": "Gold", "areas": ["Mail", "Fax"], "other": "o", "old_serial": "SN-1"}
    ticket = filed(desk, form, values)
    portal = unescape(fetch(client, desk["customer"], "tickets:portal_detail", ticket))
    assert "<dd>Gold</dd>" in portal and "<dd>Mail, Fax</dd>" in portal and "<dd>SN-1</dd>" in portal
    workspace = unescape(fetch(client, desk["agent"], "tickets:desk_ticket", ticket))
    assert '<option value="Gold" selected>Gold (no longer offered)</option>' in workspace
    assert re.search(r'value="Fax"[^>]*checked>\s*Fax \(no longer offered\)', workspace)
    assert "<dt>Old serial (no longer on the form)</dt><dd>SN-1</dd>" in workspace
    response = save_workspace_form(client, desk["agent"], ticket, **{"cf-other": "o2"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.custom_fields == {**values, "other": "o2"}


# ---------------------------------------------------------------------------------------------------
# Escaping: labels, help text, choices and answers with HTML or markdown
# ---------------------------------------------------------------------------------------------------

HOSTILE = '<img src=x onerror="alert(1)">**bold** [link](javascript:alert(1))'


def test_labels_help_choices_and_answers_are_escaped_everywhere(client, desk):
    """HTML and markdown in a schema's label, help text and choices, and in answers, show as typed
    text on the portal form, the portal ticket page, the workspace (display, edit form, timeline):
    never as markup, never rendered as markdown."""
    hostile_schema = [
        {"name": "note", "label": f"Note {HOSTILE}", "type": "textarea", "help_text": f"Help {HOSTILE}"},
        {"name": "plan", "label": "Plan", "type": "select", "choices": [f"P {HOSTILE}", "Basic"]},
    ]
    assert schema.schema_errors(hostile_schema) == []
    TicketFormFactory(slug="hostile", schema=hostile_schema, default_team=desk["support"])
    client.force_login(desk["customer"])
    form_page = client.get(reverse("tickets:portal_submit_form", args=["hostile"])).content.decode()
    response = submit(client, "hostile", cf_note=f"Answer {HOSTILE}", cf_plan=f"P {HOSTILE}")
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    portal = fetch(client, desk["customer"], "tickets:portal_detail", ticket)
    response = save_workspace_form(client, desk["agent"], ticket, **{"cf-note": f"Changed {HOSTILE}"})
    assert response.status_code == 302
    assert TicketActivity.objects.filter(ticket=ticket, action=TicketActivity.Action.CUSTOM_FIELDS).exists()
    workspace = fetch(client, desk["agent"], "tickets:desk_ticket", ticket)
    portal_after = fetch(client, desk["customer"], "tickets:portal_detail", ticket)
    for html in (form_page, portal, workspace, portal_after):
        assert "<img src=x" not in html
        assert "<strong>bold</strong>" not in html
        assert 'href="javascript:' not in html
        assert "&lt;img src=x" in html


def test_no_field_is_internal_only_so_customers_see_exactly_the_form_they_filled(client, desk):
    """The schema has no internal-only fields (an "internal" key is refused), so nothing an agent
    records in a custom field is hidden from a customer by surprise: the schema says so."""
    assert any("unknown keys" in problem for problem in schema.schema_errors([text(internal=True)]))
    assert any("unknown keys" in problem for problem in schema.schema_errors([text(visibility="staff")]))


# ---------------------------------------------------------------------------------------------------
# The same in a real browser (Chromium): the workspace's date input empties a British date
# ---------------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------------
# Data stored past the admin's and the services' checks (a fixture, a data migration, the shell)
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param({"name": "ref", "label": "Reference", "type": "text"}, id="an-object-not-a-list"),
        pytest.param([{"name": "ref", "type": "text"}, text("plan", "Plan")], id="a-field-without-label"),
        pytest.param(
            [{"name": "ref", "label": "Ref", "type": "select"}, text("plan", "Plan")], id="no-choices"
        ),
        pytest.param([text("plan", "Plan"), text("plan", "Plan again")], id="a-name-twice"),
    ],
)
def test_a_schema_stored_past_the_admin_leaves_the_pages_working_with_its_valid_fields(client, desk, stored):
    """A schema the admin would refuse made every page of its tickets (and the form itself) fail; the
    pages use the fields that are valid, and a value whose field is left out shows as a removed one's."""
    form = TicketFormFactory(slug="odd", schema=[text("ref", "Reference"), text("plan", "Plan")])
    ticket = filed(desk, form, {"ref": "R-1", "plan": "Gold"})
    TicketForm.objects.filter(pk=form.pk).update(schema=stored)
    for user, name in ((desk["agent"], "tickets:desk_ticket"), (desk["customer"], "tickets:portal_detail")):
        page = unescape(fetch(client, user, name, ticket))
        assert "R-1" in page and "Gold" in page
    client.force_login(desk["customer"])
    assert client.get(reverse("tickets:portal_submit_form", args=["odd"])).status_code == 200
    assert TicketForm.objects.get(pk=form.pk).definitions == schema.usable_definitions(stored)
    assert all(not schema.schema_errors([definition]) for definition in schema.usable_definitions(stored))


def test_the_ticket_admin_lists_a_removed_fields_answer_once(client, desk):
    form = TicketFormFactory(slug="shrunk", schema=[text("ref", "Reference"), text("plan", "Plan")])
    ticket = filed(desk, form, {"ref": "R-1", "plan": "Gold"})
    TicketForm.objects.filter(pk=form.pk).update(schema=[text("ref", "Reference")])
    client.force_login(make_administrator())
    page = client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk])).content.decode()
    assert page.count("Plan (no longer on the form)") == 1


@pytest.mark.parametrize(
    "value", [["a", "b"], "just text", 42, None], ids=["list", "string", "number", "null"]
)
def test_answers_that_are_not_an_object_are_refused_by_the_database(desk, value):
    """The pages read a ticket's answers by field name: a list or a string written past the services
    made every page of the ticket fail. The database refuses them (migration 0027 kept the ones stored
    before under "value")."""
    from django.db import IntegrityError, transaction

    ticket = filed(desk, TicketFormFactory(slug="plain", schema=[text("ref", "Reference")]), {"ref": "R-1"})
    with pytest.raises(IntegrityError, match="custom_fields"), transaction.atomic():
        Ticket.objects.filter(pk=ticket.pk).update(custom_fields=value)
    assert Ticket.objects.get(pk=ticket.pk).custom_fields == {"ref": "R-1"}


def test_the_migration_keeps_answers_that_are_not_an_object_under_value(desk):
    from importlib import import_module

    from django.db import connection

    migration = import_module("tickets.migrations.0027_ticket_custom_fields_object")
    ticket = filed(desk, TicketFormFactory(slug="plain", schema=[text("ref", "Reference")]), {"ref": "R-1"})
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE tickets_ticket DROP CONSTRAINT ticket_custom_fields_object")
        cursor.execute('UPDATE tickets_ticket SET custom_fields = \'["a", "b"]\' WHERE id = %s', [ticket.pk])
        cursor.execute(migration.KEEP_OTHER_VALUES)
    assert Ticket.objects.get(pk=ticket.pk).custom_fields == {"value": ["a", "b"]}
    page = unescape(fetch(Client(), desk["customer"], "tickets:portal_detail", ticket))
    assert "Value (no longer on the form)" in page and "a, b" in page
