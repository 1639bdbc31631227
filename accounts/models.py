"""People and who they belong to: users, organisations (tenants), teams (queues), roles and skills."""

import hashlib
import re
import secrets
import zoneinfo
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, Group, PermissionsMixin
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.search import SearchVector
from django.contrib.sessions.base_session import AbstractBaseSession
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.timezone import now
from django_otp.plugins.otp_totp.models import TOTPDevice
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from accounts import sealing
from helpdesk.accents import SearchWords, alphabetical
from helpdesk.dates import validate_not_too_late
from helpdesk.forms import nfc, one_line, trimmed

# Files of the tz database that are no place's zone: "localtime" is whatever the server is set to.
NOT_ZONES = {"localtime", "Factory", "posixrules"}


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones() or value in NOT_ZONES:
        raise ValidationError(f"{value!r} is not a known time zone.")


EMAIL_NOT_ASCII = (
    "Use an address of plain letters, digits and punctuation (for an internationalised domain, its "
    "xn-- form)."
)
# "anna"@acme.example names anna@acme.example's mailbox (RFC 5321): taken, it would be a second account.
EMAIL_QUOTED = "Give the address without quotation marks."


def email_key(value: str) -> str:
    """The spelling every look-up of an account by e-mail compares with `Lower("email")`, and the one
    sign-in lockouts and rate limits count under: trimmed and lower-cased. Stored addresses are ASCII
    (`validate_ascii_email`), so a look-alike letter cannot reach an account: PostgreSQL's UPPER(), which
    `iexact` uses, turns a dotless i (U+0131) into "I", so such an address used to match "victim@" while the
    lockout counted it apart. An internationalised domain typed as people read it (bücher.example) is
    compared in the xn-- form addresses at it are stored in."""
    key = as_lower_case(trimmed(value))
    local, at, domain = key.rpartition("@")
    if at and not domain.isascii():
        try:
            return f"{local}@{ascii_domain(domain)}"
        except UnicodeError:  # no domain name, or one of the letters the standards convert apart
            return key
    return key


PUBLIC_MAIL_DOMAIN = (
    "{domain} is a mail provider anyone can have an address at: everyone with one would join this "
    "organisation. Add the organisation's own domain, or add its people one by one."
)
NOT_A_DOMAIN = (
    "Give domains such as acme.example (an internationalised one as typed or in its xn-- form; one with ß, "
    "ς or a joiner in its xn-- form only)."
)


# The letters the two IDNA standards write differently (UTS 46 "deviations"): Python's codec follows the
# older one, which turns straße.example into strasse.example, another domain.
IDNA_DEVIATIONS = "ßς\u200c\u200d"


def as_lower_case(text: str) -> str:
    """`text` lower-cased as browsers and mail systems do it for a domain: a capital sigma is the small
    one wherever it stands (Python's lower() makes it the final sigma, one of the deviations, before a
    hyphen or a dot)."""
    return text.replace("\u03a3", "\u03c3").lower()


def ascii_domain(domain: str) -> str:
    """`domain` as addresses at it are written and compared: lower case, an internationalised one in its
    xn-- form (bücher.example → xn--bcher-kva.example). UnicodeError for what is no domain name, or one
    holding a letter the IDNA standards convert differently (then only its xn-- form is taken)."""
    domain = nfc(as_lower_case(domain.strip()))
    if domain.isascii():
        return domain
    if any(letter in IDNA_DEVIATIONS for letter in domain):
        raise UnicodeError(domain)
    converted = domain.encode("idna").decode("ascii")
    # Only a domain that reads back as typed: the codec also drops characters (a zero-width space) and
    # folds others (full-width letters) into plain ones, which would turn a look-alike into an address.
    if converted.encode("ascii").decode("idna") != domain:
        raise UnicodeError(domain)
    return converted


def address_as_stored(value: str) -> str:
    """An e-mail address as accounts and invitations store it: trimmed, with an internationalised domain
    typed as people read it (anna@bücher.example) in its xn-- form. A domain that converts to nothing is
    left as typed, for the validators to refuse (validate_ascii_email names the xn-- form)."""
    value = trimmed(value)
    local, at, domain = value.rpartition("@")
    if not at or domain.isascii():
        return value
    try:
        return f"{local}@{ascii_domain(domain)}"
    except UnicodeError:
        return value


