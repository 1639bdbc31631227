"""The one place that answers "may this user do X (to this object)?" and "what may this user see?".

Roles come from RoleAssignment rows still in force (accounts.backends), team and organisation
grants from guardian's direct-foreign-key permission tables, and team membership from TeamMember.
`explain()` says which of those allowed or denied a decision. `access()` reads all of it for the
current moment in one query and keeps it on the user object for the rest of the request.
"""

import copy
import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Exists, Model, OuterRef, Q
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
    suspension_ended,
)

WORK_TEAM_QUEUE = "accounts.work_team_queue"
VIEW_ORGANIZATION_TICKETS = "accounts.view_organization_tickets"
VIEW_TICKET = "tickets.view_ticket"
# Seed 001's permissions that guard the desk and the ticket services (granted to roles in
# fixtures/roles.json; an administrator can change a role's set in the admin).
VIEW_SUPPORT_QUEUE = "accounts.view_support_queue"
PROVIDE_SUPPORT = "accounts.provide_support"
VIEW_USER_INFO = "accounts.view_user_info"  # a requester's contact details on the desk
ASSIGN_TICKET = "tickets.assign_ticket"
CLOSE_TICKET = "tickets.close_ticket"
ESCALATE_TICKET = "tickets.escalate_ticket"
MANAGE_TICKETS = "tickets.manage_tickets"
MANAGE_THREADS = "tickets.manage_threads"  # merging
MANAGE_SUPPORT_AGENTS = "accounts.manage_support_agents"
SUSPEND_USER = "accounts.suspend_user"  # the admin's Suspend action and status field
UNSUSPEND_USER = "accounts.unsuspend_user"  # its Activate action and status field
# Nobody hands out more than they hold: an administrator cannot make themselves (or a friend) more.
GRANT_RANK = "Only someone who holds the role “{role}” (or a higher one) can give it."
BUILT_IN_RANK = {roles.CUSTOMER: 0, roles.AGENT: 1, roles.SUPERVISOR: 2, roles.ADMINISTRATOR: 3}
GRANT_BEYOND_OWN_OBJECT = "You can only grant permissions you hold yourself, and you do not hold {missing}."
GRANT_QUEUE_BEYOND_OWN = "Only an administrator or a supervisor of team {team} can hand out its queue."
GRANT_ORGANIZATION_BEYOND_OWN = (
    "Only someone who sees every ticket of {organization} can hand out its tickets."
)
GRANT_TO_CUSTOMER = (
    "{user} is not staff: grants on {obj} would give them nothing, and would open its tickets to them the "
    "day they were made an agent. Give them an agent's role first."
)
REVOKE_BEYOND_OWN_OBJECT = (
    "You can only take away permissions you could grant yourself, and you do not hold {missing}."
)
GRANT_OUTLASTING_OWN = (
    "You hold what the role “{role}” needs only until {until:%Y-%m-%d %H:%M} UTC, so you can give it "
    "until then at the latest."
)
GRANT_BEYOND_OWN = (
    "You can only grant permissions you hold yourself, and you do not hold {missing} (role “{role}”)."
)


def _authenticated(user) -> bool:
    return user is not None and user.is_authenticated and user.is_active


@dataclass(frozen=True)
class Access:
    """What a user holds now: roles in force, the teams they belong to or were granted, their
    organisation and ticket grants, and their own and their roles' permissions."""

    roles: frozenset[str] = frozenset()
    team_ids: frozenset[int] = frozenset()
    organization_ids: frozenset[int] = frozenset()
    ticket_ids: frozenset[int] = frozenset()
    permissions: frozenset[str] = frozenset()  # "app_label.codename"
    role_permissions: frozenset[str] = frozenset()  # those of them that come from a role


NO_ACCESS = Access()
_ACCESS_ATTRIBUTE = "_rbac_access"
_LASTING_ATTRIBUTE = "_rbac_lasting"
_DERIVED_ATTRIBUTES = (
    _ACCESS_ATTRIBUTE, _LASTING_ATTRIBUTE, "_rbac_team_ids", "_rbac_supervised_team_ids", "_perm_cache",
    "_group_perm_cache",
)  # fmt: skip
# Past every end date a role can have: access() as of this moment holds the roles given for good.
FOR_GOOD = datetime(9999, 1, 1, tzinfo=UTC)


