"""`{% options choices selected %}`: the <option> elements of a select, built in Python.

A queue page lists agents, teams and organisations in several selects; as template loops with an
`{% if %}` per option they cost more than the rest of the filter form. format_html escapes values and
labels as the template engine would.
"""

from collections.abc import Iterable
from typing import Any

from django import template
from django.db.models import Model
from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe

register = template.Library()
SELECTED = mark_safe(" selected")


def _pair(item: Any) -> tuple[Any, Any]:
    return (item.pk, item) if isinstance(item, Model) else item


@register.simple_tag
def options(choices: Iterable, selected: Any = None, prefix: str = "", label_prefix: str = "") -> SafeString:
    """One `<option>` per choice: a (value, label) pair or a model instance (its pk, its str()). Values
    are compared as text with `selected`, a value or a list of them; `prefix` goes before each value
    and `label_prefix` before each label ("team:" and "Team: " in a bulk-action menu)."""
    if selected is None:
        chosen: set[str] = set()
    elif isinstance(selected, list | tuple | set | frozenset):
        chosen = {str(value) for value in selected}
    else:
        chosen = {str(selected)}
    return format_html_join(
        "",
        '<option value="{}{}"{}>{}{}</option>',
        (
            (prefix, value, SELECTED if str(value) in chosen else "", label_prefix, label)
            for value, label in map(_pair, choices)
        ),
    )
