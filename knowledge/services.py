"""Writes to the knowledge base: authoring, the review workflow, verification and votes; the checks on
article links in ticket replies."""

import hashlib
import html
import re
from datetime import datetime
from urllib.parse import urlsplit
from uuid import UUID

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.http.request import split_domain_port, validate_host
from django.utils import timezone
from django.utils.html import strip_tags

import audit
from accounts import rbac
from helpdesk.display import cut
from helpdesk.forms import as_tag, nfc, one_line, shows_text
from helpdesk.markdown import render_markdown
from knowledge.models import Article, ArticleFeedback, ArticleRevision, ArticleSlug, Category
from knowledge.slugs import slug_for

NOT_EDITOR = "Only editors may do that."
NOT_AUTHOR = "Your role does not let you write articles."
NOT_YOUR_DRAFT = "Authors may edit their own drafts; published articles need an editor."
SLUG_TAKEN = "Another article already uses the address {slug!r}."
NOT_DELETABLE = (
    "An article once published is archived, not deleted: its address may be linked anywhere. Once it is "
    "archived, an administrator may delete it for good."
)
STALE_ARTICLE = (
    "Someone changed this article since you opened it. Copy your text, reload the page to see their "
    "change, then try again."
)
CREATED_ALREADY = (
    "This page saved the article “{title}” already, and your text here is not it: it was not saved. Copy "
    "it, then change that article or start a new one."
)
VERIFY_UNPUBLISHED = "Only published articles can be marked verified."
NOTE_MAX_LENGTH = 1000
NOTE_TOO_LONG = f"A note to the author may have at most {NOTE_MAX_LENGTH:,} characters."
NO_VOTER = "A vote needs a signed-in user or a browser session."
INTERNAL_ARTICLE_IN_REPLY = (
    "A public reply cannot link to internal articles ({titles}): customers cannot open them. "
    "Link a public article, or send this as an internal note."
)
UNPUBLISHED_ARTICLE_IN_REPLY = (
    "A public reply cannot link to articles that are not published ({titles}): customers cannot open "
    "them. Link a published article, or send this as an internal note."
)
LINKED_FROM_PUBLIC = (
    "Published public articles link to this one ({titles}): made internal, it would send their readers to "
    "a page they cannot open. Remove those links first, or make those articles internal too."
)
INTERNAL_ARTICLE_IN_ARTICLE = (
    "A published public article cannot link to internal articles ({titles}): customers cannot open them, "
    "and their addresses name them. Remove those links, or make this article internal."
)
UNPUBLISHED_ARTICLE_IN_ARTICLE = (
    "A published public article cannot link to articles that are not published ({titles}): customers "
    "cannot open them. Publish those first, or remove the links."
)

AUTHOR = "knowledge.add_article"
EDITOR = "knowledge.change_article"
PUBLISHER = "knowledge.publish_article"
VERIFIER = "knowledge.verify_article"
TITLE_REQUIRED = "An article needs a title that shows."
BODY_REQUIRED = (
    "An article needs text that shows: this one reads as nothing on its page (only invisible characters, "
    "an empty heading or blank entities such as &nbsp;)."
)


BODY_MAX_LENGTH = 200_000
BODY_TOO_LONG = "An article's text holds at most {limit:,} characters; this one has {length:,}."


def body_length_problem(body: str) -> str:
    """Why `body` is too long to be an article's text, or "": counted as stored (composed) and as a
    reader counts it, each line break one character (browsers send them as two)."""
    length = len(nfc(body).replace("\r\n", "\n"))
    return BODY_TOO_LONG.format(limit=BODY_MAX_LENGTH, length=length) if length > BODY_MAX_LENGTH else ""


def article_html(body: str) -> str:
    """An article's page from its markdown: a page of its own, so its headings are link targets."""
    return render_markdown(body, heading_ids=True)


def shows_on_its_page(body_html: str) -> bool:
    """Whether an article's rendered text shows anything: text once tags and entities are read, or an
    image. A lone "##" renders as nothing, "&nbsp;" or "&#8203;" as blanks."""
    return "<img" in body_html or shows_text(html.unescape(strip_tags(body_html)))


def _excerpt(body_html: str) -> str:
    """The start of the article as its page reads (from the rendered body: no link addresses, code
    marks or "#" of headings, and "C#" left alone), for lists and search."""
    return _shortened(html.unescape(strip_tags(body_html)))


def written_excerpt(text: str) -> str:
    """An excerpt as typed, stored as a title is (on one line, without direction controls); one that
    shows nothing (zero-width spaces) is none, and the body's start is taken instead."""
    return one_line(text) if shows_text(text) else ""


def _markdown_excerpt(body: str) -> str:
    """How excerpts were taken before they came from the rendered body: an article's excerpt that reads
    so was taken automatically, and follows its body too."""
    return _shortened(body.replace("#", " ").replace("*", " "))


def excerpt_is_automatic(article: Article) -> bool:
    """Whether the article's excerpt was taken from its body (and follows it), not written by hand."""
    return article.excerpt in (_excerpt(article.body_html), _markdown_excerpt(article.body))


