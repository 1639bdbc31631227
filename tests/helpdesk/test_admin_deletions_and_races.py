"""Destructive and bulk operations in the Django admin, as a superuser and as an Administrator by role:
every deletion is either refused with a clear page (never a 500 ProtectedError) or leaves no dangling
state behind (the pages that showed the object still answer), is audited, and goes through the services
where one exists; confirmation pages change nothing."""

from html import unescape

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts import roles
from accounts.models import Invitation, Organization, RoleAssignment, Skill, Team, TeamMember, User
from audit.models import AuditEvent, SystemLogEntry
from knowledge import services as kb_services
from knowledge.models import Article, ArticleFeedback, ArticleRevision, Category
from tests.admin_pages import changelist_url, delete_url
from tests.conftest import notes
from tests.factories import (
    CategoryFactory,
    InvitationFactory,
    OrganizationFactory,
    SavedViewFactory,
    SkillFactory,
    TagFactory,
    TeamFactory,
    TicketFormFactory,
    UserFactory,
    make_administrator,
    make_agent,
    make_article,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tickets import services as ticket_services
from tickets.models import Attachment, SavedView, Tag, Ticket, TicketActivity, TicketForm, TicketMessage

pytestmark = pytest.mark.django_db


# Helpers


@pytest.fixture
def administrator():
    """An Administrator by role: every delete permission of the built-in role, not a superuser."""
    return make_administrator(name="Ada Administrator")


@pytest.fixture
def administrator_client(client, administrator):
    client.force_login(administrator)
    return client


@pytest.fixture(params=["superuser", "administrator"])
def any_admin_client(request, client):
    """The admin driven by a superuser, then by an Administrator by role."""
    actor = make_administrator(is_superuser=request.param == "superuser", name=f"The {request.param}")
    client.force_login(actor)
    client.actor = actor
    return client


def text_file(name="notes.txt", content=b"hello there"):
    return SimpleUploadedFile(name, content, content_type="text/plain")


def page_text(response) -> str:
    return unescape(response.content.decode())


def select_action(client, model, action, pks, *, confirm=True):
    """The change list's action `action` applied to the rows `pks`, as its form posts it (with the
    confirmation page's "Yes, I'm sure" when `confirm`)."""
    data = {"action": action, ACTION_CHECKBOX_NAME: [str(pk) for pk in pks], "index": "0"}
    if confirm:
        data["post"] = "yes"
    return client.post(changelist_url(model), data)


def events_about(obj_or_model, pk=None, action=None):
    model = obj_or_model if isinstance(obj_or_model, type) else type(obj_or_model)
    pk = pk if pk is not None else obj_or_model.pk
    events = AuditEvent.objects.filter(
        object_type=ContentType.objects.get_for_model(model), object_id=str(pk)
    )
    return events.filter(action=action) if action else events


def assert_no_500(client, *urls):
    for url in urls:
        response = client.get(url)
        assert response.status_code < 500, (url, response.status_code)


# 1. The audit trail and the system log: never deleted, whoever asks.


def test_audit_events_cannot_be_deleted_one_at_a_time_or_in_bulk_even_by_a_superuser(superuser_client):
    """Tamper evidence: neither the delete page nor "Delete selected" removes an audit event, for a
    superuser too; the action is not even offered, and a forged post changes nothing."""
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event is not None  # the superuser's own creation (role assignment) was recorded
    count = AuditEvent.objects.count()
    assert superuser_client.get(delete_url(event)).status_code == 403
    assert superuser_client.post(delete_url(event), {"post": "yes"}).status_code == 403
    listing = superuser_client.get(changelist_url(AuditEvent))
    assert listing.status_code == 200
    assert 'value="delete_selected"' not in listing.content.decode()
    forged = select_action(superuser_client, AuditEvent, "delete_selected", [event.pk])
    assert forged.status_code in (200, 302)
    assert AuditEvent.objects.count() == count
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_audit_events_cannot_be_changed_in_the_admin(superuser_client):
    """An event's page is read-only: a post back to it is refused and the row keeps its hash."""
    event = AuditEvent.objects.order_by("-sequence").first()
    before = (event.action, event.hash, event.changes)
    response = superuser_client.post(
        reverse("admin:audit_auditevent_change", args=[event.pk]), {"action": "nothing", "changes": "{}"}
    )
    assert response.status_code == 403
    event.refresh_from_db()
    assert (event.action, event.hash, event.changes) == before


def test_system_log_entries_cannot_be_deleted_in_the_admin(superuser_client):
    """The system log is bounded by its own retention, not trimmed by hand."""
    entry = SystemLogEntry.objects.create(level=40, logger="x", message="boom")
    assert superuser_client.post(delete_url(entry), {"post": "yes"}).status_code == 403
    select_action(superuser_client, SystemLogEntry, "delete_selected", [entry.pk])
    assert SystemLogEntry.objects.filter(pk=entry.pk).exists()


# 2. Tickets, their messages and files.


@pytest.fixture
def ticket_with_file():
    team = TeamFactory(name="Support")
    agent = make_agent(team, name="Alex Agent")
    customer = make_customer(name="Carla Customer")
    ticket = make_ticket(customer, team=team, subject="Printer on fire")
    ticket_services.ticket_reply(ticket, body="Here are the logs", actor=customer, uploads=[text_file()])
    attachment = Attachment.objects.get()
    return {"team": team, "agent": agent, "customer": customer, "ticket": ticket, "attachment": attachment}


def test_the_ticket_delete_page_is_refused_and_the_bulk_action_soft_deletes_through_the_service(
    any_admin_client, ticket_with_file, client
):
    """Tickets are never removed for good from the admin: the delete page is refused; the "Delete the
    selected tickets" action hides them (soft delete), with an activity and an audit event, from the
    customer's portal, the desk and the file's download, while its rows and file stay for a restore."""
    ticket, attachment = ticket_with_file["ticket"], ticket_with_file["attachment"]
    assert any_admin_client.post(delete_url(ticket), {"post": "yes"}).status_code == 403
    listing = any_admin_client.get(changelist_url(Ticket))
    assert 'value="delete_selected"' not in listing.content.decode()

    response = select_action(any_admin_client, Ticket, "delete_tickets", [ticket.pk])
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.is_deleted
    assert TicketActivity.objects.filter(ticket=ticket, action=TicketActivity.Action.DELETED).exists()
    assert events_about(ticket, action="ticket.deleted").filter(actor=any_admin_client.actor).exists()
    assert TicketMessage.objects.filter(ticket=ticket).count() == 2
    assert Attachment.objects.filter(pk=attachment.pk).exists()
    assert attachment.file.storage.exists(attachment.file.name)

    # The admin's own pages still answer for it.
    assert any_admin_client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk])).status_code == 200
    attachment_page = reverse("admin:tickets_attachment_change", args=[attachment.pk])
    assert_no_500(any_admin_client, changelist_url(Ticket), changelist_url(TicketMessage),
                  changelist_url(Attachment), attachment_page)  # fmt: skip

    customer_client = client
    customer_client.force_login(ticket_with_file["customer"])
    assert customer_client.get(reverse("tickets:portal_detail", args=[ticket.number])).status_code == 404
    assert (
        customer_client.get(reverse("tickets:attachment_download", args=[attachment.pk])).status_code == 404
    )
    listing = customer_client.get(reverse("tickets:portal_list"))
    assert listing.status_code == 200 and "Printer on fire" not in page_text(listing)

    customer_client.force_login(ticket_with_file["agent"])
    assert customer_client.get(reverse("tickets:desk_ticket", args=[ticket.number])).status_code == 404
    queue = customer_client.get(reverse("tickets:desk_queue"))
    assert queue.status_code == 200 and "Printer on fire" not in page_text(queue)


