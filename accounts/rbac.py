"""The one place that answers "may this user do X (to this object)?" and "what may this user see?".

Roles come from RoleAssignment rows still in force (accounts.backends), team and organisation
grants from guardian's direct-foreign-key permission tables, and team membership from TeamMember.
`explain()` says which of those allowed or denied a decision.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from accounts import roles
from accounts.models import (
    Organization,
    OrganizationGroupObjectPermission,
    OrganizationUserObjectPermission,
    RoleAssignment,
    Team,
    TeamGroupObjectPermission,
    TeamMember,
    TeamUserObjectPermission,
    User,
)

WORK_TEAM_QUEUE = "accounts.work_team_queue"
VIEW_ORGANIZATION_TICKETS = "accounts.view_organization_tickets"


def _authenticated(user) -> bool:
    return user is not None and user.is_authenticated and user.is_active


def active_roles(user, now: datetime | None = None) -> frozenset[str]:
    """Names of the roles the user holds at `now` (cached on the user object for the current time)."""
    if not _authenticated(user):
        return frozenset()
    if now is None and hasattr(user, "_rbac_roles"):
        return user._rbac_roles
    names = set(RoleAssignment.objects.in_force(now).filter(user=user).values_list("role__name", flat=True))
    if user.is_superuser:
        names.add(roles.ADMINISTRATOR)
    result = frozenset(names)
    if now is None:
        user._rbac_roles = result
    return result


def is_administrator(user) -> bool:
    return roles.ADMINISTRATOR in active_roles(user)


def is_supervisor(user) -> bool:
    return bool(active_roles(user) & {roles.SUPERVISOR, roles.ADMINISTRATOR})


def is_agent(user) -> bool:
    """Agents, supervisors and administrators: everyone who works tickets."""
    return bool(active_roles(user) & roles.STAFF_ROLES)


def is_staff(user) -> bool:
    """People who keep working in maintenance mode."""
    return is_agent(user) or (_authenticated(user) and user.is_staff)


def is_customer(user) -> bool:
    return _authenticated(user) and not is_agent(user)


def has_permission(user, permission: str, obj: Model | None = None) -> bool:
    """A model permission from a role in force, or (with obj) an object grant from guardian."""
    if not _authenticated(user):
        return False
    return user.has_perm(permission) or (obj is not None and user.has_perm(permission, obj))


def workable_team_ids(user) -> frozenset[int]:
    """Teams whose queues the user works: memberships (agents only) and explicit team grants."""
    if not is_agent(user):
        return frozenset()
    if hasattr(user, "_rbac_team_ids"):
        return user._rbac_team_ids
    if is_administrator(user):
        ids = set(Team.objects.values_list("pk", flat=True))
    else:
        members = Q(pk__in=TeamMember.objects.filter(user=user).values("team_id"))
        granted = Q(pk__in=granted_teams(user).values("pk"))
        ids = set(Team.objects.filter(members | granted).values_list("pk", flat=True))
    user._rbac_team_ids = frozenset(ids)
    return user._rbac_team_ids


def supervised_team_ids(user) -> frozenset[int]:
    """Teams the user supervises: all for administrators; for supervisors, their teams."""
    if is_administrator(user):
        return workable_team_ids(user)
    if not is_agent(user):
        return frozenset()
    memberships = TeamMember.objects.filter(user=user)
    if roles.SUPERVISOR not in active_roles(user):
        memberships = memberships.filter(role__in=[TeamMember.Role.SUPERVISOR, TeamMember.Role.LEAD])
    return frozenset(memberships.values_list("team_id", flat=True))


def granted_teams(user) -> QuerySet[Team]:
    """Teams granted to the user (or to one of their roles in force) with guardian's object permissions,
    read straight from the direct-foreign-key tables: one lazy query, no content-type look-ups."""
    return Team.objects.filter(
        Q(pk__in=_user_grants(TeamUserObjectPermission, user, "work_team_queue"))
        | Q(pk__in=_role_grants(TeamGroupObjectPermission, user, "work_team_queue"))
    )


def granted_organizations(user) -> QuerySet[Organization]:
    return Organization.objects.filter(
        Q(pk__in=_user_grants(OrganizationUserObjectPermission, user, "view_organization_tickets"))
        | Q(pk__in=_role_grants(OrganizationGroupObjectPermission, user, "view_organization_tickets"))
    )


def _user_grants(model, user, codename: str) -> QuerySet:
    return model.objects.filter(user_id=user.pk, permission__codename=codename).values("content_object_id")


def _role_grants(model, user, codename: str) -> QuerySet:
    in_force = Q(group__role_assignments__expires_at__isnull=True) | Q(
        group__role_assignments__expires_at__gt=timezone.now()
    )
    return model.objects.filter(
        in_force, group__role_assignments__user_id=user.pk, permission__codename=codename
    ).values("content_object_id")


def visible_organizations(user) -> QuerySet[Organization]:
    """Organisations whose name and members the user may see. Customers: their own only."""
    if is_agent(user):
        return Organization.objects.all()
    if _authenticated(user) and user.organization_id:
        return Organization.objects.filter(pk=user.organization_id)
    return Organization.objects.none()


def same_organization_filter(user, prefix: str = "") -> Q:
    """A Q that keeps rows belonging to the user's own organisation (tenant isolation for customers)."""
    if not _authenticated(user) or not user.organization_id:
        return Q(pk__in=[])
    return Q(**{f"{prefix}organization_id": user.organization_id})