def _shortened(text: str) -> str:
    text = " ".join(text.split())
    return cut(text, 297) + "…" if len(text) > 300 else text


def _may_edit(article: Article, actor) -> bool:
    if actor is None or rbac.has_permission(actor, EDITOR):
        return True
    return (
        rbac.has_permission(actor, AUTHOR)
        and article.author_id == actor.pk
        and article.status in (Article.Status.DRAFT, Article.Status.REVIEW)
    )


def unique_slug(title: str, *, exclude_pk: int | None = None) -> str:
    base = slug_for(title, max_length=180)
    slug, number = base, 2
    while (
        Article.objects.filter(slug=slug).exclude(pk=exclude_pk).exists()
        or ArticleSlug.objects.filter(slug=slug).exclude(article_id=exclude_pk).exists()
    ):
        slug, number = f"{base}-{number}", number + 1
    return slug


@transaction.atomic
def article_create(
    *, title: str, body: str, actor, category: Category | None = None, tags: str = "", excerpt: str = "",
    visibility: str = Article.Visibility.PUBLIC, slug: str = "", status: str = Article.Status.DRAFT,
    published_at: datetime | None = None, updated_at: datetime | None = None,
    submission_key: UUID | None = None,
) -> Article:  # fmt: skip
    """A new article. `published_at` and `updated_at` are the dates of an article brought from another
    knowledge base (kb_import): readers see when it was written, not when it moved; by default now. A
    repeated `submission_key` (the editor's page saved twice) returns the article the first one made."""
    if actor is not None and not rbac.has_permission(actor, AUTHOR):
        raise PermissionDenied(NOT_AUTHOR)
    if submission_key is not None:
        if (first := _submitted_before(submission_key, actor)) is not None:
            if (first.title, first.body) != (one_line(nfc(title)), nfc(body)):
                # The page sent again with other words (Back, then Save): they would be lost on the way
                # to the first article.
                raise ValidationError(CREATED_ALREADY.format(title=first.title))
            first.repeated_submission = True
            return first
        if Article.objects.filter(submission_key=submission_key).exists():
            submission_key = None  # someone else's page (a forged key): theirs is never handed out
    # Publishing and archiving are an editor's, from the start as later: an author begins a draft, or
    # one sent for review.
    editorial = status not in (Article.Status.DRAFT, Article.Status.REVIEW)
    if editorial and actor is not None and not rbac.has_permission(actor, PUBLISHER):
        raise PermissionDenied(NOT_EDITOR)
    title, body, excerpt, tags = nfc(title), nfc(body), nfc(excerpt), nfc(tags)  # as searches are typed
    if not shows_text(title):  # an empty heading, and links to it with no name
        raise ValidationError({"title": TITLE_REQUIRED})
    if problem := body_length_problem(body):  # every way in (the editor, the admin, kb_import) alike
        raise ValidationError({"body": problem})
    if not shows_on_its_page(body_html := article_html(body)):
        raise ValidationError({"body": BODY_REQUIRED})
    article = Article(
        title=one_line(title), body=body, body_html=body_html,
        excerpt=written_excerpt(excerpt) or _excerpt(body_html),
        category=category, tags=clean_tags(tags), visibility=visibility, author=actor, created_by=actor,
        updated_by=actor, slug=slug or unique_slug(title), status=status,
        search_config=settings.KB_SEARCH_CONFIG,
        published_at=(published_at or timezone.now()) if status == Article.Status.PUBLISHED else published_at,
        updated_at=(updated_at := updated_at or timezone.now()), content_updated_at=updated_at,
        submission_key=submission_key,
    )  # fmt: skip
    article.full_clean(exclude=["search_vector"])
    _require_public_links(article)
    if (first := _save_new(article, slug_given=bool(slug))) is not None:
        return first
    _take_address(article)
    created = {name: getattr(article, name) for name in (*CREATED_FIELDS, "status")}
    audit.record(
        "create",
        actor=actor,
        obj=article,
        changes={name: (None, value) for name, value in created.items() if value not in (None, "")},
    )
    if status == Article.Status.PUBLISHED:
        _keep_revision(article, actor)
    return article


def _take_address(article: Article) -> None:
    """A published public article takes over the address another one used to have: that one's old links
    now lead here. A draft at it is read by nobody yet, and an internal one by agents only, so until then
    they still lead there for those who cannot read this one (an article at its own slug comes before
    one that had it: see ArticleQuerySet.at_address)."""
    if article.status == Article.Status.PUBLISHED and article.visibility == Article.Visibility.PUBLIC:
        ArticleSlug.objects.filter(slug=article.slug).exclude(article=article).delete()


def _submitted_before(submission_key: UUID, actor) -> Article | None:
    return Article.objects.filter(submission_key=submission_key, author=actor).first()