def test_restoring_a_ticket_from_the_admin_brings_it_back_everywhere(
    superuser_client, ticket_with_file, client
):
    """The "Restore" action undoes the soft delete, with its own activity and audit event."""
    ticket = ticket_with_file["ticket"]
    select_action(superuser_client, Ticket, "delete_tickets", [ticket.pk])
    response = select_action(superuser_client, Ticket, "restore_tickets", [ticket.pk])
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert not ticket.is_deleted
    assert events_about(ticket, action="ticket.restored").exists()
    client.force_login(ticket_with_file["customer"])
    assert client.get(reverse("tickets:portal_detail", args=[ticket.number])).status_code == 200
    download = client.get(reverse("tickets:attachment_download", args=[ticket_with_file["attachment"].pk]))
    assert download.status_code == 200


def test_the_delete_tickets_action_as_staff_without_the_right_names_each_refused_ticket(
    client, ticket_with_file
):
    """A supervisor given view access to the admin cannot soft-delete: each ticket is named as refused,
    none is deleted, and nothing is recorded as deleted."""
    from tests.factories import give_custom_role

    supervisor = make_supervisor(ticket_with_file["team"], name="Sam Supervisor")
    give_custom_role(supervisor, "Ticket viewers", [("tickets", "view_ticket")])
    client.force_login(supervisor)
    ticket = ticket_with_file["ticket"]
    response = select_action(client, Ticket, "delete_tickets", [ticket.pk])
    assert response.status_code in (302, 403)
    ticket.refresh_from_db()
    assert not ticket.is_deleted
    assert not events_about(ticket, action="ticket.deleted").exists()
    if response.status_code == 302:
        assert any(ticket.reference in note for note in notes(response))


def test_messages_and_attachments_cannot_be_deleted_in_the_admin(any_admin_client, ticket_with_file, client):
    """A message or a file is part of the ticket's record: the admin refuses both the delete page and the
    bulk action (though the Administrator role holds delete_ticketmessage / delete_attachment), so no
    conversation points at nothing and the download keeps working."""
    attachment = ticket_with_file["attachment"]
    message = TicketMessage.objects.filter(ticket=ticket_with_file["ticket"]).last()
    for obj in (message, attachment):
        assert any_admin_client.get(delete_url(obj)).status_code == 403
        assert any_admin_client.post(delete_url(obj), {"post": "yes"}).status_code == 403
        select_action(any_admin_client, type(obj), "delete_selected", [obj.pk])
        assert type(obj).objects.filter(pk=obj.pk).exists()
    assert attachment.file.storage.exists(attachment.file.name)
    client.force_login(ticket_with_file["customer"])
    assert client.get(reverse("tickets:attachment_download", args=[attachment.pk])).status_code == 200


# 3. Tags, forms, saved views.


