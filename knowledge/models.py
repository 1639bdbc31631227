"""The knowledge base: a category tree, articles with revisions and slug history, and helpful votes."""

from datetime import UTC

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from accounts import rbac
from helpdesk.accents import Unaccented, alphabetical

# /kb/<slug>/ is a category, but these addresses belong to the knowledge base's own pages (urls.py).
RESERVED_CATEGORY_SLUGS = frozenset({"search", "suggest", "articles", "manage"})
RESERVED_CATEGORY_SLUG = "“{slug}” is the address of a knowledge-base page; choose another slug."
CATEGORY_LOOP = (
    "“{name}” cannot be placed inside itself or one of its own subcategories; choose another parent."
)


class CategoryManager(models.Manager["Category"]):
    def get_by_natural_key(self, slug: str) -> "Category":
        return self.get(slug=slug)


class Category(models.Model):
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    icon = models.CharField(
        max_length=40, blank=True, help_text="An emoji or icon name shown beside the name."
    )
    position = models.PositiveSmallIntegerField(default=0)

    objects = CategoryManager()

    class Meta:
        ordering = ["position", *alphabetical("name")]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name

    def natural_key(self) -> tuple[str]:
        return (self.slug,)

    def clean(self) -> None:
        if self.slug in RESERVED_CATEGORY_SLUGS:
            raise ValidationError({"slug": RESERVED_CATEGORY_SLUG.format(slug=self.slug)})
        # A category inside its own subtree has no way up to the top of the tree, so it drops out of
        # the knowledge base's pages.
        if self.pk is not None and self.parent_id is not None:
            # Read under row locks in a transaction (a few rows: the topics): two moves at once, A under
            # B and B under A, would each find no loop in the tree as it stood; the second now waits for
            # the first to commit and sees it.
            tree = Category.objects.order_by("pk")
            if transaction.get_connection().in_atomic_block:
                tree = tree.select_for_update(no_key=True)
            parents = dict(tree.values_list("pk", "parent_id"))
            node, seen = self.parent_id, set()
            while node is not None and node not in seen:  # `seen`: a loop saved before this check
                if node == self.pk:
                    raise ValidationError({"parent": CATEGORY_LOOP.format(name=self.name)})
                seen.add(node)
                node = parents.get(node)

    def ancestors(self) -> list["Category"]:
        """From the top of the tree down to the parent, for breadcrumbs. Parents loaded already
        (select_related) cost nothing; past them one query reads every category, however deep."""
        chain, node, seen, loaded = [], self, {self.pk}, None
        parent_field = Category._meta.get_field("parent")
        while node.parent_id is not None and node.parent_id not in seen:  # `seen`: a loop saved earlier
            if parent_field.is_cached(node):
                parent = node.parent
            else:
                if loaded is None:
                    loaded = {
                        category.pk: category for category in Category.objects.only("parent", "name", "slug")
                    }
                parent = loaded.get(node.parent_id)
                if parent is None:
                    break
            chain.append(parent)
            seen.add(parent.pk)
            node = parent
        return list(reversed(chain))


class ArticleQuerySet(models.QuerySet["Article"]):
    def published(self) -> "ArticleQuerySet":
        return self.filter(status=Article.Status.PUBLISHED)

    def visible_to(self, user) -> "ArticleQuerySet":
        """Published public articles for everyone; internal ones for agents; drafts and reviews for
        their authors and for editors; everything for editors."""
        if rbac.has_permission(user, "knowledge.change_article"):
            return self.all()
        condition = models.Q(status=Article.Status.PUBLISHED, visibility=Article.Visibility.PUBLIC)
        if rbac.is_agent(user):
            condition |= models.Q(status=Article.Status.PUBLISHED) | models.Q(author=user)
        return self.filter(condition)

    def at_address(self, *slugs: str) -> "ArticleQuerySet":
        """The articles at these slugs, current or from before a rename; an article at its own slug
        first (an old slug is given up when a published article takes it; a draft holding it does not
        take it yet)."""
        current = models.Case(models.When(slug__in=slugs, then=0), default=1)
        return self.filter(models.Q(slug__in=slugs) | models.Q(old_slugs__slug__in=slugs)).order_by(current)

    def publicly_listed_to(self, user) -> "ArticleQuerySet":
        """What the public pages list and search: published only, internal ones for agents."""
        published = self.published()
        return published if rbac.is_agent(user) else published.filter(visibility=Article.Visibility.PUBLIC)


class ArticleManager(models.Manager.from_queryset(ArticleQuerySet)):
    def get_by_natural_key(self, slug: str) -> "Article":
        return self.get(slug=slug)


