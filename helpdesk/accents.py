"""Accent folding done alike by PostgreSQL (in generated columns and indexes, core functions only: no
unaccent extension) and by Python (on what is typed), so "cafe" finds "Café" and "Núñez" finds "Nunez"."""

import re
import unicodedata

from django.db.models import Func, TextField

# The combining diacritical marks (acute, grave, circumflex, tilde, diaeresis, cedilla, ring, caron...).
# Letters that are not a base letter plus a mark (ß, ø, ł, æ) stay as they are, on both sides.
# Written as escapes, which PostgreSQL's regular expressions and Python's read alike.
MARKS = r"[\u0300-\u036f]"
_MARKS = re.compile(MARKS)
# The letters that may carry such marks (Latin, Greek, Cyrillic, and the marks themselves): a text without
# any has nothing to fold, and a regular expression says so far faster than the normalising does.
MAY_FOLD = r"[\u00c0-\u024f\u0300-\u036f\u0370-\u04ff\u1e00-\u1fff]"


def unaccented(text: str) -> str:
    """`text` without its combining accents, composed again (NFC), as Unaccented computes it."""
    return unicodedata.normalize("NFC", _MARKS.sub("", unicodedata.normalize("NFD", text)))


class Unaccented(Func):
    """unaccented() in SQL: decompose, drop the marks, compose. Immutable, so it may stand in a generated
    column or an index expression."""

    template = f"normalize(regexp_replace(normalize(%(expressions)s, NFD), '{MARKS}', '', 'g'), NFC)"
    output_field = TextField()


def folded_sql(column: str) -> str:
    """SQL for `column` unaccented, normalised only where it may fold (MAY_FOLD): for raw SQL that runs
    over long texts (Unaccented stays as it is, in the generated columns and indexes made of it)."""
    unaccented_column = Unaccented.template % {"expressions": column}
    return f"CASE WHEN {column} ~ '{MAY_FOLD}' THEN {unaccented_column} ELSE {column} END"
