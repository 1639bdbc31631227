"""Template filters for the knowledge base."""

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.filter
def highlight(snippet: str) -> SafeString:
    """A ts_headline snippet, escaped, with its [[[match]]] markers turned into <mark>."""
    return mark_safe(escape(snippet).replace("[[[", "<mark>").replace("]]]", "</mark>"))  # noqa: S308
