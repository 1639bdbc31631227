"""Changes made outside the pages are in the trail too, with before and after: Django's account commands,
kb_import's categories, a repeated verification, a review note taken off, an excerpt that follows the
body, a replaced authenticator app, team memberships edited in the admin (shown to the team's
supervisors), and axes' own IP reset for an IPv6 client."""

import getpass
import json

import pytest
from axes.models import AccessAttempt
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.urls import reverse
from django_otp.oath import TOTP

from accounts import two_factor
from accounts.models import TeamMember, User
from audit.models import AuditEvent
from knowledge import services as knowledge_services
from knowledge.models import Category
from tests.factories import (
    TEST_PASSWORD,
    TeamFactory,
    make_administrator,
    make_agent,
    make_article,
    make_supervisor,
)

pytestmark = pytest.mark.django_db


def _events_about(obj):
    return AuditEvent.objects.filter(
        object_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
    ).order_by("sequence")


# --- management commands that change accounts without an audit event -------------------------------


def test_createsuperuser_command_records_the_new_administrator(monkeypatch):
    """`manage.py createsuperuser` makes an account with every permission (rbac treats is_superuser as
    an administrator) and leaves no trace in the trail."""
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "A-long-unusual-passphrase-42")
    call_command("createsuperuser", interactive=False, email="root@example.org", name="Root", verbosity=0)
    user = User.objects.get(email="root@example.org")
    assert user.is_superuser
    assert _events_about(user).exists(), "no audit event for an administrator created from the command line"


def test_changepassword_command_records_the_password_change(monkeypatch):
    """`manage.py changepassword` sets a password past accounts.services: no password_change event (and
    the account's other sessions stay signed in), unlike the profile, reset and admin password forms."""
    agent = make_agent(email="pat@example.org")
    monkeypatch.setattr(getpass, "getpass", lambda prompt="Password: ", stream=None: "A-new-passphrase-77")
    call_command("changepassword", "pat@example.org", verbosity=0)
    agent.refresh_from_db()
    assert agent.check_password("A-new-passphrase-77")
    assert _events_about(agent).filter(action="password_change").exists()


# --- knowledge base ---------------------------------------------------------------------------------


def test_kb_import_records_the_categories_it_creates(tmp_path):
    """kb_import creates a category a record names (knowledge.importing._category_by_slug saves it
    directly); the same category added in the admin is a "create" event, from the command it is none."""
    source = tmp_path / "articles.jsonl"
    record = {"slug": "reset-password", "title": "Reset your password", "body": "Open the sign-in page.",
              "category": "Accounts", "category_slug": "accounts"}  # fmt: skip
    source.write_text(json.dumps(record) + "\n", encoding="utf-8")
    call_command("kb_import", str(source), verbosity=0)
    category = Category.objects.get(slug="accounts")
    assert _events_about(category).filter(action="create").exists()


def test_verifying_again_records_the_verification_it_replaces():
    """article_verify overwrites verified_by/verified_at and records a bare "verify" event: neither the
    verification it replaces nor the new one is in the trail (no before/after)."""
    first, second = make_administrator(name="First Verifier"), make_administrator(name="Second Verifier")
    article = make_article()
    knowledge_services.article_verify(article, actor=first)
    earlier = article.__class__.objects.get(pk=article.pk).verified_at
    knowledge_services.article_verify(article, actor=second)
    event = _events_about(article).filter(action="verify").last()
    assert event.changes["verified_at"][0][:23] == earlier.isoformat()[:23]  # stored to the millisecond
    assert event.changes["verified_by"] == ["First Verifier", "Second Verifier"]


def test_a_review_note_taken_off_the_article_is_recorded():
    """_set_status clears Article.review_note (the note the author reads) when the article moves on, but
    its event names only the status: the note disappears with no before value in the trail."""
    editor = make_administrator()
    article = make_article(status="draft")
    article = knowledge_services.article_submit_for_review(article, actor=editor)
    article = knowledge_services.article_return_to_draft(article, actor=editor, note="Add a screenshot")
    assert article.review_note == "Add a screenshot"
    article = knowledge_services.article_submit_for_review(article, actor=editor)
    article.refresh_from_db()
    assert article.review_note == ""
    event = _events_about(article).last()
    recorded = event.changes.get("review_note", event.changes.get("note"))
    assert recorded == ["Add a screenshot", ""], event.changes


