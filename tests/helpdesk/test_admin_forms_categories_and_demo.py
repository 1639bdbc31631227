"""The admin for ticket forms (schema bounds, labels, kept values, fixed slugs), tickets, tags, the
knowledge base and the site configuration, and the fixtures and demo loaded again after changes."""

import json

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse

from audit.models import AuditEvent
from helpdesk.models import SiteConfiguration
from knowledge.models import Article, Category
from tests.admin_pages import change_url, changelist_url, fields_as_posted, form_data, post_change
from tests.factories import (
    CategoryFactory,
    TeamFactory,
    TicketFormFactory,
    make_agent,
    make_article,
    make_customer,
    make_ticket,
)
from tickets import services
from tickets.forms import CustomFieldsForm
from tickets.models import Tag, Ticket, TicketActivity, TicketForm

pytestmark = pytest.mark.django_db


def post_schema(client, form, schema):
    page = client.get(change_url(form))
    return client.post(change_url(form), form_data(page, schema=json.dumps(schema)))


def schema_error(response) -> str:
    assert response.status_code == 422, response.status_code
    return str(response.context["adminform"].form.errors.get("schema", ""))


# --- Ticket form schema validation -------------------------------------------------------------------


@pytest.mark.parametrize(
    "schema",
    [
        [{"name": "a", "label": "A", "type": "text"}, {"name": "a", "label": "B", "type": "text"}],
        [{"name": "a", "label": "A", "type": "richtext"}],
        [{"name": "a", "label": "A", "type": "select"}],
        [{"name": "a", "label": "A", "type": "select", "choices": []}],
        [{"name": "a", "label": "A", "type": "select", "choices": ["x", "x"]}],
        [{"name": "a", "label": "A", "type": "multi_select", "choices": "x,y"}],
        [{"name": "email", "label": "E-mail", "type": "email"}],
        [{"name": "attachments", "label": "Files", "type": "text"}],
        [{"name": "description", "label": "D", "type": "textarea"}],
        [{"name": "a", "label": "A", "type": ["text"]}],
        [{"name": ["a"], "label": "A", "type": "text"}],
        [{"name": "a", "label": {"x": 1}, "type": "text"}],
        [{"name": "a", "label": "A", "type": "select", "choices": [["x"], ["x"]]}],
        "text",
        {"fields": []},
        42,
        None,
    ],
)
def test_each_kind_of_bad_schema_is_a_form_error_and_keeps_the_old_schema(superuser_client, schema):
    """A bad schema (duplicate names, unknown types, a select without or with duplicate choices,
    reserved names, non-list JSON, wrong value types) comes back as a form error, never a 500, and the
    saved schema stays as it was."""
    form = TicketFormFactory()
    before = form.schema
    response = post_schema(superuser_client, form, schema)
    assert schema_error(response)
    form.refresh_from_db()
    assert form.schema == before


def test_a_schema_with_thousands_of_fields_is_a_form_error(superuser_client):
    """A pasted schema of 3,000 fields would make the portal form unusable (and every ticket page
    build 3,000 form fields): the admin refuses it with a clear limit."""
    form = TicketFormFactory()
    schema = [{"name": f"f{i}", "label": f"Field {i}", "type": "text"} for i in range(3000)]
    response = post_schema(superuser_client, form, schema)
    assert schema_error(response), "a 3,000-field schema was saved"


def test_a_label_of_a_hundred_thousand_characters_is_a_form_error(superuser_client):
    """A label, help text or choice runs on every form and ticket page: an absurd length is refused."""
    form = TicketFormFactory()
    schema = [{"name": "f", "label": "L" * 100_000, "type": "text"}]
    response = post_schema(superuser_client, form, schema)
    assert schema_error(response), "a 100,000-character label was saved"


