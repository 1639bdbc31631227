"""Closed tickets are final for their properties (desk bulk, merge, admin), the inline
edit's double-submit answer, names made one line everywhere (invisible and right-to-left marks), KB
editor limits, the admin's refused saves and deletions of people and teams that hold closed tickets."""

from html import unescape

import pytest
from django.urls import reverse

from accounts.models import Organization, Team, User
from knowledge.models import Article, Category
from tests.admin_pages import delete_url, form_data, post_change
from tests.conftest import made_once_per_module
from tests.factories import (
    TeamFactory,
    article_form_data,
    make_administrator,
    make_agent,
    make_article,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tickets import services
from tickets.models import SavedView, Tag, Ticket, TicketForm
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

ALM = "\u061c"  # ARABIC LETTER MARK: a right-to-left mark like U+200F, showing nothing
INVISIBLE_NAMES = ["\u200f\u200e", "\u202e\u2066", "\u200b\u2060", "\u3164", ALM, ALM + "\u200f"]


def text(response) -> str:
    return unescape(response.content.decode())


def fresh(ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def make_world():
    support, billing = TeamFactory(name="Support"), TeamFactory(name="Billing")
    supervisor = make_supervisor(support, billing, name="Sam Supervisor")
    colleague = make_agent(support, name="Casey Colleague")
    customer = make_customer(name="Carla Customer")
    open_one = make_ticket(customer, team=support, subject="Still open")
    services.ticket_assign(open_one, assignee=colleague, actor=supervisor)
    closed = make_ticket(customer, team=support, subject="Done and closed")
    services.ticket_assign(closed, assignee=colleague, actor=supervisor)
    services.ticket_set_tags(fresh(closed), names=["kept"], actor=supervisor)
    services.ticket_transition(fresh(closed), status=Status.CLOSED, actor=supervisor)
    return {"support": support, "billing": billing, "supervisor": supervisor, "colleague": colleague,
            "customer": customer, "open": fresh(open_one), "closed": fresh(closed)}  # fmt: skip


_world_rows, world = made_once_per_module(make_world, "world")


def snapshot(ticket):
    t = fresh(ticket)
    return (
        t.status,
        t.priority,
        t.team_id,
        t.assignee_id,
        t.version,
        sorted(t.tags.values_list("name", flat=True)),
    )


# --- Bulk actions over closed and open tickets ---------------------------------------------------


@pytest.mark.parametrize(
    "action,value",
    [
        ("assign_me", ""),
        ("unassign", ""),
        ("priority", "urgent"),
        ("team", "billing"),
        ("add_tag", "newtag"),
        ("remove_tag", "kept"),
        ("status", "on_hold"),
        ("status", "pending"),
    ],
)
def test_bulk_over_closed_and_open_names_the_closed_one_and_changes_only_the_open_one(
    client, world, action, value
):
    closed, open_one = world["closed"], world["open"]
    if action == "team":
        value = str(world["billing"].pk)
    if action == "remove_tag":
        services.ticket_set_tags(open_one, names=["kept"], actor=world["supervisor"])
        open_one = fresh(open_one)
    before = snapshot(closed)
    client.force_login(world["supervisor"])
    response = client.post(
        reverse("tickets:desk_bulk"),
        {
            "action": action,
            "value": value,
            "tickets": [f"{open_one.pk}:{open_one.version}", f"{closed.pk}:{closed.version}"],
        },
        follow=True,
    )
    assert response.status_code == 200
    page = text(response)
    assert snapshot(closed) == before
    assert f"{closed.reference} was not changed" in page
    assert fresh(open_one).version == open_one.version + 1
    assert f"Updated 1 ticket: {open_one.reference}" in page


def test_bulk_on_a_closed_ticket_already_as_asked_is_already_so_not_refused(client, world):
    closed = world["closed"]
    before = snapshot(closed)
    client.force_login(world["supervisor"])
    response = client.post(
        reverse("tickets:desk_bulk"),
        {"action": "add_tag", "value": "kept", "tickets": [f"{closed.pk}:{closed.version}"]},
        follow=True,
    )
    page = text(response)
    assert snapshot(closed) == before
    assert "Already so" in page and "was not changed" not in page


def test_bulk_close_confirmed_over_closed_and_open(client, world):
    closed, open_one = world["closed"], world["open"]
    client.force_login(world["supervisor"])
    response = client.post(
        reverse("tickets:desk_bulk"),
        {
            "action": "status",
            "value": "closed",
            "confirm": "close",
            "tickets": [f"{open_one.pk}:{open_one.version}", f"{closed.pk}:{closed.version}"],
        },
        follow=True,
    )
    assert response.status_code == 200
    assert fresh(open_one).status == Status.CLOSED
    assert fresh(closed).version == closed.version


# --- Merges into and from closed tickets -----------------------------------------------------------


def test_merge_into_a_closed_ticket_is_refused_with_a_message(client, world):
    open_one, closed = world["open"], world["closed"]
    client.force_login(world["supervisor"])
    url = reverse("tickets:desk_merge", args=[open_one.number])
    response = client.post(url, {"into": closed.reference, "version": open_one.version})
    assert response.status_code == 422
    assert services.MERGE_DONE.format(ticket=closed.reference) in text(response)
    confirmed = client.post(url, {"into": closed.reference, "version": open_one.version, "confirm": "merge"})
    assert confirmed.status_code == 422
    assert fresh(open_one).merged_into_id is None and fresh(open_one).status != Status.CLOSED
    assert snapshot(closed)[4] == closed.version


def test_merge_from_a_closed_ticket_is_refused_with_a_message(client, world):
    open_one, closed = world["open"], world["closed"]
    client.force_login(world["supervisor"])
    url = reverse("tickets:desk_merge", args=[closed.number])
    for extra in ({}, {"confirm": "merge"}):
        response = client.post(url, {"into": open_one.reference, "version": closed.version, **extra})
        assert response.status_code == 422
        assert services.MERGE_DONE.format(ticket=closed.reference) in text(response)
    assert fresh(closed).merged_into_id is None
    assert fresh(open_one).version == open_one.version


def test_merge_into_a_ticket_closed_between_confirmation_and_merge(client, world):
    customer, support = world["customer"], world["support"]
    source = make_ticket(customer, team=support, subject="Dup")
    target = world["open"]
    client.force_login(world["supervisor"])
    url = reverse("tickets:desk_merge", args=[source.number])
    ask = client.post(url, {"into": target.reference, "version": source.version})
    assert ask.status_code == 200
    services.ticket_transition(fresh(target), status=Status.CLOSED, actor=world["supervisor"])
    response = client.post(
        url,
        {
            "into": target.reference,
            "version": source.version,
            "into_version": target.version,
            "confirm": "merge",
        },
    )
    assert response.status_code == 422
    assert fresh(source).merged_into_id is None
    assert fresh(source).messages.exists()


# --- The admin on closed tickets -------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "open"},
        {"status": "resolved"},
        {"status": "open", "priority": "urgent"},
        {"status": "open", "escalation_level": "2"},
        {"subject": "Renamed after closing"},
        {"status": "open", "team": "billing"},
    ],
)
def test_admin_reopening_or_changing_a_closed_ticket_is_a_clear_422(superuser_client, world, changes):
    closed = world["closed"]
    before = snapshot(closed)
    subject = fresh(closed).subject
    if changes.get("team") == "billing":
        changes = {**changes, "team": str(world["billing"].pk)}
    response = post_change(superuser_client, closed, **changes)
    assert response.status_code == 422
    page = text(response)
    assert "Not saved: " in page and "changed successfully" not in page
    assert snapshot(closed) == before and fresh(closed).subject == subject


