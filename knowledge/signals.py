"""Keeps the cached article counts per category (knowledge.views) from outliving a change: whatever
saves or deletes an article or a category (services, the admin, an import) drops them once it commits,
in the cache of the process that made the change: in every process with a shared cache (CACHE_URL), in
the others within CATEGORY_COUNTS_SECONDS with the default per-process one.
And an article's vote counters follow its votes when some go without a vote being cast (a voter's
account deleted)."""

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver

from knowledge.models import Article, ArticleFeedback, Category
from knowledge.services import article_count_votes

AUDIENCES = ("public", "staff")


def category_counts_key(audience: str) -> str:
    return f"kb-category-counts:{audience}"


def forget_category_counts() -> None:
    cache.delete_many([category_counts_key(audience) for audience in AUDIENCES])


@receiver([post_save, post_delete], sender=Article, dispatch_uid="kb_counts_article")
@receiver([post_save, post_delete], sender=Category, dispatch_uid="kb_counts_category")
def on_listing_change(sender, **kwargs) -> None:
    # Now, for this transaction's own next read, and again once it commits: a count cached meanwhile by
    # another request read the old listing.
    forget_category_counts()
    transaction.on_commit(forget_category_counts)


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="kb_votes_of_deleted_user")
def on_voter_deleting(sender, instance, **kwargs) -> None:
    instance._voted_on = list(
        ArticleFeedback.objects.filter(user=instance).values_list("article_id", flat=True)
    )


@receiver(post_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="kb_votes_of_deleted_user")
def on_voter_deleted(sender, instance, **kwargs) -> None:
    # Their votes went with the account (a cascade, which sends no signal of its own when it can
    # delete in one statement): the counters follow.
    for article_id in getattr(instance, "_voted_on", ()):
        article_count_votes(article_id)
