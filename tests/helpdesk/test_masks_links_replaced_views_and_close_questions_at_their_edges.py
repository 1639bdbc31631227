"""Edges of: audit masking of URL passwords and names tried at sign-in,
the portal's "Waiting for your reply" filter, the bulk close question, saved views replaced under their
name, role permission removal, the assignee picker and the knowledge base's links to its own articles."""

# ruff: noqa: F811 (the desk fixture, imported, is a parameter of the tests)
import pytest
from django.contrib.auth.models import Group, Permission
from django.forms import modelform_factory
from django.urls import reverse

from accounts.admin import RoleForm
from audit.models import AuditEvent
from audit.recorder import MASK, mask_secrets
from audit.signals import NOT_AN_ADDRESS, name_tried
from knowledge import services as kb
from knowledge.models import Article
from tests.factories import (
    SavedViewFactory,
    TeamFactory,
    make_administrator,
    make_article,
    make_customer,
    make_ticket,
)
from tests.tickets.conftest import desk, fresh, notes, page_text  # noqa: F401
from tickets import services
from tickets.models import SavedView
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

BULK = reverse("tickets:desk_bulk")
QUEUE = reverse("tickets:desk_queue")
CREATE_VIEW = reverse("tickets:desk_view_create")


def chosen(*tickets) -> list[str]:
    return [f"{ticket.pk}:{ticket.version}" for ticket in tickets]


def settings_event_for(value: str) -> str:
    from helpdesk import services as site_services

    site_services.site_configuration_update(changes={"custom.relay": value}, actor=make_administrator())
    return repr(AuditEvent.objects.filter(action="settings_change").latest("sequence").changes)


# --- Audit: URL passwords ----------------------------------------------------------------------------


def test_url_password_is_masked_when_the_user_name_is_an_email_address():
    """An administrator stores the mail relay's address as a custom setting, the way Office 365 / Gmail
    relays are configured, with the mailbox as user name: smtp://alerts@acme.example:S3cr3t-991@smtp.
    office365.com:587. The new ADDRESS_PASSWORD rule stops the user name at the first "@" ([^\\s:/@]*),
    finds no "user:" before it, and so masks nothing: the password is kept in clear in the trail (and
    its CSV export). Expected: the password part (after the last ':' of the user info, up to the last
    '@' before the host) is masked whatever the user name holds."""
    dumped = settings_event_for("smtp://alerts@acme.example:S3cr3t-991@smtp.office365.com:587")
    assert "S3cr3t-991" not in dumped, dumped
    assert "smtp.office365.com" in dumped


def test_url_password_holding_a_slash_is_masked():
    """A generated password often holds a "/" (base64: AWS secret keys, many password managers). Pasted
    as typed into a connection address, smtp://mailer:Xk/9vQ2+r@mail.example, the rule's [^\\s/]+ stops
    at the "/" and the whole password stays readable in the trail. Expected: masked (the user info ends
    at the last "@" before the host, not at the first "/")."""
    dumped = settings_event_for("smtp://mailer:Xk/9vQ2+r@mail.example")
    assert "9vQ2" not in dumped and "Xk/" not in dumped, dumped


def test_an_address_with_a_port_and_an_email_in_its_query_is_not_mangled():
    """An administrator records a monitoring hook https://status.acme.example:8443?notify=ops@acme.example
    (a port, no path, an e-mail address in the query). The rule reads "status.acme.example:" as a user
    and "8443?notify=ops" as a password: the trail shows https://status.acme.example:••••••@acme.example
    — the port, the query and the address gone, and a reader sent to the wrong host. Expected: a value
    with no user info is kept as it is (the user info cannot hold '?' or '#')."""
    value = "https://status.acme.example:8443?notify=ops@acme.example"
    assert mask_secrets({"hook": value}) == {"hook": value}


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("smtp://mailer:pa?ss@mail.example:587", "smtp://mailer:{}@mail.example:587"),
        ("smtp://mailer:pa#ss@mail.example/box?tls=1", "smtp://mailer:{}@mail.example/box?tls=1"),
        ("smtp://alerts@acme.example:Wq?7#x@smtp.example", "smtp://alerts@acme.example:{}@smtp.example"),
    ],
)
def test_url_password_pasted_with_a_question_mark_or_hash_is_masked(value, masked):
    """A password holding "?" or "#", pasted as typed (a valid address would percent-encode them): the
    user info runs to the "@" before the host, so nothing of the password is left in the trail."""
    assert mask_secrets({"relay": value}) == {"relay": masked.format(MASK)}


