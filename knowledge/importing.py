"""Import and export of articles: a folder of markdown files with front matter, or JSON Lines."""

import itertools
import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import slug_re
from django.db import DatabaseError, IntegrityError, models, transaction
from django.utils import timezone
from django.utils.text import slugify

import audit
from helpdesk.forms import markdown_trimmed, nfc, one_line
from knowledge import services
from knowledge.forms import body_as_stored
from knowledge.models import RESERVED_CATEGORY_SLUGS, Article, ArticleSlug, Category
from knowledge.slugs import slug_for

STATUSES = set(Article.Status.values)
VISIBILITIES = set(Article.Visibility.values)
# A changed status goes through the review workflow's own services. None leads back to draft: asking
# for changes or withdrawing from review is a person's decision, made in the editor.
STATUS_SERVICES = {
    Article.Status.REVIEW: services.article_submit_for_review,
    Article.Status.PUBLISHED: services.article_publish,
    Article.Status.ARCHIVED: services.article_archive,
}

REQUIRED = "a title and a body are required"
TITLE_TOO_LONG = (
    "the title has {length} characters; at most 200 are kept, so shorten it rather than lose its end"
)
OUTSIDE_FOLDER = "a link to a file outside the folder imported, which is not read"
UNCLOSED_LIST = "starts a list with [ that is never closed with ]"
UNCLOSED_QUOTE = "opens a quote ({quote}) that is never closed"
NO_ARTICLE_FILES = (
    "{folder} holds no markdown files (.md or .markdown; hidden folders are passed over), so there is "
    "nothing to import."
)
# Markdown files as kb_import knows them, in any case: "Guide.MD" is one too.
MARKDOWN_SUFFIXES = {".md", ".markdown"}
NOT_UTF8 = "not valid UTF-8 (byte 0x{byte:02x} at offset {offset})"
HAS_NUL = "the {name} contains a NUL character, which the database cannot store"
HAS_SURROGATE = "the {name} contains a lone surrogate (\\u{code:04x}), which is not valid Unicode text"
NOT_TEXT = "the {name} must be text"
NOT_LIST = "the {name} must be a list of text"
NOT_A_TIME = (
    "the {name} must be a date and time (ISO 8601) between 1900 and now, such as 2024-05-31T09:30:00+00:00"
)
# Before this the moment could fall before year 1 in UTC, which PostgreSQL stores but Python cannot read.
EARLIEST_TIME = datetime(1900, 1, 1, tzinfo=UTC)
UNKNOWN_STATUS = "unknown status {status!r}"
UNKNOWN_VISIBILITY = "unknown visibility {visibility!r}"
NO_TRANSITION = "the status cannot change from {old} to {new} by import"
DATABASE_REFUSED = "the database refused it: {error}"
BAD_CATEGORY = (
    "a category record needs a slug and a name; description and icon, if given, are text, and position a "
    "whole number"
)
PARENT_MISSING = "its parent category {parent!r} is neither in the knowledge base nor in this import"
DUPLICATE_SLUG = "the slug {slug!r} names the same article as {first} of this import"

FRONT_MATTER_KEYS = (
    "title", "category", "category_slug", "category_parents", "category_parent_slugs", "tags", "status",
    "visibility", "excerpt", "old_slugs", "published_at", "updated_at",
)  # fmt: skip
# When an article was published and last updated, as the knowledge base it comes from says: kept for an
# article the import creates (a move to a new site is no news to readers), never changed on an update.
DATE_KEYS = ("published_at", "updated_at")
LIST_KEYS = {"category_parents", "category_parent_slugs", "tags", "old_slugs"}
EXPORT_MARKER = ".kb-export"
# The category tree of a markdown export (a JSON Lines file of category records, parents first).
CATEGORIES_FILE = "_categories.jsonl"
CATEGORY_FIELDS = ("name", "description", "icon", "position")
YAML_NULLS = {"null", "Null", "NULL", "~"}
BLOCK_LIST_ITEM = re.compile(r"\s*-(?:\s+(.*))?\s*\Z")
# json.dumps leaves these literal, but YAML reads them as line breaks or refuses them unescaped.
YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029]")
# A JSON escape such as "\udfff" decodes to half a surrogate pair: a str that cannot be encoded as
# UTF-8, so the database driver would fail on it midway through the import.
SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    categories_created: list[str] = field(default_factory=list)
    categories_updated: list[str] = field(default_factory=list)

    def summary(self) -> str:
        articles = (
            f"{len(self.created)} created, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.skipped)} skipped"
        )
        if not (self.categories_created or self.categories_updated):
            return articles
        return (
            f"{articles}; categories: {len(self.categories_created)} created, "
            f"{len(self.categories_updated)} updated"
        )