def access(user) -> Access:
    """The user's access, read in one query on first use and kept on the user object for the request.

    Every page needs most of it (the visibility of tickets is built from roles, teams and grants); as
    separate ORM queries it cost four round trips and more time building queries than running them."""
    if not _authenticated(user):
        return NO_ACCESS
    if (cached := getattr(user, _ACCESS_ATTRIBUTE, None)) is not None:
        return cached
    result = _read_access(user, timezone.now())
    setattr(user, _ACCESS_ATTRIBUTE, result)
    return result


def _read_access(user, now: datetime) -> Access:
    facts: dict[str, set] = {
        kind: set() for kind in ("role", "team", "organization", "ticket", "perm", "role_perm")
    }
    with connection.cursor() as cursor:
        cursor.execute(_access_sql(), {"user": user.pk, "now": now})
        for kind, number, text in cursor.fetchall():
            facts[kind].add(text if number is None else number)
    if user.is_superuser:
        facts["role"].add(roles.ADMINISTRATOR)
    result = Access(
        roles=frozenset(facts["role"]),
        team_ids=frozenset(facts["team"]),
        organization_ids=frozenset(facts["organization"]),
        ticket_ids=frozenset(facts["ticket"]),
        permissions=frozenset(facts["perm"] | facts["role_perm"]),
        role_permissions=frozenset(facts["role_perm"]),
    )
    return result


def lasting(user):
    """`user` as they will stand once each of their roles with an end date has ended: the one to ask what
    a power held for a while may do that outlasts it. Someone made Administrator until Friday does not
    take over a permanent administrator's account (setting its password to sign in as them next week),
    give a team's queue for good, or add powers for good to a role they hold for good."""
    if user is None or not _authenticated(user) or user.is_superuser:
        return user
    if (known := getattr(user, _LASTING_ATTRIBUTE, None)) is not None:
        return known
    if not RoleAssignment.objects.filter(user=user, expires_at__gt=timezone.now()).exists():
        known = user
    else:
        known = copy.copy(user)  # its own __dict__: what is kept on it is not kept on `user`
        forget(known)
        setattr(known, _ACCESS_ATTRIBUTE, _read_access(user, FOR_GOOD))
        setattr(known, _LASTING_ATTRIBUTE, known)
    setattr(user, _LASTING_ATTRIBUTE, known)
    return known


def first_role_end(user) -> datetime | None:
    """When the first of `user`'s roles with an end date ends (UTC), if one does."""
    ends = RoleAssignment.objects.filter(user=user, expires_at__gt=timezone.now()).order_by("expires_at")
    first = ends.values_list("expires_at", flat=True).first()
    return first.astimezone(UTC) if first else None


def forget(user) -> None:
    """Drop what access() and the permission backend kept on this user object (after changing them)."""
    for name in _DERIVED_ATTRIBUTES:
        user.__dict__.pop(name, None)


