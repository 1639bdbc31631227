"""manage.py demo_load [--reset] — what `make run` loads: the roles and the demo, each once.

A built-in role (fixtures/roles.json) is created with its permissions where the database lacks it; one
that exists is left as it is, since an administrator may have changed its permissions (a recorded
security change that a restart must not undo). A release that gives a role a new permission does so in
a migration, once. The demo
(fixtures/demo.json, then demo_dates to move its dates up to now) loads only into a database that does
not hold it yet: loading it again over a demo someone has worked in would put its tickets back as they
were (status, tags, assignee) while the replies, notes and changes made since stayed, and each ticket
would contradict its own history. So a second `make run` keeps the demo as it was left.

--reset (`make demo-reset`) puts the demo back as it was: it removes what was added to the demo's
tickets since (messages and activity entries the fixture does not have, and those messages' files;
their files once the reset is committed), loads the fixture again and moves its dates: the demo's
tickets, articles, accounts, teams and the site settings are as the fixture has them, and one audit event
says so, with the site settings it put back. Tickets, articles and accounts created since are left
alone, as is the audit trail; a demo article renamed
since goes back to its address (the new one redirects to it), a demo account moved to another e-mail
address goes back to its demo address. A ticket of yours merged into a demo
ticket, or a demo ticket merged into one of yours, stops the reset: the messages could not be told
apart, or the reset would take the demo's out of your ticket.
"""

from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

import audit
from accounts.models import EmailChangeRequest, RoleAssignment, TeamMember, User, email_key
from accounts.roles import create_missing_roles
from audit.models import AuditEvent
from helpdesk.display import plural_s, shown_count
from helpdesk.management.commands.demo_dates import demo_keys
from helpdesk.models import SiteConfiguration
from knowledge.models import Article, ArticleFeedback, ArticleRevision, ArticleSlug
from tickets.attachments import attachments_delete
from tickets.models import Attachment, Ticket, TicketActivity, TicketMessage

# pg_advisory_lock's key for demo_load (any number no other lock of the project uses).
DEMO_LOAD_LOCK = 72_000_001