def parse_front_matter(text: str) -> tuple[dict, str]:
    """`---` delimited `key: value` lines at the top of a markdown file, and the body after them.

    Values are bare, 'single-quoted' or "double-quoted" (JSON escapes), lists like [a, "b"] or as lines
    "- a" under their key, or null (null, ~): the subset of YAML that export_articles writes, so its
    files read back exactly, and that files written for static-site generators use."""
    if not text.startswith("---"):
        return {}, text
    head, separator, body = text[3:].partition("\n---")
    if not separator:
        raise ValueError("front matter starts with --- but never ends")
    meta: dict = {}
    listing = None  # the key whose "- item" lines follow: one given no value on its own line
    # split("\n"), not splitlines(): a quoted value may hold characters splitlines() breaks on.
    for line in head.strip().split("\n"):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if listing is not None and (item := BLOCK_LIST_ITEM.match(line)):
            # "- null" or "- ~" is no item in YAML's reading either: it is left out, not made a tag "null".
            if (item.group(1) or "").strip() not in YAML_NULLS:
                meta[listing] = [*(meta[listing] or []), _scalar(item.group(1) or "")]
            else:
                meta[listing] = meta[listing] or []
            continue
        key, colon, value = line.partition(":")
        if not colon:
            raise ValueError(f"front matter line without a colon: {line.strip()!r}")
        key = key.strip().lower()
        try:
            meta[key] = _front_matter_value(value)
        except ValueError as error:  # not YAML: read as text it would be stored garbled ("[vpn" a tag)
            raise ValueError(f"front matter {key}: {error}") from None
        listing = key if not value.strip() else None
    # The closing line and the blank lines after it are not the body, nor is the file's final newline.
    body = body.partition("\n")[2].lstrip("\r\n")
    return meta, body[:-2] if body.endswith("\r\n") else body.removesuffix("\n")


def _front_matter_value(value: str) -> str | list[str] | None:
    value = value.strip()
    if value in YAML_NULLS:
        return None
    if value.startswith("[") and not value.endswith("]"):
        raise ValueError(UNCLOSED_LIST)
    if value.startswith("[") and value.endswith("]"):
        try:
            items = json.loads(value)
        except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested past Python's limit
            items = [
                _scalar(item) for item in value[1:-1].split(",") if item.strip() not in {"", *YAML_NULLS}
            ]
        # A null item ([a, null]) is none, as YAML reads it: not the tag "None".
        return [str(item) for item in items if item is not None] if isinstance(items, list) else str(items)
    return _scalar(value)