def test_url_masking_keeps_ordinary_text_and_masks_each_password():
    text = "Write to ops@acme.example or see https://wiki.acme.example/a@b (mailto:x@y.example)"
    assert mask_secrets({"note": text}) == {"note": text}
    both = mask_secrets({"v": "smtp://a:p1x@h1.example and imap://:p2y@h2.example"})["v"]
    assert "p1x" not in both and "p2y" not in both and both.count(MASK) == 2 and "h2.example" in both
    assert MASK in mask_secrets({"v": "smtp://u:pa@ss@host.example"})["v"]
    assert "pa@ss" not in mask_secrets({"v": "smtp://u:pa@ss@host.example"})["v"]


def test_a_password_with_an_at_sign_typed_into_the_address_box_is_masked(client, settings):
    """A person types their password "Summer@2024!" into the e-mail box by mistake (passwords hold "@"
    often: it is the symbol most sites' rules push people to add). name_tried keeps any text holding an
    "@" as "an address": the failed sign-in is recorded with the password in clear as its object, for
    every administrator and CSV export to read beside the person's next sign-in. Expected: only what
    reads as an e-mail address (local@domain.tld, no spaces) is kept; anything else is masked as
    "(not an e-mail address)", as a password without "@" already is."""
    settings.RATE_LIMITS_ENABLED = False
    client.post(reverse("accounts:login"), {"username": "Summer@2024!", "password": "x"})
    kept = repr(list(AuditEvent.objects.values_list("object_repr", "changes")))
    assert "Summer@2024" not in kept, kept


def test_name_tried_at_sign_in():
    assert name_tried("hunter2") == NOT_AN_ADDRESS
    assert name_tried("ann@acme.example") == "ann@acme.example"
    assert name_tried("ann@acme.example\x00\n") == "ann@acme.example"


# --- Saved views replaced ------------------------------------------------------------------------------


def test_replacing_a_view_deleted_meanwhile_is_no_server_error(client, desk, monkeypatch):
    """An agent saves "Urgent" again and presses "Replace “Urgent” with these filters" while their team
    supervisor deletes that shared view from the team list (saved_view_deletable lets supervisors tidy
    it). saved_view_create reads the agent's views unlocked, then _saved_view_replace locks the row with
    .get(pk=...): the row is gone, SavedView.DoesNotExist escapes and the agent gets the 500 page.
    Expected: the view is saved anew under the name (or the page says the view was deleted), never a
    500. (The race is simulated by deleting the row just before the lock is taken.)"""
    SavedViewFactory(owner=desk["agent"], name="Urgent", query="status=open", team=desk["support"])
    original = services._saved_view_replace

    def deleted_first(view, **kwargs):
        SavedView.objects.filter(pk=view.pk).delete()  # the supervisor's delete, committed just now
        return original(view, **kwargs)

    monkeypatch.setattr(services, "_saved_view_replace", deleted_first)
    client.raise_request_exception = False
    client.force_login(desk["agent"])
    data = {"name": "Urgent", "query": "status=open&priority=high", "team": "", "replace": "1"}
    response = client.post(CREATE_VIEW, data)
    assert response.status_code != 500


def test_replace_updates_sharing_and_refuses_a_team_not_worked(client, desk):
    view = SavedViewFactory(owner=desk["agent"], name="Urgent", query="status=open", team=desk["support"])
    client.force_login(desk["agent"])
    data = {"name": "urgent", "query": "priority=high", "team": "", "replace": "1"}
    assert client.post(CREATE_VIEW, data).status_code == 302
    view.refresh_from_db()
    assert (view.query, view.team_id, view.name) == ("priority=high", None, "Urgent")
    refused = client.post(CREATE_VIEW, data | {"team": desk["billing"].pk})
    assert refused.status_code == 422
    view.refresh_from_db()
    assert view.team_id is None and SavedView.objects.filter(owner=desk["agent"]).count() == 1


# --- Bulk close question -------------------------------------------------------------------------------


def test_bulk_close_question_sets_stale_tickets_apart(client, desk):
    ticket = desk["ticket"]
    other = make_ticket(desk["customer"], team=desk["support"], subject="Stale one")
    seen = fresh(other)
    services.ticket_update_fields(other, changes={"priority": "high"}, actor=desk["colleague"])
    client.force_login(desk["agent"])
    data = {"tickets": chosen(ticket, seen), "action": "status:closed", "back": QUEUE}
    page = page_text(client.post(BULK, data))
    assert "Close 1 ticket for good?" in page and "changed since your queue showed it" in page
    confirmed = client.post(BULK, data | {"confirm": "close"})
    assert fresh(ticket).status == Status.CLOSED and fresh(other).status != Status.CLOSED
    assert any(other.reference in said for said in notes(confirmed))
    # Only stale ones: no question, each refused as stale.
    third = make_ticket(desk["customer"], team=desk["support"], subject="Third")
    old = fresh(third)
    services.ticket_update_fields(third, changes={"priority": "low"}, actor=desk["colleague"])
    response = client.post(BULK, {"tickets": chosen(old), "action": "status:closed", "back": QUEUE})
    assert response.status_code == 302 and fresh(third).status != Status.CLOSED


