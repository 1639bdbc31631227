"""Every route has an access decision, and outsiders reach nothing protected through any of them.

Adding a URL without adding it to ROUTES fails test_every_route_has_a_decision: decide who may use
it first. Every route is then requested (GET and POST) as a visitor, as a customer of another
organisation and as an agent of another team: a protected one may not answer 200 or change anything,
a public one may not fail or show anything of Acme's. A GET changes nothing for anyone, insiders
included, and the admin's pages are closed to customers and agents.
"""

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.models import User
from audit.models import AuditEvent
from knowledge.models import Article
from tests.conftest import rows_for_the_module
from tests.factories import (
    OrganizationFactory,
    SavedViewFactory,
    TeamFactory,
    make_administrator,
    make_agent,
    make_article,
    make_customer,
    make_ticket,
)
from tickets import services
from tickets.models import Attachment, SavedView, Ticket, TicketMessage

PUBLIC = "public"  # anyone: pages whose content is public or the visitor's own
TICKET = "ticket"  # the ticket's requester/organisation managers and its team's staff only
AGENT = "agent"  # agents only
ARTICLE = "article"  # published public article: public; the manage pages: agents
SUPERVISOR = "supervisor"  # supervisors (their teams' events only) and administrators

ROUTES = {
    "home": PUBLIC, "healthz": PUBLIC, "readyz": PUBLIC, "favicon": PUBLIC,
    "accounts:login": PUBLIC, "accounts:logout": PUBLIC, "accounts:signup": PUBLIC,
    "accounts:profile": PUBLIC,  # own data only; anonymous visitors are sent to sign in
    "accounts:sessions_sign_out": PUBLIC,  # own sessions only (tests/accounts/test_sessions.py)
    # Own account; the link's account, by a token only its mail holds (test_email_verification.py)
    "accounts:email_verification_send": PUBLIC, "accounts:email_verify": PUBLIC,
    "accounts:email_change_confirm": PUBLIC,  # the same, for a move to a new address (test_email_change.py)
    "accounts:two_factor": PUBLIC,  # own devices only; staff only (tests/accounts/test_two_factor.py)
    "accounts:two_factor_verify": PUBLIC,  # the second step of the visitor's own sign-in
    "admin_login": PUBLIC,  # a redirect to accounts:login
    "accounts:password_reset": PUBLIC, "accounts:password_reset_done": PUBLIC,
    "accounts:password_reset_confirm": PUBLIC, "accounts:password_reset_complete": PUBLIC,
    "tickets:portal_list": PUBLIC,  # lists only what visible_to allows
    "tickets:portal_submit": PUBLIC, "tickets:portal_submit_form": PUBLIC, "tickets:portal_submitted": PUBLIC,
    "tickets:portal_detail": TICKET, "tickets:portal_reply": TICKET, "tickets:portal_status": TICKET,
    "tickets:attachment_download": TICKET,
    "tickets:desk_queue": AGENT, "tickets:desk_bulk": AGENT, "tickets:desk_view_create": AGENT,
    "tickets:desk_view_delete": AGENT, "tickets:desk_ticket": TICKET, "tickets:desk_reply": TICKET,
    "tickets:desk_update": TICKET, "tickets:desk_seen": TICKET,
    "tickets:desk_merge": TICKET,
    "knowledge:home": PUBLIC, "knowledge:search": PUBLIC, "knowledge:suggest": PUBLIC,
    "knowledge:article": PUBLIC, "knowledge:vote": PUBLIC, "knowledge:viewed": PUBLIC,
    "knowledge:category": PUBLIC, "knowledge:other_articles": PUBLIC,
    "knowledge:manage_list": AGENT, "knowledge:manage_new": AGENT, "knowledge:manage_preview": AGENT,
    "knowledge:manage_picker": AGENT, "knowledge:manage_edit": AGENT, "knowledge:manage_action": AGENT,
    "knowledge:manage_restore": AGENT,
    "audit:event_list": SUPERVISOR, "audit:event_export": SUPERVISOR,
}  # fmt: skip


def all_route_names(patterns=None, namespace=None):
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                continue  # the admin has its own permission checks: ADMIN_ROUTES below
            yield from all_route_names(pattern.url_patterns, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern):
            yield f"{namespace}:{pattern.name}" if namespace else pattern.name


def test_every_route_has_a_decision():
    assert set(all_route_names()) == set(ROUTES)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """Made once per module: Acme's ticket in the Support team, with a file and an internal note, an
    internal draft article, and the people who come knocking (ids only; `target` reads them afresh)."""
    media = tmp_path_factory.mktemp("media")
    with rows_for_the_module(django_db_blocker, media):
        support = TeamFactory(name="Support")
        acme_customer = make_customer(OrganizationFactory(name="Acme"))
        agent = make_agent(support)
        ticket = make_ticket(acme_customer, team=support, subject="Acme secret subject",
                             uploads=[SimpleUploadedFile("acme.txt", b"acme secret file")])  # fmt: skip
        services.ticket_add_note(ticket, body="Acme secret note", actor=agent)
        yield {
            "media": str(media),
            "ticket": ticket.pk,
            "view": SavedViewFactory(owner=agent, name="Acme view", query="q=acme").pk,
            "article": make_article(title="Acme internal runbook", visibility="internal", status="draft").pk,
            "attachment": ticket.messages.get(is_internal=False).attachments.get().pk,
            "other_customer": make_customer(OrganizationFactory(name="Globex")).pk,
            "other_agent": make_agent(TeamFactory(name="Billing")).pk,
            "team_agent": make_agent(support).pk,
            "administrator": make_administrator().pk,
        }


