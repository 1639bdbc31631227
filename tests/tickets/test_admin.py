"""The tickets admin: edits go through the services, a save from a stale page is refused; messages and
files are view-only, tags in use stay as they are, saved views are listed and deleted with an audit."""

from html import unescape

import pytest
from django.contrib import admin as django_admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.test import RequestFactory
from django.urls import reverse
from guardian.models import GroupObjectPermission

from audit.models import AuditEvent
from tests.conftest import made_once_per_module
from tests.factories import (
    TagFactory,
    TeamFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_ticket,
)
from tickets import services
from tickets.models import Attachment, SavedView, Tag, Ticket, TicketActivity, TicketMessage
from tickets.workflow import Status

pytestmark = pytest.mark.django_db


def make_setting():
    team = TeamFactory()
    agent = make_agent(team)
    ticket = make_ticket(make_customer(), team=team, subject="Printer on fire")
    administrator = make_administrator(is_superuser=True)
    return {"team": team, "agent": agent, "ticket": ticket, "administrator": administrator}


_setting_rows, setting = made_once_per_module(make_setting, "setting")


def change_page_data(response) -> dict:
    """What the browser would post back from the admin's change page, unchanged."""
    form = response.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        data[name] = "" if value is None else value
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
    return data


def test_admin_edit_goes_through_the_services(client, setting):
    ticket = setting["ticket"]
    url = reverse("admin:tickets_ticket_change", args=[ticket.pk])
    client.force_login(setting["administrator"])
    data = change_page_data(client.get(url))
    response = client.post(url, {**data, "priority": "urgent"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.version) == ("urgent", 2)
    assert TicketActivity.objects.filter(ticket=ticket, field="priority", new_value="urgent").exists()


def test_admin_save_from_a_stale_page_is_refused_and_keeps_the_colleagues_change(client, setting):
    ticket = setting["ticket"]
    url = reverse("admin:tickets_ticket_change", args=[ticket.pk])
    client.force_login(setting["administrator"])
    stale = change_page_data(client.get(url))
    # Meanwhile an agent raises the priority from the desk.
    services.ticket_update_fields(ticket, changes={"priority": "high"}, actor=setting["agent"])
    response = client.post(url, {**stale, "subject": "Printer on fire (edited)"})
    assert response.status_code == 422  # the form again, with what was typed
    assert services.STALE in response.content.decode()
    assert 'value="Printer on fire (edited)"' in response.content.decode()
    ticket = Ticket.objects.get(pk=ticket.pk)
    assert (ticket.subject, ticket.priority) == ("Printer on fire", "high")


def test_admin_change_the_workflow_refuses_is_reported_without_a_success_message(client, setting):
    ticket = setting["ticket"]
    Ticket.objects.filter(pk=ticket.pk).update(status="closed")
    url = reverse("admin:tickets_ticket_change", args=[ticket.pk])
    client.force_login(setting["administrator"])
    data = change_page_data(client.get(url))
    response = client.post(url, {**data, "status": "open"})
    page = unescape(response.content.decode())
    assert response.status_code == 422 and "Not saved: A ticket cannot go from Closed to Open." in page
    assert "changed successfully" not in page
    typed = client.post(url, {**data, "status": "open", "subject": "Printer (typed)"})
    page = unescape(typed.content.decode())
    assert typed.status_code == 422 and "a closed ticket is final" in page  # the fields go first
    assert 'value="Printer (typed)"' in page
    assert [str(message) for message in response.context["messages"]] == []
    assert Ticket.objects.get(pk=ticket.pk).status == "closed"


def test_administrator_deletes_and_restores_tickets_from_the_admin(client, setting):
    ticket, agent = setting["ticket"], setting["agent"]
    changelist = reverse("admin:tickets_ticket_changelist")
    workspace = reverse("tickets:desk_ticket", args=[ticket.number])
    client.force_login(setting["administrator"])
    response = client.post(
        changelist, {"action": "delete_tickets", "_selected_action": [ticket.pk]}, follow=True
    )
    assert f"Deleted 1 ticket: {ticket.reference}." in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.is_deleted and ticket.deleted_at is not None
    assert "only administrators see this ticket" in client.get(workspace).content.decode()
    client.force_login(agent)
    assert client.get(workspace).status_code == 404
    client.force_login(ticket.requester)
    assert client.get(reverse("tickets:portal_detail", args=[ticket.number])).status_code == 404

    client.force_login(setting["administrator"])
    client.post(changelist, {"action": "restore_tickets", "_selected_action": [ticket.pk]})
    client.force_login(agent)
    assert client.get(workspace).status_code == 200
    actions = list(TicketActivity.objects.filter(ticket=ticket).values_list("action", flat=True))
    assert actions[-2:] == ["deleted", "restored"]


def test_only_administrators_may_delete_a_ticket(setting):
    with pytest.raises(services.TicketNotAllowed):
        services.ticket_delete(setting["ticket"], actor=setting["agent"])
    ticket = Ticket.objects.get(pk=setting["ticket"].pk)
    assert not ticket.is_deleted and ticket.status == Status.NEW


def test_administrator_grants_one_ticket_to_an_agent_of_another_team(client, setting):
    ticket = setting["ticket"]
    outsider = make_agent(TeamFactory(name="Billing"))
    workspace = reverse("tickets:desk_ticket", args=[ticket.number])
    client.force_login(outsider)
    assert client.get(workspace).status_code == 404

    client.force_login(setting["administrator"])
    url = reverse("admin:tickets_ticket_permissions_manage_user", args=[ticket.pk, outsider.pk])
    form = client.get(url).content.decode()
    assert 'value="view_ticket"' in form and 'value="change_ticket"' not in form
    client.post(url, {"permissions": ["view_ticket"]})
    event = AuditEvent.objects.filter(action="permission_change").latest("sequence")
    assert (event.actor, event.changes) == (setting["administrator"], {"permissions": [[], ["view_ticket"]]})
    client.force_login(outsider)
    assert client.get(workspace).status_code == 200

    client.force_login(setting["administrator"])
    client.post(url, {"permissions": [], "csrfmiddlewaretoken": "x"})  # as a browser posts it
    client.force_login(outsider)
    assert client.get(workspace).status_code == 404


def test_tickets_are_not_granted_to_roles(client, setting):
    client.force_login(setting["administrator"])
    role = Group.objects.get(name="Agent")
    url = reverse("admin:tickets_ticket_permissions_manage_group", args=[setting["ticket"].pk, role.pk])
    response = client.post(url, {"permissions": ["view_ticket"]}, follow=True)
    assert "Tickets are granted to people, not to roles" in response.content.decode()
    assert not GroupObjectPermission.objects.exists()


def test_a_refused_admin_change_leaves_the_tags_and_the_other_fields_alone(client, setting):
    ticket = setting["ticket"]
    Ticket.objects.filter(pk=ticket.pk).update(status="closed")
    url = reverse("admin:tickets_ticket_change", args=[ticket.pk])
    client.force_login(setting["administrator"])
    data = change_page_data(client.get(url))
    vip = TagFactory(name="vip")
    response = client.post(url, {**data, "priority": "urgent", "status": "open", "tags": [vip.pk]})
    assert response.status_code == 422
    ticket = Ticket.objects.get(pk=ticket.pk)
    assert (ticket.status, ticket.priority, ticket.version) == ("closed", "medium", 1)
    assert not ticket.tags.exists()
    assert not TicketActivity.objects.filter(ticket=ticket, field__in=["tags", "priority"]).exists()


def test_admin_sets_tags_through_the_service(client, setting):
    ticket = setting["ticket"]
    url = reverse("admin:tickets_ticket_change", args=[ticket.pk])
    client.force_login(setting["administrator"])
    vip = TagFactory(name="vip")
    client.post(url, {**change_page_data(client.get(url)), "priority": "high", "tags": [vip.pk]})
    ticket = Ticket.objects.get(pk=ticket.pk)
    assert (ticket.priority, ticket.version) == ("high", 3)
    assert list(ticket.tags.values_list("name", flat=True)) == ["vip"]
    assert TicketActivity.objects.filter(ticket=ticket, field="tags").exists()


def test_messages_and_attachments_are_view_only_in_the_admin(client, setting):
    ticket = setting["ticket"]
    message = ticket.messages.get()
    attachment = Attachment.objects.create(
        owner_type=ContentType.objects.get_for_model(TicketMessage), owner_id=message.pk,
        file=ContentFile(b"error 809", name="log.txt"), filename="log.txt", content_type="text/plain",
        size=9, sha256="0" * 64,
    )  # fmt: skip
    client.force_login(setting["administrator"])
    for obj in (message, attachment):
        name = f"admin:tickets_{obj._meta.model_name}"
        page = client.get(reverse(f"{name}_change", args=[obj.pk]))
        assert page.status_code == 200 and not page.context["has_change_permission"]
        assert 'name="_save"' not in page.content.decode()
        assert client.post(reverse(f"{name}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403
        assert client.get(reverse(f"{name}_add")).status_code == 403
        changelist = client.get(reverse(f"{name}_changelist"))
        assert "delete_selected" not in changelist.content.decode()
    assert TicketMessage.objects.filter(pk=message.pk).exists()
    assert Attachment.objects.filter(pk=attachment.pk).exists()


def test_a_tag_in_use_is_neither_renamed_nor_deleted_in_the_admin(client, setting):
    ticket, agent = setting["ticket"], setting["agent"]
    services.ticket_set_tags(ticket, names=["printer"], actor=agent)
    printer = Tag.objects.get(name="printer")
    unused = TagFactory(name="pritner")
    client.force_login(setting["administrator"])

    page = client.get(reverse("admin:tickets_tag_change", args=[printer.pk]))
    assert page.status_code == 200 and not page.context["has_change_permission"]
    client.post(reverse("admin:tickets_tag_change", args=[printer.pk]), {"name": "scanner"})
    assert client.get(reverse("admin:tickets_tag_delete", args=[printer.pk])).status_code == 403

    changelist = reverse("admin:tickets_tag_changelist")
    selected = {"action": "delete_selected", "_selected_action": [printer.pk, unused.pk], "post": "yes"}
    refused = client.post(changelist, selected)
    assert "Tag “printer”, on 1 ticket" in refused.content.decode()
    assert set(Tag.objects.values_list("name", flat=True)) == {"printer", "pritner"}

    listed = {
        in_use: [tag.name for tag in client.get(changelist, {"in_use": in_use}).context["cl"].result_list]
        for in_use in ("yes", "no")
    }
    assert listed == {"yes": ["printer"], "no": ["pritner"]}

    client.post(changelist, {**selected, "_selected_action": [unused.pk]})
    assert list(Tag.objects.values_list("name", flat=True)) == ["printer"]
    assert AuditEvent.objects.filter(action="delete", object_repr="pritner").exists()
    ticket = Ticket.objects.get(pk=ticket.pk)
    assert ticket.version == 2 and list(ticket.tags.values_list("name", flat=True)) == ["printer"]


def test_a_tag_taken_into_use_after_the_confirmation_page_is_kept(client, setting):
    tag = TagFactory(name="vip")
    client.force_login(setting["administrator"])
    url = reverse("admin:tickets_tag_delete", args=[tag.pk])
    assert client.get(url).status_code == 200
    # Between the confirmation page and its "Yes, I'm sure", an agent tags a ticket with it.
    Ticket.objects.get(pk=setting["ticket"].pk).tags.add(tag)
    request = RequestFactory().post(url)
    request.user = setting["administrator"]
    django_admin.site.get_model_admin(Tag).delete_model(request, tag)
    assert Tag.objects.filter(pk=tag.pk).exists() and request.tag_kept


def test_an_administrator_adds_a_tag_spelled_as_the_desk_spells_it(client, setting):
    client.force_login(setting["administrator"])
    response = client.post(reverse("admin:tickets_tag_add"), {"name": "  Printer   Jam "})
    assert response.status_code == 302
    tag = Tag.objects.get(name="printer jam")
    assert AuditEvent.objects.filter(action="create", object_id=str(tag.pk)).exists()
    again = client.post(reverse("admin:tickets_tag_add"), {"name": "PRINTER JAM"})
    assert again.status_code == 422 and Tag.objects.count() == 1
    bad = client.post(reverse("admin:tickets_tag_add"), {"name": "<script>"})
    assert services.TAG_INVALID in bad.content.decode()


def test_saved_views_are_listed_searched_and_deleted_with_an_audit_event(client, setting):
    team, agent = setting["team"], setting["agent"]
    shared = services.saved_view_create(name="Team fires", query="q=fire", team=team, actor=agent)
    services.saved_view_create(name="Mine", query="assignee=me", team=None, actor=agent)
    client.force_login(setting["administrator"])
    changelist = reverse("admin:tickets_savedview_changelist")
    page = client.get(changelist)
    assert page.status_code == 200
    assert [view.name for view in page.context["cl"].result_list] == ["Mine", "Team fires"]
    found = client.get(changelist, {"q": "fire"})
    assert [view.name for view in found.context["cl"].result_list] == ["Team fires"]
    by_team = client.get(changelist, {"team__id__exact": team.pk})
    assert [view.name for view in by_team.context["cl"].result_list] == ["Team fires"]
    assert client.get(reverse("admin:tickets_savedview_add")).status_code == 403
    view_page = client.get(reverse("admin:tickets_savedview_change", args=[shared.pk]))
    assert view_page.status_code == 200 and not view_page.context["has_change_permission"]

    client.post(reverse("admin:tickets_savedview_delete", args=[shared.pk]), {"post": "yes"})
    assert not SavedView.objects.filter(pk=shared.pk).exists()
    event = AuditEvent.objects.get(action="delete", object_id=str(shared.pk))
    assert (event.actor, event.object_repr) == (setting["administrator"], str(shared))


@pytest.mark.parametrize("kind", ["ticket", "article"])
def test_a_change_the_services_refuse_is_not_in_the_admins_history(superuser_client, kind):
    """A status the workflow refuses (closed is final), or an article saved from a page older than it,
    is not saved and says so; the admin's History does not list it as a change either, so it and the
    audit trail tell the same story."""
    from django.contrib.admin.models import LogEntry

    from knowledge import services as knowledge_services
    from tests.admin_pages import change_url, form_data, post_change
    from tests.factories import make_article

    if kind == "ticket":
        obj = services.ticket_transition(make_ticket(make_customer()), status=Status.CLOSED, actor=None)
        events = AuditEvent.objects.count()
        response = post_change(superuser_client, obj, status=Status.OPEN)
        obj.refresh_from_db()
        assert obj.status == Status.CLOSED
    else:
        obj = make_article(title="Refunds", body="First")
        page = superuser_client.get(change_url(obj))
        knowledge_services.article_update(obj, body="Meanwhile", actor=None)
        events = AuditEvent.objects.count()
        response = superuser_client.post(change_url(obj), form_data(page, body="Mine"))
        obj.refresh_from_db()
        assert obj.body == "Meanwhile"
    if kind == "ticket":  # refused by the service: the form again, as typed, saying why
        assert response.status_code == 422 and "Not saved: " in response.content.decode()
        assert response.context["adminform"].form["status"].value() == Status.OPEN
    else:  # refused by the page's age: the form again, as typed
        assert response.status_code == 422 and "Someone changed this article" in response.content.decode()
        assert response.context["adminform"].form["body"].value() == "Mine"
    assert AuditEvent.objects.count() == events
    assert not LogEntry.objects.filter(object_id=str(obj.pk)).exists()


def test_closing_a_ticket_and_changing_its_priority_in_one_admin_save_applies_both(client, setting):
    """The status goes last: closing first made the priority, changed in the same save on a page that
    showed the ticket open, a change to a closed ticket (refused as final)."""
    ticket = setting["ticket"]
    url = reverse("admin:tickets_ticket_change", args=[ticket.pk])
    client.force_login(setting["administrator"])
    data = change_page_data(client.get(url))
    assert client.post(url, {**data, "priority": "urgent", "status": "closed"}).status_code == 302
    ticket = Ticket.objects.get(pk=ticket.pk)
    assert (ticket.status, ticket.priority) == ("closed", "urgent")