def test_admin_saves_a_closed_ticket_unchanged_without_refusal(superuser_client, world):
    closed = world["closed"]
    before = snapshot(closed)
    response = post_change(superuser_client, closed)
    assert response.status_code == 302
    assert snapshot(closed) == before


def test_admin_saves_a_closed_ticket_whose_assignee_was_suspended_unchanged(superuser_client, world):
    """A closed ticket keeps its assignee as its record; the admin page showing it must still save."""
    closed = world["closed"]
    User.objects.filter(pk=world["colleague"].pk).update(status=User.Status.SUSPENDED)
    before = snapshot(closed)
    response = post_change(superuser_client, closed)
    assert response.status_code in (302, 422)
    assert response.status_code != 500
    assert snapshot(closed) == before


def test_admin_saves_a_closed_ticket_whose_team_was_closed_down_unchanged(superuser_client, world):
    """A closed ticket keeps its team as its record, even when the team is closed down since: saving the
    admin page unchanged must not be refused over a choice the page itself showed."""
    closed = world["closed"]
    Team.objects.filter(pk=world["support"].pk).update(is_active=False)
    before = snapshot(closed)
    response = post_change(superuser_client, closed)
    assert response.status_code == 302, text(response)[:300]
    assert snapshot(closed) == before


# --- The admin deleting people and teams that hold closed tickets ----------------------------------


