"""Admin for people, organisations, teams, roles, invitations and skills, sign-in lockouts, and the admin
site's own password page (sent to the profile's)."""

from datetime import UTC
from typing import Any

from axes.models import AccessAttempt
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from guardian.admin import GuardedModelAdmin

import audit
from accounts import rbac, roles, services, two_factor
from accounts.backends import lockout_username
from accounts.forms import EmailAddressField, time_zone_choices
from accounts.models import (
    Invitation,
    Organization,
    RoleAssignment,
    Skill,
    Team,
    TeamMember,
    User,
    email_key,
)
from accounts.roles import BUILT_IN_ROLES
from audit.admin import AuditedAdminMixin, AuditedModelAdmin, AuditedObjectPermissionsMixin
from audit.models import AuditEvent
from helpdesk.admin import (
    KeepInUseMixin,
    LabelledRowsInlineMixin,
    LoadedAutocompleteInlineMixin,
    ReadOnlyAdmin,
)
from helpdesk.display import plural_s, shown_count
from helpdesk.forms import LongSelect, nfc, shows_text
from helpdesk.links import mail_site
from helpdesk.models import SiteConfiguration
from knowledge.models import Article, ArticleRevision
from tickets.filters import matching_people_ids
from tickets.models import Ticket, TicketActivity, TicketForm, TicketMessage
from tickets.workflow import OPEN_STATUSES


class RoleChangeAuditMixin:
    """Role assignments added, changed or deleted here are recorded as accounts.services records them: a
    role_change on the user, with the role and its expiry before and after."""

    def record_edit(self, request, action: str, obj, changes: dict[str, tuple[Any, Any]]) -> None:
        if not isinstance(obj, RoleAssignment):
            super().record_edit(request, action, obj, changes)
            return
        role, expires_at = obj.role.name, obj.expires_at
        if action == "create":
            changes = {"role": (None, role), "expires_at": (None, expires_at), **changes}
        elif action == "delete":
            changes = {"role": (role, None), "expires_at": (expires_at, None)}
        else:
            changes = {"role": (role, role), **changes}
        audit.record(
            "role_change",
            actor=request.user,
            obj=obj.user,
            changes=changes,
            category=AuditEvent.Category.SECURITY,
        )


class TeamMembershipAuditMixin:
    """Memberships added, changed or removed here are recorded on the team, where its supervisors read
    the trail (audit.models visible_to shows them events about their teams), with who and which role."""

    def record_edit(self, request, action: str, obj, changes: dict[str, tuple[Any, Any]]) -> None:
        if not isinstance(obj, TeamMember):
            super().record_edit(request, action, obj, changes)
            return
        if action == "update" and not changes:  # a row posted back as it was
            return
        member = f"{obj.user} ({obj.get_role_display()})"
        if action == "create":
            changes = {"member": (None, member), **changes}
        elif action == "delete":
            changes = {"member": (member, None)}
        else:
            left = getattr(obj, "_as_loaded", {}).get("team")  # the team's id as the page was read
            if "team" in changes and left is not None and left != obj.team_id:
                # Moved to another team: the team left reads it as a removal, as its supervisors would.
                moved = {"member": (member, None), "team": changes["team"]}
                audit.record("update", actor=request.user, obj=Team.objects.get(pk=left), changes=moved)
            changes = {"member": (str(obj.user), str(obj.user)), **changes}
        audit.record("update", actor=request.user, obj=obj.team, changes=changes)


def acting_as(form_class: type, actor: User) -> type:
    """`form_class` knowing who fills it in, for checks that depend on them (a subclass per request: the
    class Django made is shared between requests)."""
    return type(form_class.__name__, (form_class,), {"actor": actor})


def granted(assignment: RoleAssignment, form: forms.ModelForm, actor: User) -> None:
    """A new or changed assignment is granted by whoever saves it, now, as services.role_assign records
    a grant: the first granter never gave the role it holds now."""
    if assignment.pk is None or form.has_changed():
        assignment.granted_by, assignment.granted_at = actor, timezone.now()


def role_out_of_reach(actor: User, assignment: RoleAssignment) -> bool:
    """A role the actor could not give, or one held by someone ranked above them, is not theirs to
    change or take away (a clerk who manages role assignments does not demote an Administrator)."""
    # Others' as the actor stands for good; one's own role (to shorten or end) as they stand now.
    standing = actor if assignment.user_id == actor.pk else rbac.lasting(actor)
    outranked = rbac.rank(assignment.user) > rbac.rank(standing)
    return outranked or bool(rbac.grant_refusal(actor, assignment.role))


def members_out_of_reach(actor: User, team_id: int | None) -> bool:
    """Whether `actor` may not change team `team_id`'s memberships (members_refusal says why)."""
    if team_id is None or actor.is_superuser:
        return False
    return team_id not in rbac.supervised_team_ids(rbac.lasting(actor))


def members_refusal(actor: User, team_id: int | None) -> str:
    """Why `actor` may not add, change or remove a membership of team `team_id`: "" when they may. A
    membership is a grant of the team's queue, given for good: only administrators and the team's
    supervisors and leads (rbac.supervised_team_ids) change one, and only as they stand for good
    (rbac.lasting): an Administrator until Friday makes nobody a member for longer."""
    if not members_out_of_reach(actor, team_id):
        return ""
    team = Team.objects.get(pk=team_id)
    if team_id in rbac.supervised_team_ids(actor):
        return MEMBERS_OUTLAST.format(team=team, until=rbac.first_role_end(actor))
    return MEMBERS_OUT_OF_REACH.format(team=team)


STAYS_PENDING = (
    "This account has no password yet, so it stays pending until its owner sets one with “{reset}”."
)
SOME_STAY_PENDING = (
    "{count} accounts have no password yet, so they stay pending until their owners set one with “{reset}”."
)
ONE_STAYS_PENDING = (
    "One account has no password yet, so it stays pending until its owner sets one with “{reset}”."
)
RESET_LINK = "Forgotten your password?"
ACCOUNTS_KEPT = (
    "Kept {count} user{s} as they were, whose accounts are not yours to run (ranked above yours, or "
    "managing an organisation whose tickets you do not see): {names}."
)
NOT_MAILED_WITHOUT_ADDRESS = (
    "This invitation names no address, so it was not mailed: pass its code ({code}) on yourself, or the "
    "sign-up link with it."
)
ROLE_OUT_OF_REACH = "You cannot change or remove the role {role}: you could not give it."
MEMBERS_OUT_OF_REACH = (
    "You can only change the members of teams you supervise, and you do not supervise “{team}”."
)
MEMBERS_OUTLAST = (
    "You run the members of “{team}” only until {until:%Y-%m-%d %H:%M} UTC, and a membership is for good: "
    "ask someone who runs them for good."
)
ROLE_ADDS_OUTLAST = (
    "You hold what you added to the role “{role}” only until {until:%Y-%m-%d %H:%M} UTC, and its holders "
    "would keep it for as long as they hold the role: ask someone who holds it for good."
)
MANAGER_OUTLASTS = (
    "You see every ticket of “{organization}” only until {until:%Y-%m-%d %H:%M} UTC, and a manager is made "
    "for good: ask someone who sees them for good."
)
MANAGER_OUT_OF_REACH = (
    "Only someone who sees every ticket of “{organization}” can make a manager of it (a manager sees them "
    "all)."
)


