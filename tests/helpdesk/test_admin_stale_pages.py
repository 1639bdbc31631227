"""The admin change pages' `_loaded` fingerprint (helpdesk.admin.UnchangedSinceLoadedAdminMixin).

An unchanged page posts back and saves; a change someone else made meanwhile to what the page shows is
refused (422, nothing saved); a change to what the page does not show is not."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from accounts.models import Invitation, Organization, RoleAssignment, Skill, Team, TeamMember, User
from audit.admin import AuditedAdminMixin
from helpdesk import services as site_services
from helpdesk.admin import LOADED_FIELD, UnchangedSinceLoadedAdminMixin, loaded_digest
from helpdesk.models import SiteConfiguration
from knowledge.models import Article, Category
from tests.admin_pages import change_url
from tests.admin_pages import form_data as _form_data
from tests.factories import (
    CategoryFactory,
    InvitationFactory,
    OrganizationFactory,
    RoleAssignmentFactory,
    SkillFactory,
    TeamFactory,
    TeamMemberFactory,
    TicketFormFactory,
    UserFactory,
    make_administrator,
    make_agent,
    make_article,
    make_customer,
)
from tickets.models import TicketForm

pytestmark = pytest.mark.django_db


@pytest.fixture
def su_client(client):
    # A superuser in a zone far from UTC with a half-hour offset: dates on the forms are shown there.
    client.force_login(make_administrator(is_superuser=True, timezone=ZONE))
    return client


ZONE = "Asia/Kolkata"


def form_data(page, **changes):
    """As the browser posts the page back: its dates as shown, in the signed-in superuser's zone."""
    with timezone.override(ZONE):
        return _form_data(page, **changes)


def _refused(response) -> bool:
    return response.status_code == 422 and "Someone changed this" in response.content.decode()


def _errors(response):
    if response.context is None:
        return response.status_code
    form = response.context["adminform"].form
    return (
        response.status_code,
        form.errors,
        [fs.formset.errors for fs in response.context["inline_admin_formsets"]],
    )


# ---------------------------------------------------------------- objects of every audited admin


def _user():
    organization = OrganizationFactory(settings={"notify": True, "levels": [1, 2.5]})
    user = make_customer(organization, manager=True, timezone="America/St_Johns")
    user.email_verified_at = timezone.now() - timedelta(days=3, microseconds=123457)
    user.status = User.Status.SUSPENDED
    user.suspended_until = timezone.now() + timedelta(days=10, seconds=7)
    user.suspension_reason = "Abuse"
    user.last_login = timezone.now()
    user.save()
    user.user_permissions.add(Permission.objects.get(codename="view_ticket"))
    RoleAssignment.objects.filter(user=user).update(expires_at=timezone.now() + timedelta(days=40))
    return user


def _organization():
    return OrganizationFactory(
        email_domains=["acme.example", "acme.test"], settings={"b": {"x": 1.5, "y": None}, "a": [3, "z"]}
    )


def _team():
    team = TeamFactory(email="team@example.org")
    TeamMemberFactory(team=team)
    TeamMemberFactory(team=team, role=TeamMember.Role.SUPERVISOR)
    return team


def _teammember():
    return TeamMemberFactory(is_available=False)


def _skill():
    skill = SkillFactory(description="Knows SQL")
    skill.agents.add(make_agent(), make_agent())
    return skill


def _roleassignment():
    return RoleAssignmentFactory(expires_at=timezone.now() + timedelta(days=3, microseconds=999999))


def _invitation():
    return InvitationFactory(
        email="new@example.org", max_uses=5, uses=2, expires_at=timezone.now() + timedelta(days=2)
    )


def _group():
    group = Group.objects.create(name="Clerks")
    group.permissions.add(*Permission.objects.filter(codename__in=["view_ticket", "view_user"]))
    return group


def _builtin_group():
    return Group.objects.get(name=roles.AGENT)


def _ticketform():
    return TicketFormFactory(organization=OrganizationFactory(), default_team=TeamFactory())


def _category():
    return CategoryFactory(parent=CategoryFactory(), description="Parent-bound")


def _article():
    return make_article(category=CategoryFactory(), tags="a, b")