def test_admin_delete_page_of_an_agent_holding_closed_tickets_says_why(superuser_client, world):
    colleague = world["colleague"]
    page = superuser_client.get(delete_url(colleague))
    assert page.status_code == 200
    assert "closed ticket keeps its assignee" in text(page)
    response = superuser_client.post(delete_url(colleague), {"post": "yes"}, follow=True)
    assert response.status_code == 200
    assert User.objects.filter(pk=colleague.pk).exists()
    assert fresh(world["closed"]).assignee_id == colleague.pk


def test_admin_delete_selected_users_with_closed_tickets_is_refused_not_500(superuser_client, world):
    colleague = world["colleague"]
    url = reverse("admin:accounts_user_changelist")
    data = {"action": "delete_selected", "_selected_action": [colleague.pk]}
    page = superuser_client.post(url, data)
    assert page.status_code in (200, 302)
    response = superuser_client.post(url, {**data, "post": "yes"}, follow=True)
    assert response.status_code == 200
    assert User.objects.filter(pk=colleague.pk).exists()


def test_admin_delete_of_a_team_holding_only_closed_tickets_says_why(superuser_client, world):
    # A team whose only ticket is closed.
    team = TeamFactory(name="Retired")
    Ticket.objects.filter(pk=world["closed"].pk).update(team=team)
    page = superuser_client.get(delete_url(team))
    assert page.status_code == 200
    assert "closed ticket keeps its team" in text(page)
    response = superuser_client.post(delete_url(team), {"post": "yes"}, follow=True)
    assert response.status_code == 200
    assert Team.objects.filter(pk=team.pk).exists()
    url = reverse("admin:accounts_team_changelist")
    data = {"action": "delete_selected", "_selected_action": [team.pk], "post": "yes"}
    assert superuser_client.post(url, data, follow=True).status_code == 200
    assert Team.objects.filter(pk=team.pk).exists()


def test_admin_delete_of_the_requester_of_a_closed_ticket_is_refused_not_500(superuser_client, world):
    requester = make_customer(name="Quiet Requester")
    ticket = make_ticket(requester, team=world["support"], actor=None)
    services.ticket_transition(ticket, status=Status.CLOSED, actor=None)
    page = superuser_client.get(delete_url(requester))
    assert page.status_code == 200
    response = superuser_client.post(delete_url(requester), {"post": "yes"}, follow=True)
    assert response.status_code == 200
    assert User.objects.filter(pk=requester.pk).exists()


# --- Double submission of the same inline edit ------------------------------------------------------


def update_url(ticket) -> str:
    return reverse("tickets:desk_update", args=[ticket.number])


def edit(field, value, version) -> dict:
    return {"field": field, "value": value, "version": version}


@pytest.mark.parametrize("htmx", [False, True])
def test_double_submit_after_a_colleagues_other_change_is_stale_and_keeps_theirs(client, world, htmx):
    ticket = world["open"]
    seen = ticket.version
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    client.force_login(world["supervisor"])
    first = client.post(update_url(ticket), edit("priority", "high", seen), **headers)
    assert first.status_code in (200, 302)
    # Between the two clicks a colleague tags the ticket.
    services.ticket_set_tags(fresh(ticket), names=["colleagues"], actor=world["colleague"])
    again = client.post(update_url(ticket), edit("priority", "high", seen), **headers)
    assert again.status_code == 409
    assert "Someone changed this ticket" in text(again)
    t = fresh(ticket)
    assert t.priority == "high" and list(t.tags.values_list("name", flat=True)) == ["colleagues"]


