"""Every write service records an audit event. WRITERS decides, for each public function of the
service modules, which action it must record (or why it records none); a function added without a
decision fails test_every_service_function_has_a_decision."""

import inspect
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.utils import timezone

from accounts import roles, two_factor
from accounts import services as account_services
from accounts.models import EmailChangeRequest, User
from accounts.tokens import account_state, email_verification_token
from audit.models import AuditEvent
from helpdesk import services as helpdesk_services
from knowledge import services as knowledge_services
from tests.conftest import made_once_per_module
from tests.factories import (
    TEST_PASSWORD,
    CategoryFactory,
    InvitationFactory,
    SavedViewFactory,
    TeamFactory,
    make_administrator,
    make_agent,
    make_article,
    make_customer,
    make_ticket,
)
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db

MODULES = (account_services, ticket_services, knowledge_services, helpdesk_services, two_factor)

# Functions that change nothing worth an audit event, with the reason.
NOT_AUDITED = {
    "invitation_check": "a check; the sign-up that redeems the invitation is audited",
    "invitation_problem": "a check (read) before sign-up; the sign-up that redeems the invitation is audited",
    "invitation_mailable": "a check; invitation_mail, which mails the invitation, is audited",
    "organization_for_address": "a look-up; the account it places is audited",
    "email_link_state": "a check; the confirmation it allows is audited (user_email_confirm)",
    "email_change_link_state": "a check; the move it allows is audited (user_email_change)",
    "email_change_for_link": "a look-up of the request a link names",
    "email_change_holds": "a check; the move it allows is audited (user_email_change)",
    "email_change_pending": "a look-up of the move the profile shows under way",
    "require_password": "a check; refuses, changes nothing",
    "security_notice_after_commit": "mails after the commit of an audited change (password, 2FA)",
    "unique_slug": "computes a slug",
    "send_submission_receipt": "sends mail after commit; the ticket creation is audited",
    "ticket_mark_seen": "a read marker for the assignee, not a change to the ticket",
    "article_vote": "feedback votes are their own record (one row per voter), not an administrative change",
    "articles_count_uses": "a usage counter bumped inside the audited ticket_reply",
    "article_count_votes": "derived counters recounted from the votes, which are their own record",
    "articles_check_public_links": "a check inside ticket_reply; refuses, changes nothing",
    "require_not_closed": "a check (closed is final); refuses, changes nothing",
    "check_version": "a check (a page older than the ticket); refuses, changes nothing",
    "ticket_merge_check": "a check before the desk asks to confirm; ticket_merge is audited",
    "ticket_close_check": "a check before the desk asks to confirm; ticket_transition is audited",
    "saved_view_deletable": "a check; saved_view_delete is audited",
    "article_may_delete": "a check; article_delete is audited",
    "article_delete_refusal": "a check; article_delete is audited",
    "visitor_submission": "a look-up of the ticket a submission key made; it changes nothing",
    "same_submission": "a comparison with the submission a ticket was made from; it changes nothing",
    "internal_article_links": "read", "clean_tags": "pure", "staff_permissions": "read",
    "excerpt_is_automatic": "pure", "article_html": "pure", "body_length_problem": "pure",
    "article_actions": "read", "written_excerpt": "pure", "shows_on_its_page": "pure",
    "session_voter": "pure", "clean_tag_names": "pure", "tag_names": "pure", "tags_problem": "pure",
    "is_enabled": "read", "is_required": "read", "pending_enrolment": "read", "normalise": "pure",
    "recovery_code_digest": "pure",
    "two_factor_start": "an unconfirmed secret grants nothing; two_factor_enable is audited",
    "two_factor_cancel": "removes an unconfirmed secret, which granted nothing",
    "verify": "records two_factor_failed and recovery_code_used; a success is the audited login",
}  # fmt: skip


def make_world():
    team = TeamFactory()
    admin = make_administrator()
    agent = make_agent(team)
    customer = make_customer()
    ticket = make_ticket(customer, team=team)
    article = make_article(status="draft")
    return {"team": team, "admin": admin, "agent": agent, "customer": customer, "ticket": ticket,
            "article": article}  # fmt: skip


_world_rows, world = made_once_per_module(make_world, "world")


def _enrolled(world, *, codes: list[str] | None = None):
    """The agent with two-factor on; `codes` receives the recovery codes, shown only at enrolment."""
    agent = world["agent"]
    device = two_factor.two_factor_start(agent, actor=agent)
    from django_otp.oath import TOTP

    _, shown = two_factor.two_factor_enable(
        agent,
        device_id=device.pk,
        token=f"{TOTP(device.bin_key).token():06d}",
        password=TEST_PASSWORD,
        actor=agent,
    )
    if codes is not None:
        codes.extend(shown)
    return agent


def _regenerate_codes(world):
    codes: list[str] = []
    agent = _enrolled(world, codes=codes)
    return two_factor.recovery_codes_regenerate(agent, actor=agent, token=codes[0])


