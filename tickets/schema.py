"""Custom-field schemas of ticket forms (seed 004 FormTemplate): validation and Django form fields.

A schema is a list of field definitions:
    {"name": "order_number", "label": "Order number", "type": "text", "required": true,
     "help_text": "...", "choices": ["a", "b"]}   # choices for select and multi_select only
    {"name": "amount", "label": "Amount", "type": "number", "decimal_places": 2}  # 0 to 6, default 6
Values are stored as JSON on the ticket: strings, numbers, booleans, lists, ISO dates.
"""

import re
import unicodedata
from datetime import date
from decimal import Decimal
from typing import Any

from django import forms

from helpdesk.display import plain_number, shown_date
from helpdesk.forms import OneLineNameField, VisibleTextField, reads_as, shows_text

FIELD_TYPES = ("text", "textarea", "select", "multi_select", "checkbox", "number", "date", "email")
CHOICE_KINDS = ("select", "multi_select")
KNOWN_KEYS = {"name", "label", "type", "required", "help_text", "choices", "decimal_places"}
MAX_DECIMAL_PLACES = 6
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,49}\Z")
ID_ENDINGS = re.compile(r"(?P<base>.+)(?P<ending>_(?:\d+|helptext|error))")
RESERVED_NAMES = {"subject", "description", "attachments", "submission_key", "name", "email"}
# Bounds a person filling in the form could still use: each field is built on every page that shows it.
MAX_FIELDS = 100
MAX_LABEL = 200
MAX_HELP_TEXT = 1_000
MAX_CHOICES = 200
MAX_CHOICE = 200


def schema_errors(schema: Any) -> list[str]:
    """Every problem with `schema`, in words an administrator can act on (empty when valid)."""
    if not isinstance(schema, list):
        return ["The schema must be a list of field definitions."]
    if len(schema) > MAX_FIELDS:
        return [f"A form takes at most {MAX_FIELDS} fields; this schema has {len(schema)}."]
    errors: list[str] = []
    seen: set[str] = set()
    labels: set[str] = set()
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
        label = field.get("label")
        if not isinstance(label, str) or not shows_text(label):
            errors.append(f"{where}: label is required.")
        elif len(label) > MAX_LABEL:
            errors.append(f"{where}: the label takes at most {MAX_LABEL} characters.")
        elif (same := reads_as(label)) in labels:
            # Two fields read alike on the form, on the ticket and in its timeline.
            errors.append(f"{where}: the label {label.strip()!r} is used twice.")
        else:
            labels.add(same)
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
        elif len(field.get("help_text", "")) > MAX_HELP_TEXT:
            errors.append(f"{where}: help_text takes at most {MAX_HELP_TEXT} characters.")
        choices = field.get("choices")
        if kind in CHOICE_KINDS:
            if (
                not isinstance(choices, list)
                or not choices
                or not all(isinstance(choice, str) and shows_text(choice) for choice in choices)
            ):
                errors.append(f"{where}: a {kind} needs a non-empty list of text choices.")
            elif len(choices) > MAX_CHOICES or any(len(choice) > MAX_CHOICE for choice in choices):
                errors.append(
                    f"{where}: at most {MAX_CHOICES} choices of at most {MAX_CHOICE} characters each."
                )
            elif any(unicodedata.category(character) == "Cc" for choice in choices for character in choice):
                # A browser sends a line break back as \r\n: the choice could never be chosen.
                errors.append(f"{where}: choices cannot hold line breaks or other control characters.")
            elif len({reads_as(choice) for choice in choices}) != len(choices):
                errors.append(f"{where}: choices must be distinct (two read alike).")
            elif KEPT_OPTION in choices:  # the option that keeps a value from before a change of type
                errors.append(f"{where}: the choice {KEPT_OPTION!r} is reserved.")
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
    # A field's page ids are its name plus "_0", "_1" (its options), "_helptext" and "_error": a field named
    # like one of those would share an id with it, and its label would tick the other field's box.
    for name in sorted(seen):
        if (extended := ID_ENDINGS.fullmatch(name)) and extended["base"] in seen:
            errors.append(
                f"Field {name!r}: the name reads as field {extended['base']!r} followed by "
                f"{extended['ending']!r}, which that field's page elements use. Choose another name."
            )
    return errors