@functools.cache
def _access_sql() -> str:
    # Only table names are formatted in, from the models' metadata; user and time are parameters.
    # The per-ticket grants belong to the tickets app, looked up by name so accounts does not import it.
    grants = [  # (kind, guardian table, granted to a user or to one of their roles, codename)
        ("team", TeamUserObjectPermission, "user", "work_team_queue"),
        ("team", TeamGroupObjectPermission, "role", "work_team_queue"),
        ("organization", OrganizationUserObjectPermission, "user", "view_organization_tickets"),
        ("organization", OrganizationGroupObjectPermission, "role", "view_organization_tickets"),
        ("ticket", apps.get_model("tickets", "TicketUserObjectPermission"), "user", "view_ticket"),
    ]
    holder = {"user": "o.user_id = %(user)s", "role": "o.group_id IN (SELECT role_id FROM role)"}
    permission = Permission._meta.db_table
    grant_branches = "".join(
        f"""
        UNION ALL SELECT '{kind}', o.content_object_id, NULL FROM "{model._meta.db_table}" o
            JOIN "{permission}" p ON p.id = o.permission_id
            WHERE {holder[to]} AND p.codename = '{codename}'"""  # noqa: S608
        for kind, model, to, codename in grants
    )
    return f"""
        WITH role AS (
            SELECT a.role_id, g.name FROM "{RoleAssignment._meta.db_table}" a
            JOIN "{Group._meta.db_table}" g ON g.id = a.role_id
            WHERE a.user_id = %(user)s AND (a.expires_at IS NULL OR a.expires_at > %(now)s)
        ), role_permission AS (
            SELECT permission_id FROM "{Group.permissions.through._meta.db_table}"
            WHERE group_id IN (SELECT role_id FROM role)
        )
        SELECT 'role', NULL::bigint, name FROM role
        UNION ALL SELECT 'team', team_id, NULL FROM "{TeamMember._meta.db_table}" WHERE user_id = %(user)s
        {grant_branches}
        UNION ALL SELECT CASE WHEN p.id IN (SELECT permission_id FROM role_permission)
                              THEN 'role_perm' ELSE 'perm' END,
                         NULL, c.app_label || '.' || p.codename FROM "{permission}" p
            JOIN "{ContentType._meta.db_table}" c ON c.id = p.content_type_id
            WHERE p.id IN (SELECT permission_id FROM "{User.user_permissions.through._meta.db_table}"
                           WHERE user_id = %(user)s)
               OR p.id IN (SELECT permission_id FROM role_permission)
    """  # noqa: S608


def active_roles(user, now: datetime | None = None) -> frozenset[str]:
    """Names of the roles the user holds at `now` (default: now, from access())."""
    if not _authenticated(user):
        return frozenset()
    if now is None:
        return access(user).roles
    names = set(RoleAssignment.objects.in_force(now).filter(user=user).values_list("role__name", flat=True))
    if user.is_superuser:
        names.add(roles.ADMINISTRATOR)
    return frozenset(names)


def is_administrator(user) -> bool:
    return roles.ADMINISTRATOR in active_roles(user)


def is_supervisor(user) -> bool:
    """Administrators, and the agents whose role may manage team members (manage_support_agents):
    Supervisor as built, or a role an administrator made."""
    held = access(user)
    return roles.ADMINISTRATOR in held.roles or (
        is_agent(user) and MANAGE_SUPPORT_AGENTS in held.role_permissions
    )


def is_agent(user) -> bool:
    """Everyone who works tickets: administrators, and the holders of a role that opens the desk
    (view_support_queue): Agent and Supervisor as built, or one an administrator made, such as "Tier 2".
    What a role holds decides, not its name (README): the Agent role with the desk taken from it makes
    customers, who see their own requests and no team's. Staff-ness comes from roles only: a permission
    given to one person does not turn a customer into an agent."""
    held = access(user)
    return roles.ADMINISTRATOR in held.roles or VIEW_SUPPORT_QUEUE in held.role_permissions


def staff_user_filter() -> Q:
    """The users is_agent() answers yes for, as a filter on User."""
    app_label, codename = VIEW_SUPPORT_QUEUE.split(".")
    roles_in_force = RoleAssignment.objects.in_force().filter(user=OuterRef("pk"))
    return Q(is_superuser=True) | Exists(
        roles_in_force.filter(
            Q(role__name=roles.ADMINISTRATOR)
            | Q(role__permissions__content_type__app_label=app_label, role__permissions__codename=codename)
        )
    )


def answering_user_filter() -> Q:
    """The users who hold provide_support (has_permission without an object: from a role in force, or
    given to the account itself), as a filter on User: those a ticket can be assigned to. A role that only
    reads the queue ("light agents") answers nothing, so takes no ticket."""
    app_label, codename = PROVIDE_SUPPORT.split(".")
    held = {"permissions__content_type__app_label": app_label, "permissions__codename": codename}
    roles_in_force = RoleAssignment.objects.in_force().filter(user=OuterRef("pk"))
    given = User.user_permissions.through.objects.filter(
        user=OuterRef("pk"), permission__content_type__app_label=app_label, permission__codename=codename
    )
    return (
        Q(is_superuser=True)
        | Exists(roles_in_force.filter(**{f"role__{name}": value for name, value in held.items()}))
        | Exists(given)
    )