def _scalar(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            decoded = json.loads(value)
        except ValueError:
            pass
        else:
            if isinstance(decoded, str):
                return decoded
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    if value[:1] in {'"', "'"}:  # YAML reads no such value: a quote opened and never closed
        raise ValueError(UNCLOSED_QUOTE.format(quote=value[0]))
    return value


def _quoted(value: str) -> str:
    """A double-quoted front-matter value that parse_front_matter and YAML both read back exactly."""
    text = json.dumps(value, ensure_ascii=False)
    return YAML_UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(NOT_UTF8.format(byte=data[error.start], offset=error.start)) from None


class NoArticleFiles(ValueError):
    """A folder to import holds no markdown file: said, rather than a report of nothing done."""


JSON_ARRAY = (
    "is a JSON array; give JSON Lines instead, one article object per line (jq -c '.[]' turns the one "
    "into the other), or a folder of markdown files"
)


def is_markdown_file(path: Path) -> bool:
    return path.suffix.lower() in MARKDOWN_SUFFIXES


def markdown_files(folder: Path) -> list[Path]:
    """The markdown files of a folder and its subfolders that kb_import reads, in order: not the hidden
    ones (".trash/", ".github/", macOS's "._name.md" companions of a zip), which hold no articles of ours."""
    return [
        file
        for file in sorted(folder.rglob("*"))
        if is_markdown_file(file)
        and not file.is_dir()
        and not any(part.startswith(".") for part in file.relative_to(folder).parts)
    ]


def _records(path: Path):
    """(source, record or error) for every article in a folder of .md files, one .md file or a .jsonl
    file."""
    if path.is_dir() and (path / CATEGORIES_FILE).is_file():
        yield from _records(path / CATEGORIES_FILE)
    if path.is_dir() or is_markdown_file(path):
        # A folder named like a file ("drafts.md") is walked for its files, not read as one.
        files = markdown_files(path) if path.is_dir() else [path]
        if path.is_dir() and not files:
            raise NoArticleFiles(NO_ARTICLE_FILES.format(folder=path))
        root = path.resolve()
        for file in files:
            source = file.relative_to(path).as_posix() if path.is_dir() else file.name
            # A link unpacked from an archive could publish any file this process may read.
            if path.is_dir() and not file.resolve().is_relative_to(root):
                yield source, ValueError(OUTSIDE_FOLDER)
                continue
            try:
                meta, body = parse_front_matter(_decode(file.read_bytes()))
            except ValueError as error:
                yield source, error
                continue
            except OSError as error:  # a link to nothing, a file we may not read
                yield source, ValueError(f"cannot be read: {error.strerror or error}")
                continue
            yield source, {**meta, "body": body, "slug": meta.get("slug") or file.stem}
        return
    # Bytes, decoded line by line: one line that is not UTF-8 is skipped, not the rest of the file.
    with path.open("rb") as lines:
        # A JSON array written out over lines ("[", "{...},", "{...}", "]") would import its last record
        # alone (every other line ends in a comma): refused whole, and said what to give instead.
        if lines.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
            yield path.name, ValueError(JSON_ARRAY)
            return
        lines.seek(0)
        for number, raw in enumerate(lines, start=1):
            source = f"line {number}"
            try:
                line = _decode(raw)
            except ValueError as error:
                yield source, error
                continue
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("not a JSON object")
            except ValueError as error:
                yield source, ValueError(f"invalid JSON: {error}")
                continue
            except RecursionError:
                yield source, ValueError("invalid JSON: nested too deeply")
                continue
            yield source, record


@dataclass
class _Incoming:
    """One record, checked: what the article should look like."""

    slug: str
    status: str
    status_named: bool
    fields: dict
    category: str | None
    category_slug: str | None
    # Where the category sits, root first (an export's, to rebuild the tree in an empty database).
    category_parents: list[tuple[str, str]] = field(default_factory=list)  # (slug, name)
    old_slugs: list[str] = field(default_factory=list)
    dates: dict[str, datetime] = field(default_factory=dict)  # DATE_KEYS the record gives
    category_named: bool = True  # else the article's category stays as it is


def _incoming(record: dict, default_status: str) -> _Incoming:
    """The record's article, or ValueError naming what is wrong with it."""
    for name in ("title", "slug", "status", "visibility"):
        # A number reads as its digits; a list or an object would be stored as its Python spelling.
        if isinstance(record.get(name), list | dict):
            raise ValueError(NOT_TEXT.format(name=name))
    title, body = str(record.get("title") or "").strip(), record.get("body")
    if not title or not isinstance(body, str) or not body.strip():
        raise ValueError(REQUIRED)
    tags = record.get("tags") or ""
    if isinstance(tags, list):
        tags = ", ".join(_text_list(record, "tags"))
    elif not isinstance(tags, str):  # {"a": 1} would be stored as the tag "{'a': 1}"
        raise ValueError(NOT_LIST.format(name="tags"))
    excerpt = record.get("excerpt") or ""
    if not isinstance(excerpt, str):
        raise ValueError(NOT_TEXT.format(name="excerpt"))
    category = record.get("category")
    if category is not None and not isinstance(category, str):
        raise ValueError(NOT_TEXT.format(name="category"))
    category = category.strip() if category is not None else None
    category_slug = record.get("category_slug")
    category_slug = _as_slug(category_slug, 100) if isinstance(category_slug, str) else None
    for name, value in (("title", title), ("body", body), ("excerpt", excerpt), ("tags", tags),
                        ("category", category or "")):  # fmt: skip
        if "\x00" in value:
            raise ValueError(HAS_NUL.format(name=name))
        if surrogate := SURROGATE.search(value):
            raise ValueError(HAS_SURROGATE.format(name=name, code=ord(surrogate.group())))
    status = str(record.get("status") or default_status).strip().lower()  # "Published" as "published"
    if status not in STATUSES:
        raise ValueError(UNKNOWN_STATUS.format(status=status))
    # Cut, then trimmed as the article's title is stored: or every import of it reads as a change. The
    # body loses its blank lines before and whitespace after, as in the editor: a markdown file cannot
    # tell its body's leading blank lines from the one after its front matter.
    body = markdown_trimmed(body)
    if len(one_line(nfc(title))) > 200:
        raise ValueError(TITLE_TOO_LONG.format(length=len(one_line(nfc(title)))))
    fields = {"title": title, "body": body}
    # A record that leaves tags or the category out leaves the article's as they are, as it does its
    # status, visibility and excerpt; an empty value ("tags": [], "category": null) clears them.
    if "tags" in record:
        fields["tags"] = tags
    visibility = str(record.get("visibility") or "").strip().lower()
    if visibility:
        if visibility not in VISIBILITIES:
            raise ValueError(UNKNOWN_VISIBILITY.format(visibility=visibility))
        fields["visibility"] = visibility
    if excerpt:
        fields["excerpt"] = excerpt
    # A slug as the site writes them (an export's, or one an administrator chose, "Reset_Password") is
    # kept as it is, so the record finds its article; anything else is made one. A title slugify()
    # cannot spell ("Пароль") gets a slug from its digest: the same on every import.
    slug = _as_slug(str(record.get("slug") or ""), 200) or slug_for(title)
    parent_slugs = _text_list(record, "category_parent_slugs")
    parent_names = _text_list(record, "category_parents")
    if parent_slugs:
        parent_names = [*parent_names, *[""] * len(parent_slugs)][: len(parent_slugs)]
        parents = [
            (_as_slug(parent_slug, 100), (name.strip() or parent_slug)[:100])
            for parent_slug, name in zip(parent_slugs, parent_names, strict=True)
            if _as_slug(parent_slug, 100)
        ]
    else:  # by name alone, as a file written by hand names them
        parents = [("", name.strip()[:100]) for name in parent_names if name.strip()]
    old_slugs = [
        old for value in _text_list(record, "old_slugs") if (old := _as_slug(value, 200)) and old != slug
    ]
    dates = {name: _past_time(record, name) for name in DATE_KEYS if record.get(name)}
    return _Incoming(
        slug, status, bool(record.get("status")), fields, category, category_slug or None, parents, old_slugs,
        dates, category_named="category" in record or "category_slug" in record,
    )  # fmt: skip


def _past_time(record: dict, name: str) -> datetime:
    value = record[name]
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment)  # in the site's time zone, as the site shows it
    if moment is None or not EARLIEST_TIME <= moment <= timezone.now():
        raise ValueError(NOT_A_TIME.format(name=name))
    return moment


