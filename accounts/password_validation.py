"""No reuse of the last N passwords: a Django password validator that also records each new one."""

from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError

REUSED = "You used this password recently. Choose one that is not among your last {count}."


class PasswordHistoryValidator:
    def __init__(self, count: int = 5) -> None:
        self.count = count

    def validate(self, password: str, user=None) -> None:
        if user is None or user.pk is None:
            return
        from accounts.models import PasswordHistory

        recent = PasswordHistory.objects.filter(user=user).values_list("password", flat=True)[: self.count]
        # The password in use counts too: an account loaded from a fixture or made before the history
        # existed has no history rows.
        if any(check_password(password, encoded) for encoded in [user.password, *recent]):
            raise ValidationError(REUSED.format(count=self.count), code="password_reused")

    def password_changed(self, password: str, user=None) -> None:
        """Called by Django after a new password is saved: keep its hash, and only the last N."""
        if user is None or user.pk is None or not user.has_usable_password():
            return
        from accounts.models import PasswordHistory

        PasswordHistory.objects.create(user=user, password=user.password)
        stale = PasswordHistory.objects.filter(user=user).values_list("pk", flat=True)[self.count :]
        PasswordHistory.objects.filter(pk__in=list(stale)).delete()

    def get_help_text(self) -> str:
        return f"Your password must not be one of your last {self.count} passwords."