def test_a_mixed_bulk_delete_of_tags_is_refused_whole_naming_the_tag_in_use(
    any_admin_client, ticket_with_file
):
    """ "Delete selected" with a tag in use and an unused one: a clear confirmation page naming the tag in
    use, and a confirmed post removes neither (or only the unused one), never a 500; nothing is taken
    off the ticket."""
    ticket = ticket_with_file["ticket"]
    ticket_services.ticket_set_tags(ticket, names=["billing"], actor=ticket_with_file["agent"])
    used, unused = Tag.objects.get(name="billing"), TagFactory(name="typo-tag")
    page = select_action(any_admin_client, Tag, "delete_selected", [used.pk, unused.pk], confirm=False)
    assert page.status_code == 200
    assert "billing" in page_text(page)
    confirmed = select_action(any_admin_client, Tag, "delete_selected", [used.pk, unused.pk])
    assert confirmed.status_code in (200, 302)
    assert Tag.objects.filter(pk=used.pk).exists()
    assert list(Ticket.objects.get(pk=ticket.pk).tags.values_list("name", flat=True)) == ["billing"]


def test_deleting_an_unused_tag_is_audited_and_the_desk_still_answers(
    any_admin_client, ticket_with_file, client
):
    tag = TagFactory(name="typo-tag")
    response = any_admin_client.post(delete_url(tag), {"post": "yes"})
    assert response.status_code == 302
    assert not Tag.objects.filter(pk=tag.pk).exists()
    assert events_about(Tag, tag.pk, action="delete").filter(actor=any_admin_client.actor).exists()
    client.force_login(ticket_with_file["agent"])
    assert_no_500(client, reverse("tickets:desk_queue") + "?tag=typo-tag")


def test_bulk_deleting_unused_tags_records_one_event_each(superuser_client):
    """Bulk deletion records what it deleted, one delete event per row, inside the same transaction."""
    tags = [TagFactory(name=f"old-{n}") for n in range(3)]
    response = select_action(superuser_client, Tag, "delete_selected", [tag.pk for tag in tags])
    assert response.status_code == 302
    assert not Tag.objects.filter(name__startswith="old-").exists()
    for tag in tags:
        assert events_about(Tag, tag.pk, action="delete").count() == 1


def test_an_unused_ticket_form_deleted_in_the_admin_leaves_its_portal_address_answering_404(
    any_admin_client, client
):
    form = TicketFormFactory(slug="returns", title="Returns")
    response = any_admin_client.post(delete_url(form), {"post": "yes"})
    assert response.status_code == 302
    assert not TicketForm.objects.filter(pk=form.pk).exists()
    assert events_about(TicketForm, form.pk, action="delete").exists()
    client.force_login(make_customer())
    assert client.get(reverse("tickets:portal_submit_form", args=["returns"])).status_code == 404
    assert client.get(reverse("tickets:portal_submit")).status_code == 200


def test_a_ticket_form_used_only_by_a_deleted_ticket_is_still_kept(superuser_client):
    """A soft-deleted ticket can be restored with its custom fields: the form that describes them stays."""
    form = TicketFormFactory()
    customer = make_customer()
    ticket = make_ticket(customer, form=form, custom_fields={"order_number": "A-1"})
    ticket_services.ticket_delete(ticket, actor=make_administrator())
    page = superuser_client.post(delete_url(form), {"post": "yes"})
    assert page.status_code == 200
    assert TicketForm.objects.filter(pk=form.pk).exists()
    assert "was used for 1 ticket," in page_text(page)


def test_a_saved_view_deleted_by_an_administrator_is_audited_and_the_queue_still_answers(
    superuser_client, ticket_with_file, client
):
    any_admin_client = superuser_client
    agent = ticket_with_file["agent"]
    view = SavedViewFactory(
        owner=agent, name="Urgent ones", query="priority=urgent", team=ticket_with_file["team"]
    )
    response = any_admin_client.post(delete_url(view), {"post": "yes"})
    assert response.status_code == 302
    assert not SavedView.objects.filter(pk=view.pk).exists()
    assert events_about(SavedView, view.pk, action="delete").exists()
    client.force_login(agent)
    assert_no_500(client, reverse("tickets:desk_queue"), reverse("tickets:desk_queue") + f"?view={view.pk}")
    gone = client.post(reverse("tickets:desk_view_delete", args=[view.pk]))
    assert gone.status_code < 500


# 4. Knowledge base.


def test_a_category_with_articles_or_subcategories_is_refused_clearly(any_admin_client):
    parent = CategoryFactory(name="Printing", slug="printing")
    CategoryFactory(name="Jams", slug="jams", parent=parent)
    page = any_admin_client.get(delete_url(parent))
    assert page.status_code == 200
    confirmed = any_admin_client.post(delete_url(parent), {"post": "yes"})
    assert confirmed.status_code in (200, 302, 403)
    assert Category.objects.filter(pk=parent.pk).exists()
    bulk = select_action(any_admin_client, Category, "delete_selected", [parent.pk])
    assert bulk.status_code in (200, 302)
    assert Category.objects.filter(pk=parent.pk).exists()


def test_an_empty_category_deleted_in_the_admin_is_audited_and_the_kb_still_answers(any_admin_client, client):
    category = CategoryFactory(name="Old stuff", slug="old-stuff")
    make_article(title="Kept article", category=None)
    response = any_admin_client.post(delete_url(category), {"post": "yes"})
    assert response.status_code == 302
    assert events_about(Category, category.pk, action="delete").exists()
    assert client.get(reverse("knowledge:category", args=["old-stuff"])).status_code == 404
    assert_no_500(client, reverse("knowledge:home"), reverse("knowledge:search") + "?q=kept")


