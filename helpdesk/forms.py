"""Form helpers shared by every app."""

import html
import math
import re
import unicodedata
from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError
from django.forms.boundfield import BoundField
from django.forms.renderers import DjangoTemplates
from django.forms.utils import flatatt
from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe

# Characters that show nothing but are not whitespace to str.strip(): a message of these is empty.
# Zero-width spaces and joiners, the soft hyphen, the invisible operators and the combining grapheme
# joiner; the direction marks and controls (a name of right-to-left overrides shows as nothing); and the
# blanks that are letters to Unicode (the Braille blank, the Hangul fillers, the Mongolian vowel
# separator), which look like a space and are used to post "empty" messages.
# Unicode's default-ignorable code points (DerivedCoreProperties.txt, Default_Ignorable_Code_Point): the
# characters fonts draw as nothing, among them zero-width spaces and joiners, direction marks (the Arabic
# letter mark too), soft hyphens, Hangul fillers, variation selectors and tag characters; plus the blank
# Braille pattern, which shows nothing either. Ranges, not a hand-picked list: a list misses some.
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x2800, 0x2800),
    (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)  # fmt: skip
INVISIBLE = frozenset(chr(code) for first, last in _DEFAULT_IGNORABLE for code in range(first, last + 1))


def nfc(text: str) -> str:
    """`text` in composed form (é as one character): typed on one system and searched from another, the
    same word is stored and looked for alike (macOS and many imports write é as e and an accent)."""
    return unicodedata.normalize("NFC", text)


# Whitespace and the invisible characters: what a copy from a mail or a chat may carry around an address
# or a code (a zero-width space, a byte order mark), trimmed from its ends.
_AROUND = "".join(sorted(INVISIBLE | {chr(code) for code in range(0x3001) if chr(code).isspace()}))


def trimmed(text: str) -> str:
    """`text` without whitespace or invisible characters at either end."""
    return text.strip(_AROUND)


def shows_text(text: str) -> bool:
    """Whether `text` shows anything: not only whitespace and invisible characters."""
    return any(not ch.isspace() and ch not in INVISIBLE for ch in text)


# Direction embeddings, overrides and isolates: in a name or a subject they make text read in another
# order than it is ("Invoice \u202efdp.exe" shows as "Invoice exe.pdf"), in our pages and in the mail
# headers subjects go into. Right-to-left text needs none of them (the marks U+200E and U+200F stay).
DIRECTION_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
# The control characters that are not whitespace (escape, backspace, bell, DEL, the C1 set): they show
# nothing or, in a terminal reading a log or an export, rewrite what is shown. NUL stays for the forms'
# own refusal of it.
CONTROLS = dict.fromkeys(code for code in [*range(0x01, 0x20), *range(0x7F, 0xA0)] if not chr(code).isspace())
_NOT_ON_ONE_LINE = DIRECTION_CONTROLS | CONTROLS


def one_line(text: str) -> str:
    """`text` as a name or a title is stored: composed (nfc), on one line, single-spaced, without
    direction controls or other control characters. Composing can make a text longer (U+0958 is two
    characters composed), so a length is checked after this."""
    return " ".join(nfc(text).translate(_NOT_ON_ONE_LINE).split())


# The invisible characters that change nothing on screen, dropped when telling two texts apart. The
# joiners stay: the zero-width joiner makes one emoji of a family's three, the non-joiner a Persian word
# of other letter shapes, so text with and without them looks different.
SHOWS_NO_DIFFERENCE = dict.fromkeys(map(ord, INVISIBLE - {"\u200c", "\u200d"}))


def reads_as(text: str) -> str:
    """What `text` reads as, to tell two labels or choices apart: composed, without the invisible
    characters that change nothing on screen, single-spaced, in one case ("Café " and "cafe\u0301" read
    alike)."""
    return " ".join(nfc(text.translate(SHOWS_NO_DIFFERENCE)).split()).casefold()


def _unwidened(ch: str) -> str:
    """A full-width or half-width letter or digit (typed with an East Asian input method) as the plain
    one; any other character as it is. Not NFKC as a whole: that also turns "½" into 1, a fraction slash
    and 2, and "⒈" into "1.", which a tag may not hold, and the full-width comma into a comma, which
    splits tags."""
    if unicodedata.decomposition(ch).startswith(("<wide>", "<narrow>")):
        plain = unicodedata.normalize("NFKC", ch)
        return plain if plain.isalnum() else ch
    return ch


def unwidened(text: str) -> str:
    """`text` with its full-width and half-width letters and digits as the plain ones (_unwidened)."""
    return "".join(map(_unwidened, text))


def as_tag(text: str) -> str:
    """A tag as stored and compared, on tickets and articles alike: without the invisible characters that
    change nothing on screen, full-width letters as the plain ones, in lower case ("İzmir" is "izmir";
    lower case, not case-folded: "Straße" stays as typed, not "strasse"), single-spaced and composed ("é"
    typed as one character or as e and an accent is one tag)."""
    plain = unwidened(text.translate(SHOWS_NO_DIFFERENCE)).lower()
    # A capital dotted I lowers to i and a combining dot: the dot is the capital's, not a letter.
    return nfc(" ".join(plain.replace("i\u0307", "i").split()))


class OneLineNameField(forms.CharField):
    """A name as it will be stored (one_line), checked for length and for showing something as such:
    "Cafe\u0301  Owner" is "Café Owner", and a name of zero-width characters is no name."""

    def to_python(self, value):
        value = one_line(super().to_python(value))
        return value if shows_text(value) else self.empty_value

    def has_changed(self, initial, data) -> bool:
        # A name stored before it was kept on one line ("Setup  guide"), sent back as shown, is no change.
        return one_line(str(initial or "")) != self.to_python(data)


