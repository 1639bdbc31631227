"""Flash messages said once: a form sent twice (a double click, a retried request) queues the same
confirmation twice, and the next page shows it once."""

from django.contrib.messages.storage.fallback import FallbackStorage


class DistinctMessageStorage(FallbackStorage):
    def add(self, level: int, message: str, extra_tags: str = "") -> None:
        pending = (*self._loaded_messages, *self._queued_messages)
        if any(item.level == level and item.message == message for item in pending):
            return
        super().add(level, message, extra_tags)
