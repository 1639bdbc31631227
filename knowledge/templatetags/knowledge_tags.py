"""Template filters for the knowledge base."""

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from helpdesk.markdown import markdown_text
from knowledge.search import MATCH_END, MATCH_START

register = template.Library()


@register.filter
def highlight(snippet: str) -> SafeString:
    """A search snippet, escaped, with its match markers (knowledge.search) turned into <mark>."""
    marked = escape(snippet).replace(MATCH_START, "<mark>").replace(MATCH_END, "</mark>")
    return mark_safe(marked)  # noqa: S308


@register.filter
def as_markdown_text(text: str) -> str:
    """Text to put inside a markdown link's brackets (the reply picker): read as itself, not as markup."""
    return markdown_text(text)