def test_double_submit_after_a_customer_reply_is_not_answered_saved(client, world):
    """The agent's page is version v; the priority was set to high by this agent earlier. A customer
    replies (v+1, their activity); the agent sends priority=high from the page: it must be stale, since
    there is a message they have not seen."""
    ticket = world["open"]
    client.force_login(world["supervisor"])
    services.ticket_update_fields(ticket, changes={"priority": "high"}, actor=world["supervisor"])
    seen = fresh(ticket).version
    services.ticket_reply(fresh(ticket), body="Any news?", actor=world["customer"])
    again = client.post(update_url(ticket), edit("priority", "high", seen), follow=True)
    assert "Someone changed this ticket" in text(again)
    assert "Saved." not in text(again)


def test_double_submit_after_a_colleagues_note_is_not_answered_saved(client, world):
    ticket = world["open"]
    client.force_login(world["supervisor"])
    seen = ticket.version
    assert client.post(update_url(ticket), edit("priority", "high", seen), follow=True).status_code == 200
    services.ticket_add_note(fresh(ticket), body="Heads-up", actor=world["colleague"])
    again = client.post(update_url(ticket), edit("priority", "high", seen), follow=True)
    assert again.status_code == 409
    assert "Saved." not in text(again)


def test_a_second_click_on_save_tags_is_not_blamed_on_a_colleague(client, world):
    """A double click on the tags' Save without JavaScript: the first saves the tags, the second finds
    the agent's own change. The user expects "Saved." (as for priority, status, team and assignee);
    the page says "Someone changed this ticket since you opened it … Yours was not saved" (409),
    which is wrong on both counts."""
    ticket = world["open"]
    seen = ticket.version
    client.force_login(world["supervisor"])
    assert client.post(update_url(ticket), edit("tags", "billing, vip", seen)).status_code == 302
    again = client.post(update_url(ticket), edit("tags", "billing, vip", seen), follow=True)
    assert "Someone changed this ticket" not in text(again)
    assert again.status_code == 200
    assert fresh(ticket).version == seen + 1


def test_double_submit_on_a_ticket_closed_by_the_first_click(client, world):
    ticket = world["open"]
    seen = ticket.version
    client.force_login(world["supervisor"])
    confirmed = {**edit("status", "closed", seen), "confirm": "close"}
    assert client.post(update_url(ticket), confirmed).status_code == 302
    again = client.post(update_url(ticket), confirmed, follow=True)
    assert again.status_code == 200 and "Saved." in text(again)
    assert fresh(ticket).version == seen + 1


@pytest.mark.parametrize("htmx", [False, True])
def test_closing_inline_asks_once_more_and_the_answer_closes(client, world, htmx):
    """Closed is final: choosing it in the status menu asks first, as the bulk close does."""
    ticket = world["open"]
    before = snapshot(ticket)
    client.force_login(world["supervisor"])
    headers = {"HX-Request": "true"} if htmx else {}
    queue = {"queue": "status=open", "previous": "0", "next": "0"}
    asked = client.post(
        update_url(ticket), {**edit("status", "closed", ticket.version), **queue}, headers=headers
    )
    assert asked.status_code == 200 and snapshot(ticket) == before
    page = text(asked)
    assert f"Close {ticket.reference} for good?" in page and "Saved." not in page
    question = page.split('id="close-confirm"')[1].split("</form>")[0]
    assert '<button type="submit" name="confirm" value="close"' in question
    hidden = ['name="field" value="status"', 'name="value" value="closed"',
              f'name="version" value="{ticket.version}"', 'name="queue" value="status=open"']  # fmt: skip
    assert all(field in question for field in hidden)
    assert f'href="/desk/tickets/{ticket.number}/?queue=status%3Dopen' in question  # Cancel: back to it
    answered = {**edit("status", "closed", ticket.version), **queue, "confirm": "close"}
    closed = client.post(update_url(ticket), answered, headers=headers)
    assert closed.status_code == (200 if htmx else 302)
    assert fresh(ticket).status == Status.CLOSED and fresh(ticket).version == ticket.version + 1


def test_a_close_that_cannot_happen_is_refused_at_once_without_asking(client, world):
    ticket = world["open"]
    services.ticket_update_fields(ticket, changes={"priority": "high"}, actor=world["colleague"])
    client.force_login(world["supervisor"])
    response = client.post(update_url(ticket), edit("status", "closed", ticket.version))  # page before
    assert response.status_code == 409 and "for good?" not in text(response)
    assert "Someone changed this ticket" in text(response) and fresh(ticket).status == ticket.status