def refuse_manager_out_of_reach(form: forms.ModelForm, flag: str, *, any_change: bool = False) -> None:
    """A form that makes a manager of an organisation (its field `flag` ticked, and the organisation or
    the flag changed, or with `any_change` anything at all) is refused unless its actor sees every
    ticket of that organisation themselves."""
    organization = form.cleaned_data.get("organization")
    changed = set(form.changed_data) if any_change else {"organization", flag} & set(form.changed_data)
    made = form.cleaned_data.get(flag) and changed and organization
    if not made:
        return
    if not rbac.sees_organization_tickets(form.actor, organization):
        form.add_error(flag, MANAGER_OUT_OF_REACH.format(organization=organization))
    # A manager is made for good: by someone who sees those tickets for good (rbac.lasting), not by an
    # Administrator until Friday.
    elif not rbac.sees_organization_tickets(rbac.lasting(form.actor), organization):
        until = rbac.first_role_end(form.actor)
        form.add_error(flag, MANAGER_OUTLASTS.format(organization=organization, until=until))


class OutOfReachMixin:
    """Rows the actor could not have made (out_of_reach) are not theirs to change or delete, one at a
    time or by the bulk action, which keeps them and says so."""

    kept_message = "{count} of the selected rows are not yours to change and were kept."

    def out_of_reach(self, request, obj) -> bool:
        raise NotImplementedError

    def has_change_permission(self, request, obj=None) -> bool:
        return super().has_change_permission(request, obj) and not (obj and self.out_of_reach(request, obj))

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and not (obj and self.out_of_reach(request, obj))

    def delete_queryset(self, request, queryset):
        rows = list(queryset.select_related(*self.list_select_related))
        kept = [row for row in rows if self.out_of_reach(request, row)]
        if kept:
            self.message_user(request, self.kept_message.format(count=len(kept)), messages.WARNING)
        super().delete_queryset(request, queryset.filter(pk__in=[row.pk for row in rows if row not in kept]))


class RoleAssignmentForm(forms.ModelForm):
    """A role given or changed here: only one whose permissions the actor holds (rbac.grant_refusal),
    for no longer than they hold them (rbac.grant_expiry_refusal), and only in place of one the actor
    could have given (role_out_of_reach)."""

    actor: User | None = None

    def clean(self) -> dict:
        cleaned = super().clean()
        role = cleaned.get("role")
        expires_at = cleaned.get("expires_at")
        if "expires_at" in self.changed_data and expires_at is not None and expires_at <= timezone.now():
            # Saved, it would be recorded as a grant of a role that gives nothing.
            self.add_error("expires_at", ROLE_EXPIRY_PASSED)
        if role is not None and self.has_changed():
            if missing := rbac.grant_refusal(self.actor, role):
                self.add_error("role", missing)
            elif "expires_at" not in self.errors and (
                too_long := rbac.grant_expiry_refusal(self.actor, role, cleaned.get("expires_at"))
            ):
                self.add_error("expires_at", too_long)
        # The instance still holds what is stored (the form's values reach it after clean).
        stored = self.instance
        if stored.pk and self.has_changed() and role_out_of_reach(self.actor, stored):
            self.add_error(None, ROLE_OUT_OF_REACH.format(role=stored.role))
        return cleaned


class RoleAssignmentFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        # A row ticked "Delete" is not validated as a form: its removal is checked here.
        for form in self.deleted_forms:
            if form.instance.pk and role_out_of_reach(form.actor, form.instance):
                raise forms.ValidationError(ROLE_OUT_OF_REACH.format(role=form.instance.role))
            if (
                form.instance.pk
                and form.instance.user_id == form.actor.pk
                and form.instance.role.name == roles.ADMINISTRATOR
                and not form.actor.is_superuser
                and not rbac.other_administrator_exists(form.actor)
            ):
                raise forms.ValidationError(LAST_ADMINISTRATOR.format(role=form.instance.role))


class RoleAssignmentInline(LabelledRowsInlineMixin, LoadedAutocompleteInlineMixin, admin.TabularInline):
    model = RoleAssignment
    form = RoleAssignmentForm
    formset = RoleAssignmentFormSet
    fk_name = "user"
    extra = 0
    fields = ("role", "expires_at", "granted_by", "granted_at")
    readonly_fields = ("granted_by", "granted_at")
    autocomplete_fields = ("role",)

    def get_queryset(self, request):
        # Each row's title names the user and the role: fetched with the rows, not one query per row.
        return super().get_queryset(request).select_related("user", "role", "granted_by")

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = acting_as(formset.form, request.user)
        return formset


class TeamMemberForm(forms.ModelForm):
    """A membership added, changed or moved here: only in teams the actor supervises, the one it leaves
    included (members_refusal)."""

    actor: User | None = None

    def clean(self) -> dict:
        cleaned = super().clean()
        if not self.has_changed():
            return cleaned
        # The instance still holds what is stored (the form's values reach it after clean); an inline's
        # new row already holds its team.
        chosen = cleaned.get("team")
        for team_id in {self.instance.team_id, chosen.pk if chosen else None}:
            if refusal := members_refusal(self.actor, team_id):
                self.add_error(None, refusal)
        member = cleaned.get("user")
        if member is not None and "user" in self.changed_data and not rbac.holds_staff_role(member):
            self.add_error("user", NOT_AN_AGENT.format(user=member))
        return cleaned


