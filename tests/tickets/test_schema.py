"""Ticket form schemas: a bad schema is a form error in the admin, never a crash."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from tests.factories import TicketFormFactory, make_administrator
from tickets import schema
from tickets.models import TicketForm


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"name": "x"}, "must be a list"),
        (["text"], "must be an object"),
        ([{"name": "Bad Name", "label": "L", "type": "text"}], "lower-case"),
        ([{"name": "subject", "label": "L", "type": "text"}], "reserved"),
        (
            [{"name": "a", "label": "L", "type": "text"}, {"name": "a", "label": "M", "type": "text"}],
            "used twice",
        ),
        ([{"name": "a", "label": "", "type": "text"}], "label is required"),
        ([{"name": "a", "label": "L", "type": "colour"}], "type must be one of"),
        ([{"name": "a", "label": "L", "type": "select"}], "non-empty list"),
        ([{"name": "a", "label": "L", "type": "select", "choices": ["x", "x"]}], "distinct"),
        ([{"name": "a", "label": "L", "type": "text", "choices": ["x"]}], "only select"),
        ([{"name": "a", "label": "L", "type": "text", "required": "yes"}], "true or false"),
        ([{"name": "a", "label": "L", "type": "text", "colour": "red"}], "unknown keys"),
        ([{"name": "a", "label": "L", "type": "text", "decimal_places": 2}], "only number"),
        ([{"name": "a", "label": "L", "type": "number", "decimal_places": 7}], "0 to 6"),
        ([{"name": "a", "label": "L", "type": "number", "decimal_places": True}], "whole number"),
        ([{"name": "a", "label": "L", "type": "number", "decimal_places": 1.5}], "whole number"),
    ],
)
def test_schema_errors_say_what_is_wrong(bad, message):
    problems = schema.schema_errors(bad)
    assert any(message in problem for problem in problems), problems


def test_every_field_type_builds_and_cleans():
    definitions = [
        {"name": "t", "label": "T", "type": "text"},
        {"name": "ta", "label": "TA", "type": "textarea"},
        {"name": "s", "label": "S", "type": "select", "choices": ["a", "b"]},
        {"name": "m", "label": "M", "type": "multi_select", "choices": ["a", "b"]},
        {"name": "c", "label": "C", "type": "checkbox"},
        {"name": "n", "label": "N", "type": "number"},
        {"name": "d", "label": "D", "type": "date"},
        {"name": "e", "label": "E", "type": "email", "required": True},
    ]
    assert schema.schema_errors(definitions) == []
    cleaned = schema.clean_values(
        definitions,
        {
            "t": "x",
            "ta": "y",
            "s": "a",
            "m": ["a", "b"],
            "c": "on",
            "n": "4.5",
            "d": "2026-01-02",
            "e": "a@b.example",
        },
    )
    assert cleaned == {
        "t": "x",
        "ta": "y",
        "s": "a",
        "m": ["a", "b"],
        "c": True,
        "n": 4.5,
        "d": "2026-01-02",
        "e": "a@b.example",
    }
    with pytest.raises(ValidationError) as error:
        schema.clean_values(definitions, {"n": "many", "d": "tomorrow", "e": "nope", "m": ["z"]})
    assert set(error.value.message_dict) == {"n", "d", "e", "m"}


def test_a_number_with_decimal_places_keeps_them_and_refuses_more():
    money = {"name": "amount", "label": "Amount", "type": "number", "decimal_places": 2}
    assert schema.schema_errors([money]) == []
    stored = schema.clean_values([money], {"amount": "49.90"})
    assert stored == {"amount": 49.9}  # JSON keeps no trailing zeros
    assert schema.labelled_values([money], stored) == [("Amount", "49.90")]
    assert schema.labelled_values([money], {"amount": 12}) == [("Amount", "12.00")]
    with pytest.raises(ValidationError) as error:
        schema.clean_values([money], {"amount": "49.999"})
    assert "2 decimal places" in error.value.message_dict["amount"][0]
    plain = {"name": "n", "label": "N", "type": "number"}
    assert schema.labelled_values([plain], {"n": 49.9}) == [("N", "49.9")]


@pytest.mark.django_db
def test_admin_shows_a_bad_schema_as_a_form_error(client):
    client.force_login(make_administrator(is_superuser=True))
    form = TicketFormFactory()
    response = client.post(
        reverse("admin:tickets_ticketform_change", args=[form.pk]),
        {
            "slug": form.slug,
            "title": form.title,
            "schema": '[{"name": "x", "type": "colour"}]',
            "success_message": "ok",
            "is_active": "on",
            "position": 0,
        },
    )
    assert response.status_code == 422
    assert "type must be one of" in response.content.decode()
    assert TicketForm.objects.get(pk=form.pk).schema == form.schema


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("text", ["x", "y"]),
        ("text", {"k": 1}),
        ("number", {"x": 1}),
        ("select", ["a"]),
        ("multi_select", [["a"]]),
    ],
)
def test_a_list_or_a_mapping_where_one_value_goes_is_refused_not_stored_as_its_spelling(kind, value):
    """A form sends text; a caller of the services could send a list or a mapping, which a text field
    stored as "['x', 'y']"."""
    definition = {"name": "a", "label": "A", "type": kind}
    if kind in schema.CHOICE_KINDS:
        definition["choices"] = ["a", "b"]
    with pytest.raises(ValidationError) as refused:
        schema.clean_values([definition], {"a": value})
    assert refused.value.message_dict == {"a": [schema.NOT_ONE_VALUE]}
    one = {"text": "a", "number": "3", "select": "a", "multi_select": ["a", "b"]}[kind]
    assert schema.clean_values([definition], {"a": one}) == {"a": 3 if kind == "number" else one}