def can_see_organization_of(viewer, other: User) -> bool:
    """May `viewer` see that `other` exists? Staff see everyone; customers only their organisation."""
    if is_agent(viewer):
        return True
    if not _authenticated(viewer):
        return False
    return viewer.pk == other.pk or (
        viewer.organization_id is not None and viewer.organization_id == other.organization_id
    )


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def __bool__(self) -> bool:
        return self.allowed

    def __str__(self) -> str:
        verdict = "allowed" if self.allowed else "denied"
        return f"{verdict}: " + "; ".join(self.reasons)


def explain(user, permission: str, obj: Model | None = None, now: datetime | None = None) -> Decision:
    """Say whether `user` holds `permission` (on `obj`) and which role, team or grant decided it."""
    if user is None or not user.is_authenticated:
        return Decision(False, ("not signed in",))
    if not user.is_active:
        return Decision(False, (f"account is {user.effective_status(now)}",))
    if user.is_superuser:
        return Decision(True, ("superuser",))
    now = now or timezone.now()
    app_label, codename = permission.split(".", 1)
    reasons: list[str] = []
    allowed = False
    assignments = RoleAssignment.objects.filter(user=user).select_related("role")
    for assignment in assignments:
        grants = assignment.role.permissions.filter(
            content_type__app_label=app_label, codename=codename
        ).exists()
        if not grants:
            continue
        if assignment.in_force(now):
            allowed = True
            until = f" until {assignment.expires_at:%Y-%m-%d %H:%M %Z}" if assignment.expires_at else ""
            reasons.append(f"role {assignment.role.name}{until} grants {permission}")
        else:
            reasons.append(
                f"role {assignment.role.name} would grant {permission} but expired at "
                f"{assignment.expires_at:%Y-%m-%d %H:%M %Z}"
            )
    if user.user_permissions.filter(content_type__app_label=app_label, codename=codename).exists():
        allowed = True
        reasons.append(f"direct permission {permission}")
    if obj is not None and user.has_perm(permission, obj):
        allowed = True
        reasons.append(f"object grant of {permission} on {obj._meta.verbose_name} {obj}")
    if isinstance(obj, Team) and permission == WORK_TEAM_QUEUE and is_agent(user):
        membership = TeamMember.objects.filter(user=user, team=obj).first()
        if membership:
            allowed = True
            reasons.append(f"member of team {obj} as {membership.get_role_display().lower()}")
    if not reasons:
        reasons.append(f"no role in force, membership or grant gives {permission}")
    return Decision(allowed, tuple(reasons))
