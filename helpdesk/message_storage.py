"""Flash messages: said once, and in production in a `__Host-` cookie.

A form sent twice (a double click, a retried request) queues the same confirmation twice; the next page
shows it once. Django's cookie storage names its cookie `messages` whatever the session cookie is called;
the message cookie's signature binds it to no session, so without the prefix a sibling subdomain or a
plain-http answer could plant a cookie copied from an attacker's own browser and put its text on the
site's pages.
"""

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.messages.storage.session import SessionStorage


class HostCookieStorage(CookieStorage):
    @property
    def cookie_name(self) -> str:  # type: ignore[override]
        return "__Host-messages" if settings.SESSION_COOKIE_SECURE else "messages"


class DistinctMessageStorage(FallbackStorage):
    storage_classes = (HostCookieStorage, SessionStorage)

    def add(self, level: int, message: str, extra_tags: str = "") -> None:
        pending = (*self._loaded_messages, *self._queued_messages)
        if any(item.level == level and item.message == message for item in pending):
            return
        super().add(level, message, extra_tags)
