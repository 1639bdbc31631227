"""The article editor form, and the category picker it shares with the admin."""

from collections import defaultdict
from datetime import UTC, datetime

from django import forms
from django.forms.models import ModelChoiceIterator

from helpdesk.forms import VisibleTextField, markdown_trimmed
from knowledge.models import Article, Category
from knowledge.services import BODY_MAX_LENGTH, TAGS_MAX_LENGTH, body_length_problem, tags_problem

PATH_SEPARATOR = " \u203a "  # a single right-pointing angle quotation mark


def category_paths() -> list[tuple[int, str]]:
    """Every category as (pk, its path: "Printers", PATH_SEPARATOR, "Setup"), the tree depth-first in the
    order the knowledge base shows it, from one query: a picker tells same-named categories apart."""
    categories = list(Category.objects.only("parent", "name", "position"))
    children = defaultdict(list)
    for category in categories:
        children[category.parent_id].append(category)
    paths: list[tuple[int, str]] = []
    # A stack, not recursion: nothing bounds how deep the admin may nest categories.
    stack = [(category, category.name) for category in reversed(children.get(None, ()))]
    while stack:
        category, path = stack.pop()
        paths.append((category.pk, path))
        stack += [
            (child, f"{path}{PATH_SEPARATOR}{child.name}")
            for child in reversed(children.get(category.pk, ()))
        ]
    # A category inside a loop (the admin refuses one; an old row may hold one) has no way up to the
    # top of the tree: offered by its name, at the end.
    listed = {pk for pk, _ in paths}
    return paths + [(category.pk, category.name) for category in categories if category.pk not in listed]


class CategoryPaths(ModelChoiceIterator):
    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        yield from category_paths()


class CategoryChoiceField(forms.ModelChoiceField):
    """A category chosen by its path in the tree ("Printers / Setup"), read when the page is drawn."""

    iterator = CategoryPaths


class LoadedAtForm(forms.Form):
    """When the page was loaded: the article's updated_at, exact to the microsecond (so not a
    DateTimeField, which renders in the reader's time zone and is ambiguous for an hour each autumn),
    for article_update to refuse a save from a page a colleague's change has made stale."""

    loaded_at = forms.CharField(widget=forms.HiddenInput, required=False)

    def clean_loaded_at(self) -> datetime | None:
        if not self.cleaned_data["loaded_at"] and not self.initial.get("loaded_at"):
            return None  # a new article: no colleague's change to overwrite
        return parse_loaded_at(self.cleaned_data["loaded_at"])


# Matches no article's updated_at: a change posted with it is refused as stale.
NEVER_LOADED = datetime.min.replace(tzinfo=UTC)


def parse_loaded_at(value: str) -> datetime:
    """A page's loaded_at as sent. Every page that changes an article sends one; a post without one (a
    page from before, made by hand) or with one that does not parse matches no article, so the change is
    refused as stale rather than let through over a colleague's edit."""
    if not value:
        return NEVER_LOADED
    try:
        loaded_at = datetime.fromisoformat(value)
    except ValueError:
        return NEVER_LOADED
    # Pages send the time with its offset; one without (made by hand) could not be compared with it.
    return loaded_at if loaded_at.tzinfo is not None else NEVER_LOADED


def body_as_stored(posted: str, stored: str | None, *, trim=lambda text: text) -> str:
    """`posted`, or `stored` where the two differ only in line breaks: browsers send a textarea's as
    CRLF, and opening an imported article and saving it untouched must not count as an edit (a revision,
    an audit event, its verification dropped)."""
    if stored is not None and posted.replace("\r\n", "\n") == trim(stored).replace("\r\n", "\n"):
        return stored
    return posted


class ArticleForm(LoadedAtForm):
    title = VisibleTextField(max_length=200)  # zero-width characters alone would make a nameless link
    category = CategoryChoiceField(queryset=Category.objects.all(), required=False, empty_label="No category")
    # The limit is checked in clean_tags on the tags as stored: accents typed apart, invisible characters
    # and repeats make the typed text longer than what is kept.
    tags = forms.CharField(
        required=False, help_text=f"Comma-separated, at most {TAGS_MAX_LENGTH} characters in all."
    )
    excerpt = forms.CharField(
        max_length=300, required=False, help_text="Shown in lists; empty takes the start."
    )
    visibility = forms.ChoiceField(choices=Article.Visibility.choices)
    # The editor page's own: the same page saved twice (a double-clicked Save) is one article, one save.
    submission_key = forms.UUIDField(required=False, widget=forms.HiddenInput)
    # Not stripped as a whole: indentation opening the body is markdown (a code block); only blank lines
    # before it and whitespace after it go, as in kb_import. The limit is checked in clean_body on the
    # text as stored (services.body_length_problem): browsers send each line break as two characters
    # (CRLF) while their maxlength counts one, and composing can make a text longer. (A post's size is
    # bounded by DATA_UPLOAD_MAX_MEMORY_SIZE.)
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 18, "class": "mono", "maxlength": BODY_MAX_LENGTH}),
        help_text="Markdown.",
        strip=False,
    )

    def clean_body(self) -> str:
        body = markdown_trimmed(self.cleaned_data["body"])
        if not body:
            raise forms.ValidationError(self.fields["body"].error_messages["required"], code="required")
        stored = self.initial.get("body")
        body = body_as_stored(body, stored, trim=markdown_trimmed)
        if body != stored and (problem := body_length_problem(body)):
            raise forms.ValidationError(problem, code="max_length")
        return body

    def clean_tags(self) -> str:
        typed = self.cleaned_data["tags"]
        if typed != self.initial.get("tags") and (problem := tags_problem(typed)):
            raise forms.ValidationError(problem, code="max_length")
        return typed

    def make_read_only(self) -> None:
        """Shown to someone who may read the article but not change it. `readonly` rather than
        `disabled` where browsers allow it: the text can still be selected and copied, and a refused save
        still shows the text that was sent."""
        for field in self.fields.values():
            if isinstance(field.widget, forms.Select):
                field.widget.attrs["disabled"] = True
            else:
                field.widget.attrs["readonly"] = True