@pytest.fixture
def linked_article():
    """A published article with a revision, a vote, in a category, linked from a ticket's reply."""
    category = CategoryFactory(name="Accounts", slug="accounts")
    article = make_article(title="Reset your password", body="Open the sign-in page.", category=category)
    kb_services.article_update(article, actor=None, body="Open the sign-in page, then the link.")
    voter = make_customer()
    kb_services.article_vote(Article.objects.get(pk=article.pk), helpful=True, user=voter, session_key="")
    team = TeamFactory(name="Support")
    agent = make_agent(team, name="Alex Agent")
    customer = make_customer(name="Carla Customer")
    ticket = make_ticket(customer, team=team, subject="Cannot sign in")
    link = reverse("knowledge:article", args=[article.slug])
    ticket_services.ticket_reply(ticket, body=f"See [the guide]({link}).", actor=agent)
    return {"article": Article.objects.get(pk=article.pk), "category": category, "agent": agent,
            "customer": customer, "ticket": ticket}  # fmt: skip


def test_deleting_an_article_in_the_admin_is_audited_and_every_page_that_showed_it_still_answers(
    any_admin_client, linked_article, client
):
    """An article deleted in the admin (archived first: only then is it the admin's to delete) takes its
    revisions and votes with it, is recorded, and leaves no page answering 500: the KB home, its category,
    search, its own address (404), the workspace and the portal page of the ticket that linked to it, the
    authoring list."""
    article = kb_services.article_archive(linked_article["article"], actor=None)
    assert ArticleRevision.objects.filter(article=article).exists()
    response = any_admin_client.post(delete_url(article), {"post": "yes"})
    assert response.status_code == 302
    assert not Article.objects.filter(pk=article.pk).exists()
    assert not ArticleRevision.objects.filter(article_id=article.pk).exists()
    assert not ArticleFeedback.objects.filter(article_id=article.pk).exists()
    assert events_about(Article, article.pk, action="delete").filter(actor=any_admin_client.actor).exists()

    assert client.get(reverse("knowledge:article", args=[article.slug])).status_code == 404
    assert_no_500(
        client,
        reverse("knowledge:home"),
        reverse("knowledge:category", args=["accounts"]),
        reverse("knowledge:search") + "?q=password",
        reverse("knowledge:suggest") + "?q=password",
    )
    ticket = linked_article["ticket"]
    client.force_login(linked_article["customer"])
    assert client.get(reverse("tickets:portal_detail", args=[ticket.number])).status_code == 200
    client.force_login(linked_article["agent"])
    assert client.get(reverse("tickets:desk_ticket", args=[ticket.number])).status_code == 200
    assert_no_500(
        client, reverse("knowledge:manage_list"), reverse("knowledge:manage_picker") + "?q=password"
    )
    assert_no_500(any_admin_client, reverse("audit:event_list"), changelist_url(Article))


def test_bulk_actions_on_articles_with_mixed_rows_name_the_refused_and_apply_the_rest(superuser_client):
    """ "Publish selected" on a draft and an already published article: the draft is published (with its
    audit event), the other is named as refused, and the page says how many were done."""
    draft = make_article(title="Draft one", status="draft")
    published = make_article(title="Already out")
    response = select_action(superuser_client, Article, "publish", [draft.pk, published.pk])
    assert response.status_code == 302
    assert Article.objects.get(pk=draft.pk).status == "published"
    said = notes(response)
    assert any("Published 1 article." in note for note in said), said


# 5. People, organisations, teams, roles, invitations.


def test_deleting_a_customer_who_requested_tickets_is_refused_with_a_clear_page(any_admin_client):
    """The requester of a ticket cannot be deleted (the ticket keeps them): a page that says why, never a
    500 ProtectedError, whether from the delete page or "Delete selected"."""
    customer = make_customer(name="Carla Customer")
    # A ticket placed by an agent on the phone: the customer never acted themselves.
    ticket = ticket_services.ticket_create(
        requester=customer, subject="Phoned in", description="Called at nine", actor=None, channel="phone"
    )
    assert not AuditEvent.objects.filter(actor=customer).exists()
    page = any_admin_client.get(delete_url(customer))
    assert page.status_code == 200
    confirmed = any_admin_client.post(delete_url(customer), {"post": "yes"})
    assert confirmed.status_code in (200, 302, 403)
    bulk = select_action(any_admin_client, User, "delete_selected", [customer.pk])
    assert bulk.status_code in (200, 302)
    assert User.objects.filter(pk=customer.pk).exists()
    assert Ticket.objects.filter(pk=ticket.pk, requester=customer).exists()


def test_deleting_a_user_who_never_acted_is_audited_with_their_role_assignments(any_admin_client):
    """A mistaken account that never did anything may be deleted; the deletion is recorded."""
    user = make_customer(name="Mistake")
    response = any_admin_client.post(delete_url(user), {"post": "yes"})
    assert response.status_code == 302, page_text(response)[:2000]
    assert not User.objects.filter(pk=user.pk).exists()
    assert events_about(User, user.pk, action="delete").filter(actor=any_admin_client.actor).exists()