def administrator_user_filter() -> Q:
    """The users is_administrator() answers yes for, as a filter on User."""
    in_force = RoleAssignment.objects.in_force().filter(user=OuterRef("pk"), role__name=roles.ADMINISTRATOR)
    return Q(is_superuser=True) | Exists(in_force)


def other_administrator_exists(user) -> bool:
    """Whether an active administrator other than `user` is left to run the site (give roles, lift
    suspensions) if `user` stopped being one."""
    # Active as User.is_active reads it: a suspension whose end has passed is over.
    active = Q(status=User.Status.ACTIVE) | suspension_ended()
    return User.objects.filter(active, administrator_user_filter()).exclude(pk=user.pk).exists()


def holds_staff_role(user) -> bool:
    """Whether roles in force make the user an agent, whatever the account's status (is_agent asks of a
    signed-in, active one): an account added without a password is pending until its owner claims it,
    and is made an agent and a team member before."""
    return type(user).objects.filter(staff_user_filter(), pk=user.pk).exists()


def is_staff(user) -> bool:
    """People who keep working in maintenance mode."""
    return is_agent(user) or (_authenticated(user) and user.is_staff)


def has_permission(user, permission: str, obj: Model | None = None) -> bool:
    """A model permission from a role in force, or (with obj) an object grant from guardian."""
    if not _authenticated(user):
        return False
    return user.has_perm(permission) or (obj is not None and user.has_perm(permission, obj))


def permissions_on(user, obj: Model | None = None) -> frozenset[str]:
    """Every permission has_permission(user, name, obj) grants, for a page that asks about several:
    the roles' (cached on the user) and, with obj, guardian's grants on it (one checker, not one per
    permission)."""
    if not _authenticated(user):
        return frozenset()
    granted = set(user.get_all_permissions())
    if obj is not None:
        # Guardian answers for obj with bare codenames; they belong to obj's app.
        granted |= {f"{obj._meta.app_label}.{codename}" for codename in user.get_all_permissions(obj)}
    return frozenset(granted)


def permissions_beyond(actor, permissions, obj: Model | None = None) -> list[str]:
    """Of `permissions` (Permission rows, or "app.codename" names), those `actor` does not hold in
    force (with obj, also on obj): what they may not hand out. Nobody grants more than they have; a
    superuser has everything, and the system (no actor) may grant anything."""
    if actor is None or actor.is_superuser:
        return []
    held = permissions_on(actor, obj)
    return sorted(name for name in map(_permission_name, permissions) if name not in held)


def grant_beyond_own(actor, permissions, obj: Model | None = None) -> str:
    """Why `actor` may not hand out these permissions (on obj): "" when they may. A team's queue and an
    organisation's tickets go by their own rules (as explain() says): the permission from a role gives
    neither, so holding it lets nobody hand them out; only who supervises the team (who also runs its
    memberships) or sees the organisation's tickets does."""
    if missing := permissions_beyond(actor, permissions, obj):
        return GRANT_BEYOND_OWN_OBJECT.format(missing=", ".join(missing))
    if actor is None or actor.is_superuser:
        return ""
    names = set(map(_permission_name, permissions))
    if isinstance(obj, Team) and WORK_TEAM_QUEUE in names and obj.pk not in supervised_team_ids(actor):
        return GRANT_QUEUE_BEYOND_OWN.format(team=obj)
    if (
        isinstance(obj, Organization)
        and VIEW_ORGANIZATION_TICKETS in names
        and not sees_organization_tickets(actor, obj)
    ):
        return GRANT_ORGANIZATION_BEYOND_OWN.format(organization=obj)
    return ""


def object_grant_refusal(grantee, obj: Model) -> str:
    """Why `grantee` may not be given permissions on `obj` (a team, an organisation, a ticket): "" when
    they may. Those grants open tickets to staff; to a customer they give nothing, until the day they
    are made an agent."""
    # Staff by their roles in force, suspended or not: a queue may await an agent's return.
    if grantee is not None and not User.objects.filter(staff_user_filter(), pk=grantee.pk).exists():
        return GRANT_TO_CUSTOMER.format(user=grantee, obj=obj)
    return ""