def usable_definitions(schema: Any) -> list[dict]:
    """The field definitions of `schema` the pages can build: all of a valid one (the admin saves no
    other); of one stored past those checks (a fixture, a data migration, the shell, or a form saved
    before a rule was added), each of a shape a field can be built from, its name not taken by one
    before it. A stored value whose field is dropped so still shows, as a removed field's does, instead
    of the ticket's pages failing."""
    if not schema_errors(schema):
        return schema
    kept: list[dict] = []
    names: set[str] = set()
    for definition in schema if isinstance(schema, list) else []:
        if _buildable(definition) and definition["name"] not in names:
            kept.append(definition)
            names.add(definition["name"])
    return kept


def _buildable(definition: Any) -> bool:
    """Whether a field can be built from `definition`: its shape, not the wording rules of schema_errors
    (a label used twice, a choice that reads like another), which a form saved before them may break."""
    if not isinstance(definition, dict):
        return False
    name, label, kind, choices = (definition.get(key) for key in ("name", "label", "type", "choices"))
    if not (isinstance(name, str) and name and isinstance(label, str) and kind in FIELD_TYPES):
        return False
    if kind in CHOICE_KINDS and not (
        isinstance(choices, list) and choices and all(isinstance(choice, str) for choice in choices)
    ):
        return False
    places = definition.get("decimal_places", 0)
    return (
        isinstance(definition.get("help_text", ""), str)
        and type(places) is int
        and 0 <= places <= MAX_DECIMAL_PLACES
    )


