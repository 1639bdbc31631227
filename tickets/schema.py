"""Custom-field schemas of ticket forms (seed 004 FormTemplate): validation and Django form fields.

A schema is a list of field definitions:
    {"name": "order_number", "label": "Order number", "type": "text", "required": true,
     "help_text": "...", "choices": ["a", "b"]}   # choices for select and multi_select only
    {"name": "amount", "label": "Amount", "type": "number", "decimal_places": 2}  # 0 to 6, default 6
Values are stored as JSON on the ticket: strings, numbers, booleans, lists, ISO dates.
"""

import re
from datetime import date
from decimal import Decimal
from typing import Any

from django import forms

FIELD_TYPES = ("text", "textarea", "select", "multi_select", "checkbox", "number", "date", "email")
KNOWN_KEYS = {"name", "label", "type", "required", "help_text", "choices", "decimal_places"}
MAX_DECIMAL_PLACES = 6
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
RESERVED_NAMES = {"subject", "description", "attachments", "submission_key", "name", "email"}


def schema_errors(schema: Any) -> list[str]:
    """Every problem with `schema`, in words an administrator can act on (empty when valid)."""
    if not isinstance(schema, list):
        return ["The schema must be a list of field definitions."]
    errors: list[str] = []
    seen: set[str] = set()
    for position, field in enumerate(schema, start=1):
        where = f"Field {position}"
        if not isinstance(field, dict):
            errors.append(f"{where} must be an object with name, label and type.")
            continue
        name = field.get("name")
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            errors.append(f"{where}: name must be lower-case letters, digits and _ (starting with a letter).")
        elif name in RESERVED_NAMES:
            errors.append(f"{where}: the name {name!r} is reserved.")
        elif name in seen:
            errors.append(f"{where}: the name {name!r} is used twice.")
        else:
            where = f"Field {name!r}"
            seen.add(name)
        if not isinstance(field.get("label"), str) or not field["label"].strip():
            errors.append(f"{where}: label is required.")
        kind = field.get("type")
        if kind not in FIELD_TYPES:
            errors.append(f"{where}: type must be one of {', '.join(FIELD_TYPES)}.")
        unknown = set(field) - KNOWN_KEYS
        if unknown:
            errors.append(f"{where}: unknown keys {', '.join(sorted(unknown))}.")
        if "required" in field and not isinstance(field["required"], bool):
            errors.append(f"{where}: required must be true or false.")
        if "help_text" in field and not isinstance(field["help_text"], str):
            errors.append(f"{where}: help_text must be text.")
        choices = field.get("choices")
        if kind in ("select", "multi_select"):
            if (
                not isinstance(choices, list)
                or not choices
                or not all(isinstance(choice, str) and choice for choice in choices)
            ):
                errors.append(f"{where}: a {kind} needs a non-empty list of text choices.")
            elif len(set(choices)) != len(choices):
                errors.append(f"{where}: choices must be distinct.")
        elif choices is not None:
            errors.append(f"{where}: only select and multi_select take choices.")
        if "decimal_places" in field:
            places = field["decimal_places"]
            if kind != "number":
                errors.append(f"{where}: only number takes decimal_places.")
            elif type(places) is not int or not 0 <= places <= MAX_DECIMAL_PLACES:
                errors.append(
                    f"{where}: decimal_places must be a whole number from 0 to {MAX_DECIMAL_PLACES}."
                )
    return errors


def form_field(definition: dict) -> forms.Field:
    """The Django form field for one schema entry."""
    common = {
        "label": definition["label"],
        "required": definition.get("required", False),
        "help_text": definition.get("help_text", ""),
    }
    kind = definition["type"]
    if kind == "text":
        return forms.CharField(max_length=500, **common)
    if kind == "textarea":
        return forms.CharField(max_length=10_000, widget=forms.Textarea(attrs={"rows": 4}), **common)
    if kind == "email":
        return forms.EmailField(**common)
    if kind == "number":
        # Stored as a JSON number, read back as a float: 15 significant digits come back exactly as typed.
        places = definition.get("decimal_places", MAX_DECIMAL_PLACES)
        return forms.DecimalField(max_digits=15, decimal_places=places, **common)
    if kind == "date":
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if kind == "checkbox":
        return forms.BooleanField(**common)
    choices = [(choice, choice) for choice in definition["choices"]]
    if kind == "select":
        return forms.ChoiceField(choices=[("", "Choose…"), *choices], **common)
    return forms.MultipleChoiceField(choices=choices, widget=forms.CheckboxSelectMultiple, **common)


def to_json(value: Any) -> Any:
    """A cleaned form value as stored in Ticket.custom_fields."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def clean_values(schema: list[dict], data: dict[str, Any]) -> dict[str, Any]:
    """Validate raw values against the schema (raises forms.ValidationError keyed by field name)."""
    errors: dict[str, list] = {}
    cleaned: dict[str, Any] = {}
    for definition in schema:
        field = form_field(definition)
        raw = data.get(definition["name"])
        if isinstance(field, forms.MultipleChoiceField) and raw is not None and not isinstance(raw, list):
            raw = [raw]
        try:
            cleaned[definition["name"]] = to_json(field.clean(raw))
        except forms.ValidationError as error:
            errors[definition["name"]] = error.messages
    if errors:
        raise forms.ValidationError(errors)
    return cleaned


def shown_number(definition: dict, value: int | float) -> str:
    """A stored number as it was typed: 0.000001, not 1e-06; 49.90 for a field with two decimal places
    (JSON keeps 49.9)."""
    number = Decimal(repr(value))
    if "decimal_places" in definition:
        number = number.quantize(Decimal(1).scaleb(-definition["decimal_places"]))
    return format(number, "f")


def labelled_values(schema: list[dict], values: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, shown value) pairs for display, in schema order, skipping empty values."""
    shown: list[tuple[str, str]] = []
    for definition in schema:
        value = values.get(definition["name"])
        if value in (None, "", []):
            continue
        if isinstance(value, bool):
            value = "Yes" if value else "No"
        elif definition.get("type") == "number" and isinstance(value, int | float):
            value = shown_number(definition, value)
        elif isinstance(value, list):
            value = ", ".join(map(str, value))
        shown.append((definition["label"], str(value)))
    return shown