@pytest.fixture
def target(world, db, settings):
    """The world's rows as they are in this test's transaction, with people to sign in as."""
    settings.MEDIA_ROOT = world["media"]
    people = User.objects.in_bulk([world[who] for who in PEOPLE])
    return {
        "ticket": Ticket.objects.select_related("requester", "team").get(pk=world["ticket"]),
        "view": SavedView.objects.get(pk=world["view"]),
        "article": Article.objects.get(pk=world["article"]),
        "attachment": Attachment.objects.get(pk=world["attachment"]),
        **{who: people[world[who]] for who in PEOPLE},
    }


PEOPLE = ("other_customer", "other_agent", "team_agent", "administrator")


def url_for(name: str, target) -> str:
    kwargs = {
        "tickets:portal_submit_form": {"slug": "no-such-form"},
        "accounts:password_reset_confirm": {"uidb64": "MQ", "token": "set-password"},
        "accounts:email_verify": {"uidb64": "MQ", "token": "guessed-token"},
        "accounts:email_change_confirm": {"token": "guessed-token"},
        "tickets:attachment_download": {"pk": target["attachment"].pk},
        "tickets:desk_view_delete": {"pk": target["view"].pk},
        "knowledge:article": {"slug": target["article"].slug},
        "knowledge:vote": {"slug": target["article"].slug},
        "knowledge:viewed": {"slug": target["article"].slug},
        "knowledge:category": {"slug": "acme"},
        "knowledge:manage_edit": {"slug": target["article"].slug},
        "knowledge:manage_action": {"slug": target["article"].slug, "action": "publish"},
        "knowledge:manage_restore": {"slug": target["article"].slug, "revision_id": 1},
    }.get(name)
    if kwargs is None and ROUTES[name] == TICKET:
        kwargs = {"number": target["ticket"].number}
    return reverse(name, kwargs=kwargs)


def snapshot(target) -> tuple:
    ticket = Ticket.objects.get(pk=target["ticket"].pk)
    article = Article.objects.get(pk=target["article"].pk)
    return (ticket.status, ticket.priority, ticket.assignee_id, ticket.version, TicketMessage.objects.count(),
            SavedView.objects.count(), article.status, article.views, article.helpful_count,
            AuditEvent.objects.filter(action__startswith="ticket.").count(),
            AuditEvent.objects.filter(action="export").count())  # fmt: skip


OUTSIDERS = ["visitor", "other_customer", "other_agent"]
JUNK_POST = {
    "status": "resolved",
    "body": "x",
    "field": "priority",
    "value": "urgent",
    "action": "assign_me",
    "tickets": [0],  # replaced by the target ticket's id
    "helpful": "yes",
}


def sign_in_as(client, who: str, target) -> None:
    if who != "visitor":
        client.force_login(target[who])


def assert_nothing_of_acme(response) -> None:
    body = response.content.decode(errors="replace")
    assert "Acme secret" not in body and "acme secret file" not in body
    assert "Acme internal runbook" not in body


@pytest.mark.parametrize("who", OUTSIDERS)
@pytest.mark.parametrize("name", sorted(name for name, rule in ROUTES.items() if rule != PUBLIC))
def test_outsiders_reach_nothing_protected(client, target, who, name):
    sign_in_as(client, who, target)
    url = url_for(name, target)
    before = snapshot(target)
    for response in (client.get(url), client.post(url, {**JUNK_POST, "tickets": [target["ticket"].pk]})):
        allowed = {302, 404, 405}
        if ROUTES[name] == AGENT and who == "other_agent":
            allowed |= {200, 422}  # any agent may use these; they must still show nothing of Acme's
        assert response.status_code in allowed, (name, response.status_code)
        assert_nothing_of_acme(response)
    assert snapshot(target) == before


@pytest.mark.parametrize("who", OUTSIDERS)
@pytest.mark.parametrize("name", sorted(name for name, rule in ROUTES.items() if rule == PUBLIC))
def test_public_routes_answer_without_errors_and_leak_nothing(client, target, who, name):
    sign_in_as(client, who, target)
    url = url_for(name, target)
    before = snapshot(target)
    for response in (client.get(url), client.post(url, {**JUNK_POST, "tickets": [target["ticket"].pk]})):
        assert response.status_code < 500, (name, response.status_code)
        assert_nothing_of_acme(response)
    assert snapshot(target) == before