def _save_new(article: Article, *, slug_given: bool) -> Article | None:
    """Insert `article`. Another one may take its address between the check and the insert (a
    double-clicked Save): a chosen address is then refused with a reason, one made from the title
    moves on to the next free one. The same page saved twice at once: the article the other request
    made is returned, and nothing is inserted."""
    for _ in range(5):
        try:
            with transaction.atomic():
                article.save()
            return None
        except IntegrityError:
            key = article.submission_key
            if key is not None and (first := _submitted_before(key, article.author)) is not None:
                first.repeated_submission = True
                return first
            if not Article.objects.filter(slug=article.slug).exists():
                raise
            if slug_given:
                raise ValidationError({"slug": SLUG_TAKEN.format(slug=article.slug)}) from None
            article.slug = unique_slug(article.title)
    raise ValidationError({"slug": SLUG_TAKEN.format(slug=article.slug)})


@transaction.atomic
def category_create(*, name: str, slug: str, actor, parent: Category | None = None) -> Category:
    """A new category (kb_import makes the ones its records name; the admin has its own audited form)."""
    category = Category(name=name[:100], slug=slug, parent=parent)
    category.full_clean()  # a slug such as "search" would hide the category behind /kb/search/
    category.save()
    audit.record(
        "create", actor=actor, obj=category, changes={"name": (None, category.name), "slug": (None, slug)}
    )
    return category


@transaction.atomic
def category_update(category: Category, *, actor, **changes) -> list[str]:
    """Set the category's name, description, icon or position (kb_import brings an export's tree up to
    date this way); the names of the fields that changed, audited if any."""
    changed = {
        name: (getattr(category, name), value)
        for name, value in changes.items()
        if getattr(category, name) != value
    }
    for name, (_, value) in changed.items():
        setattr(category, name, value)
    if changed:
        category.full_clean()
        category.save(update_fields=list(changed))
        audit.record("update", actor=actor, obj=category, changes=changed)
    return list(changed)


TAGS_MAX_LENGTH = 300  # the tags as stored, comma-separated


TAG_MAX_LENGTH = 40


def tag_names(tags: str, *, cut: bool = True) -> list[str]:
    """The tags of a comma-separated text, each as tickets' are (as_tag: one spelling however typed) and
    at most TAG_MAX_LENGTH characters (unless not `cut`), without duplicates or blank ones, in the order
    typed."""
    names = []
    for name in tags.split(","):
        name = as_tag(name)
        if cut:  # without the space the cut may end on (or it reads back as another tag)
            name = name[:TAG_MAX_LENGTH].strip()
        if shows_text(name) and name not in names:  # a zero-width space alone is a badge with nothing on it
            names.append(name)
    return names


def tags_problem(tags: str) -> str | None:
    """Why the editor refuses tags as typed, if it does: one longer than TAG_MAX_LENGTH, or more than
    TAGS_MAX_LENGTH characters in all, counted as stored (an import keeps what fits instead)."""
    names = tag_names(tags, cut=False)
    if any(len(name) > TAG_MAX_LENGTH for name in names):
        return f"Each tag is at most {TAG_MAX_LENGTH} characters."
    if len(", ".join(names)) > TAGS_MAX_LENGTH:
        return f"Tags are at most {TAGS_MAX_LENGTH} characters in all; remove some."
    return None


def clean_tags(tags: str) -> str:
    """Tags as stored: tag_names, comma-separated, whole tags up to TAGS_MAX_LENGTH characters (a cut one
    would not be the tag the author gave; the editor refuses more, an import keeps what fits)."""
    kept, length = [], 0
    for name in tag_names(tags):
        length += len(name) + (2 if kept else 0)
        if length > TAGS_MAX_LENGTH:
            break
        kept.append(name)
    return ", ".join(kept)


def _keep_revision(article: Article, actor) -> None:
    ArticleRevision.objects.create(article=article, title=article.title, body=article.body, created_by=actor)


