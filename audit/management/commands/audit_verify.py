"""manage.py audit_verify — walk the audit hash chain and report the first broken link."""

from django.core.management.base import BaseCommand, CommandError

from audit.recorder import verify_chain


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain; exits non-zero at the first event that does not verify."

    def handle(self, *args, **options):
        checked, broken = verify_chain()
        if broken is not None:
            when = f"{broken.created_at:%Y-%m-%d %H:%M:%S}"
            raise CommandError(
                f"Audit chain broken at event #{broken.sequence} ({broken.action}, {when}) "
                f"after {checked} good event(s): it was changed, removed or inserted outside the application."
            )
        self.stdout.write(f"Audit chain intact: {checked} event(s) verified.")
