"""factory-boy factories for the models tests create directly, plus helpers that build people in a role
and create tickets and articles through their services (numbering, first message, search vectors)."""

from datetime import datetime, timedelta

import factory
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.utils import timezone

from accounts import rbac, roles, services
from accounts.models import Invitation, Organization, RoleAssignment, Skill, Team, TeamMember, User
from knowledge.models import Category
from tickets import services as ticket_services
from tickets.models import SavedView, Tag, Ticket, TicketForm

TEST_PASSWORD = "correct-horse-battery-staple"


def ensure_roles() -> None:
    """The built-in roles (fixtures/roles.json); reloaded after a transactional test flushed them."""
    if not Group.objects.filter(name=roles.ADMINISTRATOR).exists():
        call_command("loaddata", "roles", verbosity=0)


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Organisation {n}")
    slug = factory.Sequence(lambda n: f"organisation-{n}")
    email_domains = factory.LazyAttribute(lambda o: [f"{o.slug}.example"])


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    name = factory.Faker("name")
    password = TEST_PASSWORD

    @classmethod
    def _create(cls, model_class, *args, password=TEST_PASSWORD, **kwargs):
        user = model_class(*args, **kwargs)
        user.set_password(password)  # hashed before the one INSERT (None: an unusable password)
        user.save()
        return user


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


class TeamMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TeamMember

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = TeamMember.Role.AGENT


class SkillFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Skill

    name = factory.Sequence(lambda n: f"Skill {n}")
    slug = factory.Sequence(lambda n: f"skill-{n}")


class RoleAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoleAssignment

    user = factory.SubFactory(UserFactory)
    role = factory.LazyFunction(lambda: (ensure_roles(), Group.objects.get(name=roles.AGENT))[1])


class InvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invitation

    organization = factory.SubFactory(OrganizationFactory)
    max_uses = 1


def make_user_with_role(role: str, *, expires_at: datetime | None = None, **fields) -> User:
    ensure_roles()
    user = UserFactory(**fields)
    services.role_assign(user, role, expires_at=expires_at, actor=None)
    return user


def make_customer(organization: Organization | None = None, *, manager: bool = False, **fields) -> User:
    organization = organization or OrganizationFactory()
    return make_user_with_role(
        roles.CUSTOMER, organization=organization, is_organization_manager=manager, **fields
    )


def make_agent(
    *teams: Team, role: str = roles.AGENT, team_role: str = TeamMember.Role.AGENT, **fields
) -> User:
    user = make_user_with_role(role, **fields)
    for team in teams:
        TeamMemberFactory(team=team, user=user, role=team_role)
    rbac.forget(user)  # memberships read before this change are not kept on the user
    return user


def make_supervisor(*teams: Team, **fields) -> User:
    return make_agent(*teams, role=roles.SUPERVISOR, team_role=TeamMember.Role.SUPERVISOR, **fields)


def make_administrator(**fields) -> User:
    return make_user_with_role(roles.ADMINISTRATOR, is_staff=True, **fields)


class TicketFormFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TicketForm

    slug = factory.Sequence(lambda n: f"form-{n}")
    title = factory.Sequence(lambda n: f"Form {n}")
    schema = factory.LazyFunction(
        lambda: [
            {"name": "order_number", "label": "Order number", "type": "text", "required": True},
            {"name": "product", "label": "Product", "type": "select", "choices": ["Basic", "Pro"]},
        ]
    )


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"tag-{n}")


class SavedViewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SavedView

    name = factory.Sequence(lambda n: f"View {n}")
    owner = factory.SubFactory(UserFactory)
    query = "status=open"


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


def make_ticket(requester: User, *, team: Team | None = None, actor: User | None = None, **fields) -> Ticket:
    """A ticket created through the service, then placed in `team` (as routing would)."""
    ticket = ticket_services.ticket_create(
        requester=requester,
        subject=fields.pop("subject", "Printer on fire"),
        description=fields.pop("description", "It is **really** on fire."),
        actor=actor if actor is not None else requester,
        **fields,
    )
    if team is not None:
        Ticket.objects.filter(pk=ticket.pk).update(team=team)
        ticket.refresh_from_db()
    return ticket


def make_resolved_ticket(team: Team, agent: User, customer: User, *, ago: timedelta) -> Ticket:
    """A ticket of `customer` in `team` that `agent` resolved `ago` (for the auto-close)."""
    ticket = make_ticket(customer, team=team)
    ticket_services.ticket_transition(ticket, status="resolved", actor=agent)
    Ticket.objects.filter(pk=ticket.pk).update(resolved_at=timezone.now() - ago)
    return Ticket.objects.get(pk=ticket.pk)


def make_article(title: str = "How to reset your password", body: str = "Open the sign-in page.", **fields):
    """A published public article unless told otherwise, created through the service as the System."""
    from knowledge import services as knowledge_services

    fields.setdefault("status", "published")
    return knowledge_services.article_create(title=title, body=body, actor=None, **fields)


def article_form_data(article, **changes) -> dict:
    """What the article editor posts for `article` as it stands, with `changes`."""
    data = {
        "title": article.title,
        "body": article.body,
        "excerpt": article.excerpt,
        "tags": article.tags,
        "visibility": article.visibility,
        "category": article.category_id or "",
        "loaded_at": article.updated_at.isoformat(),  # when the editor's page was loaded
    }
    return {**data, **changes}


def make_pending_account(email: str) -> User:
    """The account an anonymous submission leaves: pending, without a password."""
    from helpdesk.services import site_configuration_update

    ensure_roles()
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    return ticket_services.anonymous_requester(email=email, name="Visitor")


def give_custom_role(user: User, name: str, permissions: list[tuple[str, str]]) -> User:
    """`user` also holds a role an administrator made, `name`, with these (app label, codename)
    permissions, and may open the admin site."""
    role = Group.objects.create(name=name)
    for app_label, codename in permissions:
        role.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    User.objects.filter(pk=user.pk).update(is_staff=True)
    services.role_assign(user, name, actor=None)
    return User.objects.get(pk=user.pk)


def loaded(article) -> dict:
    """What the buttons of an article's page post besides: when the page was loaded (the article's
    updated_at as it is now), without which a change is refused as stale."""
    return {"loaded_at": type(article).objects.get(pk=article.pk).updated_at.isoformat()}


# The smallest files of each kind the content checks (tickets.attachments) take as what they are.
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