@transaction.atomic
def article_update(
    article: Article, *, actor, loaded_at: datetime | None = None, submission_key: UUID | None = None,
    **changes,
) -> Article:  # fmt: skip
    """Edit fields; a new slug keeps the old one redirecting; editing a published article keeps a revision.
    A save that changes nothing writes nothing (no revision, no audit event, updated_at as it was).

    With `loaded_at` (the article's updated_at when the editor opened it), a save from a page that is
    out of date is refused instead of overwriting someone else's change, unless it is the page that made
    that change (its `submission_key`) sent again with the same text: a double-clicked Save."""
    article = Article.objects.select_for_update(no_key=True).get(pk=article.pk)
    if not _may_edit(article, actor):
        raise PermissionDenied(NOT_YOUR_DRAFT)
    stale = loaded_at is not None and article.updated_at != loaded_at  # refused below, after a repeat
    stored_key = article.submission_key
    allowed = {"title", "body", "excerpt", "category", "tags", "visibility", "slug"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}")
    before = {name: getattr(article, name) for name in changes}
    stored = _editable_values(article)
    published_text = ArticleRevision(
        article=article, title=article.title, body=article.body, created_by_id=article.updated_by_id,
        created_at=article.published_at or article.updated_at,
    )  # fmt: skip
    old_excerpt, stored_body = article.excerpt, article.body
    automatic_excerpt = excerpt_is_automatic(article)
    new_slug = changes.pop("slug", None)
    if "title" in changes and not shows_text(changes["title"]):
        raise ValidationError({"title": TITLE_REQUIRED})
    # A new text only: one stored before the limit, sent back as it is, is no reason to refuse a title.
    if (
        "body" in changes
        and changes["body"] != article.body
        and (problem := body_length_problem(changes["body"]))
    ):
        raise ValidationError({"body": problem})
    # Tags stored before their spelling rules and sent back as they are: respelled with a real edit, but
    # on their own no edit (as the body's line breaks: an untouched save writes nothing).
    tags_as_stored = "tags" in changes and changes["tags"] == article.tags
    if "tags" in changes:
        changes["tags"] = clean_tags(changes["tags"])
    if "title" in changes:  # stored as article_create stores it
        changes["title"] = one_line(changes["title"])
    if changes.get("excerpt", old_excerpt) != old_excerpt:  # one sent back as it is stays as it is
        changes["excerpt"] = written_excerpt(changes["excerpt"])
    for name, value in changes.items():
        setattr(article, name, nfc(value) if isinstance(value, str) else value)
    if "body" in changes:
        article.body_html = article_html(article.body)
        if article.body != stored_body and not shows_on_its_page(article.body_html):
            raise ValidationError({"body": BODY_REQUIRED})
    # An empty excerpt takes the start of the body. One that had been taken from the old body follows
    # the new body, whether the editor sent it back unchanged or the caller left it out (restoring a
    # revision, the admin, an import); a written one stays, as revisions do not keep excerpts.
    rewritten = "excerpt" in changes and article.excerpt != old_excerpt
    follows_body = "body" in changes and not rewritten and automatic_excerpt
    if not article.excerpt or follows_body:
        article.excerpt = _excerpt(article.body_html)
    if (
        new_slug is None
        and article.published_at is None
        and article.title != before.get("title", article.title)
    ):
        # Never published, its address is the editors' only: it follows the title, so that the words of a
        # first working title do not stay in the address readers will see (the old one still leads here).
        new_slug = unique_slug(article.title, exclude_pk=article.pk)
        before["slug"] = article.slug  # in the audit event, as an address changed by hand is
    if new_slug and new_slug != article.slug:
        if Article.objects.filter(slug=new_slug).exclude(pk=article.pk).exists():
            raise ValidationError({"slug": SLUG_TAKEN.format(slug=new_slug)})
        # Its address stays its old one, unless another article's old links lead there still (this one,
        # unpublished, never took them: _take_address).
        ArticleSlug.objects.get_or_create(slug=article.slug, defaults={"article": article})
        article.slug = new_slug
        _take_address(article)
    if tags_as_stored and {**_editable_values(article), "tags": stored["tags"]} == stored:
        article.tags = stored["tags"]  # nothing but their spelling would change
    if _editable_values(article) == stored:
        # The same page sent again (a double-clicked Save) finds its own save: said as that one was.
        article.repeated_submission = stale and submission_key is not None and submission_key == stored_key
        return article
    if stale:
        # The excerpt aside: the first save moved an automatic one along with the body.
        repeated = submission_key is not None and submission_key == stored_key
        if not repeated or {**_editable_values(article), "excerpt": stored["excerpt"]} != stored:
            raise ValidationError(STALE_ARTICLE)
        saved = Article.objects.get(pk=article.pk)
        saved.repeated_submission = True  # saved by the first sending: said as that one was
        return saved
    article.updated_by = actor
    if submission_key is not None and not Article.objects.filter(submission_key=submission_key).exists():
        article.submission_key = submission_key  # (one another article holds: a forged page's, ignored)
    article.updated_at = timezone.now()
    if any(getattr(article, name) != stored[name] for name in CONTENT_FIELDS):
        article.content_updated_at = article.updated_at
    changed = {
        name: (before[name], getattr(article, name))
        for name in before
        if before[name] != getattr(article, name)
    }
    if article.excerpt != old_excerpt:  # one that follows the body changes with it, asked for or not
        changed["excerpt"] = (old_excerpt, article.excerpt)
    # A verification vouches for the words that were read: new words need a new one.
    if article.verified_at is not None and {"title", "body"} & set(changed):
        changed["verified_at"] = (article.verified_at, None)
        article.verified_by, article.verified_at = None, None
    article.full_clean(exclude=["search_vector"])
    if {"body", "visibility"} & set(changed):  # new links, or readers who could not open the old ones
        _require_public_links(article)
    if changed.get("visibility") == (Article.Visibility.PUBLIC, Article.Visibility.INTERNAL):
        _require_no_public_links_to(article)
    try:
        with transaction.atomic():  # another article may take the new address since the check above
            article.save()
    except IntegrityError:
        if new_slug and Article.objects.filter(slug=article.slug).exclude(pk=article.pk).exists():
            raise ValidationError({"slug": SLUG_TAKEN.format(slug=article.slug)}) from None
        raise
    if "visibility" in changed:  # made public, it takes the address it stands at, as on publishing
        _take_address(article)
    audit.record("update", actor=actor, obj=article, changes=changed)
    text_changed = (published_text.title, published_text.body) != (article.title, article.body)
    if article.status == Article.Status.PUBLISHED and text_changed:  # a version is a title and a body
        # Published without a version kept (loaded from fixtures, saved before versions were kept): the
        # text being replaced is kept first, or no one could put it back.
        if not article.revisions.exists():
            published_text.save()
        _keep_revision(article, actor)
    return article


