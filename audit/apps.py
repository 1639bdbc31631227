from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        # The configuration checks; the sign-in, sign-out and failed sign-in events.
        from audit import checks, signals  # noqa: F401