def test_a_superuser_deleting_their_own_fresh_account_gets_a_clear_answer(client):
    """Even one's own account, which the delete's own audit event names as actor, is either refused
    with a page or deleted, never a 500."""
    me = make_administrator(is_superuser=True)
    assert not AuditEvent.objects.filter(actor=me).exists()
    client.force_login(me)
    response = client.post(delete_url(me), {"post": "yes"})
    assert response.status_code < 500


def test_deleting_an_organisation_with_members_and_tickets_is_refused_and_an_empty_one_is_audited(
    any_admin_client,
):
    held = OrganizationFactory(name="Acme")
    customer = make_customer(held, name="Carla")
    make_ticket(customer, actor=None)
    empty = OrganizationFactory(name="Shell")
    invitation = InvitationFactory(organization=empty)
    for url in (delete_url(held),):
        assert any_admin_client.get(url).status_code == 200
        assert any_admin_client.post(url, {"post": "yes"}).status_code in (200, 403)
    assert Organization.objects.filter(pk=held.pk).exists()
    bulk = select_action(any_admin_client, Organization, "delete_selected", [held.pk, empty.pk])
    assert bulk.status_code == 200 and "Acme" in page_text(bulk)
    assert Organization.objects.filter(pk=empty.pk).exists()  # refused whole
    response = any_admin_client.post(delete_url(empty), {"post": "yes"})
    assert response.status_code == 302
    assert events_about(Organization, empty.pk, action="delete").exists()
    assert not Invitation.objects.filter(pk=invitation.pk).exists()


def test_deleting_a_team_with_members_but_no_tickets_is_audited_and_its_members_desks_still_answer(
    any_admin_client, client
):
    team = TeamFactory(name="Night shift")
    agent = make_agent(team, name="Nora Night")
    other = TeamFactory(name="Day shift")
    TeamMember.objects.create(team=other, user=agent)
    view = SavedViewFactory(owner=agent, team=team, name="Night view")
    response = any_admin_client.post(delete_url(team), {"post": "yes"})
    assert response.status_code == 302, page_text(response)[:2000]
    assert not Team.objects.filter(pk=team.pk).exists()
    assert events_about(Team, team.pk, action="delete").exists()
    assert SavedView.objects.get(pk=view.pk).team_id is None
    client.force_login(agent)
    assert_no_500(client, reverse("tickets:desk_queue"), reverse("tickets:desk_queue") + f"?view={view.pk}",
                  reverse("tickets:desk_queue") + f"?team={team.pk}")  # fmt: skip


def test_a_team_holding_only_deleted_tickets_is_still_kept(any_admin_client):
    """A soft-deleted ticket can be restored: its team must still be there to take it back."""
    team = TeamFactory(name="Spam catchers")
    ticket = make_ticket(make_customer(), team=team, actor=None)
    ticket_services.ticket_delete(ticket, actor=make_administrator())
    page = any_admin_client.post(delete_url(team), {"post": "yes"})
    assert page.status_code == 200
    assert Team.objects.filter(pk=team.pk).exists()


def test_built_in_roles_cannot_be_deleted_and_a_custom_unused_one_is_audited(any_admin_client):
    agent_role = Group.objects.get(name=roles.AGENT)
    assert any_admin_client.post(delete_url(agent_role), {"post": "yes"}).status_code in (403, 200)
    assert Group.objects.filter(pk=agent_role.pk).exists()
    custom = Group.objects.create(name="Temporary helpers")
    page = select_action(
        any_admin_client, Group, "delete_selected", [agent_role.pk, custom.pk], confirm=False
    )
    assert page.status_code == 200
    bulk = select_action(any_admin_client, Group, "delete_selected", [agent_role.pk, custom.pk])
    assert bulk.status_code in (200, 302, 403)
    assert Group.objects.filter(pk=agent_role.pk).exists()
    response = any_admin_client.post(delete_url(custom), {"post": "yes"})
    assert response.status_code == 302
    assert events_about(Group, custom.pk, action="delete").exists()


def test_a_role_assignment_deleted_in_the_admin_is_recorded_as_a_role_change(any_admin_client):
    agent = make_agent(TeamFactory())
    assignment = RoleAssignment.objects.get(user=agent, role__name=roles.AGENT)
    response = any_admin_client.post(delete_url(assignment), {"post": "yes"})
    assert response.status_code == 302
    event = events_about(agent, action="role_change").order_by("-sequence").first()
    assert event is not None and event.changes["role"] == [roles.AGENT, None]
    assert event.category == AuditEvent.Category.SECURITY


def test_a_membership_deleted_in_the_admin_is_recorded_on_the_team(any_admin_client):
    team = TeamFactory(name="Support")
    agent = make_agent(team, name="Alex Agent")
    membership = TeamMember.objects.get(team=team, user=agent)
    response = select_action(any_admin_client, TeamMember, "delete_selected", [membership.pk])
    assert response.status_code == 302
    assert not TeamMember.objects.filter(pk=membership.pk).exists()
    event = events_about(team, action="update").order_by("-sequence").first()
    assert event is not None and event.changes["member"][1] is None


def test_deleting_an_invitation_that_was_used_is_audited_and_signing_up_with_it_is_a_clear_refusal(
    any_admin_client, client
):
    invitation = InvitationFactory(code="WELCOME-1", max_uses=5)
    Invitation.objects.filter(pk=invitation.pk).update(uses=2)
    response = any_admin_client.post(delete_url(invitation), {"post": "yes"})
    assert response.status_code == 302
    assert events_about(Invitation, invitation.pk, action="delete").exists()
    client.logout()
    signup = client.post(
        reverse("accounts:signup"),
        {"email": "new@example.org", "name": "New", "password": "Zq9!long-enough-pass",
         "invitation_code": "WELCOME-1"},
    )  # fmt: skip
    assert signup.status_code < 500