# What readers read: a change to one of these moves the article's "Last updated" (content_updated_at).
CONTENT_FIELDS = ("title", "body", "excerpt", "tags")
# What a new article's create event names, as an update names what it changed.
CREATED_FIELDS = ("title", "slug", "body", "excerpt", "category", "tags", "visibility")


def _editable_values(article: Article) -> dict:
    return {name: getattr(article, name) for name in ("title", "body", "excerpt", "category_id", "tags",
                                                      "visibility", "slug")}  # fmt: skip


# Where an article may go from each status. A published article is edited in place (each published
# text kept as a revision), so it never goes back to review or draft: that would take it off the site
# unnoticed. One in review goes back to draft when its reviewer asks for changes or its author withdraws
# it; an archived one, when an editor takes it up again.
STATUS_TRANSITIONS = {
    Article.Status.DRAFT: {Article.Status.REVIEW, Article.Status.PUBLISHED, Article.Status.ARCHIVED},
    Article.Status.REVIEW: {Article.Status.DRAFT, Article.Status.PUBLISHED, Article.Status.ARCHIVED},
    Article.Status.PUBLISHED: {Article.Status.ARCHIVED},
    Article.Status.ARCHIVED: {Article.Status.DRAFT, Article.Status.PUBLISHED},
}
STATUS_REFUSED = "This {old} article cannot be {done}."
STATUS_DONE = {Article.Status.REVIEW: "sent for review", Article.Status.PUBLISHED: "published",
               Article.Status.ARCHIVED: "archived", Article.Status.DRAFT: "made a draft"}  # fmt: skip


def article_actions(article: Article, actor) -> list[str]:
    """What `actor` may do to `article` now: "edit" (save its text: editors always, authors their own
    drafts), then the status actions (names of the editor's buttons), and "delete" (article_may_delete)."""
    offered = STATUS_TRANSITIONS[article.status]
    may_edit = _may_edit(article, actor)
    actions = ["edit"] if may_edit else []
    if Article.Status.REVIEW in offered and may_edit:
        actions.append("submit")
    if Article.Status.DRAFT in offered and _may_return_to_draft(article, actor):
        actions.append("draft")
    if rbac.has_permission(actor, PUBLISHER):
        moves = (("publish", Article.Status.PUBLISHED), ("archive", Article.Status.ARCHIVED))
        actions += [name for name, status in moves if status in offered]
    if rbac.has_permission(actor, VERIFIER) and article.status == Article.Status.PUBLISHED:
        actions.append("verify")
    if article_may_delete(article, actor):
        actions.append("delete")
    return actions


def _set_status(
    article: Article, status: str, *, actor, permission: str | None, note: str = "",
    loaded_at: datetime | None = None,
) -> Article:  # fmt: skip
    """With `loaded_at` (the article's updated_at on the page that asked), a change made since is not
    published, archived or sent on unread: the move is refused (STALE_ARTICLE)."""
    if permission and actor is not None and not rbac.has_permission(actor, permission):
        raise PermissionDenied(NOT_EDITOR)
    article = Article.objects.select_for_update(no_key=True).get(pk=article.pk)
    if (
        loaded_at is not None
        and article.updated_at > loaded_at
        and article.status == status
        and article.updated_by_id == getattr(actor, "pk", None)
        and article.review_note == note
    ):
        return article  # the same move sent twice (a double-clicked button): made once, by the first
    if loaded_at is not None and article.updated_at != loaded_at:
        raise ValidationError(STALE_ARTICLE)
    if status not in STATUS_TRANSITIONS[article.status]:
        raise ValidationError(
            STATUS_REFUSED.format(old=article.get_status_display().lower(), done=STATUS_DONE[status])
        )
    if status == Article.Status.PUBLISHED and not shows_on_its_page(article.body_html):
        raise ValidationError({"body": BODY_REQUIRED})  # a draft saved before the rule: not for readers
    changes = {"status": (article.status, status)}
    if note or article.review_note:  # the note the author reads, given or taken off
        changes["review_note"] = (article.review_note, note)
    audit.record("update", actor=actor, obj=article, changes=changes)
    article.status = status
    article.updated_by = actor
    article.updated_at = timezone.now()
    if status == Article.Status.PUBLISHED:
        article.published_at = article.published_at or timezone.now()
        _require_public_links(article)
    # The author reads the note on the article's page until it moves on (to review, say): by then it
    # has been answered, and an old note must not stand beside a later request.
    article.review_note = note
    article.review_note_by = actor if note else None
    article.review_note_at = article.updated_at if note else None
    article.save(
        update_fields=["status", "updated_by", "updated_at", "published_at",
                       "review_note", "review_note_by", "review_note_at"]
    )  # fmt: skip
    if status == Article.Status.PUBLISHED:
        _take_address(article)
        _keep_revision(article, actor)
    return article


