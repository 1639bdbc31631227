"""What the trail keeps of a row that is gone or new: a deletion in the admin names what the row held
(its fields, its lists, and the rows the database deletes with it: a team's members and grants, an
account's roles and memberships, each recorded as removing it by hand is), a new article what it was
written with, and kb_import the old addresses it points at an article."""

import json

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.urls import reverse
from guardian.shortcuts import assign_perm

from accounts.models import Invitation, Team, User
from audit.models import AuditEvent
from audit.recorder import MASK
from knowledge.models import Article, ArticleSlug
from tests.admin_pages import delete_url
from tests.factories import (
    CategoryFactory,
    InvitationFactory,
    OrganizationFactory,
    TeamFactory,
    make_administrator,
    make_agent,
    make_article,
)

pytestmark = pytest.mark.django_db


def last_sequence() -> int:
    return AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first() or 0


def since(mark: int):
    return AuditEvent.objects.filter(sequence__gt=mark).order_by("sequence")


def about(obj, mark: int):
    return since(mark).filter(object_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk))


@pytest.fixture
def administrator():
    return make_administrator(is_superuser=True, name="Ada Admin")


@pytest.fixture
def admin_client(client, administrator):
    client.force_login(administrator)
    return client


def test_a_deletion_in_the_admin_names_what_the_row_held_its_secrets_masked(admin_client, administrator):
    invitation = InvitationFactory(
        organization=OrganizationFactory(name="Acme"), email="", max_uses=7, makes_manager=True
    )
    mark = last_sequence()
    assert admin_client.post(delete_url(invitation), {"post": "yes"}).status_code == 302
    assert not Invitation.objects.filter(pk=invitation.pk).exists()
    event = about(invitation, mark).get(action="delete")
    assert event.actor == administrator
    assert event.changes["organization"] == ["Acme", None]
    assert event.changes["makes_manager"] == [True, None] and event.changes["max_uses"] == [7, None]
    assert event.changes["code"] == [MASK, MASK]  # a code still open lets whoever reads the trail join
    assert "email" not in event.changes  # it held nothing


def test_a_bulk_deletion_in_the_admin_names_what_each_row_held(admin_client):
    first, second = (InvitationFactory(max_uses=uses) for uses in (3, 4))
    mark = last_sequence()
    admin_client.post(
        reverse("admin:accounts_invitation_changelist"),
        {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"},
    )
    assert not Invitation.objects.filter(pk__in=[first.pk, second.pk]).exists()
    assert about(first, mark).get(action="delete").changes["max_uses"] == [3, None]
    assert about(second, mark).get(action="delete").changes["max_uses"] == [4, None]


def test_deleting_a_team_names_its_members_and_the_grants_of_its_queue(admin_client):
    team = TeamFactory(name="Night shift")
    make_agent(team, name="Nora Night")
    assign_perm("accounts.work_team_queue", make_agent(TeamFactory(), name="Gus Granted"), team)
    mark = last_sequence()
    assert admin_client.post(delete_url(team), {"post": "yes"}).status_code == 302
    assert not Team.objects.filter(name="Night shift").exists()
    changes = about(team, mark).get(action="delete").changes
    assert any("Nora Night" in member for member in changes["memberships"][0])
    assert "Gus Granted" in json.dumps(changes["teamuserobjectpermission_set"])


def test_deleting_an_account_records_its_roles_and_memberships_removed(admin_client, administrator):
    """As taking them away one by one would: a role change on the account, a member fewer on the team
    (which the team's supervisors read), then the account's delete event."""
    team = TeamFactory(name="Weekend")
    agent = make_agent(team, name="Wes Weekend")
    mark = last_sequence()
    assert admin_client.post(delete_url(agent), {"post": "yes"}).status_code == 302
    assert not User.objects.filter(pk=agent.pk).exists()
    role_change = since(mark).get(action="role_change")
    assert role_change.object_id == str(agent.pk) and role_change.changes["role"] == ["Agent", None]
    member = about(team, mark).get(action="update")
    assert member.changes == {"member": ["Wes Weekend (Agent)", None]} and member.actor == administrator
    deleted = since(mark).get(action="delete")
    assert deleted.changes["name"] == ["Wes Weekend", None] and deleted.changes["password"] == [MASK, MASK]


def test_a_new_article_is_recorded_with_what_it_was_written_with(client):
    category = CategoryFactory(name="Printing", slug="printing")
    agent = make_agent(TeamFactory())
    client.force_login(agent)
    mark = last_sequence()
    written = {"title": "Clear a paper jam", "body": "Open tray 2.", "visibility": "internal",
               "category": category.pk, "tags": "printer"}  # fmt: skip
    assert client.post(reverse("knowledge:manage_new"), written).status_code == 302
    article = Article.objects.get(title="Clear a paper jam")
    changes = about(article, mark).get(action="create").changes
    assert changes["title"] == [None, "Clear a paper jam"] and changes["body"] == [None, "Open tray 2."]
    assert changes["visibility"] == [None, "internal"] and changes["category"] == [None, "Printing"]
    assert changes["tags"] == [None, "printer"] and changes["status"] == [None, "draft"]
    assert changes["slug"] == [None, article.slug]


def test_kb_import_records_the_old_addresses_it_points_at_an_article(tmp_path):
    article = make_article(title="Reset your password", body="Open the sign-in page.")
    record = {"slug": article.slug, "title": article.title, "body": article.body,
              "excerpt": article.excerpt, "tags": article.tags, "visibility": article.visibility,
              "old_slugs": ["forgotten-password"]}  # fmt: skip
    source = tmp_path / "articles.jsonl"
    source.write_text(json.dumps(record) + "\n", encoding="utf-8")
    mark = last_sequence()
    call_command("kb_import", str(source), verbosity=0)
    assert ArticleSlug.objects.filter(slug="forgotten-password", article=article).exists()
    event = about(article, mark).get(action="update")
    assert event.changes == {"old_slugs": [[], ["forgotten-password"]]} and event.actor is None
    call_command("kb_import", str(source), verbosity=0)  # kept already: nothing more to record
    assert about(article, mark).count() == 1
