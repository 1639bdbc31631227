"""Form helpers shared by every app."""

import math

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
JSON_NOT_FINITE = "JSON numbers must be finite: NaN, Infinity and numbers as large as 1e999 are not JSON."
JSON_SURROGATE = "Text in JSON must be valid Unicode: a lone surrogate (\\ud800 to \\udfff) is not."


def json_problem(value) -> str:
    """Why PostgreSQL's jsonb would refuse this value ("" if it would not): a NUL character or a lone
    surrogate (Python's json reads "\\ud800") in a key or string, or a number that is not finite
    (Python's json reads NaN, Infinity and 1e999)."""
    if isinstance(value, str):
        if "\x00" in value:
            return JSON_NUL
        return "" if value.isascii() or is_unicode_text(value) else JSON_SURROGATE
    if isinstance(value, float):
        return "" if math.isfinite(value) else JSON_NOT_FINITE
    if isinstance(value, dict):
        return next(
            (problem for item in value.items() for part in item if (problem := json_problem(part))), ""
        )
    if isinstance(value, list):
        return next((problem for item in value if (problem := json_problem(item))), "")
    return ""


def is_unicode_text(text: str) -> bool:
    """Whether the text is valid Unicode: bytes a terminal's or a request's encoding could not read
    reach Python as lone surrogates, which neither UTF-8 nor PostgreSQL can hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def query_text(request: HttpRequest, name: str, *, limit: int) -> str:
    """A text parameter of the query string, without NUL characters (PostgreSQL text cannot hold one,
    so a NUL in a filter or a search would be a server error), cut to `limit`: a search too long or
    holding a NUL still searches, for what it can."""
    return request.GET.get(name, "").replace("\x00", "").strip()[:limit]
