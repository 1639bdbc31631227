"""SiteConfiguration: the one row of settings administrators change at run time (seed 000 EchoConfig)."""

from datetime import UTC

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from helpdesk.forms import json_problem

CONFIGURATION_CACHE_KEY = "site-configuration"
# Every request reads the configuration; a change saved in another worker process shows there within
# this many seconds (at once when CACHE_URL names a shared cache).
CONFIGURATION_CACHE_SECONDS = 5
CUSTOM_SETTINGS_NOT_OBJECT = 'Give a JSON object of named settings, e.g. {"greeting": "Hello"}.'


class Priority(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class SiteConfigurationManager(models.Manager["SiteConfiguration"]):
    def get_current(self) -> "SiteConfiguration":
        configuration = cache.get(CONFIGURATION_CACHE_KEY)
        if configuration is None:
            configuration, _ = self.get_or_create(pk=SiteConfiguration.SINGLETON_PK)
            cache.set(CONFIGURATION_CACHE_KEY, configuration, CONFIGURATION_CACHE_SECONDS)
        return configuration


class SiteConfiguration(models.Model):
    SINGLETON_PK = 1

    site_name = models.CharField(max_length=100, default="Helpdesk")
    maintenance_mode = models.BooleanField(
        default=False, help_text="Customers and visitors see a maintenance page; staff keep working."
    )
    maintenance_message = models.CharField(
        max_length=500, blank=True, default="We are doing some maintenance and will be back shortly."
    )
    open_signup = models.BooleanField(
        "open sign-up",
        default=False,
        help_text="Anyone may create a customer account; otherwise an invitation code is needed.",
    )
    anonymous_submission = models.BooleanField(
        default=False, help_text="Visitors may submit a ticket without an account."
    )
    require_two_factor = models.BooleanField(
        default=False,
        help_text="Agents and administrators must set up two-factor sign-in before they can work.",
    )
    default_ticket_priority = models.CharField(
        max_length=10, choices=Priority.choices, default=Priority.MEDIUM
    )
    default_team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        # A closed team works no queue: not to be chosen (helpdesk.services, and the admin, which still
        # shows one chosen before it closed), but it may stay until another is.
        help_text="Where a ticket lands when its form names no team (the default form among them). "
        "Without one, such tickets wait for an administrator: agents see only their teams' tickets.",
    )
    custom_settings = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = SiteConfigurationManager()

    class Meta:
        verbose_name = "site configuration"
        verbose_name_plural = "site configuration"
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="site_configuration_singleton"),
            models.CheckConstraint(
                condition=models.Q(default_ticket_priority__in=["low", "medium", "high", "urgent"]),
                name="site_configuration_priority_valid",
            ),
        ]
        permissions = [
            ("manage_site_settings", "Can change site settings"),  # seed MANAGE_BOT_SETTINGS
            ("view_system_status", "Can view system status"),
            ("view_metrics", "Can view metrics and reports"),
        ]

    def __str__(self) -> str:
        return "Site configuration"

    def clean(self) -> None:
        # custom.<name> settings are keys of this object; a list or a bare value would leave them nowhere.
        if not isinstance(self.custom_settings, dict):
            raise ValidationError({"custom_settings": CUSTOM_SETTINGS_NOT_OBJECT})
        if problem := json_problem(self.custom_settings):
            raise ValidationError({"custom_settings": problem})

    @property
    def site_name_line(self) -> str:
        """The site's name on one line, as a mail's subject and first lines name it."""
        return " ".join(self.site_name.split())


@receiver([post_save, post_delete], sender=SiteConfiguration, dispatch_uid="forget_site_configuration")
def forget_cached_configuration(sender, instance, using, **kwargs) -> None:
    # A signal, not save(): a fixture load (`make demo-reset`) saves raw, past save(). Now for this
    # process, and again once committed, lest a read in between cached the old row.
    cache.delete(CONFIGURATION_CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(CONFIGURATION_CACHE_KEY), using=using)


class RateLimitCounter(models.Model):
    """One fixed-window request counter per key (scope, IP or account); see helpdesk/ratelimit.py.
    The table is UNLOGGED: counters are cheap to lose in a crash and should not cost WAL."""

    key = models.CharField(max_length=200, primary_key=True)
    window_start = models.BigIntegerField(help_text="Unix time the current window began.")
    count = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"


class PeriodicTaskRun(models.Model):
    """When the scheduler last enqueued a periodic task (helpdesk/scheduler.py)."""

    task = models.CharField(max_length=200, unique=True, help_text="Dotted path of the task.")
    last_enqueued_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.task} at {self.last_enqueued_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
