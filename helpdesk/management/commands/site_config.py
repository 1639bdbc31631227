"""manage.py site_config show | set KEY VALUE — read and change the site configuration."""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import models

from helpdesk import services
from helpdesk.forms import JSON_TOO_DEEP, is_unicode_text
from helpdesk.models import SiteConfiguration

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


def _refuse_constant(name: str):
    # Python's json reads NaN and Infinity, which are not JSON: PostgreSQL would refuse the row.
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: str):
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:  # "[[[[…" past the depth Python's parser goes
        raise CommandError(JSON_TOO_DEEP) from None


def parse_value(key: str, raw: str):
    """Turn the command-line text into the value the field expects."""
    if key.startswith("custom."):
        try:
            return parse_json(raw)
        except ValueError:  # JSONDecodeError is one
            return raw
    field = SiteConfiguration._meta.get_field(key)
    if isinstance(field, models.BooleanField):
        word = raw.strip().lower()
        if word in TRUE_WORDS | FALSE_WORDS:
            return word in TRUE_WORDS
        raise CommandError(f"{key} takes true or false, not {raw!r}.")
    if isinstance(field, models.ForeignKey):  # named by its natural key (a team's slug); "none" clears it
        if raw.strip().lower() in {"", "none"}:
            return None
        try:
            return field.related_model.objects.get_by_natural_key(raw.strip())
        except field.related_model.DoesNotExist:
            raise CommandError(f"{key}: no {field.related_model._meta.verbose_name} {raw!r}.") from None
    if isinstance(field, models.JSONField):
        try:
            return parse_json(raw)
        except ValueError as error:
            raise CommandError(f"{key} takes JSON: {error}") from error
    return raw


class Command(BaseCommand):
    help = "Show the site configuration, or set one value: site_config set maintenance_mode true"

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["show", "set"])
        parser.add_argument("key", nargs="?")
        parser.add_argument("value", nargs="?")

    def handle(self, *args, action: str, key: str | None, value: str | None, **options):
        if action == "set":
            if key is None or value is None:
                raise CommandError("Usage: site_config set KEY VALUE")
            if not is_unicode_text(value):
                raise CommandError(f"{key}: the value is not valid UTF-8 text.")
            if key not in services.EDITABLE_FIELDS and not key.startswith("custom."):
                raise CommandError(
                    services.UNKNOWN_SETTING.format(key=key, known=", ".join(services.EDITABLE_FIELDS))
                )
            try:
                services.site_configuration_update(changes={key: parse_value(key, value)}, actor=None)
            except ValidationError as error:
                raise CommandError("; ".join(error.messages)) from error
        configuration = SiteConfiguration.objects.get_current()
        for name in services.EDITABLE_FIELDS:
            shown = getattr(configuration, name)
            if isinstance(shown, dict):
                shown = json.dumps(shown, sort_keys=True)
            self.stdout.write(f"{name} = {shown}")
        by = configuration.updated_by or "System"
        self.stdout.write(f"updated {configuration.updated_at:%Y-%m-%d %H:%M:%S %Z} by {by}")