def test_inline_edits_of_a_closed_ticket_from_its_own_page_are_409_with_the_final_message(client, world):
    closed = world["closed"]
    client.force_login(world["supervisor"])
    for field, value in [("priority", "urgent"), ("team", str(world["billing"].pk)), ("tags", "x"),
                         ("assignee", ""), ("take", ""), ("status", "open")]:  # fmt: skip
        response = client.post(update_url(closed), edit(field, value, closed.version))
        assert response.status_code in (409, 422), field
        assert response.status_code != 500
    assert snapshot(closed)[4] == closed.version


# --- Names of invisible characters and right-to-left marks -----------------------------------------


@pytest.mark.parametrize("name", INVISIBLE_NAMES)
def test_saved_view_named_only_with_invisible_characters_is_refused(client, world, name):
    """A view name that shows nothing (zero-width, direction marks, including the Arabic letter mark
    U+061C, a right-to-left mark like U+200F) is a blank row in the sidebar: 422 with a message."""
    client.force_login(world["supervisor"])
    response = client.post(reverse("tickets:desk_view_create"), {"name": name, "query": "status=open"})
    assert response.status_code == 422
    assert not SavedView.objects.filter(owner=world["supervisor"]).exists()


@pytest.mark.parametrize(
    "again",
    [
        "Urg\u200bent",
        "Urgent\u2060",
        "\u200fUrgent",
        "Urg\u202eent",
        "\ufeffUrgent",
        " Urgent  ",
        "Urgent\u00a0",
        "URGENT",
        "Urgent" + ALM,
        ALM + "Urgent",
    ],
)
def test_saved_view_names_that_differ_only_by_invisible_characters_are_one_name(client, world, again):
    """Two of one's views whose names read alike are one name twice in the sidebar: refused (422). The
    Arabic letter mark (U+061C) shows nothing, like U+200F, yet makes another name."""
    client.force_login(world["supervisor"])
    url = reverse("tickets:desk_view_create")
    assert client.post(url, {"name": "Urgent", "query": "status=open"}).status_code == 302
    response = client.post(url, {"name": again, "query": "priority=high"})
    assert response.status_code == 422
    assert SavedView.objects.filter(owner=world["supervisor"]).count() == 1


@pytest.mark.parametrize("name", INVISIBLE_NAMES)
def test_profile_name_of_only_invisible_characters_is_refused(client, world, name):
    """A name that shows nothing (here the Arabic letter mark U+061C, a right-to-left mark like U+200F)
    is refused (422), not stored as a blank label."""
    user = world["customer"]
    client.force_login(user)
    response = client.post(
        reverse("accounts:profile"), {"save_profile": "1", "name": name, "timezone": "UTC"}
    )
    assert response.status_code == 422
    assert User.objects.get(pk=user.pk).name == "Carla Customer"


def admin_add(client, model, **fields):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")
    page = client.get(url)
    assert page.status_code == 200
    return client.post(url, form_data(page, **fields))


@pytest.mark.parametrize("name", INVISIBLE_NAMES)
@pytest.mark.parametrize(
    "model,fields",
    [
        (Team, {"slug": "blank-team"}),
        (Organization, {"slug": "blank-org"}),
        (Category, {"slug": "blank-category"}),
        (TicketForm, {"slug": "blank-form"}),
    ],
)
def test_admin_names_of_only_invisible_characters_are_refused(superuser_client, model, fields, name):
    """A row's name that shows nothing is a blank row in every list and picker. 422 with the
    form again. The Arabic letter mark (U+061C), a right-to-left mark like U+200F, is let through."""
    field = "title" if model is TicketForm else "name"
    before = model.objects.count()
    response = admin_add(superuser_client, model, **{field: name, **fields})
    assert response.status_code == 422
    assert model.objects.count() == before


