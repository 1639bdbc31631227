"""Edges of: left_organization_at, migrations tickets 0026/0027, knowledge 0017, accounts 0019/0020,
the custom-fields object constraint, TicketForm.definitions, the "agents only" team and skill forms,
the admin's "in no team" and "no password yet" warnings, ticket_merge's clocks, an agent's own request
answered from the desk, the desk's empty state, and the queue's search cut and paginator."""

import importlib
import logging
from datetime import UTC, datetime, timedelta
from html import unescape
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from guardian.shortcuts import assign_perm

from accounts import rbac, roles
from accounts import services as account_services
from accounts.models import Skill, TeamMember, User
from audit.models import AuditEvent
from tests.accounts.test_admin_onboarding import (  # noqa: F401 (fixtures)
    admin_add,
    admin_client,
    change_page_post,
    created_pk,
    errors_of,
)
from tests.admin_pages import change_url, form_data, post_change
from tests.conftest import made_once_per_module, notes
from tests.factories import (
    OrganizationFactory,
    SkillFactory,
    TeamFactory,
    TicketFormFactory,
    UserFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tests.helpdesk.conftest import make_desk
from tests.tickets import conftest as tickets_conftest
from tests.tickets.conftest import fresh, insert_tickets, reply_url, ws
from tickets import services
from tickets.models import Ticket, TicketMessage
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

_desk_rows, desk = made_once_per_module(make_desk, "desk")
desk = tickets_conftest.desk  # the shared fixture

QUEUE = reverse("tickets:desk_queue")
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def text(response) -> str:
    return unescape(response.content.decode())


def superuser_signed_in(client):
    admin = make_administrator(is_superuser=True)
    client.force_login(admin)
    return admin


# --- (1) User.left_organization_at -------------------------------------------------------------------


@pytest.fixture
def acme():
    return OrganizationFactory(name="Acme", slug="acme", email_domains=["acme.example"])


def reset_password(user):
    """What a completed password reset does (the link proves the address)."""
    return account_services.user_password_reset(User.objects.get(pk=user.pk), actor=None)


def test_emptying_the_organisation_in_the_admin_sets_the_time_and_keeps_them_out(client, acme):
    superuser_signed_in(client)
    customer = make_customer(acme, email="carla@acme.example")
    response = post_change(client, customer, organization="")
    assert response.status_code == 302, errors_of(response)
    customer = User.objects.get(pk=customer.pk)
    assert customer.organization_id is None and customer.left_organization_at is not None
    reset_password(customer)
    assert User.objects.get(pk=customer.pk).organization_id is None


def test_moving_from_a_to_b_then_emptying_keeps_them_out(client, acme):
    superuser_signed_in(client)
    globex = OrganizationFactory(name="Globex", slug="globex", email_domains=["globex.example"])
    customer = make_customer(acme, email="carla@acme.example")
    assert post_change(client, customer, organization=str(globex.pk)).status_code == 302
    assert User.objects.get(pk=customer.pk).left_organization_at is None  # a move is not a removal
    assert post_change(client, User.objects.get(pk=customer.pk), organization="").status_code == 302
    reset_password(customer)
    assert User.objects.get(pk=customer.pk).organization_id is None


def test_removed_then_put_back_by_the_admin_stays_where_the_admin_put_them(client, acme):
    """Removed, put back into Acme by the admin, then their address moves to another organisation's
    domain: they stay in Acme (a person placed them), a reset changes nothing."""
    superuser_signed_in(client)
    OrganizationFactory(name="Globex", slug="globex", email_domains=["globex.example"])
    customer = make_customer(acme, email="carla@acme.example")
    assert post_change(client, customer, organization="").status_code == 302
    assert post_change(client, User.objects.get(pk=customer.pk), organization=str(acme.pk)).status_code == 302
    User.objects.filter(pk=customer.pk).update(email="carla@globex.example")
    reset_password(customer)
    assert User.objects.get(pk=customer.pk).organization_id == acme.pk


def test_the_admin_save_audits_the_removal_without_crashing_or_masking(client, acme):
    superuser_signed_in(client)
    customer = make_customer(acme, email="carla@acme.example")
    page = client.get(change_url(customer))
    assert "taken out of its organisation" in text(page).lower()
    assert post_change(client, customer, organization="").status_code == 302
    event = AuditEvent.objects.filter(object_id=str(customer.pk), action="update").latest("sequence")
    assert event.changes["organization"][0] == "Acme"
    assert "*" not in str(event.changes)  # nothing of the removal masked as a secret
    page = client.get(change_url(User.objects.get(pk=customer.pk)))
    assert page.status_code == 200


def test_a_stale_page_after_the_left_time_was_set_is_refused_not_500(client, acme):
    superuser_signed_in(client)
    customer = make_customer(acme, email="carla@acme.example")
    stale = client.get(change_url(customer))
    assert post_change(client, customer, organization="").status_code == 302
    response = client.post(change_url(customer), form_data(stale, name="Carla C"))
    assert response.status_code in (200, 302, 409, 422)


# --- (4) agents only in teams and skills ------------------------------------------------------------


def pending_agent(email="new.agent@desk.example"):
    """An account an administrator added without a password (pending, as the add page now makes it) and
    gave the Agent role: the README's first of the two steps of making an agent."""
    user = UserFactory(email=email, name="New Agent", password=None, status=User.Status.PENDING)
    account_services.role_assign(user, roles.AGENT, actor=None)
    return User.objects.get(pk=user.pk)


def test_an_agent_added_without_a_password_can_be_made_a_team_member(client):
    """README: "A new agent is made in two steps: the role on their user page, then membership on a team's
    page ... An account added without a password is pending until its owner sets one". An administrator
    adds the new hire without a password (they will claim it), gives the Agent role, and adds them to
    Support on its page, so the queue is waiting when they first sign in."""
    superuser_signed_in(client)
    team = TeamFactory(name="Support")
    newcomer = pending_agent()
    response = change_page_post(
        client, change_url(team), {"memberships": [{"user": str(newcomer.pk), "role": "agent"}]}
    )
    assert response.status_code == 302, errors_of(response)
    assert TeamMember.objects.filter(team=team, user=newcomer).exists()


def test_the_member_picker_offers_the_pending_agent(client):
    superuser_signed_in(client)
    newcomer = pending_agent()
    response = client.get(
        "/admin/autocomplete/",
        {"app_label": "accounts", "model_name": "teammember", "field_name": "user", "term": "new.agent"},
    )
    assert [item["id"] for item in response.json()["results"]] == [str(newcomer.pk)]


def ex_agent(team=None, email="ex.agent@desk.example"):
    """A member whose Agent role has expired (a contractor whose contract ended)."""
    user = make_agent(*([team] if team else []), email=email, name="Ex Agent")
    from accounts.models import RoleAssignment

    RoleAssignment.objects.filter(user=user).update(expires_at=datetime.now(UTC) - timedelta(days=1))
    rbac.forget(user)
    return User.objects.get(pk=user.pk)


def test_a_team_page_with_an_ex_agent_member_still_saves_other_changes(client):
    superuser_signed_in(client)
    team = TeamFactory(name="Support")
    old = ex_agent(team)
    colleague = make_agent(email="colleague@desk.example")
    response = change_page_post(
        client,
        change_url(team),
        {"memberships": [{"user": str(colleague.pk), "role": "agent"}]},
        name="Support desk",
    )
    assert response.status_code == 302, errors_of(response)
    assert TeamMember.objects.filter(team=team, user=old).exists()
    assert TeamMember.objects.filter(team=team, user=colleague).exists()


def test_an_ex_agents_membership_row_can_be_changed_and_deleted(client):
    superuser_signed_in(client)
    team = TeamFactory(name="Support")
    old = ex_agent(team)
    membership = TeamMember.objects.get(team=team, user=old)
    # Untick "available" on their row: the user did not change, so it saves.
    response = post_change(client, team, **{"memberships-0-is_available": ""})
    assert response.status_code == 302, errors_of(response)
    assert not TeamMember.objects.get(pk=membership.pk).is_available
    response = post_change(client, team, **{"memberships-0-DELETE": "on"})
    assert response.status_code == 302, errors_of(response)
    assert not TeamMember.objects.filter(pk=membership.pk).exists()
    # And on the membership's own admin page.
    membership = TeamMember.objects.create(team=team, user=old)
    response = post_change(client, membership, role="lead")
    assert response.status_code == 302, errors_of(response)


def test_a_supervisor_changes_an_ex_agents_membership_of_their_team():
    """Supervisors get 403 on the team's and the membership's admin pages by default: the form itself,
    as a supervisor who may manage members fills it in, takes a change to an ex-agent's row."""
    from django.forms import modelform_factory

    from accounts.admin import TeamMemberForm, acting_as

    team = TeamFactory(name="Support")
    supervisor = make_supervisor(team, email="sam@desk.example")
    old = ex_agent(team)
    membership = TeamMember.objects.get(team=team, user=old)
    form_class = acting_as(
        modelform_factory(TeamMember, form=TeamMemberForm, fields=["team", "user", "role", "is_available"]),
        supervisor,
    )
    data = {"team": team.pk, "user": old.pk, "role": "lead", "is_available": "on"}
    form = form_class(data, instance=membership)
    assert form.is_valid(), form.errors
    data["user"] = make_customer(email="carla@acme.example").pk
    assert not form_class(data, instance=membership).is_valid()


def test_a_skill_listing_an_ex_agent_can_still_be_renamed(client):
    """A skill "Printers" lists Alex and Ex, whose Agent role has since expired. An administrator renames
    the skill "Printers and scanners" and saves the page as it is. Like the team page (TeamMemberForm
    checks "user" only when it changed), the skill should save: nobody was added."""
    superuser_signed_in(client)
    alex = make_agent(email="alex@desk.example")
    old = ex_agent()
    skill = SkillFactory(name="Printers", slug="printers")
    skill.agents.add(alex, old)
    response = post_change(client, skill, name="Printers and scanners")
    assert response.status_code == 302, errors_of(response)
    assert Skill.objects.get(pk=skill.pk).name == "Printers and scanners"


def test_a_skill_refuses_a_customer_newly_added(client):
    superuser_signed_in(client)
    customer = make_customer(email="carla@acme.example")
    skill = SkillFactory(name="Printers", slug="printers")
    response = post_change(client, skill, agents=[str(customer.pk)])
    assert response.status_code != 302
    assert not skill.agents.exists()


# --- (5) the "in no team" warning ---------------------------------------------------------------------


@pytest.mark.parametrize("role", [roles.ADMINISTRATOR])
def test_no_in_no_team_warning_for_administrators(client, role):
    superuser_signed_in(client)
    user = make_agent(role=role, email="boss2@desk.example")
    response = post_change(client, user, name="Renamed")
    assert response.status_code == 302
    assert not any("works no team's queue" in said for said in notes(response))


def test_in_no_team_warning_for_a_supervisor_in_no_team(client):
    superuser_signed_in(client)
    user = make_supervisor(email="lonely.sup@desk.example")
    response = post_change(client, user, name="Renamed")
    assert any("works no team's queue" in said for said in notes(response))


def test_an_agent_granted_a_teams_queue_is_not_told_their_desk_stays_empty(client):
    """README: team grants (the "Object permissions" button on a team) let an agent work a team's queue
    without being a member; the desk lists that team's tickets and does not show "You are in no team yet"
    (it asks rbac.workable_team_ids, grants included). Saving that agent's user page should not warn that
    they "work no team's queue yet, so their desk stays empty"."""
    superuser_signed_in(client)
    team = TeamFactory(name="Billing")
    make_ticket(make_customer(), team=team, subject="Invoice twice")
    agent = make_agent(email="granted@desk.example")
    assign_perm("accounts.work_team_queue", agent, team)
    rbac.forget(agent)
    assert team.pk in rbac.workable_team_ids(User.objects.get(pk=agent.pk))
    response = post_change(client, agent, name="Granted Agent")
    assert response.status_code == 302
    assert not any("works no team's queue" in said for said in notes(response)), notes(response)


def test_user_change_page_save_query_cost(client, django_assert_max_num_queries):
    superuser_signed_in(client)
    user = make_agent(TeamFactory(), email="member@desk.example")
    page = client.get(change_url(user))
    data = form_data(page, name="Renamed")
    with django_assert_max_num_queries(60):
        response = client.post(change_url(user), data)
    assert response.status_code == 302


# --- (6) the add page without a password ------------------------------------------------------------


def test_an_account_added_with_a_password_is_active(admin_client):  # noqa: F811
    response = admin_add(
        admin_client, "/admin/accounts/user/add/", email="now@desk.example", name="Now",
        password1="Zq9!long-enough-pass", password2="Zq9!long-enough-pass",
    )  # fmt: skip
    pk = created_pk(response)
    assert User.objects.get(pk=pk).status == User.Status.ACTIVE


# --- (2) migrations and the custom-fields constraint -------------------------------------------------


def run_step(migration: str, function: str) -> None:
    editor = SimpleNamespace(connection=connection)
    getattr(importlib.import_module(migration), function)(apps, editor)


def test_0027_keeps_other_values_under_value_and_the_constraint_can_be_made(desk):
    customer = desk["customer"]
    kept = make_ticket(customer, team=desk["support"], subject="Object")
    others = [make_ticket(customer, team=desk["support"], subject=f"Other {n}") for n in range(4)]
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE tickets_ticket DROP CONSTRAINT ticket_custom_fields_object")
        Ticket.objects.filter(pk=kept.pk).update(custom_fields={"ref": "A-1"})
        for ticket, raw in zip(others, ["[1, 2]", '"PO-7"', "5", "null"], strict=True):
            cursor.execute(
                "UPDATE tickets_ticket SET custom_fields = %s::jsonb WHERE id = %s", [raw, ticket.pk]
            )
        migration = importlib.import_module("tickets.migrations.0027_ticket_custom_fields_object")
        cursor.execute(migration.KEEP_OTHER_VALUES)
        cursor.execute(
            "ALTER TABLE tickets_ticket ADD CONSTRAINT ticket_custom_fields_object "
            "CHECK (JSONB_TYPEOF(custom_fields) = 'object')"
        )
    assert fresh(kept).custom_fields == {"ref": "A-1"}
    assert [fresh(t).custom_fields for t in others] == [
        {"value": [1, 2]},
        {"value": "PO-7"},
        {"value": 5},
        {},
    ]


def test_the_constraint_refuses_a_list_written_past_the_services(desk):
    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(pk=desk["ticket"].pk).update(custom_fields=[1])


def test_validate_constraints_reads_the_jsonb_typeof_check(desk, caplog):
    ticket = fresh(desk["ticket"])
    with caplog.at_level(logging.WARNING, logger="django.db.models"):
        ticket.validate_constraints()  # an object: passes, no database error logged
        ticket.custom_fields = [1]
        with pytest.raises(ValidationError):
            ticket.validate_constraints()
        ticket.validate_constraints(exclude={"custom_fields"})
    assert not [r for r in caplog.records if "database error" in r.getMessage()]


def test_the_admin_ticket_change_page_still_saves(client, desk):
    client.force_login(make_administrator(is_superuser=True))
    ticket = fresh(desk["ticket"])
    response = post_change(client, ticket, priority="high")
    assert response.status_code == 302, response.content.decode()[:2000]
    assert fresh(ticket).priority == "high"


def test_0026_renders_stale_message_html_again_and_leaves_others(desk):
    from helpdesk.markdown import render_markdown

    ticket = desk["ticket"]
    image = services.ticket_add_note(
        ticket, body="See ![shot](https://example.com/a.png)", actor=desk["agent"]
    )
    plain = services.ticket_add_note(ticket, body="Plain words", actor=desk["agent"])
    TicketMessage.objects.filter(pk__in=[image.pk, plain.pk]).update(body_html="<p>old</p>")
    run_step("tickets.migrations.0026_messages_rendered_with_the_link_budget", "render_again")
    assert TicketMessage.objects.get(pk=image.pk).body_html == render_markdown(image.body)
    assert TicketMessage.objects.get(pk=plain.pk).body_html == "<p>old</p>"


def test_knowledge_0017_renders_stale_article_html_again():
    from knowledge.models import Article
    from knowledge.services import article_html
    from tests.factories import make_article

    article = make_article(body="[docs]: https://example.com\n\nRead [the docs][docs].")
    Article.objects.filter(pk=article.pk).update(body_html="<p>old</p>")
    run_step("knowledge.migrations.0017_articles_rendered_with_the_link_budget", "render_again")
    assert Article.objects.get(pk=article.pk).body_html == article_html(article.body)


def test_models_and_migrations_agree(capsys):
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


# --- (3) legacy schemas with now-refused wording --------------------------------------------------------

LEGACY = [
    {"name": "ref", "label": "Reference", "type": "text"},
    {"name": "ref2", "label": "Reference", "type": "text"},  # a label used twice
    {"name": "long", "label": "L" * 250, "type": "text"},  # longer than MAX_LABEL
    {"name": "plan", "label": "Plan", "type": "select", "choices": ["Pro", "pro ", "Basic"]},  # alike
]


def test_legacy_wording_keeps_every_field_shown_and_editable(client, desk):
    from tickets import schema
    from tickets.models import TicketActivity, TicketForm

    form = TicketFormFactory(schema=[{"name": "ref", "label": "Reference", "type": "text"}])
    TicketForm.objects.filter(pk=form.pk).update(schema=LEGACY)
    form.refresh_from_db()
    assert schema.schema_errors(form.schema) and form.definitions == LEGACY
    stored = {"ref": "A-1", "ref2": "B-2", "long": "C-3", "plan": "Pro"}
    ticket = make_ticket(desk["customer"], team=desk["support"], subject="Legacy")
    Ticket.objects.filter(pk=ticket.pk).update(form=form, custom_fields=stored)
    client.force_login(desk["customer"])
    portal = text(client.get(reverse("tickets:portal_detail", args=[ticket.number])))
    assert all(value in portal for value in ("A-1", "B-2", "C-3"))
    client.force_login(desk["agent"])
    page = client.get(ws(ticket))
    assert page.status_code == 200
    data = {"field": "custom_fields", "version": fresh(ticket).version,
            "cf-ref": "A-1", "cf-ref2": "B-22", "cf-long": "C-33", "cf-plan": "pro "}  # fmt: skip
    response = client.post(reverse("tickets:desk_update", args=[ticket.number]), data)
    assert response.status_code == 302, text(response)[:3000]
    assert fresh(ticket).custom_fields == {"ref": "A-1", "ref2": "B-22", "long": "C-33", "plan": "pro "}
    activity = TicketActivity.objects.get(ticket=ticket, action="custom_fields")
    assert len(activity.new_value) == 3


def test_legacy_wording_form_still_takes_portal_submissions(client, desk):
    from tickets.models import TicketForm

    form = TicketFormFactory(schema=[{"name": "ref", "label": "Reference", "type": "text"}])
    TicketForm.objects.filter(pk=form.pk).update(schema=LEGACY)
    client.force_login(desk["customer"])
    url = reverse("tickets:portal_submit_form", args=[form.slug])
    assert client.get(url).status_code == 200
    import uuid

    data = {"subject": "Legacy form", "description": "Body", "submission_key": str(uuid.uuid4()),
            "cf_ref": "A", "cf_ref2": "B", "cf_long": "C", "cf_plan": "Basic"}  # fmt: skip
    response = client.post(url, data)
    assert response.status_code == 302, text(response)[:3000]
    assert Ticket.objects.get(subject="Legacy form").custom_fields == {
        "ref": "A",
        "ref2": "B",
        "long": "C",
        "plan": "Basic",
    }


# --- (7) ticket_merge's clocks -----------------------------------------------------------------------


@pytest.fixture
def at(time_machine):
    time_machine.move_to(START, tick=False)
    return time_machine


def now():
    from django.utils import timezone

    return timezone.now()


def staff_reply(ticket, agent, body="On it", **kwargs):
    return services.ticket_reply(fresh(ticket), body=body, actor=agent, **kwargs)


def test_merge_keeps_the_targets_earlier_first_response(at, desk):
    customer, agent, colleague = desk["customer"], desk["agent"], desk["colleague"]
    target = desk["ticket"]  # 09:00
    at.shift(timedelta(minutes=10))
    source = make_ticket(customer, team=desk["support"], subject="Duplicate")  # 09:10
    at.shift(timedelta(minutes=10))
    staff_reply(target, agent)  # 09:20: the target's own first answer
    at.shift(timedelta(minutes=10))
    staff_reply(source, colleague)  # 09:30
    at.shift(timedelta(minutes=10))
    services.ticket_merge(fresh(source), into=fresh(target), actor=desk["supervisor"])
    assert fresh(target).first_response_at == START + timedelta(minutes=20)


def test_merge_gives_the_target_an_earlier_answer_written_after_it_was_opened(at, desk):
    customer, agent, colleague = desk["customer"], desk["agent"], desk["colleague"]
    target = desk["ticket"]  # 09:00
    source = make_ticket(customer, team=desk["support"], subject="Duplicate")
    at.shift(timedelta(minutes=10))
    staff_reply(source, colleague)  # 09:10
    at.shift(timedelta(minutes=20))
    staff_reply(target, agent)  # 09:30
    at.shift(timedelta(minutes=10))
    services.ticket_merge(fresh(source), into=fresh(target), actor=desk["supervisor"])
    assert fresh(target).first_response_at == START + timedelta(minutes=10)


def test_merge_into_an_unassigned_ticket_marks_nothing(at, desk):
    customer, agent = desk["customer"], desk["agent"]
    target = desk["ticket"]
    source = make_ticket(customer, team=desk["support"], subject="Duplicate")
    services.ticket_assign(fresh(source), assignee=agent, actor=agent, seen=True)
    at.shift(timedelta(minutes=5))
    services.ticket_reply(fresh(source), body="More", actor=customer)
    at.shift(timedelta(minutes=5))
    into = services.ticket_merge(fresh(source), into=fresh(target), actor=desk["supervisor"])
    into = fresh(into)
    assert into.assignee_id is None and into.assignee_seen_at is None and not into.unread_by_assignee


def test_merge_keeps_read_a_message_the_same_assignee_read_on_the_source(at, desk):
    """Alex is assigned both T-1 (09:00) and its duplicate T-2. The customer writes on T-2 at 09:05 and
    Alex reads it there at 09:10; nothing new comes on T-1. At 09:15 a supervisor merges T-2 into T-1.
    Today's change says a merge marks unread only "customer messages its assignee never saw on the other
    ticket": Alex saw this one, so T-1 should not show as unread to them."""
    customer, agent = desk["customer"], desk["agent"]
    target = desk["ticket"]
    source = make_ticket(customer, team=desk["support"], subject="Duplicate")
    for ticket in (target, source):
        services.ticket_assign(fresh(ticket), assignee=agent, actor=agent, seen=True)
    at.shift(timedelta(minutes=5))
    services.ticket_reply(fresh(source), body="More detail", actor=customer)  # 09:05
    at.shift(timedelta(minutes=5))
    services.ticket_mark_seen(fresh(source), actor=agent, shown=fresh(source).last_customer_message_at)
    assert not fresh(source).unread_by_assignee and not fresh(target).unread_by_assignee
    at.shift(timedelta(minutes=5))
    services.ticket_merge(fresh(source), into=fresh(target), actor=desk["supervisor"])
    target = fresh(target)
    assert not target.unread_by_assignee, (
        f"unread after the merge: last customer message {target.last_customer_message_at}, "
        f"seen {target.assignee_seen_at}, read on the source at {fresh(source).assignee_seen_at}"
    )


def test_merge_does_not_take_the_requesting_agents_own_words_for_a_first_answer(at, desk):
    """Agent Alex files a request of their own (09:00) and a colleague answers it (09:10). At 10:00 Alex
    files it again (T-new), and at 10:30 adds "also the charger" on the first one from the desk; at 11:00
    a supervisor merges the first into T-new. Nobody has answered T-new: today's change says an agent's
    words on their own request "answer nobody" (ticket_reply's own_request). T-new should stay without a
    first response (and New)."""
    alex, colleague = desk["agent"], desk["colleague"]
    first = make_ticket(alex, team=desk["support"], subject="My laptop will not boot")  # 09:00
    at.shift(timedelta(minutes=10))
    staff_reply(first, colleague, "Try holding the power button")  # 09:10
    assert fresh(first).first_response_at == START + timedelta(minutes=10)
    at.shift(timedelta(minutes=50))
    again = make_ticket(alex, team=desk["support"], subject="My laptop still will not boot")  # 10:00
    at.shift(timedelta(minutes=30))
    staff_reply(first, alex, "Also the charger is missing")  # 10:30, Alex's own words, from the desk
    assert TicketMessage.objects.filter(ticket=first, author=alex).latest("created_at").from_staff
    at.shift(timedelta(minutes=30))
    services.ticket_merge(fresh(first), into=fresh(again), actor=desk["supervisor"])
    again = fresh(again)
    assert again.first_response_at is None, f"first response {again.first_response_at} from Alex's own words"


# --- (8) an agent's own request answered from the desk -----------------------------------------------------


def test_own_request_reply_and_solve_from_the_desk(at, client, desk):
    from tickets.models import TicketActivity

    alex = desk["agent"]
    own = make_ticket(alex, team=desk["support"], subject="My laptop will not boot")
    at.shift(timedelta(minutes=10))
    client.force_login(alex)
    data = {
        "kind": "reply",
        "body": "Fixed it myself",
        "version": fresh(own).version,
        "status_after": "resolved",
    }
    response = client.post(reply_url(own), data)
    assert response.status_code == 302, text(response)[:2000]
    own = fresh(own)
    assert own.status == Status.RESOLVED and own.first_response_at is None and own.resolved_at == now()
    assert TicketActivity.objects.filter(ticket=own, action="reply", actor=alex).exists()


def test_own_request_written_in_the_portal_is_still_a_customer_message(at, client, desk):
    alex = desk["agent"]
    own = make_ticket(alex, team=desk["support"], subject="My laptop will not boot")
    at.shift(timedelta(minutes=10))
    client.force_login(alex)
    response = client.post(reverse("tickets:portal_reply", args=[own.number]), {"body": "Any news?"})
    assert response.status_code == 302
    message = TicketMessage.objects.filter(ticket=own).latest("created_at")
    assert not message.from_staff and fresh(own).last_customer_message_at == now()
    assert fresh(own).first_response_at is None


# --- (9) the desk's empty state ---------------------------------------------------------------------------

NO_TEAM = "You are in no team yet"
HTMX_TABLE = {"HX-Request": "true", "HX-Target": "queue-table"}


def test_an_administrator_never_sees_in_no_team(client):
    client.force_login(make_administrator())
    assert NO_TEAM not in text(client.get(QUEUE, {"q": "nothing-matches-this"}))
    assert NO_TEAM not in text(client.get(QUEUE))


def test_an_agent_in_no_team_sees_it_and_in_the_htmx_fragment(client):
    client.force_login(make_agent(email="lone@desk.example"))
    assert NO_TEAM in text(client.get(QUEUE))
    assert NO_TEAM in text(client.get(QUEUE, headers=HTMX_TABLE))


def test_an_agent_with_only_a_grant_is_not_told_they_are_in_no_team(client):
    team = TeamFactory(name="Billing")
    agent = make_agent(email="granted@desk.example")
    assign_perm("accounts.work_team_queue", agent, team)
    client.force_login(agent)
    page = text(client.get(QUEUE))
    assert NO_TEAM not in page and "No tickets match" in page


def test_an_agent_in_no_team_whose_search_finds_nothing_is_told_no_tickets_match(client, desk):
    """An agent in no team yet has a ticket assigned to them (the empty state promises "Tickets assigned to
    you ... show here meanwhile"). They search for "zzz" and nothing matches: the page should say "No
    tickets match" (change the filters), as for every other agent."""
    lone = make_agent(email="lone@desk.example")
    ticket = desk["ticket"]
    assign_perm("tickets.view_ticket", lone, ticket)  # shared with them (a ticket grant)
    services.ticket_assign(fresh(ticket), assignee=lone, actor=desk["supervisor"])
    client.force_login(lone)
    assert ticket.subject in text(client.get(QUEUE))
    page = text(client.get(QUEUE, {"q": "zzzqqq"}))
    assert NO_TEAM not in page, "the empty search says the agent is in no team"
    assert "No tickets match" in page


# --- (10) search cut and the paginator ---------------------------------------------------------------------


def test_search_cut_notice(client, desk):
    client.force_login(desk["agent"])
    sixteen = " ".join(f"w{n}" for n in range(16))
    assert "were searched for" not in text(client.get(QUEUE, {"q": sixteen}))
    assert "were searched for" in text(client.get(QUEUE, {"q": sixteen + " -fire"}))
    assert "were searched for" in text(client.get(QUEUE, {"q": '"a b c d e f g h i"'}))
    assert "were searched for" not in text(client.get(QUEUE, {"q": sixteen + " OR ?? !!"}))
    assert "were searched for" in text(client.get(QUEUE, {"q": "printer " + "x" * 300}))


def shown_total(response) -> int:
    import re

    match = re.search(r"([\d,]+) tickets? · page (\d+)", text(response))
    assert match, text(response)[-3000:]
    return int(match.group(1).replace(",", ""))


def test_the_total_on_every_page_is_never_below_the_rows_seen(client, desk):
    agent = desk["agent"]
    insert_tickets(59, requester=desk["customer"], team=desk["support"])  # 60 with desk's
    client.force_login(agent)
    params = {"scope": "teams"}
    assert shown_total(client.get(QUEUE, params)) == 60
    insert_tickets(40, requester=desk["customer"], team=desk["support"])  # count cached at 60
    for page in (2, 3, 4):
        response = client.get(QUEUE, {**params, "page": page})
        rows = len(response.context["queue"].tickets)
        assert shown_total(response) >= (page - 1) * 25 + rows, page
    assert shown_total(client.get(QUEUE, {**params, "page": 4})) == 100


def test_my_list_total_is_counted_afresh(client, desk):
    agent = desk["agent"]
    ids = insert_tickets(30, requester=desk["customer"], team=desk["support"])
    Ticket.objects.filter(pk__in=ids[:26]).update(assignee=agent)
    client.force_login(agent)
    params = {"assignee": "me"}
    assert shown_total(client.get(QUEUE, params)) == 26
    Ticket.objects.filter(pk__in=ids[26:]).update(assignee=agent)  # handed over by a colleague
    assert shown_total(client.get(QUEUE, params)) == 30
    assert shown_total(client.get(QUEUE, {**params, "page": 2})) == 30