MAKERS = {
    "user": _user,
    "organization": _organization,
    "team": _team,
    "teammember": _teammember,
    "skill": _skill,
    "roleassignment": _roleassignment,
    "invitation": _invitation,
    "group": _group,
    "builtin_group": _builtin_group,
    "ticketform": _ticketform,
    "category": _category,
    "article": _article,
}


def test_every_changeable_audited_admin_is_covered_here():
    changeable = set()
    for model, model_admin in admin.site._registry.items():
        if isinstance(model_admin, UnchangedSinceLoadedAdminMixin):
            changeable.add(model._meta.label)
    covered = {
        "accounts.User",
        "accounts.Organization",
        "accounts.Team",
        "accounts.TeamMember",
        "accounts.Skill",
        "accounts.RoleAssignment",
        "accounts.Invitation",
        "auth.Group",
        "tickets.TicketForm",
        "knowledge.Category",
        "knowledge.Article",
        "helpdesk.SiteConfiguration",  # test_an_old_site_configuration_page_switches_nothing_back
        # read-only / not changeable: checked by test_view_only_pages_carry_no_row_fingerprint
        "tickets.TicketMessage",
        "tickets.Attachment",
        "tickets.Tag",
        "tickets.SavedView",
    }
    assert changeable <= covered, changeable - covered


@pytest.mark.parametrize("kind", list(MAKERS))
def test_a_change_page_posted_back_unchanged_saves(su_client, kind):
    obj = MAKERS[kind]()
    page = su_client.get(change_url(obj))
    assert page.status_code == 200
    assert page.context["loaded_digest"]
    assert f'name="{LOADED_FIELD}"' in page.content.decode()
    response = su_client.post(change_url(obj), form_data(page))
    assert response.status_code == 302, _errors(response)


@pytest.mark.parametrize("kind", list(MAKERS))
def test_save_and_continue_twice_in_a_row(su_client, kind):
    obj = MAKERS[kind]()
    for _ in range(2):
        page = su_client.get(change_url(obj))
        response = su_client.post(change_url(obj), form_data(page, _continue="1"))
        assert response.status_code == 302, _errors(response)
        assert response["Location"].startswith(change_url(obj))


def test_user_page_unchanged_then_edited_keeps_every_value(su_client):
    user = _user()
    before = User.objects.get(pk=user.pk)
    page = su_client.get(change_url(user))
    response = su_client.post(change_url(user), form_data(page, name="Renamed"))
    assert response.status_code == 302, _errors(response)
    after = User.objects.get(pk=user.pk)
    assert after.name == "Renamed"
    for name in (
        "email",
        "password",
        "timezone",
        "status",
        "suspended_until",
        "suspension_reason",
        "organization_id",
        "is_organization_manager",
        "email_verified_at",
    ):
        old, new = getattr(before, name), getattr(after, name)
        if hasattr(old, "microsecond"):  # the page shows (and posts) whole seconds
            old, new = old.replace(microsecond=0), new.replace(microsecond=0)
        assert new == old, name


def test_decimal_and_float_values_hash_stably():
    # Values the database hands back as Decimal / float survive the digest without error.
    org = _organization()
    org.settings = {"price": 1.1, "n": 3}
    org.save()
    fresh = Organization.objects.get(pk=org.pk)
    fields = {"settings": None}
    assert loaded_digest(fresh, fields) == loaded_digest(Organization.objects.get(pk=org.pk), fields)


# ---------------------------------------------------------------- someone else's change in between


def test_a_change_to_a_shown_field_in_between_is_refused_and_nothing_saved(su_client):
    org = _organization()
    page = su_client.get(change_url(org))
    Organization.objects.filter(pk=org.pk).update(name="Renamed by a colleague")
    response = su_client.post(change_url(org), form_data(page, slug="my-new-slug", is_active=""))
    assert _refused(response), _errors(response)
    org.refresh_from_db()
    assert org.name == "Renamed by a colleague" and org.slug != "my-new-slug" and org.is_active
    # The page comes back as typed, with the fingerprint it was opened with: saving again is refused.
    assert response.context["adminform"].form["slug"].value() == "my-new-slug"
    assert response.context["loaded_digest"] == page.context["loaded_digest"]
    again = su_client.post(change_url(org), form_data(response))
    assert _refused(again)
    # Reloaded, it saves.
    fresh = su_client.get(change_url(org))
    assert su_client.post(change_url(org), form_data(fresh, slug="my-new-slug")).status_code == 302