@pytest.mark.parametrize("name", INVISIBLE_NAMES)
def test_admin_user_name_of_only_invisible_characters_is_refused(superuser_client, world, name):
    user = world["colleague"]
    """The name is optional in the admin (the e-mail stands in for none); a name that shows nothing must
    be refused or stored as no name, never kept as a blank label in every list and the timeline. With
    the Arabic letter mark (U+061C) it is stored as it is and the agent shows as nothing."""
    from helpdesk.forms import shows_text

    response = post_change(superuser_client, user, name=name)
    assert response.status_code in (302, 422)
    stored = User.objects.get(pk=user.pk).name
    assert stored in ("", "Casey Colleague") or shows_text(stored.replace(ALM, ""))


@pytest.mark.parametrize("name", ["\u3164", "\u034f", "\u115f\u1160", "\uffa0", ALM])
def test_a_tag_of_only_invisible_characters_is_refused_on_the_desk(client, world, name):
    """A tag that shows nothing (the Hangul filler, the combining grapheme joiner: both count as
    invisible for messages and names) is a blank chip on the ticket and in the tag filter. A
    refusal (422) and no such tag; the tag rule lets letters of category Lo and marks through."""
    ticket = world["open"]
    client.force_login(world["supervisor"])
    response = client.post(update_url(ticket), edit("tags", f"billing, {name}", ticket.version))
    assert response.status_code == 422
    assert not Tag.objects.filter(name=name).exists()
    assert list(fresh(ticket).tags.all()) == []


@pytest.mark.parametrize("name", ["\u3164", "\u034f", ALM])
def test_a_tag_of_only_invisible_characters_is_refused_in_the_admin(superuser_client, name):
    response = admin_add(superuser_client, Tag, name=name)
    assert response.status_code == 422
    assert not Tag.objects.filter(name=name).exists()


def test_two_tags_that_read_alike_are_one_tag(client, world):
    """'vip' and 'vip' followed by a combining grapheme joiner (which shows nothing) are two chips that
    read the same on a ticket. One tag (or a refusal), not two."""
    ticket = world["open"]
    client.force_login(world["supervisor"])
    client.post(update_url(ticket), edit("tags", "vip, vip\u034f", ticket.version))
    assert fresh(ticket).tags.count() <= 1


@pytest.mark.parametrize("name", INVISIBLE_NAMES)
def test_signup_name_of_only_invisible_characters_is_refused(client, name, settings):
    """A name that shows nothing (here the Arabic letter mark U+061C, a right-to-left mark like U+200F)
    is refused (422), not stored as a blank label."""
    from helpdesk.services import site_configuration_update

    site_configuration_update(changes={"open_signup": True}, actor=None)
    response = client.post(
        reverse("accounts:signup"),
        {"name": name, "email": "new.person@example.org", "password": "a-long-unusual-passphrase-42"},
    )
    assert response.status_code == 422
    assert not User.objects.filter(email="new.person@example.org").exists()


# --- KB editor: body length and loaded_at --------------------------------------------------------


@pytest.fixture
def editor(client):
    user = make_administrator(is_superuser=True)
    client.force_login(user)
    return client


def test_kb_edit_without_loaded_at_is_refused_and_keeps_the_text(editor):
    article = make_article(title="Refunds", body="First")
    data = article_form_data(article, body="Mine")
    del data["loaded_at"]
    response = editor.post(reverse("knowledge:manage_edit", args=[article.slug]), data)
    assert response.status_code in (409, 422)
    assert Article.objects.get(pk=article.pk).body == "First"
    assert "Mine" in text(response)


def test_kb_body_over_the_limit_is_422_not_500(editor):
    from knowledge.services import BODY_MAX_LENGTH

    article = make_article(title="Refunds", body="First")
    data = article_form_data(article, body="x" * (BODY_MAX_LENGTH + 1))
    response = editor.post(reverse("knowledge:manage_edit", args=[article.slug]), data)
    assert response.status_code == 422
    assert Article.objects.get(pk=article.pk).body == "First"


@pytest.mark.parametrize("title", INVISIBLE_NAMES)
def test_kb_title_of_only_invisible_characters_is_refused(editor, title):
    """A name that shows nothing (here the Arabic letter mark U+061C, a right-to-left mark like U+200F)
    is refused (422), not stored as a blank label."""
    article = make_article(title="Refunds", body="First")
    data = article_form_data(article, title=title)
    response = editor.post(reverse("knowledge:manage_edit", args=[article.slug]), data)
    assert response.status_code == 422
    assert Article.objects.get(pk=article.pk).title == "Refunds"