def test_a_skill_deleted_in_the_admin_is_audited(any_admin_client):
    skill = SkillFactory(name="Printers")
    response = any_admin_client.post(delete_url(skill), {"post": "yes"})
    assert response.status_code == 302
    assert not Skill.objects.filter(pk=skill.pk).exists()
    assert events_about(Skill, skill.pk, action="delete").exists()


# 6. Confirmation pages change nothing.


@pytest.mark.parametrize("kind", ["tag", "form", "category", "skill", "invitation", "organization", "team"])
def test_confirmation_pages_change_nothing(superuser_client, kind):
    """Opening a delete page, or the "Delete selected" confirmation (posted without "Yes, I'm sure"),
    deletes nothing and records nothing."""
    factories = {
        "tag": lambda: TagFactory(name="some-tag"),
        "form": TicketFormFactory,
        "category": CategoryFactory,
        "skill": lambda: SkillFactory(name="Billing"),
        "invitation": InvitationFactory,
        "organization": OrganizationFactory,
        "team": TeamFactory,
    }
    obj = factories[kind]()
    before = AuditEvent.objects.count()
    assert superuser_client.get(delete_url(obj)).status_code == 200
    page = select_action(superuser_client, type(obj), "delete_selected", [obj.pk], confirm=False)
    assert page.status_code == 200
    assert type(obj).objects.filter(pk=obj.pk).exists()
    assert AuditEvent.objects.count() == before


# 7. Bulk ticket actions with mixed rows.


def test_restoring_tickets_that_were_never_deleted_is_not_reported_as_a_restore(superuser_client):
    """ "Restore the selected deleted tickets" on one deleted and one live ticket: only the deleted one is
    reported as restored; the live one, which nothing happened to, is not counted (or is named as not
    deleted), so the administrator is not told of a restore that did not happen."""
    customer = make_customer()
    deleted = make_ticket(customer, subject="Spam by mistake")
    live = make_ticket(customer, subject="Live one")
    ticket_services.ticket_delete(deleted, actor=make_administrator())
    response = select_action(superuser_client, Ticket, "restore_tickets", [deleted.pk, live.pk])
    assert response.status_code == 302
    said = notes(response)
    assert not events_about(live, action="ticket.restored").exists()
    assert not any(live.reference in note and note.startswith("Restored") for note in said), said
    assert any(f"Restored 1 ticket: {deleted.reference}." == note for note in said), said


def test_deleting_tickets_already_deleted_is_not_reported_as_a_deletion(superuser_client):
    """ "Delete the selected tickets" on a ticket deleted before and a live one: the message counts the
    one actually deleted now."""
    customer = make_customer()
    before = make_ticket(customer, subject="Deleted yesterday")
    live = make_ticket(customer, subject="Live one")
    ticket_services.ticket_delete(before, actor=make_administrator())
    events_before = events_about(before, action="ticket.deleted").count()
    response = select_action(superuser_client, Ticket, "delete_tickets", [before.pk, live.pk])
    assert response.status_code == 302
    assert events_about(before, action="ticket.deleted").count() == events_before
    said = notes(response)
    assert any(f"Deleted 1 ticket: {live.reference}." == note for note in said), said


# 8. "In use" decided at the confirmation, then taken meanwhile: checked again when deleting.


def _taken_right_after_the_check(monkeypatch, admin_class, take):
    """`take()` runs just after the admin decided the object is free to delete (a colleague's change
    committing between the check and the DELETE, as the Tag admin guards against with its lock)."""
    original = admin_class.get_deleted_objects

    def checked_then_taken(self, objs, request):
        answer = original(self, objs, request)
        if request.method == "POST" and request.POST.get("post"):
            take()
        return answer

    monkeypatch.setattr(admin_class, "get_deleted_objects", checked_then_taken)


def _team_given_a_ticket_right_after_the_check(monkeypatch, team):
    """A supervisor moves a ticket of another team into `team` just after the admin found it free to
    delete, and returns that ticket."""
    from accounts.admin import TeamAdmin

    other = TeamFactory(name="Support")
    supervisor = make_supervisor(team, other)
    ticket = make_ticket(make_customer(), team=other)
    _taken_right_after_the_check(
        monkeypatch, TeamAdmin,
        lambda: ticket_services.ticket_update_fields(ticket, changes={"team": team}, actor=supervisor),
    )  # fmt: skip
    return ticket


def test_a_team_given_a_ticket_between_the_check_and_the_delete_is_kept(superuser_client, monkeypatch):
    """The ticket an agent moved into the team while the administrator confirmed its deletion does not
    silently lose its team (dropping out of every queue with nothing on its timeline): the team is kept,
    as a team holding tickets is, and the ticket keeps its team."""
    team = TeamFactory(name="Closing down")
    ticket = _team_given_a_ticket_right_after_the_check(monkeypatch, team)
    response = superuser_client.post(delete_url(team), {"post": "yes"})
    assert response.status_code < 500
    assert Ticket.objects.get(pk=ticket.pk).team_id == team.pk
    assert Team.objects.filter(pk=team.pk).exists()
    # Django writes "Deleted …" in the history before the deletion runs: not for a team it kept.
    assert deletions_logged(team) == 0
    assert not events_about(team, action="delete").exists()