def _text_list(record: dict, key: str) -> list[str]:
    value = record.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(NOT_LIST.format(name=key))
    if any("\x00" in item for item in value):
        raise ValueError(HAS_NUL.format(name=key))
    return value


def _as_slug(value: str, max_length: int) -> str:
    """`value` as it is when it is a slug the site could have written, else slugified ("" for nothing)."""
    value = value.strip()
    if slug_re.match(value) and len(value) <= max_length:
        return value
    return slugify(value)[:max_length].strip("-")


def _category(name: str | None, slug: str | None, parents: list[tuple[str, str]] = ()) -> Category | None:
    """The category a record names. By its slug when the record has one (export writes it: unique and
    stable, where names may repeat), created with the record's name if missing, under its `parents`
    (found or made in turn, root first; a category that exists stays where it is); else by name,
    when exactly one category has it; else a new one from the name. Parents named without slugs (a file
    written by hand) are found by name under the one before, or made, root first, and so is the category."""
    if not slug and name and parents:
        parent = None
        for _, parent_name in parents:
            parent = _category_in(parent, parent_name)
        return _category_in(parent, name)
    if slug:
        parent = None
        for parent_slug, parent_name in parents:
            if parent_slug:
                parent = _category_by_slug(parent_slug, parent_name, parent=parent)
            else:
                parent = _category_in(parent, parent_name)
        return _category_by_slug(slug, name or slug, parent=parent)
    if not name:
        return None
    by_name = list(Category.objects.filter(name__iexact=name)[:2])
    if len(by_name) == 1:
        return by_name[0]
    slug = slug_for(name, prefix="category", max_length=100)
    # "Search" is a fine name for a category, but /kb/search/ is the search page's address.
    return _category_by_slug(f"{slug}-category" if slug in RESERVED_CATEGORY_SLUGS else slug, name)