STRANDED_TICKETS = (
    "{user} can no longer work the desk and is still assigned {count}, which nobody's queue offers to take: "
    "reassign {them} from the desk (filter by Assignee)."
)
IN_NO_TEAM = (
    "{user} works no team's queue yet, so their desk stays empty: add them as a member on a team's page "
    "(Teams)."
)
ADDED_UNCLAIMED = (
    "{user} has no password yet: the account is pending until its owner sets one with “Forgotten your "
    "password?” on the sign-in page."
)


# A team is a queue worked by agents (DESIGN.md §4): a customer in one could not open it, while its
# supervisors would read that they joined.
NOT_AN_AGENT = (
    "{user} is not an agent: give them a staff role (Agent, Supervisor or Administrator) on their user "
    "page first."
)


class TeamMemberFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        for form in self.deleted_forms:
            if form.instance.pk and (refusal := members_refusal(form.actor, form.instance.team_id)):
                raise forms.ValidationError(refusal)


class TeamMemberInline(LabelledRowsInlineMixin, LoadedAutocompleteInlineMixin, admin.TabularInline):
    model = TeamMember
    form = TeamMemberForm
    formset = TeamMemberFormSet
    extra = 0
    autocomplete_fields = ("user",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "team")  # as the role assignments

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = acting_as(formset.form, request.user)
        return formset


SUSPEND_YOURSELF = "You cannot suspend yourself."
PENDING_YOURSELF = (
    "You cannot make your own account pending: it would be signed out, and could not sign in again until "
    "someone else activated it."
)
LAST_ADMINISTRATOR = (
    "You are the only administrator: give the role “{role}” to someone else first, or nobody could give "
    "roles or lift suspensions any more."
)


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "name")
        field_classes = {"email": EmailAddressField}


class UserChange(UserChangeForm):
    actor: User | None = None

    class Meta:
        model = User
        fields = "__all__"
        field_classes = {"email": EmailAddressField}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "timezone" in self.fields:
            self.fields["timezone"].widget = LongSelect()
            self.fields["timezone"].choices = time_zone_choices(self.instance.timezone)

    def _get_validation_exclusions(self):
        # A zone kept as it was is not checked against today's tz database: one it has dropped since
        # (US/Pacific-New) stays until someone picks another, rather than refusing every other change.
        exclusions = super()._get_validation_exclusions()
        if "timezone" not in self.changed_data:
            exclusions.add("timezone")
        return exclusions

    def clean(self):
        cleaned = super().clean()
        until = cleaned.get("suspended_until")
        # A changed reason also goes through user_suspend, which refuses an end already past.
        suspension_changed = set(UserAdmin.STATUS_FIELDS) & set(self.changed_data)
        suspended = cleaned.get("status") == User.Status.SUSPENDED
        if suspension_changed and suspended and until and until <= timezone.now():
            self.add_error("suspended_until", services.SUSPENSION_ALREADY_ENDED)
        if suspension_changed and suspended and self.actor is not None and self.instance.pk == self.actor.pk:
            self.add_error("status", SUSPEND_YOURSELF)
        yourself = self.actor is not None and self.instance.pk == self.actor.pk
        if "status" in self.changed_data and cleaned.get("status") == User.Status.PENDING and yourself:
            self.add_error("status", PENDING_YOURSELF)
        organization = cleaned.get("organization")
        # The organisation's own words: "an inactive organisation takes no new members". One kept as it
        # was stays, so its members' accounts can still be edited.
        if "organization" in self.changed_data and organization is not None and not organization.is_active:
            self.add_error("organization", ORGANIZATION_INACTIVE.format(organization=organization))
        # Managing is of one organisation: a manager moved on would manage the next one (every ticket of
        # it) by a tick given for the last, unless someone decides it again.
        was = self.instance.organization if self.instance.pk and self.instance.organization_id else None
        moved = "organization" in self.changed_data and was is not None and organization is not None
        if moved and self.initial.get("is_organization_manager") and cleaned.get("is_organization_manager"):
            self.add_error(
                "is_organization_manager", MANAGER_MOVED.format(user=self.instance, old=was, new=organization)
            )
        refuse_manager_out_of_reach(self, "is_organization_manager")
        return cleaned


MANAGER_MOVED = (
    "{user} manages {old}: moving them to {new}, untick this (they join as a member), and tick it again "
    "once moved if they are to manage {new} too."
)
ORGANIZATION_INACTIVE = "{organization} is inactive and takes no new members: activate it first."
EXPIRY_PASSED = "This date has passed: the code would never work. Choose a later one."
ROLE_EXPIRY_PASSED = "This date has passed: the role would give nothing. Choose a later one, or none."