def _suspended_until_yesterday(world):
    customer = world["customer"]
    account_services.user_suspend(customer, until=timezone.now() + timedelta(hours=1), reason="x", actor=None)
    User.objects.filter(pk=customer.pk).update(suspended_until=timezone.now() - timedelta(days=1))  # ended
    return account_services.suspensions_lift_expired()


def _locked_out(world):
    customer = world["customer"]
    AccessAttempt.objects.create(
        username=customer.email, ip_address="203.0.113.5", user_agent="", get_data="", post_data="",
        http_accept="", path_info="/accounts/login/", failures_since_start=5,
    )  # fmt: skip
    return account_services.user_unlock(customer, actor=world["admin"])


def _address_locked_out(world):
    AccessAttempt.objects.create(
        username="someone@example.org", ip_address="203.0.113.5", user_agent="", get_data="", post_data="",
        http_accept="", path_info="/accounts/login/", failures_since_start=5,
    )  # fmt: skip
    return account_services.ip_unlock("203.0.113.5", actor=world["admin"])


def _resolved_long_ago(world):
    ticket = world["ticket"]
    ticket_services.ticket_transition(ticket, status="resolved", actor=world["agent"])
    return ticket_services.tickets_close_resolved(now=timezone.now() + timedelta(days=365))


# name → (action it records, how to call it)
WRITERS = {
    "user_signup": ("create", lambda w: account_services.user_signup(
        email="new@example.org", name="New", password="a-long-enough-passphrase", open_signup=True,
        actor=None)),
    "role_assign": ("role_change", lambda w: account_services.role_assign(
        w["customer"], roles.AGENT, actor=w["admin"])),
    "role_revoke": ("role_change", lambda w: account_services.role_revoke(
        w["agent"], roles.AGENT, actor=w["admin"])),
    "user_suspend": ("suspend", lambda w: account_services.user_suspend(
        w["customer"], until=None, reason="x", actor=w["admin"])),
    "user_activate": ("activate", lambda w: account_services.user_activate(
        account_services.user_suspend(w["customer"], until=None, reason="x", actor=w["admin"]),
        actor=w["admin"])),
    "user_set_pending": ("update", lambda w: account_services.user_set_pending(
        w["customer"], actor=w["admin"])),
    "suspensions_lift_expired": ("activate", _suspended_until_yesterday),
    "user_email_verify": ("email_verified", lambda w: account_services.user_email_verify(
        w["customer"], actor=w["customer"])),
    "user_email_confirm": ("email_verified", lambda w: account_services.user_email_confirm(
        w["customer"], email_verification_token.make_token(w["customer"]), actor=w["customer"])),
    "invitation_mail": ("invitation_mail", lambda w: account_services.invitation_mail(
        InvitationFactory(organization=w["customer"].organization, email="invited@example.org"),
        actor=w["admin"], domain="testserver", use_https=False)),
    "user_email_change_request": ("email_change_request", lambda w: (
        account_services.user_email_change_request)(w["customer"], new_email="moved@example.org",
        password=TEST_PASSWORD, actor=w["customer"], domain="testserver", use_https=False)),
    "user_email_change": ("email_change", lambda w: account_services.user_email_change(
        EmailChangeRequest.objects.create(user=w["customer"], new_email="moved@example.org",
                                          account_state=account_state(w["customer"])),
        actor=w["customer"], keep_session_key=None)),
    "user_password_reset": ("password_change", lambda w: account_services.user_password_reset(
        w["customer"], actor=w["customer"])),
    "user_unlock": ("unlock", _locked_out),
    "ip_unlock": ("unlock", _address_locked_out),
    "profile_update": ("update", lambda w: account_services.profile_update(
        w["customer"], name="Renamed", timezone_name="UTC", actor=w["customer"])),
    "user_password_change": ("password_change", lambda w: account_services.user_password_change(
        w["customer"], password="another-passphrase-9", actor=w["customer"], keep_session_key=None)),
    "user_password_changed": ("password_change", lambda w: account_services.user_password_changed(
        w["customer"], actor=w["admin"], keep_session_key=None)),
    "user_sign_out_sessions": ("sign_out", None),  # needs real sessions: tests/accounts/test_sessions.py
    "ticket_create": ("ticket.created", lambda w: make_ticket(w["customer"])),
    "ticket_reply": ("ticket.reply", lambda w: ticket_services.ticket_reply(
        w["ticket"], body="Hello", actor=w["agent"])),
    "ticket_add_note": ("ticket.note", lambda w: ticket_services.ticket_add_note(
        w["ticket"], body="Note", actor=w["agent"])),
    "ticket_transition": ("ticket.status", lambda w: ticket_services.ticket_transition(
        w["ticket"], status="open", actor=w["agent"])),
    "ticket_assign": ("ticket.assignee", lambda w: ticket_services.ticket_assign(
        w["ticket"], assignee=w["agent"], actor=w["agent"])),
    "ticket_merge": ("ticket.merge", lambda w: ticket_services.ticket_merge(
        make_ticket(w["customer"], team=w["team"]), into=w["ticket"], actor=w["admin"])),
    "ticket_update_fields": ("ticket.priority", lambda w: ticket_services.ticket_update_fields(
        w["ticket"], changes={"priority": "high"}, actor=w["agent"])),
    "ticket_set_tags": ("ticket.tags", lambda w: ticket_services.ticket_set_tags(
        w["ticket"], names=["vip"], actor=w["agent"])),
    "tickets_close_resolved": ("ticket.status", _resolved_long_ago),
    "ticket_delete": ("ticket.deleted", lambda w: ticket_services.ticket_delete(
        w["ticket"], actor=w["admin"])),
    "ticket_restore": ("ticket.restored", lambda w: ticket_services.ticket_restore(
        ticket_services.ticket_delete(w["ticket"], actor=w["admin"]), actor=w["admin"])),
    "tickets_bulk_apply": ("ticket.priority", lambda w: ticket_services.tickets_bulk_apply(
        [w["ticket"]], action="priority", value="urgent", actor=w["agent"])),
    "anonymous_requester": ("create", lambda w: (
        helpdesk_services.site_configuration_update(changes={"anonymous_submission": True}, actor=None),
        ticket_services.anonymous_requester(email="visitor@example.org", name="Visitor"))),
    "ticket_submit_anonymous": ("create", lambda w: (
        helpdesk_services.site_configuration_update(changes={"anonymous_submission": True}, actor=None),
        ticket_services.ticket_submit_anonymous(email="new@example.org", name="New", subject="Hi",
                                                description="Help"))),
    "saved_view_create": ("create", lambda w: ticket_services.saved_view_create(
        name="Mine", query="status=open", team=None, actor=w["agent"])),
    "saved_view_delete": ("delete", lambda w: ticket_services.saved_view_delete(
        SavedViewFactory(owner=w["agent"], name="Old", query=""), actor=w["agent"])),
    "article_create": ("create", lambda w: make_article(title="Fresh article")),
    "category_create": ("create", lambda w: knowledge_services.category_create(
        name="Billing", slug="billing", actor=w["admin"])),
    "category_update": ("update", lambda w: knowledge_services.category_update(
        CategoryFactory(name="Billing", slug="billing"), description="Invoices", actor=w["admin"])),
    "article_update": ("update", lambda w: knowledge_services.article_update(
        w["article"], title="Retitled", actor=w["admin"])),
    "article_submit_for_review": ("update", lambda w: knowledge_services.article_submit_for_review(
        w["article"], actor=w["admin"])),
    "article_publish": ("update", lambda w: knowledge_services.article_publish(
        w["article"], actor=w["admin"])),
    "article_archive": ("update", lambda w: knowledge_services.article_archive(
        w["article"], actor=w["admin"])),
    "article_delete": ("delete", lambda w: knowledge_services.article_delete(w["article"], actor=w["admin"])),
    "article_restore_revision": ("update", lambda w: knowledge_services.article_restore_revision(
        *_published_twice(w), actor=w["admin"])),
    "article_return_to_draft": ("update", lambda w: knowledge_services.article_return_to_draft(
        knowledge_services.article_submit_for_review(w["article"], actor=w["admin"]), actor=w["admin"],
        note="Add a screenshot")),
    "article_verify": ("verify", lambda w: knowledge_services.article_verify(
        make_article(title="Checked"), actor=w["admin"])),
    "site_configuration_update": ("settings_change", lambda w: helpdesk_services.site_configuration_update(
        changes={"open_signup": True}, actor=w["admin"])),
    "two_factor_enable": ("two_factor_enable", _enrolled),
    "recovery_codes_regenerate": ("recovery_codes_regenerate", _regenerate_codes),
    "two_factor_disable": ("two_factor_disable", lambda w: two_factor.two_factor_disable(
        _enrolled(w), actor=w["admin"], site_requires=True)),
}  # fmt: skip


def _published_twice(world):
    article = knowledge_services.article_publish(world["article"], actor=world["admin"])
    knowledge_services.article_update(article, title="Second title", actor=world["admin"])
    return article, article.revisions.order_by("pk").first()


def public_functions():
    for module in MODULES:
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ == module.__name__ and not name.startswith("_"):
                yield name


def test_every_service_function_has_a_decision():
    assert set(public_functions()) == set(WRITERS) | set(NOT_AUDITED)


@pytest.mark.parametrize("name", sorted(name for name, (_, call) in WRITERS.items() if call is not None))
def test_service_records_an_audit_event(world, name):
    action, call = WRITERS[name]
    before = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first() or 0
    call(world)
    recorded = set(AuditEvent.objects.filter(sequence__gt=before).values_list("action", flat=True))
    assert action in recorded, (name, recorded)