@transaction.atomic
def article_submit_for_review(article: Article, *, actor, loaded_at: datetime | None = None) -> Article:
    if not _may_edit(article, actor):
        raise PermissionDenied(NOT_YOUR_DRAFT)
    return _set_status(article, Article.Status.REVIEW, actor=actor, permission=None, loaded_at=loaded_at)


@transaction.atomic
def article_publish(article: Article, *, actor, loaded_at: datetime | None = None) -> Article:
    """Publish what the editor read: the author may still edit an article in review, and a page loaded
    before their change (`loaded_at`) would publish words nobody reviewed."""
    return _set_status(
        article, Article.Status.PUBLISHED, actor=actor, permission=PUBLISHER, loaded_at=loaded_at
    )


@transaction.atomic
def article_archive(article: Article, *, actor, loaded_at: datetime | None = None) -> Article:
    return _set_status(
        article, Article.Status.ARCHIVED, actor=actor, permission=PUBLISHER, loaded_at=loaded_at
    )


def _never_published(article: Article) -> bool:
    """An article never published (a draft, in review, or archived as a draft): nobody outside the desk has
    read it."""
    return article.published_at is None


def article_delete_refusal(article: Article, actor) -> str:
    """Why `actor` may not delete `article` ("" when they may). An article never published is its
    author's (theirs to edit) or an editor's to delete. One published is archived instead, as its address
    may be linked anywhere and readers may have voted; an archived one, out of readers' sight already, an
    administrator (whoever holds delete_article: of the standard roles, Administrator) may then delete for
    good (a request to take it down, say)."""
    if _never_published(article):
        return "" if _may_edit(article, actor) else NOT_YOUR_DRAFT
    archived = article.status == Article.Status.ARCHIVED
    may_delete = actor is not None and rbac.has_permission(actor, "knowledge.delete_article")
    return "" if archived and may_delete else NOT_DELETABLE


def article_may_delete(article: Article, actor) -> bool:
    return not article_delete_refusal(article, actor)


@transaction.atomic
def article_delete(article: Article, *, actor, loaded_at: datetime | None = None) -> bool:
    """Delete an article as article_delete_refusal allows, decided on the locked row; with `loaded_at`, not
    when it changed since that page was loaded (its author may just have written more). False when it
    was gone already (a second click, which waited on the first's lock), with nothing recorded."""
    locked = Article.objects.select_for_update().filter(pk=article.pk).first()
    if locked is None:
        return False
    if loaded_at is not None and locked.updated_at != loaded_at:
        raise ValidationError(STALE_ARTICLE)
    if refusal := article_delete_refusal(locked, actor):
        raise PermissionDenied(refusal) if refusal == NOT_YOUR_DRAFT else ValidationError(refusal)
    changes = {"title": (locked.title, None), "slug": (locked.slug, None), "status": (locked.status, None)}
    audit.record("delete", actor=actor, obj=locked, changes=changes)
    locked.delete()
    return True


def _may_return_to_draft(article: Article, actor) -> bool:
    """Editors send any article in review back to its author and take up archived ones; an author may
    withdraw their own article from review."""
    if actor is None or rbac.has_permission(actor, EDITOR):
        return True
    return article.status == Article.Status.REVIEW and _may_edit(article, actor)