def test_an_excerpt_that_follows_the_body_is_recorded_when_it_changes():
    """article_update rewrites an excerpt taken from the body when the body changes (the public summary
    shown in lists and search), but `changed` only covers the names passed in: the new excerpt is saved
    with no before/after in the trail."""
    article = make_article(body="Open the sign-in page.")
    assert article.excerpt == "Open the sign-in page."
    knowledge_services.article_update(article, body="Use the link in the reset mail.", actor=None)
    article.refresh_from_db()
    assert article.excerpt == "Use the link in the reset mail."
    event = _events_about(article).filter(action="update").last()
    assert event.changes.get("excerpt") == ["Open the sign-in page.", "Use the link in the reset mail."], (
        event.changes
    )


# --- two-factor sign-in ------------------------------------------------------------------------------


def _enrol(user):
    device = two_factor.two_factor_start(user, actor=user, token="")
    _, codes = two_factor.two_factor_enable(
        user,
        device_id=device.pk,
        token=f"{TOTP(device.bin_key).token():06d}",
        password=TEST_PASSWORD,
        actor=user,
    )
    return codes


def test_replacing_the_authenticator_app_records_two_factor_as_on_before():
    """two_factor_enable records {"two_factor": [False, True]} whatever it was: replacing an app in use
    (profile → "replace") says two-factor was off before, which it never was."""
    agent = make_agent()
    codes = _enrol(agent)
    # "replace", with a recovery code
    device = two_factor.two_factor_start(agent, actor=agent, token=codes[0])
    two_factor.two_factor_enable(
        agent,
        device_id=device.pk,
        token=f"{TOTP(device.bin_key).token():06d}",
        password=TEST_PASSWORD,
        actor=agent,
    )
    replaced = _events_about(agent).filter(action="two_factor_enable").last()
    assert replaced.changes["two_factor"][0] is True, replaced.changes


# --- the viewer: who sees what ------------------------------------------------------------------------


def test_a_supervisor_sees_members_added_to_their_team_in_the_admin(client):
    """Team membership edited in the admin (TeamMember admin or the team's inline) is recorded on the
    TeamMember row; AuditEvent.visible_to gives supervisors events about their tickets, their teams and
    their members' User rows, so who was added to or removed from their own team never shows."""
    team = TeamFactory(name="Support")
    supervisor = make_supervisor(team)
    newcomer = make_agent(name="New Agent")
    client.force_login(make_administrator(is_superuser=True))
    response = client.post(
        reverse("admin:accounts_teammember_add"),
        {"user": newcomer.pk, "team": team.pk, "role": TeamMember.Role.AGENT, "is_available": "on",
         "joined_at_0": "2026-01-05", "joined_at_1": "09:00:00"},
    )  # fmt: skip
    assert response.status_code == 302, response.context["adminform"].form.errors
    added = _events_about(team).last()
    assert added.changes["member"] == [None, "New Agent (Agent)"]
    assert AuditEvent.objects.visible_to(supervisor).filter(pk=added.pk).exists()
    membership = TeamMember.objects.get(user=newcomer, team=team)
    client.post(reverse("admin:accounts_teammember_delete", args=[membership.pk]), {"post": "yes"})
    removed = _events_about(team).last()
    assert removed.changes == {"member": ["New Agent (Agent)", None]}
    assert AuditEvent.objects.visible_to(supervisor).filter(pk=removed.pk).exists()


# --- sign-in lockouts by IPv6 /64 ---------------------------------------------------------------------


def test_axes_reset_ip_lifts_an_ipv6_lockout_given_the_clients_address():
    """Lockouts count an IPv6 client under its /64 (helpdesk.client_ip.address_key); the users admin's
    IP unlock maps an address to it, but `manage.py axes_reset_ip 2001:db8:1:2::5` (README: "axes_reset
    … audited") removes nothing and records nothing, so the lockout stays."""
    AccessAttempt.objects.create(
        username="someone@example.org", ip_address="2001:db8:1:2::", user_agent="", get_data="",
        post_data="", http_accept="", path_info="/accounts/login/", failures_since_start=25,
    )  # fmt: skip
    call_command("axes_reset_ip", "2001:db8:1:2::5", verbosity=0)
    assert not AccessAttempt.objects.exists()
    assert AuditEvent.objects.filter(action="lockout_reset").exists()
