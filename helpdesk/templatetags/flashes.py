"""`messages|refusals` and `messages|notices`: the flash messages a page shows, split by level.

A refusal (a warning or an error: "This ticket changed meanwhile") is an alert that app.js focuses when
the page loads, so that a screen reader says it after the redirect that brought it; a notice ("Reply
sent") is a polite status that does not take the reader away from where they are.
"""

from collections.abc import Iterable

from django import template
from django.contrib.messages import constants
from django.contrib.messages.storage.base import Message

register = template.Library()


@register.filter
def refusals(messages: Iterable[Message]) -> list[Message]:
    return [message for message in messages if message.level >= constants.WARNING]


@register.filter
def notices(messages: Iterable[Message]) -> list[Message]:
    return [message for message in messages if message.level < constants.WARNING]
