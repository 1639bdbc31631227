"""Form helpers shared by every app."""

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest


def add_service_errors(form: forms.Form, error: ValidationError, *, field_prefix: str = "") -> None:
    """Show a service's ValidationError beside the fields it names (or above the form)."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.error_dict.items():
        name = next(
            (candidate for candidate in (field, field_prefix + field) if candidate in form.fields), None
        )
        form.add_error(name, errors)


def parse_id(text: str | None) -> int | None:
    """A posted or queried id or number as an int, or None: ASCII digits only ("²".isdigit() is true and
    int() refuses it) and small enough for a bigint column."""
    text = (text or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None


JSON_NUL = "Text in JSON cannot hold a NUL character (\\u0000)."


def json_has_nul(value) -> bool:
    """Whether a JSON value holds a NUL character in any key or string: PostgreSQL's jsonb refuses one."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(json_has_nul(key) or json_has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(json_has_nul(item) for item in value)
    return False


def query_text(request: HttpRequest, name: str, *, limit: int) -> str:
    """A text parameter of the query string, without NUL characters (PostgreSQL text cannot hold one,
    so a NUL in a filter or a search would be a server error), cut to `limit`: a search too long or
    holding a NUL still searches, for what it can."""
    return request.GET.get(name, "").replace("\x00", "").strip()[:limit]