# --- Portal "Waiting for your reply" ---------------------------------------------------------------------


def test_portal_waiting_filter_lists_pending_only(client, desk):
    customer, agent = desk["customer"], desk["agent"]
    pending = make_ticket(customer, team=desk["support"], subject="Needs your answer 5512")
    services.ticket_transition(pending, status=Status.PENDING, actor=agent)
    make_ticket(customer, team=desk["support"], subject="Still open 5513")
    client.force_login(customer)
    page = page_text(client.get(reverse("tickets:portal_list") + "?status=waiting&q=55"))
    assert "Needs your answer 5512" in page and "Still open 5513" not in page
    empty = page_text(client.get(reverse("tickets:portal_list") + "?status=waiting&q=nomatch"))
    assert "Nothing matches" in empty


# --- Roles and the assignee picker -----------------------------------------------------------------------


def role_form(role, permissions, actor):
    form = modelform_factory(Group, form=RoleForm, fields=["name", "permissions"])(
        data={"name": role.name, "permissions": [p.pk for p in permissions]}, instance=role
    )
    form.actor = actor
    return form


def test_role_permissions_removed_by_superuser_and_administrator():
    from accounts.models import User

    tags = Permission.objects.get(content_type__app_label="tickets", codename="view_ticket")
    queue = Permission.objects.get(content_type__app_label="accounts", codename="view_support_queue")
    role = Group.objects.create(name="Tier 2")
    role.permissions.add(tags, queue)
    root = User.objects.create_superuser(email="root@acme.example", password="x-Very-long-1")
    assert role_form(role, [queue], root).is_valid()
    assert role_form(role, [queue], make_administrator()).is_valid()


def test_assignee_picker_offers_agents_not_customers(client, desk):
    admin = make_administrator()
    client.force_login(admin)
    url = reverse("admin:autocomplete")
    params = {"app_label": "tickets", "model_name": "ticket", "field_name": "assignee", "term": "a"}
    found = client.get(url, params).json()
    names = " ".join(result["text"] for result in found["results"])
    assert "Alex Agent" in names and "Sam Supervisor" in names and "Carla Customer" not in names


# --- Knowledge: links to our articles --------------------------------------------------------------------


def test_links_to_our_articles_are_found_in_their_forms(settings):
    settings.SITE_URL = "https://help.acme.example"
    target = make_article("Toner", "Swap it.")
    slug = target.slug
    for body in (
        f"[t](/kb/articles/{slug})",
        f'<a href="/kb/articles/{slug}/">t</a>',
        f"See HTTPS://HELP.ACME.EXAMPLE/kb/articles/{slug}?x=1#top",
        f"//help.acme.example:443/kb/articles/{slug}",
        f"http://[::1]:8000/kb/manage/{slug}",
        f"http://localhost:8000/kb/articles/{slug}",
    ):
        assert list(kb._linked_articles(body)) == [target], body
    for body in (f"https://other.example/kb/articles/{slug}", f"https://other.example/en/kb/articles/{slug}"):
        assert not kb._linked_articles(body).exists(), body


def test_public_article_linked_from_a_public_one_is_not_made_internal():
    target = make_article("Toner", "Swap it.")
    kb.article_update(target, actor=None, slug="toner-swap")  # the old address still leads here
    make_article("Printers", "See [toner](/kb/articles/toner) first.")
    target = Article.objects.get(pk=target.pk)
    with pytest.raises(Exception) as refused:
        kb.article_update(target, actor=None, visibility="internal")
    assert "Printers" in str(refused.value)
    assert Article.objects.get(pk=target.pk).visibility == "public"


def test_customers_own_org_scope_waiting(client):
    manager = make_customer(manager=True, name="Mona Manager")
    colleague = make_customer(manager.organization, name="Colin Colleague")
    agent_team = TeamFactory(name="Desk")
    ticket = make_ticket(colleague, team=agent_team, subject="Colleague waits 7781")
    services.ticket_transition(ticket, status=Status.PENDING, actor=None)
    client.force_login(manager)
    page = page_text(client.get(reverse("tickets:portal_list") + "?status=waiting&scope=organization"))
    assert "Colleague waits 7781" in page
