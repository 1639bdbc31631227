"""The session engine: Django's database sessions, stored as UserSession rows that carry the user,
device and last activity, so people can see their sessions and sign the others out."""

from datetime import timedelta

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import router, transaction
from django.utils import timezone

from audit.context import current

# Activity is written at most this often per session: a page view must not cost a write each time.
LAST_SEEN_RESOLUTION = timedelta(minutes=5)


class SessionStore(DatabaseSessionStore):
    loaded_last_seen = None
    loaded_created_at = None
    carried_created_at = None

    @classmethod
    def get_model_class(cls):
        from accounts.models import UserSession

        return UserSession

    def _get_session_from_db(self):
        row = super()._get_session_from_db()
        if row is not None:
            self.loaded_last_seen, self.loaded_created_at = row.last_seen, row.created_at
        return row

    def cycle_key(self):
        # A new key for the same signed-in session (a password change, update_session_auth_hash) keeps
        # when it began: the session list must not show "signed in just now" for a week-old one.
        if self.get(SESSION_KEY) is not None:
            self.carried_created_at = self.loaded_created_at
        try:
            super().cycle_key()
        finally:
            self.carried_created_at = None

    def create_model_instance(self, data):
        row = super().create_model_instance(data)
        row.user_id = data.get(SESSION_KEY)
        if self.carried_created_at is not None:
            row.created_at = self.carried_created_at
        context = current.get()
        if context is not None:
            row.ip, row.user_agent = context.ip, context.user_agent
        return row

    def save(self, must_create=False):
        if self.session_key is None or must_create:
            return super().save(must_create=must_create)
        # An update keeps when and where the session began; only its data, expiry and user change.
        data = self._get_session(no_load=False)
        model = self.model
        with transaction.atomic(using=router.db_for_write(model)):
            updated = model.objects.filter(session_key=self.session_key).update(
                session_data=self.encode(data),
                expire_date=self.get_expiry_date(),
                user_id=data.get(SESSION_KEY),
                last_seen=timezone.now(),
            )
        if not updated:
            raise UpdateError

    def touch(self) -> None:
        """Record activity on a session that was read but not saved during this request."""
        now = timezone.now()
        if self.loaded_last_seen is not None and now - self.loaded_last_seen >= LAST_SEEN_RESOLUTION:
            self.model.objects.filter(session_key=self.session_key).update(last_seen=now)
            self.loaded_last_seen = now
