"""`{% options choices selected %}`: the <option> elements of a select, built in Python; and
`form|fields_in_error`, for the error summary above a form (components/_form_errors.html).

A queue page lists agents, teams and organisations in several selects; as template loops with an
`{% if %}` per option they cost more than the rest of the filter form. Values and labels are escaped
as the template engine would.
"""

from collections.abc import Iterable
from typing import Any

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.simple_tag
def options(choices: Iterable, selected: Any = None, prefix: str = "", label_prefix: str = "") -> SafeString:
    """One `<option>` per (value, label) pair (`tickets.selectors.choices()` makes them from rows). Values
    are compared as text with `selected`, a value or a list of them; `prefix` goes before each value
    and `label_prefix` before each label ("team:" and "Team: " in a bulk-action menu)."""
    if selected is None:
        chosen: set[str] = set()
    elif isinstance(selected, list | tuple | set | frozenset):
        chosen = {str(value) for value in selected}
    else:
        chosen = {str(selected)}
    prefix, label_prefix = escape(prefix), escape(label_prefix)
    # f-strings over escape(), not format_html() per option: a third of the cost for 50 options.
    return mark_safe(  # noqa: S308 (every value and label is escaped)
        "".join(
            f'<option value="{prefix}{escape(value)}"{" selected" if str(value) in chosen else ""}>'
            f"{label_prefix}{escape(label)}</option>"
            for value, label in choices
        )
    )


@register.filter
def fields_in_error(form) -> list[tuple]:
    """(bound field, id of what to focus) for each of the form's fields that has errors, in the form's
    order: the summary names and links each, so that without JavaScript (which moves focus to the first)
    the reader can go straight to it. The link goes to the input itself: for a group of checkboxes or
    radio buttons the first of them (its wrapper takes no focus), for inputs a page writes out by hand
    the one the form names in `error_targets`. A hidden field (a page's version) is no field to go to:
    its error is said as a sentence."""
    named = getattr(form, "error_targets", {})
    return [
        (field, named.get(field.name) or _focus_target(field))
        for field in form.visible_fields()
        if field.errors
    ]


def _focus_target(field) -> str:
    if field.id_for_label:
        return field.id_for_label
    options = field.subwidgets
    return (options[0].id_for_label if options else "") or field.auto_id