# A domain name of letters, digits and hyphens (an internationalised one in its xn-- form): at least two
# labels, none starting or ending with a hyphen, as addresses at it are written.
HOSTNAME = re.compile(r"(?=.{1,253}\Z)(?:(?!-)[a-z0-9-]{1,63}(?<!-)\.)+(?!-)[a-z0-9-]{1,63}(?<!-)")


def validate_ascii_email(value: str) -> None:
    if not value.isascii():
        raise ValidationError(EMAIL_NOT_ASCII, code="not_ascii")
    if '"' in value.rpartition("@")[0]:
        raise ValidationError(EMAIL_QUOTED, code="quoted")


TIMEZONE_CHOICES = sorted((name, name.replace("_", " ")) for name in zoneinfo.available_timezones())


class OrganizationManager(models.Manager["Organization"]):
    def get_by_natural_key(self, slug: str) -> "Organization":
        return self.get(slug=slug)


# Named settings are keys of one object, as the site configuration's custom settings are.
SETTINGS_NOT_OBJECT = 'Give a JSON object of named settings, e.g. {"locale": "fr"}.'


# After a comma, these end a name ("Anna Berg, PhD") rather than begin a given name ("Berg, Anna").
NAME_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "phd", "md", "dds", "esq", "mba", "msc", "bsc"})


