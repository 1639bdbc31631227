"""Recovery codes stored in clear become keyed hashes (accounts.two_factor.recovery_code_digest)."""

from django.db import migrations
from django.utils.crypto import salted_hmac

# Frozen copy of recovery_code_digest: a migration must not change when the application code does.
SALT = "accounts.two_factor.recovery_code"
CLEAR_CODE_LENGTH = 8  # django-otp's StaticToken.random_token(); digests are 16 hex digits


def hash_clear_codes(apps, schema_editor):
    StaticToken = apps.get_model("otp_static", "StaticToken")
    for token in StaticToken.objects.all().iterator():
        if len(token.token) <= CLEAR_CODE_LENGTH:
            token.token = salted_hmac(SALT, token.token.lower(), algorithm="sha256").hexdigest()[:16]
            token.save(update_fields=["token"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_user_sessions"),
        ("otp_static", "0003_add_timestamps"),
    ]

    # Backwards there is nothing to restore: the codes themselves are gone by design.
    operations = [migrations.RunPython(hash_clear_codes, migrations.RunPython.noop)]
