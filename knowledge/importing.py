"""Import and export of articles: a folder of markdown files with front matter, or JSON Lines."""

import json
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.text import slugify

from knowledge import services
from knowledge.models import Article, Category

STATUSES = set(Article.Status.values)


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.created)} created, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.skipped)} skipped"
        )


def parse_front_matter(text: str) -> tuple[dict, str]:
    """`---` delimited `key: value` lines at the top of a markdown file, and the body after them."""
    if not text.startswith("---"):
        return {}, text
    head, separator, body = text[3:].partition("\n---")
    if not separator:
        raise ValueError("front matter starts with --- but never ends")
    meta = {}
    for line in head.strip().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, colon, value = line.partition(":")
        if not colon:
            raise ValueError(f"front matter line without a colon: {line.strip()!r}")
        value = value.strip().strip('"').strip("'")
        if value.startswith("[") and value.endswith("]"):
            value = [item.strip().strip('"').strip("'") for item in value[1:-1].split(",") if item.strip()]
        meta[key.strip().lower()] = value
    return meta, body.lstrip("\n")


def _records(path: Path):
    """(source, record or error) for every article in a folder of .md files or a .jsonl file."""
    if path.is_dir():
        for file in sorted(path.rglob("*.md")):
            try:
                meta, body = parse_front_matter(file.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError) as error:
                yield file.name, error
                continue
            yield file.name, {**meta, "body": body, "slug": meta.get("slug") or file.stem}
        return
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("not a JSON object")
            except ValueError as error:
                yield f"line {number}", ValueError(f"invalid JSON: {error}")
                continue
            yield f"line {number}", record


def _category(name) -> Category | None:
    if not name or not isinstance(name, str):
        return None
    slug = slugify(name)[:100]
    if not slug:
        return None
    category, _ = Category.objects.get_or_create(slug=slug, defaults={"name": name.strip()[:100]})
    return category


def import_articles(path: Path, *, default_status: str = Article.Status.PUBLISHED) -> ImportReport:
    """Create or update articles by slug. A bad record is reported and skipped; the rest go on."""
    report = ImportReport()
    for source, record in _records(path):
        if isinstance(record, Exception):
            report.skipped.append((source, str(record)))
            continue
        title, body = str(record.get("title") or "").strip(), record.get("body")
        if not title or not isinstance(body, str) or not body.strip():
            report.skipped.append((source, "a title and a body are required"))
            continue
        tags = record.get("tags") or ""
        tags = ", ".join(map(str, tags)) if isinstance(tags, list) else str(tags)
        status = str(record.get("status") or default_status)
        if status not in STATUSES:
            report.skipped.append((source, f"unknown status {status!r}"))
            continue
        slug = slugify(str(record.get("slug") or title))[:200]
        if not slug:
            report.skipped.append((source, "no usable slug"))
            continue
        fields = {
            "title": title[:200],
            "body": body,
            "tags": tags,
            "category": _category(record.get("category")),
        }
        try:
            existing = Article.objects.filter(slug=slug).first()
            if existing is None:
                services.article_create(slug=slug, status=status, actor=None, **fields)
                report.created.append(slug)
            elif all(getattr(existing, name) == value for name, value in fields.items() if name != "tags"):
                report.unchanged.append(slug)
            else:
                services.article_update(existing, actor=None, **fields)
                report.updated.append(slug)
        except (ValidationError, PermissionDenied) as error:
            report.skipped.append((source, "; ".join(getattr(error, "messages", [str(error)]))))
    return report


def export_articles(path: Path, articles) -> int:
    """Write articles as JSON Lines (path ends in .jsonl) or as markdown files in the folder `path`."""
    count = 0
    if path.suffix == ".jsonl":
        with path.open("w", encoding="utf-8") as out:
            for article in articles:
                out.write(json.dumps(_as_record(article), ensure_ascii=False) + "\n")
                count += 1
        return count
    path.mkdir(parents=True, exist_ok=True)
    for article in articles:
        record = _as_record(article)
        head = "\n".join(
            f"{key}: {value}" for key, value in
            (("title", record["title"]), ("category", record["category"] or ""),
             ("tags", "[" + ", ".join(record["tags"]) + "]"), ("status", record["status"]))
        )  # fmt: skip
        (path / f"{article.slug}.md").write_text(f"---\n{head}\n---\n\n{article.body}\n", encoding="utf-8")
        count += 1
    return count


def _as_record(article: Article) -> dict:
    return {
        "slug": article.slug,
        "title": article.title,
        "body": article.body,
        "category": article.category.name if article.category_id else None,
        "tags": article.tag_list,
        "status": article.status,
    }
