"""The migrations that made names unique in any letter case (accounts 0009 and 0010, tickets 0012), run
on rows written before them: each test drops its constraint inside the test's transaction (PostgreSQL
rolls the DDL back with it), writes the clashing rows an older version allowed, runs the migration's
step, and makes the constraint again, as the migration goes on to."""

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection

from accounts.models import Invitation, Organization, Team
from tests.factories import InvitationFactory, OrganizationFactory, SavedViewFactory, TeamFactory, make_agent
from tickets.models import SavedView

pytestmark = pytest.mark.django_db


def run_step(migration: str, function: str) -> None:
    editor = SimpleNamespace(connection=connection)  # of the schema editor, the step reads its connection
    getattr(importlib.import_module(migration), function)(apps, editor)


def without_constraint(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")


def constraint_made_again(table: str, name: str, columns: str) -> None:
    """The constraint's unique index, made as the migration makes it: fails on a clash left behind."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the rows' deferred key checks, first
        cursor.execute(f"CREATE UNIQUE INDEX {name} ON {table} ({columns})")


def names(model, pks) -> list[str]:
    return [model.objects.get(pk=pk).name for pk in pks]


def test_names_equal_but_for_case_are_numbered_past_every_name_taken():
    """Made in this order: "Support", "SUPPORT", "Support (2)". The second becomes "SUPPORT (3)", as
    "(2)" is taken, and the real "Support (2)", which clashed with nothing, keeps its name."""
    without_constraint("team_name_any_case")
    teams = [TeamFactory(name=name).pk for name in ("Support", "SUPPORT", "Support (2)")]
    run_step("accounts.migrations.0010_names_any_case", "rename_clashes")
    assert names(Team, teams) == ["Support", "SUPPORT (3)", "Support (2)"]
    constraint_made_again("accounts_team", "team_name_any_case", "lower(name)")


def test_names_are_compared_in_case_as_postgresql_compares_them():
    """ "İzmir Ltd" and "izmir ltd" are one name to PostgreSQL's lower(), which the constraint uses (not
    to Python's, which keeps a combining dot): the later one is numbered, and the constraint is made."""
    without_constraint("organization_name_any_case")
    organisations = [OrganizationFactory(name=name).pk for name in ("İzmir Ltd", "izmir ltd")]
    run_step("accounts.migrations.0010_names_any_case", "rename_clashes")
    assert names(Organization, organisations) == ["İzmir Ltd", "izmir ltd (2)"]
    constraint_made_again("accounts_organization", "organization_name_any_case", "lower(name)")


def test_invitation_codes_equal_but_for_case_are_numbered():
    """ "SPRING" for one organisation and "spring" for another were two codes while codes were read as
    typed: the later becomes "spring-2", the earlier still works as it was."""
    without_constraint("invitation_code_any_case")
    first, second = InvitationFactory(code="SPRING"), InvitationFactory(code="spring")
    run_step("accounts.migrations.0009_invitation_code_any_case", "number_code_clashes")
    assert Invitation.objects.get(pk=first.pk).code == "SPRING"
    assert Invitation.objects.get(pk=second.pk).code == "spring-2"
    constraint_made_again("accounts_invitation", "invitation_code_any_case", "lower(code)")


def test_saved_views_are_numbered_per_owner():
    """One agent's "Urgent" and "urgent" (the exact check before allowed both) become "Urgent" and
    "urgent (2)"; another agent's "URGENT" is theirs alone and stays."""
    without_constraint("saved_view_name_per_owner")
    agent, colleague = make_agent(TeamFactory()), make_agent(TeamFactory())
    views = [
        SavedViewFactory(owner=agent, name="Urgent").pk,
        SavedViewFactory(owner=agent, name="urgent").pk,
        SavedViewFactory(owner=colleague, name="URGENT").pk,
    ]
    run_step("tickets.migrations.0012_saved_view_name_any_case", "number_name_clashes")
    assert names(SavedView, views) == ["Urgent", "urgent (2)", "URGENT"]
    constraint_made_again("tickets_savedview", "saved_view_name_per_owner", "owner_id, lower(name)")
