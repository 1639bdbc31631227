"""CSV export of a filtered selection of the audit trail: recorded, streamed, safe in a spreadsheet."""

import csv
import json
import re
from collections.abc import Iterator

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import QuerySet

import audit
from audit.filters import AuditEventFilter
from audit.models import AuditEvent

EXPORT_MAX_ROWS = 200_000
TOO_MANY_TO_EXPORT = (
    "These filters select more than {limit:,} events, more than one export holds. Narrow them (a date "
    "range, an action) and export each part: nothing was exported."
)
CHUNK = 1000
HEADER = ("sequence", "time", "actor", "actor id", "action", "category", "object type", "object id",
          "object", "changes", "ip", "user agent", "request id")  # fmt: skip
# A cell starting with one of these is a formula to a spreadsheet (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# The same right after a separator a spreadsheet may split on ("Refund;=1+2" read with ";" as the list
# separator, or a line break, by a reader that ignores the quotes): it would start a cell of its own.
FORMULA_AFTER_SEPARATOR = re.compile(r"([;,\t|\r\n])(?=[=+\-@])")


def safe_cell(value) -> str:
    text = FORMULA_AFTER_SEPARATOR.sub(r"\1'", "" if value is None else str(value))
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    """A file-like object whose write() returns the line, so csv.writer can feed a streaming response."""

    def write(self, value: str) -> str:
        return value


def _row(event: AuditEvent) -> list[str]:
    changes = json.dumps(event.changes, cls=DjangoJSONEncoder, ensure_ascii=False)
    values = (event.sequence, event.created_at.isoformat(), event.actor_repr, event.actor_id, event.action,
              event.category, event.object_type, event.object_id, event.object_repr, changes, event.ip,
              event.user_agent, event.request_id)  # fmt: skip
    return [safe_cell(value) for value in values]


class ExportCutShort(Exception):
    """Fewer events were there to stream than the export recorded (retention pruned the oldest meanwhile):
    raised after the last line, so that the download fails instead of passing for the whole selection."""


def _lines(events: QuerySet[AuditEvent], through: int, expected: int) -> Iterator[str]:
    # Every cell quoted: a spreadsheet whose list separator is ";" would otherwise split a cell holding
    # one, and what follows (";=1+2") would start a cell of its own, a formula (CSV injection).
    writer = csv.writer(_Echo(), quoting=csv.QUOTE_ALL)
    # The byte-order mark tells a spreadsheet the file is UTF-8 (Excel reads one without it in the
    # local code page: accented and Cyrillic letters come out garbled); readers given "utf-8-sig" skip it.
    yield "\ufeff" + writer.writerow(HEADER)
    sent, below = 0, through + 1
    # Keyset chunks rather than one server-side cursor: each chunk is a short indexed query.
    while sent < expected:
        chunk = list(events.filter(sequence__lt=below).order_by("-sequence")[: min(CHUNK, expected - sent)])
        if not chunk:
            break
        for event in chunk:
            yield writer.writerow(_row(event))
        sent += len(chunk)
        below = chunk[-1].sequence
    if sent < expected:
        raise ExportCutShort(f"The export recorded {expected} events and found {sent} to send.")


@transaction.atomic
def audit_export(filterset: AuditEventFilter, *, actor) -> Iterator[str]:
    """Record the export (who, which filter, how many rows) and return the CSV lines of that selection;
    ValidationError for one of more than EXPORT_MAX_ROWS events (a file cut short would pass for the
    whole selection).

    The selection is fixed at the newest event it holds now, so the lines match the recorded count."""
    events = filterset.qs.select_related("object_type")
    newest = events.order_by("-sequence").values_list("sequence", flat=True).first() or 0
    count = events.filter(sequence__lte=newest).order_by()[: EXPORT_MAX_ROWS + 1].count()
    if count > EXPORT_MAX_ROWS:
        raise ValidationError(TOO_MANY_TO_EXPORT.format(limit=EXPORT_MAX_ROWS))
    audit.record(
        "export",
        actor=actor,
        category=AuditEvent.Category.SECURITY,
        object_repr="Audit trail (CSV)",
        changes={"filter": (None, filterset.used()), "rows": (None, count)},
    )
    return _lines(events, newest, count)