class Command(BaseCommand):
    help = (
        "Create missing built-in roles; load the demo unless the database holds it (--reset: load it afresh)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="Put the demo back as it was.")

    def handle(self, *args, reset: bool, **options):
        # Two at once (`make run` in two terminals, two containers starting): the second waits, then
        # finds the demo loaded, instead of failing on the roles the first is creating.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [DEMO_LOAD_LOCK])
            try:
                self._load(reset, verbosity=options["verbosity"])
            finally:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [DEMO_LOAD_LOCK])

    def _load(self, reset: bool, *, verbosity: int) -> None:
        path = Path(settings.BASE_DIR) / "fixtures" / "demo.json"
        if not path.is_file():
            raise CommandError(f"No demo fixture at {path}.")
        keys = demo_keys(path)
        self._create_missing_roles()
        tickets = Ticket.objects.filter(number__in=keys["tickets"])
        if tickets.exists() and not reset:
            self.stdout.write(
                "The demo is loaded already and kept as it was left (`make demo-reset` puts it back)."
            )
            return
        merged_in = list(
            Ticket.objects.filter(merged_into__in=tickets)
            .exclude(number__in=keys["tickets"])
            .values_list("number", flat=True)
        )
        if reset and merged_in:
            # Their messages sit on demo tickets now; nothing tells which were theirs, so a reset would
            # take them away with the demo's additions.
            names = ", ".join(f"T-{number}" for number in sorted(merged_in))
            raise CommandError(
                f"{names} {'was' if len(merged_in) == 1 else 'were'} merged into the demo's tickets: a reset "
                "would remove their messages. Start from an empty database instead (rm -rf .pgdata)."
            )
        merged_out = list(
            tickets.exclude(merged_into__isnull=True)
            .exclude(merged_into__number__in=keys["tickets"])
            .values_list("number", "merged_into__number")
        )
        if reset and merged_out:
            # The demo's messages now read in those tickets' threads: loading the fixture would take them
            # back out of a ticket that is not the demo's.
            names = ", ".join(f"T-{number} into T-{into}" for number, into in sorted(merged_out))
            raise CommandError(
                f"Demo tickets were merged into tickets of yours ({names}): a reset would take their "
                "messages out of your tickets. Start from an empty database instead (rm -rf .pgdata)."
            )
        with transaction.atomic():
            settings_before = SiteConfiguration.objects.filter(pk=1).values().first()
            if reset:
                self._remove_additions(tickets, keys)
            call_command("loaddata", "demo", verbosity=verbosity)
            call_command("demo_dates", verbosity=verbosity)
            if reset:
                self._record_reset(settings_before)

    @staticmethod
    def _record_reset(settings_before: dict | None) -> None:
        """The reset in the audit trail, with the site settings it put back: loaddata writes rows as
        they are in the fixture, past the services that record each change."""
        after = SiteConfiguration.objects.filter(pk=1).values().first() or {}
        changes = {
            name: (settings_before.get(name), value)
            for name, value in after.items()
            if name != "updated_at" and settings_before is not None and settings_before.get(name) != value
        }
        audit.record("demo_reset", actor=None, object_repr="The demo (make demo-reset)", changes=changes)

    def _create_missing_roles(self) -> None:
        if missing := create_missing_roles():
            self.stdout.write(f"Created the built-in role{plural_s(len(missing))} {', '.join(missing)}.")

    @staticmethod
    def _move_slugs_back(named: set[tuple[str, str, str, str]]) -> None:
        """A demo team, organisation, skill, category or form whose address (slug) was changed since goes
        back to the fixture's: found by slug, the fixture would add a second one of the same name."""
        for label, slug, field, name in named:
            model = apps.get_model(label)
            if not model.objects.filter(slug=slug).exists():
                model.objects.filter(**{f"{field}__iexact": name}).update(slug=slug)

    def _move_accounts_back(self, emails: set[str]) -> None:
        """The fixture finds its accounts by address: a demo account moved to another address since (on
        its profile, or in the admin) would stay beside a second copy, holding the demo's password and
        roles, and one moved onto another demo account's address would be written over with that one's.
        Each goes back to the demo address it first moved away from (the audit trail of its moves)."""
        user_type = ContentType.objects.get_for_model(User)
        moves = AuditEvent.objects.filter(object_type=user_type, changes__email__0__in=sorted(emails))
        home: dict[int, str] = {}
        for object_id, changes in moves.order_by("sequence").values_list("object_id", "changes"):
            home.setdefault(int(object_id), changes["email"][0])
        movers = {
            user.pk: (user.email, home[user.pk])
            for user in User.objects.filter(pk__in=home)
            if email_key(user.email) != email_key(home[user.pk])
        }
        holders = dict(
            User.objects.filter(email__in=[target for _, target in movers.values()])
            .exclude(pk__in=movers)
            .values_list("email", "pk")
        )
        # Not onto an address an account created since has taken.
        movers = {pk: move for pk, move in movers.items() if move[1] not in holders}
        # In two steps: one may move onto the address another leaves.
        for pk in movers:
            User.objects.filter(pk=pk).update(email=f"demo-reset-{pk}@moving.invalid")
        for pk, (now, target) in sorted(movers.items()):
            EmailChangeRequest.objects.filter(user_id=pk).delete()
            User.objects.filter(pk=pk).update(email=target)
            self.stdout.write(f"Moved {now} back to the demo's address {target}.")

    def _remove_account_additions(self, keys: dict[str, set]) -> None:
        """What the demo's accounts were given since that the fixture does not hold (loading it puts back
        its own rows and removes none): roles, team memberships, two-factor devices."""
        accounts = User.objects.filter(email__in=keys["users"])
        roles = RoleAssignment.objects.filter(user__in=accounts)
        extra_roles = [
            pk
            for pk, email, role in roles.values_list("pk", "user__email", "role__name")
            if (email, role) not in keys["roles"]
        ]
        memberships = TeamMember.objects.filter(user__in=accounts)
        extra_memberships = [
            pk
            for pk, team, email in memberships.values_list("pk", "team__slug", "user__email")
            if (team, email) not in keys["memberships"]
        ]
        RoleAssignment.objects.filter(pk__in=extra_roles).delete()
        TeamMember.objects.filter(pk__in=extra_memberships).delete()
        devices = [
            model.objects.filter(user__in=accounts).delete()[0] for model in (TOTPDevice, StaticDevice)
        ]
        if extra_roles or extra_memberships or any(devices):
            self.stdout.write(
                f"Took back from the demo's accounts: {shown_count(len(extra_roles), 'role')}, "
                f"{shown_count(len(extra_memberships), 'team membership')}, "
                f"{shown_count(sum(devices), 'two-factor device')}."
            )

    def _remove_additions(self, tickets, keys: dict[str, set]) -> None:
        # The fixture finds its articles by slug: a demo article renamed since would stay beside a second
        # copy at its old address. It goes back there, and its new address redirects to it.
        renamed = Article.objects.filter(old_slugs__slug__in=keys["articles"]).exclude(
            slug__in=keys["articles"]
        )
        for article in renamed.distinct():
            demo_slug = article.old_slugs.filter(slug__in=keys["articles"]).values_list("slug", flat=True)[0]
            ArticleSlug.objects.filter(slug=demo_slug).delete()
            ArticleSlug.objects.get_or_create(slug=article.slug, defaults={"article": article})
            Article.objects.filter(pk=article.pk).update(slug=demo_slug)
        self._move_accounts_back(keys["users"])
        self._move_slugs_back(keys["named"])
        self._remove_account_additions(keys)
        # The fixture sets the demo articles' counters to nobody's vote: the votes cast since go too, or
        # the page would say nobody found it helpful beside a vote that counts again at the next one.
        # Their versions kept since go as well: the text is back to the fixture's, which has none.
        demo_articles = Article.objects.filter(slug__in=keys["articles"])
        removed_votes = ArticleFeedback.objects.filter(article__in=demo_articles).delete()[0]
        removed_versions = ArticleRevision.objects.filter(article__in=demo_articles).delete()[0]
        if removed_votes or removed_versions:
            self.stdout.write(
                f"Removed what was added to the demo's articles: {shown_count(removed_votes, 'vote')}, "
                f"{shown_count(removed_versions, 'kept version')}."
            )
        added_messages = TicketMessage.objects.filter(ticket__in=tickets).exclude(uid__in=keys["messages"])
        files = Attachment.objects.filter(
            owner_type=ContentType.objects.get_for_model(TicketMessage),
            owner_id__in=added_messages.values("pk"),
        )
        added_entries = TicketActivity.objects.filter(ticket__in=tickets).exclude(pk__in=keys["activities"])
        removed_files, removed_messages, removed_entries = (
            files.count(),
            added_messages.count(),
            added_entries.count(),
        )
        attachments_delete(files)
        added_messages.delete()
        added_entries.delete()
        self.stdout.write(
            f"Removed what was added to the demo's tickets: {shown_count(removed_messages, 'message')}, "
            f"{shown_count(removed_files, 'file')}, {removed_entries} activity "
            f"{'entry' if removed_entries == 1 else 'entries'}."
        )
