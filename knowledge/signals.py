"""Keeps the cached article counts per category (knowledge.views) from outliving a change: whatever
saves or deletes an article or a category (services, the admin, an import) drops them once it commits."""

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from knowledge.models import Article, Category

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