@transaction.atomic
def article_return_to_draft(
    article: Article, *, actor, note: str = "", loaded_at: datetime | None = None
) -> Article:
    """Back to draft for more work: an editor asks for changes to an article in review (`note`, saying
    which, is shown to the author on the article's page and kept in the audit event) or takes up an
    archived one; an author withdraws their own
    article from review."""
    note = note.replace("\x00", "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise ValidationError(NOTE_TOO_LONG)
    # Decided on the locked row: the article may have moved on since the page that asked was loaded.
    locked = Article.objects.select_for_update(no_key=True).get(pk=article.pk)
    if not _may_return_to_draft(locked, actor):
        raise PermissionDenied(NOT_EDITOR)
    return _set_status(
        locked, Article.Status.DRAFT, actor=actor, permission=None, note=note, loaded_at=loaded_at
    )


@transaction.atomic
def article_restore_revision(
    article: Article, revision: ArticleRevision, *, actor, loaded_at: datetime | None = None
) -> Article:
    """Put back a published version's title and body (editors only). Revisions keep no excerpt, so a
    written excerpt stays as it is; one taken from the body follows the restored body. With
    `loaded_at`, a restore asked from a page older than the last change is refused: a draft keeps no
    revisions, so the text it would replace could not be got back."""
    # Not an author's to do even on their own reopened draft: the versions are what editors published.
    if actor is None or not rbac.has_permission(actor, EDITOR):
        raise PermissionDenied(NOT_EDITOR)
    if revision.article_id != article.pk:
        raise ValidationError("That revision belongs to another article.")
    return article_update(article, title=revision.title, body=revision.body, actor=actor, loaded_at=loaded_at)


@transaction.atomic
def article_verify(
    article: Article, *, actor, loaded_at: datetime | None = None, verification_seen: str | None = None
) -> Article:
    """Mark a published article as checked by `actor`: a draft's text may still change before anyone
    reads it, so its verification would vouch for words that are not yet there; so would one from a
    page loaded (`loaded_at`) before the last change. Changing the title or body later drops it.
    `verification_seen` is the verified_at that page showed (ISO, "" for none)."""
    if actor is None or not rbac.has_permission(actor, VERIFIER):
        raise PermissionDenied(NOT_EDITOR)
    # One locked read gives the checks and the verification this one replaces.
    earlier = (
        Article.objects.select_for_update(of=("self",), no_key=True)
        .select_related("verified_by")
        .get(pk=article.pk)
    )
    if earlier.status != Article.Status.PUBLISHED:
        raise ValidationError(VERIFY_UNPUBLISHED)
    if loaded_at is not None and earlier.updated_at != loaded_at:
        raise ValidationError(STALE_ARTICLE)
    shown = earlier.verified_at.isoformat() if earlier.verified_at else ""
    if verification_seen is not None and verification_seen != shown:
        # Verified since that page showed its verification, the text as it showed it (a double click, or
        # a colleague at the same moment): vouched for once, not again with a second event.
        return earlier
    now = timezone.now()
    Article.objects.filter(pk=article.pk).update(verified_by=actor, verified_at=now)
    changes = {
        "verified_at": (earlier.verified_at, now),
        "verified_by": (str(earlier.verified_by) if earlier.verified_by else None, str(actor)),
    }
    audit.record("verify", actor=actor, obj=article, changes=changes)
    article.refresh_from_db()
    return article


def session_voter(session_key: str) -> str:
    """How a visitor's votes are stored: a digest of their session key. The key itself would sign in
    as that session for whoever reads the table or a backup of it."""
    return hashlib.sha256(session_key.encode()).hexdigest()


@transaction.atomic
def article_vote(
    article: Article, *, helpful: bool, user=None, session_key: str = "", from_ticket_form=False,
    earlier_voter: str = "",
):  # fmt: skip
    """Record or change a vote. The counters are recomputed from the votes, so they cannot be stuffed. A
    vote once cast from the ticket form stays marked so: "helpful" pressed again on the article page is
    the same visitor saying the same thing, and the deflection stands (it goes if the vote turns).
    `earlier_voter`, the session_voter of the visitor a signed-in user was before signing in: their
    vote then becomes the user's, one person counted once."""
    if user is not None and user.is_authenticated:
        key = {"user": user}
        if earlier_voter:
            as_visitor = ArticleFeedback.objects.filter(article=article, user=None, session_key=earlier_voter)
            if ArticleFeedback.objects.filter(article=article, user=user).exists():
                as_visitor.delete()  # the account's vote stands, the one being cast now
            else:
                as_visitor.update(user=user, session_key="")
    elif session_key:
        key = {"user": None, "session_key": session_voter(session_key)}
    else:
        raise ValidationError(NO_VOTER)
    # Votes on one article queue here: two at once would each count the votes without the other's and
    # the later write would leave one uncounted.
    Article.objects.select_for_update(no_key=True).filter(pk=article.pk).values_list("pk").first()
    try:
        with transaction.atomic():
            ArticleFeedback.objects.update_or_create(
                article=article,
                **key,
                defaults={"helpful": helpful, **({"from_ticket_form": True} if from_ticket_form else {})},
                create_defaults={"helpful": helpful, "from_ticket_form": from_ticket_form},
            )
    except IntegrityError:  # the same voter twice at once: the other request's vote stands
        pass
    article_count_votes(article.pk)


def article_count_votes(article_id: int) -> None:
    """The article's counters, as its votes now stand (knowledge.signals calls it when votes go with a
    deleted account)."""
    totals = ArticleFeedback.objects.filter(article_id=article_id).aggregate(
        yes=Count("pk", filter=Q(helpful=True)),
        no=Count("pk", filter=Q(helpful=False)),
        deflected=Count("pk", filter=Q(helpful=True, from_ticket_form=True)),
    )
    Article.objects.filter(pk=article_id).update(
        helpful_count=totals["yes"], not_helpful_count=totals["no"], deflections=totals["deflected"]
    )


# With or without its trailing slash: both reach the article (APPEND_SLASH). The reading address and the
# editor's, whose address bar agents copy from while they work.
# An article's address in a text: relative (/kb/articles/<slug>, not the end of another site's address
# nor a value in its query, "?next=/kb/…") or absolute, with its host, which _is_own_host then checks.
ARTICLE_ADDRESS = re.compile(
    r"(?:(?:https?:)?//(?P<host>[\w.\[\]:-]+)|(?<![\w.@%:/=&?#-]))/kb/(?:articles|manage)/(?P<slug>[\w-]+)"
)


def _is_own_host(host: str) -> bool:
    """Whether a link's host (with its port, if any) is this site's: SITE_URL's, or one ALLOWED_HOSTS
    serves. Another helpdesk's /kb/articles/<slug> is not ours, whatever slug it has."""
    name = split_domain_port(host.lower())[0]
    own = [
        *settings.ALLOWED_HOSTS,
        *([urlsplit(settings.SITE_URL).hostname or ""] if settings.SITE_URL else []),
    ]
    return bool(name) and validate_host(name, own)


def _linked_slugs(body: str) -> set[str]:
    """The addresses (slugs, current or old) of our articles that `body` links to."""
    return {
        found["slug"]
        for found in ARTICLE_ADDRESS.finditer(body)
        if found["host"] is None or _is_own_host(found["host"])
    }


def _linked_articles(body: str):
    """The articles `body` links to, by their current address or an old one (which redirects)."""
    slugs = _linked_slugs(body)
    if not slugs:
        return Article.objects.none()
    return Article.objects.at_address(*slugs)


def articles_count_uses(body: str) -> int:
    """Count one use for each published article a staff reply links to (called inside ticket_reply): a
    link to a draft or an archived article helps no one, so it is no use of it."""
    linked = _linked_articles(body).values("pk")
    return Article.objects.published().filter(pk__in=linked).update(use_count=F("use_count") + 1)


def internal_article_links(body: str, *, besides: Article | None = None) -> list[str]:
    """Titles of the internal articles `body` links to, by their current or an old address (other than
    `besides`, the article the body is of)."""
    linked = _linked_articles(body).filter(visibility=Article.Visibility.INTERNAL)
    if besides is not None:
        linked = linked.exclude(pk=besides.pk)
    return sorted(set(linked.values_list("title", flat=True)))


def _unpublished_article_links(body: str, *, besides: Article | None = None) -> list[str]:
    """The public articles `body` links to that are not published, each as “title” (status). Internal
    ones are left to internal_article_links, so that no article is named twice."""
    linked = (
        _linked_articles(body)
        .filter(visibility=Article.Visibility.PUBLIC)
        .exclude(status=Article.Status.PUBLISHED)
    )
    if besides is not None:
        linked = linked.exclude(pk=besides.pk)
    return sorted(
        {
            f"“{title}” ({Article.Status(status).label.lower()})"
            for title, status in linked.values_list("title", "status")
        }
    )


def articles_check_public_links(
    body: str, *, article: Article | None = None, internal_refused: str = INTERNAL_ARTICLE_IN_REPLY,
    unpublished_refused: str = UNPUBLISHED_ARTICLE_IN_REPLY,
) -> None:  # fmt: skip
    """Refuse a public reply (or the body of a public `article` as it is published) that links internal
    or unpublished articles: it would show their addresses and titles to the customer and send them to a
    page they cannot open (called inside ticket_reply, for staff replies, and by the article services)."""
    refusals = []
    if internal := internal_article_links(body, besides=article):
        titles = ", ".join(f"“{title}”" for title in internal)
        refusals.append(internal_refused.format(titles=titles))
    if unpublished := _unpublished_article_links(body, besides=article):
        refusals.append(unpublished_refused.format(titles=", ".join(unpublished)))
    if refusals:
        raise ValidationError({"body": refusals})


def _require_no_public_links_to(article: Article) -> None:
    """An article made internal is linked from no published public article (whose readers would follow
    the link to a 404, its address naming it): the rule of _require_public_links, from the other side."""
    slugs = {article.slug, *article.old_slugs.values_list("slug", flat=True)}
    mentions = Q()
    for slug in slugs:  # the text narrows the search; reading each body's links decides
        mentions |= Q(body__contains=f"/kb/articles/{slug}") | Q(body__contains=f"/kb/manage/{slug}")
    candidates = Article.objects.filter(
        mentions, status=Article.Status.PUBLISHED, visibility=Article.Visibility.PUBLIC
    ).exclude(pk=article.pk)
    linking = sorted(
        other.title for other in candidates.only("title", "body") if _linked_slugs(other.body) & slugs
    )
    if linking:
        titles = ", ".join(f"“{title}”" for title in linking)
        raise ValidationError({"visibility": LINKED_FROM_PUBLIC.format(titles=titles)})


def _require_public_links(article: Article) -> None:
    """A published public article links to what its readers can open (articles_check_public_links)."""
    if article.status == Article.Status.PUBLISHED and article.visibility == Article.Visibility.PUBLIC:
        articles_check_public_links(
            article.body,
            article=article,
            internal_refused=INTERNAL_ARTICLE_IN_ARTICLE,
            unpublished_refused=UNPUBLISHED_ARTICLE_IN_ARTICLE,
        )
