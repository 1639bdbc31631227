"""Writes to the site configuration."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction

import audit
from audit.models import AuditEvent
from audit.recorder import differs_as_stored
from helpdesk.models import SiteConfiguration

EDITABLE_FIELDS = (
    "site_name",
    "maintenance_mode",
    "maintenance_message",
    "open_signup",
    "anonymous_submission",
    "require_two_factor",
    "default_ticket_priority",
    "default_team",
    "custom_settings",
)
TEAM_CLOSED = "{team} no longer works tickets: choose another team."
UNKNOWN_SETTING = "Unknown setting {key!r}; known settings: {known}, or custom.<name>."
# Who may get in, and how: a change to one of these is a security event.
SECURITY_SETTINGS = {"open_signup", "anonymous_submission", "require_two_factor"}


@transaction.atomic
def site_configuration_update(*, changes: dict[str, Any], actor) -> SiteConfiguration:
    """Apply `changes` (field name → value, or "custom.<name>" → value) after validating them all; the
    audit event names those that differ from before."""
    configuration = (
        SiteConfiguration.objects.select_for_update(no_key=True)
        .filter(pk=SiteConfiguration.SINGLETON_PK)
        .first()
        or SiteConfiguration.objects.get_current()
    )
    before = {key: _current(configuration, key) for key in changes}
    for key, value in changes.items():
        if key.startswith("custom.") and len(key) > len("custom."):
            configuration.custom_settings = {
                **configuration.custom_settings,
                key.removeprefix("custom."): value,
            }
        elif key in EDITABLE_FIELDS:
            # As a form field would: a name of spaces is a blank one, which validation then refuses.
            text = isinstance(SiteConfiguration._meta.get_field(key), models.CharField | models.TextField)
            setattr(configuration, key, value.strip() if text and isinstance(value, str) else value)
        else:
            raise ValidationError(UNKNOWN_SETTING.format(key=key, known=", ".join(EDITABLE_FIELDS)))
    changed = {
        key: (before[key], after)
        for key in changes
        # True == 1 in Python; as settings they differ (JSON true and 1), in a custom setting's value too.
        if type(after := _current(configuration, key)) is not type(before[key])
        or differs_as_stored(after, before[key])
    }
    if not changed:  # saved as it was: nothing to write or record
        return configuration
    team = configuration.default_team if "default_team" in changed else None
    if team is not None and not team.is_active:
        raise ValidationError({"default_team": TEAM_CLOSED.format(team=team)})
    configuration.updated_by = actor
    # Only what changes is validated: a value stored earlier that no longer passes (a default team
    # closed since) must not block another setting, such as switching maintenance mode on.
    touched = {key if key in EDITABLE_FIELDS else "custom_settings" for key in changed}
    configuration.full_clean(
        exclude=[field.name for field in SiteConfiguration._meta.fields if field.name not in touched]
    )
    configuration.save()
    security = bool(SECURITY_SETTINGS & set(changed))
    category = AuditEvent.Category.SECURITY if security else AuditEvent.Category.BUSINESS
    audit.record("settings_change", actor=actor, obj=configuration, changes=changed, category=category)
    return configuration


def _current(configuration: SiteConfiguration, key: str) -> Any:
    if key.startswith("custom."):
        return configuration.custom_settings.get(key.removeprefix("custom."))
    return getattr(configuration, key, None)