SUPERUSER_RANK = max(BUILT_IN_RANK.values()) + 1


def rank(user) -> int:
    """The highest built-in role `user` holds, as BUILT_IN_RANK counts it (a superuser above all, no
    built-in role at all below a customer), an agent by a role an administrator made (is_agent) counting
    as an Agent: who may hand out a role, and whose account is whose to run. Read from the roles in
    force whatever the account's status: a suspended Administrator is still one to a clerk."""
    if user is None or not getattr(user, "pk", None):
        return -1
    if user.is_superuser:
        return SUPERUSER_RANK
    if _authenticated(user):
        names, agent = access(user).roles, is_agent(user)
    else:
        names = set(RoleAssignment.objects.in_force().filter(user=user).values_list("role__name", flat=True))
        agent = User.objects.filter(staff_user_filter(), pk=user.pk).exists()
    ranks = [BUILT_IN_RANK[name] for name in names if name in BUILT_IN_RANK]
    return max([*ranks, BUILT_IN_RANK[roles.AGENT]] if agent else ranks, default=-1)


def outranking_user_filter(actor) -> Q:
    """The users ranked above `actor` (rank) as they stand for good (lasting), as a filter on User:
    accounts `actor` may not take over by setting their address or password, suspend or sign out, since
    they could not give such a role (or not for good)."""
    own = rank(lasting(actor))  # a rank held until Friday takes over no account that outlasts it
    if own == SUPERUSER_RANK:
        return Q(pk__in=[])
    above = [name for name, value in BUILT_IN_RANK.items() if value > own]
    in_force = RoleAssignment.objects.in_force().filter(user=OuterRef("pk"), role__name__in=above)
    outranking = Q(is_superuser=True) | (Exists(in_force) if above else Q(pk__in=[]))
    outranking = outranking | staff_user_filter() if own < BUILT_IN_RANK[roles.AGENT] else outranking
    return outranking & ~Q(pk=actor.pk) if rank(actor) > own else outranking  # one's own account is one's own


def out_of_reach_user_filter(actor) -> Q:
    """The accounts `actor` may not run (set their address or password, suspend, sign out): those ranked
    above them (outranking_user_filter), and the managers of organisations whose tickets `actor` does
    not see, since whoever holds such an account sees them all (sees_organization_tickets)."""
    outranking = outranking_user_filter(actor)
    seen = organizations_seen_whole(actor)
    if seen is None:
        return outranking
    return outranking | (Q(is_organization_manager=True) & ~Q(organization_id__in=seen))


def is_out_of_reach(actor, user) -> bool:
    """Whether `actor` may not run `user`'s account (out_of_reach_user_filter, for one account)."""
    if actor is not None and actor.is_superuser:  # nobody ranks above, every ticket seen: asks nothing
        return False
    if user != actor and rank(user) > rank(lasting(actor)):  # one's own account is one's own to run
        return True
    return bool(
        user.is_organization_manager
        and user.organization_id
        and not sees_organization_tickets(actor, user.organization)
    )


def grant_refusal(actor, role, permissions=None) -> str:
    """Why `actor` may not hand out `role` (a Group), or these of its `permissions`: "" when they may.

    Built-in roles give powers by their name too (an Administrator sees every ticket whatever the
    role's permissions): one is handed out only by someone whose own rank is at least as high, so
    emptying the Administrator role and then taking it gains nothing."""
    if actor is not None and role.name in BUILT_IN_RANK and rank(actor) < BUILT_IN_RANK[role.name]:
        return GRANT_RANK.format(role=role.name)
    if permissions is None:
        permissions = role.permissions.select_related("content_type")
    missing = permissions_beyond(actor, permissions)
    if not missing:
        return ""
    return GRANT_BEYOND_OWN.format(missing=", ".join(missing), role=role.name)