def test_delete_selected_counts_the_rows_it_deleted_not_those_selected(superuser_client, monkeypatch):
    """Two teams selected, one given a ticket while the deletion was confirmed: the kept one is said to be
    kept and the success message counts one team. Before the fix Django's message said "Successfully
    deleted 2 teams" beside the warning."""
    team, spare = TeamFactory(name="Closing down"), TeamFactory(name="Spare")
    _team_given_a_ticket_right_after_the_check(monkeypatch, team)
    bulk = {"action": "delete_selected", ACTION_CHECKBOX_NAME: [team.pk, spare.pk], "post": "yes"}
    shown = notes(superuser_client.post(changelist_url(Team), bulk, follow=True))
    assert Team.objects.filter(pk=team.pk).exists() and not Team.objects.filter(pk=spare.pk).exists()
    assert "Deleted 1 team." in shown
    assert not any("2 teams" in note for note in shown), shown
    assert any("It was kept." in note for note in shown), shown


def test_delete_selected_that_kept_everything_says_no_success(superuser_client, monkeypatch):
    """The only team selected was given a ticket meanwhile: no success message at all."""
    team = TeamFactory(name="Closing down")
    _team_given_a_ticket_right_after_the_check(monkeypatch, team)
    bulk = {"action": "delete_selected", ACTION_CHECKBOX_NAME: [team.pk], "post": "yes"}
    shown = notes(superuser_client.post(changelist_url(Team), bulk, follow=True))
    assert Team.objects.filter(pk=team.pk).exists()
    assert not any("Deleted" in note or "deleted" in note for note in shown), shown


def test_a_category_given_an_article_between_the_check_and_the_delete_is_kept(superuser_client, monkeypatch):
    """An article an editor moved into the category while its deletion was being confirmed keeps its
    category (no change on the article without a revision or an audit event)."""
    from knowledge.admin import CategoryAdmin

    category = CategoryFactory(name="Retiring", slug="retiring")
    article = make_article(title="Moved in")
    _taken_right_after_the_check(
        monkeypatch, CategoryAdmin,
        lambda: kb_services.article_update(Article.objects.get(pk=article.pk), actor=None, category=category),
    )  # fmt: skip
    response = superuser_client.post(delete_url(category), {"post": "yes"})
    assert response.status_code < 500
    assert Article.objects.get(pk=article.pk).category_id == category.pk


def test_a_ticket_form_used_between_the_check_and_the_delete_is_kept(superuser_client, monkeypatch):
    """A ticket submitted with the form while its deletion was being confirmed keeps its form, whose
    schema labels its custom fields."""
    from tickets.admin import TicketFormAdmin

    form = TicketFormFactory(slug="returns")
    customer = make_customer()
    made = []
    _taken_right_after_the_check(
        monkeypatch, TicketFormAdmin,
        lambda: made.append(make_ticket(customer, form=form, custom_fields={"order_number": "A-1"})),
    )  # fmt: skip
    response = superuser_client.post(delete_url(form), {"post": "yes"})
    assert response.status_code < 500
    assert Ticket.objects.get(pk=made[0].pk).form_id == form.pk


def test_an_administrator_by_role_can_remove_a_misleading_shared_view(administrator_client):
    """SavedViewAdmin's promise: "An administrator looks them up and deletes one (audited), say a shared
    view that misleads a team". An Administrator by role (not only a superuser) can list the saved views
    and delete one, with an audit event."""
    team = TeamFactory(name="Support")
    agent = make_agent(team)
    view = ticket_services.saved_view_create(name="All closed", query="status=closed", team=team, actor=agent)
    assert administrator_client.get(changelist_url(SavedView)).status_code == 200
    response = administrator_client.post(delete_url(view), {"post": "yes"})
    assert response.status_code == 302
    assert not SavedView.objects.filter(pk=view.pk).exists()
    assert events_about(SavedView, view.pk, action="delete").exists()


@pytest.mark.parametrize("url_name", [
    "admin:helpdesk_siteconfiguration", "admin:helpdesk_periodictaskrun", "admin:axes_accessattempt",
])  # fmt: skip
def test_rows_only_the_application_writes_cannot_be_deleted_even_by_a_superuser(superuser_client, url_name):
    """The site configuration (a singleton), the scheduler's runs and the sign-in attempts (deleting them
    would unlock without an audit event) offer no delete, one at a time or in bulk."""
    from axes.models import AccessAttempt
    from django.utils import timezone

    from helpdesk.models import PeriodicTaskRun, SiteConfiguration

    rows = {
        "admin:helpdesk_siteconfiguration": lambda: SiteConfiguration.objects.get_or_create(pk=1)[0],
        "admin:helpdesk_periodictaskrun": lambda: PeriodicTaskRun.objects.create(
            task="x", last_enqueued_at=timezone.now()
        ),
        "admin:axes_accessattempt": lambda: AccessAttempt.objects.create(
            ip_address="10.0.0.1",
            username="a@example.org",
            failures_since_start=9,
            attempt_time=timezone.now(),
            user_agent="x",
            path_info="/accounts/login/",
        ),
    }
    obj = rows[url_name]()
    model = type(obj)
    assert (
        superuser_client.post(reverse(f"{url_name}_delete", args=[obj.pk]), {"post": "yes"}).status_code
        == 403
    )
    listing = superuser_client.get(reverse(f"{url_name}_changelist"))
    assert 'value="delete_selected"' not in listing.content.decode()
    select_action(superuser_client, model, "delete_selected", [obj.pk])
    assert model.objects.filter(pk=obj.pk).exists()