def test_a_suspension_made_in_between_is_not_lifted_by_an_old_page(su_client):
    user = make_customer()
    page = su_client.get(change_url(user))
    User.objects.filter(pk=user.pk).update(status=User.Status.SUSPENDED, suspension_reason="Spam")
    response = su_client.post(change_url(user), form_data(page, name="New name"))
    assert _refused(response), _errors(response)
    user.refresh_from_db()
    assert user.status == User.Status.SUSPENDED and user.name != "New name"


def test_a_login_in_between_does_not_refuse(su_client):
    user = make_customer()
    page = su_client.get(change_url(user))
    User.objects.filter(pk=user.pk).update(last_login=timezone.now(), date_joined=timezone.now())
    response = su_client.post(change_url(user), form_data(page, name="New name"))
    assert response.status_code == 302, _errors(response)


def test_a_counter_changed_in_between_does_not_refuse(su_client):
    invitation = _invitation()
    page = su_client.get(change_url(invitation))
    Invitation.objects.filter(pk=invitation.pk).update(uses=3)
    response = su_client.post(change_url(invitation), form_data(page, max_uses="9"))
    assert response.status_code == 302, _errors(response)
    invitation.refresh_from_db()
    assert (invitation.uses, invitation.max_uses) == (3, 9)


def test_article_feedback_in_between_does_not_refuse(su_client):
    article = _article()
    page = su_client.get(change_url(article))
    Article.objects.filter(pk=article.pk).update(views=50, helpful_count=4)
    response = su_client.post(change_url(article), form_data(page, excerpt="New excerpt"))
    assert response.status_code == 302, _errors(response)


def test_a_password_changed_in_between_does_not_refuse_an_unrelated_edit(su_client):
    """The password field is display-only (disabled): the admin's post cannot write it back, so the
    owner changing their password while an administrator fixes their name is no conflict."""
    user = make_customer()
    page = su_client.get(change_url(user))
    fresh = User.objects.get(pk=user.pk)
    fresh.set_password("a-brand-new-passphrase")
    fresh.save(update_fields=["password"])
    response = su_client.post(change_url(user), form_data(page, name="Typo fixed"))
    assert response.status_code == 302, _errors(response)
    user.refresh_from_db()
    assert user.name == "Typo fixed" and user.check_password("a-brand-new-passphrase")


# ---------------------------------------------------------------- many-to-many and inline rows


def test_a_permission_taken_from_a_role_in_between_is_not_given_back_by_an_old_page(su_client):
    group = _group()
    page = su_client.get(change_url(group))
    revoked = Permission.objects.get(codename="view_user")
    group.permissions.remove(revoked)  # a colleague revokes it meanwhile
    response = su_client.post(change_url(group), form_data(page, name="Clerks (EU)"))
    group.refresh_from_db()
    assert revoked not in group.permissions.all(), response.status_code


def test_user_permission_removed_in_between_is_not_given_back_by_an_old_page(su_client):
    user = _user()
    page = su_client.get(change_url(user))
    user.user_permissions.clear()
    su_client.post(change_url(user), form_data(page, name="Other name"))
    assert not User.objects.get(pk=user.pk).user_permissions.exists()


def test_skill_agent_removed_in_between_is_not_added_back_by_an_old_page(su_client):
    skill = _skill()
    page = su_client.get(change_url(skill))
    gone = skill.agents.first()
    skill.agents.remove(gone)
    su_client.post(change_url(skill), form_data(page, description="Knows PostgreSQL"))
    assert gone not in Skill.objects.get(pk=skill.pk).agents.all()