def grant_expiry_limit(actor, role, permissions=None) -> datetime | None:
    """The latest moment until which `actor` may hand out `role`: None when they may give it for good.

    A power held for a while is not handed out for longer: someone made Administrator until Friday does
    not make anyone's role (their own included) permanent. The limit is the first expiry after which
    the actor's remaining roles no longer reach the role's rank or hold its permissions."""
    if actor is None or actor.is_superuser:
        return None
    if permissions is None:
        permissions = role.permissions.select_related("content_type")
    needed = {_permission_name(permission) for permission in permissions}
    needed_rank = BUILT_IN_RANK.get(role.name, -1)
    assignments = list(
        RoleAssignment.objects.in_force()
        .filter(user=actor)
        .select_related("role")
        .prefetch_related("role__permissions__content_type")
    )
    direct = set(map(_permission_name, actor.user_permissions.select_related("content_type")))

    def role_rank(role: Group) -> int:
        # As rank() counts: a role an administrator made is an Agent's when it opens the desk.
        if role.name in BUILT_IN_RANK:
            return BUILT_IN_RANK[role.name]
        opens_desk = VIEW_SUPPORT_QUEUE in map(_permission_name, role.permissions.all())
        return BUILT_IN_RANK[roles.AGENT] if opens_desk else -1

    def covered_after(moment: datetime) -> bool:
        lasting = [a for a in assignments if a.expires_at is None or a.expires_at > moment]
        held = direct | {_permission_name(p) for a in lasting for p in a.role.permissions.all()}
        return max((role_rank(a.role) for a in lasting), default=-1) >= needed_rank and needed <= held

    for expiry in sorted(a.expires_at for a in assignments if a.expires_at is not None):
        if not covered_after(expiry):
            return expiry
    return None


def grant_expiry_refusal(actor, role, expires_at: datetime | None, permissions=None) -> str:
    """Why `actor` may not hand out `role` until `expires_at` (None: for good): "" when they may."""
    limit = grant_expiry_limit(actor, role, permissions)
    if limit is not None and (expires_at is None or expires_at > limit):
        return GRANT_OUTLASTING_OWN.format(role=role.name, until=limit.astimezone(UTC))
    return ""


def _permission_name(permission) -> str:
    if isinstance(permission, str):
        return permission
    return f"{permission.content_type.app_label}.{permission.codename}"


def can_open_desk(user) -> bool:
    """An active staff user (agent, supervisor, administrator) who holds view_support_queue."""
    return is_agent(user) and has_permission(user, VIEW_SUPPORT_QUEUE)


def workable_team_ids(user) -> frozenset[int]:
    """Teams whose queues the user works: memberships (agents only) and explicit team grants."""
    if not is_agent(user):
        return frozenset()
    if not is_administrator(user):
        return access(user).team_ids
    if not hasattr(user, "_rbac_team_ids"):
        user._rbac_team_ids = frozenset(Team.objects.values_list("pk", flat=True))
    return user._rbac_team_ids


def supervised_team_ids(user) -> frozenset[int]:
    """Teams the user supervises: all for administrators; for supervisors, their teams. (Whose members
    they may change for good: those of supervised_team_ids(lasting(user)).)"""
    if is_administrator(user):
        return workable_team_ids(user)
    if not is_agent(user):
        return frozenset()
    if (known := getattr(user, "_rbac_supervised_team_ids", None)) is not None:
        return known  # kept for the request, as access() is
    memberships = TeamMember.objects.filter(user=user)
    if not is_supervisor(user):
        memberships = memberships.filter(role__in=[TeamMember.Role.SUPERVISOR, TeamMember.Role.LEAD])
    user._rbac_supervised_team_ids = frozenset(memberships.values_list("team_id", flat=True))
    return user._rbac_supervised_team_ids


def sees_organization_tickets(user, organization) -> bool:
    """Whether `user` sees every ticket of `organization`: what making someone its manager hands out."""
    seen = organizations_seen_whole(user)
    return seen is None or organization.pk in seen


def organizations_seen_whole(user) -> frozenset[int] | None:
    """The ids of the organisations whose every ticket `user` sees (sees_organization_tickets); None:
    all of them (superusers, administrators, and the system, `user` None)."""
    if user is None or user.is_superuser or is_administrator(user):
        return None
    own = {user.organization_id} if user.is_organization_manager and user.organization_id else set()
    # A grant on an organisation: the same permission from a role shows no organisation's tickets, and
    # a grant to a customer shows them nothing (the portal shows customers their own organisation's).
    granted = access(user).organization_ids if is_agent(user) else ()
    return frozenset({*own, *granted})


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def __bool__(self) -> bool:
        return self.allowed

    def __str__(self) -> str:
        verdict = "allowed" if self.allowed else "denied"
        return f"{verdict}: " + "; ".join(self.reasons)


