"""manage.py demo_dates — move the demo's dates up to now, right after `manage.py loaddata roles demo`.

fixtures/demo.json holds fixed dates, so a demo loaded weeks later would be weeks old: the scheduler's
first tick would auto-close its resolved tickets and "Recently solved" would be empty. This command
moves every date of the demo's rows forward by one shift, so that the newest demo event is about an
hour ago and every interval between them stays as it was. The demo's rows are the ones the fixture
names: tickets T-901…T-936 (by number), their messages (by uid) and activity entries (by pk), the files
of those messages, and the fixture's knowledge-base articles (by slug). Rows you created yourself,
on demo tickets or elsewhere, are left alone.

Run it after each loaddata: the load puts the fixture's dates back and this moves them again. Run twice,
the second run finds the newest event already an hour ago and changes nothing. It is a developer's
data-loading tool like loaddata, which writes no audit events either: it records none, and it goes
through no service (the dates it moves are the fixture's, not anybody's change to a ticket).
"""

import json
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts.models import Invitation
from knowledge.models import Article
from tickets.models import Attachment, Ticket, TicketActivity, TicketMessage

LEAD = timedelta(hours=1)  # the newest demo event, this long before now
ALREADY_CURRENT = timedelta(minutes=5)  # closer than this to the target: nothing to move


def demo_keys(path: Path) -> dict[str, set]:
    """The natural keys (and the activity pks) of the fixture's tickets, messages, activities, articles,
    invitations, accounts, role assignments, team memberships and the rows found by slug (teams,
    organisations, skills, categories, forms); CommandError for a file that is not a JSON fixture."""
    keys: dict[str, set] = {
        "tickets": set(), "messages": set(), "activities": set(), "articles": set(), "invitations": set(),
        "users": set(), "roles": set(), "memberships": set(), "named": set(),
    }  # fmt: skip
    # The rows the fixture finds by slug and whose names are unique: (model, slug, name field, name).
    named = {"accounts.team": "name", "accounts.organization": "name", "accounts.skill": "name",
             "knowledge.category": "name", "tickets.ticketform": "title"}  # fmt: skip
    columns = {
        "tickets.ticket": ("tickets", "number"),
        "tickets.ticketmessage": ("messages", "uid"),
        "tickets.ticketactivity": ("activities", "pk"),
        "knowledge.article": ("articles", "slug"),
        "accounts.invitation": ("invitations", "code"),
        "accounts.user": ("users", "email"),
    }
    try:
        for row in json.loads(path.read_text(encoding="utf-8")):
            if (found := columns.get(row["model"])) is not None:
                kind, key = found
                keys[kind].add(row["pk"] if key == "pk" else row["fields"][key])
            elif row["model"] == "accounts.roleassignment":  # natural keys: [email], [role name]
                keys["roles"].add((row["fields"]["user"][0], row["fields"]["role"][0]))
            elif row["model"] == "accounts.teammember":  # [team slug], [email]
                keys["memberships"].add((row["fields"]["team"][0], row["fields"]["user"][0]))
            elif (name := named.get(row["model"])) is not None:
                keys["named"].add((row["model"], row["fields"]["slug"], name, row["fields"][name]))
        # Of the columns' own types, or the look-ups below would fail on a number that is no number.
        for kind, model, column in (("tickets", Ticket, "number"), ("messages", TicketMessage, "uid"),
                                    ("activities", TicketActivity, "id")):  # fmt: skip
            keys[kind] = {model._meta.get_field(column).to_python(value) for value in keys[kind]}
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError, ValidationError) as error:
        # ValueError covers undecodable bytes and bad JSON; RecursionError, JSON nested past what the
        # parser takes; the others, JSON that is not a list of rows.
        raise CommandError(f"{path} is not a JSON fixture (rows of a model and fields): {error!r}") from None
    return keys


def datetime_fields(model: type[models.Model]) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields if isinstance(field, models.DateTimeField)]


class Command(BaseCommand):
    help = "Move the demo's dates forward, its newest event to an hour ago (run after loaddata demo)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--fixture",
            default=str(Path(settings.BASE_DIR) / "fixtures" / "demo.json"),
            help="The demo fixture whose rows are moved (default: fixtures/demo.json).",
        )

    def handle(self, *args, fixture: str, **options):
        path = Path(fixture)
        if not path.is_file():
            raise CommandError(f"No demo fixture at {path}.")
        keys = demo_keys(path)
        with transaction.atomic():
            tickets = Ticket.objects.filter(number__in=keys["tickets"])
            messages = TicketMessage.objects.filter(uid__in=keys["messages"], ticket__in=tickets)
            activities = TicketActivity.objects.filter(pk__in=keys["activities"], ticket__in=tickets)
            attachments = Attachment.objects.filter(
                owner_type__app_label="tickets",
                owner_type__model="ticketmessage",
                owner_id__in=messages.values("pk"),
            )
            articles = Article.objects.filter(slug__in=keys["articles"])
            rows = [
                ("tickets", tickets),
                ("messages", messages),
                ("activity entries", activities),
                ("attachments", attachments),
                ("articles", articles),
            ]
            # Locked first, so the newest event read is still the newest when the rows are moved.
            for _, queryset in rows:
                list(queryset.select_for_update().values_list("pk", flat=True))
            newest = max(
                (stamp for _, queryset in rows if (stamp := self._newest(queryset)) is not None), default=None
            )
            if newest is None:
                raise CommandError("No demo rows: load them first with `manage.py loaddata roles demo`.")
            # Whole minutes, as the fixture's dates are.
            shift = timedelta(minutes=(timezone.now() - LEAD - newest) // timedelta(minutes=1))
            if abs(shift) < ALREADY_CURRENT:
                self.stdout.write(
                    f"The demo's newest event is already about an hour ago ({newest:%Y-%m-%d %H:%M %Z}): "
                    "nothing moved."
                )
                return
            moved = {label: self._move(queryset, shift) for label, queryset in rows}
            # Its invitation's expiry too (not an event, so not counted as the newest): the code the
            # README gives keeps working however long after the fixture's dates the demo is loaded.
            invitations = Invitation.objects.filter(code__in=keys["invitations"])
            moved["invitations"] = self._move(invitations, shift)
        counts = ", ".join(f"{count} {label}" for label, count in moved.items())
        self.stdout.write(
            f"Moved the demo's dates by {self._days(shift)} ({counts}): its newest event is now "
            f"{newest + shift:%Y-%m-%d %H:%M %Z}."
        )

    @staticmethod
    def _newest(queryset: models.QuerySet):
        fields = datetime_fields(queryset.model)
        if len(fields) == 1:
            return queryset.aggregate(newest=models.Max(fields[0]))["newest"]
        # NULLs are ignored by GREATEST on PostgreSQL.
        return queryset.aggregate(newest=models.Max(Greatest(*fields)))["newest"]

    @staticmethod
    def _move(queryset: models.QuerySet, shift: timedelta) -> int:
        """One UPDATE: every date field plus the shift (a NULL stays NULL)."""
        moved = {name: F(name) + shift for name in datetime_fields(queryset.model)}
        return queryset.order_by().update(**moved)

    @staticmethod
    def _days(shift: timedelta) -> str:
        sign = "-" if shift < timedelta(0) else "+"
        shift = abs(shift)
        hours, seconds = divmod(shift.seconds, 3600)
        return f"{sign}{shift.days} days {hours} h {seconds // 60} min"