def test_role_expiry_changed_in_between_is_not_reverted_by_an_old_user_page(su_client):
    user = _user()
    page = su_client.get(change_url(user))
    soon = timezone.now() + timedelta(hours=1)
    RoleAssignment.objects.filter(user=user).update(expires_at=soon)  # a colleague shortens the grant
    su_client.post(change_url(user), form_data(page, name="Other name"))
    assignment = RoleAssignment.objects.get(user=user)
    assert abs(assignment.expires_at - soon) < timedelta(seconds=1), assignment.expires_at


def test_team_member_role_changed_in_between_is_not_reverted_by_an_old_team_page(su_client):
    team = _team()
    page = su_client.get(change_url(team))
    member = TeamMember.objects.filter(team=team, role=TeamMember.Role.SUPERVISOR).get()
    TeamMember.objects.filter(pk=member.pk).update(role=TeamMember.Role.AGENT)  # demoted meanwhile
    su_client.post(change_url(team), form_data(page, email="desk@example.org"))
    assert TeamMember.objects.get(pk=member.pk).role == TeamMember.Role.AGENT


# ---------------------------------------------------------------- the fingerprint itself


def test_a_forged_fingerprint_is_refused(su_client):
    org = _organization()
    page = su_client.get(change_url(org))
    response = su_client.post(change_url(org), form_data(page, name="X", **{LOADED_FIELD: "0" * 64}))
    assert _refused(response)
    assert Organization.objects.get(pk=org.pk).name != "X"


def test_the_fingerprint_covers_only_what_the_page_shows(su_client):
    user = _user()
    page = su_client.get(change_url(user))
    shown = page.context["adminform"].form.fields
    assert "last_login" not in shown and "date_joined" not in shown
    inlines = page.context["adminform"].model_admin.editable_inline_rows(page.wsgi_request, user)
    assert page.context["loaded_digest"] == loaded_digest(User.objects.get(pk=user.pk), shown, inlines)


def test_a_view_only_page_fingerprints_only_what_it_shows(client):
    from tests.factories import give_custom_role

    viewer = give_custom_role(UserFactory(is_staff=True), "Viewers", [("accounts", "view_user")])
    client.force_login(viewer)
    target = _user()
    page = client.get(change_url(target))
    assert page.status_code == 200
    shown = page.context["adminform"].form.fields
    assert not set(shown) & {"is_superuser", "user_permissions", "last_login"}
    # Of the row's values, those on the page (the password as its masked summary, whose salt is hidden:
    # the digest cannot be used to test password guesses).
    inlines = page.context["adminform"].model_admin.editable_inline_rows(page.wsgi_request, target)
    assert page.context["loaded_digest"] == loaded_digest(User.objects.get(pk=target.pk), shown, inlines)
    assert su_post_refused_for_viewer(client, target, page)


def su_post_refused_for_viewer(client, target, page) -> bool:
    response = client.post(change_url(target), form_data(page, name="Viewer was here"))
    return response.status_code in (403, 404) and User.objects.get(pk=target.pk).name != "Viewer was here"


# ---------------------------------------------------------------- add pages, password page, guardian