def _category_in(parent: Category | None, name: str) -> Category:
    """The category named `name` (in any case) directly under `parent`, or a new one there."""
    found = Category.objects.filter(parent=parent, name__iexact=name).order_by("pk").first()
    if found is not None:
        return found
    base = slug_for(name, prefix="category", max_length=90)
    if base in RESERVED_CATEGORY_SLUGS:
        base = f"{base}-category"
    taken = set(Category.objects.filter(slug__startswith=base).values_list("slug", flat=True))
    slug = next(
        candidate for n in itertools.count(1) if (candidate := base if n == 1 else f"{base}-{n}") not in taken
    )

    def found() -> Category | None:
        return Category.objects.filter(parent=parent, name__iexact=name).order_by("pk").first()

    return _category_made(found, name=name, slug=slug, parent=parent)


def _category_by_slug(slug: str, name: str, *, parent: Category | None = None) -> Category:
    category = Category.objects.filter(slug=slug).first()
    return category or _category_made(
        lambda: Category.objects.filter(slug=slug).first(), name=name, slug=slug, parent=parent
    )


# The slugs of the categories made while one article record is applied (see _apply_in_savepoint).
_CATEGORIES_MADE: ContextVar[list[str] | None] = ContextVar("categories_made", default=None)


def _category_made(found, *, name: str, slug: str, parent: Category | None) -> Category:
    """A new category; or, when another import of the same file made it meanwhile (its slug is taken
    when ours is inserted), that one, as `found()` finds it."""
    try:
        with transaction.atomic():
            category = services.category_create(name=name, slug=slug, parent=parent, actor=None)
    except (IntegrityError, ValidationError):
        if (category := found()) is None:
            raise
        return category
    if (made := _CATEGORIES_MADE.get()) is not None:
        made.append(category.slug)
    return category


def _existing(incoming: _Incoming) -> Article | None:
    """The article a record names: by its slug, or by a slug it had before a rename (an export older
    than the rename updates the renamed article instead of bringing a copy back at the old address).
    Else, an article at one of the record's old slugs that has its title or its body: the same article,
    from before a rename this database has not seen (renamed here, not copied). One with neither is
    another article that took the address, and keeps it."""
    if (found := Article.objects.at_address(incoming.slug).first()) is not None or not incoming.old_slugs:
        return found
    title, body = nfc(incoming.fields["title"]), nfc(incoming.fields["body"])
    at_old = Article.objects.filter(slug__in=incoming.old_slugs)
    return at_old.filter(models.Q(title=title) | models.Q(body=body)).order_by("pk").first()