@admin.register(User)
class UserAdmin(KeepInUseMixin, RoleChangeAuditMixin, AuditedAdminMixin, DjangoUserAdmin):
    form = UserChange
    add_form = UserCreationForm
    ordering = ("email",)

    def record_edit(self, request, action: str, obj, changes: dict[str, tuple[Any, Any]]) -> None:
        """An account deleted here takes its roles and memberships with it: each is recorded as removing it
        on the page would be (a role change on the account, a member fewer on the team, which the team's
        supervisors read), before the account's own delete event."""
        if action == "delete" and isinstance(obj, User):
            for assignment in obj.role_assignments.select_related("role"):
                super().record_edit(request, "delete", assignment, {})
            for membership in obj.team_memberships.select_related("team"):
                member = f"{obj} ({membership.get_role_display()})"
                audit.record(
                    "update", actor=request.user, obj=membership.team, changes={"member": (member, None)}
                )
        super().record_edit(request, action, obj, changes)

    list_display = (
        "email",
        "name",
        "status",
        "organization",
        "is_organization_manager",
        "roles",
        "last_login",
    )
    list_filter = (
        "status",
        "organization",
        "is_organization_manager",
        "role_assignments__role",
        "is_superuser",
    )
    search_fields = ("email", "name", "organization__name")
    list_select_related = ("organization",)
    # A search box, not a menu of every organisation (10,000 of them made the page 1.4 s and 0.5 MB).
    autocomplete_fields = ("organization",)
    readonly_fields = ("last_login", "date_joined", "left_organization_at")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name", "timezone", "email_verified_at")}),
        ("Organisation", {"fields": ("organization", "is_organization_manager", "left_organization_at")}),
        ("Status", {"fields": ("status", "suspended_until", "suspension_reason")}),
        ("Admin site", {"fields": ("is_staff", "is_superuser", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    # "Password-based authentication: Disabled" adds an account pending until its owner claims it.
    add_fieldsets = (
        (
            None,
            {"classes": ("wide",), "fields": ("email", "name", "usable_password", "password1", "password2")},
        ),
    )
    filter_horizontal = ("user_permissions",)
    inlines = (RoleAssignmentInline,)
    actions = ("suspend_users", "activate_users", "unlock_sign_in", "sign_out_everywhere", "reset_two_factor")

    STATUS_FIELDS = ("status", "suspended_until", "suspension_reason")

    def get_form(self, request, obj=None, **kwargs):
        return acting_as(super().get_form(request, obj, **kwargs), request.user)

    # Changes to these are security events: they decide what the account may do in the admin.
    # The address is where a password reset goes: moving it hands the account to that mailbox.
    # Managing an organisation gives its tickets, as the object permission does: a grant, said as one.
    security_fields = (
        "is_superuser", "is_staff", "user_permissions", "password", "email", "is_organization_manager",
        "organization",
    )  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        fields = self.readonly_fields
        # One's own address moves from the profile, with the password and a link to the new address: here
        # a borrowed session would take the account (a reset mailed to a mailbox of the borrower's).
        if obj is not None and obj.pk == request.user.pk:
            # Admin site access too: unticked, the next page of the admin would be a sign-in page.
            fields = (*fields, "email", "is_staff")
        # Superuser status and permissions beside the roles are a superuser's to give: anyone else
        # could make themselves one (roles, checked in RoleAssignmentForm, are how they grant).
        # An account's status is suspended and lifted by those whose role may do both (the actions ask
        # for one each).
        if not (self.has_suspend_permission(request) and self.has_unsuspend_permission(request)):
            fields = (*fields, *self.STATUS_FIELDS)
        if request.user.is_superuser:
            return fields
        return (*fields, "is_superuser", "user_permissions")

    def has_change_permission(self, request, obj=None) -> bool:
        # An account ranked above the actor's (an Administrator's for a clerk, a superuser's for an
        # Administrator), or an organisation manager's where the actor does not see that organisation's
        # tickets, is out of reach: changing its address or password would hand over a role, or
        # tickets, the actor could not give.
        if obj is not None and rbac.is_out_of_reach(request.user, obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        # Deleting is more than changing: an account the actor may not change (or suspend) they may not
        # delete, one at a time or ticked among others ("delete selected" asks this of each row).
        if obj is not None and rbac.is_out_of_reach(request.user, obj):
            return False
        return super().has_delete_permission(request, obj)

    @staticmethod
    def within_reach(request, queryset):
        """The users of `queryset` the actor may act on (rbac.out_of_reach_user_filter)."""
        return queryset.exclude(rbac.out_of_reach_user_filter(request.user))

    def save_model(self, request, obj, form, change):
        """As _save_user; an account moved to another mailbox here is told so at the old one, as a move
        its owner makes from the profile is (services.user_email_change): if the owner did not ask for it
        (a clerk talked into it, a borrowed staff session), this is how they hear of it."""
        old_email = form.initial.get("email") or ""
        verified = change and User.objects.filter(pk=obj.pk, email_verified_at__isnull=False).exists()
        self._save_user(request, obj, form, change)
        if change and old_email and email_key(old_email) != email_key(obj.email):
            from accounts.tasks import send_email_changed_notice  # the tasks module imports accounts'

            user_pk = obj.pk
            transaction.on_commit(
                lambda: send_email_changed_notice.enqueue(user_pk, old_email, greet_by_name=verified)
            )

    def _save_user(self, request, obj, form, change):
        """A status set on the form goes through user_suspend / user_activate (their audit events say
        "suspend" and "activate", and activating clears the suspension's date and reason); the other
        fields save as usual. Nobody suspends themselves. A new address is unverified until its owner
        shows they read it (anonymous submissions join only verified accounts)."""
        if change and "organization" in form.changed_data and obj.organization_id is None:
            obj.left_organization_at = timezone.now()  # the e-mail domain does not put it back
        if not change and not obj.has_usable_password():
            # Added without a password: pending, its owner claims it with "Forgotten your password?"
            # (active, no reset link would be mailed to it, and nobody could ever sign in).
            obj.status = obj.status_when_lifted()
            self.message_user(request, ADDED_UNCLAIMED.format(user=obj), messages.WARNING)
        # Another mailbox is not verified; the same one written in other capitals still is.
        new_mailbox = email_key(form.initial.get("email") or "") != email_key(obj.email)
        if change and new_mailbox and "email_verified_at" not in form.changed_data:
            obj.email_verified_at = form.cleaned_data["email_verified_at"] = None
            form.changed_data.append("email_verified_at")
        marked_verified = change and "email_verified_at" in form.changed_data and obj.email_verified_at
        if marked_verified and User.objects.filter(pk=obj.pk, email_verified_at__isnull=True).exists():
            # As its owner's link would (a security event, the organisation of the address's domain
            # joined), at the time it is marked.
            obj.email_verified_at = None
            form.changed_data.remove("email_verified_at")
            self._save_user(request, obj, form, change)
            services.user_email_verify(obj, actor=request.user)
            return None
        if not change or not set(self.STATUS_FIELDS) & set(form.changed_data):
            return super().save_model(request, obj, form, change)
        wanted = {name: getattr(obj, name) for name in self.STATUS_FIELDS}
        stored = User.objects.get(pk=obj.pk)
        for name in self.STATUS_FIELDS:
            setattr(obj, name, getattr(stored, name))
        form.changed_data[:] = [name for name in form.changed_data if name not in self.STATUS_FIELDS]
        super().save_model(request, obj, form, change)
        if wanted["status"] == User.Status.SUSPENDED:
            services.user_suspend(
                obj, until=wanted["suspended_until"], reason=wanted["suspension_reason"], actor=request.user
            )
        elif wanted["status"] == User.Status.ACTIVE:
            if services.user_activate(obj, actor=request.user).status == User.Status.PENDING:
                self.message_user(request, STAYS_PENDING.format(reset=RESET_LINK), messages.WARNING)
        else:
            services.user_set_pending(obj, actor=request.user)

    def user_change_password(self, request, id, form_url=""):
        # One's own password is changed where the current one is asked for (the profile), as Django's own
        # /admin/password_change/ is sent there: a borrowed session must not lock its owner out.
        # Compared as the account found, not as typed: "08" finds account 8 as "8" does.
        # get_object: None for an unknown or malformed id, which Django's view then answers with 404.
        found = self.get_object(request, unquote(id))
        if found is not None and found.pk == request.user.pk:
            return password_change_on_profile(request)
        # Django's view saves the new password itself; what the password service adds (the audit event,
        # signing the account out everywhere else) follows in the same transaction once it has.
        with transaction.atomic():
            # Locked before Django's view reads the account, whose form saves all of it: a suspension
            # committed while the new password is checked would otherwise be written back over.
            locked = User.objects.select_for_update().filter(pk=found.pk).first() if found else None
            stored = getattr(locked, "password", None)
            response = super().user_change_password(request, id, form_url)
            if request.method == "POST" and response.status_code == 200:  # refused: shown again
                response.status_code = 422
            user = self.get_object(request, unquote(id))
            if user is not None and user.password != stored:
                # Someone else's account (one's own went to the profile above): all its sessions end.
                services.user_password_changed(user, actor=request.user, keep_session_key=None)
        return response

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("role_assignments__role")

    # (model, its field naming the user, what to say): rows that keep an account from deletion.
    HELD_BY = (
        # The audit trail protects its actors (the hash chain covers their ids): said before the attempt,
        # with the way out, instead of failing on ProtectedError.
        (AuditEvent, "actor", "{user}: the actor of {count} audit event{s}, which must stay as recorded. "
         "Suspend the account instead."),
        # Their tickets would lose their assignee with nothing on the tickets' timelines.
        (Ticket, "assignee", "{user}: assigned {count} ticket{s}. Reassign the open ones from the desk, or "
         "suspend the account (a closed ticket keeps its assignee as its record)."),
        # What they wrote and did keeps their name, also once retention has pruned their audit events: a
        # delete would turn their replies, timeline entries and articles into System's.
        *(
            (model, field, "{user}: the author of {count} " + what + ", which keep their name. "
             "Suspend the account instead.")
            for model, field, what in (
                (TicketMessage, "author", "message{s} on tickets"),
                (TicketActivity, "actor", "change{s} on ticket timelines"),
                (Article, "author", "knowledge base article{s}"),
                (ArticleRevision, "created_by", "knowledge base article version{s}"),
            )
        ),
    )  # fmt: skip

    def in_use(self, users) -> list[str]:
        ids = [user.pk for user in users]
        held = []
        for model, field, message in self.HELD_BY:
            rows = model.objects.filter(**{f"{field}__in": ids}).order_by()
            counts = dict(rows.values_list(field).annotate(Count("pk")))
            held += [
                message.format(user=user, count=counts[user.pk], s=plural_s(counts[user.pk]))
                for user in users
                if user.pk in counts
            ]
        return held

    @admin.display(description="Roles")
    def roles(self, user: User) -> str:
        now = timezone.now()
        return ", ".join(
            assignment.role.name + ("" if assignment.in_force(now) else " (expired)")
            for assignment in user.role_assignments.all()
        )

    def save_formset(self, request, form, formset, change):
        for inline in formset.forms:
            if isinstance(inline.instance, RoleAssignment):
                granted(inline.instance, inline, request.user)
        super().save_formset(request, form, formset, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # Memberships are set on the team's page: an agent made here would find an empty desk, unsaid.
        user = User.objects.get(pk=form.instance.pk)  # its roles as just saved, not as read before
        self.say_stranded_tickets(request, [user])
        if not rbac.holds_staff_role(user) or rbac.is_administrator(user):
            return
        # The queues the desk gives them (memberships and team grants); a pending account's, its memberships.
        works = rbac.workable_team_ids(user) if user.is_active else user.team_memberships.exists()
        if not works:
            self.message_user(request, IN_NO_TEAM.format(user=user), messages.WARNING)

    def say_stranded_tickets(self, request, users) -> None:
        """Warn of the open tickets still assigned to those of `users` who can no longer work the desk
        (a role taken away, a suspension): they keep their assignee, and no queue's Unassigned view shows
        them, so a customer would wait on a ticket nobody is prompted to pick up."""
        held = dict(
            Ticket.objects.filter(assignee__in=users, status__in=OPEN_STATUSES, is_deleted=False)
            .values_list("assignee")
            .annotate(count=Count("pk"))
        )
        for user in users:
            if held.get(user.pk) and not (user.is_active and rbac.is_agent(user)):
                count = held[user.pk]
                them = "it" if count == 1 else "them"
                text = STRANDED_TICKETS.format(user=user, count=shown_count(count, "open ticket"), them=them)
                self.message_user(request, text, messages.WARNING)

    # The pickers of a team's members and a skill's agents offer agents only (the forms refuse others).
    AGENT_PICKERS = {
        ("accounts", "teammember", "user"),
        ("accounts", "skill", "agents"),
        ("tickets", "ticket", "assignee"),
    }

    def get_search_results(self, request, queryset, search_term):
        term = nfc(search_term.strip())  # "Jose\u0301" pasted decomposed is the José stored composed
        found, may_have_duplicates = super().get_search_results(request, queryset, term)
        # And as the desk finds people: names without their accents ("jose nunez" finds José Núñez), an
        # internationalised domain typed as people read it (stored in its xn-- form).
        if term and "\x00" not in term and (people := matching_people_ids(term[:200])):
            found = found | queryset.filter(pk__in=people)
        queryset = found
        source = tuple(request.GET.get(name) for name in ("app_label", "model_name", "field_name"))
        if source in self.AGENT_PICKERS:
            queryset = queryset.filter(rbac.staff_user_filter())
        return queryset, may_have_duplicates

    def has_suspend_permission(self, request) -> bool:
        return self.has_change_permission(request) and rbac.has_permission(request.user, rbac.SUSPEND_USER)

    def has_unsuspend_permission(self, request) -> bool:
        return self.has_change_permission(request) and rbac.has_permission(request.user, rbac.UNSUSPEND_USER)

    @admin.action(description="Suspend selected users (indefinitely)", permissions=("suspend",))
    def suspend_users(self, request, queryset):
        users = self.acted_on(request, queryset, own="suspend yourself")
        reason = "Suspended by an administrator"
        already = [user for user in users if (user.status, user.suspended_until, user.suspension_reason)
                   == (User.Status.SUSPENDED, None, reason)]  # fmt: skip
        for user in users:
            services.user_suspend(user, until=None, reason=reason, actor=request.user)
        if len(users) > len(already):
            self.message_user(
                request, f"Suspended {shown_count(len(users) - len(already), 'user')}.", messages.SUCCESS
            )
        self.say_left_as_they_were(request, already, "suspended already")
        self.say_stranded_tickets(request, users)

    @admin.action(description="Activate selected users", permissions=("unsuspend",))
    def activate_users(self, request, queryset):
        users = self.acted_on(request, queryset)
        already = [user for user in users if user.status == User.Status.ACTIVE and not user.suspended_until]
        still_pending = sum(
            services.user_activate(user, actor=request.user).status == User.Status.PENDING for user in users
        )
        if len(users) - len(already) > still_pending:
            activated = len(users) - len(already) - still_pending
            self.message_user(request, f"Activated {shown_count(activated, 'user')}.", messages.SUCCESS)
        self.say_left_as_they_were(request, already, "active already")
        if still_pending:
            message = (ONE_STAYS_PENDING if still_pending == 1 else SOME_STAY_PENDING).format(
                count=still_pending, reset=RESET_LINK
            )
            self.message_user(request, message, messages.WARNING)

    def say_left_as_they_were(self, request, users: list[User], state: str) -> None:
        """Name the selected users an action found as it would leave them (nothing written for them)."""
        if users:
            names = ", ".join(str(user) for user in users[:10]) + (" …" if len(users) > 10 else "")
            self.message_user(request, f"Left as they were ({state}): {names}.", messages.INFO)

    def acted_on(self, request, queryset, *, own: str = "") -> list[User]:
        """The selected users the actor may act on (within_reach, and not themselves when `own` names
        what they may not do to themselves here); the others are named in a message as kept."""
        selected = list(queryset)
        reachable = set(self.within_reach(request, queryset).values_list("pk", flat=True))
        if own and request.user.pk in reachable:
            reachable.discard(request.user.pk)
            self.message_user(request, f"You cannot {own} here: your account was kept.", messages.WARNING)
        kept = [user for user in selected if user.pk not in reachable and user.pk != request.user.pk]
        if kept:
            names = ", ".join(str(user) for user in kept[:10]) + (" …" if len(kept) > 10 else "")
            self.message_user(
                request,
                ACCOUNTS_KEPT.format(count=len(kept), s=plural_s(len(kept)), names=names),
                messages.WARNING,
            )
        return [user for user in selected if user.pk in reachable]

    @admin.action(description="Unlock sign-in (after too many failed attempts)", permissions=("change",))
    def unlock_sign_in(self, request, queryset):
        queryset = User.objects.filter(pk__in=[user.pk for user in self.acted_on(request, queryset)])
        # Looked up before the unlock forgets these users' attempts. Their addresses are not unlocked
        # here: one of them may be the attacker's that caused the lockout.
        addresses = locked_addresses(queryset)
        unlocked = [user for user in queryset if services.user_unlock(user, actor=request.user)]
        self.message_user(
            request,
            f"Unlocked sign-in for {shown_count(len(unlocked), 'user')}; the others were not locked out.",
            messages.SUCCESS,
        )
        if addresses:
            self.message_user(
                request,
                f"Sign-in is also locked for everyone at {', '.join(addresses)}, where these users tried to "
                "sign in. If that is their own network, unlock it under Axes → Access attempts.",
                messages.WARNING,
            )

    @admin.action(description="Sign selected users out everywhere", permissions=("change",))
    def sign_out_everywhere(self, request, queryset):
        queryset = self.acted_on(request, queryset)
        keep = request.session.session_key  # an administrator never signs out the session they act from
        ended = sum(
            services.user_sign_out_sessions(user, actor=request.user, keep_session_key=keep)
            for user in queryset
        )
        self.message_user(request, f"Ended {shown_count(ended, 'session')}.", messages.SUCCESS)

    @admin.action(
        description="Reset two-factor sign-in (lost phone and recovery codes)", permissions=("change",)
    )
    def reset_two_factor(self, request, queryset):
        # Never one's own: that goes through the profile, with a current code and the site's rule.
        users = self.acted_on(request, queryset, own="reset your own two-factor sign-in")
        without = [user for user in users if not two_factor.is_enabled(user)]
        for user in users:
            two_factor.two_factor_disable(user, actor=request.user, site_requires=False)
        if len(users) > len(without):
            self.message_user(
                request,
                f"Two-factor sign-in is reset for {shown_count(len(users) - len(without), 'user')}, who are "
                "signed out; they set it up at their next sign-in.",
                messages.SUCCESS,
            )
        self.say_left_as_they_were(
            request, without, "no two-factor sign-in to reset; signed out all the same"
        )


@admin.register(Organization)
class OrganizationAdmin(KeepInUseMixin, AuditedObjectPermissionsMixin, AuditedAdminMixin, GuardedModelAdmin):
    list_display = ("name", "slug", "is_active", "member_count", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    # Deleted with it by the database: the trail says which grants and invitation codes went.
    deleted_with = (
        "invitations",
        "organizationuserobjectpermission_set",
        "organizationgroupobjectpermission_set",
    )

    def in_use(self, organizations) -> list[str]:
        # Members, tickets and forms protect an organisation: said in one count each, instead of Django
        # collecting (and listing) every member and ticket, with a permission check per member.
        ids = [organization.pk for organization in organizations]
        names = {organization.pk: organization for organization in organizations}
        held = []
        holders = (
            (User, "member{s}: move them to another organisation first"),
            (Ticket, "ticket{s}, which keep it: untick “Active” instead"),
            (TicketForm, "ticket form{s} for its members: change them first"),
        )
        for model, what in holders:
            rows = model.objects.filter(organization__in=ids)
            counts = rows.order_by().values_list("organization").annotate(Count("pk"))
            held += [f"“{names[pk]}” has {count} {what.format(s=plural_s(count))}." for pk, count in counts]
        return held

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("members"))

    @admin.display(description="Members", ordering="member_count")
    def member_count(self, organization: Organization) -> int:
        return organization.member_count


@admin.register(Team)
class TeamAdmin(
    KeepInUseMixin,
    TeamMembershipAuditMixin,
    AuditedObjectPermissionsMixin,
    AuditedAdminMixin,
    GuardedModelAdmin,
):
    list_display = ("name", "slug", "email", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (TeamMemberInline,)

    # The members and the grants of its queue go with it: its delete event names them.
    deleted_with = ("memberships", "teamuserobjectpermission_set", "teamgroupobjectpermission_set")
    # Their tickets would drop out of every agent's team queue with no activity on them.
    held_by = "tickets"
    held_message = (
        "Team “{obj}” holds {count} ticket{s}: move the open ones to another team from the desk, or untick "
        "“Active” to close the team down (a closed ticket keeps its team as its record)."
    )

    def in_use(self, teams) -> list[str]:
        # Where new tickets go: deleted, the setting would be cleared with nothing on the trail.
        held = super().in_use(teams)
        ids = [team.pk for team in teams]
        for configuration in SiteConfiguration.objects.filter(default_team__in=ids).select_related(
            "default_team"
        ):
            held.append(
                f"Team “{configuration.default_team}” receives new tickets by default: choose another in the "
                "site configuration first."
            )
        for form in TicketForm.objects.filter(default_team__in=ids).select_related("default_team"):
            held.append(
                f"Team “{form.default_team}” receives the tickets of the form “{form.title}”: choose another "
                "team for the form first."
            )
        return held


@admin.register(TeamMember)
class TeamMemberAdmin(OutOfReachMixin, TeamMembershipAuditMixin, AuditedModelAdmin):
    form = TeamMemberForm
    list_display = ("user", "team", "role", "is_available", "joined_at")
    list_filter = ("team", "role", "is_available")
    search_fields = ("user__email", "user__name", "team__name")
    autocomplete_fields = ("user", "team")
    list_select_related = ("user", "team")
    kept_message = "{count} of the selected memberships are in teams you do not supervise and were kept."

    def get_form(self, request, obj=None, change=False, **kwargs):
        return acting_as(super().get_form(request, obj, change, **kwargs), request.user)

    def out_of_reach(self, request, membership: TeamMember) -> bool:
        return members_out_of_reach(request.user, membership.team_id)


class SkillForm(forms.ModelForm):
    def clean_agents(self):
        agents = self.cleaned_data["agents"]
        # Those added now: one listed before whose role has expired since leaves the skill savable.
        listed = set(self.instance.agents.all()) if self.instance.pk else set()
        for user in set(agents) - listed:
            if not rbac.holds_staff_role(user):
                raise forms.ValidationError(NOT_AN_AGENT.format(user=user))
        return agents


@admin.register(Skill)
class SkillAdmin(AuditedModelAdmin):
    form = SkillForm
    list_display = ("name", "slug", "description")
    search_fields = ("name",)
    prepopulated_fields = {"slug": ("name",)}
    autocomplete_fields = ("agents",)  # a search box: a menu would list every account of the site


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(OutOfReachMixin, RoleChangeAuditMixin, AuditedModelAdmin):
    list_display = ("user", "role", "expires_at", "granted_by", "granted_at")
    list_filter = ("role", "expires_at")
    search_fields = ("user__email", "user__name")
    autocomplete_fields = ("user", "role")
    readonly_fields = ("granted_by", "granted_at")
    list_select_related = ("user", "role", "granted_by")
    form = RoleAssignmentForm

    def get_readonly_fields(self, request, obj=None):
        # Moved to another person, the first would lose the role with nothing on their trail: take it
        # from them and give it to the other instead.
        return (*self.readonly_fields, "user") if obj is not None else self.readonly_fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        return acting_as(super().get_form(request, obj, change, **kwargs), request.user)

    def save_model(self, request, obj, form, change):
        granted(obj, form, request.user)
        super().save_model(request, obj, form, change)

    kept_message = "{count} of the selected role assignments are not yours to take away and were kept."

    def out_of_reach(self, request, assignment: RoleAssignment) -> bool:
        return role_out_of_reach(request.user, assignment)


class InvitationAdminForm(forms.ModelForm):
    actor: User | None = None

    class Meta:
        field_classes = {"email": EmailAddressField}

    def clean(self) -> dict:
        cleaned = super().clean()
        # Every use of such a code makes a manager: who may use it (address, uses, expiry) is as much
        # a grant as the flag.
        refuse_manager_out_of_reach(self, "makes_manager", any_change=True)
        # A new code, or one changed now, that nobody could redeem is a mistake to say, not to save.
        organization, expires_at = cleaned.get("organization"), cleaned.get("expires_at")
        chosen_now = {"organization", "is_active"} & set(self.changed_data) or self.instance.pk is None
        closed = organization is not None and not organization.is_active
        if chosen_now and closed and cleaned.get("is_active"):
            self.add_error("organization", ORGANIZATION_INACTIVE.format(organization=organization))
        if "expires_at" in self.changed_data and expires_at is not None and expires_at <= timezone.now():
            self.add_error("expires_at", EXPIRY_PASSED)
        # Sign-up refuses an address that has an account (but a pending one, which the code may claim).
        email = cleaned.get("email")
        holder = User.objects.with_email(email).first() if email and "email" in self.changed_data else None
        if holder is not None and holder.effective_status() != User.Status.PENDING:
            self.add_error("email", services.INVITED_HAS_ACCOUNT.format(email=holder.email))
        return cleaned

    def clean_code(self) -> str:
        code = self.cleaned_data["code"]
        if not shows_text(code):  # zero-width characters alone: a code nobody can type
            raise forms.ValidationError("Give a code people can type.")
        return nfc(code)  # composed, as a typed code is looked up (services._locked_invitation)

    def clean_max_uses(self) -> int:
        # "uses" is read-only here, so the form's own check of invitation_uses_limit skips it.
        max_uses = self.cleaned_data["max_uses"]
        if max_uses < 1 and "max_uses" in self.changed_data:  # a code nobody could ever redeem
            raise forms.ValidationError("Allow at least one use; untick “Active” to stop sign-ups.")
        if self.instance.pk is not None and max_uses < self.instance.uses:
            raise forms.ValidationError(
                f"This code has been used {self.instance.uses} times already; "
                "allow at least that many, or untick “Active” to stop further sign-ups."
            )
        return max_uses


@admin.register(Invitation)
class InvitationAdmin(AuditedModelAdmin):
    form = InvitationAdminForm
    list_display = ("code", "organization", "email", "uses", "max_uses", "expires_at", "is_active")
    list_filter = ("is_active", "organization")
    search_fields = ("code", "email", "organization__name")
    readonly_fields = ("uses", "created_by", "created_at")
    list_select_related = ("organization",)
    autocomplete_fields = ("organization",)  # as on the user page: a menu would list every organisation
    actions = ("mail_invitations",)

    def get_form(self, request, obj=None, change=False, **kwargs):
        return acting_as(super().get_form(request, obj, change, **kwargs), request.user)

    def get_queryset(self, request):
        # A code that makes managers hands out every ticket of its organisation: shown only to those who
        # see them (rbac.sees_organization_tickets), as only they may make one (refuse_manager_out_of_reach).
        queryset = super().get_queryset(request)
        if (seen := rbac.organizations_seen_whole(request.user)) is None:
            return queryset
        return queryset.filter(Q(makes_manager=False) | Q(organization_id__in=seen))

    def save_model(self, request, obj, form, change):
        if obj.created_by_id is None:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        # A new invitation for an address, or one given a new address, goes there by mail.
        if obj.email and (not change or "email" in form.changed_data):
            self.mail(request, [obj])
        elif not change:
            self.message_user(request, NOT_MAILED_WITHOUT_ADDRESS.format(code=obj.code), messages.INFO)

    @admin.action(description="Mail the selected invitations to their addresses", permissions=("change",))
    def mail_invitations(self, request, queryset):
        self.mail(request, list(queryset.select_related("organization")))

    def mail(self, request, invitations: list[Invitation]) -> None:
        domain, use_https = mail_site(request)
        mailed, refused = [], []
        for invitation in invitations:
            try:
                services.invitation_mail(invitation, actor=request.user, domain=domain, use_https=use_https)
            except ValidationError as error:
                refused.append(f"{invitation.email or invitation.organization}: {' '.join(error.messages)}")
            else:
                mailed.append(invitation.email)
        if mailed:
            self.message_user(request, f"Mailed the invitation to {', '.join(mailed)}.", messages.SUCCESS)
        for refusal in refused:
            self.message_user(request, f"Not mailed: {refusal}", messages.WARNING)


def locked_addresses(users) -> list[str]:
    """The IP addresses `users` tried to sign in from that are locked out for everyone there."""
    usernames = [lockout_username(None, {settings.AXES_USERNAME_FORM_FIELD: user.email}) for user in users]
    recent = AccessAttempt.objects.filter(attempt_time__gte=timezone.now() - settings.AXES_COOLOFF_TIME)
    tried_from = recent.filter(username__in=usernames).values("ip_address")
    locked = (
        recent.filter(ip_address__in=tried_from)
        .values("ip_address")
        .annotate(failures=Sum("failures_since_start"))
        .filter(failures__gte=settings.AXES_IP_FAILURE_LIMIT)
    )
    return sorted(row["ip_address"] for row in locked)


@admin.register(AccessAttempt)
class AccessAttemptAdmin(ReadOnlyAdmin):
    """django-axes' failed sign-ins, for lifting the lockout of an IP address (several names tried from
    one address lock everyone there out). Read-only: deleting attempts would unlock without an audit
    event, so the only change is the audited action, for those who may unlock users."""

    list_display = ("ip_address", "username", "failures_since_start", "attempt_time", "path_info")
    search_fields = ("ip_address", "username")
    date_hierarchy = "attempt_time"
    fields = ("ip_address", "username", "failures_since_start", "attempt_time", "path_info", "user_agent")
    actions = ("unlock_addresses",)

    def has_unlock_permission(self, request) -> bool:
        return request.user.has_perm("accounts.change_user")

    def has_module_permission(self, request) -> bool:
        return self.has_unlock_permission(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return self.has_unlock_permission(request)

    @admin.action(
        description="Unlock sign-in from the selected attempts' IP addresses", permissions=("unlock",)
    )
    def unlock_addresses(self, request, queryset):
        addresses = sorted({attempt.ip_address for attempt in queryset if attempt.ip_address})
        for address in addresses:
            services.ip_unlock(address, actor=request.user)
        self.message_user(
            request, f"Unlocked sign-in from {', '.join(addresses) or 'no address'}.", messages.SUCCESS
        )


def password_change_on_profile(request, extra_context=None):
    return redirect(reverse("accounts:profile") + "#password-title")


# Django's own /admin/password_change/ saves the new password past the password service: no audit event,
# and a thief's other sessions stay signed in. The profile's form goes through it.
admin.site.password_change = password_change_on_profile

admin.site.unregister(Group)
# OTP devices change only through accounts/two_factor.py (audited); the action above resets them.
for otp_model in (TOTPDevice, StaticDevice):
    admin.site.unregister(otp_model)


class RoleForm(forms.ModelForm):
    """A role's permissions: those added must be the actor's own (accounts.rbac.grant_refusal)."""

    actor: User | None = None

    def clean_permissions(self):
        permissions = self.cleaned_data["permissions"]
        before = set(self.instance.permissions.all()) if self.instance.pk else set()
        added = [permission for permission in permissions if permission not in before]
        role = self.instance if self.instance.pk else Group(name=self.cleaned_data.get("name", ""))
        if missing := rbac.grant_refusal(self.actor, role, added):
            raise forms.ValidationError(missing)
        # Nor take from its holders what one could not give them (as on an object's permissions page).
        removed = before - set(permissions)
        if removed and (beyond := rbac.permissions_beyond(self.actor, removed)):
            raise forms.ValidationError(rbac.REVOKE_BEYOND_OWN_OBJECT.format(missing=", ".join(beyond)))
        # Its holders keep what is added for as long as they hold the role: for good, for some of them.
        if added and (until := rbac.grant_expiry_limit(self.actor, role, added)) is not None:
            raise forms.ValidationError(ROLE_ADDS_OUTLAST.format(role=role.name, until=until.astimezone(UTC)))
        return permissions


@admin.register(Group)
class RoleAdmin(KeepInUseMixin, AuditedAdminMixin, DjangoGroupAdmin):
    """Roles are groups; the built-in ones cannot be renamed or deleted."""

    list_display = ("name", "built_in")
    form = RoleForm
    security_fields = ("permissions",)

    def get_form(self, request, obj=None, change=False, **kwargs):
        return acting_as(super().get_form(request, obj, change, **kwargs), request.user)

    @admin.display(boolean=True, description="Built-in")
    def built_in(self, group: Group) -> bool:
        return group.name in BUILT_IN_ROLES

    def get_readonly_fields(self, request, obj=None):
        return ("name",) if obj is not None and obj.name in BUILT_IN_ROLES else ()

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        # A permission taken from the role can take the desk from its holders, as taking the role from
        # one of them would: the same warning of the open tickets left assigned to them.
        if change and "permissions" in form.changed_data:
            in_force = RoleAssignment.objects.in_force().filter(role=form.instance).values("user")
            holders = list(User.objects.filter(pk__in=in_force))
            self.admin_site.get_model_admin(User).say_stranded_tickets(request, holders)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.name in BUILT_IN_ROLES:
            return False
        return super().has_delete_permission(request, obj)

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset.exclude(name__in=BUILT_IN_ROLES))

    # Deleting a role would take it from its holders with no role change on them.
    held_by = "role_assignments"
    held_message = "Role “{obj}” is held by {count} user{s}: take it from them first."
