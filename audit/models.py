"""The audit trail: append-only events, each chained to the previous one by a SHA-256 hash."""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone


class AuditEvent(models.Model):
    class Category(models.TextChoices):
        BUSINESS = "business", "Business"
        SECURITY = "security", "Security"

    sequence = models.BigIntegerField(unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=40, db_index=True)
    category = models.CharField(max_length=10, choices=Category.choices, default=Category.BUSINESS)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_repr = models.CharField(max_length=300, help_text="Who, as they were named then (or System).")
    object_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.SET_NULL)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=300, blank=True)
    changes = models.JSONField(
        default=dict, blank=True, help_text="{field: [before, after]}; secrets masked."
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    previous_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-sequence"]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
            models.Index(fields=["actor", "-created_at"], name="audit_actor"),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} by {self.actor_repr}"
