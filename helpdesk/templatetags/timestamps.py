"""`{% timestamp value %}`: a <time> element for long lists, as `|date` would render it but cheaper
(and with the offset in the hour a clock change repeats); `{{ value|shown_time }}` its text alone (an
aria-label); `{% link_lifetime %}`: how long the links we mail work ("a day"); `{% time_zone %}`: the zone the
page's times are in.

A 200-message thread formats 400 dates; the `date` filter builds a formatter and resolves its
format for each, which cost more than the rest of the thread together.
"""

from django import template
from django.utils import timezone
from django.utils.html import format_html

from accounts import tokens
from helpdesk.display import shown_time, shown_zone

register = template.Library()


@register.simple_tag
def timestamp(value, with_year: bool = True, seconds: bool = False) -> str:
    """`<time datetime="{{ value|date:'c' }}">{{ value|date:'j M Y, H:i' }}</time>` (without the year:
    'j M, H:i'; with seconds: 'H:i:s'), in the current time zone, as shown_time writes it."""
    if not value:
        return ""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    shown = shown_time(local, with_year, seconds)
    return format_html('<time datetime="{}">{}</time>', local.isoformat(), shown)


@register.filter(name="shown_time")
def shown_time_filter(value) -> str:
    """The text `{% timestamp value %}` shows."""
    if not value:
        return ""
    return shown_time(timezone.localtime(value) if timezone.is_aware(value) else value)


@register.simple_tag
def link_lifetime() -> str:
    """How long a mailed link (password reset, address confirmation) works."""
    return tokens.link_lifetime()


@register.simple_tag
def time_zone() -> str:
    """The zone the page's times and dates are in: 'Pacific/Kiritimati (UTC+14:00)'."""
    return shown_zone()