# What a GET may change on purpose, each with the reason: a whole model ("app.Model") or one column
# ("app.Model.field"). Every other row of every model must read the same after any GET.
GET_MAY_CHANGE = {
    "tickets.Attachment.download_count": "downloads are counted on the GET that serves the file",
    "helpdesk.RateLimitCounter": "rate limits count requests, and search and suggest are GETs",
}


def database_state() -> dict:
    """A digest of every row of every model's table, less what GET_MAY_CHANGE allows a GET to change: one
    query (reading the rows into Python, model by model, made these tests the slowest of the suite)."""
    quote = connection.ops.quote_name
    labels, parts = [], []
    for model in apps.get_models():
        label = model._meta.label
        if label in GET_MAY_CHANGE or model._meta.proxy:
            continue
        columns = [quote(field.column) for field in model._meta.concrete_fields
                   if f"{label}.{field.name}" not in GET_MAY_CHANGE]  # fmt: skip
        labels.append(label)
        parts.append(  # names from the models, quoted; no value from outside
            f"SELECT %s, md5(coalesce(string_agg(ROW({', '.join(columns)})::text, '|' "  # noqa: S608
            f"ORDER BY {quote(model._meta.pk.column)}), '')) FROM {quote(model._meta.db_table)}"
        )
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), labels)
        return dict(cursor.fetchall())


def changed_models(before: dict, after: dict) -> list[str]:
    return [label for label in before if before[label] != after[label]]


INSIDERS = ["other_agent", "requester", "team_agent", "administrator"]


def sign_in_as_insider(client, who: str, target) -> None:
    client.force_login(target["ticket"].requester if who == "requester" else target[who])


@pytest.mark.parametrize("who", INSIDERS)
@pytest.mark.parametrize("name", sorted(ROUTES))
def test_no_state_change_on_get(client, target, who, name):
    sign_in_as_insider(client, who, target)
    before = database_state()
    client.get(url_for(name, target))
    assert changed_models(before, database_state()) == [], (who, name)


def test_the_download_counter_is_the_change_a_get_may_make(client, target):
    attachment = target["attachment"]
    client.force_login(target["ticket"].requester)
    response = client.get(url_for("tickets:attachment_download", target))
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"acme secret file"
    attachment.refresh_from_db()
    assert attachment.download_count == 1


def admin_route_names(patterns=None, namespace=None):
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            yield from admin_route_names(pattern.url_patterns, pattern.namespace or namespace)
        elif namespace == "admin" and pattern.name:  # the unnamed ones redirect to named pages
            yield pattern.name, list(pattern.pattern.regex.groupindex)


ADMIN_ROUTES = dict(admin_route_names())


def admin_url_for(name: str, target) -> str:
    """The admin URL `name`, each argument naming a real row where the page takes one."""
    prefixes = {f"{model._meta.app_label}_{model._meta.model_name}_": model for model in admin.site._registry}
    model = next((model for prefix, model in prefixes.items() if name.startswith(prefix)), None)
    row = model._default_manager.order_by("pk").first() if model is not None else None
    values = {
        "object_id": row.pk if row is not None else target["ticket"].pk,
        "object_pk": row.pk if row is not None else 1,
        "id": target["ticket"].requester.pk,
        "user_id": target["ticket"].requester.pk,
        "group_id": Group.objects.order_by("pk").first().pk,
        "content_type_id": ContentType.objects.get_for_model(target["ticket"]).pk,
        "app_label": "tickets",
    }
    return reverse(f"admin:{name}", kwargs={argument: values[argument] for argument in ADMIN_ROUTES[name]})


@pytest.mark.parametrize("who", ["visitor", "customer", "agent"])
@pytest.mark.parametrize("name", sorted(ADMIN_ROUTES))
def test_visitors_customers_and_agents_reach_nothing_in_the_admin(client, target, who, name):
    if who != "visitor":
        client.force_login(target["ticket"].requester if who == "customer" else target["team_agent"])
    url = admin_url_for(name, target)
    sign_in = (reverse("admin:login"), reverse("accounts:login"))
    # The admin's logout sends those without admin access to its index, which is closed in turn.
    also_closed = [reverse("admin:index")] if name == "logout" else []
    before = database_state()
    for response in (client.get(url), client.post(url, {**JUNK_POST, "tickets": [target["ticket"].pk]})):
        assert response.status_code in {302, 403, 404, 405}, (name, response.status_code)
        if response.status_code == 302:
            location = response["Location"]
            assert location.startswith(sign_in) or location in also_closed, (name, location)
        assert_nothing_of_acme(response)
    assert changed_models(before, database_state()) == [], name


@pytest.mark.parametrize("name", sorted(name for name in ROUTES if name not in {"healthz", "readyz"}))
def test_every_post_needs_a_csrf_token(target, name):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(target["ticket"].requester)
    response = client.post(url_for(name, target), {"body": "x", "status": "resolved"})
    assert response.status_code in (403, 405), (name, response.status_code)
