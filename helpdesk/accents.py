"""Accent folding done alike by PostgreSQL (in generated columns and indexes, core functions only: no
unaccent extension) and by Python (on what is typed), so "cafe" finds "Café" and "Núñez" finds "Nunez"."""

import functools
import re
import unicodedata

from django.db.models import Func, TextField
from django.db.models.functions import Lower

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


def alphabetical(field: str) -> list:
    """An ordering by `field` as an alphabet reads it (apple, Banana, Écoles, zebra, Zulu), not in the
    byte order of the C collation the embedded PostgreSQL has (every capital before every small letter,
    an accented initial after z), which has no other: it is built without ICU. Case and accents folded,
    then the name as stored to order names that fold alike."""
    return [Lower(Unaccented(field)), field]


# ASCII punctuation (written as ranges both regular expression engines read alike). PostgreSQL's parser
# keeps "outlook.com", "invoice_2024.pdf" or "anna@acme.example" as one token; with these made spaces
# first, each word in them is a word of its own, findable as typed alone.
PUNCTUATION = r"[!-/:-@\[-`{-~]"
_PUNCTUATION = re.compile(PUNCTUATION)
FINAL_SIGMA, SIGMA = "\u03c2", "\u03c3"
# Chinese, Japanese (kana and kanji) and Korean syllables, which PostgreSQL's parser reads a whole run of
# as one word ("打印机无法连接到网络" is one): each is made a word of its own, so that what is typed, searched
# as the phrase of its characters, is found anywhere in a run ("网络", "프린터" in "프린터가").
CJK = r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]"
# A character of those with the marks that belong to it (a voiced-sound mark after a kana, a variation
# selector after a kanji: "葛󠄀"): kept with it, or the mark would stand alone, which PostgreSQL drops.
CJK_WITH_MARKS = CJK + r"[\u3099\u309a\ufe00-\ufe0f\U000e0100-\U000e01ef]*"
_CJK = re.compile(CJK_WITH_MARKS)


# A word as PostgreSQL's parser reads one: letters and digits with the marks that belong to them (the
# vowel signs and viramas of Indic scripts, Thai, Arabic vowels), which Python's \w leaves out.
@functools.cache
def _word() -> re.Pattern:
    marks = "".join(
        chr(code)
        for code in [*range(0x0300, 0x20000), *range(0xE0100, 0xE01F0)]
        if unicodedata.category(chr(code)) in {"Mn", "Mc", "Me"}
    )  # a tenth of a second: made when first asked for, not by every process that imports this
    # A word starts with a letter or a digit: a mark standing alone is no word to PostgreSQL either.
    return re.compile(rf"[^\W_](?:[^\W_]|[{re.escape(marks)}])*")


def search_words(text: str) -> str:
    """`text` as SearchWords computes it: unaccented, in compatibility form (a word in full-width letters,
    as an East Asian input method types it, is the plain word; a ligature its letters), its ASCII
    punctuation made spaces,
    a Greek final sigma the plain one (PostgreSQL lower-cases a capital sigma to the plain one wherever
    it stands, Python to the final one at a word's end), each Chinese, Japanese or Korean character a
    word (CJK)."""
    compatible = unicodedata.normalize("NFKC", _MARKS.sub("", unicodedata.normalize("NFD", text)))
    spaced = _CJK.sub(r" \g<0> ", _PUNCTUATION.sub(" ", compatible))
    return spaced.replace(FINAL_SIGMA, SIGMA)


def words_of(text: str) -> list[str]:
    """The words PostgreSQL's 'simple' configuration makes of SearchWords(text), lower-cased alike."""
    return _word().findall(search_words(text).lower().replace(FINAL_SIGMA, SIGMA))


class SearchWords(Func):
    """search_words() in SQL (immutable, for a generated column or an index): the words a text is
    searched by."""

    compatible = f"normalize(regexp_replace(normalize(%(expressions)s, NFD), '{MARKS}', '', 'g'), NFKC)"
    spaced = f"regexp_replace({compatible}, '{PUNCTUATION}', ' ', 'g')"
    apart = f"regexp_replace({spaced}, '({CJK_WITH_MARKS})', ' \\1 ', 'g')"
    template = f"translate({apart}, '{FINAL_SIGMA}', '{SIGMA}')"
    output_field = TextField()


class SearchWordsBeforeCJK(SearchWords):
    """SearchWords as it stood before each Chinese, Japanese or Korean character became a word, frozen:
    migrations tickets 0021 and accounts 0016 name it, so that migrating back past tickets 0024 and
    accounts 0018 builds the column and the index the release before them reads. (A migration's state
    keeps the class, not its SQL: naming the live class, it would build today's.)"""

    template = (
        "translate(regexp_replace(normalize(regexp_replace(normalize(%(expressions)s, NFD), "
        "'[\\u0300-\\u036f]', '', 'g'), NFKC), '[!-/:-@\\[-`{-~]', ' ', 'g'), '\u03c2', '\u03c3')"
    )


def folded_sql(column: str) -> str:
    """SQL for `column` unaccented, normalised only where it may fold (MAY_FOLD): for raw SQL that runs
    over long texts (Unaccented stays as it is, in the generated columns and indexes made of it)."""
    unaccented_column = Unaccented.template % {"expressions": column}
    return f"CASE WHEN {column} ~ '{MAY_FOLD}' THEN {unaccented_column} ELSE {column} END"