def explain(user, permission: str, obj: Model | None = None) -> Decision:
    """Say whether `user` holds `permission` (on `obj`) now and which role, team or grant decided it."""
    if user is None or not user.is_authenticated:
        return Decision(False, ("not signed in",))
    if not user.is_active:
        return Decision(False, (f"account is {user.effective_status()}",))
    if user.is_superuser:
        return Decision(True, ("superuser",))
    now = timezone.now()
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
    # A team's queue and an organisation's tickets are decided by their own rules (workable_team_ids,
    # sees_organization_tickets), not by the permission alone: the explanation gives their answer.
    if isinstance(obj, Team) and permission == WORK_TEAM_QUEUE:
        allowed = obj.pk in workable_team_ids(user)
        membership = TeamMember.objects.filter(user=user, team=obj).first() if is_agent(user) else None
        if not is_agent(user):
            reasons.append("not staff: works no team's queue, whatever is granted")
        elif is_administrator(user):
            reasons.append("administrator: works every team's queue")
        elif membership:
            reasons.append(f"member of team {obj} as {membership.get_role_display().lower()}")
        elif allowed:
            reasons.append(f"grant of {permission} on team {obj}, to the user or a role they hold")
    elif isinstance(obj, Organization) and permission == VIEW_ORGANIZATION_TICKETS:
        allowed = sees_organization_tickets(user, obj)
        if is_administrator(user):
            reasons.append("administrator: sees every organisation's tickets")
        elif user.is_organization_manager and user.organization_id == obj.pk:
            reasons.append(f"manager of organisation {obj}")
        elif not is_agent(user):
            reasons.append("not staff: sees no other organisation's tickets, whatever is granted")
        elif allowed:
            reasons.append(f"grant of {permission} on organisation {obj}, to the user or a role they hold")
        else:
            reasons.append(f"no grant on organisation {obj}: a role's {permission} alone shows none")
    elif permission == VIEW_TICKET and obj is not None and obj._meta.label == "tickets.Ticket":
        allowed, why = _ticket_sight(user, obj)
        if allowed and not why and not any(reason.startswith("object grant") for reason in reasons):
            why = [f"grant of {VIEW_TICKET} on this ticket to a role they hold"]
        reasons.extend(why)
    if not reasons:
        reasons.append(f"no role in force, membership or grant gives {permission}")
    return Decision(allowed, tuple(reasons))


def _ticket_sight(user, ticket) -> tuple[bool, list[str]]:
    """Whether `user` sees `ticket` as Ticket.objects.visible_to decides it, and what shows it to them
    (but a grant on the ticket itself, which explain names): a role's view_ticket alone shows none."""
    from tickets.models import Ticket, staff_grants

    allowed = Ticket.objects.visible_to(user).filter(pk=ticket.pk).exists()
    if is_administrator(user):
        return allowed, ["administrator: sees every ticket"]
    if ticket.is_deleted:
        return allowed, ["the ticket is deleted: only administrators see it"]
    reasons = []
    if ticket.requester_id == user.pk:
        reasons.append("requester of the ticket")
    if (
        user.is_organization_manager
        and user.organization_id
        and user.organization_id == ticket.organization_id
    ):
        reasons.append(f"manager of organisation {ticket.organization}")
    if is_agent(user):
        _, organization_ids = staff_grants(user)
        if ticket.team_id is not None and ticket.team_id in workable_team_ids(user):
            reasons.append(f"works the queue of team {ticket.team}")
        if ticket.assignee_id == user.pk:
            reasons.append("assignee of the ticket")
        if ticket.organization_id in organization_ids:
            reasons.append(f"grant of {VIEW_ORGANIZATION_TICKETS} on organisation {ticket.organization}")
    if not allowed:
        reasons.append(
            f"no team, assignment or grant shows this ticket: a role's {VIEW_TICKET} alone shows none"
        )
    return allowed, reasons