def test_a_select_with_ten_thousand_choices_is_a_form_error(superuser_client):
    """A select of 10,000 choices is a mistake (a pasted list), not a usable form: refused."""
    form = TicketFormFactory()
    schema = [{"name": "f", "label": "F", "type": "select", "choices": [f"c{i}" for i in range(10_000)]}]
    response = post_schema(superuser_client, form, schema)
    assert schema_error(response), "a 10,000-choice select was saved"


def test_two_fields_with_the_same_label_are_a_form_error(superuser_client):
    """Two fields labelled alike cannot be told apart by the customer, on the ticket page or in the
    timeline (which records changes by label): the admin refuses the schema."""
    form = TicketFormFactory()
    schema = [
        {"name": "a", "label": "Product", "type": "text"},
        {"name": "b", "label": "Product", "type": "text"},
    ]
    response = post_schema(superuser_client, form, schema)
    assert schema_error(response), "two fields labelled 'Product' were saved"


def test_changes_to_two_fields_labelled_alike_are_both_in_the_timeline():
    """If two fields share a label (as any schema saved today may), changing both records both values
    in the ticket's activity: neither change is lost from the history."""
    team = TeamFactory()
    agent = make_agent(team)
    form = TicketFormFactory(
        schema=[
            {"name": "a", "label": "Product", "type": "text"},
            {"name": "b", "label": "Product", "type": "text"},
        ]
    )
    ticket = make_ticket(make_customer(), team=team, form=form, custom_fields={"a": "one", "b": "two"})
    services.ticket_update_fields(ticket, changes={"custom_fields": {"a": "uno", "b": "dos"}}, actor=agent)
    entry = TicketActivity.objects.filter(ticket=ticket, field="custom_fields").latest("pk")
    recorded = f"{entry.old_value} {entry.new_value}"
    for value in ("one", "two", "uno", "dos"):
        assert value in recorded, f"{value!r} missing from the timeline: {recorded}"


@pytest.mark.parametrize("stored", ["ACME-1234", 42, ["Basic", "Pro"]])
def test_a_field_changed_to_a_checkbox_keeps_the_tickets_value_when_another_field_is_edited(
    superuser_client, stored
):
    """A field changed to a checkbox in the admin while tickets hold text (or a number, or answers):
    an agent editing another custom field in the workspace does not turn the stored value into "Yes"
    — values a changed type refuses stay until someone enters a new one (the schema's help text)."""
    team = TeamFactory()
    agent = make_agent(team)
    form = TicketFormFactory(
        schema=[
            {"name": "ref", "label": "Reference", "type": "text"},
            {"name": "note", "label": "Note", "type": "text"},
        ]
    )
    ticket = make_ticket(make_customer(), team=team, form=form, custom_fields={"note": "x"})
    Ticket.objects.filter(pk=ticket.pk).update(custom_fields={"ref": stored, "note": "x"})
    ticket.refresh_from_db()
    new_schema = [
        {"name": "ref", "label": "Reference", "type": "checkbox"},
        {"name": "note", "label": "Note", "type": "text"},
    ]
    response = post_schema(superuser_client, form, new_schema)
    assert response.status_code == 302
    ticket.refresh_from_db()
    # The workspace's custom-field form posted back as shown, with only "note" changed.
    shown = CustomFieldsForm(definitions=ticket.form_schema, stored=ticket.custom_fields)
    data = fields_as_posted(shown) | {"cf-note": "y"}
    bound = CustomFieldsForm(data, definitions=ticket.form_schema, stored=ticket.custom_fields)
    assert bound.is_valid(), bound.errors
    services.ticket_update_fields(ticket, changes={"custom_fields": bound.cleaned_data}, actor=agent)
    ticket.refresh_from_db()
    assert ticket.custom_fields["note"] == "y"
    assert ticket.custom_fields["ref"] == stored