class Article(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        REVIEW = "review", "In review"
        PUBLISHED = "published", "Published"
        ARCHIVED = "archived", "Archived"

    class Visibility(models.TextChoices):
        PUBLIC = "public", "Public"
        INTERNAL = "internal", "Internal (agents only)"

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    body = models.TextField(help_text="Markdown.")
    body_html = models.TextField(editable=False, blank=True)
    excerpt = models.CharField(max_length=300, blank=True)
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="articles"
    )
    tags = models.CharField(max_length=300, blank=True, help_text="Comma-separated.")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="articles"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC)
    published_at = models.DateTimeField(null=True, blank=True)
    views = models.PositiveIntegerField(default=0)
    helpful_count = models.PositiveIntegerField(default=0, editable=False)
    not_helpful_count = models.PositiveIntegerField(default=0, editable=False)
    deflections = models.PositiveIntegerField(
        default=0, editable=False, help_text="Suggested on the ticket form, opened and voted helpful."
    )
    use_count = models.PositiveIntegerField(
        default=0, editable=False, help_text="Linked into ticket replies."
    )
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    # An editor's "request changes" note, shown to the author while the article is back in draft.
    review_note = models.TextField(blank=True, default="", db_default="", editable=False)
    review_note_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        editable=False,
    )  # fmt: skip
    review_note_at = models.DateTimeField(null=True, blank=True, editable=False)
    search_config = models.CharField(max_length=30, default="english", editable=False)
    # Maintained by a trigger (knowledge/migrations/0002): title A, tags and excerpt B, body C.
    search_vector = SearchVectorField(null=True, editable=False)
    # The title's words alone (knowledge/migrations/0012), indexed on their own: a search for a word
    # thousands of articles hold reads the articles with it in their title first, which the weighted
    # vector's index cannot tell apart without reading every row.
    title_vector = SearchVectorField(null=True, editable=False)
    # Its title as an alphabet orders it (helpdesk.accents.alphabetical), stored: lists of thousands of
    # articles are sorted by it, and folding each title in every sort took milliseconds a thousand.
    title_order = models.GeneratedField(
        expression=Lower(Unaccented("title")), output_field=models.TextField(), db_persist=True
    )
    # Of the editor page that made or last saved it: the same page saved twice (a double-clicked Save, a
    # resend) is one article, one save (services.article_create, article_update).
    submission_key = models.UUIDField(
        null=True, blank=True, unique=True, editable=False,
        help_text="The editor page that last saved it: a repeated submission is one save.",
    )  # fmt: skip
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # When its words last changed (title, body, excerpt, tags): the "Last updated" readers see, which a
    # status change (sent for review, archived, published again) does not move. Empty for a row loaded
    # from a fixture without it: its updated_at then.
    content_updated_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Not stored: set on the article article_create or article_update hands back for a page sent again.
    repeated_submission = False

    objects = ArticleManager()

    class Meta:
        ordering = ["title_order", "title"]
        indexes = [
            GinIndex(fields=["search_vector"], name="article_search"),
            GinIndex(fields=["title_vector"], name="article_title_search"),
            models.Index(fields=["status", "visibility", "category"], name="article_listing"),
            models.Index(fields=["status", "-helpful_count", "-views", "title"], name="article_popular"),
            # The manage list and the admin's: the most recently changed first, a page at a time.
            models.Index(fields=["-updated_at", "-id"], name="article_recent"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["draft", "review", "published", "archived"]),
                name="article_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(visibility__in=["public", "internal"]), name="article_visibility_valid"
            ),
        ]
        permissions = [  # seed 001 VIEW_KB … VERIFY_KB
            ("publish_article", "Can publish and archive articles"),
            ("verify_article", "Can mark articles as verified"),
        ]

    def __str__(self) -> str:
        return self.title

    def natural_key(self) -> tuple[str]:
        return (self.slug,)

    @property
    def last_updated(self):
        """When its words last changed, for readers."""
        return self.content_updated_at or self.updated_at

    @property
    def tag_list(self) -> list[str]:
        return [tag.strip() for tag in self.tags.split(",") if tag.strip()]


class SearchTerm(models.Model):
    """How many published articles contain each lexeme, and how many public ones (the row with lexeme ""
    counts the articles).

    Kept exact by statement-level triggers on knowledge_article (knowledge/migrations/0003, 0014), so search
    reads a term's rarity with one index look-up instead of counting matches at query time."""

    lexeme = models.TextField(primary_key=True)
    documents = models.IntegerField()
    # Of those, the public ones: the articles a customer or visitor may read.
    public_documents = models.IntegerField(default=0, db_default=0)

    def __str__(self) -> str:
        return f"{self.lexeme or '(articles)'}: {self.documents}"


class ArticleSlug(models.Model):
    """A slug an article used to have: old links redirect to the article's current address."""

    slug = models.SlugField(max_length=200, unique=True)
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="old_slugs")

    def __str__(self) -> str:
        return self.slug


class ArticleRevision(models.Model):
    """A published version of an article, kept so editors can view and restore it."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="revisions")
    title = models.CharField(max_length=200)
    body = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.title} ({self.created_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"


class ArticleFeedback(models.Model):
    """One vote per user, or per browser session for visitors; changing it replaces the vote."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    session_key = models.CharField(
        max_length=64,
        blank=True,
        help_text="SHA-256 of a visitor's session key (knowledge.services.session_voter), never the key.",
    )
    helpful = models.BooleanField()
    from_ticket_form = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["article", "user"],
                condition=models.Q(user__isnull=False),
                name="feedback_once_per_user",
            ),
            models.UniqueConstraint(
                fields=["article", "session_key"],
                condition=models.Q(user__isnull=True),
                name="feedback_once_per_session",
            ),
            models.CheckConstraint(
                condition=models.Q(user__isnull=False) | ~models.Q(session_key=""), name="feedback_has_voter"
            ),
        ]

    def __str__(self) -> str:
        return f"{'Helpful' if self.helpful else 'Not helpful'}: {self.article}"