class Organization(models.Model):
    """A customer tenant: its members never see another organisation's data."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    email_domains = models.JSONField(
        "e-mail domains",
        default=list,
        blank=True,
        help_text='E-mail domains of this organisation, e.g. ["acme.example"].',
    )
    settings = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(
        default=True,
        help_text="An inactive organisation takes no new members: its invitations and e-mail domains stop "
        "working. Its members keep their accounts and tickets; suspend people to stop them signing in.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = OrganizationManager()

    class Meta:
        verbose_name = "organisation"
        ordering = alphabetical("name")
        permissions = [("view_organization_tickets", "Can see every ticket of the organisation")]
        constraints = [
            # Names tell tenants apart on the desk (organisation filter and column) and in the admin.
            models.UniqueConstraint(
                Lower("name"),
                name="organization_name_any_case",
                violation_error_message="Another organisation has this name (in some letter case).",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.name = nfc(self.name)  # "Café" typed either way is one name (organization_name_any_case)
        super().save(*args, **kwargs)

    def natural_key(self) -> tuple[str]:
        return (self.slug,)

    def clean(self) -> None:
        self.name = nfc(self.name or "")
        if self.settings is None:  # the box left empty (or "null"): no settings
            self.settings = {}
        if not isinstance(self.settings, dict):
            raise ValidationError({"settings": SETTINGS_NOT_OBJECT})
        if not isinstance(self.email_domains, list) or not all(
            isinstance(domain, str) and "." in domain and "@" not in domain for domain in self.email_domains
        ):
            raise ValidationError({"email_domains": 'Give a list of domains, e.g. ["acme.example"].'})
        # Addresses are matched in lower case (accounts.services.organization_for_address), and are
        # ASCII (validate_ascii_email): an internationalised domain is kept in the form they arrive in.
        domains = set()
        for typed in self.email_domains:
            try:
                # "acme.example." (a fully qualified name) is the domain addresses are written at.
                domain = ascii_domain(typed).rstrip(".")
            except UnicodeError:  # no domain name, or a letter the IDNA standards convert apart (ß)
                domain = ""
            # "*.acme.example", "http://acme.example", "acme..example": saved, they would match nobody.
            if not HOSTNAME.fullmatch(domain):
                raise ValidationError({"email_domains": f"{typed!r} is not a domain. {NOT_A_DOMAIN}"})
            # Everyone's mail provider: claimed, every customer with an address there would join.
            if domain in settings.PUBLIC_MAIL_DOMAINS:
                raise ValidationError({"email_domains": PUBLIC_MAIL_DOMAIN.format(domain=domain)})
            domains.add(domain)
        self.email_domains = sorted(domains)
        # A domain two active organisations claim joins nobody to either (organization_for_address asks
        # for exactly one): say so here, instead of joining by domain quietly stopping for both.
        if self.is_active and self.email_domains:
            any_of = models.Q()
            for domain in self.email_domains:
                any_of |= models.Q(email_domains__contains=[domain])
            others = Organization.objects.filter(any_of, is_active=True).exclude(pk=self.pk)
            claimed = {
                domain: other.name
                for other in others.only("name", "email_domains")
                for domain in self.email_domains
                if domain in other.email_domains
            }
            if claimed:
                taken = ", ".join(f"{domain} ({name})" for domain, name in sorted(claimed.items()))
                raise ValidationError(
                    {"email_domains": f"Another active organisation already has these domains: {taken}."}
                )


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def with_email(self, email: str) -> models.QuerySet["User"]:
        """The account of `email` in any letter case (an index look-up); see `email_key`."""
        return self.alias(email_key=Lower("email")).filter(email_key=email_key(email))

    def get_by_natural_key(self, email: str) -> "User":
        return self.with_email(email).get()

    @classmethod
    def normalize_email(cls, email: str | None) -> str:
        """Django's (the domain in lower case), with an internationalised domain in its xn-- form."""
        return super().normalize_email(address_as_stored(email or ""))

    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        if not email:
            raise ValueError("An e-mail address is required.")
        email = self.normalize_email(email)
        validate_ascii_email(email)
        user = self.model(email=email, **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        PENDING = "pending", "Pending"

    email = models.EmailField("e-mail address", max_length=254, validators=[validate_ascii_email])
    name = models.CharField(max_length=150, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    suspended_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Leave empty for an indefinite suspension.",
        validators=[validate_not_too_late],
    )
    suspension_reason = models.CharField(max_length=500, blank=True)
    timezone = models.CharField(
        max_length=64, default="UTC", choices=TIMEZONE_CHOICES, validators=[validate_timezone]
    )
    email_verified_at = models.DateTimeField("e-mail verified at", null=True, blank=True)
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
        verbose_name="organisation",
    )
    is_organization_manager = models.BooleanField(
        "organisation manager", default=False, help_text="Sees every ticket of their organisation."
    )
    # Taken out of its organisation by an administrator: the e-mail domain no longer places it (a verified
    # address or a password reset would otherwise undo the decision).
    left_organization_at = models.DateTimeField(
        "taken out of its organisation",
        null=True,
        blank=True,
        editable=False,
        help_text="Set when an administrator empties the organisation: from then on only a person, not the "
        "address's e-mail domain, puts the account in one.",
    )
    is_staff = models.BooleanField("admin site access", default=False)
    date_joined = models.DateTimeField(default=now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_case_insensitive_unique"),
            models.CheckConstraint(
                condition=models.Q(status__in=["active", "suspended", "pending"]), name="user_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "is_organization_manager"]),
            # The desk's requester search (tickets/filters.py): an e-mail prefix and words of the name
            # by prefix, each an index look-up instead of a scan of every user.
            models.Index(OpClass(Lower("email"), name="text_pattern_ops"), name="user_email_prefix"),
            GinIndex(SearchVector(SearchWords("name"), config="simple"), name="user_name_words"),
        ]
        permissions = [
            ("suspend_user", "Can suspend a user"),  # seed BAN_USER, TIMEOUT_USER
            ("unsuspend_user", "Can lift a suspension"),  # seed UNBAN_USER
            ("warn_user", "Can warn a user"),
            ("manage_roles", "Can grant and revoke roles"),
            ("view_user_info", "Can view user details"),
            ("manage_user_profile", "Can edit other users' profiles"),
        ]

    def __str__(self) -> str:
        return self.name or self.email

    def save(self, *args, **kwargs) -> None:
        # Found by search however it was typed (helpdesk.forms.nfc), and on one line: a name shows in
        # headers, lists and exports, where a line break (or a run of spaces) is no part of it.
        self.name = one_line(self.name)
        super().save(*args, **kwargs)

    def clean_fields(self, exclude=None) -> None:
        # The name as save() will store it is the one checked: composing can make it longer than the
        # column (the admin's form and the services' full_clean then refuse it instead of the database).
        self.name = one_line(self.name)
        super().clean_fields(exclude)

    def natural_key(self) -> tuple[str]:
        return (self.email,)

    def clean(self) -> None:
        super().clean()
        self.email = type(self).objects.normalize_email(self.email)
        if self.email:
            clash = type(self).objects.with_email(self.email).exclude(pk=self.pk)
            if clash.exists():
                raise ValidationError({"email": "A user with this e-mail address already exists."})
        if self.is_organization_manager and not self.organization_id:
            raise ValidationError({"is_organization_manager": "A manager must belong to an organisation."})

    def get_full_name(self) -> str:
        return self.name or self.email

    def name_shown(self, *, contact: bool) -> str:
        """How the desk names them: by name; without one, by the address to those who may see contact
        details ("Can view user details"), else by the address with its local part hidden
        ("a…@example.com"), which tells two nameless requesters apart without giving either away."""
        if self.name or contact:
            return self.get_full_name()
        local, _, domain = self.email.partition("@")
        return f"{local[:1]}…@{domain}"

    def get_short_name(self) -> str:
        """The first word of the name; of one written "Berg, Anna" (one word, a comma, then the given
        name, as directories write them), the first after the comma: "Hello Anna,", not "Hello Berg,,".
        "Anna Berg, PhD" and "King, Jr." keep their first word."""
        surname, comma, given = self.name.partition(",")
        given_words = given.split()
        directory_form = (
            comma
            and len(surname.split()) == 1
            and given_words
            and given_words[0].strip(".").lower() not in NAME_SUFFIXES
        )
        words = given_words if directory_form else self.name.split()
        return (words[0].strip(",;") or self.email) if words else self.email

    @property
    def mail_greeting(self) -> str:
        """How a mail to their address begins: by name only once they have shown they read mail there. A
        visitor's request or a sign-up can give someone else's address a name such as a link, which the
        site's own mail would otherwise put in front of its real one."""
        return f"Hello {self.get_short_name()}," if self.email_verified_at else "Hello,"

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The account's time zone; UTC for a name the tz database no longer has (US/Pacific-New)."""
        try:
            return zoneinfo.ZoneInfo(self.timezone or "UTC")
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return zoneinfo.ZoneInfo("UTC")

    def effective_status(self, now: datetime | None = None) -> str:
        """The status in force at `now`: a suspension with an end date lifts itself at that time, back to
        active, or to pending for an account nobody has set a password for yet (see `status_when_lifted`)."""
        suspension_over = self.suspended_until is not None and self.suspended_until <= (now or timezone.now())
        if self.status == self.Status.SUSPENDED and suspension_over:
            return self.status_when_lifted()
        return self.status

    def status_when_lifted(self) -> str:
        """Active, unless the account has no usable password (an anonymous submission's, never claimed):
        active, nobody could sign in to it and a reset link is not mailed to it, so its owner could never
        reach its tickets; pending, its owner claims it by setting a password through a reset link."""
        return self.Status.ACTIVE if self.has_usable_password() else self.Status.PENDING

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.effective_status() == self.Status.ACTIVE


def suspension_ended(now: datetime | None = None) -> models.Q:
    """The users still stored as suspended whose suspension's end has passed, as a filter on User."""
    return models.Q(status=User.Status.SUSPENDED, suspended_until__lte=now or timezone.now())


def active_users(now: datetime | None = None) -> models.Q:
    """The users whose status in force is active, as a filter on User: active, or suspended until a time
    that has passed with a password set (User.effective_status), before suspensions_lift_expired stores it."""
    lifted = suspension_ended(now) & ~models.Q(password__startswith=UNUSABLE_PASSWORD_PREFIX)
    return models.Q(status=User.Status.ACTIVE) | lifted


class TeamManager(models.Manager["Team"]):
    def get_by_natural_key(self, slug: str) -> "Team":
        return self.get(slug=slug)


class Team(models.Model):
    """A group of agents working one queue."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    email = models.EmailField(
        "e-mail address", blank=True, help_text="Address customers write to for this team."
    )
    is_active = models.BooleanField(default=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="TeamMember", related_name="teams")

    objects = TeamManager()

    class Meta:
        ordering = alphabetical("name")
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="team_name_any_case",
                violation_error_message="Another team has this name (in some letter case).",
            )
        ]
        permissions = [
            ("work_team_queue", "Can work the team's queue (granted on a team)"),
            ("provide_support", "Can answer tickets"),  # seed PROVIDE_SUPPORT
            ("view_support_queue", "Can open the agent desk"),  # seed VIEW_SUPPORT_QUEUE
            ("manage_support_agents", "Can manage team members"),  # seed MANAGE_SUPPORT_AGENTS
        ]

    def __str__(self) -> str:
        return self.name

    def natural_key(self) -> tuple[str]:
        return (self.slug,)


class TeamMemberManager(models.Manager["TeamMember"]):
    def get_by_natural_key(self, team_slug: str, email: str) -> "TeamMember":
        return self.get(team__slug=team_slug, user__in=User.objects.with_email(email))


class TeamMember(models.Model):
    class Role(models.TextChoices):
        AGENT = "agent", "Agent"
        SUPERVISOR = "supervisor", "Supervisor"
        LEAD = "lead", "Lead"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.AGENT)
    is_available = models.BooleanField(
        default=True,
        help_text="Whether the member is here to take tickets (untick while away). Tickets go to teams: no "
        "routing assigns them to people yet, so this only records it, for the team to see.",
    )
    joined_at = models.DateTimeField(default=timezone.now)

    objects = TeamMemberManager()

    class Meta:
        ordering = ["team", "user"]
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="team_member_once_per_team"),
            models.CheckConstraint(
                condition=models.Q(role__in=["agent", "supervisor", "lead"]), name="team_member_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.get_role_display()})"

    def natural_key(self) -> tuple[str, str]:
        return (self.team.slug, self.user.email)

    natural_key.dependencies = ["accounts.team", "accounts.user"]


class SkillManager(models.Manager["Skill"]):
    def get_by_natural_key(self, slug: str) -> "Skill":
        return self.get(slug=slug)


class Skill(models.Model):
    """A speciality (seed 002 Specialty) of agents, recorded for the team to see: no routing reads skills
    yet (tickets go to teams)."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    agents = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="skills")

    objects = SkillManager()

    class Meta:
        ordering = alphabetical("name")
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="skill_name_any_case",
                violation_error_message="Another skill has this name (in some letter case).",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def natural_key(self) -> tuple[str]:
        return (self.slug,)


class RoleAssignmentQuerySet(models.QuerySet["RoleAssignment"]):
    def in_force(self, now: datetime | None = None) -> "RoleAssignmentQuerySet":
        now = now or timezone.now()
        return self.filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now))


