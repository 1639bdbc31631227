"""What customers, agents and administrators read: one spelling of a word ("organisation", "Solved"),
counts in words ("1 other session"), and no internal names (field names, seed codes) on screen."""

import re
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from audit.models import AuditEvent
from tests.admin_pages import change_url, changelist_url
from tests.factories import (
    TEST_PASSWORD,
    OrganizationFactory,
    TeamFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_ticket,
)
from tickets.workflow import Status

pytestmark = pytest.mark.django_db


def visible(response) -> str:
    """The page's text as read on screen: no tags, scripts, hidden admin rows or option lists."""
    html = response.content.decode()
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    html = re.sub(r'<div class="form-row[^"]* hidden[^"]*">.*?</div>', " ", html, flags=re.S)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def signed_in(user) -> Client:
    client = Client()
    response = client.post(reverse("accounts:login"), {"username": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 302
    return client


def test_admin_user_pages_spell_organisation_one_way(superuser_client):
    """The product writes British English: the user page's fieldset is "Organisation", its tick box
     "Organisation manager", the help texts "organisation". An administrator expects the field between
     them to be spelled the same; it reads "Organization:" (and the user list's column "Organization"
     sits beside "Organisation manager"), since the model and its foreign keys carry no verbose_name
    ."""
    user = make_customer(OrganizationFactory(name="Acme"))
    change = visible(superuser_client.get(change_url(user)))
    listing = visible(superuser_client.get(changelist_url(User)))
    assert "Organisation manager" in change and "Organisation manager" in listing
    assert "Organization" not in change
    assert "Organization" not in listing


def test_admin_index_and_ticket_admin_spell_organisation_one_way(superuser_client):
    """The admin's sidebar and index list "Organizations", the ticket page shows "Organization: Acme" and
    the ticket list filters "By organization", while the organisation's own help texts say
    "organisation". Expected: one spelling, "Organisation(s)", everywhere an administrator reads it."""
    ticket = make_ticket(make_customer(OrganizationFactory(name="Acme")), team=TeamFactory(name="Support"))
    for url in (reverse("admin:index"), change_url(ticket), changelist_url(type(ticket))):
        assert "Organization" not in visible(superuser_client.get(url)), url


def test_audit_trail_names_organisations_the_british_way():
    """Administrators filter /audit/ by "Object type"; the menu offers "Organization" and an event about
    an organisation shows "organization 3" under its name, the content type's name taken from the
    model's default verbose_name. Expected: "Organisation", as the rest of the product writes it."""
    admin = make_administrator()
    organization = OrganizationFactory(name="Acme")
    from audit import recorder

    recorder.record("update", actor=admin, obj=organization, changes={"name": ["Acme Ltd", "Acme"]})
    page = signed_in(admin).get(reverse("audit:event_list")).content.decode()
    assert ">Organisation</option>" in page
    assert ">Organization</option>" not in page


def test_audit_admin_columns_are_named_for_people_not_by_field_name(superuser_client):
    """The admin's list of audit events heads its columns "Actor repr", "Object repr" and "Ip": Python
    field names. The
    audit trail page itself says "Actor", "Object" and "IP"; the admin should read the same."""
    AuditEvent.objects.count()  # the superuser's sign-in is an event: the list is not empty
    text = visible(superuser_client.get(changelist_url(AuditEvent)))
    assert "Actor repr" not in text
    assert "Object repr" not in text
    assert " Ip " not in text


def test_signing_out_one_other_session_is_said_without_a_plural_marker():
    """A customer signed in on a laptop and a phone presses "Sign out all other sessions": the message
    reads "Signed out 1 other session(s).". Expected "Signed out 1 other
    session." (helpdesk.display.shown_count, as the desk's messages already do)."""
    user = make_customer()
    laptop, _phone = signed_in(user), signed_in(user)
    response = laptop.post(reverse("accounts:sessions_sign_out"), follow=True)
    said = [str(message) for message in response.context["messages"]]
    assert said == ["Signed out 1 other session."]


def test_permission_names_shown_to_administrators_carry_no_internal_seed_codes(superuser_client):
    """On a role's page (admin → Groups) and a user's page, the permissions read "Can open the agent
    desk (seed VIEW_SUPPORT_QUEUE)", "Can manage team members (seed MANAGE_SUPPORT_AGENTS)", "Can change
    site settings (seed MANAGE_BOT_SETTINGS)": names from the design's seed schemas,
    meaningless to an administrator (a "bot"?). The README
    names them "Can open the agent desk" and so on."""
    text = visible(superuser_client.get(change_url(make_customer())))
    assert "Can open the agent desk" in text
    assert "(seed " not in text


def test_a_customer_reads_one_word_for_a_solved_ticket():
    """A customer presses "Mark as solved"; the message says "T-… is marked as solved", the list's status
    filter offers "Solved", yet the ticket's status reads "Resolved" on its page and in the list.
    Expected: "Solved" throughout the portal (the desk keeps Resolved)."""
    customer = make_customer()
    ticket = make_ticket(customer, team=TeamFactory(name="Support"))
    client = signed_in(customer)
    client.post(reverse("tickets:portal_status", args=[ticket.number]), {"status": Status.RESOLVED})
    page = visible(client.get(reverse("tickets:portal_detail", args=[ticket.number])))
    assert "Mark as solved" not in page  # it was marked
    listing = visible(client.get(reverse("tickets:portal_list") + "?status=solved"))
    assert ticket.reference in listing
    assert "Resolved" not in page
    assert "Resolved" not in listing


def test_desk_bulk_messages_count_tickets_in_words(client):
    """ "Updated 1 ticket", not "1 tickets": the desk's bulk messages use shown_count."""
    team = TeamFactory(name="Support")
    agent = make_agent(team)
    ticket = make_ticket(make_customer(), team=team)
    client.force_login(agent)
    response = client.post(
        reverse("tickets:desk_bulk"),
        {"tickets": [f"{ticket.pk}:{ticket.version}"], "action": "priority", "value": "high"},
        follow=True,
    )
    said = " ".join(str(message) for message in response.context["messages"])
    assert "Updated 1 ticket:" in said and "1 tickets" not in said


def test_customer_pages_write_organisation_and_sign_in(client):
    """The portal and the profile write "organisation", "sign in"/"sign out", and "e-mail"."""
    customer = make_customer(OrganizationFactory(name="Acme"), manager=True)
    client.force_login(customer)
    for url in ("/", reverse("tickets:portal_list") + "?scope=organization", reverse("accounts:profile")):
        text = visible(client.get(url))
        assert "Organization" not in text and "organization" not in text
        assert not re.search(r"\blog ?(in|out)\b", text, flags=re.I)
        assert not re.search(r"\bemail\b", text, flags=re.I)


def test_error_pages_say_what_to_do_next(client):
    """404 and 403 pages name a way on (the help centre), with no exception text."""
    text = visible(client.get("/no-such-page/"))
    assert "Go to the help centre" in text and "Traceback" not in text


def test_the_first_vote_on_an_article_is_not_counted_as_readers(client):
    """The first reader to answer "Was this article helpful?" with Yes reads "Thanks for your feedback.
    You found this helpful (1 of 1 readers found it helpful)." Expected "1 of 1 reader"."""
    from tests.factories import make_article

    article = make_article()
    response = client.post(reverse("knowledge:vote", args=[article.slug]), {"helpful": "yes"}, follow=True)
    text = visible(response)
    assert "Thanks for your feedback" in text
    assert "1 of 1 readers" not in text


def test_a_database_made_before_keeps_no_seed_codes_in_permission_names():
    """Django creates the permissions a database lacks after migrating, and never renames one it has: the
    migrations rename those a database made before them holds with the seed codes in their names."""
    import importlib
    from types import SimpleNamespace

    from django.apps import apps
    from django.contrib.auth.models import Permission
    from django.db import connection

    old = {
        "suspend_user": "Can suspend a user (seed BAN_USER, TIMEOUT_USER)",
        "view_support_queue": "Can open the agent desk (seed VIEW_SUPPORT_QUEUE)",
        "manage_site_settings": "Can change site settings (seed MANAGE_BOT_SETTINGS)",
    }
    for codename, name in old.items():
        Permission.objects.filter(codename=codename).update(name=name)
    for migration in ("accounts.migrations.0021_british_names_and_plain_permission_names",
                      "helpdesk.migrations.0009_plain_permission_names"):  # fmt: skip
        step = importlib.import_module(migration).rename_permissions
        step(apps, SimpleNamespace(connection=connection))
    renamed = dict(Permission.objects.filter(codename__in=old).values_list("codename", "name"))
    assert renamed == {
        "suspend_user": "Can suspend a user",
        "view_support_queue": "Can open the agent desk",
        "manage_site_settings": "Can change site settings",
    }