def _apply(incoming: _Incoming, existing: Article | None) -> str:
    """Create or update one article; returns which list of the report it belongs in."""
    fields = dict(incoming.fields)
    if incoming.category_named or existing is None:
        fields["category"] = _category(incoming.category, incoming.category_slug, incoming.category_parents)
    if existing is None:
        created = services.article_create(
            slug=incoming.slug, status=incoming.status, actor=None, **fields, **incoming.dates
        )
        _keep_old_slugs(created, incoming.old_slugs)
        return "created"
    # A record without a status leaves the article's as it is: the default is for new articles only.
    new_status = incoming.status if incoming.status_named and incoming.status != existing.status else None
    if new_status is not None and new_status not in STATUS_SERVICES:
        raise ValidationError(NO_TRANSITION.format(old=existing.status, new=new_status))
    # As the services store them (composed Unicode, tags cleaned): a file from macOS spells "é" as "e"
    # and an accent, which is no change to report.
    stored = {name: nfc(value) if isinstance(value, str) else value for name, value in fields.items()}
    # Title and excerpt on one line, single-spaced, as the services store them: a record holding "A  B"
    # is the article stored as "A B", not a change each time it is imported.
    stored["title"] = one_line(stored["title"])
    if "excerpt" in stored:
        stored["excerpt"] = services.written_excerpt(stored["excerpt"])
    # Tags exported as stored come back as they are: no change, even from before their spelling rules
    # (services.article_update keeps them so, unless something else changes).
    if "tags" in stored:
        stored["tags"] = (
            existing.tags if fields["tags"] == existing.tags else services.clean_tags(stored["tags"])
        )
    # A body that differs only in its line breaks (CRLF from Windows) is the article's: no change, as in
    # the editor.
    stored["body"] = fields["body"] = body_as_stored(stored["body"], existing.body)
    changed = any(getattr(existing, name) != value for name, value in stored.items())
    # Renamed where the record comes from: its old slugs hold this article's address here.
    renamed = existing.slug != incoming.slug and existing.slug in incoming.old_slugs
    if changed or renamed:
        # The record's address, or the one the article has here: an import names its articles by
        # address, so a draft's does not follow a new title.
        existing = services.article_update(
            existing, actor=None, **fields, slug=incoming.slug if renamed else existing.slug
        )
    if new_status is not None:
        STATUS_SERVICES[new_status](existing, actor=None)
    kept = _keep_old_slugs(existing, incoming.old_slugs)
    return "updated" if changed or renamed or new_status or kept else "unchanged"


def _apply_in_savepoint(incoming: _Incoming, existing: Article | None, report: ImportReport) -> str:
    """_apply in a savepoint: whatever the database refuses is undone for this record alone, and the
    transaction stays usable for the next one. An article made at the record's address meanwhile
    (another import of the same file) is updated by it, not reported as taken. The categories the record
    made on its way (a category it names that did not exist) are reported once it is applied."""
    made: list[str] = []
    token = _CATEGORIES_MADE.set(made)
    try:
        try:
            with transaction.atomic():
                outcome = _apply(incoming, existing)
        except ValidationError:
            if existing is not None or (existing := _existing(incoming)) is None:
                raise
            made.clear()  # undone with the savepoint
            with transaction.atomic():
                outcome = _apply(incoming, existing)
    finally:
        _CATEGORIES_MADE.reset(token)
    report.categories_created.extend(made)
    return outcome


def _keep_old_slugs(article: Article, slugs: list[str]) -> bool:
    """Let the record's old addresses redirect to `article` again (an export keeps them), where no
    article uses one now, as its address or an old one of its own; whether any was added."""
    taken = set(Article.objects.filter(slug__in=slugs).values_list("slug", flat=True))
    taken |= set(ArticleSlug.objects.filter(slug__in=slugs).values_list("slug", flat=True))
    free = [slug for slug in dict.fromkeys(slugs) if slug not in taken and slug != article.slug]
    if free:  # readers at those addresses are sent here from now on: the trail says since when
        before = sorted(article.old_slugs.values_list("slug", flat=True))
        ArticleSlug.objects.bulk_create([ArticleSlug(slug=slug, article=article) for slug in free])
        audit.record(
            "update", actor=None, obj=article, changes={"old_slugs": (before, sorted([*before, *free]))}
        )
    return bool(free)


def import_articles(path: Path, *, default_status: str = Article.Status.PUBLISHED) -> ImportReport:
    """Create or update articles by slug. A bad record is reported and skipped; the rest go on."""
    report = ImportReport()
    first_source: dict[str, str] = {}  # slug (the article's current one) -> the record that used it first
    waiting: list[tuple[str, dict]] = []  # category records whose parent has not come yet
    for source, record in _records(path):
        if isinstance(record, Exception):
            report.skipped.append((source, str(record)))
            continue
        if record.get("kind") == "category":
            waiting = _import_categories([*waiting, (source, record)], report)
            continue
        try:
            incoming = _incoming(record, default_status)
        except ValueError as error:
            report.skipped.append((source, str(error)))
            continue
        # Two records for one article (by one slug, or by its slug and one it had before a rename)
        # would silently make the second overwrite the first.
        existing = _existing(incoming)
        key = existing.slug if existing is not None else incoming.slug
        if key in first_source:
            duplicate = DUPLICATE_SLUG.format(slug=incoming.slug, first=first_source[key])
            report.skipped.append((source, duplicate))
            continue
        try:
            outcome = _apply_in_savepoint(incoming, existing, report)
        except (ValidationError, PermissionDenied) as error:
            report.skipped.append((source, "; ".join(getattr(error, "messages", [str(error)]))))
        except DatabaseError as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            report.skipped.append((source, DATABASE_REFUSED.format(error=reason)))
        else:
            # Only a record that was applied claims its article: a refused one made nothing, and a
            # corrected record after it (a file fixed by appending) is the one to import.
            first_source[key] = source
            getattr(report, outcome).append(incoming.slug)
    for source, record in waiting:
        report.skipped.append((source, PARENT_MISSING.format(parent=record["parent_slug"])))
    return report