class MultilineTextField(forms.CharField):
    """Text of several lines, its line breaks kept as "\n": a browser counts one as a character against
    a textarea's maxlength but sends it as two ("\r\n"), so counted as sent, a text the page took
    would come back as too long."""

    def to_python(self, value):
        return super().to_python(value).replace("\r\n", "\n").replace("\r", "\n")


LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\r?\n)+")


def markdown_trimmed(text: str) -> str:
    """Markdown as stored: without blank lines before it or whitespace after it, the indentation opening
    it kept (a code block: stripped, its first line would join the paragraph the rest then makes)."""
    return LEADING_BLANK_LINES.sub("", text).rstrip()


class MarkdownTextField(MultilineTextField):
    """Markdown typed in a textarea, trimmed as markdown_trimmed rather than stripped."""

    def __init__(self, **kwargs) -> None:
        super().__init__(strip=False, **kwargs)

    def to_python(self, value):
        return markdown_trimmed(super().to_python(value))


class VisibleTextField(MultilineTextField):
    """Text that must show something to count as given: a required answer of only zero-width
    characters is as empty as one of spaces."""

    def to_python(self, value):
        value = super().to_python(value)
        return value if shows_text(value) else self.empty_value


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
# Far deeper than any settings or schema need, and well inside what PostgreSQL and Python's json nest.
JSON_DEPTH_LIMIT = 100
JSON_TOO_DEEP = f"JSON nested deeper than {JSON_DEPTH_LIMIT} levels is not accepted."


def json_problem(value) -> str:
    """Why PostgreSQL's jsonb would refuse this value ("" if it would not): a NUL character or a lone
    surrogate (Python's json reads "\\ud800") in a key or string, or a number that is not finite
    (Python's json reads NaN, Infinity and 1e999); or why we do: nested deeper than JSON_DEPTH_LIMIT.
    Walked with a stack of its own, so that no depth overflows Python's."""
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return JSON_NUL
            if not (item.isascii() or is_unicode_text(item)):
                return JSON_SURROGATE
        elif isinstance(item, float) and not math.isfinite(item):
            return JSON_NOT_FINITE
        elif isinstance(item, dict | list):
            if depth >= JSON_DEPTH_LIMIT:
                return JSON_TOO_DEEP
            parts = [part for pair in item.items() for part in pair] if isinstance(item, dict) else item
            pending.extend((part, depth + 1) for part in reversed(parts))
    return ""


def is_unicode_text(text: str) -> bool:
    """Whether the text is valid Unicode: bytes a terminal's or a request's encoding could not read
    reach Python as lone surrogates, which neither UTF-8 nor PostgreSQL can hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_site_path(request: HttpRequest, target: str) -> bool:
    """Whether a posted or queried address to go back to is a path of this site: not another host, not
    a word redirect() would look up as a URL name ("desk"), and not a sign-out address."""
    return (
        target.startswith("/")
        and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure())
        and not is_sign_out_path(urlsplit(target).path)
    )


def is_sign_out_path(path: str) -> bool:
    """The site's and the admin's sign-out take a POST only: sent there after signing in (a `next`
    naming it), the browser would land on the 405 page."""
    return path in (reverse("accounts:logout"), reverse("admin:logout"))


def query_text(request: HttpRequest, name: str, *, limit: int) -> str:
    """A text parameter of the query string, without NUL characters (PostgreSQL text cannot hold one,
    so a NUL in a filter or a search would be a server error), cut to `limit`: a search too long or
    holding a NUL still searches, for what it can. In composed form (nfc), as what it looks for is stored."""
    return nfc(request.GET.get(name, "").replace("\x00", "").strip())[:limit]


class AccessibleBoundField(BoundField):
    """A required select says so to screen readers: Django leaves `required` off a select whose first
    option has a value (it cannot be left empty), while the label's asterisk says it to the eye. A box
    for text (a subject, a message) takes the direction of what is typed in it: Hebrew or Arabic right
    to left."""

    def build_widget_attrs(self, attrs, widget=None):
        attrs = super().build_widget_attrs(attrs, widget)
        widget = widget or self.field.widget
        if self.field.required and not attrs.get("required") and isinstance(widget, forms.Select):
            attrs["aria-required"] = "true"
        if type(widget) in (forms.TextInput, forms.Textarea) and "dir" not in widget.attrs:
            attrs.setdefault("dir", "auto")
        return attrs


class LongSelect(forms.Select):
    """A select of hundreds of options (the time zones), written in Python: Django writes each option
    through templates of its own, which took most of the 60 ms of the profile page. The same markup."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        options = "".join(
            f'<option value="{html.escape(str(option["value"]))}"{flatatt(option["attrs"]) if option["attrs"] else ""}>'  # noqa: E501
            f"{html.escape(str(option['label']))}</option>"
            for _, group, _ in widget["optgroups"]
            for option in group
        )
        attrs = flatatt(widget["attrs"])
        return mark_safe(f'<select name="{html.escape(widget["name"])}"{attrs}>{options}</select>')  # noqa: S308 (escaped above)


class FormRenderer(DjangoTemplates):
    """Django's renderer, with every form's fields bound as AccessibleBoundField (settings.FORM_RENDERER)."""

    bound_field_class = AccessibleBoundField