class RoleAssignmentManager(models.Manager.from_queryset(RoleAssignmentQuerySet)):
    def get_by_natural_key(self, email: str, role_name: str) -> "RoleAssignment":
        return self.get(user__in=User.objects.with_email(email), role__name=role_name)


class RoleAssignment(models.Model):
    """A role (a Django group) held by a user, optionally until a moment after which it grants nothing."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_assignments"
    )
    role = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="role_assignments")
    expires_at = models.DateTimeField(null=True, blank=True, validators=[validate_not_too_late])
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    granted_at = models.DateTimeField(default=timezone.now)

    objects = RoleAssignmentManager()

    class Meta:
        ordering = ["user", "role"]
        constraints = [models.UniqueConstraint(fields=["user", "role"], name="role_assignment_once_per_role")]
        indexes = [models.Index(fields=["user", "expires_at"])]

    def __str__(self) -> str:
        if not self.expires_at:
            return f"{self.user} is {self.role}"
        # In UTC, as it says: a form's value is still in the zone of whoever typed it (the admin's message
        # and History entry name the grant before the row is read back). The calendar's last hours in a
        # zone behind UTC are past its end in UTC: named in their own zone.
        try:
            until = f"{self.expires_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        except OverflowError:
            until = f"{self.expires_at:%Y-%m-%d %H:%M} {self.expires_at.tzname()}"
        return f"{self.user} is {self.role} until {until}"

    def natural_key(self) -> tuple[str, str]:
        return (self.user.email, self.role.name)

    natural_key.dependencies = ["accounts.user"]

    def in_force(self, now: datetime | None = None) -> bool:
        return self.expires_at is None or self.expires_at > (now or timezone.now())


def new_invitation_code() -> str:
    return secrets.token_urlsafe(12)


class InvitationManager(models.Manager["Invitation"]):
    def get_by_natural_key(self, code: str) -> "Invitation":
        return self.get(code=code)


class Invitation(models.Model):
    """A code that lets people sign up into an organisation (seed 004 SubAccountInvitation)."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations", verbose_name="organisation"
    )
    code = models.CharField(max_length=64, unique=True, default=new_invitation_code)
    email = models.EmailField(
        "e-mail address",
        blank=True,
        validators=[validate_ascii_email],
        help_text="If set, only this address may use the code.",
    )
    max_uses = models.PositiveIntegerField(default=1)
    uses = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True, validators=[validate_not_too_late])
    is_active = models.BooleanField(default=True)
    makes_manager = models.BooleanField(default=False, help_text="People who sign up become managers.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = InvitationManager()
    # The code lets anyone join the organisation: the audit trail records that it changed, not what to.
    audit_secret_fields = ("code",)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(uses__lte=models.F("max_uses")), name="invitation_uses_limit"
            ),
            # People type codes from a letter or a slide: "acme-welcome" finds "ACME-WELCOME" (and
            # accounts.services looks them up by this index), so no two may differ in case alone.
            models.UniqueConstraint(
                Lower("code"),
                name="invitation_code_any_case",
                violation_error_message="Another invitation has this code (codes are read in any case).",
            ),
        ]

    def __str__(self) -> str:
        return f"Invitation to {self.organization} ({self.uses}/{self.max_uses})"

    def clean_fields(self, exclude=None) -> None:
        # Stored as sign-up takes addresses: an internationalised domain in its xn-- form, so the
        # invitation shows the address the invited person signs up with. Before the field's own checks,
        # which take ASCII only.
        self.email = address_as_stored(self.email)
        super().clean_fields(exclude)

    def natural_key(self) -> tuple[str]:
        return (self.code,)