def _import_categories(waiting: list[tuple[str, dict]], report: ImportReport) -> list[tuple[str, dict]]:
    """Import the category records whose parent is there (each one made may be the parent another
    waits for); those still waiting for theirs, to try again after the next category record."""
    while True:
        still = [
            (source, record) for source, record in waiting if not _import_category(source, record, report)
        ]
        if len(still) == len(waiting):
            return still
        waiting = still


def _import_category(source: str, record: dict, report: ImportReport) -> bool:
    """A category record (an export's tree): made under its parent if missing, the name, description,
    icon and order it gives brought up to the record's if it exists (where it sits stays as it is).
    False, and nothing done, for a new category whose parent does not exist yet."""
    slug = record.get("slug")
    values = {name: record[name] for name in CATEGORY_FIELDS if name in record}
    parent_slug = record.get("parent_slug")
    if (
        not isinstance(slug, str)
        or not _as_slug(slug, 100)
        or not isinstance(values.get("name"), str)
        or not values["name"].strip()
        or not all(isinstance(values.get(name, ""), str) for name in ("description", "icon"))
        or type(values.get("position", 0)) is not int
        or not (parent_slug is None or isinstance(parent_slug, str))
    ):
        report.skipped.append((source, BAD_CATEGORY))
        return True
    slug, values["name"] = _as_slug(slug, 100), values["name"].strip()[:100]
    try:
        with transaction.atomic():
            category = Category.objects.filter(slug=slug).first()
            if category is None:
                parent = Category.objects.filter(slug=parent_slug).first() if parent_slug else None
                if parent_slug and parent is None:
                    return False
                category = _category_by_slug(slug, values["name"], parent=parent)
                outcome = report.categories_created
            else:
                outcome = report.categories_updated
            changed = services.category_update(category, actor=None, **values)
            if changed or outcome is report.categories_created:
                outcome.append(slug)
    except ValidationError as error:
        report.skipped.append((source, "; ".join(error.messages)))
    except DatabaseError as error:
        report.skipped.append((source, DATABASE_REFUSED.format(error=str(error).strip().splitlines()[0])))
    return True


def _category_records(tree: dict[int, Category]) -> list[dict]:
    """Every category as a record, each after its parent."""
    records, done = [], set()

    def add(category: Category) -> None:
        if category.pk in done:
            return
        done.add(category.pk)  # before the parent: a cycle (the admin refuses one) cannot recurse forever
        parent = tree.get(category.parent_id)
        if parent is not None:
            add(parent)
        records.append({
            "kind": "category", "slug": category.slug, "parent_slug": parent.slug if parent else None,
            **{name: getattr(category, name) for name in CATEGORY_FIELDS},
        })  # fmt: skip

    for category in sorted(
        tree.values(), key=lambda category: (category.position, category.name, category.pk)
    ):
        add(category)
    return records


@dataclass
class ExportReport:
    count: int = 0
    removed: list[str] = field(default_factory=list)  # files of an earlier export, for articles gone since
    foreign: list[str] = field(default_factory=list)  # .md files no export wrote, left as they were