def test_a_user_who_signs_in_while_their_deletion_is_confirmed_gets_a_clear_refusal_not_a_500(
    superuser_client, monkeypatch
):
    """The account to delete had never acted when the page was opened; its owner signs in (an audit
    event naming them as actor, which protects them) just before "Yes, I'm sure" is handled: the
    administrator is told it is now in use, never shown a server error (ProtectedError)."""
    from accounts.admin import UserAdmin
    from audit import record

    user = make_customer(name="Late Larry")
    _taken_right_after_the_check(
        monkeypatch, UserAdmin, lambda: record("login", actor=user, obj=user, category="security")
    )
    superuser_client.raise_request_exception = False
    response = superuser_client.post(delete_url(user), {"post": "yes"})
    assert response.status_code < 500
    assert User.objects.filter(pk=user.pk).exists()


def test_an_agent_given_a_ticket_while_their_deletion_is_confirmed_keeps_it(superuser_client, monkeypatch):
    """UserAdmin refuses to delete an agent who holds tickets ("Reassign them from the desk first"); a
    ticket assigned to them between the check and the delete is not silently unassigned."""
    from accounts.admin import UserAdmin

    team = TeamFactory(name="Support")
    agent = UserFactory(name="New Nick")
    from accounts import services as account_services

    account_services.role_assign(agent, roles.AGENT, actor=None)
    TeamMember.objects.create(team=team, user=agent)
    supervisor = make_supervisor(team)
    ticket = make_ticket(make_customer(), team=team)
    assert not AuditEvent.objects.filter(actor=agent).exists()
    _taken_right_after_the_check(
        monkeypatch,
        UserAdmin,
        lambda: ticket_services.ticket_assign(
            ticket, assignee=User.objects.get(pk=agent.pk), actor=supervisor
        ),
    )
    superuser_client.raise_request_exception = False
    response = superuser_client.post(delete_url(agent), {"post": "yes"})
    assert response.status_code < 500
    assert Ticket.objects.get(pk=ticket.pk).assignee_id == agent.pk


def test_a_follow_up_of_a_ticket_deleted_in_the_admin_still_opens_for_customer_and_agent(
    superuser_client, ticket_with_file, client
):
    """A customer's answer on a closed ticket opened a follow-up; the closed one is then deleted in the
    admin. The follow-up's portal page and workspace still open (without a link to a page that 404s)."""
    from tickets.workflow import Status

    ticket, customer, agent = (
        ticket_with_file["ticket"],
        ticket_with_file["customer"],
        ticket_with_file["agent"],
    )
    ticket_services.ticket_transition(ticket, status=Status.CLOSED, actor=agent)
    message = ticket_services.ticket_reply(
        Ticket.objects.get(pk=ticket.pk), body="It is back", actor=customer
    )
    follow_up = message.ticket
    assert follow_up.pk != ticket.pk and follow_up.follow_up_of_id == ticket.pk
    select_action(superuser_client, Ticket, "delete_tickets", [ticket.pk])
    dead_link_portal = reverse("tickets:portal_detail", args=[ticket.number])
    dead_link_desk = reverse("tickets:desk_ticket", args=[ticket.number])
    client.force_login(customer)
    page = client.get(reverse("tickets:portal_detail", args=[follow_up.number]))
    assert page.status_code == 200 and f'href="{dead_link_portal}"' not in page.content.decode()
    client.force_login(agent)
    page = client.get(reverse("tickets:desk_ticket", args=[follow_up.number]))
    assert page.status_code == 200 and f'href="{dead_link_desk}"' not in page.content.decode()


# 9. The object's history (Django's LogEntry) lists a deletion only for the rows that were deleted.


def deletions_logged(obj) -> int:
    from django.contrib.admin.models import DELETION, LogEntry

    content_type = ContentType.objects.get_for_model(obj)
    return LogEntry.objects.filter(
        content_type=content_type, object_id=str(obj.pk), action_flag=DELETION
    ).count()


def test_a_bulk_delete_lists_only_the_rows_it_deleted(superuser_client, monkeypatch):
    """ "Delete selected" over two teams, one of which a ticket came to hold between the confirmation and
    the deletion: that one is kept, the other deleted, and the history says so of the deleted one only,
    as the audit trail does."""
    closing, taken = TeamFactory(name="Closing"), TeamFactory(name="Taken")
    _team_given_a_ticket_right_after_the_check(monkeypatch, taken)
    select_action(superuser_client, Team, "delete_selected", [closing.pk, taken.pk])
    assert list(Team.objects.filter(pk__in=[closing.pk, taken.pk])) == [taken]
    assert [deletions_logged(team) for team in (closing, taken)] == [1, 0]
    assert [events_about(team, action="delete").count() for team in (closing, taken)] == [1, 0]


def test_a_plain_delete_is_still_listed_in_the_history(superuser_client):
    skill = SkillFactory(name="Soldering")
    superuser_client.post(delete_url(skill), {"post": "yes"})
    assert not Skill.objects.filter(pk=skill.pk).exists()
    assert deletions_logged(skill) == 1
