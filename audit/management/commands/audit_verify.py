"""manage.py audit_verify [--expect-head SEQUENCE:HASH] — walk the audit hash chain, report the first
broken link, and print the head it verified."""

import re

from django.core.management.base import BaseCommand, CommandError

from audit.recorder import verify_audit_chain
from helpdesk.display import shown_count

HEAD = re.compile(r"(?P<sequence>[1-9][0-9]*):(?P<hash>[0-9a-f]{64})")
BAD_HEAD = "--expect-head must be SEQUENCE:HASH as printed by an earlier run (Head: …), not {value!r}."


def expected_head(value: str) -> tuple[int, str]:
    match = HEAD.fullmatch(value.strip().lower())
    if match is None:
        raise CommandError(BAD_HEAD.format(value=value))
    return int(match["sequence"]), match["hash"]


class Command(BaseCommand):
    help = (
        "Verify the audit trail's keyed hash chain: exits non-zero at the first event that was edited, "
        "removed or inserted outside the application, or at a gap in the sequence numbers. Prints the "
        "head it verified as 'Head: SEQUENCE:HASH'. A deletion of the newest events leaves a shorter "
        "chain that still verifies: keep each run's head (cron and log shipping) and pass the last one "
        "as --expect-head to find it. Hashes are keyed with AUDIT_HMAC_KEY; after a rotation, list the old "
        "key in AUDIT_HMAC_KEY_FALLBACKS (see SECURITY.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--expect-head",
            metavar="SEQUENCE:HASH",
            help="A head printed by an earlier run: fail if that event is gone or no longer has that hash.",
        )

    def handle(self, *args, expect_head: str | None = None, **options):
        # An empty head (a lost state file in "--expect-head $LAST") is refused, never read as "no check".
        head = expected_head(expect_head) if expect_head is not None else None
        report = verify_audit_chain(expect_head=head)
        if report.broken is not None:
            broken = report.broken
            when = f"{broken.created_at:%Y-%m-%d %H:%M:%S}"
            raise CommandError(
                f"Audit chain broken at event #{broken.sequence} ({broken.action}, {when}) after "
                f"{shown_count(report.checked, 'good event')}: {report.problem}. It was changed, removed or "
                "inserted outside the application."
            )
        if report.problem:
            raise CommandError(f"Audit chain truncated or replaced: {report.problem}.")
        self.stdout.write(f"Audit chain intact: {shown_count(report.checked, 'event')} verified.")
        if report.unkeyed_through is not None:
            self.stdout.write(
                f"Events up to #{report.unkeyed_through} were hashed without a key: the keyed events after "
                "them vouch for them as they were when keyed hashing began."
            )
        if report.note:
            self.stdout.write(report.note)
        if report.head is not None:
            self.stdout.write(f"Head: {report.head.sequence}:{report.head.hash}")