def test_a_forms_slug_is_fixed_once_made_so_its_address_keeps_working(superuser_client):
    """/portal/tickets/new/<form-slug>/ is a stable URL (DESIGN §5) linked from customers' sites and
    mails: the slug is chosen when the form is added and shown read-only after, so a slug posted with a
    change leaves the address as it was."""
    form = TicketFormFactory(slug="billing")
    assert 'name="slug"' not in superuser_client.get(change_url(form)).content.decode()
    response = post_change(superuser_client, form, slug="billing-questions")
    assert response.status_code == 302
    form.refresh_from_db()
    assert form.slug == "billing"
    superuser_client.force_login(make_customer())
    assert superuser_client.get("/portal/tickets/new/billing/").status_code == 200


def test_editing_a_ticket_form_schema_is_audited(superuser_client):
    """A schema change (which relabels every ticket sent with the form) leaves an audit event."""
    form = TicketFormFactory()
    before = AuditEvent.objects.count()
    schema = [*form.schema, {"name": "extra", "label": "Extra", "type": "text"}]
    assert post_schema(superuser_client, form, schema).status_code == 302
    assert AuditEvent.objects.count() > before


# --- Ticket admin -------------------------------------------------------------------------------------


def test_deleting_and_restoring_a_ticket_from_the_admin_is_audited(superuser_client):
    """The soft delete and restore actions write an audit event each, credited to the administrator."""
    ticket = make_ticket(make_customer())
    url = changelist_url(Ticket)
    before = AuditEvent.objects.count()
    superuser_client.post(url, {"action": "delete_tickets", "_selected_action": [ticket.pk]})
    ticket.refresh_from_db()
    assert ticket.is_deleted
    middle = AuditEvent.objects.count()
    assert middle > before
    superuser_client.post(
        url + "?is_deleted__exact=1", {"action": "restore_tickets", "_selected_action": [ticket.pk]}
    )
    ticket.refresh_from_db()
    assert not ticket.is_deleted
    assert AuditEvent.objects.count() > middle


def test_assigning_a_customer_in_the_ticket_admin_is_refused(superuser_client):
    """The assignee must be an agent who can see the ticket, in the admin as on the desk."""
    team = TeamFactory()
    ticket = make_ticket(make_customer(), team=team)
    outsider = make_customer()
    response = post_change(superuser_client, ticket, assignee=str(outsider.pk))
    assert response.status_code == 422
    ticket.refresh_from_db()
    assert ticket.assignee_id is None


def test_a_closed_ticket_cannot_be_reopened_in_the_admin(superuser_client):
    """Closed is final: setting it back to open in the admin is refused and nothing changes."""
    team = TeamFactory()
    agent = make_agent(team)
    ticket = make_ticket(make_customer(), team=team)
    services.ticket_transition(ticket, status="closed", actor=agent)
    ticket.refresh_from_db()
    response = post_change(superuser_client, ticket, status="open")
    assert response.status_code == 422 and "Not saved: " in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == "closed"


# --- Tag admin ----------------------------------------------------------------------------------------


def test_adding_a_tag_differing_only_in_case_and_spaces_is_a_form_error(superuser_client):
    """'  Billing   Issue ' is the tag 'billing issue' the desk already has: a form error, not a second
    tag or a server error."""
    Tag.objects.create(name="billing issue")
    response = superuser_client.post(reverse("admin:tickets_tag_add"), {"name": "  Billing   Issue "})
    assert response.status_code == 422
    assert Tag.objects.filter(name__iexact="billing issue").count() == 1


# --- Knowledge admin ----------------------------------------------------------------------------------


def test_changing_an_articles_slug_in_the_admin_keeps_the_old_address_redirecting(superuser_client):
    """An article's old slug keeps redirecting to its new address after a rename in the admin."""
    article = make_article(title="Reset password", slug="reset-password")
    response = post_change(superuser_client, article, slug="reset-your-password")
    assert response.status_code == 302
    article.refresh_from_db()
    assert article.slug == "reset-your-password"
    old = superuser_client.get("/kb/articles/reset-password/")
    assert old.status_code in (301, 302)
    assert old["Location"].endswith("/kb/articles/reset-your-password/")