def test_add_pages_still_work(su_client):
    response = su_client.post(
        reverse("admin:accounts_organization_add"),
        {"name": "New Org", "slug": "new-org", "email_domains": "[]", "settings": "{}", "is_active": "on"},
    )
    assert response.status_code == 302, _errors(response)
    response = su_client.post(
        reverse("admin:knowledge_category_add"), {"name": "Billing", "slug": "billing", "position": "0"}
    )
    assert response.status_code == 302, _errors(response)
    response = su_client.post(
        reverse("admin:accounts_user_add"),
        {
            "email": "added@example.org",
            "name": "Added",
            "password1": "x-long-passphrase-1",
            "password2": "x-long-passphrase-1",
            "usable_password": "true",
            "role_assignments-TOTAL_FORMS": "0",
            "role_assignments-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, _errors(response)


def test_save_as_new_is_not_offered_or_still_adds():
    for model, model_admin in admin.site._registry.items():
        if isinstance(model_admin, AuditedAdminMixin):
            assert not model_admin.save_as, model


def test_the_user_password_page_still_works(su_client):
    user = make_customer()
    url = reverse("admin:auth_user_password_change", args=[user.pk])
    assert su_client.get(url).status_code == 200
    response = su_client.post(
        url,
        {
            "password1": "another-long-passphrase",
            "password2": "another-long-passphrase",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302, (
        _errors(response) if response.context and "adminform" in response.context else response.status_code
    )
    user.refresh_from_db()
    assert user.check_password("another-long-passphrase")
    # And the change page opened afterwards saves.
    page = su_client.get(change_url(user))
    assert su_client.post(change_url(user), form_data(page)).status_code == 302


def test_object_permission_pages_still_work(su_client):
    team, org = TeamFactory(), OrganizationFactory()
    outsider = make_agent()
    for obj in (team, org):
        name = obj._meta.model_name
        assert su_client.get(reverse(f"admin:accounts_{name}_permissions", args=[obj.pk])).status_code == 200
        url = reverse(f"admin:accounts_{name}_permissions_manage_user", args=[obj.pk, outsider.pk])
        assert su_client.get(url).status_code == 200
    url = reverse("admin:accounts_team_permissions_manage_user", args=[team.pk, outsider.pk])
    assert su_client.post(url, {"permissions": ["work_team_queue"]}).status_code == 302
    # The team's change page still saves after a grant.
    page = su_client.get(change_url(team))
    assert su_client.post(change_url(team), form_data(page)).status_code == 302


def test_ticket_form_schema_json_posted_back_unchanged_after_other_field_change(su_client):
    form = _ticketform()
    page = su_client.get(change_url(form))
    TicketForm.objects.filter(pk=form.pk).update(position=7)
    response = su_client.post(change_url(form), form_data(page, title="Renamed form"))
    # position is on the form: refused, nothing saved.
    assert _refused(response), _errors(response)
    assert TicketForm.objects.get(pk=form.pk).title != "Renamed form"


def test_nullable_parent_category_cleared_elsewhere_is_refused(su_client):
    category = _category()
    page = su_client.get(change_url(category))
    Category.objects.filter(pk=category.pk).update(parent=None)
    response = su_client.post(change_url(category), form_data(page, description="x"))
    assert _refused(response), _errors(response)
    assert Category.objects.get(pk=category.pk).parent_id is None


def test_team_page_with_a_new_inline_row_saves(su_client):
    team = _team()
    page = su_client.get(change_url(team))
    data = form_data(page)
    prefix = page.context["inline_admin_formsets"][0].formset.prefix
    newcomer = make_agent()  # a team is worked by agents (TeamMemberForm)
    total = int(data[f"{prefix}-TOTAL_FORMS"])
    data |= {
        f"{prefix}-TOTAL_FORMS": str(total + 1),
        f"{prefix}-{total}-user": str(newcomer.pk),
        f"{prefix}-{total}-role": TeamMember.Role.AGENT,
        f"{prefix}-{total}-is_available": "on",
        f"{prefix}-{total}-joined_at_0": "2025-01-02",
        f"{prefix}-{total}-joined_at_1": "10:00:00",
    }
    response = su_client.post(change_url(team), data)
    assert response.status_code == 302, _errors(response)
    assert TeamMember.objects.filter(team=team, user=newcomer).exists()
    assert Team.objects.filter(pk=team.pk).exists()


def test_an_old_site_configuration_page_switches_nothing_back(su_client):
    """A page opened before a colleague turned on maintenance mode and anonymous submissions, saved to
    rename the site, is refused: it would have switched both back off as if typed."""
    configuration = SiteConfiguration.objects.get_current()
    page = su_client.get(change_url(configuration))
    data = form_data(page, site_name="Acme help")
    site_services.site_configuration_update(
        changes={"maintenance_mode": True, "anonymous_submission": True}, actor=make_administrator()
    )
    assert _refused(su_client.post(change_url(configuration), data))
    configuration = SiteConfiguration.objects.get_current()
    assert (configuration.maintenance_mode, configuration.anonymous_submission) == (True, True)
    assert configuration.site_name != "Acme help"

    page = su_client.get(change_url(configuration))  # reloaded: the rename goes through
    assert (
        su_client.post(change_url(configuration), form_data(page, site_name="Acme help")).status_code == 302
    )
    configuration = SiteConfiguration.objects.get_current()
    assert (configuration.site_name, configuration.maintenance_mode) == ("Acme help", True)