class NumberField(forms.DecimalField):
    """A DecimalField that reads 49.900 as 49.9: trailing zeros are not extra decimal places (a
    browser's step="0.01" input sends them), and the stored JSON number drops them anyway. At most
    MAX_DIGITS digits in all, however they split between the whole part and the decimals (an order
    number of 15 digits, or 123456.789): stored as a JSON number and read back as a float, that many come
    back exactly as typed. `kept`, the value the ticket holds, passes as it is, even with more places
    than the field now allows."""

    MAX_DIGITS = 15

    def __init__(self, *args, kept: Decimal | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kept = kept
        if kept is not None and -kept.as_tuple().exponent > (self.decimal_places or 0):
            # The browser's own check would refuse the value shown: its step follows the kept value.
            self.widget.attrs["step"] = str(Decimal(1).scaleb(kept.as_tuple().exponent))

    def to_python(self, value):
        number = super().to_python(value)
        if number is None or not number.is_finite():
            return number
        # Exactly, digit by digit: Decimal.normalize() works in a context of 28 digits, so it would round
        # 1.0000000000000000000000000001 to 1, turn 1e-1000100 into 0 and raise on 1e1000000.
        sign, digits, exponent = number.as_tuple()
        digits = list(digits)
        while exponent < 0 and len(digits) > 1 and digits[-1] == 0:
            digits.pop()
            exponent += 1
        if digits == [0]:
            exponent = 0
        return Decimal((sign, tuple(digits), exponent))

    def run_validators(self, value) -> None:
        if self.kept is not None and value == self.kept:
            return
        super().run_validators(value)
        if value is not None and value.is_finite():
            _, digits, exponent = value.as_tuple()
            count = len(digits) + exponent if exponent >= 0 else max(len(digits), -exponent)
            if count > self.MAX_DIGITS:
                raise forms.ValidationError(
                    f"Ensure that there are no more than {self.MAX_DIGITS} digits in total.",
                    code="max_digits",
                )


class KeptValueField(forms.Field):
    """A field holding a value its definition no longer accepts, because the field's type changed
    since (a text answer in a field now a number): shown as text, the value stays as it is until
    someone types one the field takes. Any other input goes through the field itself."""

    widget = forms.TextInput

    def __init__(self, field: forms.Field, stored: Any, shown: str, kind: str) -> None:
        widget, label, required = None, field.label, field.required
        # What the widget holds for the kept value: its text, or for a choice an option value no choice
        # has (a yes/no kept as "Yes" beside a real choice "Yes" would never be replaced by it).
        self.token = KEPT_OPTION if kind in (*CHOICE_KINDS, "checkbox") else shown
        if kind == "checkbox":  # a tick box cannot show text: yes, no, or the kept value
            field = forms.TypedChoiceField(
                choices=[("yes", "Yes"), ("no", "No")], coerce=lambda answer: answer == "yes"
            )
            kept = f"{shown} (kept from before this field changed)"
            widget = forms.Select(choices=[(KEPT_OPTION, kept), *field.choices])
            help_text = "Kept from before this field changed: choose Yes or No to replace it."
        elif kind in CHOICE_KINDS:  # the kept value as one more option, chosen until another is
            kept = f"{shown} (kept from before this field changed)"
            widget = field.widget.__class__(choices=[*field.choices, (KEPT_OPTION, kept)])
            help_text = "Kept from before this field changed: choose another to replace it."
        else:
            help_text = f"Kept from before this field changed: enter {KIND_NAMES[kind]} to replace it."
            if "\n" in shown:  # a textarea's answer, kept with its lines
                widget = forms.Textarea(attrs={"rows": 4})
        super().__init__(label=label, required=required, help_text=help_text, widget=widget)
        self.field, self.stored, self.shown = field, stored, shown
        if kind == "multi_select":  # ticked beside other answers it is kept as its text, which the
            field.choices = [*field.choices, (shown, shown)]  # service's second clean must take

    def prepare_value(self, value: Any) -> Any:
        return self.token if value == self.stored else value

    def clean(self, value: Any) -> Any:
        # A textarea sends its lines back as \r\n.
        if value == self.stored or (isinstance(value, str) and _lines(value) == _lines(self.token)):
            return self.stored
        if isinstance(value, list) and self.token in value:  # ticked beside answers of the choices
            others = [answer for answer in value if answer != self.token]
            return [self.shown, *self.field.clean(others)] if others else self.stored
        return self.field.clean(value)


KEPT_OPTION = "kept-value"


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


TICK_OR_UNTICK = "Tick or untick this box."
MANY_ANSWERS = "This question takes one answer: choose one."
KIND_NAMES = {
    "text": "text of at most 500 characters",
    "textarea": "text of at most 10,000 characters",
    "email": "an e-mail address",
    "number": "a number",
    "date": "a date",
}


def form_field(definition: dict, stored: Any = None) -> forms.Field:
    """The Django form field for one schema entry. `stored`, a ticket's value for it, stays valid
    when the schema no longer allows it (a choice since removed, more decimal places than now
    asked for, a value of the field's type before): editing the other fields must not change it."""
    field = _form_field(definition, stored)
    kind = definition["type"]
    if (
        stored not in (None, "", [])
        and not _reads_as_choice(definition, stored)
        and (
            (kind in KIND_NAMES and not _fits(field, kind, stored))
            or _no_choice(kind, stored)
            or (kind == "checkbox" and not isinstance(stored, bool))  # a tick would read any of it as yes
        )
    ):
        field = KeptValueField(field, stored, shown_value(definition, stored), kind)
    # Several answers sent for a question that takes one (made a single choice since the page was read)
    # are refused by the form (OneAnswerEach), not cut to the last one sent.
    field.one_answer = kind != "multi_select"
    return field


def unanswered(value: Any) -> bool:
    """No answer: nothing, empty text or choices, or a box left unticked (0 is an answer)."""
    return value is None or value is False or value in ("", [])


def edit_field(definition: dict, stored: dict[str, Any]) -> forms.Field:
    """form_field for editing a ticket's answers (`stored`): a field the ticket holds no answer for (one
    added to the form or made required since it was sent, a box left unticked) is not required of
    whoever edits it. "I accept the terms" and a serial number are the customer's to give; an agent
    fixing another answer must not have to give them in their place. An answer given stays required."""
    field = form_field(definition, stored.get(definition["name"]))
    if unanswered(stored.get(definition["name"])):
        field.required = False
    return field


def initial_value(definition: dict, stored: Any) -> Any:
    """A stored value as the edit form shows it: a number as it was typed (shown_number), a yes/no or a
    number that reads as one of a select's choices as that choice (saving it changes nothing a page
    shows, so the stored value stays)."""
    if definition["type"] == "number" and type(stored) in (int, float):
        return shown_number(definition, stored)
    if _reads_as_choice(definition, stored):
        shown = shown_value(definition, stored)
        return [shown] if definition["type"] == "multi_select" else shown
    return stored


def _reads_as_choice(definition: dict, stored: Any) -> bool:
    """Whether a yes/no or number of the field's type before reads as one of its choices now ("Yes")."""
    if definition["type"] not in CHOICE_KINDS or stored is None or isinstance(stored, str | list):
        return False
    return shown_value(definition, stored) in definition.get("choices", [])


def _no_choice(kind: str, stored: Any) -> bool:
    """Whether a select or multi_select cannot offer the stored value as a choice of its own: a number
    or a yes/no of the field's type before, or several answers in a field now a select."""
    if kind == "select" and isinstance(stored, list):
        return len(stored) > 1
    return kind in CHOICE_KINDS and not isinstance(stored, str | list)


def _fits(field: forms.Field, kind: str, stored: Any) -> bool:
    """Whether `field` takes the stored value as it is (a number for a number, text for text), and its
    input shows it as it is: a browser empties a date or number input whose value is not in the form
    HTML reads (05/01/2026, +5), and a one-line input drops a textarea answer's line breaks."""
    if kind == "number" and type(stored) in (int, float):
        return True  # NumberField keeps it, even with more places than now allowed
    if not isinstance(stored, str):
        return False
    if kind != "textarea" and ("\n" in stored or "\r" in stored):
        return False
    if kind == "number" and not HTML_NUMBER.fullmatch(stored):
        return False
    if kind == "date" and not HTML_DATE.fullmatch(stored):
        return False
    try:
        field.clean(stored)
    except forms.ValidationError:
        return False
    return True


# What <input type=number> and <input type=date> keep as their value (HTML's valid floating-point number
# and valid date string); anything else the browser empties.
HTML_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
HTML_DATE = re.compile(r"[0-9]{4,}-[0-9]{2}-[0-9]{2}")


TICKED, UNTICKED = frozenset({"on", "true", "1", "yes"}), frozenset({"", "off", "false", "0", "no"})


def _ticked(value: Any) -> bool:
    """Whether a box shows ticked: a tick, or a tick as sent (a draft kept over a sign-in holds "on")."""
    return value is True or (isinstance(value, str) and value.strip().lower() in TICKED)


class TickBoxInput(forms.CheckboxInput):
    """A checkbox that reads a tick or a yes/no, and hands other text on for the field to refuse
    (CheckboxInput reads any text as ticked: bool("no")); only a tick shows ticked."""

    def __init__(self, attrs=None) -> None:
        super().__init__(attrs, check_test=_ticked)

    def value_from_datadict(self, data, files, name) -> Any:
        value = data.get(name) if name in data else False
        if isinstance(value, str) and (folded := value.strip().lower()) in TICKED | UNTICKED:
            return folded in TICKED
        return value


class TickBoxField(forms.BooleanField):
    """A tick box: what a browser sends for a ticked one ("on"), or a yes/no a script sends (true/false,
    1/0, yes/no, on/off); other text (an answer typed into a question made a tick box since the page was
    read, "maybe") is refused, never read as ticked."""

    widget = TickBoxInput

    def to_python(self, value: Any) -> bool:
        if isinstance(value, str):
            if (folded := value.strip().lower()) in TICKED | UNTICKED:
                return folded in TICKED
            raise forms.ValidationError(TICK_OR_UNTICK, code="invalid")
        return super().to_python(value)


def _form_field(definition: dict, stored: Any) -> forms.Field:
    common = {
        "label": definition["label"],
        "required": definition.get("required", False),
        "help_text": definition.get("help_text", ""),
    }
    kind = definition["type"]
    if kind == "text":  # one line, as the input shows it, and without direction controls (one_line)
        return OneLineNameField(max_length=500, **common)
    if kind == "textarea":
        return VisibleTextField(max_length=10_000, widget=forms.Textarea(attrs={"rows": 4}), **common)
    if kind == "email":
        return forms.EmailField(**common)
    if kind == "number":
        places = definition.get("decimal_places", MAX_DECIMAL_PLACES)
        kept = Decimal(repr(stored)).normalize() if type(stored) in (int, float) else None
        return NumberField(decimal_places=places, kept=kept, **common)
    if kind == "date":
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if kind == "checkbox":
        return TickBoxField(**common)
    choices = [(choice, choice) for choice in definition["choices"]]
    # A stored answer no longer offered stays offered, checked, so saving the form keeps it: a removed
    # choice, or a select's answer in a field now multi_select (a multi_select's answers).
    kept = stored if isinstance(stored, list) else [stored]
    choices += [(value, f"{value} (no longer offered)") for value in kept
                if isinstance(value, str) and value and value not in definition["choices"]]  # fmt: skip
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


NOT_ONE_VALUE = "Give one value here, not a list or a set of fields."


def clean_values(schema: list[dict], data: dict[str, Any], stored: dict[str, Any] | None = None) -> dict:
    """Validate raw values against the schema (raises forms.ValidationError keyed by field name).

    With `stored`, the ticket's values so far: those the schema still allows (form_field), and those
    of fields since removed from it, are kept rather than dropped; a checkbox added to the form since,
    left unticked, stays unanswered (an unticked box cannot tell "no" from "never asked"), and a field
    the ticket holds no answer for is not required (edit_field)."""
    editing = stored is not None
    stored = stored or {}
    errors: dict[str, list] = {}
    names = {definition["name"] for definition in schema}
    cleaned: dict[str, Any] = {name: value for name, value in stored.items() if name not in names}
    for definition in schema:
        field = edit_field(definition, stored) if editing else form_field(definition)
        raw = data.get(definition["name"])
        if isinstance(field, forms.MultipleChoiceField) and raw is not None and not isinstance(raw, list):
            raw = [raw]
        # A form sends text; a caller of the services could send a list or a mapping, which a text field
        # would store as its Python spelling ("['x', 'y']"). (An answer kept from before a change of
        # the field's type comes back as it was stored.)
        values = raw if definition["type"] == "multi_select" and isinstance(raw, list) else [raw]
        if raw != stored.get(definition["name"]) and any(isinstance(value, list | dict) for value in values):
            errors[definition["name"]] = [NOT_ONE_VALUE]
            continue
        try:
            value = to_json(field.clean(raw))
        except forms.ValidationError as error:
            errors[definition["name"]] = error.messages
            continue
        if isinstance(field, forms.MultipleChoiceField):  # once each, in the order offered
            value = [choice for choice, _ in field.choices if choice in value]
        # Left empty on a field the ticket never had an answer for: it stays unanswered.
        if editing and definition["name"] not in stored and unanswered(value):
            continue
        cleaned[definition["name"]] = value
    if errors:
        raise forms.ValidationError(errors)
    return cleaned


def shown_number(definition: dict, value: int | float) -> str:
    """A stored number as it was typed: 0.000001, not 1e-06; 49.90 for a field with two decimal places
    (JSON keeps 49.9). Padded only: a number stored before the places were set keeps its digits."""
    number = Decimal(plain_number(value))
    places = definition.get("decimal_places")
    if places is not None and -number.as_tuple().exponent < places:
        number = number.quantize(Decimal(1).scaleb(-places))
    return format(number, "f")


def shown_value(definition: dict, value: Any) -> str:
    """One stored value as the pages show it ('' when there is none)."""
    if value in (None, "", []):
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if definition.get("type") == "date" and isinstance(value, str):
        try:
            return shown_date(date.fromisoformat(value))
        except ValueError:
            return value
    # Whatever the field is now: a number kept from when it was a number reads as it was typed.
    if type(value) in (int, float):
        return shown_number(definition if definition.get("type") == "number" else {}, value)
    if isinstance(value, list):
        return ", ".join(shown_value({}, item) for item in value)
    return str(value)


def labelled_values(schema: list[dict], values: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, shown value) pairs for display, in schema order, skipping empty values; then the
    values of fields since removed from the schema (removed_values)."""
    shown = [
        (definition["label"], shown_value(definition, values.get(definition["name"])))
        for definition in schema
    ]
    return [(label, value) for label, value in shown if value] + removed_values(schema, values)


def removed_values(schema: list[dict], values: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, shown value) pairs of stored values whose field is no longer in the schema: kept on
    the ticket (clean_values), so shown too, under the field's name since its label went with it."""
    names = {definition["name"] for definition in schema}
    shown = [
        (f"{name.replace('_', ' ').capitalize()} (no longer on the form)", shown_value({}, value))
        for name, value in values.items()
        if name not in names
    ]
    return [(label, value) for label, value in shown if value]


def labelled_changes(schema: list[dict], old: dict, new: dict) -> tuple[dict[str, str], dict[str, str]]:
    """The fields whose values differ, by label, before and after, as shown (what a timeline records);
    a field no longer in the schema goes by its name."""
    definitions = {definition["name"]: definition for definition in schema}
    before: dict[str, str] = {}
    after: dict[str, str] = {}
    for name in [*definitions, *(name for name in {**old, **new} if name not in definitions)]:
        definition = definitions.get(name, {"label": name})
        shown_before = shown_value(definition, old.get(name)) or "—"
        shown_after = shown_value(definition, new.get(name)) or "—"
        if shown_before != shown_after:  # missing and "" read the same: no change to record
            label = definition["label"]
            if label in before:  # two fields labelled alike (a schema from before labels were distinct)
                label = f"{label} ({name})"
            before[label], after[label] = shown_before, shown_after
    return before, after