def test_a_categorys_slug_is_fixed_once_made_so_its_address_keeps_working(superuser_client):
    """/kb/<category-slug>/ is a stable URL (DESIGN §5): renaming a category in the admin changes its
    name, never its address."""
    category = CategoryFactory(slug="billing", name="Billing")
    make_article(title="Refunds", category=category)
    assert 'name="slug"' not in superuser_client.get(change_url(category)).content.decode()
    response = post_change(superuser_client, category, slug="payments", name="Payments")
    assert response.status_code == 302
    category.refresh_from_db()
    assert (category.slug, category.name) == ("billing", "Payments")
    assert superuser_client.get("/kb/billing/").status_code == 200


def test_a_category_edited_in_the_admin_is_audited(superuser_client):
    """Moving a category under another in the admin writes an audit event with before and after."""
    parent = CategoryFactory()
    category = CategoryFactory()
    before = AuditEvent.objects.count()
    assert post_change(superuser_client, category, parent=str(parent.pk)).status_code == 302
    assert AuditEvent.objects.count() > before


def test_status_cannot_be_set_directly_in_the_article_admin(superuser_client):
    """Status is read-only on the article page (it changes through publish/archive, which keep a
    revision and an audit event): a status posted with the form is ignored."""
    article = make_article(status="draft")
    page = superuser_client.get(change_url(article))
    response = superuser_client.post(change_url(article), form_data(page, status="published"))
    assert response.status_code == 302
    article.refresh_from_db()
    assert article.status == "draft"


def test_publishing_from_the_admin_keeps_a_revision_and_an_audit_event(superuser_client):
    """The publish action goes through the service: the article gets a published_at, a revision and
    an audit event."""
    article = make_article(status="draft")
    before = AuditEvent.objects.count()
    superuser_client.post(changelist_url(Article), {"action": "publish", "_selected_action": [article.pk]})
    article.refresh_from_db()
    assert article.status == "published" and article.published_at is not None
    assert article.revisions.exists()
    assert AuditEvent.objects.count() > before


# --- Site configuration admin -------------------------------------------------------------------------


def test_turning_on_maintenance_mode_in_the_admin_leaves_the_admin_reachable(superuser_client):
    """An administrator who switches maintenance mode on can still reach the admin to switch it off."""
    configuration = SiteConfiguration.objects.get_current()
    response = post_change(superuser_client, configuration, maintenance_mode="on")
    assert response.status_code == 302
    assert SiteConfiguration.objects.get_current().maintenance_mode
    assert superuser_client.get(change_url(configuration)).status_code == 200
    page = superuser_client.get(change_url(configuration))
    data = form_data(page)
    data.pop("maintenance_mode", None)
    assert superuser_client.post(change_url(configuration), data).status_code == 302
    assert not SiteConfiguration.objects.get_current().maintenance_mode


# --- Fixtures -----------------------------------------------------------------------------------------


def test_loading_the_roles_twice_changes_nothing():
    """`loaddata roles` is loaded on every start: twice gives the same four roles with the same
    permissions, matched by natural key (no duplicate, no error)."""
    call_command("loaddata", "roles", verbosity=0)
    first = {
        group.name: set(group.permissions.values_list("codename", flat=True)) for group in Group.objects.all()
    }
    call_command("loaddata", "roles", verbosity=0)
    second = {
        group.name: set(group.permissions.values_list("codename", flat=True)) for group in Group.objects.all()
    }
    assert first == second
    assert {"Customer", "Agent", "Supervisor", "Administrator"} <= set(second)


def counts() -> dict:
    from accounts.models import Organization, User
    from tickets.models import TicketMessage

    return {
        "users": User.objects.count(),
        "organizations": Organization.objects.count(),
        "tickets": Ticket.objects.count(),
        "messages": TicketMessage.objects.count(),
        "activities": TicketActivity.objects.count(),
        "articles": Article.objects.count(),
        "categories": Category.objects.count(),
        "forms": TicketForm.objects.count(),
        "tags": Tag.objects.count(),
        "groups": Group.objects.count(),
    }