def export_articles(path: Path, articles) -> ExportReport:
    """Write articles as JSON Lines (path ends in .jsonl) or as markdown files in the folder `path`,
    with what rebuilds them elsewhere: the category's place in the tree and the old slugs.

    Exported again into the same folder, the files of articles deleted or renamed since are removed (the
    export lists the files it wrote in EXPORT_MARKER), or importing the folder would bring them back;
    other .md files are left alone and reported."""
    report = ExportReport()
    tree = {category.pk: category for category in Category.objects.all()}  # a few rows: one read
    if path.suffix.lower() == ".jsonl":
        # Written beside it and renamed over it once complete: an export that fails half-way (the disk
        # full, the database gone) leaves the previous export as it was.
        with _replacing(path.parent, path.name) as out:
            for record in _category_records(tree):
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            for article in articles:
                out.write(json.dumps(_as_record(article, tree), ensure_ascii=False) + "\n")
                report.count += 1
        return report
    path.mkdir(parents=True, exist_ok=True)
    marker = path / EXPORT_MARKER
    # The files the export before wrote (the marker lists them): only those are the export's to remove.
    # A marker that is not UTF-8 (damaged, or not ours) names no file of ours: nothing is removed.
    ours = set(marker.read_text("utf-8", "replace").splitlines()[1:]) if marker.is_file() else set()
    # Every .md file kb_import would read back, in subfolders too (the export writes only the top level).
    earlier = {file.relative_to(path).as_posix() for file in markdown_files(path) if file.is_file()}
    written = set()
    for article in articles:
        record = {**_as_record(article, tree)}
        record["category"] = record["category"] or ""
        record["category_slug"] = record["category_slug"] or ""
        # Every value quoted: a title starting with [ " or #, or holding ": ", must read back as text.
        values = {
            key: "[" + ", ".join(map(_quoted, record[key])) + "]"
            if key in LIST_KEYS
            else _quoted(record[key])
            for key in FRONT_MATTER_KEYS
        }
        head = "\n".join(f"{key}: {values[key]}" for key in FRONT_MATTER_KEYS)
        _write_in(path, f"{article.slug}.md", f"---\n{head}\n---\n\n{article.body}\n")
        written.add(f"{article.slug}.md")
        report.count += 1
    # Only top-level files are the export's: a marker naming "sub/x.md" (crafted) removes nothing there.
    report.removed = sorted(name for name in (earlier - written) & ours if "/" not in name)
    report.foreign = sorted(earlier - written - set(report.removed))
    for name in report.removed:
        (path / name).unlink()
    categories = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in _category_records(tree))
    _write_in(path, CATEGORIES_FILE, categories)
    header = "Written by manage.py kb_export: the files it wrote, which its next export here replaces."
    _write_in(path, EXPORT_MARKER, "\n".join([header, *sorted(written)]) + "\n")
    return report


@contextmanager
def _replacing(folder: Path, name: str) -> Iterator[IO[str]]:
    """A new file in `folder`, renamed over `name` when the block ends without an error (and removed if
    it raises): a symbolic link left there is replaced, never followed to overwrite a file outside the
    folder, and a reader never sees a half-written file."""
    out = tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=folder, delete=False, suffix=".tmp")  # noqa: SIM115
    try:
        with out:
            yield out
        os.replace(out.name, folder / name)
    except BaseException:
        Path(out.name).unlink(missing_ok=True)
        raise


def _write_in(folder: Path, name: str, text: str) -> None:
    """Write the file `name` in `folder` through a new file renamed over it (_replacing)."""
    with _replacing(folder, name) as out:
        out.write(text)


def _as_record(article: Article, tree: dict[int, Category]) -> dict:
    parents = []
    category = tree.get(article.category_id)
    while category is not None and category.parent_id is not None and len(parents) < len(tree):
        category = tree[category.parent_id]
        parents.insert(0, category)
    return {
        "slug": article.slug,
        "title": article.title,
        "body": article.body,
        # Only one written by hand: one taken from the body follows the body as edited in the file.
        "excerpt": "" if services.excerpt_is_automatic(article) else article.excerpt,
        "category": article.category.name if article.category_id else None,
        "category_slug": article.category.slug if article.category_id else None,
        "category_parents": [parent.name for parent in parents],
        "category_parent_slugs": [parent.slug for parent in parents],
        "tags": article.tag_list,
        "status": article.status,
        "visibility": article.visibility,
        "old_slugs": sorted(old.slug for old in article.old_slugs.all()),
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "updated_at": article.last_updated.isoformat(),  # when its words were written
    }