# Guardian object permissions with direct foreign keys: grants on teams and organisations.
class TeamUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Team, on_delete=models.CASCADE)


class TeamGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Team, on_delete=models.CASCADE)


class OrganizationUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Organization, on_delete=models.CASCADE)


class OrganizationGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Organization, on_delete=models.CASCADE)


class PasswordHistory(models.Model):
    """Hashes of a user's recent passwords (seed 004 PasswordHistory), so old ones are not reused."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="password_history"
    )
    password = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "password history"

    def __str__(self) -> str:
        return f"{self.user} at {self.created_at.astimezone(UTC):%Y-%m-%d} UTC"


class EmailChangeRequest(models.Model):
    """A move of an account to a new address, asked on the profile and waiting for the owner to open the
    link mailed there (accounts.services.user_email_change_request). A row, not only a signed link: a
    link is used once, even if the account later comes back to the address and password it had."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    new_email = models.EmailField("new e-mail address", max_length=254)
    # The account's address and password when it was asked (accounts.tokens.account_state): a new one
    # of either since then spends the link.
    account_state = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"], name="email_change_user")]

    def __str__(self) -> str:
        return f"{self.user} → {self.new_email}"


class UserSession(AbstractBaseSession):
    """A browser session that knows its user, device and last activity, so it can be listed and revoked."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="sessions"
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=now)
    last_seen = models.DateTimeField(default=now)

    class Meta(AbstractBaseSession.Meta):
        verbose_name = "session"

    @classmethod
    def get_session_store_class(cls):
        from accounts.sessions import SessionStore

        return SessionStore

    @property
    def public_id(self) -> str:
        """Names the session in pages and forms without revealing its key (which would be a credential)."""
        return hashlib.sha256(self.session_key.encode()).hexdigest()[:20]

    @property
    def device(self) -> str:
        return describe_user_agent(self.user_agent)


def describe_user_agent(user_agent: str) -> str:
    """'Firefox on Linux' from a User-Agent header; enough for a person to recognise their device."""
    browsers = [("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
                ("Chromium/", "Chromium"), ("Safari/", "Safari")]  # fmt: skip
    systems = [("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"), ("Windows", "Windows"),
               ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux")]  # fmt: skip
    browser = next((name for marker, name in browsers if marker in user_agent), "")
    system = next((name for marker, name in systems if marker in user_agent), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown device"


TOTP_PURPOSE = "totp"


class SealedTOTPDevice(TOTPDevice):
    """django-otp's authenticator device with its secret stored sealed (accounts/sealing.py) instead of
    in clear: a copy of the database cannot generate anyone's codes. accounts/two_factor.py uses only this
    class; rows are django-otp's own, so its throttling and drift handling are unchanged."""

    class Meta:
        proxy = True
        verbose_name = "authenticator app"

    @classmethod
    def new_key(cls) -> str:
        return sealing.seal(secrets.token_bytes(20), purpose=TOTP_PURPOSE)  # django-otp's default size

    @property
    def bin_key(self) -> bytes:
        return sealing.unseal(self.key, purpose=TOTP_PURPOSE)
